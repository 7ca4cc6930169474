"""The Proposals module: the filtered, server-paged list of quotes (list.py) and one window per
proposal with its lines, status moves, PDF preview and conversion into an invoice (editor.py).

    create_page(session) -> ProposalsPage        # the sidebar's "Proposals" (see views/modules.py)
    open_record(parent, session, "proposal", id) # a link or search hit that names a proposal
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session

__all__ = ["create_page", "open_record", "screenshot_states"]


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.proposals.list import ProposalsPage

    return ProposalsPage(session)


def open_record(parent: QWidget | None, session: Session, record_type: str, record_id: int) -> QWidget | None:
    """Open a proposal's window from anywhere (the page itself offers the same as a method)."""
    if record_type != "proposal":
        return None
    from crm_desktop.views.proposals.editor import open_proposal

    return open_proposal(parent, session, record_id)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The list with the demo's proposals, then the editor on an accepted one (or the first)."""
    from crm_desktop.views.proposals.editor import open_proposal
    from crm_desktop.views.proposals.list import ProposalsPage

    ctx.main.open_module("proposals")
    page = ctx.main.pages["proposals"].content
    if not isinstance(page, ProposalsPage):
        return
    yield "proposals", page
    rows = page.model.rows()
    if rows:
        row = next((r for r in rows if r.status == "accepted"), rows[0])
        page.table.select_key(row.id)
        window = open_proposal(page, ctx.session, row.id)
        window.resize(ctx.size)
        yield "proposal-editor", window
        window.close()

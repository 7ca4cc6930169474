"""The Clients module: the searchable, server-paged list (list.py), one window per client with its
contacts, notes, follow-ups and timeline (detail.py), and the client and contact dialogs (dialogs.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.clients.list import ClientsPage

    return ClientsPage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The list with the demo's clients, then one client's window (the first in the list)."""
    from crm_desktop.views.clients.detail import open_client
    from crm_desktop.views.clients.list import ClientsPage

    ctx.main.open_module("clients")
    page = ctx.main.pages["clients"].content
    if not isinstance(page, ClientsPage):
        return
    yield "clients", page
    rows = page.model.rows()
    if rows:
        with_contacts = next((r for r in rows if r.email), rows[0])
        page.table.select_key(with_contacts.id)
        window = open_client(page, ctx.session, with_contacts.id)
        window.resize(ctx.size)
        yield "client-detail", window
        window.close()

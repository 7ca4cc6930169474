"""The Purchasing module: the filtered, server-paged list of purchase orders (list.py), one window per
order with its lines, confirmation and receipts (editor.py, lines.py) and the receive dialog
(receive_dialog.py).

    create_page(session) -> PurchaseOrdersPage           # the sidebar's "Purchasing" (views/modules.py)
    open_record(parent, session, "purchase_order", id)   # a link or search hit that names an order
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session

__all__ = ["create_page", "open_record", "screenshot_states"]


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.purchasing.list import PurchaseOrdersPage

    return PurchaseOrdersPage(session)


def open_record(parent: QWidget | None, session: Session, record_type: str, record_id: int) -> QWidget | None:
    """Open a purchase order's window from anywhere (the page itself offers the same as a method)."""
    if record_type != "purchase_order":
        return None
    from crm_desktop.views.purchasing.editor import open_purchase_order

    return open_purchase_order(parent, session, record_id)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The list with the demo's orders, the editor on a partially received one (or the first open
    one), and its receive dialog."""
    from crm_desktop.views.purchasing.editor import open_purchase_order
    from crm_desktop.views.purchasing.list import PurchaseOrdersPage

    ctx.main.open_module("purchasing")
    page = ctx.main.pages["purchasing"].content
    if not isinstance(page, PurchaseOrdersPage):
        return
    yield "purchasing", page
    rows = page.model.rows()
    if not rows:
        return
    row = next(
        (r for r in rows if r.status == "partially_received"),
        next((r for r in rows if r.status == "confirmed"), rows[0]),
    )
    page.table.select_key(row.id)
    window = open_purchase_order(page, ctx.session, row.id)
    window.resize(ctx.size)
    yield "purchase-order-editor", window
    dialog = window.receive()
    if dialog is not None:
        yield "purchase-order-receive-dialog", dialog
        dialog.close()
    window.close()

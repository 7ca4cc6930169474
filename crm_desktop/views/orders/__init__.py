"""The Sales orders module: orders taken in the web shop (list.py), each opened read-only in its own
window (detail.py) with its lines, the lines the CRM skipped and what the order holds in stock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.orders.list import OrdersPage

    return OrdersPage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The list with the demo's orders, and an order that had a line without SKU skipped."""
    from crm_desktop.views.orders.detail import open_order
    from crm_desktop.views.orders.list import OrdersPage

    ctx.main.open_module("orders")
    page = ctx.main.pages["orders"].content
    yield "orders", page
    rows = page.model.rows() if isinstance(page, OrdersPage) else []
    if not rows:
        return
    row = next((r for r in rows if r.skipped_lines), rows[0])
    window = open_order(page, ctx.session, row.id)
    window.resize(ctx.size)
    yield "order-detail", window
    window.close()

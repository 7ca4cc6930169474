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
    ctx.main.open_module("orders")
    yield "orders", ctx.main.pages["orders"].content

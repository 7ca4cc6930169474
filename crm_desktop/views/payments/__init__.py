"""The Payments module: money received across all invoices (list.py); a payment is recorded on its
invoice, so opening one opens the invoice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.payments.list import PaymentsPage

    return PaymentsPage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    ctx.main.open_module("payments")
    yield "payments", ctx.main.pages["payments"].content

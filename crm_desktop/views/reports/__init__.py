"""The Reports module: the sales report on an accrual or a cash basis (sales.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.reports.sales import SalesReportPage

    return SalesReportPage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The demo's sales of the last six months by month, on each basis (the accrual one first)."""
    from crm_desktop.views.reports.sales import SalesReportPage

    ctx.main.open_module("reports")
    page = ctx.main.pages["reports"].content
    if not isinstance(page, SalesReportPage):
        return
    today = date.today()
    start = date(today.year - (today.month <= 6), (today.month - 6 - 1) % 12 + 1, 1)
    page.set_range(start, today)
    for basis in ("accrual", "cash"):
        page.set_basis(basis)  # loads at once; the runner waits for it before the picture
        yield f"reports-sales-{basis}", page

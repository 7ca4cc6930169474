"""The Reports module: the sales report on an accrual or a cash basis (sales.py) and the standard
reports (standard.py: funnel, lost deals, lead sources, team activity, forecast, support,
receivables), chosen from a list (page.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.reports.page import ReportsPage

    return ReportsPage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The demo's sales of the last six months by month on each basis, then each standard report
    over the last year."""
    from crm_desktop.views.reports.custom import CustomReportPage
    from crm_desktop.views.reports.page import ORDER, ReportsPage
    from crm_desktop.views.reports.sales import SalesReportPage
    from crm_desktop.views.reports.schedules import SchedulesPage
    from crm_desktop.views.reports.standard import StandardReportPage

    ctx.main.open_module("reports")
    page = ctx.main.pages["reports"].content
    if not isinstance(page, ReportsPage):
        return
    today = date.today()
    sales = page.open_report("sales")
    if isinstance(sales, SalesReportPage):
        start = date(today.year - (today.month <= 6), (today.month - 6 - 1) % 12 + 1, 1)
        sales.set_range(start, today)
        for basis in ("accrual", "cash"):
            sales.set_basis(basis)  # loads at once; the runner waits for it before the picture
            yield f"reports-sales-{basis}", page
    for key in ORDER[1:]:
        shown = page.open_report(key)
        if isinstance(shown, CustomReportPage):  # leads by owner then status, as a bar chart and table
            yield "reports-custom-new", page
            shown.group1.setCurrentIndex(max(0, shown.group1.findData("owner")))
            shown.group2.setCurrentIndex(max(0, shown.group2.findData("status")))
            shown.run()
            yield "reports-custom", page
            shown.group1.setCurrentIndex(max(0, shown.group1.findData("source")))
            shown.group2.setCurrentIndex(0)
            shown.chart_kind.setCurrentIndex(max(0, shown.chart_kind.findData("pie")))
            shown.run()
            yield "reports-custom-pie", page
            continue
        if key == "schedules":
            yield "reports-schedules", page
            if isinstance(shown, SchedulesPage):
                dialog = shown.open_editor()
                yield "reports-schedule-dialog", dialog
                dialog.close()
            continue
        if isinstance(shown, StandardReportPage):
            if key == "forecast":
                shown.set_range(today, today + timedelta(days=180))
            else:
                shown.set_range(today - timedelta(days=365), today)
            shown.reload()
            yield f"reports-{key}", page
            if key == "forecast":
                targets = shown.open_targets()
                yield "reports-targets-dialog", targets
                targets.close()

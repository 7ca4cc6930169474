"""Dates and numbers read one way everywhere (#17): a date field shows a day as the lists do ("05 Dec
2026", format.day) and takes one typed by keyboard, whole ("2025-12-31", "01.01.2025") or a section at
a time; the sales report's value axis writes its amounts with thousands separators ("30,000")."""

from __future__ import annotations

from datetime import date

from PySide6.QtCharts import QCategoryAxis
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop import format
from tests.desktop.conftest import Desk
from tests.desktop.test_reports import _invoice, open_report, wait_for


def test_report_dates_read_as_days_take_typed_dates_and_the_axis_groups_thousands(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    client = desk.run(api.post("/api/clients", {"name": "Northwind AB"}))
    rate = next(r["id"] for r in desk.run(api.get("/api/tax-rates")) if r["name"] == "Standard 19%")
    last_year = date.today().year - 1
    issued = _invoice(desk, api, client["id"], rate, date(last_year, 3, 10), [("1", "25000.00")], [])
    assert issued["gross_total"] == "29750.00"

    page = open_report(desk, qtbot, api)
    first_of_year = date(date.today().year, 1, 1)
    assert page.date_from.text() == format.day(first_of_year) == first_of_year.strftime("%d %b %Y")
    assert page.date_to.text() == format.day(date.today())

    # A whole date typed the way people write it, day first with dots; then ISO.
    page.date_from.setFocus()
    page.date_from.lineEdit().selectAll()
    qtbot.keyClicks(page.date_from, f"01.01.{last_year}")
    qtbot.keyClick(page.date_from, Qt.Key.Key_Return)
    page.date_to.setFocus()
    page.date_to.lineEdit().selectAll()
    qtbot.keyClicks(page.date_to, f"{last_year}-12-30")
    qtbot.keyClick(page.date_to, Qt.Key.Key_Return)
    wait_for(desk, page, date_from=f"{last_year}-01-01", date_to=f"{last_year}-12-30")
    assert page.date_from.text() == f"01 Jan {last_year}" and page.date_to.text() == f"30 Dec {last_year}"

    # A section at a time: the day moves up by one with the arrow key.
    page.date_to.setCurrentSection(page.date_to.Section.DaySection)
    qtbot.keyClick(page.date_to, Qt.Key.Key_Up)
    wait_for(desk, page, date_to=f"{last_year}-12-31")
    assert page.date_to.text() == f"31 Dec {last_year}"

    # The bars' value axis: 29,750 EUR under a top line at 30,000, written as the app writes numbers.
    axes = page.chart.axes(Qt.Orientation.Vertical)
    assert len(axes) == 1 and isinstance(axes[0], QCategoryAxis)
    labels = axes[0].categoriesLabels()
    assert labels[0] == "0" and labels[-1] == "30,000" and "10,000" in labels
    assert all("," in label for label in labels if len(label.replace("-", "")) > 3)

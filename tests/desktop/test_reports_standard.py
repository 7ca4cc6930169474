"""The Reports module against the real server: pick Lead sources in the list, see its chart and
table; choose a source in the filter and see both change; switch to the Sales funnel; export the
report to Excel (one sheet per breakdown; a lead source that looks like a formula stays text)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from PySide6.QtCharts import QAbstractBarSeries
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from crm_desktop import format
from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.reports.page import ORDER, ReportsPage
from crm_desktop.views.reports.schedules import ScheduleDialog
from crm_desktop.views.reports.standard import StandardReportPage
from tests.desktop.conftest import Desk


def _bars(page: StandardReportPage) -> dict[str, list[float]]:
    """What the chart draws: each bar set's name and values."""
    out: dict[str, list[float]] = {}
    for series in page.chart.series():
        assert isinstance(series, QAbstractBarSeries)
        for bars in series.barSets():
            out[bars.label()] = [bars.at(i) for i in range(bars.count())]
    return out


def _column(page: StandardReportPage, column: int) -> list[str]:
    return [page.table.text(r, column) for r in range(page.table.row_count())]


def test_pick_a_report_filter_it_and_export(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api = desk.signed_in_api()
    for name, source in (("Ann", "Website form"), ("Bob", "Website form"), ("Cy", "Partner referral"), ("Di", "=1+2")):
        desk.run(api.post("/api/leads", {"person_name": name, "source": source}))
    page = ReportsPage(Session(api, desk.run(auth.me(api))))
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()

    page.list.setFocus()
    while page.list.currentData() != "sources":  # down the drop-down by keyboard, as a person would
        qtbot.keyClick(page.list, Qt.Key.Key_Down)
    desk.wait_until(lambda: page.standard is not None and page.standard.report is not None)
    report = page.standard
    assert report is not None and page.stack.currentWidget() is report
    desk.wait_until(lambda: report.report is not None and report.report.key == "sources" and not report.is_busy())
    assert _column(report, 0) == ["Website form", "=1+2", "Partner referral"] or _column(report, 0) == [
        "Website form",
        "Partner referral",
        "=1+2",
    ]
    assert _column(report, 1)[0] == "2"
    assert sorted(_bars(report)["Leads"]) == [1.0, 1.0, 2.0]

    # A source chosen in the filter: the table and the chart show that source only.
    desk.wait_until(lambda: report.source.findText("Partner referral") >= 0, message="the sources were not listed")
    loads = report.loads
    report.source.setCurrentIndex(report.source.findText("Partner referral"))
    desk.wait_until(lambda: report.loads > loads and not report.is_busy())
    assert _column(report, 0) == ["Partner referral"]
    assert _bars(report)["Leads"] == [1.0]

    # Export: the figures and each breakdown; the formula-looking source is text.
    report.source.setCurrentIndex(0)
    desk.wait_until(lambda: report.loads > loads + 1 and not report.is_busy())
    target = tmp_path / "sources.xlsx"
    report.export_to(str(target))
    desk.wait_until(target.exists, message="the workbook was not written")
    desk.wait_until(lambda: "Exported" in report.notice.text())
    book = load_workbook(target)
    assert book.sheetnames == ["Summary", "By source"]
    rows = list(book["By source"].iter_rows(values_only=True))
    assert rows[0][:3] == ("Source", "Leads", "Won")
    by_source = {r[0]: r for r in rows[1:]}
    assert by_source["Website form"][1] == 2 and by_source["Partner referral"][1] == 1
    assert "'=1+2" in by_source  # quoted: never a formula
    assert book["By source"].cell(row=2, column=1).data_type == "s"

    # Spend entered on the report's page: the source's return appears.
    dialog = report.open_costs()
    desk.wait_until(lambda: dialog.loads > 0)
    dialog.source.setCurrentText("Website form")
    dialog.amount.setText("1,000.00")
    loads = report.loads
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Save), Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: report.loads > loads and not report.is_busy(), message="the report did not reload")
    website = _column(report, 0).index("Website form")
    assert _column(report, 6)[website] == format.money(Decimal("1000.00"), "EUR")
    assert _column(report, 7)[website] == "-100 %"  # nothing paid yet: all of the spend lost
    desk.wait_until(lambda: dialog.loads > 1)
    assert dialog.table.rowCount() == 1
    dialog.close()

    # Another report keeps the filters and shows its own table.
    loads = report.loads
    page.list.setCurrentIndex(ORDER.index("funnel"))
    desk.wait_until(lambda: report.loads > loads and not report.is_busy() and report.report is not None)
    assert report.report is not None and report.report.key == "funnel"
    assert report.table.header_text(0) == "Stage"
    assert _column(report, 0)[0] == "Open" and _column(report, 1)[0] == "4"


def test_schedule_a_report_and_unsubscribe(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    desk.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller")
    page = ReportsPage(Session(api, desk.run(auth.me(api))))
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    page.list.setCurrentIndex(ORDER.index("schedules"))
    schedules = page.schedules
    assert schedules is not None and page.stack.currentWidget() is schedules
    desk.wait_until(lambda: schedules.loads > 0 and not schedules.is_busy())
    assert [schedules.table.item(r, 0).text() for r in range(schedules.table.rowCount())] == ["Daily summary"]  # type: ignore[union-attr]

    qtbot.mouseClick(schedules.new_button, Qt.MouseButton.LeftButton)
    dialog = next(w for w in schedules.findChildren(ScheduleDialog) if w.isVisible())
    desk.wait_until(lambda: dialog.loaded)
    qtbot.keyClicks(dialog.name, "Monday losses")
    dialog.report.setCurrentIndex(dialog.report.findData("lost"))
    dialog.frequency.setCurrentIndex(dialog.frequency.findData("weekly"))
    dialog.weekday.setCurrentIndex(0)
    dialog.check(dialog.people, "Sam Seller")
    dialog.check(dialog.roles, "Manager")
    loads = schedules.loads
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Save), Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: schedules.loads > loads and not schedules.is_busy(), message="the list did not reload")
    names = [schedules.table.item(r, 0).text() for r in range(schedules.table.rowCount())]  # type: ignore[union-attr]
    row = names.index("Monday losses")
    assert schedules.table.item(row, 3).text() == "Mondays at 07:00 UTC"  # type: ignore[union-attr]
    saved = next(s for s in desk.run(api.get("/api/reports/schedules")) if s["name"] == "Monday losses")
    assert saved["report"] == "lost" and saved["frequency"] == "weekly" and saved["weekday"] == 1
    assert len(saved["user_ids"]) == 1 and len(saved["role_ids"]) == 1

    schedules.table.selectRow(row)
    assert schedules.subscribe_button.text() == "Unsubscribe"
    loads = schedules.loads
    qtbot.mouseClick(schedules.subscribe_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: schedules.loads > loads and not schedules.is_busy())
    assert schedules.table.item(row, 0).text() == "Monday losses (unsubscribed)"  # type: ignore[union-attr]
    assert schedules.subscribe_button.text() == "Subscribe again"

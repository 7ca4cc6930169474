"""The custom report builder against the real server: choose Custom report in the Reports list,
group leads by owner then source, add a filter, Run and see the table and the chart; save it shared
with a team, open it again, export it (a formula-looking name stays text)."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook
from PySide6.QtCharts import QAbstractBarSeries
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.reports.custom import CustomReportPage
from crm_desktop.views.reports.page import ORDER, ReportsPage
from tests.desktop.conftest import Desk


def _rows(page: CustomReportPage) -> list[list[str]]:
    columns = page.table.rows_model.columnCount()
    return [[page.table.text(r, c) for c in range(columns)] for r in range(page.table.row_count())]


def test_build_run_save_and_export_a_custom_report(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api = desk.signed_in_api()
    sam = desk.create_user("sam@example.com", full_name="Sam Seller", team="North")
    for name, source, owner in (("Ann", "Website", sam), ("Bob", "Website", sam), ("Cy", "Partner", sam)):
        desk.run(api.post("/api/leads", {"person_name": name, "source": source, "owner_id": owner}))
    desk.run(api.post("/api/leads", {"person_name": "=1+2", "source": "Website"}))  # the admin's own
    page = ReportsPage(Session(api, desk.run(auth.me(api))))
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()

    page.list.setCurrentIndex(ORDER.index("custom"))
    custom = page.custom
    assert custom is not None and page.stack.currentWidget() is custom
    desk.wait_until(custom.is_ready, message="the fields were not read")
    assert custom.entity.currentData() == "leads"
    custom.group1.setCurrentIndex(custom.group1.findText("Owner"))
    custom.group2.setCurrentIndex(custom.group2.findText("Source"))
    # A filter: the source contains "e" (Website and Partner both do).
    custom.filter_field.setCurrentIndex(custom.filter_field.findText("Source"))
    custom.filter_op.setCurrentIndex(custom.filter_op.findData("contains"))
    custom.filter_value.setEditText("e")
    qtbot.mouseClick(custom.add_filter_button, Qt.MouseButton.LeftButton)
    assert custom.filter_list.count() == 1
    qtbot.mouseClick(custom.run_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: custom.runs == 1 and not custom.is_busy(), message="the report did not run")
    assert sorted(_rows(custom)) == [
        ["Admin", "Website", "1"],
        ["Sam Seller", "Partner", "1"],
        ["Sam Seller", "Website", "2"],
    ]
    bars = {
        b.label(): [b.at(i) for i in range(b.count())]
        for s in custom.chart.series()
        if isinstance(s, QAbstractBarSeries)
        for b in s.barSets()
    }
    assert sorted(bars) == ["Partner", "Website"]

    # A person chosen from the value list: only Sam's rows; the filter removed again.
    custom.filter_field.setCurrentIndex(custom.filter_field.findText("Owner"))
    custom.filter_op.setCurrentIndex(custom.filter_op.findData("="))
    custom.filter_value.setCurrentIndex(custom.filter_value.findText("Sam Seller"))
    qtbot.mouseClick(custom.add_filter_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(custom.run_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: custom.runs == 2 and not custom.is_busy(), message="the filtered report did not run")
    assert {row[0] for row in _rows(custom)} == {"Sam Seller"}
    custom.filter_list.setCurrentRow(1)
    qtbot.mouseClick(custom.remove_filter_button, Qt.MouseButton.LeftButton)
    assert custom.filter_list.count() == 1 and len(custom.filters) == 1

    # Saved, shared with the team North; opened again from the list.
    custom.name.setText("Leads per person")
    custom.share.setCurrentIndex(custom.share.findText("Team North"))
    qtbot.mouseClick(custom.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: custom.saved_choice.findText("Leads per person") >= 0, message="not saved")
    custom.group2.setCurrentIndex(0)
    custom.saved_choice.setCurrentIndex(custom.saved_choice.findText("Leads per person"))
    qtbot.mouseClick(custom.open_button, Qt.MouseButton.LeftButton)
    assert custom.group2.currentText() == "Source"
    desk.wait_until(lambda: custom.runs == 3 and not custom.is_busy(), message="the saved report did not run")
    assert len(_rows(custom)) == 3

    # The saved report is offered by name when scheduling an e-mail.
    page.list.setCurrentIndex(ORDER.index("schedules"))
    schedules = page.schedules
    assert schedules is not None
    dialog = schedules.open_editor()
    desk.wait_until(lambda: dialog.loaded and dialog.report.findText("Custom: Leads per person") >= 0)
    dialog.report.setCurrentIndex(dialog.report.findText("Custom: Leads per person"))
    chosen = dialog.body()
    assert chosen.report == "custom" and chosen.filters.custom_report_id == custom.saved_id
    dialog.close()
    page.list.setCurrentIndex(ORDER.index("custom"))

    # Not grouped: the rows themselves, then exported.
    custom.group1.setCurrentIndex(0)
    custom.group2.setCurrentIndex(0)
    qtbot.mouseClick(custom.run_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: custom.runs == 4 and not custom.is_busy())
    assert not custom.chart_view.isVisible()
    assert "=1+2" in [row[0] for row in _rows(custom)]
    target = tmp_path / "custom.xlsx"
    custom.export_to(str(target))
    desk.wait_until(target.exists, message="the workbook was not written")
    sheet = load_workbook(target).active
    assert sheet is not None
    assert "'=1+2" in [row[0].value for row in sheet.iter_rows()]

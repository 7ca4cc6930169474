"""The custom report builder (issue #20): pick what to count (leads, clients, follow-ups, tickets,
proposals, invoices, payments, stock), tick the columns, add filters, group by up to two levels,
count / sum / average, choose a chart, Run: the chart in the theme's colours and the table under
it. Save it (shared with a team or a role), open a saved one, export to Excel (text stays text).

Every choice comes from the server's allow-list (GET /api/reports/custom/fields); the server counts
only what the viewer may see."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from PySide6.QtCharts import QPieSeries
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks, theme
from crm_desktop.api import admin, auth, custom_reports, leads
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.widgets.excel_export import ask_save_path, write_workbook
from crm_desktop.widgets.report_parts import LatestLoad, ReportChartView, series_colors, write_export
from crm_desktop.widgets.report_parts import say as say_in
from crm_desktop.widgets.rows_table import RowsTable
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.custom_reports import (
    CustomDefinition,
    CustomEntityOut,
    CustomFilter,
    CustomReportIn,
    CustomReportOut,
    CustomResultOut,
)

log = logging.getLogger(__name__)

OPS = (
    ("is", "="),
    ("is not", "!="),
    ("less than", "<"),
    ("more than", ">"),
    ("contains", "contains"),
    ("is empty", "is empty"),
    ("is one of", "in"),
    ("within", "within"),
    ("between", "between"),
)
RANGES = (
    ("Today", "today"),
    ("Yesterday", "yesterday"),
    ("Last 7 days", "last_7_days"),
    ("Last 30 days", "last_30_days"),
    ("This week", "this_week"),
    ("This month", "this_month"),
    ("Last month", "last_month"),
    ("This year", "this_year"),
)
CHARTS = (("Bar chart", "bar"), ("Line chart", "line"), ("Pie chart", "pie"), ("Table only", "table"))
MEASURES = (("Count", "count"), ("Sum", "sum"), ("Average", "avg"))
NUMERIC = ("number", "money")
DATES = ("date", "datetime")


def _text(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "text":
        return str(value)
    return format.number(Decimal(str(value)))


class CustomReportPage(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("customReport")
        self.session = session
        self.api = session.api
        self.entities: dict[str, CustomEntityOut] = {}
        self.filters: list[CustomFilter] = []
        self.result: CustomResultOut | None = None
        self.saved: list[CustomReportOut] = []
        self.saved_id: int | None = None
        self.runs = 0
        self.latest = LatestLoad(self, self.run, self.say)
        self._people: list[tuple[str, int]] = []
        self._teams: list[tuple[str, int]] = []
        self._statuses: list[tuple[str, int]] = []

        title = QLabel("Custom report", self)
        title.setProperty("role", "title")
        subtitle = QLabel(
            "Choose what to count, filter it, group it by one or two things, and run it. "
            "It counts only what you may see.",
            self,
        )
        subtitle.setProperty("role", "muted")
        subtitle.setWordWrap(True)

        self.entity = self._combo("What", 140)
        self.group1 = self._combo("Group by", 140)
        self.group2 = self._combo("Then by", 140)
        self.measure = self._combo("Measure", 90)
        for text, value in MEASURES:
            self.measure.addItem(text, value)
        self.amount = self._combo("Of", 120)
        self.chart_kind = self._combo("Chart", 110)
        for text, value in CHARTS:
            self.chart_kind.addItem(text, value)
        self.run_button = QPushButton("Run", self)
        self.run_button.setObjectName("runCustomReport")
        self.run_button.setProperty("role", "primary")
        self.run_button.clicked.connect(self.run)

        self.filter_field = self._combo("Filter field", 140)
        self.filter_op = self._combo("Condition", 110)
        for text, value in OPS:
            self.filter_op.addItem(text, value)
        self.filter_value = QComboBox(self)
        self.filter_value.setEditable(True)
        self.filter_value.setAccessibleName("Filter value")
        self.filter_value.setMinimumWidth(190)
        line = self.filter_value.lineEdit()
        if line is not None:
            line.setPlaceholderText("value; a, b for several")
        self.add_filter_button = QPushButton("Add filter", self)
        self.add_filter_button.setObjectName("addCustomFilter")
        self.add_filter_button.clicked.connect(self.add_filter)
        self.filter_list = QListWidget(self)
        self.filter_list.setAccessibleName("Filters")
        self.filter_list.setFixedHeight(52)
        self.filter_list.setVisible(False)  # until a filter is added
        self.remove_filter_button = QPushButton("Remove filter", self)
        self.remove_filter_button.clicked.connect(self.remove_filter)

        self.columns = QListWidget(self)
        self.columns.setObjectName("customColumns")
        self.columns.setAccessibleName("Columns")
        self.columns.setFixedWidth(190)
        columns_caption = QLabel("Columns (when not grouped)", self)
        columns_caption.setProperty("role", "muted")
        columns_caption.setWordWrap(True)
        columns_caption.setFixedWidth(190)

        self.saved_choice = self._combo("Saved reports", 170)
        self.saved_choice.addItem("Saved reports…", None)
        self.open_button = QPushButton("Open", self)
        self.open_button.clicked.connect(self.open_saved)
        self.name = QLineEdit(self)
        self.name.setAccessibleName("Report name")
        self.name.setPlaceholderText("Report name")
        self.name.setMinimumWidth(170)
        self.share = self._combo("Share with", 130)
        self.share.addItem("Only me", None)
        self.save_button = QPushButton("Save", self)
        self.save_button.setObjectName("saveCustomReport")
        self.save_button.clicked.connect(self.save)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.clicked.connect(self.delete)
        self.delete_button.setEnabled(False)
        self.export_button = QPushButton("Export to Excel", self)
        self.export_button.clicked.connect(self.export)
        self.export_button.setEnabled(False)

        self.notice = QLabel(self)
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.note = QLabel(self)
        self.note.setProperty("role", "muted")
        self.note.setWordWrap(True)
        self.note.setText("Choose what to count and how to group it, then press Run.")
        self.chart_view = ReportChartView(self)
        self.chart = self.chart_view.chart()
        self.chart_view.setFixedHeight(300)
        self.chart_view.setVisible(False)  # until a grouped run
        self.table = RowsTable(self)
        self.table.setObjectName("customTable")
        self.table.setAccessibleName("Custom report rows")
        self.table.setMinimumHeight(220)

        def row(*items: tuple[str, QWidget] | QWidget) -> QHBoxLayout:
            box = QHBoxLayout()
            box.setSpacing(6)
            for item in items:
                if isinstance(item, tuple):
                    caption = QLabel(item[0], self)
                    caption.setProperty("role", "muted")
                    caption.setBuddy(item[1])
                    box.addWidget(caption)
                    box.addWidget(item[1])
                else:
                    box.addWidget(item)
            box.addStretch(1)
            return box

        build = row(
            ("What", self.entity),
            ("Group by", self.group1),
            ("then by", self.group2),
            self.measure,
            ("of", self.amount),
            self.run_button,
        )
        filters = row(
            ("Filter", self.filter_field),
            self.filter_op,
            self.filter_value,
            self.add_filter_button,
            self.remove_filter_button,
        )
        filters.addWidget(self.chart_kind)
        saving = row(
            self.saved_choice,
            self.open_button,
            self.name,
            ("shared with", self.share),
            self.save_button,
            self.delete_button,
            self.export_button,
        )
        left = QVBoxLayout()
        left.addWidget(columns_caption)
        left.addWidget(self.columns, 1)
        right = QVBoxLayout()
        right.addWidget(self.note)
        right.addWidget(self.chart_view)
        right.addWidget(self.table, 1)
        middle = QHBoxLayout()
        middle.setSpacing(16)
        middle.addLayout(left)
        middle.addLayout(right, 1)

        body = QWidget(self)
        body.setObjectName("reportBody")
        column = QVBoxLayout(body)
        column.setContentsMargins(32, 16, 32, 16)
        column.setSpacing(10)
        column.addWidget(title)
        column.addWidget(subtitle)
        column.addLayout(build)
        column.addLayout(filters)
        column.addWidget(self.filter_list)
        column.addLayout(saving)
        column.addWidget(self.notice)
        column.addLayout(middle, 1)
        scroller = QScrollArea(self)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QScrollArea.Shape.NoFrame)
        scroller.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroller)

        self.entity.currentIndexChanged.connect(self._entity_chosen)
        self.group1.currentIndexChanged.connect(self._grouping_chosen)
        self.measure.currentIndexChanged.connect(self._measure_chosen)
        self.filter_field.currentIndexChanged.connect(self._filter_choices)
        self.filter_op.currentIndexChanged.connect(self._filter_choices)
        self._measure_chosen()
        self._load_task = tasks.spawn(self._load())

    def _combo(self, name: str, width: int) -> QComboBox:
        combo = QComboBox(self)
        combo.setAccessibleName(name)
        combo.setMinimumWidth(width)
        return combo

    # --- choices -------------------------------------------------------------------------------

    async def _load(self) -> None:
        try:
            found = await custom_reports.fields(self.api)
        except ApiError as exc:
            self.say(exc.message)
            return
        self.entities = {e.key: e for e in found}
        self.entity.blockSignals(True)
        for e in found:
            self.entity.addItem(e.label, e.key)
        self.entity.blockSignals(False)
        self._entity_chosen()
        for fill in (self._fill_people, self._fill_share, self._fill_saved, self._fill_statuses):
            try:
                await fill()
            except ApiError as exc:
                log.info("a custom report choice could not be read: %s", exc.message)

    async def _fill_people(self) -> None:
        page = await auth.colleagues(self.api, active=True, limit=200)
        self._people = sorted(((p.full_name, p.id) for p in page.items), key=lambda p: p[0].lower())

    async def _fill_statuses(self) -> None:
        pipelines = await leads.pipelines(self.api)
        several = len(pipelines) > 1
        self._statuses = [(f"{p.name}: {s.name}" if several else s.name, s.id) for p in pipelines for s in p.statuses]

    async def _fill_share(self) -> None:
        teams = await admin.list_teams(self.api)
        self._teams = [(t.name, t.id) for t in teams]
        for name, team_id in self._teams:
            self.share.addItem(f"Team {name}", ("team", team_id))
        for role in await admin.list_roles(self.api):
            self.share.addItem(f"Role {role.name}", ("role", role.id))

    async def _fill_saved(self) -> None:
        self.saved = await custom_reports.saved(self.api)
        self.saved_choice.clear()
        self.saved_choice.addItem("Saved reports…", None)
        for report in self.saved:
            self.saved_choice.addItem(report.name if report.mine else f"{report.name} (shared)", report.id)

    def is_ready(self) -> bool:
        return bool(self.entities)

    def is_busy(self) -> bool:
        return self.latest.busy()

    def _entity_chosen(self) -> None:
        entity = self.entities.get(str(self.entity.currentData()))
        if entity is None:
            return
        self.filters = []
        self.filter_list.clear()
        shown_if(self.filter_list, False)
        for combo in (self.group1, self.group2, self.amount, self.filter_field):
            combo.blockSignals(True)
            combo.clear()
        self.group1.addItem("No grouping", None)
        self.group2.addItem("Nothing", None)
        self.columns.clear()
        for f in entity.fields:
            if f.kind in DATES:
                for unit in ("month", "week", "day"):
                    for combo in (self.group1, self.group2):
                        combo.addItem(f"{f.label} ({unit})", f"{f.key}:{unit}")
            elif f.groupable:
                for combo in (self.group1, self.group2):
                    combo.addItem(f.label, f.key)
            if f.kind in NUMERIC:
                self.amount.addItem(f.label, f.key)
            self.filter_field.addItem(f.label, f.key)
            item = QListWidgetItem(f.label, self.columns)
            item.setData(Qt.ItemDataRole.UserRole, f.key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if self.columns.count() <= 5 else Qt.CheckState.Unchecked)
        for combo in (self.group1, self.group2, self.amount, self.filter_field):
            combo.blockSignals(False)
        self._measure_chosen()
        self._grouping_chosen()
        self._filter_choices()

    def _grouping_chosen(self) -> None:
        """Columns are what an ungrouped run lists; a second level needs a first."""
        grouped = self.group1.currentData() is not None
        self.columns.setEnabled(not grouped)
        self.group2.setEnabled(grouped)
        if not grouped:
            self.group2.setCurrentIndex(0)

    def _measure_chosen(self) -> None:
        counting = self.measure.currentData() == "count"
        self.amount.setEnabled(not counting and self.amount.count() > 0)

    def _field_kind(self, key: str) -> str:
        entity = self.entities.get(str(self.entity.currentData()))
        found = next((f for f in entity.fields if f.key == key), None) if entity else None
        return found.kind if found else "text"

    def _filter_choices(self) -> None:
        """The value box offers the relative ranges, people or teams where they fit."""
        self.filter_value.clear()
        op = self.filter_op.currentData()
        kind = self._field_kind(str(self.filter_field.currentData()))
        if op == "within":
            for text, value in RANGES:
                self.filter_value.addItem(text, value)
        elif kind == "person":
            for name, person_id in self._people:
                self.filter_value.addItem(name, person_id)
        elif kind == "team":
            for name, team_id in self._teams:
                self.filter_value.addItem(name, team_id)
        elif kind == "status":
            for name, status_id in self._statuses:
                self.filter_value.addItem(name, status_id)
        self.filter_value.setEnabled(op != "is empty")

    # --- the definition -----------------------------------------------------------------------

    def _value(self) -> Any:
        """The typed value: a chosen person, team, status or range as its key; "in" and "between" take
        several, split at commas ("a, b")."""
        op = self.filter_op.currentData()
        if op == "is empty":
            return None

        def one(text: str) -> Any:
            index = self.filter_value.findText(text)
            found = self.filter_value.itemData(index) if index >= 0 else None
            return text if found is None else found

        text = self.filter_value.currentText().strip()
        if op in ("in", "between"):
            return [one(part.strip()) for part in text.replace("..", ",").split(",") if part.strip()]
        return one(text)

    def add_filter(self) -> None:
        chosen = CustomFilter(
            field=str(self.filter_field.currentData()), op=self.filter_op.currentData(), value=self._value()
        )
        self.filters.append(chosen)
        shown_if(self.filter_list, True)
        shown = f"{self.filter_field.currentText()} {self.filter_op.currentText()}"
        if chosen.value is not None:
            shown += f" {self.filter_value.currentText()}"
        self.filter_list.addItem(shown)

    def remove_filter(self) -> None:
        row = self.filter_list.currentRow()
        if 0 <= row < len(self.filters):
            self.filters.pop(row)
            self.filter_list.takeItem(row)
        shown_if(self.filter_list, bool(self.filters))

    def definition(self) -> CustomDefinition:
        groups = [g for g in (self.group1.currentData(), self.group2.currentData()) if g]
        columns = [
            str(item.data(Qt.ItemDataRole.UserRole))
            for item in (self.columns.item(i) for i in range(self.columns.count()))
            if item is not None and item.checkState() == Qt.CheckState.Checked
        ]
        measure = self.measure.currentData()
        return CustomDefinition(
            entity=self.entity.currentData(),
            columns=columns,
            filters=list(self.filters),
            group_by=groups,
            aggregate=measure,
            aggregate_field=None if measure == "count" else self.amount.currentData(),
            chart=self.chart_kind.currentData(),
        )

    def apply(self, definition: CustomDefinition) -> None:
        """Show a saved definition in the pickers."""
        self.entity.setCurrentIndex(self.entity.findData(definition.entity))
        self._entity_chosen()
        for combo, index in ((self.group1, 0), (self.group2, 1)):
            wanted = definition.group_by[index] if len(definition.group_by) > index else None
            combo.setCurrentIndex(max(0, combo.findData(wanted)))
        self.measure.setCurrentIndex(max(0, self.measure.findData(definition.aggregate)))
        if definition.aggregate_field:
            self.amount.setCurrentIndex(max(0, self.amount.findData(definition.aggregate_field)))
        self.chart_kind.setCurrentIndex(max(0, self.chart_kind.findData(definition.chart)))
        for i in range(self.columns.count()):
            item = self.columns.item(i)
            if item is not None:
                checked = item.data(Qt.ItemDataRole.UserRole) in definition.columns
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.filters = list(definition.filters)
        self.filter_list.clear()
        for f in self.filters:
            self.filter_list.addItem(f"{f.field} {f.op} {'' if f.value is None else f.value}".strip())
        shown_if(self.filter_list, bool(self.filters))

    # --- running -------------------------------------------------------------------------------

    def run(self) -> None:
        self.latest.start(custom_reports.run(self.api, self.definition()), self.show_result)

    def show_result(self, result: CustomResultOut) -> None:
        self.result = result
        self.export_button.setEnabled(self.session.can("reports", "export"))
        count = len(result.rows)
        said = f"{count} row{'s' if count != 1 else ''}."
        self.note.setText(f"{said} {result.note}".strip())
        self.table.set_rows(
            [c.title for c in result.columns],
            [
                [_text(value, column.kind) for value, column in zip(values, result.columns, strict=False)]
                for values in result.rows
            ],
            frozenset(c for c, column in enumerate(result.columns) if column.kind != "text"),
        )
        header = self.table.horizontalHeader()
        for c in range(len(result.columns)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self._fill_chart(result)
        self.runs += 1

    def _fill_chart(self, result: CustomResultOut) -> None:
        """Grouped rows drawn: the first level along the axis, the second as one series each."""
        self.chart_view.clear()
        drawn = result.grouped and result.chart != "table" and bool(result.rows)
        self.chart_view.setVisible(drawn)
        if not drawn:
            return
        colors = series_colors(extended=True)  # more series than six: the avatar colours after them
        levels = len(result.columns) - 1
        values = [float(Decimal(str(row[-1] or 0))) for row in result.rows]
        firsts = list(dict.fromkeys(str(row[0]) for row in result.rows))
        seconds = list(dict.fromkeys(str(row[1]) for row in result.rows)) if levels > 1 else [result.columns[-1].title]
        cell = {
            (str(row[0]), str(row[1]) if levels > 1 else seconds[0]): v
            for row, v in zip(result.rows, values, strict=True)
        }
        self.chart.legend().setLabelColor(QColor(theme.color("text")))
        self.chart.legend().setVisible(levels > 1 or result.chart == "pie")
        many = len(seconds) > 6 or (result.chart == "pie" and len(result.rows) > 6)
        # Many series: the names listed down the right, whole, rather than cut short along the bottom.
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignRight if many else Qt.AlignmentFlag.AlignBottom)
        if result.chart == "pie":
            pie = QPieSeries()
            for n, (row, v) in enumerate(zip(result.rows, values, strict=True)):
                part = pie.append(" / ".join(str(x) for x in row[:-1]), max(v, 0.0))
                part.setColor(colors[n % len(colors)])
                part.setBorderColor(QColor(theme.color("surface")))
            self.chart.addSeries(pie)
            self.chart_view.setFixedHeight(max(320, 22 * len(result.rows) + 60))
            return
        # Named things (people, statuses, sources) as horizontal bars, their names whole on the left,
        # first at the top; periods (months, weeks) along the bottom, as the standard reports do.
        across = result.chart != "line" and ":" not in result.columns[0].key
        if across:
            firsts = firsts[::-1]
        legend_height = 22 * len(seconds) + 90 if many else 0
        bars_height = len(firsts) * max(24, 6 * len(seconds)) + 100 if across else 0
        self.chart_view.setFixedHeight(min(900, max(300, legend_height, bars_height)))
        self.chart_view.draw(
            firsts,
            [(second, [cell.get((first, second), 0.0) for first in firsts]) for second in seconds],
            kind="line" if result.chart == "line" else "bar",
            across=across,
            colors=colors,
        )

    def say(self, text: str, role: str = "error") -> None:
        say_in(self.notice, text, role)

    # --- saving --------------------------------------------------------------------------------

    def save(self) -> None:
        name = self.name.text().strip()
        if not name:
            self.say("Give the report a name to save it under.")
            return
        share = self.share.currentData()
        body = CustomReportIn(
            name=name,
            definition=self.definition(),
            shared_team_ids=[share[1]] if share and share[0] == "team" else [],
            shared_role_ids=[share[1]] if share and share[0] == "role" else [],
        )
        mine = next((r for r in self.saved if r.id == self.saved_id and r.mine and r.name == name), None)
        operations.run(
            self,
            custom_reports.save(self.api, body, mine.id if mine else None),
            success=self._saved,
            changed=custom_reports.CHANGED,
            busy=self.save_button,
        )

    def _saved(self, report: CustomReportOut) -> None:
        self.saved_id = report.id
        self.delete_button.setEnabled(True)
        self.say(f"Saved “{report.name}”.", "info")
        tasks.spawn(self._fill_saved())

    def open_saved(self) -> None:
        report = next((r for r in self.saved if r.id == self.saved_choice.currentData()), None)
        if report is None:
            return
        self.saved_id = report.id
        self.name.setText(report.name)
        self.delete_button.setEnabled(report.mine)
        self.apply(report.definition)
        self.run()

    def delete(self) -> None:
        if self.saved_id is None:
            return
        operations.run(
            self,
            custom_reports.delete(self.api, self.saved_id),
            success=lambda _: self._deleted(),
            changed=custom_reports.CHANGED,
            busy=self.delete_button,
        )

    def _deleted(self) -> None:
        self.saved_id = None
        self.delete_button.setEnabled(False)
        self.say("Deleted the saved report.", "info")
        tasks.spawn(self._fill_saved())

    # --- export --------------------------------------------------------------------------------

    def export(self) -> QFileDialog | None:
        if self.result is None:
            return None
        return ask_save_path(
            self, "Export the custom report to Excel", "custom-report.xlsx", self.export_to, "customExportDialog"
        )

    def export_to(self, path: str) -> None:
        result = self.result
        if result is None:
            return
        write_export(
            self,
            path,
            write_result(path, self.name.text().strip() or "Custom report", result),
            self.export_button,
            self.say,
        )


async def write_result(path: str, title: str, result: CustomResultOut) -> int:
    """The result as one sheet (titles, rows, and the note when it was cut short): numbers stay exact."""
    rows: list[list[Any]] = [
        [v if c.kind == "text" or v is None else Decimal(str(v)) for v, c in zip(row, result.columns, strict=False)]
        for row in result.rows
    ]
    if result.truncated:
        rows.append([result.note])
    await write_workbook(path, title, [c.title for c in result.columns], rows)
    return len(result.rows)

"""One page for the standard reports (crm_desktop.api.reports.standard): sales funnel, lost deals,
lead sources, team activity, pipeline and forecast, support, receivables.

The filters every report takes (date range with presets, team, owner, source, pipeline; the period
for team activity), the report's key figures as cards, its breakdowns as segments (By reason, By
stage ...), each drawn as a chart in the theme's colours with its table under it, and an export of
the whole report to Excel (one sheet per breakdown, text written as text). Reloads when what the
reports count changes."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import admin, auth, leads, reports
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.views.reports.costs import SourceCostsDialog, may_enter_costs
from crm_desktop.views.reports.targets import TargetsDialog, may_set_targets
from crm_desktop.widgets.empty_state import EmptyState
from crm_desktop.widgets.excel_export import ask_save_path
from crm_desktop.widgets.form import DateEdit
from crm_desktop.widgets.report_parts import (
    GROUPS,
    DateRange,
    LatestLoad,
    ReportChartView,
    figure_card,
    shortcut,
    write_export,
)
from crm_desktop.widgets.report_parts import say as say_in
from crm_desktop.widgets.rows_table import RowsTable
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract import spreadsheet
from crm_server.contract.reports import REPORT_TITLES, ReportOut, ReportQuery, ReportTable

log = logging.getLogger(__name__)

SUBTITLES = {
    "funnel": "How many leads reached each stage, how many went on, and how long they stayed.",
    "lost": "Deals lost in the range: why, where in the pipeline, whose, and month by month.",
    "sources": "Where leads come from, how many are won, what the won clients paid, and the return on spend.",
    "activity": "Follow-ups each person finished, beside the period just before, and the overdue ones.",
    "forecast": "Open value by expected close month, weighted by each stage's win probability.",
    "support": "Tickets opened, first response and resolution times, SLA breaches by team and category.",
    "receivables": "What clients still owe, by how long past due.",
    "daily": "Leads generated, follow-ups done, deals won and lost, revenue booked: the day's (or range's) summary.",
}
# Which filters mean something to which report (the others are hidden).
FILTERS = {
    "funnel": ("team", "owner", "source", "pipeline"),
    "lost": ("team", "owner", "source", "pipeline"),
    "sources": ("team", "owner", "source", "pipeline"),
    "activity": ("team", "owner", "group"),
    "forecast": ("team", "owner", "source", "pipeline"),
    "support": ("team", "owner"),
    "receivables": ("team", "owner"),
    "daily": ("team", "owner"),
}
OWNER_WORD = {"support": "Assignee"}


def cell_text(value: Any, kind: str, currency: str) -> str:
    """A cell as people read it, by its column's kind."""
    if value is None:
        return "—"
    if kind == "text":
        return str(value)
    if kind == "money":
        return format.money(Decimal(str(value)), currency)
    if kind == "percent":
        return f"{format.number(Decimal(str(value)))} %"
    if kind in ("hours", "days"):
        unit = "h" if kind == "hours" else "d"
        return f"{format.number(Decimal(str(value)))} {unit}"
    return format.number(Decimal(str(value)))


def cell_value(value: Any, kind: str) -> Any:
    """A cell as a workbook keeps it: numbers as exact numbers, text as text."""
    if value is None or kind == "text":
        return value
    number = Decimal(str(value))
    return int(number) if kind == "count" else number


class StandardReportPage(QWidget):
    """The report `key` with the chosen filters; `report` is the server's last answer."""

    def __init__(self, session: Session, key: str = "funnel", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("standardReport")
        self.session = session
        self.api = session.api
        self.key = key
        self.report: ReportOut | None = None
        self.table_key: str | None = None
        self.loads = 0
        self.latest = LatestLoad(self, self.reload, self.say)
        self._choices_task: Any = None

        self.title = QLabel(self)
        self.title.setProperty("role", "title")
        self.subtitle = QLabel(self)
        self.subtitle.setProperty("role", "muted")
        self.subtitle.setWordWrap(True)

        self.preset = QComboBox(self)
        self.preset.setAccessibleName("Date range")
        self.date_from = DateEdit(parent=self)
        self.date_to = DateEdit(parent=self)
        for edit, name in ((self.date_from, "From"), (self.date_to, "To")):
            edit.setAccessibleName(name)
            edit.setMinimumWidth(120)
        self.team = self._combo("Team", "All teams")
        self.owner = self._combo("Owner", "Everyone")
        self.source = self._combo("Source", "All sources")
        self.pipeline = self._combo("Pipeline", "Default pipeline")
        self.group = QComboBox(self)
        self.group.setAccessibleName("Per")
        for text, value in GROUPS:
            self.group.addItem(text, value)
        self.costs_button = QPushButton("Spend per source…", self)
        self.costs_button.setObjectName("sourceCostsButton")
        self.costs_button.setToolTip("Enter what each lead source cost per month: the report's return on spend")
        self.costs_button.clicked.connect(self.open_costs)
        self.targets_button = QPushButton("Targets…", self)
        self.targets_button.setObjectName("targetsButton")
        self.targets_button.setToolTip("Set each person's and team's sales target per month")
        self.targets_button.clicked.connect(self.open_targets)
        self.export_button = QPushButton("Export to Excel", self)
        self.export_button.setToolTip("Export every breakdown of the report (Ctrl+E)")
        self.export_button.clicked.connect(self.export)
        self.notice = QLabel(self)
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)

        self.cards = QHBoxLayout()
        self.cards.setSpacing(12)
        self.breakdowns = QButtonGroup(self)
        self.breakdowns.idClicked.connect(self._breakdown_chosen)
        self.switch = QWidget(self)
        self.switch.setObjectName("viewSwitch")
        self.segments = QHBoxLayout(self.switch)
        self.segments.setContentsMargins(3, 3, 3, 3)
        self.segments.setSpacing(2)
        self.note = QLabel(self)
        self.note.setProperty("role", "muted")
        self.note.setWordWrap(True)

        self.chart_view = ReportChartView(self)
        self.chart = self.chart_view.chart()
        self.table = RowsTable(self)
        self.figures_box = QWidget(self)
        fig = QVBoxLayout(self.figures_box)
        fig.setContentsMargins(0, 0, 0, 0)
        fig.addWidget(self.chart_view)
        fig.addWidget(self.table)
        self.empty = EmptyState("reports", "Nothing to count", "Nothing matches these filters in this range.")
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.figures_box)
        self.stack.addWidget(self.empty)

        controls = QHBoxLayout()
        controls.setSpacing(6)
        self.captions: dict[str, QLabel] = {}
        for name, widget in (
            ("Range", self.preset),
            ("From", self.date_from),
            ("To", self.date_to),
            ("Per", self.group),
        ):
            caption = QLabel(name, self)
            caption.setProperty("role", "muted")
            caption.setBuddy(widget)
            self.captions[name.lower()] = caption
            controls.addWidget(caption)
            controls.addWidget(widget)
        controls.addStretch(1)
        controls.addWidget(self.costs_button)
        controls.addWidget(self.targets_button)
        controls.addWidget(self.export_button)
        filters = QHBoxLayout()
        filters.setSpacing(6)
        for widget in (self.team, self.owner, self.source, self.pipeline):
            filters.addWidget(widget, 1)
        filters.addStretch(1)
        # The report scrolls as a whole: a long breakdown gets a chart tall enough for every name
        # and a table of all its rows, whatever the window's height.
        self.body = QWidget(self)
        self.body.setObjectName("reportBody")
        self.scroller = QScrollArea(self)
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroller)
        root = QVBoxLayout(self.body)
        root.setContentsMargins(32, 20, 32, 12)
        root.setSpacing(10)
        root.addWidget(self.title)
        root.addWidget(self.subtitle)
        root.addLayout(controls)
        root.addLayout(filters)
        root.addWidget(self.notice)
        root.addLayout(self.cards)
        segments_row = QHBoxLayout()
        segments_row.addWidget(self.switch)
        segments_row.addStretch(1)
        root.addLayout(segments_row)
        root.addWidget(self.note)
        root.addWidget(self.stack, 1)
        self.scroller.setWidget(self.body)

        self.range = DateRange(self.preset, self.date_from, self.date_to, self.latest.soon)
        for combo in (self.team, self.owner, self.source, self.pipeline, self.group):
            combo.currentIndexChanged.connect(lambda _: self.latest.soon())
        shortcut(self, "Ctrl+E", self.export)
        shortcut(self, Qt.Key.Key_F5, self.reload)
        operations.change_bus().changed.connect(self._on_changed)
        self._choices_task = tasks.spawn(self._load_choices())
        self.set_report(key)

    def _combo(self, name: str, everyone: str) -> QComboBox:
        combo = QComboBox(self)
        combo.setAccessibleName(name)
        combo.setToolTip(name)
        combo.setMinimumWidth(150)
        combo.addItem(everyone, None)
        return combo

    async def _load_choices(self) -> None:
        """The filters' choices: teams, colleagues, lead sources, pipelines (what cannot be read stays 'All')."""
        for fill in (self._fill_teams, self._fill_people, self._fill_sources, self._fill_pipelines):
            try:
                await fill()
            except ApiError as exc:
                log.info("a report filter's choices could not be read: %s", exc.message)

    async def _fill_teams(self) -> None:
        for team in await admin.list_teams(self.api):
            self.team.addItem(team.name, team.id)

    async def _fill_people(self) -> None:
        page = await auth.colleagues(self.api, active=True, limit=200)
        for person in sorted(page.items, key=lambda p: p.full_name.lower()):
            self.owner.addItem(person.full_name, person.id)

    async def _fill_sources(self) -> None:
        for item in await leads.lead_sources(self.api):
            self.source.addItem(item.name, item.name)

    async def _fill_pipelines(self) -> None:
        for pipeline in await leads.pipelines(self.api):
            self.pipeline.addItem(pipeline.name, pipeline.id)

    # --- the choices ---------------------------------------------------------------------------

    def set_report(self, key: str) -> None:
        """Show another report with the same range and filters."""
        self.key = key
        self.title.setText(REPORT_TITLES[key])
        self.subtitle.setText(SUBTITLES[key])
        wanted = FILTERS[key]
        for name, combo in (
            ("team", self.team),
            ("owner", self.owner),
            ("source", self.source),
            ("pipeline", self.pipeline),
        ):
            shown_if(combo, name in wanted)
        owner_word = OWNER_WORD.get(key, "Owner")
        self.owner.setAccessibleName(owner_word)
        self.owner.setToolTip(owner_word)
        self.owner.setItemText(0, "Everyone" if key != "support" else "Every assignee")
        shown_if(self.costs_button, key == "sources" and may_enter_costs(self.session.me))
        shown_if(self.targets_button, key == "forecast" and may_set_targets(self.session.me))
        shown_if(self.group, "group" in wanted)
        shown_if(self.captions["per"], "group" in wanted)
        receivables = key == "receivables"  # aged on one day: the range's end
        shown_if(self.date_from, not receivables)
        shown_if(self.captions["from"], not receivables)
        self.captions["to"].setText("On" if receivables else "To")
        self.table_key = None
        self.reload()

    def set_range(self, start: date, end: date) -> None:
        self.range.set(start, end)

    def query(self) -> ReportQuery:
        wanted = FILTERS[self.key]

        def chosen(name: str, combo: QComboBox) -> Any:
            return combo.currentData() if name in wanted else None

        date_from, date_to = self.range.dates()
        return ReportQuery.model_construct(
            date_from=date_from,
            date_to=date_to,
            team_id=chosen("team", self.team),
            owner_id=chosen("owner", self.owner),
            source=chosen("source", self.source),
            pipeline_id=chosen("pipeline", self.pipeline),
            group=self.group.currentData() if "group" in wanted else "month",
            currency=None,
        )

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        self.latest.start(reports.standard(self.api, self.key, self.query()), self.show_report)

    def is_busy(self) -> bool:
        return self.latest.busy()

    def show_report(self, report: ReportOut) -> None:
        self.report = report
        while self.cards.count():
            item = self.cards.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for figure in report.figures:
            card, _, _ = figure_card(self, figure.label, cell_text(figure.value, figure.kind, report.currency))
            self.cards.addWidget(card, 1)
        for button in self.breakdowns.buttons():
            self.breakdowns.removeButton(button)
            button.deleteLater()
        keys = [t.key for t in report.tables]
        if self.table_key not in keys:
            self.table_key = keys[0] if keys else None
        for index, table in enumerate(report.tables):
            button = QPushButton(table.title, self.switch)
            button.setCheckable(True)
            button.setProperty("role", "segment")
            button.setObjectName(f"breakdown_{table.key}")
            bold = button.font()
            bold.setBold(True)  # the chosen segment is drawn bold: room for that
            # the theme's min-width (content) wins over setMinimumWidth: widen it in the button's own sheet
            wide = QFontMetrics(bold).horizontalAdvance(table.title) + 6
            button.setStyleSheet(f'QPushButton[role="segment"] {{ min-width: {wide}px; }}')
            button.setChecked(table.key == self.table_key)
            self.breakdowns.addButton(button, index)
            self.segments.addWidget(button)
        shown_if(self.switch, len(report.tables) > 1)
        if report.key == "sources":  # a source typed on a lead but not in the admin's list is offered too
            for row in report.tables[0].rows if report.tables else []:
                name = str(row[0])
                if name != "No source" and self.source.findData(name) < 0:
                    self.source.addItem(name, name)
        self._show_table()
        self.loads += 1

    def _breakdown_chosen(self, index: int) -> None:
        if self.report is not None and 0 <= index < len(self.report.tables):
            self.table_key = self.report.tables[index].key
            self._show_table()

    def current_table(self) -> ReportTable | None:
        if self.report is None:
            return None
        return next((t for t in self.report.tables if t.key == self.table_key), None)

    def _show_table(self) -> None:
        table = self.current_table()
        report = self.report
        if table is None or report is None:
            self.stack.setCurrentWidget(self.empty)
            return
        self.note.setText(table.note)
        empty = not table.rows or all(
            all(not cell for cell, column in zip(row[1:], table.columns[1:], strict=False) if column.kind != "text")
            for row in table.rows
        )
        self.stack.setCurrentWidget(self.empty if empty else self.figures_box)
        self.export_button.setEnabled(bool(report.tables))
        self.table.setAccessibleName(f"{REPORT_TITLES[report.key]}: {table.title}")
        self.table.set_rows(
            [c.title for c in table.columns],
            [
                [
                    cell_text(value, column.kind, report.currency)
                    for value, column in zip(row, table.columns, strict=False)
                ]
                for row in table.rows
            ],
            frozenset(c for c, column in enumerate(table.columns) if column.kind != "text"),
        )
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        for c in range(len(table.columns)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        rows_shown = min(len(table.rows), 14)  # longer tables scroll inside
        self.table.setFixedHeight(
            self.table.horizontalHeader().sizeHint().height()
            + rows_shown * self.table.verticalHeader().defaultSectionSize()
            + 6
        )
        self._fill_chart(table, report.currency)

    def _fill_chart(self, table: ReportTable, currency: str) -> None:
        """The table drawn: the first column names each bar or point, `chart_columns` are plotted.
        QtCharts draws doubles; the exact figures are in the table."""
        self.chart_view.clear()
        if table.chart == "none" or not table.rows:
            return
        index = {c.key: i for i, c in enumerate(table.columns)}
        plotted = [table.columns[index[k]] for k in table.chart_columns if k in index]
        labels = [str(row[0]) for row in table.rows]
        values = {
            column.key: [float(Decimal(str(row[index[column.key]] or 0))) for row in table.rows] for column in plotted
        }
        # Named things (stages, reasons, people) as horizontal bars: their names read whole on the
        # left, first at the top; periods (months, days) along the bottom.
        across = table.chart != "line" and table.columns[0].title not in ("Month", "Week", "Day")
        self.chart_view.setFixedHeight(max(260, 24 * len(labels) + 120) if across else 300)
        if across:
            labels = labels[::-1]
            values = {k: v[::-1] for k, v in values.items()}
        self.chart_view.draw(
            labels,
            [(column.title, values[column.key]) for column in plotted],
            kind=table.chart,
            across=across,
            value_title=currency if {c.kind for c in plotted} == {"money"} else "",
        )
        self.chart.legend().setVisible(len(plotted) > 1)

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & reports.WATCHED:
            self.latest.soon()

    def say(self, text: str, role: str = "error") -> None:
        say_in(self.notice, text, role)

    def open_targets(self) -> TargetsDialog:
        dialog = TargetsDialog(self, self.api, self.reload)
        dialog.open()
        return dialog

    def open_costs(self) -> SourceCostsDialog:
        dialog = SourceCostsDialog(self, self.api, self.reload)
        dialog.open()
        return dialog

    # --- export --------------------------------------------------------------------------------

    def export(self) -> QFileDialog | None:
        if self.report is None or not self.session.can("reports", "export"):
            return None
        return ask_save_path(
            self,
            f"Export {REPORT_TITLES[self.report.key].lower()} to Excel",
            f"{self.report.key}-{self.report.date_to.isoformat()}.xlsx",
            self.export_to,
            "standardReportExportDialog",
        )

    def export_to(self, path: str) -> None:
        report = self.report
        if report is None:
            return
        write_export(self, path, write_report(path, report), self.export_button, self.say)


def _write_report(path: str, report: ReportOut) -> None:
    """The key figures on the first sheet, then one sheet per breakdown; every text cell goes through
    crm_server.contract.spreadsheet (a cell starting '=' is text, never a formula)."""
    from pathlib import Path

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    summary = book.create_sheet("Summary")
    summary.append(spreadsheet.xlsx_row(summary, [REPORT_TITLES[report.key]]))
    summary.append(
        spreadsheet.xlsx_row(summary, ["From", report.date_from, "To", report.date_to, "Currency", report.currency])
    )
    for figure in report.figures:
        summary.append(spreadsheet.xlsx_row(summary, [figure.label, cell_value(figure.value, figure.kind)]))
    used: set[str] = {"Summary"}
    for table in report.tables:
        name = "".join(c for c in table.title if c not in "[]:*?/\\")[:31] or table.key
        while name in used:
            name = f"{name[:28]}_{len(used)}"
        used.add(name)
        sheet = book.create_sheet(name)
        sheet.append(spreadsheet.xlsx_row(sheet, [c.title for c in table.columns]))
        for row in table.rows:
            cells = [cell_value(v, c.kind) for v, c in zip(row, table.columns, strict=False)]
            sheet.append(spreadsheet.xlsx_row(sheet, cells))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


async def write_report(path: str, report: ReportOut) -> int:
    import asyncio

    await asyncio.to_thread(_write_report, path, report)
    return sum(len(t.rows) for t in report.tables)

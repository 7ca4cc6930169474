"""The sales report: totals per month, week or day from crm_desktop.api.reports.sales, on the basis the
user chooses (accrual: by invoice date; cash: by payment date; the choice is remembered), with the
other basis's total beside it and the server's sentence that explains the difference in figures.

A bar chart of the periods, the table under it (exported to Excel as shown), an empty state when
nothing was invoiced or paid in the range. Reloads when invoices or payments change."""

from __future__ import annotations

import logging
from datetime import date
from functools import partial
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import reports
from crm_desktop.session import Session
from crm_desktop.widgets.empty_state import EmptyState
from crm_desktop.widgets.excel_export import ask_save_path, write_workbook
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
from crm_desktop.widgets.report_parts import preset_range as preset_range
from crm_desktop.widgets.report_parts import say as say_in
from crm_desktop.widgets.rows_table import RowsTable
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.reports import SalesPeriod, SalesQuery, SalesReportOut

log = logging.getLogger(__name__)

BASES = (
    ("accrual", "Accrual", "By invoice date: what was billed, paid or not"),
    ("cash", "Cash", "By payment date: what came in"),
)
CURRENCIES = ("EUR", "USD", "GBP", "SEK", "RON", "PLN", "CHF")
BASIS_KEY = "reports/sales/basis"
REFRESH_AREAS = reports.WATCHED


def period_label(start: date, group: str) -> str:
    if group == "month":
        return start.strftime("%b %Y")
    if group == "week":
        return f"Week of {start.day} {start.strftime('%b %Y')}"
    return format.day(start)


class SalesReportPage(QWidget):
    """The Sales report; `report` is the last answer of the server (None until the first one)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("salesReport")
        self.session = session
        self.api = session.api
        self.report: SalesReportOut | None = None
        self.loads = 0  # answers received: lets a test wait for the next one
        self.latest = LatestLoad(self, self.reload, self.say)

        self.basis = QButtonGroup(self)
        switch = QWidget()
        switch.setObjectName("viewSwitch")
        segments = QHBoxLayout(switch)
        segments.setContentsMargins(3, 3, 3, 3)
        segments.setSpacing(2)
        self.basis_buttons: dict[str, QPushButton] = {}
        for index, (key, text, tip) in enumerate(BASES):
            button = QPushButton(text)
            button.setCheckable(True)
            button.setProperty("role", "segment")
            button.setToolTip(f"{tip} (Ctrl+{index + 1})")
            button.setObjectName(f"basis_{key}")
            button.setMinimumWidth(110)
            # the theme's min-width (content) wins over setMinimumWidth: room for the bold chosen text
            bold = button.font()
            bold.setBold(True)
            wide = max(78, QFontMetrics(bold).horizontalAdvance(text) + 6)
            button.setStyleSheet(f'QPushButton[role="segment"] {{ min-width: {wide}px; }}')
            self.basis.addButton(button, index)
            segments.addWidget(button)
            self.basis_buttons[key] = button
        remembered = str(QSettings().value(BASIS_KEY, "accrual"))
        self.basis_buttons.get(remembered, self.basis_buttons["accrual"]).setChecked(True)
        self.basis.idClicked.connect(self._basis_chosen)

        self.preset = QComboBox()
        self.preset.setAccessibleName("Date range")
        self.preset.setMinimumWidth(140)
        self.date_from = DateEdit()
        self.date_to = DateEdit()
        for edit, name in ((self.date_from, "From"), (self.date_to, "To")):
            edit.setAccessibleName(name)
            edit.setMinimumWidth(130)
        self.group = QComboBox()
        self.group.setAccessibleName("Group by")
        for text, key in GROUPS:
            self.group.addItem(text, key)
        self.currency = QComboBox()
        self.currency.setAccessibleName("Currency")
        self.currency.setEditable(True)
        self.currency.setMinimumWidth(90)
        self.currency.setToolTip("Only documents in this currency count; amounts are never converted")
        self.currency.addItem("")  # the server's base currency until the first answer names it
        self.currency.addItems(CURRENCIES)
        self.export_button = QPushButton("Export to Excel")
        self.export_button.setToolTip("Export the table (Ctrl+E)")
        self.export_button.clicked.connect(self.export)
        shown_if(self.export_button, session.can("reports", "export"))

        self.total_card, self.total_title, self.total_value = figure_card(
            None, "", "…", name="total", role="heading", margins=(16, 12)
        )
        self.other_card, self.other_title, self.other_value = figure_card(None, "", "…", name="other", margins=(16, 12))
        self.explanation = QLabel()
        self.explanation.setObjectName("reportExplanation")
        self.explanation.setWordWrap(True)
        self.explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice = QLabel()
        self.notice.setProperty("role", "error")
        self.notice.setVisible(False)

        self.chart_view = ReportChartView(legend=False)
        self.chart = self.chart_view.chart()
        self.chart_view.setMinimumHeight(180)  # with the table, the report fits a 1366x768 screen
        self.table = RowsTable()
        self.table.set_rows(["Period", "Documents", "Total"], [])
        self.table.setAccessibleName("Sales per period")
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(120)
        self.figures = figures = QWidget()
        fig = QVBoxLayout(figures)
        fig.setContentsMargins(0, 0, 0, 0)
        fig.addWidget(self.chart_view, 3)
        fig.addWidget(self.table, 2)
        self.empty = EmptyState(
            "reports",
            "Nothing in this range",
            "No invoices were issued and no payments came in between these dates. Choose another range or currency.",
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(figures)
        self.stack.addWidget(self.empty)

        # The basis first, on its own line with the export; the range and grouping under it.
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(switch)
        top.addStretch(1)
        top.addWidget(self.export_button)
        controls = QHBoxLayout()
        controls.setSpacing(8)
        for label, widget in (
            ("Range", self.preset),
            ("From", self.date_from),
            ("To", self.date_to),
            ("Group by", self.group),
            ("Currency", self.currency),
        ):
            caption = QLabel(label)
            caption.setProperty("role", "muted")
            caption.setBuddy(widget)
            controls.addWidget(caption)
            controls.addWidget(widget)
            if label in ("To", "Currency"):
                controls.addSpacing(12)
        controls.addStretch(1)
        cards = QHBoxLayout()
        cards.setSpacing(12)
        cards.addWidget(self.total_card, 1)
        cards.addWidget(self.other_card, 1)

        root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 16)
        root.setSpacing(12)
        title = QLabel("Sales")
        title.setProperty("role", "title")
        subtitle = QLabel(
            "Invoiced (accrual) or received (cash) per period. The two totals side by side "
            "show what is billed but not yet paid."
        )
        subtitle.setProperty("role", "muted")
        subtitle.setWordWrap(True)
        root.addWidget(title)
        root.addWidget(subtitle)
        root.addLayout(top)
        root.addLayout(controls)
        root.addLayout(cards)
        root.addWidget(self.explanation)
        root.addWidget(self.notice)
        root.addWidget(self.stack, 1)

        self.range = DateRange(self.preset, self.date_from, self.date_to, self.latest.soon)
        self.group.currentIndexChanged.connect(lambda _: self.latest.soon())
        self.currency.currentTextChanged.connect(self._currency_edited)
        for index, key in enumerate(self.basis_buttons):
            shortcut(self, f"Ctrl+{index + 1}", partial(self.set_basis, key))
        shortcut(self, "Ctrl+E", self.export)
        shortcut(self, Qt.Key.Key_F5, self.reload)
        operations.change_bus().changed.connect(self._on_changed)
        self.reload()

    # --- the choices ---------------------------------------------------------------------------

    def current_basis(self) -> str:
        return BASES[max(self.basis.checkedId(), 0)][0]

    def set_basis(self, key: str) -> None:
        self.basis_buttons[key].setChecked(True)
        self._basis_chosen(self.basis.checkedId())

    def _basis_chosen(self, _: int) -> None:
        QSettings().setValue(BASIS_KEY, self.current_basis())
        self.reload()

    def _currency_edited(self, text: str) -> None:
        if not text.strip() or len(text.strip()) == 3:
            self.latest.soon()

    def set_range(self, start: date, end: date) -> None:
        """A custom range (the preset shows Custom)."""
        self.range.set(start, end)

    def query(self) -> SalesQuery:
        """What is chosen, unchecked: the server judges a typed currency and names the field."""
        date_from, date_to = self.range.dates()
        return SalesQuery.model_construct(
            basis=self.current_basis(),
            date_from=date_from,
            date_to=date_to,
            group=self.group.currentData(),
            currency=self.currency.currentText().strip().upper() or None,
        )

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        self.latest.start(reports.sales(self.api, self.query()), self.show_report)

    def show_report(self, report: SalesReportOut) -> None:
        self.report = report
        currency = report.currency
        if not self.currency.currentText().strip():
            self.currency.blockSignals(True)
            self.currency.setCurrentText(currency)
            self.currency.blockSignals(False)
        basis = report.basis.value
        other = "cash" if basis == "accrual" else "accrual"
        names = {"accrual": "Accrual (by invoice date)", "cash": "Cash (by payment date)"}
        self.total_title.setText(names[basis])
        self.total_value.setText(format.money(report.total, currency))
        self.other_title.setText(f"{names[other]}, for comparison")
        self.other_value.setText(format.money(report.other_basis_total, currency))
        self.explanation.setText(report.explanation)
        periods = report.periods
        empty = all(p.total == 0 and p.count == 0 for p in periods)
        empty = empty and report.other_basis_total == 0
        self.stack.setCurrentWidget(self.empty if empty else self.figures)
        self.export_button.setEnabled(not empty)
        self._fill_table(periods, report.group, currency, basis)
        self._fill_chart(periods, report.group, currency, names[basis])
        self.loads += 1

    def _fill_table(self, periods: list[SalesPeriod], group: str, currency: str, basis: str) -> None:
        self.table.set_rows(
            ["Period", "Invoices" if basis == "accrual" else "Payments", f"Total ({currency})"],
            [
                [period_label(period.period_start, group), format.number(period.count), format.money(period.total)]
                for period in periods
            ],
            frozenset({1, 2}),
        )

    def _fill_chart(self, periods: list[SalesPeriod], group: str, currency: str, name: str) -> None:
        """Bars per period in the accent colour. QtCharts draws doubles; the figures people read are the
        exact ones in the cards and the table."""
        self.chart_view.clear()
        self.chart_view.draw(
            [period_label(p.period_start, group) for p in periods],
            [(name, [float(p.total) for p in periods])],
            value_title=currency,
            tilt_after=16,
            tilt=-60,
            whole_labels=False,
        )

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & REFRESH_AREAS:
            self.latest.soon()

    def is_busy(self) -> bool:
        return self.latest.busy()

    # --- export --------------------------------------------------------------------------------

    def export(self) -> QFileDialog | None:
        if self.report is None or not self.session.can("reports", "export"):
            return None
        return ask_save_path(
            self,
            "Export the sales report to Excel",
            f"sales-{self.report.basis.value}.xlsx",
            self.export_to,
            "salesReportExportDialog",
        )

    def export_to(self, path: str) -> None:
        report = self.report
        if report is None:
            return
        basis = report.basis.value
        headers = [
            "Period start",
            "Invoices" if basis == "accrual" else "Payments",
            f"Total {report.currency} ({basis})",
        ]
        rows: list[list[Any]] = [[p.period_start, p.count, p.total] for p in report.periods]
        rows.append(["Total", sum(p.count for p in report.periods), report.total])
        write_export(self, path, write_workbook(path, "Sales", headers, rows), self.export_button, self.say)

    def say(self, text: str, role: str = "error") -> None:
        say_in(self.notice, text, role)

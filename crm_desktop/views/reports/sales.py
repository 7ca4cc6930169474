"""The sales report: totals per month, week or day from crm_desktop.api.reports.sales, on the basis the
user chooses (accrual: by invoice date; cash: by payment date; the choice is remembered), with the
other basis's total beside it and the server's sentence that explains the difference in figures.

A bar chart of the periods, the table under it (exported to Excel as shown), an empty state when
nothing was invoiced or paid in the range. Reloads when invoices or payments change."""

from __future__ import annotations

import logging
import math
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from PySide6.QtCharts import QBarCategoryAxis, QBarSeries, QBarSet, QCategoryAxis, QChart, QChartView
from PySide6.QtCore import QDate, QSettings, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QKeySequence, QPainter, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks, theme
from crm_desktop.api import reports
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.widgets.empty_state import EmptyState
from crm_desktop.widgets.excel_export import ask_save_path, write_workbook
from crm_desktop.widgets.form import DateEdit
from crm_desktop.widgets.rows_table import RowsTable
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.reports import SalesPeriod, SalesQuery, SalesReportOut

log = logging.getLogger(__name__)

BASES = (
    ("accrual", "Accrual", "By invoice date: what was billed, paid or not"),
    ("cash", "Cash", "By payment date: what came in"),
)
PRESETS = ("This month", "Last 3 months", "This year", "Last year", "Custom")
DEFAULT_PRESET = "This year"
GROUPS = (("Month", "month"), ("Week", "week"), ("Day", "day"))
CURRENCIES = ("EUR", "USD", "GBP", "SEK", "RON", "PLN", "CHF")
BASIS_KEY = "reports/sales/basis"
REFRESH_AREAS = reports.WATCHED


def nice_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round values from at or below ``low`` to at or above ``high`` (0, 10,000, 20,000 ...), at most
    about ``most`` of them: where a value axis puts its lines."""
    if high <= low:
        high = low + 1
    rough = (high - low) / (most - 1)
    power = 10 ** math.floor(math.log10(rough))
    step = next(power * f for f in (1, 2, 2.5, 5, 10) if power * f >= rough)
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high:
        ticks.append(round(first + step * len(ticks), 10))
    return ticks


def amount_axis(low: float, high: float) -> QCategoryAxis:
    """A value axis whose labels are written as the rest of the app writes numbers ("30,000"; QValueAxis'
    printf-style label format cannot group thousands): one labelled line per round value."""
    ticks = nice_ticks(low, high)
    axis = QCategoryAxis()
    axis.setLabelsPosition(QCategoryAxis.AxisLabelsPosition.AxisLabelsPositionOnValue)
    axis.setRange(ticks[0], ticks[-1])
    axis.setStartValue(ticks[0])
    for tick in ticks:
        axis.append(format.number(Decimal(str(tick))), tick)
    return axis


def preset_range(name: str, today: date) -> tuple[date, date]:
    """The dates of a preset; every range ends today except last year's."""
    if name == "This month":
        return today.replace(day=1), today
    if name == "Last 3 months":
        first = today.replace(day=1)
        for _ in range(2):
            first = (first - timedelta(days=1)).replace(day=1)
        return first, today
    if name == "Last year":
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    return date(today.year, 1, 1), today


def period_label(start: date, group: str) -> str:
    if group == "month":
        return start.strftime("%b %Y")
    if group == "week":
        return f"Week of {start.day} {start.strftime('%b %Y')}"
    return format.day(start)


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class SalesReportPage(QWidget):
    """The Sales report; `report` is the last answer of the server (None until the first one)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("salesReport")
        self.session = session
        self.api = session.api
        self.report: SalesReportOut | None = None
        self.loads = 0  # answers received: lets a test wait for the next one
        self._task: Any = None
        self._applying_preset = False

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
        self.preset.addItems(PRESETS)
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

        self.total_card, self.total_title, self.total_value = self._card("total")
        self.other_card, self.other_title, self.other_value = self._card("other")
        self.explanation = QLabel()
        self.explanation.setObjectName("reportExplanation")
        self.explanation.setWordWrap(True)
        self.explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice = QLabel()
        self.notice.setProperty("role", "error")
        self.notice.setVisible(False)

        self.chart = QChart()
        self.chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self.chart.legend().setVisible(False)
        self.chart.setBackgroundVisible(False)
        self.chart_view = QChartView(self.chart)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
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

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(150)  # several controls changed at once load once
        self._reload_timer.timeout.connect(self.reload)
        self.preset.setCurrentText(DEFAULT_PRESET)
        self._apply_preset(DEFAULT_PRESET)
        self.preset.currentTextChanged.connect(self._apply_preset)
        self.date_from.dateChanged.connect(self._dates_edited)
        self.date_to.dateChanged.connect(self._dates_edited)
        self.group.currentIndexChanged.connect(lambda _: self._reload_timer.start())
        self.currency.currentTextChanged.connect(self._currency_edited)
        for index, key in enumerate(self.basis_buttons):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda k=key: self.set_basis(k))
        export = QShortcut(QKeySequence("Ctrl+E"), self)
        export.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        export.activated.connect(self.export)
        reload = QShortcut(QKeySequence(Qt.Key.Key_F5), self)
        reload.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        reload.activated.connect(self.reload)
        operations.change_bus().changed.connect(self._on_changed)
        self.reload()

    def _card(self, name: str) -> tuple[QFrame, QLabel, QLabel]:
        card = QFrame()
        card.setObjectName(f"{name}Card")
        card.setFrameShape(QFrame.Shape.StyledPanel)
        box = QVBoxLayout(card)
        box.setContentsMargins(16, 12, 16, 12)
        title = QLabel()
        title.setProperty("role", "muted")
        value = QLabel("…")
        value.setObjectName(f"{name}Value")
        value.setProperty("role", "heading" if name == "total" else "subheading")
        value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.addWidget(title)
        box.addWidget(value)
        return card, title, value

    # --- the choices ---------------------------------------------------------------------------

    def current_basis(self) -> str:
        return BASES[max(self.basis.checkedId(), 0)][0]

    def set_basis(self, key: str) -> None:
        self.basis_buttons[key].setChecked(True)
        self._basis_chosen(self.basis.checkedId())

    def _basis_chosen(self, _: int) -> None:
        QSettings().setValue(BASIS_KEY, self.current_basis())
        self.reload()

    def _apply_preset(self, name: str) -> None:
        if name == "Custom":
            return
        start, end = preset_range(name, date.today())
        self._applying_preset = True
        try:
            self.date_from.setDate(_qdate(start))
            self.date_to.setDate(_qdate(end))
        finally:
            self._applying_preset = False
        self._reload_timer.start()

    def _dates_edited(self, _: QDate) -> None:
        if self._applying_preset:
            return
        if self.preset.currentText() != "Custom":
            self.preset.blockSignals(True)
            self.preset.setCurrentText("Custom")
            self.preset.blockSignals(False)
        self._reload_timer.start()

    def _currency_edited(self, text: str) -> None:
        if not text.strip() or len(text.strip()) == 3:
            self._reload_timer.start()

    def set_range(self, start: date, end: date) -> None:
        """A custom range (the preset shows Custom)."""
        self.preset.setCurrentText("Custom")
        self.date_from.setDate(_qdate(start))
        self.date_to.setDate(_qdate(end))

    def query(self) -> SalesQuery:
        """What is chosen, unchecked: the server judges a typed currency and names the field."""
        return SalesQuery.model_construct(
            basis=self.current_basis(),
            date_from=_pydate(self.date_from.date()),
            date_to=_pydate(self.date_to.date()),
            group=self.group.currentData(),
            currency=self.currency.currentText().strip().upper() or None,
        )

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        self._reload_timer.stop()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = tasks.spawn(self._load(self.query()))

    async def _load(self, query: SalesQuery) -> None:
        try:
            report = await reports.sales(self.api, query)
        except ApiError as exc:
            self.say(exc.message)
            return
        self.say("")
        self.show_report(report)

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
        """Bars per period. QtCharts draws doubles; the figures people read are the exact ones in the
        cards and the table."""
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        bars = QBarSet(name)
        values = [float(p.total) for p in periods]
        bars.append(values)
        series = QBarSeries()
        series.append(bars)
        self.chart.addSeries(series)
        categories = QBarCategoryAxis()
        categories.append([period_label(p.period_start, group) for p in periods])
        if len(periods) > 16:
            categories.setLabelsAngle(-60)
        self.chart.addAxis(categories, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(categories)
        amounts = amount_axis(min([0.0, *values]), max([0.0, *values]))
        amounts.setTitleText(currency)
        self.chart.addAxis(amounts, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(amounts)
        # In the theme's colours (QtCharts' own are for a light page: white gridlines glare in dark).
        bars.setColor(QColor(theme.color("accent")))
        bars.setBorderColor(QColor(theme.color("accent")))
        text = QColor(theme.color("muted"))
        for axis in (categories, amounts):
            axis.setGridLineColor(QColor(theme.color("chart_grid")))
            axis.setLinePenColor(QColor(theme.color("chart_axis")))
            axis.setLabelsColor(text)
            axis.setTitleBrush(QBrush(text))

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & REFRESH_AREAS:
            self._reload_timer.start()

    def is_busy(self) -> bool:
        return self._task is not None and not self._task.done()

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
        operations.run(
            self,
            write_workbook(path, "Sales", headers, rows),
            busy=self.export_button,
            success=lambda _: self.say(f"Exported the report to {path}.", "info"),
        )

    def say(self, text: str, role: str = "error") -> None:
        self.notice.setProperty("role", role)
        self.notice.style().unpolish(self.notice)
        self.notice.style().polish(self.notice)
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

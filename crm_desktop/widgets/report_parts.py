"""What the report pages share (crm_desktop.views.reports: sales, standard, custom): the latest load
(a new one cancels the one still running; an error is said in words), the date range with its
presets, the chart in the theme's colours, the figures' cards, the notice line, the export's last
step and the page's shortcuts."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from PySide6.QtCharts import (
    QAbstractBarSeries,
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QCategoryAxis,
    QChart,
    QChartView,
    QHorizontalBarSeries,
    QHorizontalStackedBarSeries,
    QLineSeries,
    QStackedBarSeries,
)
from PySide6.QtCore import QDate, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QKeySequence, QPainter, QPen, QShortcut
from PySide6.QtWidgets import QComboBox, QDateEdit, QFrame, QLabel, QVBoxLayout, QWidget

from crm_desktop import format, operations, tasks, theme
from crm_desktop.api.client import ApiError

T = TypeVar("T")

PRESETS = ("This month", "Last 3 months", "This year", "Last year", "Custom")
DEFAULT_PRESET = "This year"
GROUPS = (("Month", "month"), ("Week", "week"), ("Day", "day"))  # the periods a report counts by
# Series colours from the theme's tokens: each reads on both the light and the dark page.
SERIES_TOKENS = ("accent", "success", "warning_text", "danger", "control")
SERIES_EXTRA = theme.AVATAR_COLORS[1]  # a sixth series: the avatar purple, readable on both pages


def qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


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


def series_colors(extended: bool = False) -> list[QColor]:
    """The series' colours; `extended`: the avatar colours after the six (more series than six)."""
    colors = [QColor(theme.color(t)) for t in SERIES_TOKENS] + [QColor(SERIES_EXTRA)]
    if extended:
        colors += [QColor(c) for c in theme.AVATAR_COLORS if QColor(c) not in colors]
    return colors


def say(notice: QLabel, text: str, role: str = "error") -> None:
    """The page's notice line: `text` in `role`'s colour, hidden when there is nothing to say."""
    notice.setProperty("role", role)
    notice.style().unpolish(notice)
    notice.style().polish(notice)
    notice.setText(text)
    notice.setVisible(bool(text))


def figure_card(
    parent: QWidget | None,
    title: str,
    value: str,
    *,
    name: str = "figure",
    role: str = "subheading",
    margins: tuple[int, int] = (14, 8),
) -> tuple[QFrame, QLabel, QLabel]:
    """A key figure's card: its title (muted) over its value (selectable, in `role`'s size)."""
    card = QFrame(parent)
    card.setObjectName(f"{name}Card")
    card.setFrameShape(QFrame.Shape.StyledPanel)
    box = QVBoxLayout(card)
    box.setContentsMargins(margins[0], margins[1], margins[0], margins[1])
    caption = QLabel(title, card)
    caption.setProperty("role", "muted")
    shown = QLabel(value, card)
    shown.setObjectName(f"{name}Value")
    shown.setProperty("role", role)
    shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.addWidget(caption)
    box.addWidget(shown)
    return card, caption, shown


def write_export(
    page: QWidget, path: str, writing: Awaitable[Any], busy: QWidget, say: Callable[[str, str], None]
) -> None:
    """The report written to `path` in the background (`busy` disabled meanwhile), then said where."""
    operations.run(page, writing, busy=busy, success=lambda _: say(f"Exported the report to {path}.", "info"))


def shortcut(page: QWidget, key: QKeySequence | str | Qt.Key, slot: Callable[[], Any]) -> QShortcut:
    """A key that works anywhere on the page (and only there)."""
    found = QShortcut(key if isinstance(key, QKeySequence) else QKeySequence(key), page)
    found.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    found.activated.connect(slot)
    return found


class LatestLoad:
    """The page's one load at a time: `start` cancels the load still running and shows the new answer
    (or says the server's error); `soon` loads once after several controls changed at once."""

    def __init__(self, page: QWidget, reload: Callable[[], None], say: Callable[[str], None]) -> None:
        self.say = say
        self.task: Any = None
        self.timer = QTimer(page)
        self.timer.setSingleShot(True)
        self.timer.setInterval(150)  # several controls changed at once load once
        self.timer.timeout.connect(reload)

    def soon(self) -> None:
        self.timer.start()

    def start(self, answer: Coroutine[Any, Any, T], show: Callable[[T], None]) -> None:
        self.timer.stop()
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.task = tasks.spawn(self._run(answer, show))

    async def _run(self, answer: Coroutine[Any, Any, T], show: Callable[[T], None]) -> None:
        try:
            found = await answer
        except ApiError as exc:
            self.say(exc.message)
            return
        self.say("")
        show(found)

    def busy(self) -> bool:
        return self.task is not None and not self.task.done()


class DateRange:
    """A report's range: the preset (its choices are added here) fills From and To; a date edited by
    hand makes the preset Custom. `changed` runs after either (the page's load `soon`)."""

    def __init__(
        self,
        preset: QComboBox,
        date_from: QDateEdit,
        date_to: QDateEdit,
        changed: Callable[[], None],
        default: str = DEFAULT_PRESET,
    ) -> None:
        self.preset, self.date_from, self.date_to = preset, date_from, date_to
        self.changed = changed
        self._applying = False
        preset.addItems(PRESETS)
        preset.setCurrentText(default)
        self.apply(default)
        preset.currentTextChanged.connect(self.apply)
        date_from.dateChanged.connect(self._edited)
        date_to.dateChanged.connect(self._edited)

    def apply(self, name: str) -> None:
        if name == "Custom":
            return
        start, end = preset_range(name, date.today())
        self._applying = True
        try:
            self.date_from.setDate(qdate(start))
            self.date_to.setDate(qdate(end))
        finally:
            self._applying = False
        self.changed()

    def _edited(self, _: QDate) -> None:
        if self._applying:
            return
        if self.preset.currentText() != "Custom":
            self.preset.blockSignals(True)
            self.preset.setCurrentText("Custom")
            self.preset.blockSignals(False)
        self.changed()

    def set(self, start: date, end: date) -> None:
        """A custom range (the preset shows Custom)."""
        self.preset.setCurrentText("Custom")
        self.date_from.setDate(qdate(start))
        self.date_to.setDate(qdate(end))

    def dates(self) -> tuple[date, date]:
        return pydate(self.date_from.date()), pydate(self.date_to.date())


class ReportChartView(QChartView):
    """A report's chart, in the theme's colours (QtCharts' own are for a light page: white gridlines
    glare in dark). QtCharts draws doubles; the exact figures are in the page's table."""

    def __init__(self, parent: QWidget | None = None, legend: bool = True) -> None:
        chart = QChart()
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        chart.setBackgroundVisible(False)
        if legend:
            chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        else:
            chart.legend().setVisible(False)
        super().__init__(chart, parent)
        self.report_chart = chart
        self.setRenderHint(QPainter.RenderHint.Antialiasing)

    def clear(self) -> None:
        chart = self.report_chart
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)

    def draw(
        self,
        labels: list[str],
        series: Sequence[tuple[str, list[float]]],
        *,
        kind: str = "bar",
        across: bool = False,
        value_title: str = "",
        colors: list[QColor] | None = None,
        tilt_after: int = 12,
        tilt: int = -45,
        whole_labels: bool = True,
    ) -> None:
        """One bar set (or line) per named series over `labels`: `kind` bar, stacked or line; `across`
        draws horizontal bars, the labels on the left (named things read whole, first at the top when
        the caller reverses them); periods along the bottom, tilted past `tilt_after` of them."""
        chart = self.report_chart
        colors = colors or series_colors()
        categories = QBarCategoryAxis()
        categories.append(labels)
        if not across and len(labels) > tilt_after:
            categories.setLabelsAngle(tilt)
        every = [v for _, values in series for v in values]
        high = max([0.0, *every])
        if kind == "stacked":
            high = max([0.0, *(sum(values[i] for _, values in series) for i in range(len(labels)))])
        amounts = amount_axis(min([0.0, *every]), high)
        if value_title:
            amounts.setTitleText(value_title)
        chart.addAxis(categories, Qt.AlignmentFlag.AlignLeft if across else Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(amounts, Qt.AlignmentFlag.AlignBottom if across else Qt.AlignmentFlag.AlignLeft)
        if kind == "line":
            for n, (name, values) in enumerate(series):
                line = QLineSeries()
                line.setName(name)
                for i, v in enumerate(values):
                    line.append(i, v)
                pen = QPen(colors[n % len(colors)])
                pen.setWidth(2)
                line.setPen(pen)
                chart.addSeries(line)
                line.attachAxis(categories)
                line.attachAxis(amounts)
        else:
            bars_series: QAbstractBarSeries
            if kind == "stacked":
                bars_series = QHorizontalStackedBarSeries() if across else QStackedBarSeries()
            else:
                bars_series = QHorizontalBarSeries() if across else QBarSeries()
            for n, (name, values) in enumerate(series):
                bars = QBarSet(name)
                bars.append(values)
                bars.setColor(colors[n % len(colors)])
                bars.setBorderColor(colors[n % len(colors)])
                bars_series.append(bars)
            chart.addSeries(bars_series)
            bars_series.attachAxis(categories)
            bars_series.attachAxis(amounts)
        chart.legend().setLabelColor(QColor(theme.color("text")))
        text = QColor(theme.color("muted"))
        for axis in (categories, amounts):
            if whole_labels:
                axis.setTruncateLabels(False)  # a stage or a person's name whole, never "..."
            axis.setGridLineColor(QColor(theme.color("chart_grid")))
            axis.setLinePenColor(QColor(theme.color("chart_axis")))
            axis.setLabelsColor(text)
            axis.setTitleBrush(QBrush(text))

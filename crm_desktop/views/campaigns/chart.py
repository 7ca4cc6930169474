"""A campaign's results over time (QtCharts, as the reports draw theirs): messages sent, opened by
people and clicked per hour."""

from __future__ import annotations

from PySide6.QtCharts import QBarCategoryAxis, QBarSeries, QBarSet, QChart, QChartView, QValueAxis
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QWidget

from crm_desktop import format
from crm_server.contract.campaigns import TimePoint

MAX_BARS = 48  # the latest two days of hours; the table of recipients has the rest


class ResultsChart(QChartView):
    def __init__(self, parent: QWidget | None = None) -> None:
        self._chart = QChart()
        super().__init__(self._chart, parent)
        self.setObjectName("campaignChart")
        self._chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self._chart.setBackgroundVisible(False)
        self._chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(240)
        self.points: list[TimePoint] = []

    def show_points(self, points: list[TimePoint]) -> None:
        points = points[-MAX_BARS:]
        if points == self.points:
            return
        self.points = points
        self._chart.removeAllSeries()
        for axis in self._chart.axes():
            self._chart.removeAxis(axis)
        series = QBarSeries()
        sets = {"Sent": QBarSet("Sent"), "Opened": QBarSet("Opened"), "Clicked": QBarSet("Clicked")}
        top = 0
        for p in points:
            sets["Sent"].append(p.sent)
            sets["Opened"].append(p.opened)
            sets["Clicked"].append(p.clicked)
            top = max(top, p.sent, p.opened, p.clicked)
        for bar_set in sets.values():
            series.append(bar_set)
        self._chart.addSeries(series)
        hours = QBarCategoryAxis()
        hours.append([f"{format.short_day(p.at)} {format.clock(p.at)}" for p in points] or [""])
        counts = QValueAxis()
        counts.setRange(0, max(top, 1))
        counts.setLabelFormat("%d")
        counts.setTickCount(min(max(top, 1), 4) + 1)
        self._chart.addAxis(hours, Qt.AlignmentFlag.AlignBottom)
        self._chart.addAxis(counts, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(hours)
        series.attachAxis(counts)

"""A row of list filters (search, choices, a user, a period) that reports one `changed` signal.

Every list filters on the server, so the bar only collects values: `values()` gives the query
parameters (None for "any"), ready for ApiClient.get(**values). Typing is debounced, so a search
box asks the server once the user pauses, not on every key.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from PySide6.QtCore import QDate, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

DEBOUNCE_MS = 300


def local_day_start_utc(day: date) -> datetime:
    """Midnight of a local calendar day, as an aware UTC datetime (the server stores UTC)."""
    return datetime.combine(day, time.min).astimezone().astimezone(UTC)


class PeriodPicker(QWidget):
    """Any time / today / last 7 or 30 days / a custom range of local days -> (since, until) in UTC."""

    changed = Signal()
    PRESETS = (("Any time", None), ("Today", 0), ("Last 7 days", 6), ("Last 30 days", 29), ("Custom…", -1))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preset = QComboBox()
        self.preset.setAccessibleName("Period")
        for label, days in self.PRESETS:
            self.preset.addItem(label, days)
        today = QDate.currentDate()
        self.start = QDateEdit(today.addDays(-7))
        self.end = QDateEdit(today)
        for edit, name in ((self.start, "From"), (self.end, "To")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setAccessibleName(name)
            edit.setVisible(False)
            edit.dateChanged.connect(self.changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.preset)
        layout.addWidget(self.start)
        layout.addWidget(self.end)
        self.preset.currentIndexChanged.connect(self._on_preset)

    def _on_preset(self) -> None:
        custom = self.preset.currentData() == -1
        self.start.setVisible(custom)
        self.end.setVisible(custom)
        self.changed.emit()

    def days(self) -> tuple[date | None, date | None]:
        """The first and last local day chosen (both included), or (None, None) for any time."""
        days = self.preset.currentData()
        if days is None:
            return None, None
        if days == -1:
            return cast(date, self.start.date().toPython()), cast(date, self.end.date().toPython())
        last = date.today()
        return last - timedelta(days=int(days)), last

    def range(self) -> tuple[datetime | None, datetime | None]:
        first, last = self.days()
        if first is None or last is None:
            return None, None
        # The server's `until` is exclusive: the day after the last one shown.
        return local_day_start_utc(first), local_day_start_utc(last + timedelta(days=1))

    def reset(self) -> None:
        self.preset.setCurrentIndex(0)


class FilterBar(QWidget):
    """Collects filter widgets in one row; `changed` fires (debounced) when any of them changes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(8)
        self._stretch_added = False
        self._getters: dict[str, Any] = {}
        self.widgets: dict[str, QWidget] = {}
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.changed)

    def _add(self, key: str, widget: QWidget, label: str | None = None) -> None:
        if label:
            caption = QLabel(label)
            caption.setBuddy(widget)
            self._layout.addWidget(caption)
        self._layout.addWidget(widget)
        self.widgets[key] = widget

    def add_search(self, key: str = "search", placeholder: str = "Search…") -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        edit.setClearButtonEnabled(True)
        edit.setMinimumWidth(220)
        edit.setAccessibleName(placeholder)
        edit.textChanged.connect(lambda _: self._debounce.start())
        self._getters[key] = lambda: edit.text().strip() or None
        self._add(key, edit)
        return edit

    def add_choice(self, key: str, label: str, choices: list[tuple[str, Any]], any_label: str = "Any") -> QComboBox:
        """A combo whose first entry means "no filter" (None)."""
        combo = QComboBox()
        combo.setAccessibleName(label)
        combo.setMinimumContentsLength(10)
        self._fill(combo, choices, any_label)
        combo.currentIndexChanged.connect(lambda _: self.changed.emit())
        self._getters[key] = combo.currentData
        self._add(key, combo, label)
        return combo

    @staticmethod
    def _fill(combo: QComboBox, choices: list[tuple[str, Any]], any_label: str) -> None:
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(any_label, None)
        for text, value in choices:
            combo.addItem(text, value)
        i = combo.findData(current) if current is not None else 0
        combo.setCurrentIndex(max(i, 0))
        combo.blockSignals(False)

    def set_choices(self, key: str, choices: list[tuple[str, Any]], any_label: str = "Any") -> None:
        """Refill a choice (roles or teams arrive after the bar is built), keeping the selection."""
        combo = self.widgets[key]
        assert isinstance(combo, QComboBox)
        before = combo.currentData()
        self._fill(combo, choices, any_label)
        if combo.currentData() != before:
            self.changed.emit()

    def add_widget(self, key: str, widget: QWidget, getter: Any, label: str | None = None) -> None:
        """Any other filter widget (a user picker); `getter()` returns its value or None."""
        self._getters[key] = getter
        self._add(key, widget, label)

    def add_period(self, label: str = "Period") -> PeriodPicker:
        period = PeriodPicker()
        period.changed.connect(self.changed)
        self._getters["since"] = lambda: period.range()[0]
        self._getters["until"] = lambda: period.range()[1]
        self._add("period", period, label)
        return period

    def add_day_period(self, first_key: str, last_key: str, label: str = "Period") -> PeriodPicker:
        """A period sent as two calendar dates (both included), for lists of dated documents."""
        period = PeriodPicker()
        period.changed.connect(self.changed)
        self._getters[first_key] = lambda: period.days()[0]
        self._getters[last_key] = lambda: period.days()[1]
        self._add(first_key, period, label)
        return period

    def add_stretch(self) -> None:
        self._layout.addStretch(1)
        self._stretch_added = True

    def add_trailing(self, widget: QWidget) -> None:
        """A button at the right end of the bar (Export, New…)."""
        if not self._stretch_added:
            self.add_stretch()
        self._layout.addWidget(widget)

    def values(self) -> dict[str, Any]:
        """The server query parameters; "any" filters are left out, datetimes as ISO text."""
        out: dict[str, Any] = {}
        for key, get in self._getters.items():
            value = get()
            if value is None:
                continue
            out[key] = value.isoformat() if isinstance(value, date) else value  # datetimes too
        return out

"""A row of list filters (search, choices, a user, a period) that reports one `changed` signal.

Every list filters on the server, so the bar only collects values: `values()` gives the query
parameters (None for "any"), ready for ApiClient.get(**values). Typing is debounced, so a search
box asks the server once the user pauses, not on every key.

The filters flow (`FlowLayout`): when the window is too narrow for one row they wrap onto the next,
each caption kept with its field, and no filter is squeezed below its minimum width; the trailing
buttons (Export, New…) stay at the right end of the first row.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from PySide6.QtCore import QDate, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QLineEdit,
    QWidget,
)

from crm_desktop.widgets.form import DateEdit

DEBOUNCE_MS = 300


def local_day_start_utc(day: date) -> datetime:
    """Midnight of a local calendar day, as an aware UTC datetime (the server stores UTC)."""
    return datetime.combine(day, time.min).astimezone().astimezone(UTC)


class FlowLayout(QLayout):
    """Items left to right at their preferred width, wrapping onto a new row when the next one does
    not fit; each row's items are centred vertically. Its height follows its width."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 8, row_spacing: int = 8) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self._row_spacing = row_spacing
        self.setContentsMargins(0, 0, 0, 0)
        self.setProperty("flowLayout", True)  # a row for crm_desktop.layout_check

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        """All on one row."""
        shown = self._shown()
        width = sum(item.sizeHint().width() for item in shown) + self._spacing * max(len(shown) - 1, 0)
        height = max((item.sizeHint().height() for item in shown), default=0)
        margins = self.contentsMargins()
        return QSize(width + margins.left() + margins.right(), height + margins.top() + margins.bottom())

    def minimumSize(self) -> QSize:
        """The widest item alone on its row."""
        size = QSize()
        for item in self._shown():
            size = size.expandedTo(item.minimumSize())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _shown(self) -> list[QLayoutItem]:
        return [item for item in self._items if not item.isEmpty()]

    def _arrange(self, rect: QRect, move: bool) -> int:
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        rows: list[list[tuple[QLayoutItem, QSize]]] = [[]]
        x = area.x()
        for item in self._shown():
            size = item.sizeHint().expandedTo(item.minimumSize())
            size.setWidth(min(size.width(), max(area.width(), item.minimumSize().width())))
            if rows[-1] and x + size.width() > area.right() + 1:
                rows.append([])
                x = area.x()
            rows[-1].append((item, size))
            x += size.width() + self._spacing
        y = area.y()
        for row in rows:
            height = max((size.height() for _, size in row), default=0)
            x = area.x()
            for item, size in row:
                if move:
                    item.setGeometry(QRect(QPoint(x, y + (height - size.height()) // 2), size))
                x += size.width() + self._spacing
            y += height + self._row_spacing
        used = y - self._row_spacing - area.y() if any(rows) else 0
        return used + margins.top() + margins.bottom()


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
        self.start = DateEdit(today.addDays(-7))
        self.end = DateEdit(today)
        for edit, name in ((self.start, "From"), (self.end, "To")):
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
    """Collects filter widgets in rows that wrap; `changed` fires (debounced) when any of them changes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._filters = QWidget()
        self._filters.setObjectName("filters")
        self._flow = FlowLayout(self._filters)
        self._trailing = QHBoxLayout()
        self._trailing.setSpacing(8)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(16)
        self._layout.addWidget(self._filters, 1)
        self._layout.addLayout(self._trailing)
        self._layout.setAlignment(self._trailing, Qt.AlignmentFlag.AlignTop)
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
            unit = QWidget()  # the caption wraps with its field
            row = QHBoxLayout(unit)
            row.setContentsMargins(0, 0, 0, 0)
            row.setSpacing(6)
            row.addWidget(caption)
            row.addWidget(widget)
            self._flow.addWidget(unit)
        else:
            self._flow.addWidget(widget)
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
        """The filters end here (they always keep to the left; kept for the pages that say so)."""
        self._stretch_added = True

    def add_trailing(self, widget: QWidget) -> None:
        """A button at the right end of the bar (Export, New…)."""
        self._stretch_added = True
        self._trailing.addWidget(widget)

    def values(self) -> dict[str, Any]:
        """The server query parameters; "any" filters are left out, datetimes as ISO text."""
        out: dict[str, Any] = {}
        for key, get in self._getters.items():
            value = get()
            if value is None:
                continue
            out[key] = value.isoformat() if isinstance(value, date) else value  # datetimes too
        return out

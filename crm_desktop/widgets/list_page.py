"""Small pieces every server-paged list page shares, so each page says only what is its own.

A page keeps its own `sort`, `query()`, `reload()` and `sort_by_column()` (tests and other views
use them); these helpers do the work behind them:
- `HeaderSort`: a header click sorts on the server (a second click flips it); a click on a column
  the server cannot sort by keeps the indicator on the sort in force.
- `LiveReload`: a change-bus event naming the page's areas reloads it once, after a short pause,
  so a burst of events (an import, a batch job) costs one reload.
- `KeepSelected`: the selected row stays selected across reloads (or a new record gets selected).
- `show_empty_state`: the empty list says "none yet" or "none match" as the filters are off or on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from crm_desktop.operations.bus import change_bus
from crm_desktop.widgets.paged_table import PagedTable

NO_MATCH_TEXT = "Try another search, or clear the filters."


class SortedPage(Protocol):
    sort: str
    table: PagedTable[Any]

    def sort_by_column(self, column: int) -> None: ...

    def reload(self) -> None: ...


class HeaderSort:
    """Server sort by header click for `page.sort` ("key" ascending, "-key" descending).

    `first_descending`: a first click on a column sorts it descending (dates, amounts: newest or
    largest first). `unsorted_column`: where the indicator stands while the sort is on no column
    (e.g. "-created_at"); None hides it until a column is chosen."""

    def __init__(
        self,
        page: SortedPage,
        sortable: dict[int, str],
        *,
        first_descending: bool = False,
        unsorted_column: int | None = 0,
    ) -> None:
        self.page = page
        self.sortable = sortable
        self.first_descending = first_descending
        self.unsorted_column = unsorted_column
        self.header = page.table.view.horizontalHeader()
        self.header.setSectionsClickable(True)
        self._show()
        self.header.sectionClicked.connect(page.sort_by_column)

    def _show(self) -> None:
        current = self.page.sort.lstrip("-")
        column = next((c for c, k in self.sortable.items() if k == current), self.unsorted_column)
        self.header.setSortIndicatorShown(column is not None)
        if column is not None:
            self.header.setSortIndicator(
                column, Qt.SortOrder.DescendingOrder if self.page.sort.startswith("-") else Qt.SortOrder.AscendingOrder
            )

    def click(self, column: int) -> None:
        """Sort by this column and reload; on an unsortable column keep showing the sort in force."""
        key = self.sortable.get(column)
        if key is None:
            self._show()
            return
        sort = self.page.sort
        if key == sort.lstrip("-"):
            descending = not sort.startswith("-")
        else:
            descending = self.first_descending
        self.page.sort = f"-{key}" if descending else key
        self._show()
        self.page.reload()


class LiveReload(QObject):
    """Reload (`reload`, via `timer`) when the change bus names one of `areas`; `on_change`, when
    given, sees every change first (for what else the page keeps, like a name cache).

    A QObject child of the page, so its bus connection ends with the page."""

    def __init__(
        self,
        parent: QObject,
        areas: Iterable[str],
        reload: Callable[[], None],
        *,
        on_change: Callable[[frozenset[str]], None] | None = None,
        interval: int = 200,
    ) -> None:
        super().__init__(parent)
        self.areas = frozenset(areas)
        self.on_change = on_change
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(interval)
        self.timer.timeout.connect(reload)
        change_bus().changed.connect(self._changed)

    def _changed(self, areas: frozenset[str]) -> None:
        if self.on_change is not None:
            self.on_change(areas)
        if areas & self.areas:
            self.timer.start()

    def later(self) -> None:
        """Reload after the pause (again, if one is already waiting)."""
        self.timer.start()


class KeepSelected:
    """Keeps a row selected across reloads: `remember()` before a reload, `select(key)` for a row
    that will come (a record just created); `selected` runs once the row is selected again."""

    def __init__(self, table: PagedTable[Any], selected: Callable[[], None] | None = None) -> None:
        self.table = table
        self.selected = selected
        self.pending: Any = None
        table.model.rowsInserted.connect(self._rows_inserted)

    def remember(self) -> None:
        row = self.table.current_row()
        if row is not None and self.pending is None:
            self.pending = self.table.model.key_of(row)

    def select(self, key: Any) -> None:
        self.pending = key

    def _rows_inserted(self, *_: Any) -> None:
        if self.pending is not None and self.table.select_key(self.pending):
            self.pending = None
            if self.selected is not None:
                self.selected()


def show_empty_state(
    table: PagedTable[Any],
    query: dict[str, Any],
    title: str,
    text: str,
    no_match: str,
    no_match_text: str = NO_MATCH_TEXT,
) -> None:
    """Set what the empty list says: `title`/`text` with no filters, `no_match` when any is on."""
    if any(k != "sort" for k in query):
        table.empty_title, table.empty_text = no_match, no_match_text
    else:
        table.empty_title, table.empty_text = title, text


def title_bar(title: str, subtitle: str, button: QWidget) -> QWidget:
    """A list page's title and one-line help on the left, its "New …" button at the bottom right."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 4)
    words = QVBoxLayout()
    words.setSpacing(2)
    heading = QLabel(title)
    heading.setProperty("role", "title")
    caption = QLabel(subtitle)
    caption.setProperty("role", "muted")
    words.addWidget(heading)
    words.addWidget(caption)
    row.addLayout(words, 1)
    row.addWidget(button, 0, Qt.AlignmentFlag.AlignBottom)
    return box


def notice_label() -> QLabel:
    """The line under a list page's filters that says what the last action did (hidden until then)."""
    notice = QLabel()
    notice.setObjectName("pageNotice")
    notice.setProperty("role", "info")
    notice.setVisible(False)
    return notice

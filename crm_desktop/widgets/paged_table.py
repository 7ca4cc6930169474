"""A server-paged table: rows come a page at a time through canFetchMore/fetchMore, never all at once.

Each row is the contract model the area's typed list call returns (`PagedTableModel[ClientOut]`, its
`Fetch` answering a `Page[ClientOut]`): columns read attributes (`Column("VAT", lambda c: c.vat_number
or "—")`), and `row()`, `rows()`, `current_row()` and `replace_row()` hand out and take that model.

The model only serves rows it already holds; data() never touches the network. A page is asked for
in the background (asyncio on the qasync loop) and inserted when it arrives; answers that belong to an
older filter (a reload started meanwhile) are dropped by a generation counter. Live events patch a
row in place with `replace_row` or drop it with `remove_row`, so an open list stays current.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import shiboken6
from pydantic import BaseModel
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedLayout,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import tasks
from crm_desktop.widgets.empty_state import EmptyState
from crm_desktop.widgets.header_fit import keep_titles_whole
from crm_server.contract.common import Page

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)  # a row: the contract model the area's list call returns
# (offset, limit, after) -> one page of the list, as the typed api/<area>.py call returns it. `after`
# is the cursor the previous page gave (Page.next): a list whose query takes it pages by key, so a
# deep page costs what the first does; one that does not can ignore it (the offset still says where).
Fetch = Callable[[int, int, str | None], Awaitable[Page[T]]]
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column(Generic[T]):
    """One column: a title and how to show a row in it (text, and optionally a colour or tooltip)."""

    title: str
    text: Callable[[T], str]
    color: Callable[[T], str | None] | None = None
    tooltip: Callable[[T], str | None] | None = None
    align_right: bool = False


class PagedTableModel(QAbstractTableModel, Generic[T]):
    """Rows of a server list, each a contract model (T); grows by pages as the view scrolls."""

    loading_changed = Signal(bool)
    total_changed = Signal(int)
    failed = Signal(object)  # the exception (ApiError) of a page that did not load

    ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the whole row (a T), for delegates and tests

    def __init__(
        self,
        columns: list[Column[T]],
        fetch: Fetch[T],
        page_size: int = 100,
        key: str | Callable[[T], Any] = "id",
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.columns = columns
        self._fetch = fetch
        self.page_size = page_size
        # What names a row (find, replace_row, remove_row): its attribute of that name, or the
        # function's answer for a row keyed by more than one field (stock levels: product and warehouse).
        self.key = key
        self._rows: list[T] = []
        self.total: int | None = None  # None until the first page answered
        self.total_exact = True  # False: the server stopped counting, `total` is a lower bound
        self._next: str | None = None  # the cursor the last page gave: where the next one starts
        self._generation = 0
        self._pending: asyncio.Task[None] | None = None
        self.error: Exception | None = None

    # --- Qt model API --------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == self.ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ForegroundRole and column.color is not None:
            color = column.color(row)
            return QColor(color) if color else None
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip is not None:
            return column.tooltip(row)
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title
        return None

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        if parent.isValid() or self.error is not None:
            return False
        return self.total is None or len(self._rows) < self.total or self._next is not None

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if parent.isValid() or self.loading:
            return
        self._start(len(self._rows))

    # --- loading -------------------------------------------------------------------------------

    @property
    def loading(self) -> bool:
        return self._pending is not None and not self._pending.done()

    def set_fetch(self, fetch: Fetch[T]) -> None:
        """New filters: forget the rows and load the first page of the new list."""
        self._fetch = fetch
        self.reload()

    def reload(self) -> None:
        """Drop what is held and ask for the first page again (F5, or a live event)."""
        self._generation += 1
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        self._pending = None
        self.beginResetModel()
        self._rows = []
        self.total = None
        self._next = None
        self.error = None
        self.endResetModel()
        self._start(0)

    def _start(self, offset: int) -> None:
        self._pending = tasks.spawn(self._load(offset, self._generation))
        self.loading_changed.emit(True)

    async def _load(self, offset: int, generation: int) -> None:
        try:
            after = self._next if offset and offset == len(self._rows) else None
            page = await self._fetch(offset, self.page_size, after)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # shown by the table as "could not load"; F5 retries
            if shiboken6.isValid(self) and generation == self._generation:
                log.info("page at %s did not load: %s", offset, exc)
                self.error = exc
                self._pending = None
                self.loading_changed.emit(False)
                self.failed.emit(exc)
            return
        if not shiboken6.isValid(self) or generation != self._generation:
            return  # the list is gone, or this is an older filter's answer
        self._pending = None
        items: list[T] = list(page.items)
        if offset != len(self._rows):  # rows arrived or left meanwhile (live patching): start over
            self.reload()
            return
        if items:
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(items) - 1)
            self._rows.extend(items)
            self.endInsertRows()
        self._next = page.next
        if len(items) < self.page_size or (after is not None and page.total_exact):
            # the end (a short page: rows deleted on the server meanwhile; or the cursor's last page)
            self.total, self.total_exact = len(self._rows), True
        elif after is None or not self.total_exact:  # a count, or a lower bound that only grows
            self.total, self.total_exact = max(page.total, self.total or 0), page.total_exact
        # (a page after a cursor is not counted: an exact total from the first page stands)
        self.total_changed.emit(self.total)
        self.loading_changed.emit(False)

    async def wait_loaded(self) -> None:
        """Await the page in flight (for tests and for actions that need the rows)."""
        while self._pending is not None and not self._pending.done():
            await asyncio.shield(self._pending)

    # --- rows ----------------------------------------------------------------------------------

    def row(self, i: int) -> T:
        return self._rows[i]

    def rows(self) -> list[T]:
        return list(self._rows)

    def key_of(self, row: T) -> Any:
        """The row's key (its `key` attribute, "id" unless told)."""
        if callable(self.key):
            return self.key(row)
        return getattr(row, self.key)

    def find(self, key: Any) -> int | None:
        for i, row in enumerate(self._rows):
            if self.key_of(row) == key:
                return i
        return None

    def replace_row(self, row: T) -> bool:
        """Patch one held row in place (a live event or our own save); False if it is not held."""
        i = self.find(self.key_of(row))
        if i is None:
            return False
        self._rows[i] = row
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.columns) - 1))
        return True

    def remove_row(self, key: Any) -> bool:
        i = self.find(key)
        if i is None:
            return False
        self.beginRemoveRows(QModelIndex(), i, i)
        del self._rows[i]
        self.endRemoveRows()
        if self.total is not None:
            self.total -= 1
            self.total_changed.emit(self.total)
        return True


class PagedTable(QWidget, Generic[T]):
    """A PagedTableModel in a table view, with a count line and a calm empty / error state."""

    def __init__(
        self,
        model: PagedTableModel[T],
        empty_text: str = "Nothing here yet.",
        parent: QWidget | None = None,
        icon: str = "search",
        empty_title: str = "Nothing to show",
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.empty_title = empty_title
        self.empty_text = empty_text
        self.view = QTableView()
        self.view.setModel(model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(28)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(160)
        keep_titles_whole(self.view)  # no column narrower than its title once shown

        self.empty = EmptyState(icon, empty_title, empty_text)
        self.empty.setMinimumSize(240, 160)  # the message a list may show is no reason for a bigger window

        self._stack = QStackedLayout()
        self._stack.addWidget(self.view)
        self._stack.addWidget(self.empty)

        self.status = QLabel("")
        self.status.setObjectName("tableStatus")
        self.status.setProperty("role", "caption")
        status_row = QHBoxLayout()
        status_row.setContentsMargins(2, 0, 2, 0)
        status_row.addWidget(self.status)
        status_row.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(self._stack, 1)
        layout.addLayout(status_row)

        self.noun = ("row", "rows")
        model.loading_changed.connect(self._refresh_state)
        model.total_changed.connect(self._refresh_state)
        model.modelReset.connect(self._refresh_state)
        model.rowsInserted.connect(self._refresh_state)
        model.rowsRemoved.connect(self._refresh_state)
        model.failed.connect(self._refresh_state)
        self._refresh_state()

    def set_noun(self, one: str, many: str) -> None:
        self.noun = (one, many)
        self._refresh_state()

    def _refresh_state(self, *_: Any) -> None:
        m = self.model
        if m.error is not None:
            message = getattr(m.error, "message", None) or str(m.error)
            self.empty.title.setText("Could not load the list")
            self.empty.text.setText(f"{message}\nPress F5 to try again.")
            self._stack.setCurrentWidget(self.empty)
            self.status.setText("")
            return
        if m.rowCount() == 0 and not m.loading and m.total is not None:
            self.empty.title.setText(self.empty_title)
            self.empty.text.setText(self.empty_text)
            self._stack.setCurrentWidget(self.empty)
        else:
            self._stack.setCurrentWidget(self.view)
        if m.loading and m.total is None:
            self.status.setText("Loading…")
        elif m.total is not None:
            one, many = self.noun
            shown = m.rowCount()
            count = (
                f"{m.total:,} {one if m.total == 1 else many}" if m.total_exact else f"more than {m.total - 1:,} {many}"
            )
            self.status.setText(count if shown >= m.total else f"{count} (showing {shown}, scroll for more)")

    def current_row(self) -> T | None:
        index = self.view.currentIndex()
        if not index.isValid() or not self.view.selectionModel().isRowSelected(index.row(), QModelIndex()):
            return None
        return self.model.row(index.row())

    def select_key(self, key: Any) -> bool:
        i = self.model.find(key)
        if i is None:
            return False
        self.view.selectRow(i)
        self.view.scrollTo(self.model.index(i, 0))
        return True

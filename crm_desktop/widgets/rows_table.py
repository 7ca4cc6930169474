"""A read-only table of text rows (the reports' tables): a view over a small model that is refilled
by a model reset. No cell is an object of its own, so nothing of an earlier fill can outlive it:
refilling QTableWidgets (clear() or setRowCount(0) deleting their items) crashed the screens check
now and then with SIGSEGV."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget

from crm_desktop.widgets.header_fit import keep_titles_whole

Index = QModelIndex | QPersistentModelIndex
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class RowsModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self.right: frozenset[int] = frozenset()

    def set_rows(self, headers: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int]) -> None:
        self.beginResetModel()
        self.headers, self.rows, self.right = list(headers), [list(r) for r in rows], right
        self.endResetModel()
        if self.headers:  # the header measures its titles again (widgets/header_fit)
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self.headers) - 1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.headers)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            row = self.rows[index.row()]
            return row[index.column()] if index.column() < len(row) else ""
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in self.right:
            return RIGHT
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section] if section < len(self.headers) else None
        return None


class RowsTable(QTableView):
    """Rows selected whole, nothing editable, column titles never cut."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows_model = RowsModel(self)
        self.setModel(self.rows_model)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        keep_titles_whole(self)

    def set_rows(
        self, headers: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()
    ) -> None:
        """Show these rows under these titles; columns in `right` are numbers (aligned right)."""
        self.rows_model.set_rows(headers, rows, right)

    def row_count(self) -> int:
        return self.rows_model.rowCount()

    def text(self, row: int, column: int) -> str:
        return str(self.rows_model.data(self.rows_model.index(row, column)) or "")

    def header_text(self, column: int) -> str:
        return str(self.rows_model.headerData(column, Qt.Orientation.Horizontal) or "")

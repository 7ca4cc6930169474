"""The Stock page: the overview of levels per product and warehouse (this file) and the documents
tab (documents.py), with the "New …" documents and the "Warehouses…" manager.

The overview is paged, filtered and sorted on the server (api/stock.list_levels): on hand,
reserved, available (= on hand - reserved), incoming (ordered on open purchase orders) and the
product's low-stock threshold; rows of a product below its threshold are tinted red. Enter, a
double click, "History" or Ctrl+H open the product's stock history. Export writes the filtered list
(every page of it) to Excel. Stock and purchasing changes, here or on another desktop, reload it."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, tasks, theme
from crm_desktop.api import stock
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.views.exports import ExportButton, ExportProgressDialog, begin_export
from crm_desktop.views.stock.common import (
    KIND_NEW,
    LOW_BACKGROUND,
    LOW_TEXT,
    warehouse_choices,
)
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.list_page import HeaderSort, LiveReload, show_empty_state
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.common import Page
from crm_server.contract.stock import LevelOut, LevelQuery

PAGE_SIZE = 100
SORTABLE = {0: "sku", 1: "name", 2: "warehouse", 3: "on_hand", 4: "reserved", 5: "available"}
HEADERS = ["SKU", "Product", "Warehouse", "On hand", "Reserved", "Available", "Incoming", "Low threshold"]


def _low_color(row: LevelOut) -> str | None:
    return theme.color(LOW_TEXT) if row.low else None


def level_key(level: LevelOut) -> str:
    """A level's row key: its product and warehouse ("12:3")."""
    return f"{level.product_id}:{level.warehouse_id}"


class LevelsModel(PagedTableModel[LevelOut]):
    """The levels, each row keyed by product and warehouse; a low product's rows are tinted."""

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.BackgroundRole and index.isValid() and 0 <= index.row() < self.rowCount():
            return QColor(theme.color(LOW_BACKGROUND)) if self.row(index.row()).low else None
        return super().data(index, role)


class OverviewPanel(QWidget):
    """Levels per product and warehouse (see the module's docstring)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.sort = "name"

        self.filters = FilterBar()
        self.search = self.filters.add_search("q", "Search SKU or product…")
        self.warehouse = self.filters.add_choice("warehouse_id", "Warehouse", [], any_label="All warehouses")
        self.low_only = QCheckBox("Low stock only")
        self.low_only.setObjectName("lowOnly")
        self.low_only.toggled.connect(lambda _: self.filters.changed.emit())
        self.filters.add_widget("low_only", self.low_only, lambda: True if self.low_only.isChecked() else None)
        self.nonzero_only = QCheckBox("Non-zero only")
        self.nonzero_only.setObjectName("nonzeroOnly")
        self.nonzero_only.setToolTip("Hide rows with nothing on hand, reserved or incoming")
        self.nonzero_only.toggled.connect(lambda _: self.filters.changed.emit())
        self.filters.add_widget(
            "nonzero_only", self.nonzero_only, lambda: True if self.nonzero_only.isChecked() else None
        )
        self.history_button = QPushButton("History")
        self.history_button.setToolTip("Every move of the selected product (Ctrl+H)")
        self.history_button.clicked.connect(self.open_history)
        self.export_button = ExportButton(self, "stock_levels", self.export)
        shown_if(self.export_button, session.can("stock", "export"))
        self.filters.add_trailing(self.history_button)
        self.filters.add_trailing(self.export_button)
        self.filters.changed.connect(self.reload)

        columns: list[Column[LevelOut]] = [
            Column("SKU", lambda r: r.sku),
            Column("Product", lambda r: r.product_name),
            Column("Warehouse", lambda r: r.warehouse_name),
            Column("On hand", lambda r: format.quantity(r.on_hand), color=_low_color, align_right=True),
            Column("Reserved", lambda r: format.quantity(r.reserved), align_right=True),
            Column(
                "Available",
                lambda r: format.quantity(r.available),
                color=_low_color,
                align_right=True,
                tooltip=lambda r: "Below the low-stock threshold (all warehouses together)" if r.low else None,
            ),
            Column("Incoming", lambda r: format.quantity(r.incoming), align_right=True),
            Column("Low threshold", lambda r: format.quantity(r.low_threshold) or format.EMPTY, align_right=True),
        ]
        self.model = LevelsModel(columns, self._fetch, page_size=PAGE_SIZE, key=level_key, parent=self)
        self.table = PagedTable(
            self.model, "Stock appears here once a receipt is validated.", icon="stock", empty_title="No stock yet"
        )
        self.table.set_noun("row", "rows")
        view = self.table.view
        view.setObjectName("stockLevels")
        view.setAccessibleName("Stock levels")
        for column, width in enumerate((100, 260, 120, 90, 90, 90, 90, 110)):
            view.setColumnWidth(column, width)
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.header_sort = HeaderSort(self, SORTABLE)
        view.activated.connect(lambda _: self.open_history())
        view.doubleClicked.connect(lambda _: self.open_history())

        root = QVBoxLayout(self)
        root.setContentsMargins(0, 8, 0, 0)
        root.setSpacing(10)
        root.addWidget(self.filters)
        root.addWidget(self.table, 1)

        for keys, slot in ((QKeySequence(Qt.Key.Key_F5), self.reload), (QKeySequence("Ctrl+H"), self.open_history)):
            shortcut = QShortcut(keys, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self.live = LiveReload(self, stock.WATCHED, self.reload, on_change=self._on_changed)
        self._warehouses_task = tasks.spawn(self.load_warehouses())
        self.reload()

    async def load_warehouses(self) -> None:
        try:
            warehouses = await stock.list_warehouses(self.api)
        except ApiError:
            return
        self.filters.set_choices("warehouse_id", warehouse_choices(warehouses), any_label="All warehouses")

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[LevelOut]:
        query = LevelQuery.model_validate({**self.query(), "offset": offset, "limit": limit, "after": after})
        return await stock.list_levels(self.api, query)

    def query(self) -> dict[str, Any]:
        return {**self.filters.values(), "sort": self.sort}

    def reload(self) -> None:
        show_empty_state(
            self.table,
            self.query(),
            "No stock yet",
            "Stock appears here once a receipt is validated.",
            "No stock matches",
        )
        self.model.reload()

    def sort_by_column(self, column: int) -> None:
        self.header_sort.click(column)

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & stock.WAREHOUSES_WATCHED:
            tasks.spawn(self.load_warehouses())

    def open_history(self) -> QWidget | None:
        row = self.table.current_row()
        if row is None:
            return None
        from crm_desktop.views.stock.history import open_history

        return open_history(
            self,
            self.session,
            row.product_id,
            warehouse_id=row.warehouse_id if self.filters.values().get("warehouse_id") else None,
        )

    # --- export ----------------------------------------------------------------------------------

    def export(self, fmt: str = "xlsx") -> asyncio.Task[Any] | None:
        """Export…: the stock levels these filters show, as a job (views/exports.py: progress,
        Cancel, then "Save as…")."""
        if not self.session.can("stock", "export"):
            return None
        query = LevelQuery.model_construct(**self.query())
        return begin_export(self, self.session, "stock_levels", query, fmt, opened=self._export_opened)

    def _export_opened(self, dialog: ExportProgressDialog) -> None:
        self.export_dialog = dialog

    def is_busy(self) -> bool:
        return bool(self.model.loading)


class StockPage(QWidget):
    """The Stock module: Levels and Documents tabs, New … documents, Warehouses…."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        title = QLabel("Stock")
        title.setProperty("role", "title")
        sub = QLabel("What is on the shelf, promised and on its way.")
        sub.setToolTip("Enter, a double click or Ctrl+H opens a product's stock history.")
        sub.setProperty("role", "muted")
        words = QVBoxLayout()
        words.setSpacing(2)
        words.addWidget(title)
        words.addWidget(sub)
        head = QHBoxLayout()
        head.addLayout(words, 1)
        self.new_buttons: dict[str, QPushButton] = {}
        can_create = session.can("stock", "create")
        for kind, text in KIND_NEW.items():
            button = QPushButton(text)
            button.setObjectName(f"new_{kind}")
            shown_if(button, can_create)
            button.clicked.connect(lambda _=False, k=kind: self.new_document(k))
            head.addWidget(button, 0, Qt.AlignmentFlag.AlignBottom)
            self.new_buttons[kind] = button
        self.new_buttons["receipt"].setProperty("role", "primary")
        self.new_buttons["receipt"].setToolTip("New receipt (Ctrl+N)")
        self.warehouses_button = QPushButton("Warehouses…")
        self.warehouses_button.setObjectName("warehousesButton")
        # Admins hold every permission; the server refuses anyone else without stock edit anyway.
        shown_if(self.warehouses_button, session.can("stock", "edit"))
        self.warehouses_button.clicked.connect(self.open_warehouses)
        head.addWidget(self.warehouses_button, 0, Qt.AlignmentFlag.AlignBottom)

        from crm_desktop.views.stock.documents import DocumentsPanel

        self.overview = OverviewPanel(session)
        self.documents = DocumentsPanel(session)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("stockTabs")
        self.tabs.addTab(self.overview, "Levels")
        self.tabs.addTab(self.documents, "Documents")

        root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 16)
        root.setSpacing(12)
        root.addLayout(head)
        root.addWidget(self.tabs, 1)
        new = QShortcut(QKeySequence("Ctrl+N"), self)
        new.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        new.activated.connect(lambda: self.new_document("receipt") if can_create else None)
        self.warehouses_dialog: QWidget | None = None

    def new_document(self, kind: str) -> QWidget:
        from crm_desktop.views.stock.document_editor import new_stock_document

        return new_stock_document(
            self, self.session, kind, warehouse_id=self.overview.filters.values().get("warehouse_id")
        )

    def open_warehouses(self) -> QWidget:
        from crm_desktop.views.stock.warehouses import WarehousesDialog

        dialog = WarehousesDialog(self.session, self)
        dialog.open()
        self.warehouses_dialog = dialog
        return dialog

    def open_record(self, record_type: str, record_id: int, parent_id: int | None = None) -> QWidget | None:
        from crm_desktop.views.stock import open_record

        return open_record(self, self.session, record_type, record_id)

    def is_busy(self) -> bool:
        return self.overview.is_busy() or self.documents.is_busy()

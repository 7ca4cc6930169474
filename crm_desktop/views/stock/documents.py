"""The stock documents tab: receipts, deliveries, transfers and adjustments, newest first, filtered
by kind, status, warehouse and a search on number or reference (all on the server). Enter or a
double click opens the document's window; stock changes anywhere reload the list."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHeaderView, QVBoxLayout, QWidget

from crm_desktop import tasks
from crm_desktop.api import stock
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.views.stock.common import (
    KIND_LABELS,
    STATUS_COLORS,
    STATUS_LABELS,
    document_date,
    kind_label,
    status_label,
    warehouse_choices,
    warehouses_text,
)
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.list_page import HeaderSort, LiveReload, show_empty_state
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_server.contract.common import Page
from crm_server.contract.stock import DocumentQuery, StockDocumentOut

PAGE_SIZE = 100
SORTABLE = {0: "number", 4: "created_at"}


class DocumentsPanel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.sort = "-created_at"

        self.filters = FilterBar()
        self.search = self.filters.add_search("q", "Search number or reference…")
        self.kind = self.filters.add_choice(
            "kind", "Kind", [(v, k) for k, v in KIND_LABELS.items()], any_label="Any kind"
        )
        self.status = self.filters.add_choice(
            "status", "Status", [(v, k) for k, v in STATUS_LABELS.items()], any_label="Any status"
        )
        self.warehouse = self.filters.add_choice("warehouse_id", "Warehouse", [], any_label="All warehouses")
        self.filters.changed.connect(self.reload)

        columns: list[Column[StockDocumentOut]] = [
            Column("Number", lambda r: r.number),
            Column("Kind", lambda r: kind_label(r.kind)),
            Column("Status", lambda r: status_label(r.status), color=lambda r: STATUS_COLORS.get(r.status)),
            Column("Warehouses", warehouses_text),
            Column("Date", document_date),
            Column("Reference", lambda r: r.reference or "—"),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model,
            "Receipts, deliveries, transfers and counts you make show up here.",
            icon="stock",
            empty_title="No stock documents yet",
        )
        self.table.set_noun("document", "documents")
        view = self.table.view
        view.setObjectName("stockDocuments")
        view.setAccessibleName("Stock documents")
        for column, width in enumerate((170, 110, 100, 260, 170, 200)):
            view.setColumnWidth(column, width)
        header = view.horizontalHeader()
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Interactive)
        self.header_sort = HeaderSort(self, SORTABLE, first_descending=True)
        view.activated.connect(lambda _: self.open_selected())

        root = QVBoxLayout(self)
        root.setContentsMargins(0, 8, 0, 0)
        root.setSpacing(10)
        root.addWidget(self.filters)
        root.addWidget(self.table, 1)

        reload = QShortcut(QKeySequence(Qt.Key.Key_F5), self)
        reload.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        reload.activated.connect(self.reload)
        self.live = LiveReload(self, stock.WATCHED, self.reload, on_change=self._on_changed)
        tasks.spawn(self.load_warehouses())
        self.reload()

    async def load_warehouses(self) -> None:
        try:
            warehouses = await stock.list_warehouses(self.api)
        except ApiError:
            return
        self.filters.set_choices("warehouse_id", warehouse_choices(warehouses), any_label="All warehouses")

    def query(self) -> dict[str, Any]:
        return {**self.filters.values(), "sort": self.sort}

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[StockDocumentOut]:
        query = DocumentQuery.model_validate({**self.query(), "offset": offset, "limit": limit, "after": after})
        return await stock.list_documents(self.api, query)

    def reload(self) -> None:
        show_empty_state(
            self.table,
            self.query(),
            "No stock documents yet",
            "Receipts, deliveries, transfers and counts you make show up here.",
            "No documents match",
        )
        self.model.reload()

    def sort_by_column(self, column: int) -> None:
        self.header_sort.click(column)

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & stock.WAREHOUSES_WATCHED:
            tasks.spawn(self.load_warehouses())

    def open_selected(self) -> QWidget | None:
        row = self.table.current_row()
        if row is None:
            return None
        from crm_desktop.views.stock.document_editor import open_stock_document

        return open_stock_document(self, self.session, row.id)

    def is_busy(self) -> bool:
        return self.model.loading

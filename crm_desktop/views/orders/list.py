"""The sales orders page: the web shop's orders the user may see, newest first, with status and
stock filters and a search (number, store number, client); Enter or a double click opens one.

Orders are made and changed by the store, never here: the page only reads. It follows the change
bus ("orders" areas: a webhook or the reconciliation changing an order reaches every desktop)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHeaderView, QLabel, QVBoxLayout, QWidget

from crm_desktop import format, theme
from crm_desktop.api import orders
from crm_desktop.session import Session
from crm_desktop.views.exports import export_action
from crm_desktop.views.orders.detail import STATUS_COLORS, open_order
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.list_page import HeaderSort, KeepSelected, LiveReload, show_empty_state
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_server.contract.common import Page
from crm_server.contract.orders import STATUS_LABELS, STOCK_LABELS, OrderOut, OrderQuery

PAGE_SIZE = 100
SORTABLE = {0: "number", 5: "total", 6: "created_at"}  # column -> the server's sort key
EMPTY_TITLE = "No web shop orders yet"
EMPTY_TEXT = (
    "Orders from your WooCommerce store arrive here by themselves once an administrator connects it "
    "in Admin → Integrations."
)


def stock_text(row: OrderOut) -> str:
    return str(STOCK_LABELS.get(row.stock_state, row.stock_state))


def stock_color(row: OrderOut) -> str | None:
    return theme.tone("danger") if row.stock_state == "short" else None


def lines_text(row: OrderOut) -> str:
    skipped = len(row.skipped_lines)
    return f"{row.line_count}" + (f" (+{skipped} skipped)" if skipped else "")


class OrdersPage(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.sort = "-created_at"

        self.filters = FilterBar()
        self.search = self.filters.add_search("q", "Search order number or client…")
        self.status = self.filters.add_choice(
            "status", "Status", [(v, k) for k, v in STATUS_LABELS.items()], any_label="Any status"
        )
        self.stock = self.filters.add_choice(
            "stock_state", "Stock", [(v, k) for k, v in STOCK_LABELS.items()], any_label="Any stock state"
        )
        self.filters.changed.connect(self.reload)
        self.export_button = export_action(
            self, session, "sales_orders", lambda: OrderQuery.model_construct(**self.query())
        )
        self.filters.add_trailing(self.export_button)

        columns: list[Column[OrderOut]] = [
            Column("Order", lambda r: r.number),
            Column(
                "Status",
                lambda r: str(STATUS_LABELS.get(r.status, r.status)),
                color=lambda r: STATUS_COLORS.get(r.status),
            ),
            Column("Client", lambda r: r.client_name or "—", tooltip=lambda r: r.client_email),
            Column("Lines", lines_text, align_right=True),
            Column("Stock", stock_text, color=stock_color, tooltip=lambda r: r.stock_note),
            Column("Total", lambda r: format.money(r.total, r.currency), align_right=True),
            Column("Received", lambda r: format.moment(r.created_at)),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(self.model, EMPTY_TEXT, icon="invoices", empty_title=EMPTY_TITLE)
        self.table.set_noun("order", "orders")
        view = self.table.view
        view.setAccessibleName("Sales orders")
        for column, width in enumerate((120, 110, 260, 120, 140, 130, 170)):
            view.setColumnWidth(column, width)
        view.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.header_sort = HeaderSort(self, SORTABLE, first_descending=True, unsorted_column=6)
        self.keep = KeepSelected(self.table)
        view.activated.connect(lambda _: self.open_selected())

        root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 16)
        root.setSpacing(12)
        title = QLabel("Sales orders")
        title.setProperty("role", "title")
        sub = QLabel(
            "Orders from the web shop, as the store last reported them; the store changes them, the CRM "
            "reads them. Enter opens one."
        )
        sub.setProperty("role", "muted")
        root.addWidget(title)
        root.addWidget(sub)
        root.addWidget(self.filters)
        root.addWidget(self.table, 1)

        reload = QShortcut(QKeySequence(Qt.Key.Key_F5), view)
        reload.setContext(Qt.ShortcutContext.WidgetShortcut)
        reload.activated.connect(self.reload)
        self.live = LiveReload(self, orders.WATCHED, self.reload)
        self.reload()

    def query(self) -> dict[str, Any]:
        return {**self.filters.values(), "sort": self.sort}

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[OrderOut]:
        query = OrderQuery.model_validate({**self.query(), "offset": offset, "limit": limit, "after": after})
        return await orders.list_orders(self.api, query)

    def reload(self) -> None:
        show_empty_state(self.table, self.query(), EMPTY_TITLE, EMPTY_TEXT, "No orders match")
        self.keep.remember()
        self.model.reload()

    def sort_by_column(self, column: int) -> None:
        self.header_sort.click(column)

    def open_selected(self) -> QWidget | None:
        row = self.table.current_row()
        if row is None:
            return None
        return open_order(self, self.session, row.id)

    def is_busy(self) -> bool:
        return self.model.loading

"""The purchasing page: filters (status, vendor, search), the server-paged list of purchase orders,
New order (Ctrl+N), Enter or a double click opens one in its own window (editor.open_purchase_order),
Export to Excel (Ctrl+E).

The list endpoint answers each order with its line counts (line_count, lines_received), so the
"Lines" and "Received" columns and the export come straight from the list pages, never order by
order. An open order past its expected delivery date is shown in red. The list follows the change
bus: a change here or on another desktop ("purchasing" and "stock" areas) reloads it and keeps the
selected order selected."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHeaderView, QLabel, QPushButton, QVBoxLayout, QWidget

from crm_desktop import format, theme
from crm_desktop.api import purchasing
from crm_desktop.session import Session
from crm_desktop.views.exports import ExportButton, ExportProgressDialog, begin_export
from crm_desktop.views.purchasing.common import (
    CANCELLED_TONE,
    LATE_TONE,
    STATUS_LABELS,
    S,
    VendorPicker,
    late,
    status_label,
)
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.list_page import (
    HeaderSort,
    KeepSelected,
    LiveReload,
    show_empty_state,
    title_bar,
)
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.common import Page
from crm_server.contract.purchasing import PurchaseOrderOut, PurchaseOrderQuery

PAGE_SIZE = 100
SORTABLE = {0: "number", 3: "expected_on", 4: "total"}  # column -> the server's sort key


def _color(row: PurchaseOrderOut) -> str | None:
    if late(row):
        return theme.tone(LATE_TONE)
    return theme.tone(CANCELLED_TONE) if row.status == S.cancelled else None


def _received_text(row: PurchaseOrderOut) -> str:
    """ "2 of 3 lines received"; a draft expects nothing yet, a cancelled order shows what came."""
    count, done = row.line_count, row.lines_received
    if row.status == S.draft or not count or (row.status == S.cancelled and not done):
        return "—"
    return f"{done} of {count} line{'s' if count != 1 else ''} received"


class PurchaseOrdersPage(QWidget):
    """Everything of the Purchasing module but the order windows (see editor.open_purchase_order)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("purchaseOrdersPage")
        self.session = session
        self.api = session.api
        self.sort = "-created_at"

        self.filters = FilterBar()
        self.search = self.filters.add_search("q", "Search number, reference or vendor…")
        self.status = self.filters.add_choice(
            "status",
            "Status",
            [(label, status.value) for status, label in STATUS_LABELS.items()],
            any_label="Any status",
        )
        self.vendor = VendorPicker(self.api)
        self.vendor.setPlaceholderText("Any vendor")
        self.vendor.setMinimumWidth(200)
        self.vendor.vendor_changed.connect(lambda _: self.filters.changed.emit())
        self.filters.add_widget("vendor_id", self.vendor, lambda: self.vendor.vendor_id, "Vendor")
        self.filters.changed.connect(self.reload)

        columns: list[Column[PurchaseOrderOut]] = [
            Column("Number", lambda r: r.number or "—", color=_color),
            Column("Vendor", lambda r: r.vendor_name or "—", color=_color),
            Column("Status", lambda r: status_label(r.status), color=_color),
            Column(
                "Expected delivery",
                lambda r: format.day(r.expected_on),
                color=_color,
                tooltip=lambda r: "Late: the expected delivery date has passed" if late(r) else None,
            ),
            Column("Total", lambda r: format.money(r.total, r.currency), color=_color, align_right=True),
            Column("Lines", lambda r: str(r.line_count), color=_color, align_right=True),
            Column("Received", _received_text, color=_color),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model, "Press Ctrl+N to order from a vendor.", icon="purchasing", empty_title="No purchase orders yet"
        )
        self.table.set_noun("purchase order", "purchase orders")
        view = self.table.view
        view.setAccessibleName("Purchase orders")
        for column, width in enumerate((130, 260, 150, 150, 130, 70, 180)):
            view.setColumnWidth(column, width)
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.header_sort = HeaderSort(self, SORTABLE)
        view.activated.connect(lambda _: self.open_selected())  # Enter, and a double click
        self.keep = KeepSelected(self.table, self._update_actions)

        self.new_button = QPushButton("New order")
        self.new_button.setProperty("role", "primary")
        self.new_button.setToolTip("New purchase order (Ctrl+N)")
        self.new_button.clicked.connect(lambda: self.new_order())
        shown_if(self.new_button, session.can("purchasing", "create"))
        self.export_button = ExportButton(self, "purchase_orders", self.export)
        shown_if(self.export_button, session.can("purchasing", "export"))
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open the selected purchase order (Enter)")
        self.open_button.clicked.connect(self.open_selected)
        view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        self.model.modelReset.connect(self._update_actions)
        self.notice = QLabel()
        self.notice.setObjectName("pageNotice")
        self.notice.setProperty("role", "info")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)

        root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 16)
        root.setSpacing(12)
        root.addWidget(
            title_bar(
                "Purchase orders",
                "Orders to vendors, from draft to received. Enter opens one; Ctrl+N writes one; "
                "late deliveries are red.",
                self.new_button,
            )
        )
        self.filters.add_trailing(self.export_button)
        self.filters.add_trailing(self.open_button)
        root.addWidget(self.filters)
        root.addWidget(self.notice)
        root.addWidget(self.table, 1)

        new = QShortcut(QKeySequence(QKeySequence.StandardKey.New), self)
        new.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        new.activated.connect(lambda: self.new_order())
        export = QShortcut(QKeySequence("Ctrl+E"), self)
        export.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        export.activated.connect(self.export)
        reload = QShortcut(QKeySequence(Qt.Key.Key_F5), self)
        reload.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        reload.activated.connect(self.reload)
        self.live = LiveReload(self, purchasing.WATCHED, self.reload)
        self._update_actions()
        self.reload()

    # --- loading ---------------------------------------------------------------------------------

    def query(self) -> dict[str, Any]:
        return {**self.filters.values(), "sort": self.sort}

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[PurchaseOrderOut]:
        query = PurchaseOrderQuery.model_validate({**self.query(), "offset": offset, "limit": limit, "after": after})
        return await purchasing.list_orders(self.api, query)

    def reload(self) -> None:
        """From the top with the filters as they are now, keeping the selected order selected."""
        show_empty_state(
            self.table,
            self.query(),
            "No purchase orders yet",
            "Press Ctrl+N to order from a vendor.",
            "No purchase orders match",
        )
        self.keep.remember()
        self.model.reload()

    def sort_by_column(self, column: int) -> None:
        self.header_sort.click(column)

    def _update_actions(self) -> None:
        self.open_button.setEnabled(self.table.current_row() is not None)

    def is_busy(self) -> bool:
        return self.model.loading or self.vendor.is_busy()

    # --- actions ---------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def new_order(self) -> QWidget | None:
        if not self.session.can("purchasing", "create"):
            return None
        return self.open_order(None)

    def open_selected(self) -> QWidget | None:
        row = self.table.current_row()
        return self.open_order(row.id) if row is not None else None

    def open_order(self, order_id: int | None) -> QWidget:
        from crm_desktop.views.purchasing.editor import open_purchase_order

        window = open_purchase_order(self, self.session, order_id)
        if order_id is None:  # a new window: its first save selects it here
            window.created.connect(self._created)
        return window

    def _created(self, order: PurchaseOrderOut) -> None:
        self.keep.select(order.id)
        self.say(f"{order.number} is created.")

    def open_record(self, record_type: str, record_id: int, parent_id: int | None = None) -> QWidget | None:
        """A global-search hit (or a link from another window) names a purchase order: open it."""
        return self.open_order(record_id) if record_type == "purchase_order" else None

    def export(self, fmt: str = "xlsx") -> asyncio.Task[Any] | None:
        """Ctrl+E: export the purchase orders of the current filters as a job (views/exports.py:
        progress, Cancel, then "Save as…")."""
        if not self.session.can("purchasing", "export"):
            return None
        query = PurchaseOrderQuery.model_construct(**self.query())
        return begin_export(self, self.session, "purchase_orders", query, fmt, opened=self._export_opened)

    def _export_opened(self, dialog: ExportProgressDialog) -> None:
        self.export_dialog = dialog

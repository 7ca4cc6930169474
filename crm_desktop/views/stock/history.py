"""A product's stock history: every move, oldest first, with its date, document (kind and number;
Enter or a double click opens it), warehouse, who, the quantity (+ in, - out) and the running
quantity after it, over all warehouses and in the move's own warehouse. A negative or surprising
figure is traced to the document that made it in this one window.

The header shows the product's totals (on hand, reserved, available, incoming) per warehouse, and
its low-stock threshold, which is set here (api/stock.set_product_settings). Stock changes
anywhere reload it."""

from __future__ import annotations

import asyncio
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, icons, operations, tasks, theme
from crm_desktop.api import stock
from crm_desktop.api.client import ApiError
from crm_desktop.operations.errors import mark_field
from crm_desktop.session import Session
from crm_desktop.views.stock.common import kind_label, signed_qty
from crm_desktop.widgets.line_grid import typed
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.common import Page
from crm_server.contract.stock import HistoryQuery, MoveOut, ProductStockOut, ProductStockSettingsIn

PAGE_SIZE = 200
_open: dict[int, ProductHistoryWindow] = {}


def open_history(
    parent: QWidget | None, session: Session, product_id: int, *, warehouse_id: int | None = None
) -> ProductHistoryWindow:
    """The product's history window (raised when open already)."""
    window = _open.get(product_id)
    if window is None or not shiboken6.isValid(window) or window.session is not session:
        window = ProductHistoryWindow(
            session, product_id, parent.window() if parent is not None else None, warehouse_id=warehouse_id
        )
        _open[product_id] = window
    window.show()
    window.raise_()
    window.activateWindow()
    return window


def _quantity_color(row: MoveOut) -> str | None:
    return theme.tone("danger" if str(row.quantity).startswith("-") else "success")


def _negative_color(value: Any) -> str | None:
    return theme.tone("danger") if str(value).startswith("-") else None


class ProductHistoryWindow(QWidget):
    def __init__(
        self, session: Session, product_id: int, parent: QWidget | None = None, *, warehouse_id: int | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.session = session
        self.api = session.api
        self.product_id = product_id
        self.product: ProductStockOut | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wanted_warehouse = warehouse_id
        self.setObjectName("stockHistoryWindow")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setWindowIcon(icons.app_icon())
        self.setWindowTitle("Stock history - CRM")
        self.resize(1100, 720)

        self.title = QLabel("Stock history")
        self.title.setProperty("role", "title")
        self.totals = QLabel()
        self.totals.setObjectName("stockTotals")
        self.totals.setWordWrap(True)
        self.per_warehouse = QLabel()
        self.per_warehouse.setObjectName("perWarehouse")
        self.per_warehouse.setProperty("role", "muted")
        self.per_warehouse.setWordWrap(True)

        self.threshold = QLineEdit()
        self.threshold.setObjectName("lowThreshold")
        self.threshold.setAccessibleName("Low-stock threshold")
        self.threshold.setPlaceholderText("No threshold")
        self.threshold.setMaximumWidth(120)
        self.threshold.returnPressed.connect(self.save_threshold)
        self.threshold_button = QPushButton("Set threshold")
        self.threshold_button.setToolTip("Warn the warehouse role when the available stock falls below it (Enter)")
        self.threshold_button.clicked.connect(self.save_threshold)
        can_edit = session.can("stock", "edit")
        self.threshold.setReadOnly(not can_edit)
        shown_if(self.threshold_button, can_edit)
        threshold_row = QHBoxLayout()
        caption = QLabel("&Low-stock threshold")
        caption.setBuddy(self.threshold)
        threshold_row.addWidget(caption)
        threshold_row.addWidget(self.threshold)
        threshold_row.addWidget(self.threshold_button)
        threshold_row.addStretch(1)
        self.warehouse = QComboBox()
        self.warehouse.setAccessibleName("Warehouse")
        self.warehouse.addItem("All warehouses", None)
        threshold_row.addWidget(QLabel("Warehouse"))
        threshold_row.addWidget(self.warehouse)
        self.threshold_box = QWidget()
        threshold_box_layout = QVBoxLayout(self.threshold_box)
        threshold_box_layout.setContentsMargins(0, 0, 0, 0)
        threshold_box_layout.addLayout(threshold_row)

        columns: list[Column[MoveOut]] = [
            Column("Date", lambda r: format.moment(r.at)),
            Column(
                "Document",
                lambda r: f"{kind_label(r.document_type)} {r.document_number}",
                tooltip=lambda r: "Enter opens the document",
            ),
            Column("Warehouse", lambda r: r.warehouse_name),
            Column("Who", lambda r: r.created_by_name or "—"),
            Column("Quantity", lambda r: signed_qty(r.quantity), color=_quantity_color, align_right=True),
            Column(
                "Running total",
                lambda r: format.quantity(r.running_total),
                align_right=True,
                color=lambda r: _negative_color(r.running_total),
                tooltip=lambda r: "On hand in all warehouses after this move",
            ),
            Column(
                "In its warehouse",
                lambda r: format.quantity(r.running_warehouse),
                align_right=True,
                color=lambda r: _negative_color(r.running_warehouse),
                tooltip=lambda r: f"On hand in {r.warehouse_name} after this move",
            ),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.warehouse.currentIndexChanged.connect(lambda _: self.model.reload())
        self.table = PagedTable(
            self.model,
            "Nothing has moved yet: moves appear when documents are validated.",
            icon="stock",
            empty_title="No moves yet",
        )
        self.table.set_noun("move", "moves")
        view = self.table.view
        view.setObjectName("stockMoves")
        view.setAccessibleName("Stock moves")
        for column, width in enumerate((170, 220, 150, 150, 100, 110, 120)):
            view.setColumnWidth(column, width)
        view.horizontalHeader().setStretchLastSection(False)
        view.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        view.activated.connect(lambda _: self.open_document())
        view.doubleClicked.connect(lambda _: self.open_document())

        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        root = QVBoxLayout(self)
        root.setContentsMargins(24, 18, 24, 16)
        root.setSpacing(10)
        root.addLayout(head)
        root.addWidget(self.totals)
        root.addWidget(self.per_warehouse)
        root.addWidget(self.threshold_box)
        root.addWidget(self.table, 1)

        for keys, slot in ((QKeySequence(Qt.Key.Key_F5), self.reload), (QKeySequence(Qt.Key.Key_Escape), self.close)):
            QShortcut(keys, self).activated.connect(slot)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(200)
        self._refresh_timer.timeout.connect(self.reload)
        operations.change_bus().changed.connect(self._on_changed)
        self.reload()

    # --- loading ---------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = tasks.spawn(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def is_busy(self) -> bool:
        return self.model.loading or any(not t.done() for t in self._tasks)

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[MoveOut]:
        query = HistoryQuery(warehouse_id=self.warehouse.currentData(), offset=offset, limit=limit, after=after)
        return await stock.stock_history(self.api, self.product_id, query)

    def reload(self) -> None:
        self._spawn(self._load_product())
        self.model.reload()

    async def _load_product(self) -> None:
        try:
            product = await stock.product_stock(self.api, self.product_id)
        except ApiError as exc:
            if shiboken6.isValid(self):
                self.title.setText("This product cannot be shown")
                self.totals.setText(exc.message)
            return
        if shiboken6.isValid(self):
            self.show_product(product)

    def show_product(self, product: ProductStockOut) -> None:
        self.product = product
        self.title.setText(f"{product.name} ({product.sku})")
        self.setWindowTitle(f"Stock history: {product.sku} - CRM")
        unit = f" {product.unit}" if product.unit else ""
        low = "  ·  below its threshold" if product.low else ""
        q = {
            "on_hand": format.quantity(product.on_hand),
            "reserved": format.quantity(product.reserved),
            "available": format.quantity(product.available),
            "incoming": format.quantity(product.incoming),
        }
        self.totals.setText(
            f"On hand {q['on_hand']}{unit}  ·  reserved {q['reserved']}  ·  "
            f"available {q['available']}  ·  incoming {q['incoming']}{low}"
        )
        self.totals.setProperty("role", "error" if product.low else "")
        self.totals.style().unpolish(self.totals)
        self.totals.style().polish(self.totals)
        self.per_warehouse.setText(
            "  ·  ".join(
                f"{w.warehouse_name}: {format.quantity(w.on_hand)} on hand, {format.quantity(w.available)} available"
                for w in product.warehouses
            )
            or "Not in any warehouse yet."
        )
        if not self.threshold.hasFocus():
            self.threshold.setText(typed(product.low_threshold))
        current = self.warehouse.currentData()
        self.warehouse.blockSignals(True)
        self.warehouse.clear()
        self.warehouse.addItem("All warehouses", None)
        for w in product.warehouses:
            self.warehouse.addItem(w.warehouse_name, w.warehouse_id)
        wanted = self._wanted_warehouse if self._wanted_warehouse is not None else current
        self._wanted_warehouse = None
        self.warehouse.setCurrentIndex(max(self.warehouse.findData(wanted), 0) if wanted is not None else 0)
        self.warehouse.blockSignals(False)
        if self.warehouse.currentData() != current:
            self.model.reload()

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & stock.WATCHED and shiboken6.isValid(self):
            self._refresh_timer.start()

    # --- actions ---------------------------------------------------------------------------------

    def shown_moves(self) -> list[tuple[str, str, str, str]]:
        """(document, quantity, running total, in its warehouse) per row as shown (tests, screenshots)."""
        m = self.model
        return [tuple(m.data(m.index(i, c)) for c in (1, 4, 5, 6)) for i in range(m.rowCount())]  # type: ignore[misc]

    def open_document(self) -> QWidget | None:
        row = self.table.current_row()
        if row is None:
            return None
        from crm_desktop.views.stock.document_editor import open_stock_document

        return open_stock_document(self, self.session, row.document_id)

    def save_threshold(self) -> asyncio.Task[Any] | None:
        text = self.threshold.text().strip()
        value = format.parse_decimal(text) if text else None
        if text and (value is None or value < 0):
            mark_field(self.threshold, "Type a quantity of 0 or more, or leave it empty for no threshold.")
            return None

        def saved(product: ProductStockOut) -> None:
            self.threshold.clearFocus()
            self.show_product(product)

        # As typed, unchecked (model_construct): the server judges it (e.g. too many decimals) and names the field.
        settings = ProductStockSettingsIn.model_construct(low_threshold=value)
        return operations.run(
            self,
            stock.set_product_settings(self.api, self.product_id, settings),
            success=saved,
            changed=stock.SETTINGS_CHANGED,
            fields={"low_threshold": self.threshold},
            busy=self.threshold_button,
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if _open.get(self.product_id) is self:
            del _open[self.product_id]
        super().closeEvent(event)

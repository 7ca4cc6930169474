"""One sales order in its own window, read-only (the store makes and changes orders): status, client,
the store's order number and last change, totals, the lines, the lines the CRM skipped (no SKU)
and what the order does to stock (held per product and warehouse, delivered, or why not).

Follows the change bus: the store moving the order on (a webhook on the server) updates the window."""

from __future__ import annotations

import asyncio
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, icons, theme
from crm_desktop.api import orders
from crm_desktop.api.client import ApiError
from crm_desktop.operations import change_bus
from crm_desktop.operations.errors import handle_error
from crm_desktop.session import Session
from crm_desktop.widgets.header_fit import keep_titles_whole
from crm_desktop.widgets.record_window import WindowRegistry, action_button, lazy, show_window, spawn_into
from crm_server.contract.orders import STATUS_LABELS, STOCK_LABELS, OrderOut

STATUS_COLORS = theme.ToneColors(
    {
        "draft": "neutral",
        "pending": "warning",
        "processing": "info",
        "on_hold": "warning",
        "completed": "success",
        "cancelled": "neutral",
        "refunded": "neutral",
        "failed": "danger",
    }
)
SOURCE_LABELS = {"woocommerce": "WooCommerce"}
_open: WindowRegistry[OrderWindow] = WindowRegistry()  # order id -> its window


def open_order(parent: QWidget | None, session: Session, order_id: int) -> OrderWindow:
    """The order's window (raised when it is open already)."""
    window = _open.live(order_id, session)
    if window is None:
        window = OrderWindow(session, order_id, parent.window() if parent is not None else None)
        _open.keep(order_id, window)
    return show_window(window)


def _table(headers: list[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
    table.setColumnWidth(0, 170)  # SKUs such as WOO-HOODIE-BLUE on one line
    keep_titles_whole(table)
    return table


def _fill(table: QTableWidget, rows: list[list[str]], right: tuple[int, ...] = ()) -> None:
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            item = QTableWidgetItem(value)
            if c in right:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


def skipped_text(order: OrderOut) -> str:
    skipped = order.skipped_lines
    if not skipped:
        return ""
    said = "; ".join(
        f"{s.name or 'a line'} × {format.quantity(s.quantity)} "
        f"({format.money(s.line_total, order.currency)}): {s.reason}"
        for s in skipped
    )
    one = len(skipped) == 1
    return (
        f"{len(skipped)} line{'' if one else 's'} of the store's order {'is' if one else 'are'} not on this order "
        f"and not in stock figures: {said}. Give the product a SKU in the store to have it matched."
    )


def stock_text(order: OrderOut) -> str:
    state = str(STOCK_LABELS.get(order.stock_state, order.stock_state))
    return f"{state}. {order.stock_note}" if order.stock_note else state


class OrderWindow(QWidget):
    """One order (see the module's docstring)."""

    def __init__(self, session: Session, order_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.session = session
        self.api = session.api
        self.order_id = order_id
        self.order: OrderOut | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.setObjectName("orderWindow")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setWindowIcon(icons.app_icon())
        self.setWindowTitle("Sales order - CRM")
        self.resize(980, 720)

        self.title = QLabel("Loading the order…")
        self.title.setProperty("role", "title")
        self.badge = QLabel()
        self.badge.setObjectName("statusBadge")
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.badge)
        head.addStretch(1)

        self.client = QLabel()
        self.client.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.store = QLabel()
        self.store.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.changed = QLabel()
        self.totals = QLabel()
        self.stock = QLabel()
        self.stock.setObjectName("stockState")
        self.stock.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Client", self.client)
        form.addRow("Store order", self.store)
        form.addRow("Last change in the store", self.changed)
        form.addRow("Totals", self.totals)
        form.addRow("Stock", self.stock)

        self.lines = _table(["SKU", "Product", "Quantity", "Unit price", "Line total"], "orderLines")
        self.skipped = QLabel()
        self.skipped.setObjectName("skippedLines")
        self.skipped.setProperty("role", "warning")
        self.skipped.setWordWrap(True)
        self.skipped.setVisible(False)
        self.held = _table(["SKU", "Product", "Quantity held", "Warehouse"], "heldStock")
        self.held_title = QLabel("Stock held for this order")
        self.held_title.setProperty("role", "section")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setVisible(False)

        self.open_client_button = action_button("Open client", "Open the client's window", self.open_client)
        self.open_client_button.setEnabled(False)
        close = QPushButton("Close")
        close.setToolTip("Close (Esc)")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_client_button)
        buttons.addStretch(1)
        buttons.addWidget(close)

        root = QVBoxLayout(self)
        root.setContentsMargins(24, 20, 24, 16)
        root.setSpacing(10)
        root.addLayout(head)
        root.addWidget(self.message)
        root.addLayout(form)
        lines_title = QLabel("Lines")
        lines_title.setProperty("role", "section")
        root.addWidget(lines_title)
        root.addWidget(self.lines, 2)
        root.addWidget(self.skipped)
        root.addWidget(self.held_title)
        root.addWidget(self.held, 1)
        root.addLayout(buttons)

        for key, slot in ((QKeySequence(Qt.Key.Key_F5), self.reload), (QKeySequence(Qt.Key.Key_Escape), self.close)):
            shortcut = QShortcut(key, self)
            shortcut.activated.connect(slot)
        self._live = QTimer(self)
        self._live.setSingleShot(True)
        self._live.setInterval(200)
        self._live.timeout.connect(self.reload)
        change_bus().changed.connect(self._on_changed)
        self.reload()

    # --- loading ---------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def reload(self) -> None:
        spawn_into(self._tasks, self._load())

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & orders.WATCHED and shiboken6.isValid(self):
            self._live.start()

    async def _load(self) -> None:
        try:
            order = await orders.get_order(self.api, self.order_id)
        except ApiError as exc:
            if shiboken6.isValid(self):
                if exc.status == 404:
                    self.title.setText("This order cannot be opened")
                    self.say("It does not exist, or your role does not let you see it.")
                else:
                    handle_error(self, exc)
            return
        if shiboken6.isValid(self):
            self.show_order(order)

    def say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def show_order(self, order: OrderOut) -> None:
        self.order = order
        currency = order.currency
        self.setWindowTitle(f"Sales order {order.number} - CRM")
        self.title.setText(f"Order {order.number}")
        self.badge.setText(str(STATUS_LABELS.get(order.status, order.status)))
        color, background = (
            STATUS_COLORS.get(order.status, theme.tone("neutral")),
            STATUS_COLORS.background(order.status),
        )
        self.badge.setStyleSheet(f"color: {color}; background: {background}; border-radius: 9px; padding: 2px 10px;")
        email = f" <{order.client_email}>" if order.client_email else ""
        self.client.setText(f"{order.client_name or '—'}{email}")
        self.open_client_button.setEnabled(self.session.can("clients", "view"))
        self.store.setText(
            f"#{order.external_number} in {SOURCE_LABELS.get(order.source, order.source)} (id {order.external_id})"
        )
        self.changed.setText(format.moment(order.external_modified_at))
        m = {
            "total": format.money(order.total, currency),
            "total_tax": format.money(order.total_tax, currency),
            "shipping_total": format.money(order.shipping_total, currency),
            "discount_total": format.money(order.discount_total, currency),
        }
        self.totals.setText(
            f"{m['total']} (VAT {m['total_tax']}, shipping {m['shipping_total']}, discount {m['discount_total']})"
        )
        self.stock.setText(stock_text(order))
        _fill(
            self.lines,
            [
                [
                    ln.sku,
                    ln.name,
                    format.quantity(ln.quantity),
                    format.money(ln.unit_price, currency),
                    format.money(ln.line_total, currency),
                ]
                for ln in order.lines
            ],
            right=(2, 3, 4),
        )
        self.skipped.setText(skipped_text(order))
        self.skipped.setVisible(bool(order.skipped_lines))
        _fill(
            self.held,
            [
                [h.sku, h.product_name, format.quantity(h.quantity), h.warehouse_name or f"#{h.warehouse_id}"]
                for h in order.held
            ],
            right=(2,),
        )
        self.held_title.setText("Stock held for this order" if order.held else "Stock held for this order: none")
        self.held.setVisible(bool(order.held))
        self.say("")

    def open_client(self) -> QWidget | None:
        opener = lazy("crm_desktop.views.clients.detail", "open_client")
        if self.order is None or opener is None:
            return None
        window: QWidget = opener(self, self.session, self.order.client_id)
        return window

    def closeEvent(self, event: QCloseEvent) -> None:
        self._live.stop()
        _open.forget(self.order_id, self)
        super().closeEvent(event)

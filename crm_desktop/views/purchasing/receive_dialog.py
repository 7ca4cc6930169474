"""Receive goods on a purchase order: per open line the remaining quantity pre-filled (edit it for a
partial delivery, 0 or empty skips the line), the warehouse they go into (the order's by default)
and the vendor's delivery note. The server makes and validates a receipt document; what is not
received stays open on the order (api/purchasing.receive)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import purchasing
from crm_desktop.api.client import ApiClient
from crm_desktop.operations.errors import mark_field
from crm_desktop.widgets.form import field
from crm_desktop.widgets.header_fit import keep_titles_whole
from crm_desktop.widgets.line_grid import typed
from crm_server.contract.purchasing import PurchaseOrderOut, ReceiveIn, ReceiveOut
from crm_server.contract.stock import WarehouseOut


class ReceiveDialog(QDialog):
    """One delivery from the vendor; `received` carries the server's answer (a ReceiveOut: the order
    and the receipt). `order` is the order the window shows."""

    received = Signal(object)

    def __init__(
        self, api: ApiClient, order: PurchaseOrderOut, warehouses: list[WarehouseOut], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.api = api
        self.order = order
        self.setObjectName("receiveDialog")
        self.setWindowTitle(f"Receive goods - {order.number}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(720)
        self.lines = [line for line in order.lines if line.remaining > 0]

        intro = QLabel(
            f"{order.number} from {order.vendor_name or 'the vendor'}: the quantities still "
            "open are filled in. Change them to what actually arrived; the rest stays on order."
        )
        intro.setWordWrap(True)
        intro.setProperty("role", "muted")
        self.table = QTableWidget(len(self.lines), 6)
        self.table.setObjectName("receiveLines")
        self.table.setHorizontalHeaderLabels(["SKU", "Product", "Ordered", "Received", "Remaining", "Receive now"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(40)
        self.table.setMinimumHeight(min(48 + 40 * len(self.lines), 400))
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column, width in ((0, 100), (2, 80), (3, 80), (4, 90), (5, 120)):
            self.table.setColumnWidth(column, width)
        keep_titles_whole(self.table)
        self.quantities: list[QLineEdit] = []
        for i, line in enumerate(self.lines):
            texts = (
                line.sku,
                line.product_name or line.description,
                format.quantity(line.quantity),
                format.quantity(line.received),
                format.quantity(line.remaining),
            )
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if column >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, column, item)
            edit = QLineEdit(typed(line.remaining))
            edit.setAlignment(Qt.AlignmentFlag.AlignRight)
            edit.setAccessibleName(f"Receive now, line {i + 1}")
            self.table.setCellWidget(i, 5, edit)
            self.quantities.append(edit)

        self.warehouse = QComboBox()
        for warehouse in warehouses:
            if warehouse.active or warehouse.id == order.warehouse_id:
                self.warehouse.addItem(warehouse.name, warehouse.id)
        if order.warehouse_id is not None and self.warehouse.findData(order.warehouse_id) < 0:
            self.warehouse.addItem(order.warehouse_name or f"Warehouse #{order.warehouse_id}", order.warehouse_id)
        if order.warehouse_id is not None:
            self.warehouse.setCurrentIndex(self.warehouse.findData(order.warehouse_id))
        elif self.warehouse.count() > 1:
            self.warehouse.insertItem(0, "Choose a warehouse…", None)
            self.warehouse.setCurrentIndex(0)
        self.reference = QLineEdit()
        self.reference.setPlaceholderText("The vendor's delivery note number")
        self.reference.setMaxLength(200)
        self.note = QLabel("")
        self.note.setObjectName("receiveNote")
        self.note.setWordWrap(True)
        self.note.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        field(layout, "Into &warehouse", self.warehouse)
        field(layout, "Delivery &note", self.reference)
        layout.addWidget(self.note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Receive")
        self.ok.setProperty("role", "primary")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.resize(780, 330 + min(40 * len(self.lines), 352))
        if self.quantities:
            self.quantities[0].setFocus()
            self.quantities[0].selectAll()

    def say(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def submit(self) -> None:
        """Send the lines with a quantity above 0; each bad one is marked at its cell."""
        body_lines: list[dict[str, Any]] = []  # the request body's lines
        fields: dict[str, QWidget] = {"warehouse_id": self.warehouse, "reference": self.reference}
        problem = ""
        for i, (line, edit) in enumerate(zip(self.lines, self.quantities, strict=True)):
            text = edit.text().strip()
            value = format.parse_decimal(text) if text else Decimal(0)
            remaining = line.remaining
            if value is None or value < 0 or value.as_tuple().exponent < -3:  # type: ignore[operator]
                problem = problem or f"Line {i + 1}: a quantity of 0 or more, with at most 3 decimals."
                mark_field(edit, f"Line {i + 1}: a quantity of 0 or more, with at most 3 decimals.")
                continue
            if value > remaining:
                name = line.sku or line.description
                message = f"Only {format.quantity(remaining)} of {name} remain to be received."
                problem = problem or message
                mark_field(edit, message)
                continue
            if value > 0:
                fields[f"lines.{len(body_lines)}.quantity"] = edit
                fields[f"lines.{len(body_lines)}.line_id"] = edit
                body_lines.append({"line_id": line.id, "quantity": f"{value:f}"})
        if problem:
            self.say(problem)
            return
        if not body_lines:
            self.say("Nothing to receive: enter the quantity that arrived on at least one line.")
            if self.quantities:
                mark_field(self.quantities[0], "Enter the quantity that arrived.")
            return
        warehouse_id = self.warehouse.currentData()
        if warehouse_id is None:
            mark_field(self.warehouse, "Choose the warehouse the goods go into.")
            return
        self.say("")
        # As typed, unchecked (model_construct): the server judges it and names the field.
        request = ReceiveIn.model_construct(
            version=self.order.version,
            warehouse_id=warehouse_id,
            reference=self.reference.text().strip() or None,
            lines=body_lines,
        )
        operations.run(
            self,
            purchasing.receive(self.api, self.order.id, request),
            success=self._done,
            changed=purchasing.RECEIVED,
            fields=fields,
            busy=self.ok,
        )

    def _done(self, result: ReceiveOut) -> None:
        self.received.emit(result)
        self.accept()

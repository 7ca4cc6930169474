"""One purchase order in its own window: vendor, expected delivery date, destination warehouse,
reference, notes and the lines (lines.PurchaseLines, scanner-friendly, live total); the status badge
and the actions the status allows:

- Draft: Save draft (Ctrl+S), Confirm, Cancel order. Confirm saves what was typed first; the server
  names every missing field at once (vendor, lines, expected date) and each is marked at its field.
- Confirmed / Partially received: Save (date, warehouse, reference, notes only), Receive… (the
  receive dialog; the receipt's number and the new status are said after), Cancel order.
- Received / Cancelled: read-only.

The receipts of the order are listed under the lines; Enter or a double click opens one in the
stock document window (crm_desktop/views/stock/document_editor.py, imported when asked). Live
events naming this order reload it; edits typed but not saved are kept (with the version they were
read at), so saving over a colleague's change gets the usual "Changed elsewhere - Reload"."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import date, timedelta
from typing import Any, cast

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from crm_desktop import operations
from crm_desktop.api import purchasing, stock
from crm_desktop.api.client import ApiError
from crm_desktop.format import day, money
from crm_desktop.operations.errors import mark_field
from crm_desktop.session import Session
from crm_desktop.views.purchasing.common import (
    OPEN,
    STATUS_LABELS,
    STATUS_TONES,
    S,
    VendorPicker,
    late,
    progress,
)
from crm_desktop.views.purchasing.lines import PurchaseLines
from crm_desktop.widgets.document_window import NEW, Action, DocumentWindow, section, sources
from crm_desktop.widgets.form import DateEdit, qdate
from crm_desktop.widgets.record_window import WindowRegistry, lazy, show_window
from crm_server.contract.events import LiveEvent
from crm_server.contract.purchasing import (
    PURCHASE_ACTIONS,
    PurchaseAction,
    PurchaseOrderIn,
    PurchaseOrderOut,
    PurchaseOrderUpdate,
    ReceiveOut,
)
from crm_server.contract.stock import StockDocumentOut, WarehouseOut

log = logging.getLogger(__name__)

DEFAULT_LEAD_DAYS = 7  # what the date picker offers first once a date is wanted
CONFIRMED_FIELDS = ("expected_on", "warehouse_id", "reference", "notes")  # what an ordered order takes
MISSING_TEXT = {
    "vendor_id": "Choose the vendor to order from.",
    "lines": "Add at least one line (scan or type a SKU above the grid).",
    "expected_on": "Set the expected delivery date.",
}
A = PurchaseAction
_open: WindowRegistry[PurchaseOrderWindow] = WindowRegistry()  # (session, order) -> its window


def open_purchase_order(parent: QWidget | None, session: Session, order_id: int | None) -> PurchaseOrderWindow:
    """The order's window (made, or raised when it is open already); None makes a new order."""
    window = _open.live((id(session), order_id)) if order_id is not None else None
    if window is None:
        window = PurchaseOrderWindow(session, order_id, parent.window() if parent is not None else None)
        if order_id is not None:
            window.remember()
    return show_window(window)


class OptionalDate(QWidget):
    """A date that may be not set yet: a check box "Known" and the date picker."""

    valueChanged = Signal()  # (the name operations.errors listens to, to clear a mark)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.known = QCheckBox("Known")
        self.known.setToolTip("Tick when the vendor has said when the goods arrive")
        self.edit = DateEdit(qdate(date.today() + timedelta(days=DEFAULT_LEAD_DAYS)))
        self.edit.setEnabled(False)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        row.addWidget(self.known)
        row.addWidget(self.edit, 1)
        self.setFocusProxy(self.known)
        self.known.toggled.connect(self._toggled)
        self.edit.dateChanged.connect(lambda _: self.valueChanged.emit())

    def _toggled(self, on: bool) -> None:
        self.edit.setEnabled(on and self.isEnabled())
        if on:
            self.edit.setFocus()
        self.valueChanged.emit()

    def value(self) -> date | None:
        return cast(date, self.edit.date().toPython()) if self.known.isChecked() else None

    def set_value(self, value: date | None) -> None:
        for widget in (self, self.known, self.edit):  # shown, not typed: no focus moves, no "edited"
            widget.blockSignals(True)
        self.known.setChecked(value is not None)
        if value is not None:
            self.edit.setDate(qdate(value))
        self.edit.setEnabled(value is not None and self.known.isEnabled())
        for widget in (self, self.known, self.edit):
            widget.blockSignals(False)

    def set_editable(self, on: bool) -> None:
        self.known.setEnabled(on)
        self.edit.setEnabled(on and self.known.isChecked())


class PurchaseOrderWindow(DocumentWindow[PurchaseOrderOut]):
    """The editor of one purchase order (or of a new one until its first save)."""

    created = Signal(object)  # the PurchaseOrderOut of a new order, once saved
    loaded = Signal(object)  # the PurchaseOrderOut whenever the order shown changes (load, save, move, live event)

    module, entity, noun = "purchasing", "purchase_order", "purchase order"
    ACTIONS = (
        Action(
            "cancel",
            "Cancel order",
            "The order is off: what was received stays, the rest is no longer incoming",
            "cancel_order",
            statuses=sources(PURCHASE_ACTIONS, A.cancel),
            role="danger",
            right=True,
            object_name="cancelOrderButton",
        ),
        Action(
            "save",
            "Save draft",
            "Save the order (Ctrl+S)",
            "save",
            statuses=sources(PURCHASE_ACTIONS, A.edit_delivery) | {NEW},
            right=True,
        ),
        Action(
            "confirm",
            "Confirm",
            "The vendor has the order: its quantities count as incoming stock",
            "confirm",
            statuses=sources(PURCHASE_ACTIONS, A.confirm) | {NEW},
            role="primary",
            right=True,
            object_name="confirmButton",
        ),
        Action(
            "receive",
            "Receive…",
            "Goods arrived: receive all or part of the open quantities (Ctrl+R)",
            "receive",
            statuses=sources(PURCHASE_ACTIONS, A.receive),
            shortcut="Ctrl+R",
            role="primary",
            right=True,
            object_name="receiveButton",
        ),
    )
    cancel_button: QPushButton
    save_button: QPushButton
    confirm_button: QPushButton
    receive_button: QPushButton

    def __init__(self, session: Session, order_id: int | None, parent: QWidget | None = None) -> None:
        self.order_id = order_id
        self.order: PurchaseOrderOut | None = None
        self.receipts: list[StockDocumentOut] = []
        self.warehouses: list[WarehouseOut] = []
        self.last_receipt: StockDocumentOut | None = None
        super().__init__(
            session,
            parent,
            name="purchaseOrderWindow",
            title="New purchase order" if order_id is None else "Loading…",
            size=(1120, 800),
        )
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("receivedProgress")
        self.add_badge(self.progress_label)

        # --- the form --------------------------------------------------------------------------
        self.vendor = VendorPicker(self.api)
        self.expected = OptionalDate()
        self.warehouse = QComboBox()
        self.warehouse.addItem("Not chosen yet", None)
        self.reference = QLineEdit()
        self.reference.setPlaceholderText("The vendor's order or quote number")
        self.reference.setMaxLength(200)
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText("Delivery instructions, contact at the vendor…")
        self.notes.setFixedHeight(64)
        self.lines = PurchaseLines(self.api)
        form_layout = self.add_form(
            [
                (3, [("&Vendor", self.vendor), ("&Reference", self.reference)]),
                (2, [("&Expected delivery", self.expected), ("&Destination warehouse", self.warehouse)]),
                (3, [("&Notes", self.notes)]),
            ],
            self.lines,
            3,
        )
        self.receipts_label = section("Receipts")
        self.receipts_table = QTableWidget(0, 5)
        self.receipts_table.setObjectName("receiptsTable")
        self.receipts_table.setAccessibleName("Receipts")
        self.receipts_table.setHorizontalHeaderLabels(["Receipt", "Status", "Validated", "Warehouse", "Delivery note"])
        for index, width in enumerate((170, 110, 110, 260)):
            self.receipts_table.setColumnWidth(index, width)
        self.receipts_table.horizontalHeader().setStretchLastSection(True)
        self.receipts_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.receipts_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.receipts_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.receipts_table.verticalHeader().setVisible(False)
        self.receipts_table.setMaximumHeight(150)
        self.receipts_table.activated.connect(lambda index: self.open_receipt_row(index.row()))
        self.receipts_table.doubleClicked.connect(lambda index: self.open_receipt_row(index.row()))
        form_layout.addWidget(self.receipts_label)
        form_layout.addWidget(self.receipts_table, 1)
        self.fields: dict[str, QWidget] = {
            "vendor_id": self.vendor,
            "expected_on": self.expected,
            "warehouse_id": self.warehouse,
            "reference": self.reference,
            "notes": self.notes,
            "lines": self.lines,
        }

        self.lines.changed.connect(lambda: self.touch("lines"))
        self.spawn(self._load_warehouses())

        if order_id is None:
            self._show_actions()
            self.snapshot()
            self.vendor.setFocus()
        else:
            self.reload()

    # --- state -----------------------------------------------------------------------------------

    def remember(self) -> None:
        key = (id(self.session), self.order_id)
        _open.keep(key, self)

    def current_id(self) -> int | None:
        return self.order_id

    def parts_busy(self) -> bool:
        return self.lines.is_busy() or self.vendor.is_busy()

    def can_save(self) -> bool:
        return not self.save_button.isHidden()

    @property
    def status(self) -> S | None:
        return None if self.order is None else self.order.status

    def values(self) -> dict[str, Any]:
        """The form as the server's fields (lines apart: the grid `touch`es "lines")."""
        expected = self.expected.value()
        return {
            "vendor_id": self.vendor.vendor_id,
            "warehouse_id": self.warehouse.currentData(),
            "expected_on": expected.isoformat() if expected else None,
            "reference": self.reference.text().strip() or None,
            "notes": self.notes.toPlainText().strip() or None,
        }

    # --- loading ---------------------------------------------------------------------------------

    async def _load_warehouses(self) -> None:
        """The destination choices; a role without stock view sees only the order's warehouse."""
        try:
            warehouses = await stock.list_warehouses(self.api)
        except ApiError as exc:
            log.info("warehouses did not load: %s", exc.message)
            warehouses = []
        if not shiboken6.isValid(self):
            return
        self.warehouses = warehouses
        self._fill_warehouses()

    def _fill_warehouses(self) -> None:
        current = self.order.warehouse_id if self.order is not None else self.warehouse.currentData()
        was_clean = self.order is None or self.buffer.clean.get("warehouse_id") == self.warehouse.currentData()
        self.warehouse.blockSignals(True)
        self.warehouse.clear()
        self.warehouse.addItem("Not chosen yet", None)
        for warehouse in self.warehouses:
            if warehouse.active or warehouse.id == current:
                self.warehouse.addItem(warehouse.name, warehouse.id)
        if current is not None and self.warehouse.findData(current) < 0 and self.order is not None:
            self.warehouse.addItem(self.order.warehouse_name or f"Warehouse #{current}", int(current))
        if current is None and self.order is None and len(self.warehouses) == 1:
            current = self.warehouses[0].id  # one warehouse: the obvious destination
        self.warehouse.setCurrentIndex(max(self.warehouse.findData(current), 0) if current is not None else 0)
        self.warehouse.blockSignals(False)
        if was_clean:
            self.buffer.clean["warehouse_id"] = self.warehouse.currentData()

    async def fetch(self) -> PurchaseOrderOut:
        assert self.order_id is not None
        return await purchasing.get_order(self.api, self.order_id)

    async def show_loaded(self, order: PurchaseOrderOut, replace_edits: bool) -> None:
        if not replace_edits and self.order is not None and order.version != self.order.version:
            self.say("Someone else changed this order. Your edits are kept; Reload shows their version.", reload=True)
            self._show_header(order)
        else:
            self.show_order(order)
        await self._load_receipts()

    async def _load_receipts(self) -> None:
        if self.order_id is None:
            return
        try:
            page = await purchasing.receipts(self.api, self.order_id)
        except ApiError as exc:
            log.info("receipts of %s did not load: %s", self.order_id, exc.message)
            return
        if shiboken6.isValid(self):
            self.show_receipts(page.items)

    def show_order(self, order: PurchaseOrderOut) -> None:
        """The order as the server has it, edits replaced."""
        self.order = order
        self.order_id = order.id
        self.buffer.take(order)
        self.vendor.set_vendor(order.vendor_id, order.vendor_name or "")
        self.expected.set_value(order.expected_on)
        self.reference.setText(order.reference or "")
        self.notes.setPlainText(order.notes or "")
        self._fill_warehouses()
        status = order.status
        self.lines.set_currency(order.currency)
        self.lines.set_lines(order.lines)
        self.lines.set_mode(
            read_only=status != S.draft or not self.session.can("purchasing", "edit"), show_received=status != S.draft
        )
        self.snapshot()
        self._show_header(order)
        self.loaded.emit(order)

    def _show_header(self, order: PurchaseOrderOut) -> None:
        status = order.status
        self.setWindowTitle(f"{order.number} {order.vendor_name or ''} - CRM".replace("  ", " "))
        self.title.setText(f"{order.number}  {order.vendor_name or ''}".strip())
        self.show_status(STATUS_LABELS[status], STATUS_TONES[status])
        self.progress_label.setText(progress(order))
        parts = [f"Total {money(order.total, order.currency)}"]
        if order.expected_on:
            parts.append(f"expected {day(order.expected_on)}{' (late)' if late(order) else ''}")
        if order.warehouse_name:
            parts.append(f"into {order.warehouse_name}")
        if order.confirmed_at:
            parts.append(f"confirmed {day(order.confirmed_at)}")
        if order.received_at:
            parts.append(f"received {day(order.received_at)}")
        if order.cancelled_at:
            parts.append(f"cancelled {day(order.cancelled_at)}")
        self.set_subtitle("  ·  ".join(parts))
        self.form.setEnabled(True)
        editable = self.session.can("purchasing", "edit") and status not in (S.received, S.cancelled)
        self.vendor.setReadOnly(not (editable and status == S.draft))
        self.vendor.setClearButtonEnabled(editable and status == S.draft)
        self.expected.set_editable(editable)
        self.warehouse.setEnabled(editable)
        self.reference.setReadOnly(not editable)
        self.notes.setReadOnly(not editable)
        self._show_actions()

    def _show_actions(self) -> None:
        status = self.status
        can_edit = self.session.can("purchasing", "edit")
        self.show_actions(status.value if status is not None else NEW)
        if status is None:
            self.show_status("New · not saved yet", "muted")
            self.save_button.setText("Save draft")
            self.save_button.setVisible(self.session.can("purchasing", "create"))
            self.confirm_button.setVisible(self.session.can("purchasing", "create") and can_edit)
            self.receipts_label.setVisible(False)
            self.receipts_table.setVisible(False)
            return
        self.save_button.setText("Save draft" if status == S.draft else "Save")
        if not can_edit:
            for button in self.buttons.values():
                button.setVisible(False)
        if not self.session.can("stock", "edit"):
            self.receive_button.setVisible(False)
        shown = status != S.draft
        self.receipts_label.setVisible(shown)
        self.receipts_table.setVisible(shown)

    def show_receipts(self, receipts: list[StockDocumentOut]) -> None:
        self.receipts = receipts
        table = self.receipts_table
        table.setRowCount(len(receipts))
        for i, receipt in enumerate(receipts):
            status = str(receipt.status.value).replace("_", " ").capitalize()
            if receipt.reverses_id is not None:
                status = "Reversal"
            texts = (
                receipt.number,
                status,
                day(receipt.validated_at),
                receipt.warehouse_name or "—",
                receipt.reference or "",
            )
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, receipt.id)
                table.setItem(i, column, item)
        if not receipts:
            self.receipts_label.setText("RECEIPTS  ·  nothing received yet")
        else:
            self.receipts_label.setText(f"RECEIPTS  ·  {len(receipts)}  (Enter opens one)")

    # --- live ------------------------------------------------------------------------------------

    def on_other_event(self, event: LiveEvent) -> None:
        if (
            event.module == "stock"
            and event.entity == "stock_document"
            and any(r.id == event.entity_id for r in self.receipts)
        ):
            self.spawn(self._load_receipts())  # one of our receipts was reversed

    # --- saving ----------------------------------------------------------------------------------

    def _payload(self) -> tuple[dict[str, Any], dict[str, QWidget]] | None:
        """What to send (all of a new order, only the changes of a saved one) and the widgets its
        field errors land on; None when something can be told wrong here already."""
        if self.vendor.text().strip() and self.vendor.vendor_id is None:
            mark_field(self.vendor, "Choose the vendor from the list (type part of the name).")
            return None
        problem = self.lines.problem()
        if problem is not None:
            self.say(problem)
            return None
        values = self.values()
        fields = dict(self.fields)
        if self.order is None:
            body = {k: v for k, v in values.items() if v is not None}
            body["lines"] = self.lines.lines_in()
            fields.update(self.lines.field_widgets())
            return body, fields
        changes = {k: v for k, v in values.items() if v != self.buffer.clean.get(k)}
        if self.status != S.draft:
            changes = {k: v for k, v in changes.items() if k in CONFIRMED_FIELDS}
        for key in ("reference", "notes"):  # cleared: the server takes "" as "none"
            if key in changes and changes[key] is None:
                changes[key] = ""
        if "lines" in self.buffer.touched and self.status == S.draft:
            changes["lines"] = self.lines.lines_in()
            fields.update(self.lines.field_widgets())
        return changes, fields

    def save(self, then: Any = None) -> bool:
        """Ctrl+S: create, or send what changed with the version that was read. `then` runs after
        a successful save (Confirm or Receive that needed the edits saved first)."""
        if self.save_button.isHidden():
            return False
        payload = self._payload()
        if payload is None:
            return False
        body, fields = payload
        # As typed, unchecked (model_construct): the server judges it and names the field.
        call: Awaitable[PurchaseOrderOut] | None = None
        if self.order is None:
            call = purchasing.create_order(self.api, PurchaseOrderIn.model_construct(**body))
        elif body and self.order_id is not None:
            changes = PurchaseOrderUpdate.model_construct(**body, version=self.order.version)
            call = purchasing.update_order(self.api, self.order_id, changes)
        return self.send_save(call, changed=purchasing.CHANGED, fields=fields, then=then)

    def saved(self, order: PurchaseOrderOut) -> None:
        new = self.order is None
        self.show_order(order)
        if new:
            self.remember()
            self.created.emit(order)
            self.say(f"{order.number} is saved as a draft. Confirm it once the vendor has the order.")
        else:
            self.say("Saved.")
        self.spawn(self._load_receipts())

    # --- status moves ----------------------------------------------------------------------------

    def confirm(self) -> None:
        """Confirm (saving what was typed first); every missing field is marked at once."""
        if self.confirm_button.isHidden():
            return
        if self.order is None or self.has_edits():
            self.save(then=self.confirm)
            return
        if self.status != S.draft:
            return
        operations.run(
            self,
            self._confirm_call(self.order.version),
            success=self._confirmed,
            changed=purchasing.CHANGED,
            fields=self.fields,
            reload=self.reload,
            busy=self.confirm_button,
        )

    async def _confirm_call(self, version: int) -> PurchaseOrderOut | None:
        try:
            assert self.order_id is not None
            return await purchasing.confirm_order(self.api, self.order_id, version)
        except ApiError as exc:
            if exc.code != "incomplete" or not shiboken6.isValid(self):
                raise
            self.mark_missing([str(f) for f in exc.extra.get("fields") or [exc.field]], exc.message)
            return None

    def mark_missing(self, names: list[str], message: str) -> None:
        """The server's list of what confirming needs: each one at its field, the first focused."""
        for name in reversed(names):
            widget = self.fields.get(name)
            if widget is not None:
                mark_field(widget, MISSING_TEXT.get(name, message))
        self.say(message)

    def _confirmed(self, order: PurchaseOrderOut | None) -> None:
        if order is None:  # refused: the missing fields are marked
            return
        self.show_order(order)
        self.say(f"{order.number} is confirmed: its quantities count as incoming stock now.")
        self.spawn(self._load_receipts())

    def receive(self) -> QWidget | None:
        """Receive… : the dialog with the open quantities (unsaved edits are saved first)."""
        if self.order is None or self.status not in OPEN or self.receive_button.isHidden():
            return None
        if self.has_edits():
            self.save(then=self.receive)
            return None
        from crm_desktop.views.purchasing.receive_dialog import ReceiveDialog

        dialog = ReceiveDialog(self.api, self.order, self.warehouses, self)
        dialog.received.connect(self._received)
        dialog.open()
        return dialog

    def _received(self, result: ReceiveOut) -> None:
        if not shiboken6.isValid(self):
            return
        order, receipt = result.order, result.receipt
        self.last_receipt = receipt
        self.show_order(order)
        lines = len(receipt.lines)
        rest = "The rest stays on order." if order.status == S.partially_received else "Everything ordered has arrived."
        self.say(
            f"Receipt {receipt.number} is made and validated ({lines} line{'s' if lines != 1 else ''} "
            f"into {receipt.warehouse_name or 'the warehouse'}). {order.number} is "
            f"{STATUS_LABELS[order.status]} now. {rest}"
        )
        self.spawn(self._load_receipts())

    def cancel_order(self) -> QMessageBox | None:
        """Cancel order, after a question (what was received stays received)."""
        if self.order is None or self.status in (S.received, S.cancelled):
            return None
        order = self.order
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Cancel the order?",
            f"Cancel {order.number}? What was received stays in stock; the rest is no longer expected.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setObjectName("cancelOrderBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.button(QMessageBox.StandardButton.Yes).setText("Cancel order")
        box.button(QMessageBox.StandardButton.No).setText("Keep it")
        box.setDefaultButton(QMessageBox.StandardButton.No)

        def answered(button: Any) -> None:
            if box.standardButton(button) == QMessageBox.StandardButton.Yes:
                self._cancel_now(order.version)

        box.buttonClicked.connect(answered)
        box.open()
        return box

    def _cancel_now(self, version: int) -> None:
        assert self.order_id is not None
        call = purchasing.cancel_order(self.api, self.order_id, version)
        operations.run(
            self, call, success=self._cancelled, changed=purchasing.CHANGED, reload=self.reload, busy=self.cancel_button
        )

    def _cancelled(self, order: PurchaseOrderOut) -> None:
        self.show_order(order)
        self.say(f"{order.number} is cancelled.")

    # --- receipts --------------------------------------------------------------------------------

    def open_receipt_row(self, row: int) -> QWidget | None:
        if not 0 <= row < len(self.receipts):
            return None
        return self.open_receipt(self.receipts[row].id)

    def open_receipt(self, document_id: int) -> QWidget | None:
        """The receipt in the stock document window (written by the Stock module)."""
        opener = lazy("crm_desktop.views.stock.document_editor", "open_stock_document")
        if opener is None:
            number = next((r.number for r in self.receipts if r.id == document_id), f"#{document_id}")
            self.say(f"Receipt {number}: the stock document window is not part of this build yet.")
            return None
        window: QWidget = opener(self, self.session, document_id)
        return window

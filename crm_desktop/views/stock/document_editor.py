"""The stock document window: a receipt, delivery, transfer or inventory adjustment, draft or done.

- Draft: warehouse(s), reference, reason (adjustments need one), notes and the lines change; Save
  draft (Ctrl+S), Validate (asks; moves the stock), Cancel draft (asks).
- Validated: read-only; Reverse (asks) makes the opposite, validated document and opens it.
- The lines are the one LineGrid in its stock mode (widgets/line_grid.py): a SKU and Enter, the way
  a barcode scanner types, adds the product with quantity 1 or puts one more on its line; an unknown
  SKU is said at the entry, which keeps the focus (and its text selected) for the next scan.
  Quantities are typed in the grid; Delete removes the selected line (Ctrl+Z brings it back). An
  adjustment's grid counts ("Counted", what the count moved as each line's note).

A refusal names its field: a warehouse's next to its box, a line's at its row (red, with the
message) and in the banner, e.g. "Not enough Widget (W-1) in Main: 2 available, 5 needed."

    open_stock_document(parent, session, document_id) -> QWidget   # an existing document
    new_stock_document(parent, session, kind) -> QWidget            # a new draft of that kind
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations
from crm_desktop.api import stock
from crm_desktop.api.client import ApiError
from crm_desktop.format import moment
from crm_desktop.operations.errors import clear_field, mark_field
from crm_desktop.session import Session
from crm_desktop.views.stock.common import (
    KIND_LABELS,
    document_title,
    status_label,
    warehouse_choices,
)
from crm_desktop.widgets.document_window import NEW, Action, DocumentWindow, sources
from crm_desktop.widgets.form import field
from crm_desktop.widgets.line_grid import LineGrid, Mode
from crm_desktop.widgets.record_window import WindowRegistry, show_window
from crm_server.contract.stock import (
    DOCUMENT_ACTIONS,
    DocumentAction,
    StockDocumentIn,
    StockDocumentOut,
    StockDocumentUpdate,
    WarehouseOut,
)

STATUS_TONES = {"draft": "muted", "validated": "success", "reversed": "warning", "cancelled": "muted"}
A = DocumentAction
_open: WindowRegistry[StockDocumentWindow] = WindowRegistry()  # document id -> its window


def open_stock_document(parent: QWidget | None, session: Session, document_id: int) -> QWidget:
    """The document's window (raised when it is open already)."""
    window = _open.live(document_id, session)
    if window is None:
        window = StockDocumentWindow(
            session, document_id=document_id, parent=parent.window() if parent is not None else None
        )
        _open[document_id] = window
    return show_window(window)


def new_stock_document(
    parent: QWidget | None, session: Session, kind: str, *, warehouse_id: int | None = None
) -> StockDocumentWindow:
    """A new, unsaved draft of `kind` (receipt, delivery, transfer, adjustment)."""
    window = StockDocumentWindow(
        session, kind=kind, warehouse_id=warehouse_id, parent=parent.window() if parent is not None else None
    )
    return show_window(window)


class StockDocumentWindow(DocumentWindow[StockDocumentOut]):
    """One stock document (see the module's docstring)."""

    module, entity, noun = "stock", "stock_document", "draft"
    ACTIONS = (
        Action(
            "save",
            "Save draft",
            "Save the draft (Ctrl+S)",
            "save",
            statuses=sources(DOCUMENT_ACTIONS, A.edit) | {NEW},
            role="primary",
        ),
        Action(
            "validate",
            "Validate…",
            "Move the stock; the document is final after",
            "ask_validate",
            statuses=sources(DOCUMENT_ACTIONS, A.validate) | {NEW},
        ),
        Action(
            "reverse",
            "Reverse…",
            "Undo it with an opposite document",
            "ask_reverse",
            statuses=sources(DOCUMENT_ACTIONS, A.reverse),
        ),
        Action(
            "cancel",
            "Cancel draft…",
            "Give up this draft (nothing moved)",
            "ask_cancel",
            statuses=sources(DOCUMENT_ACTIONS, A.cancel),
            right=True,
        ),
    )
    save_button: QPushButton
    validate_button: QPushButton
    reverse_button: QPushButton
    cancel_button: QPushButton

    def __init__(
        self,
        session: Session,
        *,
        document_id: int | None = None,
        kind: str = "receipt",
        warehouse_id: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        self.document_id = document_id
        self.document: StockDocumentOut | None = None
        self.kind = kind
        self._filling = False
        self.confirm_box: QMessageBox | None = None
        super().__init__(
            session,
            parent,
            name="stockDocumentWindow",
            title=f"New {KIND_LABELS.get(kind, kind).lower()}",
            size=(980, 720),
        )
        self.when = QLabel()
        self.when.setProperty("role", "muted")
        self.add_figure(self.when)

        self.warehouse = QComboBox()
        self.warehouse.setObjectName("warehouse")
        self.to_warehouse = QComboBox()
        self.to_warehouse.setObjectName("toWarehouse")
        self.reference = QLineEdit()
        self.reference.setPlaceholderText("e.g. the supplier's delivery note")
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Why the count differs: yearly count, damaged goods…")
        self.notes = QPlainTextEdit()
        self.notes.setFixedHeight(54)

        self.grid = LineGrid(session, self, mode=Mode.STOCK)
        self.grid.changed.connect(lambda: self.touch("lines"))

        form = QHBoxLayout()
        form.setSpacing(14)
        left, middle, right = QVBoxLayout(), QVBoxLayout(), QVBoxLayout()
        field(left, "&Warehouse", self.warehouse)
        self.to_box = QWidget()
        to_layout = QVBoxLayout(self.to_box)
        to_layout.setContentsMargins(0, 0, 0, 0)
        field(to_layout, "&To warehouse", self.to_warehouse)
        left.addWidget(self.to_box)
        field(middle, "&Reference", self.reference)
        self.reason_box = QWidget()
        reason_layout = QVBoxLayout(self.reason_box)
        reason_layout.setContentsMargins(0, 0, 0, 0)
        field(reason_layout, "R&eason", self.reason)
        middle.addWidget(self.reason_box)
        field(right, "&Notes", self.notes)
        for part in (left, middle, right):
            part.addStretch(1)
            form.addLayout(part, 1)

        self.fields: dict[str, QWidget] = {
            "warehouse_id": self.warehouse,
            "to_warehouse_id": self.to_warehouse,
            "reference": self.reference,
            "reason": self.reason,
            "notes": self.notes,
            "lines": self.grid,
        }

        self.source_link = QLabel()
        self.source_link.setObjectName("sourceLink")
        self.source_link.setTextFormat(Qt.TextFormat.RichText)
        self.source_link.linkActivated.connect(self._open_link)
        self.add_to_action_bar(self.source_link)
        self.root.addLayout(form)
        self.root.addWidget(self.grid, 1)

        for signal in (
            self.reference.textEdited,
            self.reason.textEdited,
            self.notes.textChanged,
            self.warehouse.currentIndexChanged,
            self.to_warehouse.currentIndexChanged,
        ):
            signal.connect(self._touched)

        self.spawn(self._load_warehouses(warehouse_id))
        if document_id is None:
            self._show_kind()
            self._style_badge("draft")
            self.grid.entry.setFocus()
        else:
            self.setWindowTitle("Stock document - CRM")
            self.reload()
        self._update_actions()

    # --- building --------------------------------------------------------------------------------

    def _show_kind(self) -> None:
        transfer, count = self.kind == "transfer", self.kind == "adjustment"
        self.to_box.setVisible(transfer)
        self.reason_box.setVisible(count or bool(self.reason.text()))
        caption = {
            "receipt": "To warehouse",
            "delivery": "From warehouse",
            "transfer": "From warehouse",
            "adjustment": "Warehouse counted",
        }.get(self.kind, "Warehouse")
        self.warehouse.setAccessibleName(caption)
        holder = self.warehouse.parentWidget()
        label = holder.findChild(QLabel) if holder is not None else None
        if label is not None:
            label.setText(f"&{caption}")
        self.grid.set_counting(count)

    def _style_badge(self, status: str) -> None:
        self.show_status(status_label(status), STATUS_TONES.get(status, "muted"))

    # --- loading ---------------------------------------------------------------------------------

    def current_id(self) -> int | None:
        return self.document_id

    def can_save(self) -> bool:
        return self.is_draft() and (self.grid.line_count() > 0 or self.document is not None)

    async def _load_warehouses(self, preferred: int | None) -> None:
        try:
            warehouses = await stock.list_warehouses(self.api)
        except ApiError as exc:
            if shiboken6.isValid(self):
                self.say(f"The warehouses did not load: {exc.message}", error=True)
            return
        if not shiboken6.isValid(self):
            return
        self._filling = True
        try:
            for combo in (self.warehouse, self.to_warehouse):
                current = combo.currentData()
                combo.clear()
                combo.addItem("Choose a warehouse…", None)
                for text, value in warehouse_choices(warehouses, active_only=True):
                    combo.addItem(text, value)
                if current is not None:
                    self._select(combo, current, warehouses)
            if self.document is not None:
                self._select(self.warehouse, self.document.warehouse_id, warehouses)
                self._select(self.to_warehouse, self.document.to_warehouse_id, warehouses)
            elif self.warehouse.currentData() is None:
                active = [w for w in warehouses if w.active]
                first = preferred if preferred is not None else (active[0].id if len(active) == 1 else None)
                self._select(self.warehouse, first, warehouses)
        finally:
            self._filling = False
        self._warehouses = warehouses

    @staticmethod
    def _select(combo: QComboBox, warehouse_id: int | None, warehouses: list[WarehouseOut]) -> None:
        if warehouse_id is None:
            combo.setCurrentIndex(0)
            return
        i = combo.findData(warehouse_id)
        if i < 0:  # an inactive warehouse named by an old document: shown, not offered
            name = next((w.name for w in warehouses if w.id == warehouse_id), f"#{warehouse_id}")
            combo.addItem(f"{name} (inactive)", warehouse_id)
            i = combo.count() - 1
        combo.setCurrentIndex(i)

    async def fetch(self) -> StockDocumentOut:
        assert self.document_id is not None
        return await stock.get_document(self.api, self.document_id)

    async def show_loaded(self, document: StockDocumentOut, replace_edits: bool) -> None:
        self.show_document(document, replace_edits=replace_edits)

    def show_document(self, document: StockDocumentOut, *, replace_edits: bool = True) -> None:
        """Show what the server has; typed but unsaved details stay unless `replace_edits`."""
        keep = not replace_edits and self.dirty and self.document is not None and document.status == "draft"
        if keep and self.document is not None:
            document = document.model_copy(update={"version": self.document.version})  # a save over newer changes: 409
        self.document = document
        self.document_id = document.id
        self.buffer.take(document)
        self.kind = document.kind.value
        _open[document.id] = self
        if not keep:
            self._filling = True
            try:
                warehouses = getattr(self, "_warehouses", [])
                self._select(self.warehouse, document.warehouse_id, warehouses)
                self._select(self.to_warehouse, document.to_warehouse_id, warehouses)
                self.reference.setText(document.reference or "")
                self.reason.setText(document.reason or "")
                self.notes.setPlainText(document.notes or "")
                self.grid.set_counting(self.kind == "adjustment")  # before the lines: their "Moved" notes
                self.grid.set_lines(document.lines)
            finally:
                self._filling = False
            self.dirty = False
        self._show_kind()
        self.title.setText(document_title(document))
        self.setWindowTitle(f"{document_title(document)} - CRM")
        self._style_badge(document.status.value)
        when = moment(document.validated_at) if document.validated_at else ""
        self.when.setText(f"Validated {when}" if when else f"Created {moment(document.created_at)}")
        links = []
        if document.reverses_id:
            links.append(f'<a href="doc:{document.reverses_id}">the document it reverses</a>')
        if document.reversed_by_id:
            links.append(f'<a href="doc:{document.reversed_by_id}">its reversal</a>')
        if document.purchase_order_id and self.session.can("purchasing", "view"):
            links.append(f'<a href="po:{document.purchase_order_id}">the purchase order</a>')
        self.source_link.setText("Open " + " · ".join(links) if links else "")
        self._update_actions()

    def _open_link(self, link: str) -> None:
        if link.startswith("doc:"):
            open_stock_document(self, self.session, int(link[4:]))
        elif link.startswith("po:"):
            import importlib  # purchasing builds on stock: looked up when asked, no import cycle

            purchasing = importlib.import_module("crm_desktop.views.purchasing")
            purchasing.open_record(self, self.session, "purchase_order", int(link[3:]))

    # --- lines -----------------------------------------------------------------------------------

    def line_quantities(self) -> list[tuple[str, str]]:
        """(SKU, quantity) per line as shown (for tests and screenshots)."""
        return self.grid.line_quantities()

    def parts_busy(self) -> bool:
        return self.grid.is_busy()

    # --- state -----------------------------------------------------------------------------------

    def is_draft(self) -> bool:
        return self.document is None or self.document.status == "draft"

    def editable(self) -> bool:
        """A draft, and the role may change it (create for a new one, edit for a saved one)."""
        new = self.document is None
        return self.is_draft() and self.session.can("stock", "create" if new else "edit")

    def _touched(self, *_: Any) -> None:
        if not self._filling:
            self.touch()

    def _update_actions(self) -> None:
        can_edit = self.session.can("stock", "edit")
        new = self.document is None
        self.show_actions(NEW if self.document is None else self.document.status.value)
        if not (self.session.can("stock", "create") if new else can_edit):
            self.save_button.setVisible(False)
        if not can_edit:
            for button in (self.validate_button, self.cancel_button, self.reverse_button):
                button.setVisible(False)
        if self.document is not None and self.document.reverses_id:
            self.reverse_button.setVisible(False)
        editable = self.editable()
        for widget in (
            self.warehouse,
            self.to_warehouse,
            self.reference,
            self.reason,
            self.grid.entry,
        ):
            widget.setEnabled(editable)
        self.notes.setReadOnly(not editable)
        self.grid.set_read_only(not editable)  # a done document is read, not scanned into

    # --- saving ----------------------------------------------------------------------------------

    def _body(self) -> dict[str, Any]:
        """What the form holds, as typed: sent unchecked (model_construct) so the server judges it and
        its refusal names the field (a line's as "lines.2.quantity")."""
        body: dict[str, Any] = {
            "warehouse_id": self.warehouse.currentData(),
            "to_warehouse_id": self.to_warehouse.currentData() if self.kind == "transfer" else None,
            "reference": self.reference.text().strip() or None,
            "reason": self.reason.text().strip() or None,
            "notes": self.notes.toPlainText().strip() or None,
            "lines": self.grid.lines_in(),
        }
        return body

    async def _save(self) -> StockDocumentOut:
        """Create or update the draft; the document shown is the server's answer."""
        if self.document is None:
            typed_in = StockDocumentIn.model_construct(kind=self.kind, **self._body())
            document = await stock.create_document(self.api, typed_in)
        elif self.dirty:
            changes = StockDocumentUpdate.model_construct(version=self.document.version, **self._body())
            document = await stock.update_document(self.api, self.document.id, changes)
        else:
            return self.document
        if shiboken6.isValid(self):
            self.show_document(document)
        return document

    async def _noting_line_errors(self, call: Awaitable[Any]) -> Any:
        """Run a call; a refusal that names a line ("lines.2.quantity") is shown at that line's cell
        (with the message as its note) and in the banner before the one error handler marks it."""
        try:
            return await call
        except ApiError as exc:
            if shiboken6.isValid(self):
                self._show_refusal(exc)
            raise

    def _show_refusal(self, exc: ApiError) -> None:
        if exc.field:
            self.grid.show_error(exc.field, exc.message)
        if exc.status == 422 or exc.code == "insufficient_stock":
            self.say(exc.message, error=True)

    def _field_map(self) -> dict[str, QWidget]:
        """Where the server's field errors land: the form's fields and each line's cells."""
        self.grid.lines_in()  # the lines as they will be sent: "lines.N" names the N-th of them
        return {**self.fields, **self.grid.field_widgets()}

    def _lines_problem(self) -> bool:
        """A quantity the server would surely refuse: said in the banner, its cell marked."""
        problem = self.grid.problem()
        if problem is not None:
            self.say(problem, error=True)
        return problem is not None

    def save(self, then: Callable[[], object] | None = None) -> asyncio.Task[Any] | None:
        if not self.is_draft():
            return None
        self.say("")
        if self._lines_problem():
            return None

        def saved(document: StockDocumentOut) -> None:
            self.say(f"Saved {document.number}.")
            if then is not None:
                then()

        return operations.run(
            self,
            self._noting_line_errors(self._save()),
            success=saved,
            changed=stock.DOCUMENTS_CHANGED,
            fields=self._field_map(),
            busy=self.save_button,
            reload=self.reload,
        )

    def _confirm(self, title: str, text: str, yes: str, then: Callable[[], object]) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("stockConfirm")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        ok = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(ok)
        box.buttonClicked.connect(lambda button: then() if button is ok else None)
        self.confirm_box = box
        box.open()
        return box

    def ask_validate(self) -> None:
        if not self.is_draft():
            return
        name = self.document.number if self.document else f"this {KIND_LABELS.get(self.kind, '').lower()}"
        what = {
            "receipt": "adds the goods to",
            "delivery": "takes the goods out of",
            "transfer": "moves the goods between",
            "adjustment": "sets the counted quantities in",
        }[self.kind]
        self._confirm(
            "Validate",
            f"Validate {name}? It {what} the warehouse stock and cannot be edited after; "
            "a mistake is undone by reversing it.",
            "Validate",
            self.validate,
        )

    def validate(self) -> asyncio.Task[Any] | None:
        """Save pending edits, then validate; a refusal (e.g. not enough stock) moves nothing."""
        self.say("")
        if self._lines_problem():
            return None

        async def save_and_validate() -> StockDocumentOut:
            document = await self._save()
            return await stock.validate_document(self.api, document.id, document.version)

        def validated(document: StockDocumentOut) -> None:
            self.show_document(document)
            self.say(f"{document.number} is validated: the stock has moved.")

        return operations.run(
            self,
            self._noting_line_errors(save_and_validate()),
            success=validated,
            changed=stock.DOCUMENTS_CHANGED,
            fields=self._field_map(),
            busy=self.validate_button,
            reload=self.reload,
        )

    def ask_reverse(self) -> None:
        if self.document is None or self.document.status != "validated":
            return
        self._confirm(
            "Reverse",
            f"Reverse {self.document.number}? An opposite document is made and validated "
            "at once; this one stays as it was, marked reversed.",
            "Reverse",
            self.reverse,
        )

    def reverse(self) -> asyncio.Task[Any] | None:
        document = self.document
        if document is None:
            return None

        def reversed_(reversal: StockDocumentOut) -> None:
            self.reload()
            open_stock_document(self, self.session, reversal.id)

        return operations.run(
            self,
            self._noting_line_errors(stock.reverse_document(self.api, document.id, document.version)),
            success=reversed_,
            changed=stock.DOCUMENTS_CHANGED,
            fields=self._field_map(),
            busy=self.reverse_button,
            reload=self.reload,
        )

    def ask_cancel(self) -> None:
        if self.document is None or self.document.status != "draft":
            return
        self._confirm(
            "Cancel draft",
            f"Cancel {self.document.number}? Nothing has moved; the draft is kept, marked cancelled.",
            "Cancel draft",
            self.cancel_draft,
        )

    def cancel_draft(self) -> asyncio.Task[Any] | None:
        document = self.document
        if document is None:
            return None
        return operations.run(
            self,
            stock.cancel_document(self.api, document.id, document.version),
            success=self.show_document,
            changed=stock.DOCUMENTS_CHANGED,
            busy=self.cancel_button,
            reload=self.reload,
        )

    def mark(self, name: str, message: str) -> None:
        """Show a message at a field by its server name (used by the purchasing screens too)."""
        widget = self.fields.get(name)
        if widget is not None:
            mark_field(widget, message)

    def closed(self) -> None:
        for widget in self.fields.values():
            clear_field(widget)
        _open.forget(self.document_id, self)


__all__ = ["StockDocumentWindow", "new_stock_document", "open_stock_document"]

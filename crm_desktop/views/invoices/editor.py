"""The invoice editor: one window per invoice (or a new draft), with what can be done in its state.

- Draft: client, currency, dates, notes and lines can change; Save draft (Ctrl+S), Issue (asks).
- Issued: amounts are frozen (lines read-only, notes only); Record payment, Refund… (the payment
  chosen in the Payments tab, which lists each refund under its payment), Cancel with a credit
  note (asks; the credit note opens after; only once no money is kept), Preview PDF, Send…, Repeat…
- The header says the status, number, open amount and how the last send went (Unsent / Queued /
  Sent when / Failed with the SMTP error); the tabs list payments and every email sent.

Field errors from the server are shown at the field they name (a line's at its cell). A live event
about this invoice (another desktop, the send job) reloads it; typed but unsaved edits are kept."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import shiboken6
from PySide6.QtCore import QDate, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations, theme
from crm_desktop.api import invoices
from crm_desktop.api.client import ApiError
from crm_desktop.format import day, label, moment, money
from crm_desktop.operations.errors import describe, mark_field
from crm_desktop.session import Session
from crm_desktop.views.invoices.dialogs import (
    METHODS,
    PaymentDialog,
    PayOnlineDialog,
    RecurrenceDialog,
    RefundDialog,
    SendDialog,
    recurrence_text,
)
from crm_desktop.views.invoices.labels import send_label
from crm_desktop.views.proposals.party import PartyPicker
from crm_desktop.widgets.document_window import NEW, Action, DocumentWindow, form_columns, sources
from crm_desktop.widgets.form import DateEdit, qdate
from crm_desktop.widgets.line_grid import LineGrid
from crm_desktop.widgets.pdf_preview import PdfPreviewDialog
from crm_desktop.widgets.record_window import WindowRegistry, show_window
from crm_server.contract.invoices import (
    INVOICE_ACTIONS,
    InvoiceAction,
    InvoiceEmailOut,
    InvoiceIn,
    InvoiceKind,
    InvoiceOut,
    InvoiceStatus,
    InvoiceUpdate,
    IssueIn,
    PaymentOut,
    PayOnlineOut,
    SendStatus,
)

log = logging.getLogger(__name__)

STATUS_COLORS = theme.ToneColors(  # the list's status column
    {
        "draft": "neutral",
        "unpaid": "warning",
        "partially_paid": "info",
        "paid": "success",
        "overdue": "danger",
        "cancelled": "neutral",
    }
)
STATUS_TONES = {  # the window's badge
    "draft": "muted",
    "unpaid": "warning",
    "partially_paid": "accent",
    "paid": "success",
    "overdue": "danger",
    "cancelled": "muted",
}
A = InvoiceAction
PAYABLE = sources(INVOICE_ACTIONS, A.pay)
ISSUED = sources(INVOICE_ACTIONS, A.send)  # numbered and not cancelled: notes can still be saved
SAVED = frozenset(InvoiceStatus)
NO_DATE = QDate(2000, 1, 1)  # the date edits' "not set" value (shown as their special text)
DUE_DAYS = 14
_open: WindowRegistry[InvoiceWindow] = WindowRegistry()  # invoice id -> its window


def status_label(invoice: InvoiceOut) -> str:
    if invoice.kind == InvoiceKind.credit_note:
        return "Credit note"
    return label(invoice.status)


def open_invoice(
    parent: QWidget | None, session: Session, invoice_id: int | None, *, client_id: int | None = None
) -> QWidget:
    """The invoice's window (raised when open already), or a new draft's (for `client_id` if given)."""
    window = _open.live(invoice_id, session)
    if window is None:
        window = InvoiceWindow(
            session, invoice_id, parent.window() if parent is not None else None, client_id=client_id
        )
        if invoice_id is not None:
            _open[invoice_id] = window
    return show_window(window)


def _date_edit() -> QDateEdit:
    edit = DateEdit()
    edit.setMinimumDate(NO_DATE)
    edit.setSpecialValueText("Not set")
    edit.setDate(NO_DATE)
    return edit


def _date_value(edit: QDateEdit) -> str | None:
    return None if edit.date() == NO_DATE else edit.date().toString("yyyy-MM-dd")


def _set_date(edit: QDateEdit, value: date | None) -> None:
    edit.setDate(qdate(value) if value else NO_DATE)


class InvoiceWindow(DocumentWindow[InvoiceOut]):
    """One invoice, draft or issued (see the module's docstring)."""

    module, noun = "invoices", "invoice"
    ACTIONS = (
        Action(
            "save",
            "Save draft",
            "Save (Ctrl+S)",
            "save",
            statuses=sources(INVOICE_ACTIONS, A.edit) | ISSUED | {NEW},
            role="primary",
        ),
        Action(
            "issue",
            "Issue…",
            "Give it its number; its amounts are frozen after",
            "issue",
            statuses=sources(INVOICE_ACTIONS, A.issue) | {NEW},
        ),
        Action(
            "pay",
            "Record payment…",
            "A payment received (Ctrl+P)",
            "record_payment",
            statuses=PAYABLE,
            shortcut="Ctrl+P",
        ),
        Action(
            "online",
            "Pay online…",
            "A Stripe Checkout link for what is open, to send the client; the payment is recorded by itself",
            "pay_online",
            statuses=PAYABLE,
            object_name="payOnline",
        ),
        Action(
            "refund",
            "Refund…",
            "Give back money of the payment chosen in the Payments tab (Ctrl+R)",
            "refund_payment",
            statuses=sources(INVOICE_ACTIONS, A.refund),
            shortcut="Ctrl+R",
        ),
        Action("send", "Send…", "Email it with its PDF attached", "send", statuses=ISSUED),
        Action("pdf", "Preview PDF", "The PDF as the client gets it", "preview_pdf", statuses=SAVED),
        Action(
            "repeat", "Repeat…", "Make it a recurring invoice", "repeat", statuses=sources(INVOICE_ACTIONS, A.recur)
        ),
        Action(
            "cancel",
            "Cancel invoice…",
            "Cancel it (issued: with a credit note)",
            "cancel_invoice",
            statuses=sources(INVOICE_ACTIONS, A.cancel),
            right=True,
        ),
    )
    save_button: QPushButton
    issue_button: QPushButton
    pay_button: QPushButton
    online_button: QPushButton
    refund_button: QPushButton
    send_button: QPushButton
    pdf_button: QPushButton
    repeat_button: QPushButton
    cancel_button: QPushButton

    def __init__(
        self, session: Session, invoice_id: int | None, parent: QWidget | None = None, *, client_id: int | None = None
    ) -> None:
        self.invoice_id = invoice_id
        self.invoice: InvoiceOut | None = None
        self.payments: list[PaymentOut] = []
        self.emails: list[InvoiceEmailOut] = []
        self._filling = False
        self.online_dialog: PayOnlineDialog | None = None
        self._related_seq = 0
        super().__init__(session, parent, name="invoiceWindow", title="New invoice", size=(1180, 820))

        # --- header ------------------------------------------------------------------------------
        self.show_status("Draft", STATUS_TONES["draft"])
        self.open_label = QLabel()
        self.open_label.setObjectName("openAmount")
        self.send_state = QLabel()
        self.send_state.setObjectName("sendState")
        self.send_state.setWordWrap(True)
        self.add_figure(self.send_state)
        self.badges.addSpacing(16)
        self.add_figure(self.open_label)

        # --- form --------------------------------------------------------------------------------
        self.client = PartyPicker(self.api, kinds=("client",))
        self.client.setPlaceholderText("Type a client's name…")
        self.currency = QLineEdit()
        self.currency.setMaxLength(3)
        self.currency.setPlaceholderText("Base currency")
        self.currency.setMaximumWidth(90)
        self.issue_date = _date_edit()
        self.issue_date.setToolTip("Left empty, the invoice is dated the day it is issued")
        self.due_date = _date_edit()
        self.notes = QPlainTextEdit()
        self.notes.setFixedHeight(60)
        self.notes.setPlaceholderText("Payment terms, a thank-you…")
        self.grid = LineGrid(session, self)

        form = form_columns(
            [
                (2, [("C&lient", self.client)]),
                (1, [("C&urrency", self.currency), ("&Issue date", self.issue_date), ("&Due date", self.due_date)]),
                (3, [("&Notes", self.notes)]),
            ]
        )
        lines_box = QWidget()
        lines_layout = QVBoxLayout(lines_box)
        lines_layout.setContentsMargins(0, 0, 0, 0)
        lines_layout.addWidget(self.grid)
        self.fields: dict[str, QWidget] = {
            "client_id": self.client,
            "currency": self.currency,
            "issue_date": self.issue_date,
            "due_date": self.due_date,
            "notes": self.notes,
            "lines": self.grid,
        }

        # --- payments, emails, recurrence ---------------------------------------------------------
        self.payments_table = self._table(["Date", "Amount", "Method", "Refunded", "Reference"])
        self.payments_table.setObjectName("paymentsTable")
        self.payments_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.payment_rows: list[PaymentOut] = []  # table row -> its payment (a refund's row: the payment refunded)
        self.emails_table = self._table(["When", "To", "Subject", "Status", "Error"])
        self.emails_table.setObjectName("emailsTable")
        self.recurrence_label = QLabel("Does not repeat.")
        self.recurrence_label.setObjectName("recurrenceLabel")
        self.recurrence_label.setWordWrap(True)
        self.recurrence_label.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.related = QLabel()
        self.related.setObjectName("relatedLabel")
        self.related.setTextFormat(Qt.TextFormat.RichText)
        self.related.linkActivated.connect(self._open_related)
        repeat_box = QWidget()
        repeat_layout = QVBoxLayout(repeat_box)
        repeat_layout.addWidget(self.recurrence_label)
        repeat_layout.addWidget(self.related)
        repeat_layout.addStretch(1)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.payments_table, "Payments")
        self.tabs.addTab(self.emails_table, "Emails")
        self.tabs.addTab(repeat_box, "Repeat")
        self.tabs.setMaximumHeight(200)

        self.root.addLayout(form)
        self.root.addWidget(lines_box, 1)
        self.root.addWidget(self.tabs)

        for signal in (
            self.currency.textEdited,
            self.notes.textChanged,
            self.issue_date.dateChanged,
            self.due_date.dateChanged,
            self.grid.changed,
            self.client.party_changed,
        ):
            signal.connect(self._touched)
        self.currency.textEdited.connect(lambda text: self.grid.set_currency(text if len(text) == 3 else "EUR"))

        self._poll = QTimer(self)  # while a send is queued
        self._poll.setInterval(1000)
        self._poll.timeout.connect(self._poll_send)

        if invoice_id is None:
            self._new_draft(client_id)
        else:
            self.reload()
        self._update_actions()

    # --- building --------------------------------------------------------------------------------

    @staticmethod
    def _table(headers: list[str]) -> QTableWidget:
        table = QTableWidget(0, len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
        return table

    def _new_draft(self, client_id: int | None) -> None:
        self.setWindowTitle("New invoice - CRM")
        today = date.today()
        self._filling = True
        self.issue_date.setDate(qdate(today))
        self.due_date.setDate(qdate(today + timedelta(days=DUE_DAYS)))
        self._filling = False
        if client_id is not None:
            self.client.load("client", client_id)
        self.send_state.setText("")
        self.open_label.setText("")
        self.client.setFocus()

    # --- loading ---------------------------------------------------------------------------------

    def current_id(self) -> int | None:
        return self.invoice_id

    def parts_busy(self) -> bool:
        return self.grid.is_busy() or self.client.is_busy()

    def can_save(self) -> bool:
        return self.invoice is not None and self.invoice.status == InvoiceStatus.draft

    def values(self) -> dict[str, Any]:
        """The draft's fields as the server names them (the grid `touch`es "lines")."""
        return {
            "client_id": self.client.client_id,
            "currency": self.currency.text().strip().upper() or None,
            "issue_date": _date_value(self.issue_date),
            "due_date": _date_value(self.due_date),
            "notes": self.notes.toPlainText().strip() or None,
        }

    async def fetch(self) -> InvoiceOut:
        assert self.invoice_id is not None, "the base loads only a saved invoice (current_id)"
        return await invoices.get_invoice(self.api, self.invoice_id)

    async def show_loaded(self, invoice: InvoiceOut, replace_edits: bool) -> None:
        self.show_invoice(invoice, replace_edits=replace_edits)
        await self._load_related(invoice)

    async def _load_related(self, invoice: InvoiceOut) -> None:
        """Payments and the email history; a part the server does not offer says so in its tab.
        Only the latest of overlapping loads is shown (an older answer may arrive last)."""
        self._related_seq += 1
        seq = self._related_seq
        payments: list[PaymentOut] = []
        emails: list[InvoiceEmailOut] = []
        emails_error = None
        draft = invoice.status == InvoiceStatus.draft
        if not draft and self.session.can("payments", "view"):
            try:
                payments = await invoices.payments(self.api, invoice.id)
            except ApiError as exc:
                log.info("payments did not load: %s", exc.message)
        if not draft:
            try:
                emails = await invoices.emails(self.api, invoice.id)
            except ApiError as exc:
                emails_error = describe(exc)
        if shiboken6.isValid(self) and seq == self._related_seq:
            self.payments, self.emails = payments, emails
            self._fill_payments()
            self._fill_emails(emails_error)

    def show_invoice(self, invoice: InvoiceOut, *, replace_edits: bool = True) -> None:
        """Show what the server has; typed but unsaved details stay unless `replace_edits`."""
        keep = not replace_edits and self.dirty and self.invoice is not None
        if keep and self.invoice is not None:
            invoice = invoice.model_copy(update={"version": self.invoice.version})  # a save over newer changes: 409
        self.invoice = invoice
        self.invoice_id = invoice.id
        self.buffer.take(invoice)
        _open[invoice.id] = self
        draft = invoice.status == InvoiceStatus.draft
        if not keep:
            self._filling = True
            try:
                self.client.set_party("client", invoice.client_id, invoice.client_name)
                self.currency.setText(invoice.currency)
                _set_date(self.issue_date, invoice.issue_date)
                _set_date(self.due_date, invoice.due_date)
                self.notes.setPlainText(invoice.notes or "")
                self.grid.set_currency(invoice.currency)
                self.grid.set_read_only(not draft)
                self.grid.set_lines(invoice.lines)
            finally:
                self._filling = False
            self.dirty = False
        credit = invoice.kind == InvoiceKind.credit_note
        name = invoice.number or f"draft #{invoice.id}"
        self.title.setText(f"{'Credit note' if credit else 'Invoice'} {name}")
        self.setWindowTitle(f"{'Credit note' if credit else 'Invoice'} {name} - CRM")
        self.show_status(status_label(invoice), STATUS_TONES["cancelled" if credit else invoice.status])
        currency = invoice.currency
        if draft:
            self.open_label.setText(f"Total {money(invoice.gross_total, currency)}")
        else:
            self.open_label.setText(
                f"Open {money(invoice.open_amount, currency)}  ·  "
                f"paid {money(invoice.paid_total, currency)} of "
                f"{money(invoice.gross_total, currency)}"
            )
        self.send_state.setText("" if draft else send_label(invoice))
        self.send_state.setProperty("role", "error" if invoice.send_status == SendStatus.failed else "muted")
        self.send_state.style().unpolish(self.send_state)
        self.send_state.style().polish(self.send_state)
        self.recurrence_label.setText(recurrence_text(invoice.recurrence))
        links = []
        if invoice.credited_invoice_id:
            links.append(f'<a href="{invoice.credited_invoice_id}">The invoice it credits</a>')
        if invoice.recurred_from_id:
            links.append(f'<a href="{invoice.recurred_from_id}">The invoice it repeats</a>')
        self.related.setText("  ·  ".join(links))
        if invoice.send_status == SendStatus.queued:
            self._poll.start()
        else:
            self._poll.stop()
        self._update_actions()

    def _fill_payments(self) -> None:
        """Each payment (with the provider's id of the money, e.g. a Stripe payment intent), then its
        refunds in rows of their own, so what was kept reads off the table."""
        currency = self.invoice.currency if self.invoice else ""
        methods = dict((v, k) for k, v in METHODS)
        rows: list[tuple[PaymentOut, tuple[Any, ...], bool]] = []
        for payment in self.payments:
            reference = "  ·  ".join(x for x in (payment.reference, payment.external_ref) if x)
            rows.append(
                (
                    payment,
                    (
                        day(payment.paid_on),
                        money(payment.amount, currency),
                        methods.get(payment.method, payment.method.value),
                        money(payment.refunded_total, currency) if payment.refunded_total else "",
                        reference,
                    ),
                    False,
                )
            )
            for refund in payment.refunds:
                note = "  ·  ".join(x for x in (refund.reason, refund.reference) if x)
                rows.append(
                    (
                        payment,
                        (
                            f"  ↳ {day(refund.refunded_on)}",
                            f"−{money(refund.amount, currency)}",
                            "Refund",
                            "",
                            note,
                        ),
                        True,
                    )
                )
        self.payments_table.clearSelection()
        self.payments_table.setRowCount(len(rows))
        self.payment_rows = [payment for payment, _, _ in rows]
        for i, (_, cells, is_refund) in enumerate(rows):
            for j, text in enumerate(cells):
                item = QTableWidgetItem(str(text))
                if is_refund:
                    font = item.font()
                    font.setItalic(True)
                    item.setFont(font)
                self.payments_table.setItem(i, j, item)
        refunds = sum(len(p.refunds) for p in self.payments)
        self.tabs.setTabText(
            0,
            f"Payments ({len(self.payments)})"
            if not refunds
            else f"Payments ({len(self.payments)}, {refunds} refund{'s' if refunds > 1 else ''})",
        )
        self._update_actions()

    def _fill_emails(self, error: str | None = None) -> None:
        self.emails_table.setRowCount(len(self.emails) if error is None else 1)
        if error is not None:
            self.emails_table.setItem(0, 0, QTableWidgetItem(f"Email history not available: {error}"))
            self.emails_table.setSpan(0, 0, 1, 5)
            return
        self.emails_table.clearSpans()
        for i, email in enumerate(self.emails):
            cells = (
                moment(email.sent_at or email.created_at),
                email.recipient,
                email.subject,
                email.status,
                email.error or "",
            )
            for j, text in enumerate(cells):
                self.emails_table.setItem(i, j, QTableWidgetItem(str(text)))
        self.tabs.setTabText(1, f"Emails ({len(self.emails)})")

    # --- state -----------------------------------------------------------------------------------

    def _touched(self, *_: Any) -> None:
        if not self._filling:
            self.touch()
            self._update_actions()

    def _update_actions(self) -> None:
        invoice = self.invoice
        status = invoice.status.value if invoice is not None else InvoiceStatus.draft.value
        is_invoice = invoice is None or invoice.kind == InvoiceKind.invoice
        draft = status == "draft"
        issued = not draft and status != "cancelled"
        saved = self.invoice is not None
        can_edit = self.session.can("invoices", "edit") if saved else self.session.can("invoices", "create")
        for widget in (self.client, self.currency, self.issue_date, self.due_date):
            widget.setEnabled(draft and can_edit)
        self.notes.setReadOnly(not can_edit or status == "cancelled")
        self.show_actions(status if saved else NEW)
        may_edit = self.session.can("invoices", "edit")
        for button, allowed in (
            (self.save_button, can_edit and (draft or is_invoice)),
            (self.issue_button, is_invoice and may_edit),
            (self.pay_button, is_invoice and self.session.can("payments", "create")),
            (self.online_button, is_invoice and may_edit),
            (self.refund_button, bool(self.refundable_payments()) and self.session.can("payments", "edit")),
            (self.send_button, may_edit),
            (self.repeat_button, issued and is_invoice and may_edit),
            (self.cancel_button, is_invoice and may_edit),
        ):
            if not allowed:
                button.setVisible(False)
        self.save_button.setText("Save draft" if draft else "Save notes")
        sent_before = invoice is not None and invoice.send_status in (SendStatus.sent, SendStatus.failed)
        self.send_button.setText("Send again…" if sent_before else "Send…")
        self.cancel_button.setText("Cancel draft…" if draft else "Cancel with credit note…")
        paid = invoice.paid_total if invoice is not None else Decimal(0)
        has_payments = not draft and paid > 0
        self.cancel_button.setEnabled(not has_payments)
        self.cancel_button.setToolTip(
            f"It has payments of {money(paid, invoice.currency if invoice else None)}: those must be refunded "
            "before it can be cancelled."
            if has_payments
            else "Cancel it (issued: with a credit note)"
        )
        self.tabs.setVisible(saved and not draft)

    # --- saving ----------------------------------------------------------------------------------

    def _body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "client_id": self.client.client_id,
            "currency": self.currency.text().strip().upper() or None,
            "issue_date": _date_value(self.issue_date),
            "due_date": _date_value(self.due_date),
            "notes": self.notes.toPlainText().strip() or None,
            "lines": self.grid.lines_in(),
        }
        return body

    def check(self) -> bool:
        """What can be told without the server, first field first."""
        if self.invoice is None or self.invoice.status == InvoiceStatus.draft:
            if self.client.client_id is None:
                mark_field(self.client, "Client: choose one from the list (type part of the name).")
                return False
            problem = self.grid.problem()
            if problem is not None:
                mark_field(self.grid, problem)
                return False
        return True

    async def _send_save(self) -> InvoiceOut:
        """POST a new draft, PATCH a changed one (or an issued one's notes); field errors of lines
        are shown at their cell and named under the grid."""
        api = self.api
        try:
            if self.invoice is None:
                body = {k: v for k, v in self._body().items() if v is not None}
                return await invoices.create_invoice(api, InvoiceIn.model_construct(**body))
            if self.invoice.status != InvoiceStatus.draft:
                notes = InvoiceUpdate.model_construct(
                    version=self.invoice.version, notes=self.notes.toPlainText().strip() or None
                )
                return await invoices.update_invoice(api, self.invoice.id, notes)
            changes = InvoiceUpdate.model_construct(**self._body(), version=self.invoice.version)
            return await invoices.update_invoice(api, self.invoice.id, changes)
        except ApiError as exc:
            if exc.field and exc.field.startswith("lines.") and self.grid.show_error(exc.field, exc.message):
                raise ApiError(exc.status, exc.code, self._line_message(exc), "lines", exc.extra) from exc
            raise

    def _line_message(self, exc: ApiError) -> str:
        """ "lines.1.quantity: Input should be greater than 0" -> "Line 2, quantity: …"."""
        parts = (exc.field or "").split(".")
        index = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        row = self.grid.sent_rows[index] if index < len(self.grid.sent_rows) else index
        name = {
            "product_id": "product",
            "unit_price": "unit price",
            "discount_percent": "discount",
            "tax_rate_id": "VAT rate",
        }.get(parts[2] if len(parts) > 2 else "", parts[2] if len(parts) > 2 else "")
        message = exc.message.split(": ", 1)[1] if exc.message.startswith(f"{exc.field}: ") else exc.message
        return f"Line {row + 1}, {name}: {message}" if name else f"Line {row + 1}: {message}"

    def save(self, then: Callable[[], object] | None = None) -> asyncio.Task[Any] | None:
        if self.invoice is not None and not self.dirty:
            self.say("Nothing to save.")
            return None
        if not self.check():
            return None

        def saved(invoice: InvoiceOut) -> None:
            self._saved(invoice)
            if then is not None:
                then()

        return operations.run(
            self,
            self._send_save(),
            success=saved,
            changed=invoices.CHANGED,
            fields=self.fields,
            busy=self.save_button,
            reload=self.reload,
        )

    def _saved(self, invoice: InvoiceOut) -> None:
        self.dirty = False
        self.show_invoice(invoice)
        self.say("Draft saved." if invoice.status == InvoiceStatus.draft else "Notes saved.")

    # --- issuing ---------------------------------------------------------------------------------

    def issue(self) -> QMessageBox | None:
        if not self.check():
            return None
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Issue this invoice?",
            "Issuing gives it the next number. Its lines and amounts cannot be changed after; "
            "a mistake is undone with a credit note.",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setObjectName("issueConfirm")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        yes = box.addButton("Issue", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: button is yes and self._issue_now())
        box.open()
        return box

    def _issue_now(self) -> asyncio.Task[Any]:
        async def save_then_issue() -> InvoiceOut:
            invoice = self.invoice
            if invoice is None or self.dirty:
                invoice = await self._send_save()
                if shiboken6.isValid(self):
                    self.dirty = False
                    self.show_invoice(invoice)
            return await invoices.issue_invoice(self.api, invoice.id, IssueIn(version=invoice.version))

        def issued(invoice: InvoiceOut) -> None:
            self.show_invoice(invoice)
            self.spawn(self._load_related(invoice))
            self.say(f"Issued as {invoice.number}.")

        return operations.run(
            self,
            save_then_issue(),
            success=issued,
            changed=invoices.CHANGED,
            fields=self.fields,
            busy=self.issue_button,
            reload=self.reload,
        )

    # --- payments, cancelling --------------------------------------------------------------------

    def record_payment(self) -> PaymentDialog | None:
        if self.invoice is None or not self.pay_button.isVisible():
            return None
        dialog = PaymentDialog(self.api, self.invoice, self)
        dialog.saved.connect(self._paid)
        dialog.open()
        return dialog

    def pay_online(self) -> asyncio.Task[Any] | None:
        """Ask the server for the invoice's Stripe Checkout link (made or reused) and show it to copy."""
        if self.invoice is None or not self.online_button.isVisible():
            return None
        invoice = self.invoice

        def ready(link: PayOnlineOut) -> None:
            self.online_dialog = PayOnlineDialog(link, invoice.number or "", self)
            self.online_dialog.open()
            self.say("Pay online link ready: copy it into a message, or Send… includes it.")

        return operations.run(self, invoices.pay_online(self.api, invoice.id), success=ready, busy=self.online_button)

    def _paid(self, payment: PaymentOut) -> None:
        currency = self.invoice.currency if self.invoice else ""
        self.say(f"Payment of {money(payment.amount, currency)} recorded.")
        self.reload()

    def refundable_payments(self) -> list[PaymentOut]:
        return [p for p in self.payments if p.refundable > 0]

    def selected_payment(self) -> PaymentOut | None:
        row = self.payments_table.currentRow()
        selected = self.payments_table.selectionModel().hasSelection()
        return self.payment_rows[row] if selected and 0 <= row < len(self.payment_rows) else None

    def refund_payment(self, payment: PaymentOut | None = None) -> RefundDialog | None:
        """Refund the given payment, else the one chosen in the Payments tab, else the only one left."""
        if self.invoice is None or not self.refund_button.isVisible():
            return None
        refundable = self.refundable_payments()
        payment = payment or self.selected_payment() or (refundable[0] if len(refundable) == 1 else None)
        if payment is None:
            self.tabs.setCurrentIndex(0)
            self.payments_table.setFocus()
            self.say("Choose the payment to refund in the Payments tab, then press Refund again.")
            return None
        if payment not in refundable:
            self.say("That payment is refunded in full already.", error=True)
            return None
        dialog = RefundDialog(self.api, self.invoice, payment, self)
        dialog.saved.connect(self._refunded)
        dialog.open()
        return dialog

    def _refunded(self, payment: PaymentOut) -> None:
        currency = self.invoice.currency if self.invoice else ""
        amount = payment.refunds[-1].amount if payment.refunds else None
        self.say(f"Refund of {money(amount, currency)} recorded.")
        self.reload()

    def cancel_invoice(self) -> QMessageBox | None:
        if self.invoice is None or not self.cancel_button.isVisible():
            return None
        draft = self.invoice.status == InvoiceStatus.draft
        text = (
            "The draft is cancelled; it never gets a number."
            if draft
            else f"Invoice {self.invoice.number} is cancelled and a credit note of "
            f"{money(self.invoice.gross_total, self.invoice.currency)} is made for it."
        )
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Cancel this invoice?", text, QMessageBox.StandardButton.NoButton, self
        )
        box.setObjectName("cancelConfirm")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        yes = box.addButton(
            "Cancel draft" if draft else "Cancel with credit note", QMessageBox.ButtonRole.DestructiveRole
        )
        box.addButton("Keep it", QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(lambda button: button is yes and self._cancel_now())
        box.open()
        return box

    def _cancel_now(self) -> asyncio.Task[Any] | None:
        if self.invoice is None:
            return None
        invoice = self.invoice

        def done(result: InvoiceOut) -> None:
            self.reload()
            if result.kind is InvoiceKind.credit_note:
                self.say(f"Cancelled; credit note {result.number} made.")
                self.credit_window = open_invoice(self, self.session, result.id)
            else:
                self.say("The draft is cancelled.")

        return operations.run(
            self,
            invoices.cancel_invoice(self.api, invoice.id, invoice.version),
            success=done,
            changed=invoices.CHANGED,
            busy=self.cancel_button,
            reload=self.reload,
        )

    # --- PDF, sending, repeating -----------------------------------------------------------------

    def preview_pdf(self) -> PdfPreviewDialog | None:
        if self.invoice is None:
            return None
        name = self.invoice.number or f"draft {self.invoice.id}"
        kind = "Credit note" if self.invoice.kind == InvoiceKind.credit_note else "Invoice"
        invoice_id = self.invoice.id
        dialog = PdfPreviewDialog(self, self.api, lambda: invoices.pdf(self.api, invoice_id), f"{kind} {name}")
        dialog.open()
        return dialog

    def send(self) -> SendDialog | None:
        if self.invoice is None or not self.send_button.isVisible():
            return None
        dialog = SendDialog(self.api, self.invoice, self)
        dialog.sent.connect(self._queued)
        dialog.open()
        return dialog

    def _queued(self, invoice: InvoiceOut) -> None:
        self.show_invoice(invoice, replace_edits=not self.dirty)
        self.say("Queued for sending; this window shows when it has gone.")
        self.spawn(self._load_related(invoice))

    def _poll_send(self) -> None:
        """While a send is queued: ask again (the live event does the same when the stream is on)."""
        if self.invoice is None or self.invoice.send_status != SendStatus.queued:
            self._poll.stop()
            return
        if not any(not t.done() for t in self._tasks):
            self.refresh_from_server()

    def repeat(self) -> RecurrenceDialog | None:
        if self.invoice is None or not self.repeat_button.isVisible():
            return None
        dialog = RecurrenceDialog(self.api, self.invoice, self)
        dialog.saved.connect(self._repeated)
        dialog.open()
        return dialog

    def _repeated(self, invoice: InvoiceOut) -> None:
        self.show_invoice(invoice, replace_edits=not self.dirty)
        self.tabs.setCurrentIndex(2)

    def _open_related(self, link: str) -> None:
        open_invoice(self, self.session, int(link))

    # --- closing -------------------------------------------------------------------------------

    def closed(self) -> None:
        self._poll.stop()
        _open.forget(self.invoice_id, self)

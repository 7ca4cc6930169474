"""The invoice editor's small dialogs: record a payment, send by email, repeat (recurrence).

Each sends one call through ``operations.run``; the server's field errors land under the field they
name (an overpayment under the amount, naming the open amount)."""

from __future__ import annotations

from datetime import date
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import invoices
from crm_desktop.api.client import ApiError
from crm_desktop.format import parse_decimal
from crm_desktop.operations.errors import describe, mark_field
from crm_desktop.widgets.form import DateEdit, field, qdate
from crm_server.contract.invoices import (
    InvoiceOut,
    PaymentIn,
    PaymentMethod,
    PaymentOut,
    PayOnlineOut,
    RecurrenceIn,
    RecurrenceOut,
    RecurrenceUpdate,
    RefundIn,
    SendIn,
)

METHODS = [(format.label(method), method.value) for method in PaymentMethod]
UNITS = (("days", "day"), ("weeks", "week"), ("months", "month"), ("years", "year"))


def _buttons(dialog: QDialog, ok_text: str) -> tuple[QDialogButtonBox, QPushButton]:
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    ok = box.button(QDialogButtonBox.StandardButton.Ok)
    ok.setText(ok_text)
    ok.setProperty("role", "primary")
    box.rejected.connect(dialog.reject)
    return box, ok


class PaymentDialog(QDialog):
    """Record a payment: amount (the open amount by default), date, method, reference."""

    saved = Signal(object)  # PaymentOut

    def __init__(self, api: Any, invoice: InvoiceOut, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.invoice = invoice
        self.setObjectName("paymentDialog")
        self.setWindowTitle(f"Record payment - {invoice.number or 'invoice'}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(420)
        currency = invoice.currency
        open_amount, gross = (
            format.money(invoice.open_amount, currency),
            format.money(invoice.gross_total, currency),
        )
        self.open_label = QLabel(f"Open: {open_amount} of {gross}")
        self.open_label.setProperty("role", "muted")
        self.amount = QLineEdit(str(invoice.open_amount))
        self.amount.selectAll()
        self.paid_on = DateEdit(qdate(date.today()))
        self.method = QComboBox()
        for label, value in METHODS:
            self.method.addItem(label, value)
        self.reference = QLineEdit()
        self.reference.setPlaceholderText("Bank reference, receipt number…")
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(self.open_label)
        field(layout, f"&Amount ({currency})", self.amount)
        field(layout, "&Date", self.paid_on)
        field(layout, "&Method", self.method)
        field(layout, "&Reference", self.reference)
        self.buttons, self.ok = _buttons(self, "Record payment")
        self.buttons.accepted.connect(self.submit)
        layout.addWidget(self.buttons)
        self.fields: dict[str, QWidget] = {
            "amount": self.amount,
            "paid_on": self.paid_on,
            "method": self.method,
            "reference": self.reference,
        }
        self.amount.setFocus()

    def submit(self) -> None:
        amount = parse_decimal(self.amount.text())
        if amount is None or amount <= 0:
            mark_field(self.amount, "Amount: a number above 0, e.g. 120.50.")
            return
        payment = PaymentIn.model_construct(
            amount=amount,
            paid_on=self.paid_on.date().toString("yyyy-MM-dd"),
            method=self.method.currentData(),
            reference=self.reference.text().strip() or None,
        )
        operations.run(
            self,
            invoices.add_payment(self.api, self.invoice.id, payment),
            success=self._done,
            changed=invoices.CHANGED,
            fields=self.fields,
            busy=self.ok,
        )

    def _done(self, payment: PaymentOut) -> None:
        self.saved.emit(payment)
        self.accept()


def payment_label(payment: PaymentOut, currency: str) -> str:
    method = format.label(payment.method)
    return f"{format.money(payment.amount, currency)} by {method.lower()} on {format.day(payment.paid_on)}"


class RefundDialog(QDialog):
    """Record money given back from a payment: amount (what is left of it by default) and why. A
    Stripe payment is refunded in Stripe too; its refund event then finds the refund recorded."""

    saved = Signal(object)  # PaymentOut, its new refund last

    def __init__(self, api: Any, invoice: InvoiceOut, payment: PaymentOut, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.invoice = invoice
        self.payment = payment
        self.setObjectName("refundDialog")
        self.setWindowTitle(f"Refund payment - {invoice.number or 'invoice'}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(440)
        currency = invoice.currency
        text = f"Payment of {payment_label(payment, currency)}"
        if payment.external_ref:
            text += f" ({payment.external_ref})"
        text += f". Refunded so far: {format.money(payment.refunded_total, currency)}."
        self.about = QLabel(text)
        self.about.setProperty("role", "muted")
        self.about.setWordWrap(True)
        self.amount = QLineEdit(f"{payment.refundable:f}")
        self.amount.selectAll()
        self.reason = QLineEdit()
        self.reason.setMaxLength(500)
        self.reason.setPlaceholderText("Returned goods, a double payment, a goodwill gesture…")
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(self.about)
        field(layout, f"&Amount ({currency})", self.amount)
        field(layout, "&Reason", self.reason)
        if payment.method is PaymentMethod.stripe:
            note = QLabel(
                "This records the refund in the CRM. Give the money back in Stripe as well; "
                "Stripe's refund event then finds it recorded and adds nothing."
            )
            note.setProperty("role", "muted")
            note.setWordWrap(True)
            layout.addWidget(note)
        self.buttons, self.ok = _buttons(self, "Refund")
        self.buttons.accepted.connect(self.submit)
        layout.addWidget(self.buttons)
        self.fields: dict[str, QWidget] = {"amount": self.amount, "reason": self.reason}
        self.amount.setFocus()

    def submit(self) -> None:
        amount = parse_decimal(self.amount.text())
        if amount is None or amount <= 0:
            mark_field(self.amount, "Amount: a number above 0, e.g. 20.00.")
            return
        if not self.reason.text().strip():
            mark_field(self.reason, "Reason: say why the money is given back.")
            return
        refund = RefundIn.model_construct(amount=amount, reason=self.reason.text().strip())
        call = invoices.refund_payment(self.api, self.invoice.id, self.payment.id, refund)
        operations.run(self, call, success=self._done, changed=invoices.CHANGED, fields=self.fields, busy=self.ok)

    def _done(self, payment: PaymentOut) -> None:
        self.saved.emit(payment)
        self.accept()


class SendDialog(QDialog):
    """Send the invoice by email with its PDF: to, subject and message prefilled by the server."""

    sent = Signal(object)  # the InvoiceOut, its send queued

    def __init__(self, api: Any, invoice: InvoiceOut, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.invoice = invoice
        self.setObjectName("sendDialog")
        self.setWindowTitle(f"Send {invoice.number or 'invoice'} by email")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(560)
        self.to = QLineEdit()
        self.to.setPlaceholderText("client@example.com")
        self.subject = QLineEdit()
        self.message = QPlainTextEdit()
        self.message.setMinimumHeight(160)
        self.note = QLabel("Loading the proposed email…")
        self.note.setProperty("role", "muted")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        field(layout, "&To", self.to)
        field(layout, "&Subject", self.subject)
        field(layout, "&Message", self.message, "The invoice's PDF is attached.")
        layout.addWidget(self.note)
        self.buttons, self.ok = _buttons(self, "Send")
        self.buttons.accepted.connect(self.submit)
        layout.addWidget(self.buttons)
        self.fields: dict[str, QWidget] = {"to": self.to, "subject": self.subject, "message": self.message}
        self._task = tasks.spawn(self._load())

    def is_busy(self) -> bool:
        return not self._task.done()

    async def _load(self) -> None:
        try:
            draft = await invoices.send_draft(self.api, self.invoice.id)
        except ApiError as exc:
            if shiboken6.isValid(self):
                self.note.setText(f"No proposed email: {describe(exc)}")
            return
        if not shiboken6.isValid(self):
            return
        if not self.to.text():
            self.to.setText(draft.to or "")
        if not self.subject.text():
            self.subject.setText(draft.subject)
        if not self.message.toPlainText():
            self.message.setPlainText(draft.message)
        self.note.setText("" if draft.to else "The client has no email address: type one.")
        (self.subject if self.to.text() else self.to).setFocus()

    def submit(self) -> None:
        to = self.to.text().strip()
        if "@" not in to:
            mark_field(self.to, "To: an email address, e.g. billing@client.com.")
            return
        send = SendIn.model_construct(
            to=to, subject=self.subject.text().strip() or None, message=self.message.toPlainText().strip() or None
        )
        operations.run(
            self,
            invoices.send_invoice(self.api, self.invoice.id, send),
            success=self._done,
            changed=invoices.CHANGED,
            fields=self.fields,
            busy=self.ok,
        )

    def _done(self, invoice: InvoiceOut) -> None:
        self.sent.emit(invoice)
        self.accept()


def recurrence_text(recurrence: RecurrenceOut | None) -> str:
    """ "Every 1 month, 3 more times; next on 2026-12-27; 1 made" as the editor shows it."""
    if recurrence is None:
        return "Does not repeat."
    every, unit = recurrence.every, recurrence.unit.value
    parts = [
        f"Every {every} {unit}{'s' if every != 1 else ''}",
        "forever" if recurrence.cycles is None else f"{recurrence.cycles} cycles",
    ]
    parts.append(f"next on {format.day(recurrence.next_on)}" if recurrence.next_on else "all cycles done")
    parts.append(f"{recurrence.done} made")
    text = ", ".join(parts) + "."
    if recurrence.last_skip:
        text += f" Last skipped: {recurrence.last_skip}"
    return text


class RecurrenceDialog(QDialog):
    """Repeat an issued invoice every N days / weeks / months / years, for some cycles or forever."""

    saved = Signal(object)  # the InvoiceOut with its new recurrence

    def __init__(self, api: Any, invoice: InvoiceOut, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.invoice = invoice
        current = invoice.recurrence
        self.setObjectName("recurrenceDialog")
        self.setWindowTitle(f"Repeat {invoice.number or 'invoice'}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(440)
        self.every = QSpinBox()
        self.every.setRange(1, 999)
        self.every.setValue(current.every if current else 1)
        self.unit = QComboBox()
        for label, value in UNITS:
            self.unit.addItem(label, value)
        self.unit.setCurrentIndex(max(self.unit.findData(current.unit.value if current else "month"), 0))
        self.forever = QCheckBox("Forever")
        self.cycles = QSpinBox()
        self.cycles.setRange(1, 1000)
        self.cycles.setSuffix(" invoices")
        self.cycles.setValue((current.cycles if current else None) or 12)
        self.forever.setChecked(current is not None and current.cycles is None)
        self.forever.toggled.connect(lambda on: self.cycles.setEnabled(not on))
        self.cycles.setEnabled(not self.forever.isChecked())
        self.state = QLabel(recurrence_text(current))
        self.state.setObjectName("recurrenceState")
        self.state.setWordWrap(True)
        self.state.setProperty("role", "muted")
        every_row = QHBoxLayout()
        every_row.addWidget(QLabel("Every"))
        every_row.addWidget(self.every)
        every_row.addWidget(self.unit, 1)
        cycles_row = QHBoxLayout()
        cycles_row.addWidget(QLabel("For"))
        cycles_row.addWidget(self.cycles, 1)
        cycles_row.addWidget(self.forever)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(self.state)
        layout.addLayout(every_row)
        layout.addLayout(cycles_row)
        self.buttons, self.ok = _buttons(self, "Repeat")
        self.stop_button = self.buttons.addButton("Stop repeating", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.stop_button.setVisible(current is not None)
        self.stop_button.clicked.connect(lambda: self.submit(stop=True))
        self.buttons.accepted.connect(self.submit)
        layout.addWidget(self.buttons)
        self.fields: dict[str, QWidget] = {
            "recurrence.every": self.every,
            "recurrence.unit": self.unit,
            "recurrence.cycles": self.cycles,
            "every": self.every,
            "cycles": self.cycles,
        }

    def submit(self, stop: bool = False) -> None:
        recurrence = (
            None
            if stop
            else RecurrenceIn.model_construct(
                every=self.every.value(),
                unit=self.unit.currentData(),
                cycles=None if self.forever.isChecked() else self.cycles.value(),
            )
        )
        update = RecurrenceUpdate.model_construct(version=self.invoice.version, recurrence=recurrence)
        operations.run(
            self,
            invoices.set_recurrence(self.api, self.invoice.id, update),
            success=self._done,
            changed=invoices.CHANGED,
            fields=self.fields,
            busy=self.ok,
        )

    def _done(self, invoice: InvoiceOut) -> None:
        self.saved.emit(invoice)
        self.accept()


class PayOnlineDialog(QDialog):
    """The invoice's "Pay online" link (a Stripe Checkout page for what is open), ready to copy and send."""

    def __init__(self, link: PayOnlineOut, number: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("payOnlineDialog")
        self.setWindowTitle(f"Pay online: {number}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.link = link
        self.url = QLineEdit(link.url)
        self.url.setObjectName("payOnlineUrl")
        self.url.setReadOnly(True)
        self.url.setAccessibleName("Pay online link")
        self.url.setMinimumWidth(520)
        about = QLabel(
            f"The client pays {format.money(link.amount, link.currency)} by card on Stripe's page; "
            f"the payment is recorded on {number} by itself. "
            f"The link works until {format.moment(link.expires_at)}" + (" and was made before." if link.reused else ".")
        )
        about.setWordWrap(True)
        self.copy_button = QPushButton("&Copy link")
        self.copy_button.setObjectName("copyPayOnline")
        self.copy_button.clicked.connect(self.copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addWidget(self.url)
        layout.addWidget(buttons)

    def copy(self) -> None:
        from PySide6.QtGui import QGuiApplication

        QGuiApplication.clipboard().setText(self.url.text())
        self.copy_button.setText("Copied")

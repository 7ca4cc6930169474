"""Add a commission by hand: for an invoice made by hand (one from a proposal is calculated, and
the server refuses it saying so). The invoice is named by its number, as people know it."""

from __future__ import annotations

from decimal import Decimal

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import commissions, invoices, partners
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.widgets.user_picker import UserPicker
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.commissions import CommissionOut, ManualIn
from crm_server.contract.invoices import InvoiceQuery


class ByHandDialog(QDialog):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("commissionByHand")
        self.setWindowTitle("Add a commission by hand")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.api = session.api
        self.invoice = QLineEdit(self)
        self.invoice.setPlaceholderText("Invoice number, e.g. INV-2026-000012")
        self.invoice.setAccessibleName("Invoice number")
        self.person = UserPicker(self.api, parent=self)
        self.person.setAccessibleName("For")
        self.partner = QComboBox(self)
        self.partner.setAccessibleName("Or a partner")
        self.partner.addItem("—", None)
        self.amount = QLineEdit(self)
        self.amount.setAccessibleName("Amount")
        self.amount.setPlaceholderText("e.g. 150.00, in the invoice's currency")
        self.note = QLineEdit(self)
        self.note.setPlaceholderText("Why, e.g. agreed by phone")
        self.note.setAccessibleName("Reason")
        self.error = QLabel("", self)
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Invoice", self.invoice)
        form.addRow("For", self.person)
        self.partner_label = QLabel("Or a partner", self)
        form.addRow(self.partner_label, self.partner)
        form.addRow("Amount", self.amount)
        form.addRow("Reason", self.note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("Add")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        root = QVBoxLayout(self)
        root.addLayout(form)
        root.addWidget(self.error)
        root.addWidget(buttons)
        self.resize(460, 260)
        shown_if(self.partner, session.can("admin", "view"))  # who may list partners
        shown_if(self.partner_label, session.can("admin", "view"))
        if session.can("admin", "view"):
            tasks.spawn(self._partners())

    async def _partners(self) -> None:
        try:
            found = await partners.list_partners(self.api)
        except ApiError:
            return
        if shiboken6.isValid(self):
            for partner in found.items:
                self.partner.addItem(partner.name, partner.id)

    def save(self) -> None:
        self.error.setText("")
        amount = format.parse_decimal(self.amount.text())
        if amount is None:
            self.error.setText("Type the amount as a number, e.g. 150.00.")
            return
        operations.run(
            self,
            self._add(self.invoice.text().strip(), amount),
            success=lambda _: self.accept(),
            changed=commissions.CHANGED,
            fields={
                "invoice_id": self.invoice,
                "user_id": self.person,
                "partner_id": self.partner,
                "amount": self.amount,
                "note": self.note,
            },
            busy=self.save_button,
        )

    async def _add(self, number: str, amount: Decimal) -> CommissionOut:
        found = await invoices.list_invoices(self.api, InvoiceQuery.model_construct(q=number, limit=20))
        match = next((i for i in found.items if (i.number or "").lower() == number.lower()), None)
        if match is None:
            raise ApiError(422, "invalid", "No invoice has this number.", field="invoice_id")
        partner_id = self.partner.currentData()
        body = ManualIn.model_construct(
            invoice_id=match.id,
            user_id=None if partner_id else self.person.user_id,
            partner_id=partner_id,
            amount=amount,
            note=self.note.text(),
        )
        return await commissions.add_manual(self.api, body)

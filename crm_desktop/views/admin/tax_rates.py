"""VAT rates: the rates products and document lines pick from ("Standard 19%"). Admins add,
rename, re-rate and (de)activate rates; rates are never deleted, because products and invoices
point at them, so "Deactivate" only hides a rate from new choices. Documents copy the rate onto
their lines, so changing a rate never rewrites an issued invoice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api import products
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import AdminPage, ScreenshotState, can, field, title_label
from crm_desktop.views.admin.sales_lists import OrderedList, failed
from crm_server.contract.auth import Me
from crm_server.contract.products import TaxRateOut

AREAS = admin_api.TAX_RATE_AREAS
CHANGED = admin_api.TAX_RATES
NOTE = "Changing a rate affects new lines only; issued invoices keep the rate they were issued with."


def percent(rate: Any) -> str:
    """The server's decimal string ("19.000") as a person writes it ("19")."""
    return format.quantity(rate)


def rate_text(rate: TaxRateOut) -> str:
    """A row such as "Standard 19%": the name, then the rate unless the name already says it."""
    value = percent(rate.rate)
    says_it = re.search(rf"(?<![\d.,]){re.escape(value)}\s?%", rate.name) is not None
    text = rate.name if says_it else f"{rate.name} {value}%"
    return text + ("  (inactive)" if not rate.active else "")


class RateDialog(QDialog):
    """A new VAT rate, or an existing one renamed / re-rated: a name and a percentage."""

    def __init__(
        self, parent: QWidget, title: str, submit: Callable[[RateDialog], None], rate: TaxRateOut | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("rateDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.name = QLineEdit(rate.name if rate else "")
        self.name.setMinimumWidth(320)
        self.name.setMaxLength(100)
        self.name.setAccessibleName("Name")
        self.name.setPlaceholderText("e.g. Standard, Reduced, Zero")
        self.rate = QDoubleSpinBox()
        self.rate.setAccessibleName("Rate")
        self.rate.setRange(0, 100)
        self.rate.setDecimals(3)
        self.rate.setSuffix(" %")
        self.rate.setMaximumWidth(160)
        self.rate.setValue(float(rate.rate) if rate else 0.0)
        form = QFormLayout()
        form.addRow("&Name", field(self.name))
        form.addRow("&Rate", field(self.rate, "Percent, 0 to 100, up to three decimals."))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(lambda: submit(self))
        self.buttons.rejected.connect(self.reject)
        note = QLabel(NOTE) if rate else None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        layout.addLayout(form)
        if note is not None:
            note.setWordWrap(True)
            note.setProperty("role", "muted")
            layout.addWidget(note)
        layout.addWidget(self.buttons)

    def fields(self) -> dict[str, QWidget]:
        return {"name": self.name, "rate": self.rate}

    def values(self) -> dict[str, Any]:
        return {"name": self.name.text().strip(), "rate": f"{self.rate.value():.3f}"}


class TaxRatesPage(AdminPage):
    """One list of VAT rates with Add (Ins), Edit (F2/Enter) and Activate/Deactivate (Ctrl+D)."""

    title = "VAT rates"
    areas = AREAS
    live_entities = frozenset({"tax_rate"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.rates: dict[int, TaxRateOut] = {}
        self.order: list[int] = []
        self.list = OrderedList("taxRateList", "VAT rates")
        self.list.movable = False
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        self.list.currentItemChanged.connect(lambda *_: self._update_actions())
        self.list.itemActivated.connect(lambda _: self.edit())
        self.empty = QLabel("No VAT rates yet. Add one with “Add…” (Ins).")
        self.empty.setProperty("role", "muted")
        self.empty.setWordWrap(True)
        self.note = QLabel(NOTE)
        self.note.setObjectName("taxRateNote")
        self.note.setWordWrap(True)
        self.note.setProperty("role", "muted")
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Add a VAT rate (Ins)")
        self.add_button.clicked.connect(self.add)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip("Rename or re-rate the selected VAT rate (F2, Enter)")
        self.edit_button.clicked.connect(self.edit)
        self.active_button = QPushButton("Deactivate")
        self.active_button.setToolTip("Hidden from new choices; products and invoices that use it keep it (Ctrl+D)")
        self.active_button.clicked.connect(self.toggle_active)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.active_button):
            buttons.addWidget(button)
        buttons.addStretch(1)

        self.root.addWidget(
            title_label(
                "VAT rates",
                "The rates products and document lines use. Rates are never deleted; an inactive "
                "rate stays on the products and invoices that have it but is no longer offered.",
            )
        )
        self.root.addWidget(self.notice)
        self.root.addWidget(self.list, 1)
        self.root.addWidget(self.empty)
        self.root.addWidget(self.note)
        self.root.addLayout(buttons)
        self.shortcut(QKeySequence(Qt.Key.Key_Insert), self.add, widget=self.list)
        self.shortcut(QKeySequence(Qt.Key.Key_F2), self.edit, widget=self.list)
        self.shortcut(QKeySequence("Ctrl+D"), self.toggle_active, widget=self.list)
        self._update_actions()

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        self.load(products.tax_rates(self.api), self._arrived)

    def _arrived(self, rates: list[TaxRateOut], select: int | None = None) -> None:
        self.rates = {r.id: r for r in rates}
        self.order = [r.id for r in rates]
        self.list.fill([(r.id, rate_text(r)) for r in rates], select)
        self.empty.setVisible(not rates)
        self.list.setVisible(bool(rates))
        self._update_actions()

    def current(self) -> TaxRateOut | None:
        row_id = self.list.current_id()
        return None if row_id is None else self.rates.get(row_id)

    def _update_actions(self) -> None:
        rate = self.current()
        edit = can(self.me, "edit")
        self.add_button.setEnabled(edit)
        self.edit_button.setEnabled(edit and rate is not None)
        self.active_button.setEnabled(edit and rate is not None)
        self.active_button.setText("Activate" if rate is not None and not rate.active else "Deactivate")

    # --- changes -------------------------------------------------------------------------------

    def _saved(self, rate: TaxRateOut, message: str) -> None:
        self.rates[rate.id] = rate
        rates = sorted(self.rates.values(), key=lambda r: (-r.rate, r.name))
        self._arrived(rates, select=rate.id)
        self.say(message)

    def add(self) -> None:
        if not can(self.me, "edit"):
            return

        def submit(dialog: RateDialog) -> None:
            def created(rate: TaxRateOut) -> None:
                dialog.accept()
                self._saved(rate, f"The VAT rate {rate_text(rate)} is added.")

            operations.run(
                dialog,
                admin_api.create_tax_rate(self.api, {**dialog.values(), "active": True}),
                success=created,
                changed=CHANGED,
                fields=dialog.fields(),
                busy=dialog.buttons,
            )

        RateDialog(self, "New VAT rate", submit).open()

    def _patch(
        self,
        rate: TaxRateOut,
        changes: dict[str, Any],
        message: Callable[[TaxRateOut], str],
        dialog: RateDialog | None = None,
    ) -> None:
        def saved(result: TaxRateOut) -> None:
            if dialog is not None:
                dialog.accept()
            self._saved(result, message(result))

        task = operations.run(
            dialog or self,
            admin_api.update_tax_rate(self.api, rate.id, {**changes, "version": rate.version}),
            success=saved,
            changed=CHANGED,
            fields=dialog.fields() if dialog else None,
            reload=self.reload,
            busy=dialog.buttons if dialog else None,
        )
        task.add_done_callback(lambda t: self._update_actions() if failed(t) else None)

    def edit(self) -> None:
        rate = self.current()
        if rate is None or not can(self.me, "edit"):
            return

        def submit(dialog: RateDialog) -> None:
            values = dialog.values()
            changes = {
                k: v for k, v in values.items() if (Decimal(v) != rate.rate if k == "rate" else v != getattr(rate, k))
            }
            if not changes:
                dialog.accept()
                return
            self._patch(rate, changes, lambda r: f"The VAT rate is now {rate_text(r)}.", dialog=dialog)

        RateDialog(self, "Edit VAT rate", submit, rate=rate).open()

    def toggle_active(self) -> None:
        rate = self.current()
        if rate is None or not can(self.me, "edit"):
            return
        active = not rate.active
        verb = (
            "active again" if active else "inactive: no longer offered, kept on the products and invoices that use it"
        )
        self._patch(rate, {"active": active}, lambda r: f"The VAT rate {r.name} is {verb}.")

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-vat-rates", lambda: None)]

"""The product editor: one dialog for New product and Edit product.

What can be told here is told at once (a name, a price with at most two decimals); what only the
server knows (a SKU taken by another product) comes back as a field error and is shown under the
field it is about. Saving goes through ``operations.run`` only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import products
from crm_desktop.operations.errors import mark_field
from crm_desktop.session import Session
from crm_desktop.widgets.form import field
from crm_server.contract.products import ProductIn, ProductOut, ProductUpdate, TaxRateOut

UNITS = ("pcs", "h", "day", "month", "kg", "g", "m", "m2", "l", "set", "box")


def parse_price(text: str) -> Decimal | None:
    """A price as typed ("12,50" or "1 200.5"); None when it is not one the server would take."""
    value = format.parse_decimal(text)
    if value is None or value < 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
        return None
    return value


class ProductDialog(QDialog):
    """New product (`product` None) or Edit product; `saved` carries the product as the server has it
    (a ProductOut)."""

    saved = Signal(object)

    def __init__(
        self,
        session: Session,
        tax_rates: list[TaxRateOut],
        product: ProductOut | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.product = product
        self.setObjectName("productDialog")
        self.setWindowTitle(f"Edit {product.sku}" if product else "New product")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(620)
        p = product
        self.sku = QLineEdit(p.sku if p else "")
        self.sku.setPlaceholderText("HW-001")
        self.name = QLineEdit(p.name if p else "")
        self.name.setPlaceholderText("Barcode scanner")
        self.description = QPlainTextEdit((p.description if p else None) or "")
        self.description.setFixedHeight(70)
        self.unit = QComboBox()
        self.unit.setEditable(True)
        self.unit.addItems(UNITS)
        self.unit.setCurrentText(p.unit if p else "pcs")
        self.unit_price = QLineEdit(str(p.unit_price) if p else "")
        self.unit_price.setPlaceholderText("0.00")
        self.currency = QLineEdit(p.currency if p else "")
        self.currency.setMaxLength(3)
        self.currency.setPlaceholderText("Base currency")
        self.tax_rate = QComboBox()
        for rate in tax_rates:
            if rate.active or (p is not None and rate.id == p.tax_rate_id):
                self.tax_rate.addItem(rate.name, rate.id)
        if p is not None:
            self.tax_rate.setCurrentIndex(max(self.tax_rate.findData(p.tax_rate_id), 0))
        self.stock_tracked = QCheckBox("Track stock of this product")
        self.stock_tracked.setChecked(bool(p and p.stock_tracked))

        columns = QHBoxLayout()
        columns.setSpacing(18)
        left, right = QVBoxLayout(), QVBoxLayout()
        for column in (left, right):
            column.setSpacing(10)
            columns.addLayout(column, 1)
        field(left, "&SKU", self.sku, "Unique; upper and lower case count as the same.")
        field(left, "&Name", self.name)
        field(left, "&Description", self.description)
        field(right, "&Unit price", self.unit_price)
        field(right, "&Currency", self.currency)
        field(right, "U&nit", self.unit)
        field(right, "&VAT rate", self.tax_rate)
        right.addWidget(self.stock_tracked)
        left.addStretch(1)
        right.addStretch(1)
        self.fields: dict[str, QWidget] = {
            "sku": self.sku,
            "name": self.name,
            "description": self.description,
            "unit": self.unit,
            "unit_price": self.unit_price,
            "currency": self.currency,
            "tax_rate_id": self.tax_rate,
            "stock_tracked": self.stock_tracked,
        }

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Save product" if product else "Create product")
        self.ok.setProperty("role", "primary")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 18)
        layout.setSpacing(14)
        layout.addLayout(columns)
        layout.addWidget(self.buttons)
        QShortcut(QKeySequence("Ctrl+Return"), self).activated.connect(self.submit)
        (self.name if product else self.sku).setFocus()
        self._saved = self.values() if product else {}

    def values(self) -> dict[str, Any]:
        price = parse_price(self.unit_price.text())
        return {
            "sku": self.sku.text().strip(),
            "name": self.name.text().strip(),
            "description": self.description.toPlainText().strip() or None,
            "unit": self.unit.currentText().strip(),
            "unit_price": None if price is None else str(price),
            "currency": self.currency.text().strip().upper() or None,
            "tax_rate_id": self.tax_rate.currentData(),
            "stock_tracked": self.stock_tracked.isChecked(),
        }

    def check(self) -> bool:
        """What can be told without the server, first field first."""
        problems = [
            (self.sku, not self.sku.text().strip(), "A product needs a SKU."),
            (self.name, not self.name.text().strip(), "A product needs a name."),
            (
                self.unit_price,
                parse_price(self.unit_price.text()) is None,
                "A price of zero or more, with at most two decimals.",
            ),
            (self.unit, not self.unit.currentText().strip(), "A unit is needed (pcs, h, kg…)."),
            (self.tax_rate, self.tax_rate.currentData() is None, "Choose a VAT rate."),
        ]
        for widget, bad, message in problems:
            if bad:
                mark_field(widget, message)
                return False
        return True

    def submit(self) -> None:
        if not self.check():
            return
        values = self.values()
        api = self.session.api
        # What the person typed goes unchecked (model_construct): the server judges it and names the field.
        if self.product is None:
            typed = ProductIn.model_construct(**{k: v for k, v in values.items() if v is not None})
            call = products.create_product(api, typed)
        else:
            changes = {k: v for k, v in values.items() if v != self._saved.get(k)}
            if not changes:
                self.accept()
                return
            update = ProductUpdate.model_construct(**changes, version=self.product.version)
            call = products.update_product(api, self.product.id, update)
        operations.run(self, call, success=self._done, changed=products.CHANGED, fields=self.fields, busy=self.ok)

    def _done(self, product: ProductOut) -> None:
        self.saved.emit(product)
        self.accept()

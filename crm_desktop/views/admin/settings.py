"""Settings: company details and logo, outgoing email (SMTP) with a test button, security policy,
sales and invoices (base currency, VAT rounding, payment terms, document number formats), stock
(whether negative stock is allowed).

Only changed keys are sent (common.SettingsForm), so two admins editing different settings do not
overwrite each other. The SMTP password is write-only: the server says whether one is set, never
what it is; typing a new one replaces it. "Send test email" saves pending changes first (the test
uses the stored settings) and shows the SMTP server's own words when it fails.
"""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QRegularExpression, Qt
from PySide6.QtGui import QPixmap, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from crm_desktop.api import admin as admin_api
from crm_desktop.api import stock
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.operations import handle_error
from crm_desktop.views.admin.common import (
    AdminPage,
    Event,
    ScreenshotState,
    SettingsForm,
    can,
    field,
    in_row,
    scrolled,
    title_label,
    tone,
)
from crm_server.contract.auth import Me
from crm_server.contract.stock import WarehouseOut

LOGO_KEY = "company.logo_png"
PASSWORD_KEY = "smtp.password"
MAX_LOGO_BYTES = 512 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class SettingsPage(AdminPage, SettingsForm):
    """One form over the settings the server defines (crm_server/admin/settings.py DEFINITIONS)."""

    title = "Settings"
    areas = admin_api.SETTINGS

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.init_form(self)
        self.logo_b64: str = ""

        # --- company
        self.company_name = self.text_input("company.name")
        self.company_address = self.text_input("company.address")
        self.company_vat = self.text_input("company.vat_number")
        self.company_email = self.text_input("company.email")
        self.company_phone = self.text_input("company.phone")
        self.company_country = self.text_input("company.default_country")
        self.company_country.setMaxLength(2)
        self.company_country.setMaximumWidth(60)
        self.logo_preview = QLabel("No logo")
        self.logo_preview.setObjectName("logoPreview")
        self.logo_preview.setFixedSize(180, 72)
        self.logo_preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.logo_preview.setProperty("role", "muted")
        self.logo_preview.setFrameShape(QLabel.Shape.StyledPanel)
        self.bind(LOGO_KEY, self.logo_preview, lambda: self.logo_b64, lambda v: self._show_logo(str(v or "")))
        choose_logo = QPushButton("Choose PNG…")
        choose_logo.clicked.connect(self.ask_logo)
        self.remove_logo = QPushButton("Remove")
        self.remove_logo.clicked.connect(lambda: self.set_logo(""))
        logo_box = in_row(self.logo_preview, choose_logo, self.remove_logo, stretch=True)
        company = self.group(
            "Company",
            [
                ("Name", field(self.company_name)),
                ("Address", field(self.company_address)),
                ("VAT number", field(self.company_vat)),
                ("Email", field(self.company_email)),
                ("Phone", field(self.company_phone)),
                ("Default phone country", field(self.company_country, "Two-letter code, e.g. RO, DE, GB.")),
                ("Logo", field(logo_box, "PNG, up to 512 KB; shown on proposals and invoices.")),
            ],
        )

        # --- smtp
        self.smtp_host = self.text_input("smtp.host")
        self.smtp_port = self.spin_input("smtp.port", 1, 65535, name="SMTP port", width=120)
        self.smtp_security = QComboBox()
        self.smtp_security.setAccessibleName("SMTP security")
        self.smtp_security.setMaximumWidth(200)
        for value, label in (("none", "None (plain)"), ("starttls", "STARTTLS"), ("tls", "TLS (SSL)")):
            self.smtp_security.addItem(label, value)
        self.bind("smtp.security", self.smtp_security)
        self.smtp_user = self.text_input("smtp.user")
        self.smtp_password = self.secret_input(PASSWORD_KEY)
        self.smtp_sender = self.text_input("smtp.sender")
        self.public_url = self.text_input("app.public_url")
        self.public_url.setPlaceholderText("https://crm.example.com")
        self.test_to = QLineEdit(me.email)
        self.test_to.setAccessibleName("Send the test email to")
        self.test_button = QPushButton("Send test email")
        self.test_button.setObjectName("sendTestEmail")
        self.test_button.clicked.connect(self.send_test)
        self.test_result = QLabel("")
        self.test_result.setObjectName("testEmailResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_box = in_row(self.test_to, self.test_button, grow=self.test_to)
        smtp = self.group(
            "Outgoing email (SMTP)",
            [
                ("Host", field(self.smtp_host)),
                ("Port", field(self.smtp_port)),
                ("Security", field(self.smtp_security)),
                ("User", field(self.smtp_user)),
                ("Password", field(self.smtp_password, "Leave empty to keep the stored password.")),
                ("Sender address", field(self.smtp_sender)),
                ("Server address", field(self.public_url, "How people reach this server, for links in emails.")),
                ("Test", test_box),
                ("", self.test_result),
            ],
        )

        # --- security
        self.idle_minutes = self.spin_input("security.session_idle_minutes", 5, 720, " minutes", "Session idle timeout")
        self.password_min = self.spin_input(
            "security.password_min_length", 12, 64, " characters", "Minimum password length"
        )
        self.require_2fa = self.check_input("security.require_2fa_for_all", "Require two-factor sign-in for everyone")
        self.export_days = self.spin_input("exports.keep_days", 1, 365, " days", "Keep export files")
        security = self.group(
            "Security",
            [
                ("Sign out after", field(self.idle_minutes, "of inactivity.")),
                ("Minimum password length", field(self.password_min)),
                ("", field(self.require_2fa, "Everyone sets up an authenticator app at their next sign-in.")),
                ("Keep export files", field(self.export_days, "then they are removed; people export again.")),
            ],
        )

        # --- sales and invoices
        self.base_currency = self.text_input("sales.base_currency")
        self.base_currency.setMaxLength(3)
        self.base_currency.setMaximumWidth(80)
        self.base_currency.setValidator(
            QRegularExpressionValidator(QRegularExpression("[A-Za-z]{0,3}"), self.base_currency)
        )
        self.base_currency.textEdited.connect(self._upper_currency)
        self.tax_rounding = QComboBox()
        self.tax_rounding.setAccessibleName("VAT rounding")
        self.tax_rounding.setMaximumWidth(200)
        for value, label in (("line", "Per line"), ("document", "Per document")):
            self.tax_rounding.addItem(label, value)
        self.bind("sales.tax_rounding", self.tax_rounding)
        self.payment_terms = self.spin_input("invoices.payment_terms_days", 0, 365, " days", "Payment terms")
        self.invoice_format = self.text_input("invoices.number_format")
        self.credit_note_format = self.text_input("invoices.credit_note_format")
        self.format_examples: dict[QLineEdit, QLabel] = {}
        self.recurring_hour = self.spin_input(
            "invoices.recurring_hour", 0, 23, ":00", "Hour recurring invoices are made"
        )
        self.recurring_hour.setPrefix("at ")
        self.recurring_send = self.check_input(
            "invoices.recurring_send", "Email recurring invoices to the client when made"
        )
        self.recurring_only_paid = self.check_input("invoices.recurring_only_paid", "Recur only from paid invoices")
        sales = self.group(
            "Sales and invoices",
            [
                ("Base currency", field(self.base_currency, "Three-letter code, e.g. EUR, USD, RON.")),
                (
                    "VAT rounding",
                    field(
                        self.tax_rounding,
                        (
                            "Per line rounds the VAT of every line to the cent; per document adds up the lines of each "
                            "rate and rounds their VAT once, which can differ by a cent or two."
                        ),
                    ),
                ),
                ("Payment terms", field(self.payment_terms, "Due date of new invoices, counted from the issue date.")),
                ("Invoice numbers", self._format_field(self.invoice_format)),
                ("Credit note numbers", self._format_field(self.credit_note_format)),
                ("Recurring invoices", field(self.recurring_hour, 'Server time; an admin\'s "Run now" ignores it.')),
                ("", field(self.recurring_send, "Needs the client's email address and the SMTP settings above.")),
                ("", field(self.recurring_only_paid, "An unpaid source invoice is skipped; the job log says why.")),
            ],
        )

        # --- stock
        self.allow_negative = self.check_input("stock.allow_negative", "Allow negative stock")
        self.allow_negative.setObjectName("allowNegativeStock")
        self.invoice_warehouse = QComboBox()
        self.invoice_warehouse.setObjectName("invoiceWarehouse")
        self.invoice_warehouse.setAccessibleName("Warehouse of issued invoices")
        self.invoice_warehouse.setMinimumWidth(240)
        self.invoice_warehouse.addItem("The first active warehouse", 0)
        self.bind("stock.invoice_warehouse_id", self.invoice_warehouse)
        stock = self.group(
            "Stock",
            [
                (
                    "Invoices reserve in",
                    field(
                        self.invoice_warehouse,
                        (
                            "Issuing an invoice holds its stock-tracked lines there until they are delivered or the "
                            "invoice is cancelled."
                        ),
                    ),
                ),
                (
                    "",
                    field(
                        self.allow_negative,
                        (
                            "Off: a delivery or reservation beyond what is available is refused, naming the product. "
                            "On: it goes through and the stock shows below zero until goods arrive."
                        ),
                    ),
                ),
            ],
        )

        scroll, _ = scrolled(company, smtp, security, sales, stock)
        self.root.addWidget(
            title_label("Settings", "Company details, outgoing email, the security policy, sales and invoices, stock.")
        )
        self.root.addWidget(self.notice)
        self.root.addWidget(scroll, 1)
        self.root.addLayout(self.form_buttons())
        self.setEnabled(False)  # until the first answer
        self.update_actions()

    # --- building ------------------------------------------------------------------------------

    def _format_field(self, edit: QLineEdit) -> QWidget:
        """A number format with a live example of the number it makes ("INV-2026-000123")."""
        box = field(edit, "{year} is the year, {seq:06d} the running number with six digits.")
        example = QLabel("")
        example.setProperty("role", "caption")
        example.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = box.layout()
        assert layout is not None
        layout.addWidget(example)
        self.format_examples[edit] = example
        edit.textChanged.connect(lambda _: self._show_example(edit))
        return box

    def _show_example(self, edit: QLineEdit) -> None:
        text = edit.text().strip()
        try:
            number = text.format(year=date.today().year, seq=123) if "{seq" in text else ""
        except (KeyError, IndexError, ValueError, AttributeError):
            number = ""
        self.format_examples[edit].setText(
            f"Example: {number}" if number else "Not a valid format: it needs {seq}, e.g. INV-{year}-{seq:06d}."
        )

    def _upper_currency(self, text: str) -> None:
        if text != text.upper():
            position = self.base_currency.cursorPosition()
            self.base_currency.setText(text.upper())
            self.base_currency.setCursorPosition(position)
            self._changed()

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        async def both() -> tuple[dict[str, Any], list[WarehouseOut]]:
            settings = await admin_api.get_settings(self.api)
            warehouses = await stock.list_warehouses(self.api, include_inactive=False) if can_view_stock else []
            return settings.values, warehouses

        def arrived(answer: tuple[dict[str, Any], list[WarehouseOut]]) -> None:
            values, warehouses = answer
            self.invoice_warehouse.blockSignals(True)
            while self.invoice_warehouse.count() > 1:
                self.invoice_warehouse.removeItem(1)
            for warehouse in warehouses:
                self.invoice_warehouse.addItem(warehouse.name, warehouse.id)
            chosen = values.get("stock.invoice_warehouse_id") or 0
            if self.invoice_warehouse.findData(chosen) < 0:
                self.invoice_warehouse.addItem(f"Warehouse #{chosen} (inactive)", chosen)
            self.invoice_warehouse.blockSignals(False)
            self.show_values(values)

        can_view_stock = can(self.me, "view", "stock")
        self.load(both(), arrived)

    def on_reset(self) -> None:
        if not (self.loaded and self.keep_edits()):
            super().on_reset()

    def on_live_event(self, event: Event) -> None:
        if self.loaded and event.entity == "settings" and not self.keep_edits():
            self.reload()

    def _show_logo(self, b64: str) -> None:
        self.logo_b64 = b64
        pixmap = QPixmap()
        if b64 and pixmap.loadFromData(QByteArray(base64.b64decode(b64)), "PNG"):
            self.logo_preview.setPixmap(
                pixmap.scaled(
                    self.logo_preview.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        else:
            self.logo_preview.setPixmap(QPixmap())
            self.logo_preview.setText("No logo")
        self.remove_logo.setEnabled(bool(b64))

    # --- editing -------------------------------------------------------------------------------

    def form_actions(self, changes: dict[str, Any]) -> None:
        self.test_button.setEnabled(self.can_edit())

    def ask_logo(self) -> None:
        dialog = QFileDialog(self, "Choose the company logo")
        dialog.setObjectName("logoDialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilter("PNG images (*.png)")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.fileSelected.connect(self.load_logo)
        dialog.open()

    def load_logo(self, path: str) -> None:
        """Read a PNG from disk into the form (saved with the other changes)."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            self.say(f"Could not read {path}: {exc}", error=True)
            return
        if not data.startswith(PNG_SIGNATURE):
            self.say("The logo must be a PNG image.", error=True)
            return
        if len(data) > MAX_LOGO_BYTES:
            self.say(f"The logo is {len(data) // 1024} KB; keep it under {MAX_LOGO_BYTES // 1024} KB.", error=True)
            return
        self.say("")
        self.set_logo(base64.b64encode(data).decode("ascii"))

    def set_logo(self, b64: str) -> None:
        self._show_logo(b64)
        self.update_actions()

    def send_test(self) -> None:
        """Save what is pending (the test uses stored settings), then ask the server to send."""
        self._test_says("Sending…", "muted")
        self.test_button.setEnabled(False)
        self.load(self._send_test(), lambda _: None)

    async def _send_test(self) -> None:
        try:
            if not await self.save_pending():
                self._test_says("Fix the settings above first.", "danger")
                return
            to = self.test_to.text().strip()
            try:
                await admin_api.send_test_email(self.api, to)
            except ApiError as exc:
                if exc.code.startswith("smtp") or exc.field == "to":
                    # The SMTP server's own words: what the admin needs to fix the settings.
                    self._test_says(exc.message, "danger")
                    return
                self.test_result.setText("")
                handle_error(self, exc)
                return
            self._test_says(f"Sent to {to}. Check that inbox.", "success")
        finally:
            self.test_button.setEnabled(self.can_edit())

    def _test_says(self, text: str, token: str) -> None:
        self.test_result.setText(text)
        self.test_result.setStyleSheet(f"color: {tone(token)};")

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-settings", lambda: None)]

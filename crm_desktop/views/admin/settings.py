"""Settings: company details and logo, outgoing email (SMTP) with a test button, security policy,
sales and invoices (base currency, VAT rounding, payment terms, document number formats), stock
(whether negative stock is allowed).

Only changed keys are sent (PATCH /api/settings), so two admins editing different settings do not
overwrite each other. The SMTP password is write-only: the server says whether one is set, never
what it is; typing a new one replaces it. "Send test email" saves pending changes first (the test
uses the stored settings) and shows the SMTP server's own words when it fails.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QRegularExpression, Qt
from PySide6.QtGui import QKeySequence, QPixmap, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.operations import handle_error
from crm_desktop.views.admin.common import AdminPage, Event, ScreenshotState, can, field, title_label, tone

SETTINGS = frozenset({"admin.settings"})
LOGO_KEY = "company.logo_png"
PASSWORD_KEY = "smtp.password"
MAX_LOGO_BYTES = 512 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SET_PLACEHOLDER = "••• set"


class SettingsPage(AdminPage):
    """One form over the settings the server defines (crm_server/admin/settings.py DEFINITIONS)."""

    title = "Settings"
    areas = SETTINGS

    def __init__(self, api: ApiClient, me: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.stored: dict[str, Any] = {}
        self.logo_b64: str = ""
        self.inputs: dict[str, QWidget] = {}
        self._loading = False

        # --- company
        self.company_name = self._text("company.name")
        self.company_address = self._text("company.address")
        self.company_vat = self._text("company.vat_number")
        self.company_email = self._text("company.email")
        self.company_phone = self._text("company.phone")
        self.company_country = self._text("company.default_country")
        self.company_country.setMaxLength(2)
        self.company_country.setMaximumWidth(60)
        self.logo_preview = QLabel("No logo")
        self.logo_preview.setObjectName("logoPreview")
        self.logo_preview.setFixedSize(180, 72)
        self.logo_preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.logo_preview.setProperty("role", "muted")
        self.logo_preview.setFrameShape(QLabel.Shape.StyledPanel)
        self.inputs[LOGO_KEY] = self.logo_preview
        choose_logo = QPushButton("Choose PNG…")
        choose_logo.clicked.connect(self.ask_logo)
        self.remove_logo = QPushButton("Remove")
        self.remove_logo.clicked.connect(lambda: self.set_logo(""))
        logo_row = QHBoxLayout()
        logo_row.setContentsMargins(0, 0, 0, 0)
        logo_row.addWidget(self.logo_preview)
        logo_row.addWidget(choose_logo, 0, Qt.AlignmentFlag.AlignBottom)
        logo_row.addWidget(self.remove_logo, 0, Qt.AlignmentFlag.AlignBottom)
        logo_row.addStretch(1)
        logo_box = QWidget()
        logo_box.setLayout(logo_row)
        company = self._group(
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
        self.smtp_host = self._text("smtp.host")
        self.smtp_port = QSpinBox()
        self.smtp_port.setRange(1, 65535)
        self.smtp_port.setMaximumWidth(120)
        self.smtp_port.setAccessibleName("SMTP port")
        self.smtp_port.valueChanged.connect(self._changed)
        self.inputs["smtp.port"] = self.smtp_port
        self.smtp_security = QComboBox()
        self.smtp_security.setAccessibleName("SMTP security")
        self.smtp_security.setMaximumWidth(200)
        for value, label in (("none", "None (plain)"), ("starttls", "STARTTLS"), ("tls", "TLS (SSL)")):
            self.smtp_security.addItem(label, value)
        self.smtp_security.currentIndexChanged.connect(self._changed)
        self.inputs["smtp.security"] = self.smtp_security
        self.smtp_user = self._text("smtp.user")
        self.smtp_password = self._text(PASSWORD_KEY)
        self.smtp_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.smtp_sender = self._text("smtp.sender")
        self.public_url = self._text("app.public_url")
        self.public_url.setPlaceholderText("https://crm.example.com")
        self.test_to = QLineEdit(str(me.get("email", "")))
        self.test_to.setAccessibleName("Send the test email to")
        self.test_button = QPushButton("Send test email")
        self.test_button.setObjectName("sendTestEmail")
        self.test_button.clicked.connect(self.send_test)
        self.test_result = QLabel("")
        self.test_result.setObjectName("testEmailResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row = QHBoxLayout()
        test_row.setContentsMargins(0, 0, 0, 0)
        test_row.addWidget(self.test_to, 1)
        test_row.addWidget(self.test_button)
        test_box = QWidget()
        test_box.setLayout(test_row)
        smtp = self._group(
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
        self.idle_minutes = QSpinBox()
        self.idle_minutes.setRange(5, 720)
        self.idle_minutes.setMaximumWidth(160)
        self.idle_minutes.setSuffix(" minutes")
        self.idle_minutes.setAccessibleName("Session idle timeout")
        self.idle_minutes.valueChanged.connect(self._changed)
        self.inputs["security.session_idle_minutes"] = self.idle_minutes
        self.password_min = QSpinBox()
        self.password_min.setRange(12, 64)
        self.password_min.setMaximumWidth(160)
        self.password_min.setSuffix(" characters")
        self.password_min.setAccessibleName("Minimum password length")
        self.password_min.valueChanged.connect(self._changed)
        self.inputs["security.password_min_length"] = self.password_min
        self.require_2fa = QCheckBox("Require two-factor sign-in for everyone")
        self.require_2fa.toggled.connect(self._changed)
        self.inputs["security.require_2fa_for_all"] = self.require_2fa
        security = self._group(
            "Security",
            [
                ("Sign out after", field(self.idle_minutes, "of inactivity.")),
                ("Minimum password length", field(self.password_min)),
                ("", field(self.require_2fa, "Everyone sets up an authenticator app at their next sign-in.")),
            ],
        )

        # --- sales and invoices
        self.base_currency = self._text("sales.base_currency")
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
        self.tax_rounding.currentIndexChanged.connect(self._changed)
        self.inputs["sales.tax_rounding"] = self.tax_rounding
        self.payment_terms = QSpinBox()
        self.payment_terms.setRange(0, 365)
        self.payment_terms.setMaximumWidth(160)
        self.payment_terms.setSuffix(" days")
        self.payment_terms.setAccessibleName("Payment terms")
        self.payment_terms.valueChanged.connect(self._changed)
        self.inputs["invoices.payment_terms_days"] = self.payment_terms
        self.invoice_format = self._text("invoices.number_format")
        self.credit_note_format = self._text("invoices.credit_note_format")
        self.format_examples: dict[QLineEdit, QLabel] = {}
        self.recurring_hour = QSpinBox()
        self.recurring_hour.setRange(0, 23)
        self.recurring_hour.setMaximumWidth(160)
        self.recurring_hour.setPrefix("at ")
        self.recurring_hour.setSuffix(":00")
        self.recurring_hour.setAccessibleName("Hour recurring invoices are made")
        self.recurring_hour.valueChanged.connect(self._changed)
        self.inputs["invoices.recurring_hour"] = self.recurring_hour
        self.recurring_send = QCheckBox("Email recurring invoices to the client when made")
        self.recurring_send.toggled.connect(self._changed)
        self.inputs["invoices.recurring_send"] = self.recurring_send
        self.recurring_only_paid = QCheckBox("Recur only from paid invoices")
        self.recurring_only_paid.toggled.connect(self._changed)
        self.inputs["invoices.recurring_only_paid"] = self.recurring_only_paid
        sales = self._group(
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
        self.allow_negative = QCheckBox("Allow negative stock")
        self.allow_negative.setObjectName("allowNegativeStock")
        self.allow_negative.toggled.connect(self._changed)
        self.inputs["stock.allow_negative"] = self.allow_negative
        self.invoice_warehouse = QComboBox()
        self.invoice_warehouse.setObjectName("invoiceWarehouse")
        self.invoice_warehouse.setAccessibleName("Warehouse of issued invoices")
        self.invoice_warehouse.setMinimumWidth(240)
        self.invoice_warehouse.addItem("The first active warehouse", 0)
        self.invoice_warehouse.currentIndexChanged.connect(self._changed)
        self.inputs["stock.invoice_warehouse_id"] = self.invoice_warehouse
        stock = self._group(
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

        self.save_button = QPushButton("Save")
        self.save_button.setProperty("role", "primary")
        self.save_button.setToolTip("Save the changed settings (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(lambda: self._show(self.stored))
        self.dirty_note = QLabel("")
        self.dirty_note.setProperty("role", "muted")

        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 8, 0)
        body_layout.setSpacing(14)
        for group in (company, smtp, security, sales, stock):
            body_layout.addWidget(group)
        body_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        bottom = QHBoxLayout()
        bottom.addWidget(self.dirty_note)
        bottom.addStretch(1)
        bottom.addWidget(self.revert_button)
        bottom.addWidget(self.save_button)

        self.root.addWidget(
            title_label("Settings", "Company details, outgoing email, the security policy, sales and invoices, stock.")
        )
        self.root.addWidget(self.notice)
        self.root.addWidget(scroll, 1)
        self.root.addLayout(bottom)
        self.shortcut(QKeySequence.StandardKey.Save, self.save)
        self.setEnabled(False)  # until the first answer
        self._update_actions()

    # --- building ------------------------------------------------------------------------------

    def _text(self, key: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setAccessibleName(key)
        edit.textEdited.connect(self._changed)
        self.inputs[key] = edit
        return edit

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

    @staticmethod
    def _group(title: str, rows: list[tuple[str, QWidget]]) -> QGroupBox:
        group = QGroupBox(title)
        form = QFormLayout(group)
        form.setSpacing(10)
        form.setContentsMargins(14, 14, 14, 14)
        for label, widget in rows:
            form.addRow(label, widget)
        return group

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        async def both() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            values = await self.api.get("/api/settings")
            warehouses = await self.api.get("/api/warehouses", include_inactive=False) if can_view_stock else []
            return values["values"], warehouses

        def arrived(answer: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
            values, warehouses = answer
            self.invoice_warehouse.blockSignals(True)
            while self.invoice_warehouse.count() > 1:
                self.invoice_warehouse.removeItem(1)
            for warehouse in warehouses:
                self.invoice_warehouse.addItem(warehouse["name"], warehouse["id"])
            chosen = values.get("stock.invoice_warehouse_id") or 0
            if self.invoice_warehouse.findData(chosen) < 0:
                self.invoice_warehouse.addItem(f"warehouse #{chosen} (inactive)", chosen)
            self.invoice_warehouse.blockSignals(False)
            self._show(values)

        can_view_stock = can(self.me, "view", "stock")
        self.load(both(), arrived)

    def on_reset(self) -> None:
        if self.loaded and self.pending():
            self.say("Settings may have changed elsewhere; save or revert your edits, then press F5.")
        else:
            super().on_reset()

    def on_live_event(self, event: Event) -> None:
        if self.loaded and event.get("entity") == "settings":
            if self.pending():
                self.say("Another admin changed settings; press F5 to see them (your unsaved edits would go).")
            else:
                self.reload()

    def _show(self, values: dict[str, Any]) -> None:
        self.stored = dict(values)
        self.setEnabled(True)
        self._loading = True
        try:
            for key, widget in self.inputs.items():
                value = values.get(key)
                if key == PASSWORD_KEY:
                    assert isinstance(widget, QLineEdit)
                    widget.clear()
                    widget.setPlaceholderText(SET_PLACEHOLDER if value else "not set")
                elif isinstance(widget, QLineEdit):
                    widget.setText("" if value is None else str(value))
                elif isinstance(widget, QSpinBox):
                    widget.setValue(int(value or 0))
                elif isinstance(widget, QComboBox):
                    widget.setCurrentIndex(max(widget.findData(value), 0))
                elif isinstance(widget, QCheckBox):
                    widget.setChecked(bool(value))
            self._show_logo(str(values.get(LOGO_KEY) or ""))
        finally:
            self._loading = False
        editable = can(self.me, "edit")
        for widget in self.inputs.values():
            widget.setEnabled(editable)
        self._update_actions()

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

    def _changed(self, *_: Any) -> None:
        if not self._loading:
            self._update_actions()

    def pending(self) -> dict[str, Any]:
        """The settings that differ from what the server last said."""
        out: dict[str, Any] = {}
        for key, widget in self.inputs.items():
            if key == LOGO_KEY:
                value: Any = self.logo_b64
            elif key == PASSWORD_KEY:
                assert isinstance(widget, QLineEdit)
                if widget.text():
                    out[key] = widget.text()
                continue
            elif isinstance(widget, QLineEdit):
                value = widget.text().strip()
            elif isinstance(widget, QSpinBox):
                value = widget.value()
            elif isinstance(widget, QComboBox):
                value = widget.currentData()
            elif isinstance(widget, QCheckBox):
                value = widget.isChecked()
            else:
                continue
            if value != self.stored.get(key):
                out[key] = value
        return out

    def _update_actions(self) -> None:
        changes = self.pending()
        editable = can(self.me, "edit")
        self.save_button.setEnabled(editable and bool(changes))
        self.revert_button.setEnabled(bool(changes))
        self.test_button.setEnabled(editable)
        n = len(changes)
        self.dirty_note.setText(f"{n} unsaved change{'s' if n != 1 else ''}" if n else "")

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
        self._update_actions()

    def save(self) -> asyncio.Task[Any] | None:
        changes = self.pending()
        if not changes or not can(self.me, "edit"):
            return None
        self.save_button.setEnabled(False)

        def saved(result: dict[str, Any]) -> None:
            self._show(result["values"])
            self.say(f"Saved {len(changes)} setting{'s' if len(changes) != 1 else ''}.")

        task = operations.run(
            self,
            self.api.patch("/api/settings", {"values": changes}),
            success=saved,
            changed=SETTINGS,
            fields=self.inputs,
        )
        task.add_done_callback(lambda _: self._update_actions())
        return task

    def send_test(self) -> None:
        """Save what is pending (the test uses stored settings), then ask the server to send."""
        self._test_says("Sending…", "muted")
        self.test_button.setEnabled(False)
        self.load(self._send_test(), lambda _: None)

    async def _send_test(self) -> None:
        try:
            if self.pending():
                save = self.save()
                if save is not None and await save is None:
                    self._test_says("Fix the settings above first.", "danger")
                    return
            to = self.test_to.text().strip()
            try:
                await self.api.post("/api/settings/test-email", {"to": to})
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
            self.test_button.setEnabled(can(self.me, "edit"))

    def _test_says(self, text: str, token: str) -> None:
        self.test_result.setText(text)
        self.test_result.setStyleSheet(f"color: {tone(token)};")

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-settings", lambda: None)]

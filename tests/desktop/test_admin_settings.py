"""Admin panel, settings page: SMTP set up through the form, "Send test email" really delivers to
the loopback SMTP server, and a wrong port shows the SMTP error exactly as the server reports it.
The SMTP password is write-only; the logo is stored as base64 PNG."""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from crm_desktop.api.client import ApiError
from crm_desktop.operations import errors
from crm_desktop.views.admin.common import SET_PLACEHOLDER
from crm_desktop.views.admin.settings import SettingsPage
from tests.desktop.conftest import ADMIN_EMAIL, Desk
from tests.desktop.test_admin_panel import (
    focus,
    open_panel,
    settle,
)
from tests.support import Smtp, free_port


def retype(qtbot: QtBot, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, text)


def fill_smtp(qtbot: QtBot, page: SettingsPage, host: str, port: int) -> None:
    retype(qtbot, page.smtp_host, host)
    page.smtp_port.setValue(port)
    page.smtp_security.setCurrentIndex(page.smtp_security.findData("none"))
    retype(qtbot, page.smtp_sender, "crm@example.com")


def test_send_test_email_arrives(desk: Desk, qtbot: QtBot, smtp: Smtp) -> None:
    api, panel, page = open_panel(desk, qtbot, "settings")
    assert isinstance(page, SettingsPage)
    assert page.test_to.text() == ADMIN_EMAIL
    fill_smtp(qtbot, page, smtp.host, smtp.port)
    assert page.dirty_note.text() == "4 unsaved changes"
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)

    messages = desk.run(smtp.wait_for(1))
    assert messages[0]["To"] == ADMIN_EMAIL and messages[0]["Subject"] == "CRM test email"
    assert messages[0]["From"] == "crm@example.com"
    assert page.test_result.text() == f"Sent to {ADMIN_EMAIL}. Check that inbox."
    # The test saved the form first: the server holds what was typed, nothing is left unsaved.
    values = desk.run(api.get("/api/settings"))["values"]
    assert (values["smtp.host"], values["smtp.port"], values["smtp.security"]) == (smtp.host, smtp.port, "none")
    assert page.pending() == {} and not page.save_button.isEnabled()


def test_wrong_port_shows_the_exact_smtp_error(desk: Desk, qtbot: QtBot, smtp: Smtp) -> None:
    api, panel, page = open_panel(desk, qtbot, "settings")
    closed = free_port()  # nothing listens there
    fill_smtp(qtbot, page, smtp.host, closed)
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)

    try:
        desk.run(api.post("/api/settings/test-email", {"to": ADMIN_EMAIL}))
    except ApiError as exc:
        expected = exc.message
    else:
        raise AssertionError("the server sent mail through a closed port")
    assert expected.startswith("SMTP error: ") and "refused" in expected.lower()
    assert page.test_result.text() == expected
    assert smtp.messages == []


def test_smtp_password_is_write_only_and_logo_is_stored(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api, panel, page = open_panel(desk, qtbot, "settings")
    assert page.smtp_password.placeholderText() == "not set"
    qtbot.keyClicks(page.smtp_password, "s3cret-pass")
    logo = QPixmap(40, 20)
    logo.fill(QColor("#3563d0"))
    path = tmp_path / "logo.png"
    assert logo.save(str(path), "PNG")
    page.load_logo(str(path))
    assert page.remove_logo.isEnabled()
    focus(desk, page.smtp_password)
    qtbot.keyClick(page.smtp_password, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # Ctrl+S
    settle(desk, panel)

    assert page.smtp_password.text() == ""  # never shown back
    assert page.smtp_password.placeholderText() == SET_PLACEHOLDER
    values = desk.run(api.get("/api/settings"))["values"]
    assert values["smtp.password"] is True  # the server says "set", never the value
    assert base64.b64decode(values["company.logo_png"]) == path.read_bytes()
    assert "Saved 2 settings." in page.notice_text.text()


def test_out_of_range_value_is_shown_next_to_its_field(desk: Desk, qtbot: QtBot) -> None:
    """The server's limit (session idle at most 720 minutes) comes back next to the field."""
    api, panel, page = open_panel(desk, qtbot, "settings")
    retype(qtbot, page.company_country, "DE")
    page.idle_minutes.setMaximum(10_000)  # the form's own limit is lifted, so the server's is tested
    page.idle_minutes.setValue(9_999)
    page.save_button.click()
    settle(desk, panel)

    assert errors.is_marked(page.idle_minutes)
    label = page.idle_minutes.property("_fieldErrorLabel")
    assert label is not None and label.text() == "Session idle timeout (minutes) must be at most 720"
    values = desk.run(api.get("/api/settings"))["values"]
    assert values["company.default_country"] == "RO"  # all or nothing: the valid change was not saved


def test_sales_and_invoice_settings_are_stored(desk: Desk, qtbot: QtBot) -> None:
    """VAT rounding per document and longer payment terms: chosen in the form, saved with Ctrl+S."""
    api, panel, page = open_panel(desk, qtbot, "settings")
    assert page.tax_rounding.currentText() == "Per line"
    assert page.payment_terms.value() == 14
    assert page.format_examples[page.invoice_format].text() == f"Example: INV-{date.today().year}-000123"
    assert page.format_examples[page.credit_note_format].text() == f"Example: CN-{date.today().year}-000123"

    focus(desk, page.tax_rounding)
    qtbot.keyClick(page.tax_rounding, Qt.Key.Key_Down)  # Per line -> Per document
    assert page.tax_rounding.currentText() == "Per document"
    page.payment_terms.selectAll()
    qtbot.keyClicks(page.payment_terms, "30")
    retype(qtbot, page.invoice_format, "F{year}/{seq:05d}")
    assert page.format_examples[page.invoice_format].text() == f"Example: F{date.today().year}/00123"
    assert page.dirty_note.text() == "3 unsaved changes"
    focus(desk, page.payment_terms)
    qtbot.keyClick(page.payment_terms, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # Ctrl+S
    settle(desk, panel)

    values = desk.run(api.get("/api/settings"))["values"]
    assert values["sales.tax_rounding"] == "document"
    assert values["invoices.payment_terms_days"] == 30
    assert values["invoices.number_format"] == "F{year}/{seq:05d}"
    assert values["sales.base_currency"] == "EUR"  # untouched
    assert "Saved 3 settings." in page.notice_text.text() and page.pending() == {}

    # Recurring invoices: the hour (server time) and the two switches, saved the same way.
    assert (page.recurring_hour.value(), page.recurring_send.isChecked()) == (6, False)
    page.recurring_hour.selectAll()
    qtbot.keyClicks(page.recurring_hour, "22")
    page.recurring_only_paid.click()
    assert page.pending() == {"invoices.recurring_hour": 22, "invoices.recurring_only_paid": True}
    qtbot.keyClick(page.recurring_hour, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    settle(desk, panel)
    values = desk.run(api.get("/api/settings"))["values"]
    assert (values["invoices.recurring_hour"], values["invoices.recurring_only_paid"]) == (22, True)
    assert values["invoices.recurring_send"] is False


def test_allow_negative_stock_is_a_box_in_the_stock_group(desk: Desk, qtbot: QtBot) -> None:
    """Off by default (deliveries beyond the available stock refused); ticked and saved with Ctrl+S."""
    api, panel, page = open_panel(desk, qtbot, "settings")
    assert page.allow_negative.text() == "Allow negative stock" and not page.allow_negative.isChecked()
    assert page.allow_negative.isEnabled()
    page.allow_negative.click()
    assert page.pending() == {"stock.allow_negative": True}
    focus(desk, page.allow_negative)
    qtbot.keyClick(page.allow_negative, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    settle(desk, panel)
    assert desk.run(api.get("/api/settings"))["values"]["stock.allow_negative"] is True
    assert page.pending() == {} and "Saved 1 setting." in page.notice_text.text()


def test_invoices_reserve_in_the_warehouse_chosen_by_name(desk: Desk, qtbot: QtBot) -> None:
    """The warehouse of issued invoices is picked by name among the active ones (default: the first)."""
    api, panel, page = open_panel(desk, qtbot, "settings")
    desk.run(api.post("/api/warehouses", {"name": "Main"}))
    shop = desk.run(api.post("/api/warehouses", {"name": "Shop"}))
    page.reload()
    desk.wait_until(lambda: page.invoice_warehouse.count() == 3, message="the warehouses did not load")
    names = [page.invoice_warehouse.itemText(i) for i in range(page.invoice_warehouse.count())]
    assert names == ["The first active warehouse", "Main", "Shop"]
    assert page.invoice_warehouse.currentData() == 0
    page.invoice_warehouse.setCurrentIndex(page.invoice_warehouse.findText("Shop"))
    assert page.pending() == {"stock.invoice_warehouse_id": shop["id"]}
    focus(desk, page.invoice_warehouse)
    qtbot.keyClick(page.invoice_warehouse, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    settle(desk, panel)
    assert desk.run(api.get("/api/settings"))["values"]["stock.invoice_warehouse_id"] == shop["id"]

"""The Invoices module driven as a person would: a draft written in the editor (a product found by
autocomplete, a free-text line, totals live as they are typed), issued, paid in two parts with an
overpayment refused naming the open amount, its PDF previewed, sent to the loopback SMTP server
(the job worker sends it; the editor shows Sent), cancelled with a credit note; the list's filters
and its Excel export read back; a bad quantity named at its cell."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from openpyxl import load_workbook
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from crm_desktop import format
from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.operations import errors
from crm_desktop.session import Session
from crm_desktop.views.invoices.dialogs import PaymentDialog, RecurrenceDialog, SendDialog
from crm_desktop.views.invoices.editor import InvoiceWindow, open_invoice
from crm_desktop.views.invoices.list import InvoicesPage
from crm_desktop.widgets.line_grid import LineGrid
from crm_desktop.widgets.pdf_preview import PdfPreviewDialog
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus, the_dialog
from tests.support import LiveServer, Smtp


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The app with its job worker on: sending an invoice is a job."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


# --- helpers (also used by test_sales_flow.py) -----------------------------------------------------


def signed_in(desk: Desk, live: bool = True) -> tuple[ApiClient, Session]:
    api = desk.signed_in_api("ada@example.com")
    session = Session(api, desk.run(auth.me(api)))
    if live:
        session.start()
        desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    return api, session


def rate_id(desk: Desk, api: ApiClient, name: str) -> int:
    return int(next(r["id"] for r in desk.run(api.get("/api/tax-rates")) if r["name"] == name))


_hosts: list[QWidget] = []


def host(qtbot: QtBot) -> QWidget:
    """A parent for editor windows, closed (with them) by qtbot at the end; kept alive until then
    (qtbot holds its widgets weakly)."""
    widget = QWidget()
    qtbot.addWidget(widget, before_close_func=lambda w: _hosts.remove(w) if w in _hosts else None)
    _hosts.append(widget)
    return widget


def editor(desk: Desk, parent: QWidget, session: Session, invoice_id: int | None, **kw: Any) -> InvoiceWindow:
    window = open_invoice(parent, session, invoice_id, **kw)
    assert isinstance(window, InvoiceWindow)
    desk.wait_until(
        lambda: not window.is_busy() and (invoice_id is None or window.invoice is not None),
        message="the invoice did not load",
    )
    return window


def click(qtbot: QtBot, button: QPushButton) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def answer(qtbot: QtBot, name: str, text: str) -> None:
    """Press the button called `text` of the visible message box `name`."""
    box = next(
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == name and w.isVisible()
    )
    button = next(b for b in box.buttons() if b.text() == text)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def retype(qtbot: QtBot, edit: QLineEdit, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, text)


def pick_client(desk: Desk, qtbot: QtBot, window: InvoiceWindow, typed: str) -> None:
    focus(desk, window.client)
    qtbot.keyClicks(window.client, typed)
    desk.wait_until(lambda: window.client.matches.rowCount() > 0, message="no client suggestions")
    window.client.choose(0)
    assert window.client.client_id is not None


def pick_product(desk: Desk, qtbot: QtBot, grid: LineGrid, row: int, typed: str) -> None:
    """Type into the product cell, wait for the suggestions, take the first with Down + Enter."""
    cell = grid.cell(row, "product")
    assert isinstance(cell, QLineEdit)
    focus(desk, cell)
    qtbot.keyClicks(cell, typed)
    desk.wait_until(lambda: bool(grid.product_suggestions(row)), message="no product suggestions")
    popup = cell.completer().popup()
    desk.wait_until(popup.isVisible, message="the suggestions did not pop up")
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    desk.wait_until(
        lambda: grid.lines_in() and grid.lines_in()[min(row, len(grid.lines_in()) - 1)]["product_id"],
        message="choosing the product did not fill the line",
    )


def make_client(desk: Desk, api: ApiClient, name: str, email: str | None = None) -> dict[str, Any]:
    return dict(desk.run(api.post("/api/clients", {"name": name, "email": email})))


def issued_invoice(
    desk: Desk, api: ApiClient, client_id: int, rate: int, price: str = "100.00", **fields: Any
) -> dict[str, Any]:
    draft = desk.run(
        api.post(
            "/api/invoices",
            {
                "client_id": client_id,
                **fields,
                "lines": [{"description": "Support hours", "quantity": "1", "unit_price": price, "tax_rate_id": rate}],
            },
        )
    )
    return dict(desk.run(api.post(f"/api/invoices/{draft['id']}/issue", {"version": draft["version"]})))


def pay(desk: Desk, qtbot: QtBot, window: InvoiceWindow, amount: str) -> PaymentDialog:
    click(qtbot, window.pay_button)
    dialog = the_dialog(PaymentDialog)
    retype(qtbot, dialog.amount, amount)
    click(qtbot, dialog.ok)
    return dialog


def pdf_attachments(message: Any) -> list[bytes]:
    return [part.get_content() for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]


# --- tests -----------------------------------------------------------------------------------------


def test_draft_issue_pay_preview_send_and_credit(desk: Desk, qtbot: QtBot, smtp: Smtp) -> None:
    api, session = signed_in(desk)
    desk.run(api.patch("/api/settings", {"values": smtp.settings()}))
    reduced = rate_id(desk, api, "Reduced 9%")
    standard = rate_id(desk, api, "Standard 19%")
    desk.run(
        api.post(
            "/api/products",
            {"sku": "HW-001", "name": "Barcode scanner", "unit_price": "149.90", "tax_rate_id": reduced},
        )
    )
    make_client(desk, api, "Acme SRL", "billing@acme-shop.com")
    window = editor(desk, host(qtbot), session, None)
    grid = window.grid
    assert window.badge.text() == "Draft" and not window.issue_button.isHidden()

    pick_client(desk, qtbot, window, "Acme")
    # Line 1 from the catalogue: description, price and VAT come from the product.
    pick_product(desk, qtbot, grid, 0, "scan")
    assert (grid.cell(0, "description").text(), grid.cell(0, "unit_price").text()) == ("Barcode scanner", "149.90")
    assert grid.cell(0, "tax_rate_id").currentData() == reduced
    quantity = grid.cell(0, "quantity")
    retype(qtbot, quantity, "2")
    qtbot.keyClick(quantity, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is grid.cell(0, "unit_price")  # Tab moves along the line
    assert grid.gross_label.text() == "Total 326.78 EUR"  # 299.80 + 9 % (26.982 -> 26.98), live
    # Enter on the last cell of the last line opens a new line, ready for the product.
    focus(desk, grid.cell(0, "tax_rate_id"))
    qtbot.keyClick(grid.cell(0, "tax_rate_id"), Qt.Key.Key_Return)
    assert grid.row_count() == 2 and QApplication.focusWidget() is grid.cell(1, "product")
    qtbot.keyClick(grid.cell(1, "product"), Qt.Key.Key_Delete)  # Delete on a blank line removes it
    assert grid.row_count() == 1
    focus(desk, grid.cell(0, "tax_rate_id"))
    qtbot.keyClick(grid.cell(0, "tax_rate_id"), Qt.Key.Key_Return)
    assert grid.row_count() == 2 and QApplication.focusWidget() is grid.cell(1, "product")
    # Line 2 as free text.
    qtbot.keyClick(grid.cell(1, "product"), Qt.Key.Key_Tab)
    qtbot.keyClicks(grid.cell(1, "description"), "Installation")
    retype(qtbot, grid.cell(1, "quantity"), "3")
    qtbot.keyClicks(grid.cell(1, "unit_price"), "40")
    grid.cell(1, "tax_rate_id").setCurrentIndex(grid.cell(1, "tax_rate_id").findData(standard))
    assert (grid.net_label.text(), grid.tax_label.text(), grid.gross_label.text()) == (
        "Net 419.80 EUR",
        "VAT 49.78 EUR",
        "Total 469.58 EUR",
    )
    # A line removed by mistake comes back with Ctrl+Z.
    focus(desk, grid.cell(1, "unit_price"))
    qtbot.keyClick(grid.cell(1, "unit_price"), Qt.Key.Key_Delete, Qt.KeyboardModifier.ControlModifier)
    assert grid.row_count() == 1 and grid.gross_label.text() == "Total 326.78 EUR"
    focus(desk, grid.cell(0, "description"))
    qtbot.keyClick(grid.cell(0, "description"), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert grid.row_count() == 2 and grid.gross_label.text() == "Total 469.58 EUR"

    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    desk.wait_until(lambda: window.invoice is not None and not window.dirty, message="the draft was not saved")
    assert window.invoice is not None
    saved = desk.run(api.get(f"/api/invoices/{window.invoice.id}"))
    assert (saved["status"], saved["number"], saved["gross_total"]) == ("draft", None, "469.58")
    assert [(line["product_id"] is not None, line["description"]) for line in saved["lines"]] == [
        (True, "Barcode scanner"),
        (False, "Installation"),
    ]

    click(qtbot, window.issue_button)
    answer(qtbot, "issueConfirm", "Issue")
    desk.wait_until(
        lambda: window.invoice is not None and window.invoice.status == "unpaid",
        message="the invoice was not issued",
    )
    number = window.invoice.number
    assert number is not None, window.invoice
    assert number.startswith("INV-") and number in window.title.text() and window.badge.text() == "Unpaid"
    assert grid.read_only and grid.cell(0, "quantity").isReadOnly() and not grid.add_button.isVisible()
    assert window.send_state.text() == "Unsent"

    first = pay(desk, qtbot, window, "200")
    desk.wait_until(lambda: window.invoice.status == "partially_paid", message="the payment did not count")
    assert not shiboken6.isValid(first) or not first.isVisible()
    desk.wait_until(lambda: window.payments_table.rowCount() == 1)
    assert window.badge.text() == "Partly paid" and "Open 269.58 EUR" in window.open_label.text()

    too_much = pay(desk, qtbot, window, "300")
    desk.wait_until(lambda: errors.is_marked(too_much.amount), message="the overpayment was not refused")
    assert "269.58" in too_much.amount.toolTip() and too_much.isVisible()
    retype(qtbot, too_much.amount, "269.58")
    click(qtbot, too_much.ok)
    desk.wait_until(lambda: window.invoice.status == "paid", message="the final payment did not count")
    assert window.badge.text() == "Paid" and window.pay_button.isHidden()
    assert not window.cancel_button.isEnabled() and "269.58" not in window.cancel_button.toolTip()

    click(qtbot, window.pdf_button)
    preview = the_dialog(PdfPreviewDialog)
    desk.wait_until(lambda: preview.page_count() >= 1, message="the PDF preview shows no pages")
    assert preview.save_button.isEnabled() and preview.pdf_bytes.startswith(b"%PDF")
    preview.close()

    click(qtbot, window.send_button)
    send = the_dialog(SendDialog)
    desk.wait_until(lambda: send.to.text() == "billing@acme-shop.com", message="the send dialog was not prefilled")
    assert number in send.subject.text()
    click(qtbot, send.ok)
    messages = desk.run(smtp.wait_for(1))
    assert messages[0]["To"] == "billing@acme-shop.com" and number in messages[0]["Subject"]
    attached = pdf_attachments(messages[0])
    assert len(attached) == 1 and attached[0].startswith(b"%PDF")
    desk.wait_until(
        lambda: window.invoice.send_status == "sent" and window.send_state.text().startswith("Sent"),
        message=f"the editor does not show Sent: {window.send_state.text()!r}",
    )
    desk.wait_until(
        lambda: window.emails_table.rowCount() == 1 and window.emails_table.item(0, 3).text() == "sent",
        message="the email is not in the history",
    )
    assert window.send_button.text() == "Send again…"

    # A second, unpaid invoice cancelled with a credit note (a paid one cannot be).
    client = desk.run(api.get("/api/clients", q="Acme"))["items"][0]
    other = issued_invoice(desk, api, client["id"], standard)
    second = editor(desk, host(qtbot), session, other["id"])
    click(qtbot, second.cancel_button)
    answer(qtbot, "cancelConfirm", "Cancel with credit note")
    desk.wait_until(
        lambda: (
            isinstance(getattr(second, "credit_window", None), InvoiceWindow)
            and second.credit_window.invoice is not None
        ),
        message="the credit note did not open",
    )
    credit = second.credit_window
    assert credit.invoice.kind == "credit_note" and str(credit.invoice.gross_total) == "-119.00"
    assert credit.badge.text() == "Credit note" and credit.title.text().startswith("Credit note ")
    desk.wait_until(lambda: second.invoice.status == "cancelled", message="the invoice is not cancelled")
    assert second.badge.text() == "Cancelled" and second.cancel_button.isHidden()


def test_bad_quantity_is_named_at_its_cell(desk: Desk, qtbot: QtBot) -> None:
    api, session = signed_in(desk, live=False)
    make_client(desk, api, "Beta GmbH")
    window = editor(desk, host(qtbot), session, None)
    grid = window.grid
    pick_client(desk, qtbot, window, "Beta")
    qtbot.keyClicks(grid.cell(0, "description"), "Consulting")
    qtbot.keyClicks(grid.cell(0, "unit_price"), "80")
    retype(qtbot, grid.cell(0, "quantity"), "two")
    # Told while typing, at the cell, naming the field.
    assert grid.is_marked(0, "quantity") and "quantity" in grid.cell(0, "quantity").toolTip()
    assert grid.gross_label.text() == "Total 0.00 EUR"
    click(qtbot, window.save_button)
    assert errors.is_marked(grid) and "Line 1, quantity" in grid.toolTip() and window.invoice is None

    # A number the server refuses (more than 3 decimals): its field error lands on the same cell.
    retype(qtbot, grid.cell(0, "quantity"), "1.2345")
    assert not grid.is_marked(0, "quantity")
    click(qtbot, window.save_button)
    desk.wait_until(lambda: grid.is_marked(0, "quantity"), message="the server's error is not at the cell")
    assert "Line 1, quantity" in grid.toolTip() and errors.is_marked(grid)
    assert window.invoice is None and desk.run(api.get("/api/invoices"))["total"] == 0

    retype(qtbot, grid.cell(0, "quantity"), "1.5")
    click(qtbot, window.save_button)
    desk.wait_until(lambda: window.invoice is not None, message="the corrected draft was not saved")
    assert window.invoice is not None and str(window.invoice.gross_total) == "142.80"  # 120 + 19 %


def test_list_filters_and_excel_export(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api, session = signed_in(desk)
    standard = rate_id(desk, api, "Standard 19%")
    acme = make_client(desk, api, "Acme SRL")
    beta = make_client(desk, api, "Beta GmbH")
    today = date.today()
    late = issued_invoice(
        desk,
        api,
        acme["id"],
        standard,
        "100.00",
        issue_date=str(today - timedelta(days=40)),
        due_date=str(today - timedelta(days=10)),
    )
    current = issued_invoice(
        desk, api, beta["id"], standard, "50.00", issue_date=str(today), due_date=str(today + timedelta(days=14))
    )
    desk.run(api.post(f"/api/invoices/{current['id']}/payments", {"amount": "20.00"}))
    desk.run(
        api.post(
            "/api/invoices",
            {
                "client_id": beta["id"],
                "lines": [{"description": "Later", "quantity": "1", "unit_price": "5", "tax_rate_id": standard}],
            },
        )
    )

    page = InvoicesPage(session)
    qtbot.addWidget(page)
    page.resize(1300, 700)
    page.show()
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 3, message="the list did not load")

    def numbers() -> list[str]:
        return sorted(page.model.data(page.model.index(i, 0)) for i in range(page.model.rowCount()))

    page.status.setCurrentIndex(page.status.findData("partially_paid"))
    desk.wait_until(lambda: not page.is_busy() and numbers() == [current["number"]])
    row = page.model.rows()[0]
    assert [page.model.data(page.model.index(0, c)) for c in (1, 4, 5, 6, 7)] == [
        "Beta GmbH",
        "Partly paid",
        "59.50 EUR",
        "20.00 EUR",
        "39.50 EUR",
    ]
    assert row.id == current["id"]
    page.status.setCurrentIndex(0)
    page.overdue.setChecked(True)
    desk.wait_until(lambda: not page.is_busy() and numbers() == [late["number"]], message="overdue filter")
    page.overdue.setChecked(False)
    qtbot.keyClicks(page.search, "beta")
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 2, message="search filter")
    page.search.clear()
    qtbot.keyClicks(page.client, "Acme")
    desk.wait_until(lambda: page.client.matches.rowCount() == 1)
    page.client.choose(0)
    desk.wait_until(lambda: not page.is_busy() and numbers() == [late["number"]], message="client filter")
    page.client.set_party(None, None)
    page.period.preset.setCurrentIndex(page.period.preset.findData(6))  # issued in the last 7 days
    desk.wait_until(lambda: not page.is_busy() and numbers() == [current["number"]], message="period filter")
    page.period.preset.setCurrentIndex(0)
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 3)

    # Export what the filters show: Beta's two (the draft and the part-paid one).
    qtbot.keyClicks(page.search, "beta")
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 2)
    target = tmp_path / "invoices.xlsx"
    with LiveServer.run(desk.server.database_url, worker=True):  # an export is a job: a worker writes it
        page.export()
        desk.wait_until(lambda: getattr(page, "export_dialog", None) is not None, message="no export dialog")
        dialog = page.export_dialog
        desk.wait_until(lambda: dialog.export.state.value == "done", timeout=60, message=dialog.status.text())
    desk.run(dialog.save_to(str(target)))
    sheet = load_workbook(target, read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    col = rows[0].index
    assert len(rows) == 3
    part_paid = next(r for r in rows[1:] if r[col("Number")] == current["number"])
    assert (part_paid[col("Client name")], part_paid[col("Status")], part_paid[col("Currency")]) == (
        "Beta GmbH",
        "Partially paid",
        "EUR",
    )
    amounts = ("Net total", "Tax total", "Gross total", "Paid total", "Open amount")
    assert [Decimal(str(part_paid[col(name)])) for name in amounts] == [
        Decimal("50"),
        Decimal("9.5"),
        Decimal("59.5"),
        Decimal("20"),
        Decimal("39.5"),
    ]
    assert next(r for r in rows[1:] if r[col("Number")] != current["number"])[col("Status")] == "Draft"

    # Another desktop's invoice appears without a reload (live).
    issued_invoice(desk, api, beta["id"], standard, "10.00")
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 3, message="the list did not follow")
    page.search.clear()
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 4)
    page.table.select_key(late["id"])
    opened = page.open_selected()
    assert isinstance(opened, InvoiceWindow)
    desk.wait_until(lambda: opened.invoice is not None and not opened.is_busy())
    status = desk.run(api.get(f"/api/invoices/{late['id']}"))["status"]
    assert status in ("unpaid", "overdue") and opened.invoice.number == late["number"]
    assert opened.badge.text() == {"unpaid": "Unpaid", "overdue": "Overdue"}[status]
    opened.close()


def test_empty_list_says_how_to_start_and_ctrl_n_opens_a_draft(desk: Desk, qtbot: QtBot) -> None:
    _api, session = signed_in(desk, live=False)
    page = InvoicesPage(session)
    qtbot.addWidget(page)
    page.show()
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 0)
    assert page.table.empty.isVisible() and "Ctrl+N" in page.table.empty.text.text()
    focus(desk, page.search)
    qtbot.keyClick(page.search, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, InvoiceWindow) and w.isVisible())
    assert window.invoice is None and window.badge.text() == "Draft" and window.grid.row_count() == 1
    window.close()


def test_repeat_an_issued_invoice_and_stop_it(desk: Desk, qtbot: QtBot) -> None:
    api, session = signed_in(desk, live=False)
    standard = rate_id(desk, api, "Standard 19%")
    client = make_client(desk, api, "Gamma Ltd")
    draft = desk.run(
        api.post(
            "/api/invoices",
            {
                "client_id": client["id"],
                "lines": [{"description": "Hosting", "quantity": "1", "unit_price": "30", "tax_rate_id": standard}],
            },
        )
    )
    parent = host(qtbot)
    window = editor(desk, parent, session, draft["id"])
    assert window.repeat_button.isHidden()  # drafts never recur
    window.close()
    issued = desk.run(
        api.post(f"/api/invoices/{draft['id']}/issue", {"version": draft["version"], "issue_date": str(date.today())})
    )
    window = editor(desk, parent, session, issued["id"])
    assert window.recurrence_label.text() == "Does not repeat."
    click(qtbot, window.repeat_button)
    dialog = the_dialog(RecurrenceDialog)
    dialog.every.setValue(2)
    dialog.unit.setCurrentIndex(dialog.unit.findData("week"))
    dialog.cycles.setValue(3)
    click(qtbot, dialog.ok)
    desk.wait_until(
        lambda: window.invoice is not None and window.invoice.recurrence is not None,
        message="the recurrence was not saved",
    )
    recurrence = window.invoice.recurrence
    assert recurrence is not None
    assert (recurrence.every, recurrence.unit, recurrence.cycles, recurrence.done) == (2, "week", 3, 0)
    expected_next = str(date.today() + timedelta(weeks=2))
    assert str(recurrence.next_on) == expected_next
    assert window.recurrence_label.text() == f"Every 2 weeks, 3 cycles, next on {format.day(expected_next)}, 0 made."

    click(qtbot, window.repeat_button)
    again = the_dialog(RecurrenceDialog)
    assert again.every.value() == 2 and again.stop_button.isVisible()
    qtbot.mouseClick(again.stop_button, Qt.MouseButton.LeftButton)
    desk.wait_until(
        lambda: window.invoice is not None and window.invoice.recurrence is None,
        message="the recurrence did not stop",
    )
    assert window.recurrence_label.text() == "Does not repeat."
    assert desk.run(api.get(f"/api/invoices/{issued['id']}"))["recurrence"] is None


def test_the_module_opens_from_the_sidebar_and_its_screenshot_states(desk: Desk, qtbot: QtBot) -> None:
    from types import SimpleNamespace

    from PySide6.QtCore import QSize

    from crm_desktop.views import invoices
    from crm_desktop.views.main_window import MainWindow

    api, session = signed_in(desk, live=False)
    standard = rate_id(desk, api, "Standard 19%")
    client = make_client(desk, api, "Delta AG")
    invoice = issued_invoice(desk, api, client["id"], standard)
    desk.run(api.post(f"/api/invoices/{invoice['id']}/payments", {"amount": "19.00"}))
    main = MainWindow(session)
    qtbot.addWidget(main)
    main.show()
    ctx = SimpleNamespace(main=main, session=session, api=api, me=session.me, size=QSize(1280, 800))
    states = invoices.screenshot_states(ctx)
    name, page = next(states)
    assert name == "invoices" and isinstance(page, InvoicesPage)
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 1)
    name, window = next(states)
    assert name == "invoice-editor" and isinstance(window, InvoiceWindow)
    desk.wait_until(lambda: window.invoice is not None and not window.is_busy())
    assert window.badge.text() == "Partly paid"
    name, payment = next(states)
    assert name == "invoice-payment-dialog" and isinstance(payment, PaymentDialog)
    assert payment.amount.text() == "100.00"  # the open amount: 119.00 - 19.00
    name, preview = next(states)
    assert name == "invoice-pdf-preview" and isinstance(preview, PdfPreviewDialog)
    desk.wait_until(lambda: preview.page_count() >= 1, message="no PDF pages")
    assert list(states) == []
    # A search hit naming an invoice opens it (the main window asks the page).
    page.open_record("invoice", invoice["id"], None)
    desk.wait_until(
        lambda: any(
            isinstance(w, InvoiceWindow) and w.isVisible() and w.invoice_id == invoice["id"]
            for w in QApplication.topLevelWidgets()
        )
    )


def test_live_totals_round_vat_as_the_server_does_in_both_modes(desk: Desk, qtbot: QtBot) -> None:
    api, session = signed_in(desk, live=False)
    standard = rate_id(desk, api, "Standard 19%")
    client = make_client(desk, api, "Epsilon SA")
    cents = [
        {"description": f"Part {i}", "quantity": "1", "unit_price": "0.02", "tax_rate_id": standard} for i in range(3)
    ]
    parent = host(qtbot)
    for mode, tax in (("line", "0.00"), ("document", "0.01")):  # 3 x 0.0038 -> 0.00; 0.0114 -> 0.01
        desk.run(api.patch("/api/settings", {"values": {"sales.tax_rounding": mode}}))
        draft = desk.run(api.post("/api/invoices", {"client_id": client["id"], "lines": cents}))
        assert draft["tax_total"] == tax
        window = editor(desk, parent, session, draft["id"])
        desk.wait_until(lambda w=window, m=mode: w.grid.tax_rounding == m and not w.grid.is_busy())
        assert window.grid.tax_label.text() == f"VAT {tax} EUR"
        # Typing on keeps the server's rule: a fourth cent-line.
        window.grid.add_line()
        qtbot.keyClicks(window.grid.cell(3, "description"), "Part 3")
        qtbot.keyClicks(window.grid.cell(3, "unit_price"), "0.02")
        expected = "0.00" if mode == "line" else "0.02"  # 0.08 x 19 % = 0.0152
        assert window.grid.tax_label.text() == f"VAT {expected} EUR"
        window.dirty = False
        window.close()


def test_a_failed_send_shows_the_smtp_error_and_can_be_sent_again(desk: Desk, qtbot: QtBot, smtp: Smtp) -> None:
    from tests.support import free_port

    api, session = signed_in(desk)
    desk.run(api.patch("/api/settings", {"values": {**smtp.settings(), "smtp.port": free_port()}}))  # nobody there
    standard = rate_id(desk, api, "Standard 19%")
    client = make_client(desk, api, "Zeta Oy", "ap@zeta-oy.com")
    invoice = issued_invoice(desk, api, client["id"], standard)
    window = editor(desk, host(qtbot), session, invoice["id"])
    assert window.send_state.text() == "Unsent" and window.send_button.text() == "Send…"
    click(qtbot, window.send_button)
    send = the_dialog(SendDialog)
    desk.wait_until(lambda: send.to.text() == "ap@zeta-oy.com")
    click(qtbot, send.ok)
    desk.wait_until(
        lambda: window.invoice is not None and window.invoice.send_status == "failed",
        timeout=30,
        message=f"the send did not fail: {window.send_state.text()!r}",
    )
    assert window.send_state.text().startswith("Failed: ") and len(window.send_state.text()) > len("Failed: ") + 3
    assert window.send_button.text() == "Send again…" and smtp.messages == []
    desk.wait_until(lambda: window.emails_table.rowCount() == 1 and window.emails_table.item(0, 3).text() == "failed")

    desk.run(api.patch("/api/settings", {"values": smtp.settings()}))
    click(qtbot, window.send_button)
    again = the_dialog(SendDialog)
    desk.wait_until(lambda: again.to.text() == "ap@zeta-oy.com")
    click(qtbot, again.ok)
    assert pdf_attachments(desk.run(smtp.wait_for(1))[0])
    desk.wait_until(
        lambda: (
            window.invoice.send_status == "sent"
            and window.emails_table.rowCount() == 2
            and [window.emails_table.item(i, 3).text() for i in range(2)] == ["sent", "failed"]
        ),
        message=f"not sent again: {window.send_state.text()!r}",
    )  # the history: newest first
    assert window.send_state.text().startswith("Sent ")


def test_the_editor_follows_a_colleagues_change_and_keeps_unsaved_notes(desk: Desk, qtbot: QtBot) -> None:
    api, session = signed_in(desk)  # live: the event stream is on
    standard = rate_id(desk, api, "Standard 19%")
    client = make_client(desk, api, "Eta BV")
    invoice = issued_invoice(desk, api, client["id"], standard)
    window = editor(desk, host(qtbot), session, invoice["id"])
    window.notes.setFocus()
    qtbot.keyClicks(window.notes, "Call before delivery")
    assert window.dirty

    async def colleague_pays() -> None:
        async with desk.server.client() as http:
            await desk.server.create_user("bob@example.com", role="Admin", full_name="Bob")
            await desk.server.login(http, "bob@example.com")
            paid = await http.post(f"/api/invoices/{invoice['id']}/payments", json={"amount": "50.00"})
            assert paid.status_code == 201, paid.text

    desk.on_server(colleague_pays())
    desk.wait_until(lambda: window.badge.text() == "Partly paid", message="the editor did not follow the change")
    assert "Open 69.00 EUR" in window.open_label.text() and window.notes.toPlainText() == "Call before delivery"
    desk.wait_until(lambda: window.payments_table.rowCount() == 1)
    # Saving my notes now is over a version I did not see: the usual "changed elsewhere".
    click(qtbot, window.save_button)
    desk.wait_until(
        lambda: any(
            isinstance(w, QMessageBox) and w.isVisible() and w.objectName() == "operationErrorBox"
            for w in QApplication.topLevelWidgets()
        ),
        message="no conflict shown",
    )
    answer(qtbot, "operationErrorBox", "Reload")
    desk.wait_until(lambda: not window.dirty and window.notes.toPlainText() == "")
    window.notes.setFocus()
    qtbot.keyClicks(window.notes, "Call before delivery")
    click(qtbot, window.save_button)
    desk.wait_until(lambda: not window.dirty, message="the notes were not saved")
    assert desk.run(api.get(f"/api/invoices/{invoice['id']}"))["notes"] == "Call before delivery"

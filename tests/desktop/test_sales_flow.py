"""The whole sale as a person does it in the desktop: a proposal written in the proposals editor
(a catalogue line and a free-text line), sent and accepted, converted (the invoice editor opens on
the new draft), issued, paid in a partial and a final payment, sent by email (it arrives at the
loopback SMTP server with the PDF attached, and the editor shows Sent); then a second accepted
proposal converted, issued and cancelled with a credit note (a paid invoice cannot be cancelled:
the editor says why)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from crm_desktop.views.invoices import editor as invoice_editor
from crm_desktop.views.invoices.dialogs import SendDialog
from crm_desktop.views.invoices.editor import InvoiceWindow
from crm_desktop.views.proposals.editor import ProposalWindow, open_proposal
from crm_desktop.widgets.pdf_preview import PdfPreviewDialog
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus, the_dialog
from tests.desktop.test_invoices import (
    answer,
    click,
    host,
    make_client,
    pay,
    pdf_attachments,
    pick_product,
    rate_id,
    retype,
    signed_in,
)
from tests.support import LiveServer, Smtp


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The app with its job worker on: sending an invoice is a job."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


def move(desk: Desk, qtbot: QtBot, window: ProposalWindow, label: str, status: str) -> None:
    button = next(b for b in window.move_buttons.values() if b.text() == label)
    click(qtbot, button)
    desk.wait_until(
        lambda: window.proposal is not None and window.proposal.status == status,
        message=f"the proposal did not move to {status}",
    )


def convert(desk: Desk, qtbot: QtBot, window: ProposalWindow) -> InvoiceWindow:
    """Convert (once the server says it is possible); the invoice editor opens on the draft."""
    desk.wait_until(
        lambda: window.conversion is not None and window.conversion.possible and window.convert_button.isEnabled(),
        message="conversion is not offered",
    )
    click(qtbot, window.convert_button)
    desk.wait_until(
        lambda: window.proposal is not None and window.proposal.converted_invoice_id is not None,
        message="the proposal was not converted",
    )
    assert window.proposal is not None
    invoice_id = window.proposal.converted_invoice_id
    assert invoice_id is not None
    desk.wait_until(
        lambda: (
            isinstance(invoice_editor._open.get(invoice_id), InvoiceWindow)
            and invoice_editor._open[invoice_id].invoice is not None
            and not invoice_editor._open[invoice_id].is_busy()
        ),
        message="the invoice editor did not open",
    )
    invoice = invoice_editor._open[invoice_id]
    assert invoice.isVisible() and invoice.badge.text() == "Draft"
    return invoice


def issue(desk: Desk, qtbot: QtBot, window: InvoiceWindow) -> str:
    click(qtbot, window.issue_button)
    answer(qtbot, "issueConfirm", "Issue")
    desk.wait_until(
        lambda: window.invoice is not None and window.invoice.status == "unpaid",
        message="the invoice was not issued",
    )
    assert window.invoice is not None
    return str(window.invoice.number)


def test_proposal_to_paid_sent_invoice_and_a_credit_note(desk: Desk, qtbot: QtBot, smtp: Smtp) -> None:
    api, session = signed_in(desk)
    desk.run(api.patch("/api/settings", {"values": smtp.settings()}))
    standard = rate_id(desk, api, "Standard 19%")
    reduced = rate_id(desk, api, "Reduced 9%")
    desk.run(
        api.post(
            "/api/products",
            {"sku": "HW-001", "name": "Barcode scanner", "unit_price": "149.90", "tax_rate_id": reduced},
        )
    )
    client = make_client(desk, api, "Acme SRL", "billing@acme-shop.com")
    parent = host(qtbot)

    # --- the proposal ---------------------------------------------------------------------------
    proposal = open_proposal(parent, session, None, client_id=client["id"])
    assert isinstance(proposal, ProposalWindow)
    desk.wait_until(
        lambda: proposal.party.client_id == client["id"] and not proposal.is_busy(),
        message="the proposal editor did not take the client",
    )
    qtbot.keyClicks(proposal.title_edit, "Scanners for the shop")
    grid = proposal.grid
    pick_product(desk, qtbot, grid, 0, "scan")
    retype(qtbot, grid.cell(0, "quantity"), "2")
    focus(desk, grid.cell(0, "tax_rate_id"))
    qtbot.keyClick(grid.cell(0, "tax_rate_id"), Qt.Key.Key_Return)  # Enter on the last cell: a new line
    description = grid.cell(1, "description")
    assert isinstance(description, QLineEdit)
    qtbot.keyClicks(description, "Installation")
    retype(qtbot, grid.cell(1, "quantity"), "3")
    qtbot.keyClicks(grid.cell(1, "unit_price"), "40")
    grid.cell(1, "tax_rate_id").setCurrentIndex(grid.cell(1, "tax_rate_id").findData(standard))
    assert grid.gross_label.text() == "Total 469.58 EUR"
    qtbot.keyClick(proposal, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    desk.wait_until(
        lambda: proposal.proposal is not None and not proposal.is_busy(), message="the proposal was not saved"
    )
    assert proposal.proposal is not None and proposal.proposal.gross_total == Decimal("469.58")
    move(desk, qtbot, proposal, "Mark sent", "sent")
    move(desk, qtbot, proposal, "Accept", "accepted")

    # --- converted, issued, paid in two parts ---------------------------------------------------
    window = convert(desk, qtbot, proposal)
    assert window.invoice is not None and str(window.invoice.gross_total) == "469.58"
    assert window.grid.row_count() == 2 and window.client.client_id == client["id"]
    number = issue(desk, qtbot, window)
    assert number.startswith("INV-") and window.grid.read_only

    pay(desk, qtbot, window, "400")
    desk.wait_until(lambda: window.invoice.status == "partially_paid", message="the partial payment")
    assert "Open 69.58 EUR" in window.open_label.text()
    pay(desk, qtbot, window, "69.58")
    desk.wait_until(lambda: window.invoice.status == "paid", message="the final payment")
    desk.wait_until(lambda: window.payments_table.rowCount() == 2)
    assert window.badge.text() == "Paid" and window.pay_button.isHidden()
    assert not window.cancel_button.isEnabled() and "payments" in window.cancel_button.toolTip()

    click(qtbot, window.pdf_button)
    preview = the_dialog(PdfPreviewDialog)
    desk.wait_until(lambda: preview.page_count() >= 1, message="the PDF preview shows no pages")
    preview.close()

    # --- sent by email ----------------------------------------------------------------------------
    click(qtbot, window.send_button)
    send = the_dialog(SendDialog)
    desk.wait_until(lambda: send.to.text() == "billing@acme-shop.com", message="the send dialog was not prefilled")
    click(qtbot, send.ok)
    message = desk.run(smtp.wait_for(1))[0]
    assert message["To"] == "billing@acme-shop.com" and number in message["Subject"]
    attached = pdf_attachments(message)
    assert len(attached) == 1 and attached[0].startswith(b"%PDF")
    desk.wait_until(
        lambda: window.invoice.send_status == "sent" and window.send_state.text().startswith("Sent"),
        message=f"the editor does not show Sent: {window.send_state.text()!r}",
    )

    # --- a second sale, cancelled with a credit note ------------------------------------------------
    second = desk.run(
        api.post(
            "/api/proposals",
            {
                "client_id": client["id"],
                "title": "Spare scanner",
                "lines": [
                    {"description": "Barcode scanner", "quantity": "1", "unit_price": "100.00", "tax_rate_id": standard}
                ],
            },
        )
    )
    for status in ("sent", "accepted"):
        second = desk.run(
            api.post(f"/api/proposals/{second['id']}/status", {"version": second["version"], "status": status})
        )
    proposal_two = open_proposal(parent, session, second["id"])
    assert isinstance(proposal_two, ProposalWindow)
    desk.wait_until(lambda: proposal_two.proposal is not None and not proposal_two.is_busy())
    other = convert(desk, qtbot, proposal_two)
    other_number = issue(desk, qtbot, other)
    click(qtbot, other.cancel_button)
    answer(qtbot, "cancelConfirm", "Cancel with credit note")
    desk.wait_until(
        lambda: (
            isinstance(getattr(other, "credit_window", None), InvoiceWindow) and other.credit_window.invoice is not None
        ),
        message="the credit note did not open",
    )
    credit: Any = other.credit_window
    assert credit.invoice.kind == "credit_note" and str(credit.invoice.gross_total) == "-119.00"
    assert credit.invoice.credited_invoice_id == other.invoice.id
    desk.wait_until(lambda: other.invoice.status == "cancelled", message="the invoice is not cancelled")
    assert other.badge.text() == "Cancelled" and other_number != credit.invoice.number
    listed = desk.run(api.get("/api/invoices", client_id=client["id"]))
    assert sorted(i["status"] for i in listed["items"]) == ["cancelled", "paid", "paid"]  # the credit note is settled
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, ProposalWindow | InvoiceWindow):
            widget.close()

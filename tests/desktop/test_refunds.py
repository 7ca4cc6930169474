"""Refunds as a person gives them: the invoice window's Refund dialog (amount defaulting to what is
left of the payment, a reason required), the refund shown under its payment, the invoice going back
from paid to partially paid to unpaid (and cancellable then), a Stripe payment's intent shown with
it, and the Payments page showing what was refunded, live."""

from __future__ import annotations

import json

from pytestqt.qtbot import QtBot

from crm_desktop.views.invoices.dialogs import RefundDialog
from crm_desktop.views.invoices.editor import InvoiceWindow
from crm_desktop.views.payments.list import PaymentsPage
from crm_server.integrations import stripe
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import the_dialog
from tests.desktop.test_invoices import click, editor, host, issued_invoice, make_client, rate_id, retype, signed_in
from tests.server.test_stripe import event


async def stripe_payment(desk: Desk, number: str) -> str:
    """The Stripe payment as the webhook's job records it (the handler, on the server's database)."""
    [incoming] = stripe.events({}, json.dumps(event("payment_intent.succeeded", number)).encode())
    async with desk.server.session() as s:
        return await stripe.HANDLERS[incoming.event_type](s, incoming.payload)


def cells(window: InvoiceWindow) -> list[list[str]]:
    table = window.payments_table
    return [
        [(table.item(r, c).text() if table.item(r, c) else "") for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]


def refund(desk: Desk, qtbot: QtBot, window: InvoiceWindow, amount: str | None, reason: str) -> RefundDialog:
    click(qtbot, window.refund_button)
    dialog: RefundDialog = the_dialog(RefundDialog)
    if amount is not None:
        retype(qtbot, dialog.amount, amount)
    qtbot.keyClicks(dialog.reason, reason)
    click(qtbot, dialog.ok)
    return dialog


def test_refund_part_then_the_rest_from_the_invoice_window(desk: Desk, qtbot: QtBot) -> None:
    api, session = signed_in(desk)
    client = make_client(desk, api, "Acme")
    invoice = issued_invoice(desk, api, client["id"], rate_id(desk, api, "Standard 19%"))  # 119.00 EUR
    desk.run(
        api.post(
            f"/api/invoices/{invoice['id']}/payments", {"amount": "119.00", "method": "card", "reference": "POS 9"}
        )
    )
    page = PaymentsPage(session)
    qtbot.addWidget(page)
    page.show()
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 1)
    assert page.model.data(page.model.index(0, 2)) == "—"

    window = editor(desk, host(qtbot), session, invoice["id"])
    desk.wait_until(lambda: len(window.payments) == 1, message="the payments did not load")
    assert window.invoice is not None and window.invoice.status == "paid"
    assert window.refund_button.isVisible() and not window.pay_button.isVisible()
    assert not window.cancel_button.isEnabled()

    # A reason is required; nothing is sent without one.
    click(qtbot, window.refund_button)
    dialog: RefundDialog = the_dialog(RefundDialog)
    assert dialog.amount.text() == "119.00"  # what is left of the payment
    click(qtbot, dialog.ok)
    assert dialog.isVisible() and dialog.reason.property("invalid")
    qtbot.keyClicks(dialog.reason, "Damaged on arrival")
    retype(qtbot, dialog.amount, "40.00")
    click(qtbot, dialog.ok)
    desk.wait_until(
        lambda: (
            window.invoice is not None
            and window.invoice.status == "partially_paid"
            and window.payments_table.rowCount() == 2
        ),
        message="the refund did not show",
    )
    assert cells(window)[0][1:4] == ["119.00 EUR", "Card", "40.00 EUR"]
    assert cells(window)[1][1:] == ["−40.00 EUR", "Refund", "", "Damaged on arrival"]
    assert window.tabs.tabText(0) == "Payments (1, 1 refund)"
    assert "paid 79.00 EUR of 119.00 EUR" in window.open_label.text()
    desk.wait_until(
        lambda: page.model.data(page.model.index(0, 2)) == "40.00 EUR",
        message="the payments page did not show the refund",
    )

    # The rest: the dialog offers what is left; the invoice is unpaid and may be cancelled now.
    dialog = refund(desk, qtbot, window, None, "Order cancelled")
    desk.wait_until(
        lambda: (
            window.invoice is not None and window.invoice.status == "unpaid" and window.payments_table.rowCount() == 3
        ),
        message="the second refund did not show",
    )
    assert cells(window)[2][1] == "−79.00 EUR"
    assert not window.refund_button.isVisible() and window.pay_button.isVisible()
    assert window.cancel_button.isEnabled()
    desk.wait_until(
        lambda: page.model.data(page.model.index(0, 2)) == "119.00 EUR, in full",
        message="the payments page did not follow",
    )


def test_over_refund_is_named_at_the_amount_and_a_stripe_payment_shows_its_intent(desk: Desk, qtbot: QtBot) -> None:
    api, session = signed_in(desk)
    client = make_client(desk, api, "Globex")
    invoice = issued_invoice(desk, api, client["id"], rate_id(desk, api, "Standard 19%"))
    desk.on_server(stripe_payment(desk, invoice["number"]))
    window = editor(desk, host(qtbot), session, invoice["id"])
    desk.wait_until(lambda: len(window.payments) == 1, message="the payments did not load")
    assert cells(window)[0][2] == "Stripe" and "pi_3QaHq2EXa3mPLe0A1vXq7RnM" in cells(window)[0][4]

    window.payments_table.selectRow(0)
    dialog = refund(desk, qtbot, window, "500.00", "Too much")
    desk.wait_until(lambda: bool(dialog.amount.property("invalid")), message="the over-refund was not named")
    assert "119.00" in dialog.amount.toolTip() and dialog.isVisible()
    dialog.reject()

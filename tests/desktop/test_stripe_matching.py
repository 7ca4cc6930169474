"""A Stripe payment that names no CRM invoice, resolved by a person in the event browser: it waits as
needing attention with the reason; "Match to invoice…" lists the open invoices, the person picks one,
the payment is recorded there and appears in the invoice's window. And the invoice window's
"Pay online…" shows the Stripe Checkout link (from the Stripe API stand-in) ready to copy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views.admin.integrations import IntegrationsPage
from crm_desktop.views.admin.integrations_events import EventDialog, MatchDialog
from crm_desktop.views.invoices.dialogs import PayOnlineDialog
from crm_desktop.views.invoices.editor import InvoiceWindow, open_invoice
from crm_server.integrations import stripe
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import open_panel, settle, the_dialog
from tests.standins.stripe import StripeStandIn
from tests.support import LiveServer

FIXTURES = Path(__file__).resolve().parents[1] / "server" / "fixtures" / "webhooks" / "stripe"
SECRET = "whsec_test_5f1c9a7e2b4d8c6a0e3f7b1d9c5a2e8f"


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The app with its job worker on: a webhook's event is worked on by a job."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


def issue_invoice(desk: Desk, api: ApiClient) -> dict[str, Any]:
    client = desk.run(api.post("/api/clients", {"name": "Acme"}))
    rate = next(r["id"] for r in desk.run(api.get("/api/tax-rates")) if r["name"] == "Standard 19%")
    draft = desk.run(
        api.post(
            "/api/invoices",
            {
                "client_id": client["id"],
                "lines": [
                    {"description": "Support hours", "quantity": "1", "unit_price": "100.00", "tax_rate_id": rate}
                ],
            },
        )
    )
    return dict(desk.run(api.post(f"/api/invoices/{draft['id']}/issue", {"version": draft["version"]})))


def post_payment(desk: Desk, api: ApiClient) -> None:
    """Stripe sends a payment made elsewhere: the integrator's own metadata, no CRM invoice number."""
    body = json.loads((FIXTURES / "payment_intent.succeeded.json").read_bytes())
    body["data"]["object"].update(metadata={"order_ref": "5531"}, description="Order 5531", customer="cus_Shop1")
    raw = json.dumps(body).encode()

    async def post() -> httpx.Response:
        async with desk.server.client() as hook:
            return await hook.post(
                "/webhooks/stripe",
                content=raw,
                headers={"Content-Type": "application/json", "Stripe-Signature": stripe.signature_header(SECRET, raw)},
            )

    assert desk.on_server(post()).status_code == 200

    async def worked() -> None:
        for _ in range(300):
            if not (await api.get("/api/integrations/events", provider="stripe", status="pending"))["total"]:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the job did not work on the event")

    desk.run(worked())


def test_a_person_matches_a_waiting_payment_to_its_invoice(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    desk.run(api.patch("/api/settings", {"values": {"stripe.endpoint_secret": SECRET}}))
    issue_invoice(desk, api)  # another client's invoice, also open
    invoice = issue_invoice(desk, api)
    post_payment(desk, api)

    _, panel, page = open_panel(desk, qtbot, "integrations", api=api)
    assert isinstance(page, IntegrationsPage)
    page.select_provider("stripe")
    page.reload()
    settle(desk, panel)
    row = page.events.model.row(0)
    assert row.status == "needs_attention" and "names no CRM invoice" in (row.error or "")
    page.events.table.view.selectRow(0)
    assert page.events.match_button.isVisible() and page.events.match_button.isEnabled()

    # The person opens the event, and from its window asks to match it.
    page.events.open_selected()
    window = the_dialog(EventDialog)
    settle(desk, panel)
    assert window.match_button.isEnabled()
    qtbot.mouseClick(window.match_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(MatchDialog)
    desk.wait_until(lambda: not dialog.is_busy() and dialog.list.count() == 2, message="no invoices listed")
    qtbot.keyClicks(dialog.search, invoice["number"])  # searched on the server
    desk.wait_until(lambda: not dialog.is_busy() and dialog.list.count() == 1, message="the search did not narrow")
    assert dialog.list.item(0).text().startswith(f"{invoice['number']}  ·  Acme  ·  119.00 EUR open")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: window.info["status"].text() == "Processed", message="the match did not settle it")
    settle(desk, panel)
    assert window.info["outcome"].text().startswith(f"Matched to {invoice['number']} by a person. Recorded payment")
    assert not window.match_button.isEnabled() and not page.events.match_button.isEnabled()
    assert page.notice_text.text() == (
        f"Matched payment_intent.succeeded to {invoice['number']}: the payment is recorded."
    )

    # The payment appears on the invoice.
    session = Session(api, desk.run(auth.me(api)))
    editor = open_invoice(None, session, invoice["id"])
    assert isinstance(editor, InvoiceWindow)
    desk.wait_until(
        lambda: not editor.is_busy() and editor.payments_table.rowCount() == 1,
        message="the payment is not on the invoice",
    )
    assert editor.invoice is not None and editor.invoice.status == "paid"
    assert "119.00" in editor.payments_table.item(0, 1).text()
    editor.close()


def test_pay_online_shows_the_checkout_link_to_copy(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    invoice = issue_invoice(desk, api)
    with StripeStandIn.run() as stripe_api:
        desk.run(api.patch("/api/settings", {"values": stripe_api.settings()}))
        session = Session(api, desk.run(auth.me(api)))
        editor = open_invoice(None, session, invoice["id"])
        assert isinstance(editor, InvoiceWindow)
        desk.wait_until(lambda: not editor.is_busy() and editor.invoice is not None, message="not loaded")
        assert editor.online_button.isVisible()
        qtbot.mouseClick(editor.online_button, Qt.MouseButton.LeftButton)
        desk.wait_until(
            lambda: editor.online_dialog is not None and editor.online_dialog.isVisible(),
            message="the link did not come",
        )
        dialog = the_dialog(PayOnlineDialog)
        [made] = stripe_api.sessions.values()
        assert dialog.url.text() == made["url"] and made["metadata"]["invoice_number"] == invoice["number"]
        qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
        assert QGuiApplication.clipboard().text() == made["url"]
        dialog.close()
        editor.close()

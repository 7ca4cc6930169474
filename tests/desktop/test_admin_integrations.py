"""Admin panel, integrations page, driven like an admin would: Facebook's secrets typed into the page
turn it from Not configured to Connected (and are never shown again); "Send test event" pushes a
signed event through the real webhook door and it appears in the event browser, where it opens with
its payload, body and headers. A real leadgen webhook that fails on an expired token shows up live
as needing attention and turns the provider to Needs re-authorization; a new token typed into the
page and a replay make the lead. The server and the Graph API stand-in end up exactly so."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views.admin.integrations import IntegrationsPage
from crm_desktop.views.admin.integrations_events import EventDialog
from crm_desktop.views.admin.panel import AdminPanel
from crm_server.integrations import facebook, stripe
from crm_server.leads.models import Lead
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus, open_panel, settle, the_dialog
from tests.standins.graph import GraphStandIn
from tests.support import LiveServer

FIXTURES = Path(__file__).resolve().parents[1] / "server" / "fixtures" / "webhooks" / "facebook"
STRIPE_FIXTURES = FIXTURES.parent / "stripe"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The app with its job worker on: a webhook's event is worked on by a job."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn.run() as stand_in:
        lead = json.loads((FIXTURES / "graph_lead.json").read_bytes())
        stand_in.leads[lead["id"]] = lead
        yield stand_in


def post_webhook(desk: Desk, body: bytes) -> httpx.Response:
    """Facebook posts a signed leadgen change (another process, over HTTP)."""

    async def post() -> httpx.Response:
        async with desk.server.client() as hook:
            return await hook.post(
                "/webhooks/facebook",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": facebook.signature(APP_SECRET, body),
                },
            )

    return desk.on_server(post())


def retype(qtbot: QtBot, desk: Desk, edit: QLineEdit, text: str) -> None:
    focus(desk, edit)
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, text)


def state_of(page: IntegrationsPage, provider: str) -> str:
    return page.rows[provider].state.text()


def test_configure_test_open_and_replay(desk: Desk, qtbot: QtBot, graph: GraphStandIn) -> None:
    api = desk.signed_in_api()
    session = Session(api, desk.run(auth.me(api)))
    session.start()  # live events reach the page through the change bus, as in the app
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    _, panel, page = open_panel(desk, qtbot, "integrations", api=api)
    assert isinstance(page, IntegrationsPage) and page is panel.integrations_page

    # Every provider listed with its state; the first one is shown.
    assert [page.rows[p].name.text() for p in ("facebook", "forms", "woocommerce", "stripe")] == [
        "Facebook Lead Ads",
        "Website forms",
        "WooCommerce",
        "Stripe",
    ]
    assert state_of(page, "facebook") == "● Not configured"
    assert page.rows["facebook"].activity.text() == "No events yet"
    qtbot.mouseClick(
        page.providers.viewport(),
        Qt.MouseButton.LeftButton,
        pos=page.providers.visualItemRect(page.providers.item(0)).center(),
    )
    assert page.provider == "facebook" and page.heading.text() == "Facebook Lead Ads"
    assert page.webhook_url.text() == desk.server.base_url + "/webhooks/facebook"
    assert list(page.inputs) == list(facebook.SETTINGS)
    assert {k: s.text() for k, s in page.secret_states.items()} == {
        "facebook.app_secret": "Not set",
        "facebook.verify_token": "Not set",
        "facebook.page_token": "Not set",
    }
    assert page.events.table.empty.title.text() == "No events yet"
    assert page.events.table.empty.isVisible()

    # The admin types the secrets and the Graph address, and saves with Ctrl+S.
    secret = page.inputs["facebook.app_secret"].widget
    assert isinstance(secret, QLineEdit) and secret.echoMode() == QLineEdit.EchoMode.Password
    retype(qtbot, desk, secret, APP_SECRET)
    retype(qtbot, desk, page.inputs["facebook.verify_token"].widget, VERIFY_TOKEN)  # type: ignore[arg-type]
    retype(qtbot, desk, page.inputs["facebook.page_token"].widget, graph.token)  # type: ignore[arg-type]
    retype(qtbot, desk, page.inputs["facebook.graph_url"].widget, graph.url)  # type: ignore[arg-type]
    assert page.dirty_note.text() == "4 unsaved changes"
    qtbot.keyClick(page.inputs["facebook.graph_url"].widget, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    desk.wait_until(lambda: state_of(page, "facebook") == "● Connected", message="the state did not change")
    settle(desk, panel)
    assert {k: s.text() for k, s in page.secret_states.items()} == {
        "facebook.app_secret": "Set",
        "facebook.verify_token": "Set",
        "facebook.page_token": "Set",
    }
    assert all(page.inputs[k].widget.text() == "" for k in page.secret_states)  # type: ignore[attr-defined]
    assert page.pending() == {} and not page.save_button.isEnabled()
    values = desk.run(api.get("/api/settings"))["values"]
    assert values["facebook.app_secret"] is True and values["facebook.graph_url"] == graph.url

    # Send test event: the connection is checked on Graph, the event goes through the door.
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert page.test_progress.isVisible() and not page.test_button.isEnabled()
    settle(desk, panel)
    assert page.test_result.text() == "The test event reached the CRM and was handled."
    assert not page.test_progress.isVisible() and page.test_button.isEnabled()
    assert ("/v19.0/me",) == graph.requests[-1][:1]
    rows = page.events.model.rows()
    assert [(r.event_type, r.status) for r in rows] == [("feed", "ignored")]
    assert page.events.model.index(0, 2).data() == "Ignored"
    assert page.events.table.current_row() == rows[0]  # the test event is selected
    assert page.rows["facebook"].activity.text().startswith("Last event ")
    assert not page.events.replay_button.isEnabled()

    # Enter opens it: the payload, the raw body indented, the headers with the signature hidden.
    focus(desk, page.events.table.view)
    qtbot.keyClick(page.events.table.view, Qt.Key.Key_Return)
    dialog = the_dialog(EventDialog)
    settle(desk, panel)
    assert json.loads(dialog.payload.toPlainText())["value"]["message"] == "Test event from the CRM admin panel"
    assert '\n  "object": "page",' in dialog.body.toPlainText()
    assert "x-hub-signature-256: (hidden)" in dialog.headers.toPlainText().splitlines()
    assert dialog.info["status"].text() == "Ignored" and not dialog.replay_button.isEnabled()
    assert not dialog.body_size.isVisible()  # size and SHA-256 are for refused requests
    dialog.close()

    # Facebook sends a real lead while the page token has expired: the job cannot fetch it.
    graph.expired = True
    answer = post_webhook(desk, (FIXTURES / "leadgen.json").read_bytes())
    assert answer.status_code == 200, answer.text
    desk.wait_until(
        lambda: [r.status for r in page.events.model.rows()] == ["needs_attention", "ignored"],
        message="the failed event did not appear live",
    )
    desk.wait_until(
        lambda: state_of(page, "facebook").startswith(
            "● Needs re-authorization: The Facebook page access token is expired or revoked"
        ),
        message="the provider's state did not follow",
    )
    settle(desk, panel)
    failed = page.events.model.row(0)
    assert failed.event_type == "leadgen" and "expired or revoked" in page.events.model.index(0, 4).data()
    assert page.rows["facebook"].activity.text().endswith("· 1 error")

    # The admin pastes a new page token and saves; the search finds the event; a double click opens it.
    graph.expired, graph.token = False, "renewed-token"
    retype(qtbot, desk, page.inputs["facebook.page_token"].widget, "renewed-token")  # type: ignore[arg-type]
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    qtbot.keyClicks(page.events.search, "leadgen")
    desk.wait_until(lambda: page.events.model.total == 1 and not page.events.model.loading)
    view = page.events.table.view
    cell = view.visualRect(view.model().index(0, 1)).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    assert page.events.replay_button.isEnabled()
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    dialog = the_dialog(EventDialog)
    settle(desk, panel)
    assert dialog.event_id == failed.id and dialog.info["status"].text() == "Needs attention"
    assert json.loads(dialog.payload.toPlainText())["leadgen_id"] == "987654321098765"
    assert dialog.replay_button.isEnabled()
    qtbot.mouseClick(dialog.replay_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: dialog.info["status"].text() == "Processed", message="the replay did not finish")
    settle(desk, panel)
    assert dialog.info["outcome"].text().startswith("Created lead #") and dialog.info["attempts"].text() == "2"
    assert dialog.info["error"].text() == "—" and not dialog.replay_button.isEnabled()
    assert page.events.model.row(0).status == "processed"
    desk.wait_until(lambda: state_of(page, "facebook") == "● Connected", message="the problem was not cleared")
    assert page.notice_text.text() == "Replayed leadgen: it is processed now."

    # A forged request is refused at the door; the admin lists the rejected ones and opens it: its
    # whole size in words and its SHA-256 (only its first 4 KB are kept).
    dialog.close()
    forged = b'{"object": "page", "entry": [' + b" " * 12_550 + b"]}"

    async def forge() -> httpx.Response:
        async with desk.server.client() as stranger:
            return await stranger.post(
                "/webhooks/facebook",
                content=forged,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64},
            )

    assert desk.on_server(forge()).status_code == 401
    retype(qtbot, desk, page.events.search, "")
    page.events.status.setCurrentIndex(page.events.status.findText("Rejected"))
    desk.wait_until(
        lambda: [r.status for r in page.events.model.rows()] == ["rejected"] and not page.events.model.loading,
        message="the rejected request is not listed",
    )
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(view.model().index(0, 1)).center())
    focus(desk, view)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    dialog = the_dialog(EventDialog)
    settle(desk, panel)
    assert dialog.info["status"].text() == "Rejected" and dialog.body_size.isVisible()
    assert dialog.body_size.text() == "12.3 KB (12,581 bytes); only its first 4.0 KB are kept (Raw body)"
    assert dialog.body_sha256.text() == hashlib.sha256(forged).hexdigest()
    dialog.close()

    async def leads() -> list[str]:
        async with desk.server.session() as s:
            return [lead.person_name for lead in (await s.scalars(select(Lead))).all()]

    assert desk.on_server(leads()) == ["Maria Ionescu"]
    desk.run(session.close())


# --- Stripe: a payment for an invoice the CRM does not have yet ---------------------------------------

STRIPE_SECRET = "whsec_test_5f1c9a7e2b4d8c6a0e3f7b1d9c5a2e8f"


def issue_invoice(desk: Desk, api: ApiClient) -> dict[str, Any]:
    """An issued invoice of 100.00 + 19% VAT = 119.00 EUR (what the Stripe fixture pays)."""
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


def test_stripe_payment_waits_for_its_invoice_then_replays(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    _, panel, page = open_panel(desk, qtbot, "integrations", api=api)
    assert isinstance(page, IntegrationsPage)
    desk.run(api.patch("/api/settings", {"values": {"app.public_url": "https://crm.example.com/"}}))
    page.select_provider("stripe")
    page.reload()  # F5
    settle(desk, panel)
    assert page.webhook_url.text() == "https://crm.example.com/webhooks/stripe"
    qtbot.mouseClick(page.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "https://crm.example.com/webhooks/stripe"
    assert [page.form.itemAt(0, page.form.ItemRole.LabelRole).widget().text()] == [  # type: ignore[union-attr]
        "Stripe webhook signing secret (whsec_…)"
    ]
    retype(qtbot, desk, page.inputs["stripe.endpoint_secret"].widget, STRIPE_SECRET)  # type: ignore[arg-type]
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: state_of(page, "stripe") == "● Connected", message="Stripe did not connect")

    # The first invoice is issued; Stripe pays the next one, which the CRM does not have yet.
    first = issue_invoice(desk, api)
    prefix, seq = first["number"][:-6], int(first["number"][-6:])
    number = f"{prefix}{seq + 1:06d}"
    body = json.loads((STRIPE_FIXTURES / "payment_intent.succeeded.json").read_bytes())
    body["data"]["object"]["metadata"]["invoice_number"] = number
    raw = json.dumps(body).encode()

    async def post() -> httpx.Response:
        async with desk.server.client() as hook:
            return await hook.post(
                "/webhooks/stripe",
                content=raw,
                headers={
                    "Content-Type": "application/json",
                    "Stripe-Signature": stripe.signature_header(STRIPE_SECRET, raw),
                },
            )

    assert desk.on_server(post()).status_code == 200

    async def worked() -> None:  # the job's turn; this desktop has no live stream
        for _ in range(300):
            if not (await api.get("/api/integrations/events", provider="stripe", status="pending"))["total"]:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the job did not work on the event")

    desk.run(worked())
    page.reload()  # F5
    settle(desk, panel)
    assert page.events.model.row(0).status == "needs_attention"
    assert state_of(page, "stripe").startswith("● Needs attention: 1 event failed")
    assert page.events.model.index(0, 4).data().startswith(f"No invoice {number} in the CRM")
    page.events.status.setCurrentIndex(page.events.status.findData("processed"))  # the filter: none processed
    settle(desk, panel)
    assert page.events.model.total == 0 and page.events.table.empty.title.text() == "No events match"
    page.events.status.setCurrentIndex(page.events.status.findData("needs_attention"))
    settle(desk, panel)
    assert page.events.model.total == 1

    # The invoice is issued now; Ctrl+R on the selected event replays it and records the payment.
    assert issue_invoice(desk, api)["number"] == number
    page.events.table.view.selectRow(0)
    focus(desk, page.events.table.view)
    qtbot.keyClick(page.events.table.view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    settle(desk, panel)
    assert page.notice_text.text() == "Replayed payment_intent.succeeded: it is processed now."
    desk.wait_until(lambda: state_of(page, "stripe") == "● Connected", message="the state did not recover")
    invoices = desk.run(api.get("/api/invoices"))["items"]
    assert sorted((i["number"], i["status"]) for i in invoices) == [(first["number"], "unpaid"), (number, "paid")]


def test_without_edit_rights_nothing_can_be_changed(desk: Desk, qtbot: QtBot) -> None:
    """A role that may look at the admin panel and the integrations, but change neither."""
    admin = desk.signed_in_api()
    desk.run(
        admin.post(
            "/api/roles",
            {
                "name": "Auditor",
                "permissions": {
                    "admin": {"actions": ["view"], "scope": "all"},
                    "integrations": {"actions": ["view"], "scope": "all"},
                },
            },
        )
    )
    auditor = desk.signed_in_api("auditor@example.com", role="Auditor")
    _, _panel, page = open_panel(desk, qtbot, "integrations", api=auditor)
    assert isinstance(page, IntegrationsPage)
    assert page.provider == "facebook" and page.isEnabled()
    assert not any(i.widget.isEnabled() for i in page.inputs.values())
    assert not page.test_button.isEnabled() and not page.save_button.isEnabled()


def test_the_sidebar_module_serves_whoever_looks_after_integrations(desk: Desk, qtbot: QtBot) -> None:
    """Not an admin: the Integrations module shows the providers' states and events and the website
    forms, and says the settings are an administrator's."""
    from crm_desktop.views.main_window import MainWindow
    from crm_desktop.views.modules import ModulePage

    admin = desk.signed_in_api()
    desk.run(
        admin.post(
            "/api/roles",
            {"name": "Web team", "permissions": {"integrations": {"actions": ["view", "edit"], "scope": "all"}}},
        )
    )
    api = desk.signed_in_api("web@example.com", role="Web team")
    session = Session(api, desk.run(auth.me(api)))
    main = MainWindow(session)
    qtbot.addWidget(main)
    main.show()
    assert "admin" not in main.sidebar.keys() and "integrations" in main.sidebar.keys()
    main.open_module("integrations")
    page = main.pages["integrations"]
    assert isinstance(page, ModulePage) and isinstance(page.content, AdminPanel)
    assert page.content.page_names == ["integrations", "web_forms"] and page.content.isEnabled()
    integrations = page.content.integrations_page
    desk.wait_until(
        lambda: integrations.loaded and not integrations.is_busy() and integrations.providers.count() == 5
    )  # with WhatsApp
    assert integrations.settings_box.title() == "Settings (an administrator sets these)"
    forms = page.content.show_page("web_forms")
    desk.wait_until(lambda: forms.loaded and not forms.is_busy())

"""WhatsApp from the lead window (issue #23): a person records the lead's opt-in, sends an approved
template, and sees it on the timeline; its status becomes "Delivered" when the Cloud API stand-in's
status webhook arrives (the job worker is on: sending and the inbox are jobs)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.leads.detail import open_lead
from crm_desktop.views.whatsapp.composer import WhatsAppDialog
from tests.desktop.conftest import Desk
from tests.standins.whatsapp import CloudApiStandIn, signed
from tests.support import LiveServer

SECRET = "wa-app-secret"


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The app with its job worker on (overrides the suite's worker-less server)."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


def test_opt_in_send_an_approved_template_and_see_it_delivered(desk: Desk, qtbot: QtBot) -> None:
    with CloudApiStandIn.run() as cloud:
        cloud.add_template("welcome", "APPROVED", "Hello, thanks for your interest!")
        cloud.add_template("spring_offer", "PENDING", "Spring offer")
        api = desk.signed_in_api()
        desk.run(
            api.patch(
                "/api/settings",
                {
                    "values": {
                        "whatsapp.phone_number_id": cloud.phone_number_id,
                        "whatsapp.business_account_id": cloud.waba_id,
                        "whatsapp.access_token": cloud.token,
                        "whatsapp.app_secret": SECRET,
                        "whatsapp.verify_token": "verify",
                        "whatsapp.api_url": cloud.url,
                    }
                },
            )
        )
        desk.run(api.post("/api/whatsapp/templates/sync"))
        lead = desk.run(api.post("/api/leads", {"person_name": "Kerry Fisher", "phone": "+40722123456"}))
        session = Session(api, desk.run(auth.me(api)))
        session.start()  # live events reach the window, as in the app
        window = open_lead(None, session, lead["id"])
        qtbot.addWidget(window)
        desk.wait_until(lambda: window.lead is not None and not window.is_busy(), message="the lead did not load")

        qtbot.mouseClick(window.whatsapp_button, Qt.MouseButton.LeftButton)
        composer = window.whatsapp
        assert isinstance(composer, WhatsAppDialog)
        desk.wait_until(lambda: composer.state is not None, message="the composer did not load")
        assert not composer.send_template_button.isEnabled() and "opt-in" in composer.window_note.text()
        qtbot.keyClicks(composer.method, "Ticked the WhatsApp box on the web form")
        qtbot.mouseClick(composer.opt_in_button, Qt.MouseButton.LeftButton)
        desk.wait_until(lambda: composer.send_template_button.isEnabled(), message="opt-in not recorded")
        assert "only an approved template" in composer.window_note.text()
        assert not composer.text.isEnabled()  # nobody wrote in the last 24 hours: no free text
        # Every template is listed with its approval; only the approved one can be picked.
        assert [composer.template.itemData(i) for i in range(composer.template.count())] == ["welcome", "spring_offer"]
        assert "waiting for approval" in composer.template.itemText(1)
        assert not composer.template.model().item(1).isEnabled()  # type: ignore[attr-defined]

        qtbot.mouseClick(composer.send_template_button, Qt.MouseButton.LeftButton)
        desk.wait_until(lambda: bool(cloud.sent), message="the job did not send it")
        assert cloud.sent[0]["template"]["name"] == "welcome" and cloud.sent[0]["to"] == "+40722123456"

        wamid = None
        for _ in range(300):  # the job keeps the Cloud API's message id once it answered
            found = desk.run(api.get(f"/api/whatsapp/leads/{lead['id']}/messages"))
            if wamid := found[0]["wamid"]:
                break
            desk.wait(0.05)
        assert wamid, "no wamid kept"
        desk.wait_until(
            lambda: any("WhatsApp sent" in t for t in window.timeline.texts()),
            message=f"not on the timeline: {window.timeline.texts()}",
        )
        body = cloud.status_webhook(wamid, "delivered", "+40722123456")
        answer = httpx.post(f"{desk.server.base_url}/webhooks/whatsapp", content=body, headers=signed(SECRET, body))
        assert answer.status_code == 200, answer.text
        desk.wait_until(
            lambda: any("WhatsApp sent" in t and "Delivered" in t for t in window.timeline.texts()),
            message=f"status not shown: {window.timeline.texts()}",
        )
        desk.wait_until(
            lambda: any("Delivered" in composer.messages.item(i).text() for i in range(composer.messages.count()))
        )
        composer.close()

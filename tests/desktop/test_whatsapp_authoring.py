"""WhatsApp on the desktop (issue #23), against the Cloud API stand-in with the job worker on: an
admin writes a template, submits it, reads WhatsApp's rejection in words, fixes the category and
submits it again; the WhatsApp integration shows the number's quality rating and messaging limit;
a WhatsApp follow-up in My day is done by sending a template from its window; a WhatsApp campaign
started outside business hours waits (held) and goes once they begin."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.api.client import ApiClient
from crm_desktop.views.activities.schedule import CompleteDialog, utc_iso
from crm_desktop.views.admin.integrations import IntegrationsPage
from crm_desktop.views.admin.panel import AdminPanel
from crm_desktop.views.admin.whatsapp_templates import WhatsAppTemplatesPage
from crm_desktop.views.whatsapp.campaign import WhatsAppCampaignDialog
from crm_desktop.views.whatsapp.composer import WhatsAppDialog
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import open_panel, settle
from tests.desktop.test_follow_ups import back_to, closed, open_activities, visible
from tests.desktop.test_follow_ups import settle as settle_quiet
from tests.desktop.test_main_window import open_main
from tests.standins.whatsapp import CloudApiStandIn, signed
from tests.support import LiveServer

SECRET = "wa-app-secret"
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The app with its job worker on (the webhook inbox and sending are jobs)."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


@pytest.fixture
def cloud() -> Iterator[CloudApiStandIn]:
    with CloudApiStandIn.run() as stand_in:
        stand_in.add_template("welcome", "APPROVED", "Hello, thanks for your interest!")
        yield stand_in


def connect(desk: Desk, api: ApiClient, cloud: CloudApiStandIn) -> None:
    values = {
        "whatsapp.phone_number_id": cloud.phone_number_id,
        "whatsapp.business_account_id": cloud.waba_id,
        "whatsapp.access_token": cloud.token,
        "whatsapp.app_secret": SECRET,
        "whatsapp.verify_token": "verify",
        "whatsapp.api_url": cloud.url,
    }
    desk.run(api.patch("/api/settings", {"values": values}))


def webhook(desk: Desk, body: bytes) -> None:
    answer = httpx.post(f"{desk.server.base_url}/webhooks/whatsapp", content=body, headers=signed(SECRET, body))
    assert answer.status_code == 200, answer.text


def test_write_submit_see_the_rejection_in_words_and_the_quality(
    desk: Desk, qtbot: QtBot, cloud: CloudApiStandIn
) -> None:
    api = desk.signed_in_api()
    connect(desk, api, cloud)
    api, panel, page = open_panel(desk, qtbot, "whatsapp_templates", api)
    assert isinstance(page, WhatsAppTemplatesPage)
    qtbot.keyClicks(page.name, "spring_offer")
    page.category.setCurrentIndex(page.category.findData("MARKETING"))
    qtbot.keyClicks(page.header, "Spring offer")
    qtbot.keyClicks(page.body, "Hello {{1}}, {{2}} has a spring offer for you.")
    assert len(page.variable_pickers) == 2  # one field picker per {{n}}
    page.variable_pickers[1].setCurrentIndex(page.variable_pickers[1].findData("company.name"))
    qtbot.keyClicks(page.buttons, "Tell me more")
    qtbot.mouseClick(page.submit_button, Qt.MouseButton.LeftButton)
    desk.wait_until(
        lambda: "Waiting for WhatsApp" in page.status.text(), message=f"not submitted: {page.status.text()}"
    )
    settle(desk, panel)
    sent = cloud.submitted[-1]
    assert sent["name"] == "spring_offer" and {p["type"] for p in sent["components"]} == {"HEADER", "BODY", "BUTTONS"}
    assert not page.submit_button.isEnabled()  # waiting for WhatsApp: nothing to submit

    webhook(desk, cloud.review("spring_offer", "REJECTED", reason="INCORRECT_CATEGORY"))

    def refreshed() -> bool:  # F5, as a person would, until WhatsApp's answer is in
        page.reload()
        return "Rejected" in page.status.text()

    desk.wait_until(refreshed, message=f"the rejection is not shown: {page.status.text()}")
    settle(desk, panel)
    assert "The category does not fit the content" in page.status.text()
    assert page.submit_button.isEnabled()

    page.category.setCurrentIndex(page.category.findData("UTILITY"))
    qtbot.mouseClick(page.submit_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: "Waiting for WhatsApp" in page.status.text(), message="not submitted again")
    settle(desk, panel)
    assert cloud.submitted[-2]["category"] == "UTILITY" and "id" in cloud.submitted[-1]  # an edit: POST /{id}

    integrations = panel.show_page("integrations")
    assert isinstance(integrations, IntegrationsPage)
    settle(desk, panel)
    integrations.select_provider("whatsapp")
    quality = integrations.whatsapp_number
    desk.wait_until(lambda: "Quality rating: high" in quality.text(), message=f"no quality shown: {quality.text()}")
    assert quality.isVisible() and "up to 1,000 customers a day" in quality.text()
    integrations.select_provider("stripe")
    assert not quality.isVisible()  # only WhatsApp has a quality rating


def test_a_whatsapp_follow_up_is_done_by_sending_from_its_window(
    desk: Desk, qtbot: QtBot, cloud: CloudApiStandIn
) -> None:
    window = open_main(desk, qtbot)
    api = window.session.api
    connect(desk, api, cloud)
    desk.run(api.post("/api/whatsapp/templates/sync"))
    lead: dict[str, Any] = desk.run(api.post("/api/leads", {"person_name": "Kerry Fisher", "phone": "+40722123456"}))
    desk.run(api.put(f"/api/whatsapp/leads/{lead['id']}/opt-in", {"method": "Web form"}))
    due = utc_iso(datetime.now().astimezone() + timedelta(minutes=5))
    made = desk.run(api.post("/api/follow-ups", {"lead_id": lead["id"], "kind": "whatsapp", "due_at": due}))

    page = open_activities(window)
    my_day = page.my_day
    settle_quiet(desk, lambda: my_day.select(made["id"]), message="the WhatsApp follow-up is not in My day")
    back_to(desk, window)
    my_day.tree.setFocus()
    qtbot.keyClick(my_day.tree, Qt.Key.Key_Return, CTRL)
    complete = visible(desk, CompleteDialog)
    assert complete.send_whatsapp.isVisible()
    qtbot.mouseClick(complete.send_whatsapp, Qt.MouseButton.LeftButton)
    composer = complete.whatsapp
    assert isinstance(composer, WhatsAppDialog)
    desk.wait_until(lambda: composer.send_template_button.isEnabled(), message="the composer did not load")
    assert not composer.text.isEnabled()  # nobody wrote in 24 hours: a template only
    qtbot.mouseClick(composer.send_template_button, Qt.MouseButton.LeftButton)
    settle_quiet(desk, lambda: closed(complete), message="sending did not complete the follow-up")

    done = desk.run(api.get(f"/api/follow-ups/{made['id']}"))
    assert done["status"] == "done" and "welcome" in done["outcome"]
    desk.wait_until(lambda: bool(cloud.sent), message="the job did not send it")
    assert cloud.sent[0]["template"]["name"] == "welcome" and cloud.sent[0]["to"] == "+40722123456"


def test_a_campaign_from_the_templates_page_waits_for_business_hours(
    desk: Desk, qtbot: QtBot, cloud: CloudApiStandIn
) -> None:
    api = desk.signed_in_api()
    connect(desk, api, cloud)
    hour = (datetime.now(UTC).hour + 12) % 24  # not now: the business is closed
    closed = {
        "tickets.time_zone": "UTC",
        "tickets.business_days": "1-7",
        "tickets.business_hours": f"{hour:02d}:00-{hour:02d}:59",
    }
    desk.run(api.patch("/api/settings", {"values": closed}))
    desk.run(api.post("/api/whatsapp/templates/sync"))  # "welcome", approved
    made = desk.run(api.post("/api/leads", {"person_name": "Ana Pop", "company": "Wabash", "phone": "+40722100001"}))
    desk.run(api.put(f"/api/whatsapp/leads/{made['id']}/opt-in", {"method": "Web form"}))
    desk.run(api.post("/api/leads", {"person_name": "Cid Nou", "company": "Wabash", "phone": "+40722100003"}))

    api, panel, page = open_panel(desk, qtbot, "whatsapp_templates", api)
    assert isinstance(page, WhatsAppTemplatesPage)
    qtbot.mouseClick(page.campaign_button, Qt.MouseButton.LeftButton)
    dialog = page.campaign_dialog
    assert isinstance(dialog, WhatsAppCampaignDialog)
    assert dialog.template.count() == 1 and dialog.template.currentText() == "welcome (en_US)"
    qtbot.keyClicks(dialog.name, "Spring on WhatsApp")
    qtbot.keyClicks(dialog.search, "Wabash")
    qtbot.mouseClick(dialog.count_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: "get it" in dialog.audience.text(), message="the audience was not counted")
    assert dialog.audience.text() == "1 of 2 get it. Left out: 1 no WhatsApp opt-in."
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: dialog.campaign is not None and dialog.results is not None, message="not started")

    def shows(words: str) -> bool:  # Refresh, as a person would, until the figures say it
        if not dialog.refresh_button.isEnabled():
            return False
        qtbot.mouseClick(dialog.refresh_button, Qt.MouseButton.LeftButton)
        return words in dialog.results_label.text()

    desk.wait_until(lambda: shows("Held until business hours"), message=dialog.results_label.text())
    assert "0 sent of 1" in dialog.results_label.text() and not cloud.sent
    desk.run(api.patch("/api/settings", {"values": {"tickets.business_hours": "00:00-23:59:59"}}))
    desk.run(api.post("/api/admin/jobs/whatsapp.campaign_hours/run"))
    desk.wait_until(lambda: shows("1 sent of 1"), timeout=30, message=dialog.results_label.text())
    assert "Held" not in dialog.results_label.text()
    assert [b["to"] for b in cloud.sent] == ["+40722100001"]
    settle(desk, panel)
    dialog.close()


def test_the_open_templates_page_shows_whatsapps_answer_live(desk: Desk, qtbot: QtBot, cloud: CloudApiStandIn) -> None:
    """No F5: the template status webhook's live event refreshes the page where it is open."""
    window = open_main(desk, qtbot)
    api = window.session.api
    connect(desk, api, cloud)
    window.open_module("admin")
    panel = window.findChild(AdminPanel)
    assert panel is not None
    page = panel.show_page("whatsapp_templates")
    assert isinstance(page, WhatsAppTemplatesPage)
    settle(desk, panel)
    body = {"name": "renewal", "category": "UTILITY", "language": "en_US", "body": "Your plan renews soon."}
    made = desk.run(api.post("/api/whatsapp/templates", body))
    desk.run(api.post(f"/api/whatsapp/templates/{made['id']}/submit"))
    desk.wait_until(lambda: page.template_list.count() == 1, message="the new template did not appear live")
    page.template_list.setCurrentRow(0)
    desk.wait_until(lambda: "Waiting for WhatsApp" in page.status.text(), message="the submission is not shown")
    webhook(desk, cloud.review("renewal", "REJECTED", reason="TAG_CONTENT_MISMATCH"))
    desk.wait_until(lambda: "Rejected" in page.status.text(), message=f"not live: {page.status.text()}")
    assert "does not match the chosen category" in page.status.text()

"""The Campaigns module as a person uses it: New campaign, pick a saved view of the lead list, see
who will receive it and who is left out, write the message, Save and start, and watch it send to the
real loopback SMTP server (live progress); then a throttled campaign is paused, resumed and
cancelled with its buttons (saved as a draft first, started from the page)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from crm_desktop.views.campaigns.builder import CampaignBuilder
from crm_desktop.views.campaigns.page import CampaignsPage
from crm_desktop.views.leads import LeadsPage
from crm_desktop.views.leads.detail import LeadDetail
from crm_desktop.views.leads.list import LeadList
from crm_desktop.views.main_window import MainWindow
from crm_desktop.views.modules import ModulePage
from crm_server.contract.campaigns import Preset
from tests.desktop.conftest import Desk
from tests.desktop.test_leads_list import make_leads, names
from tests.desktop.test_main_window import open_main
from tests.support import LiveServer, Smtp


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The desk's server with its job worker on: a campaign sends in jobs."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


def _open_page(desk: Desk, qtbot: QtBot, smtp: Smtp) -> CampaignsPage:
    window = open_main(desk, qtbot)
    api = window.session.api
    values = {**smtp.settings(), "app.public_url": desk.server.base_url}
    desk.run(api.patch("/api/settings", {"values": values}))
    people = [{"person_name": f"Vip {i}", "email": f"vip{i}@example.net", "tags": ["vip"]} for i in range(3)]
    people.append({"person_name": "Other", "email": "other@example.net"})
    make_leads(desk, api, people)
    key = f"leads/saved_views/{window.session.me.id}"  # the lead list's saved view "VIP"
    QSettings().setValue(key, json.dumps({"VIP": {"tag": "vip"}}))
    assert "campaigns" in window.sidebar.keys()
    window.open_module("campaigns")
    shown = window.stack.currentWidget()
    assert isinstance(shown, ModulePage) and isinstance(shown.content, CampaignsPage)
    page = shown.content
    qtbot.mouseClick(page.consent_button, Qt.MouseButton.LeftButton)  # vip2 never said yes
    consent = page.consent
    assert consent is not None and consent.isVisible()
    qtbot.keyClicks(consent.addresses, "vip0@example.net, vip1@example.net; other@example.net")
    qtbot.keyClicks(consent.source, "Sign-up sheet at the trade fair")
    qtbot.mouseClick(consent.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: consent.outcome.text() == "Consent recorded for 3 addresses.")
    consent.close()
    return page


def _build(desk: Desk, qtbot: QtBot, page: CampaignsPage, name: str) -> CampaignBuilder:
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    builder = page.builder
    assert builder is not None and builder.isVisible()
    qtbot.keyClicks(builder.name, name)
    builder.view.setCurrentIndex(builder.view.findText("VIP"))
    desk.wait_until(lambda: builder.audience.text().startswith("2 will receive it"), message=builder.audience.text())
    assert "1 never consented" in builder.audience.text()
    qtbot.keyClicks(builder.subject, "Hello {{lead.person_name}}")
    qtbot.keyClicks(builder.body, "Our spring offer: https://shop.example/spring")
    return builder


def test_build_from_a_saved_view_and_watch_it_send(desk: Desk, qtbot: QtBot, smtp: Smtp) -> None:
    page = _open_page(desk, qtbot, smtp)
    builder = _build(desk, qtbot, page, "Spring VIPs")
    qtbot.mouseClick(builder.start_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: not builder.isVisible(), message=builder.error.text())
    desk.wait_until(lambda: page.current is not None and page.current.status == "done", timeout=60)
    desk.wait_until(lambda: page.figures["sent"].text() == "2", message=page.progress_label.text())
    assert page.progress_label.text() == "Sent: 2 of 2 sent."
    assert (page.bar.value(), page.bar.maximum()) == (2, 2)
    assert sorted(m["To"] for m in smtp.messages) == ["vip0@example.net", "vip1@example.net"]
    assert {m["Subject"] for m in smtp.messages} == {"Hello Vip 0", "Hello Vip 1"}
    desk.wait_until(lambda: page.recipient_model.rowCount() == 2, message="recipients not listed")
    assert not any(button.isVisible() for button in page.buttons.values())  # a sent campaign is done

    # Vip 0 reads it a minute later (the hand-off moved back, not waited for) and clicks the link.
    vip0 = next(r for r in page.recipient_model.rows() if r.address == "vip0@example.net")
    desk.on_server(_hand_off_earlier(desk, vip0.id))
    message = next(m for m in smtp.messages if m["To"] == "vip0@example.net")
    [click] = re.findall(r'href="([^"]+/track/c/[^"]+)"', message.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert httpx.get(click, headers={"User-Agent": "Thunderbird/128.0"}).status_code == 302
    desk.wait_until(lambda: page.figures["clicked"].text() == "1", message="the click did not show live")
    clicks = page.links.item(0, 1)
    assert page.figures["opened_people"].text() == "1" and clicks is not None and clicks.text() == "1"
    window = LeadDetail(page.session, vip0.entity_id)
    qtbot.addWidget(window)
    window.show()
    desk.wait_until(lambda: window.engagement_note.isVisible(), message="no engagement on the lead")
    assert window.engagement_note.text() == "Campaign engagement 4 of 100 (1 campaign opened, 1 link clicked)"
    window.close()

    # The lead list filters by it: the VIP leads with some engagement are Vip 0 alone.
    main = page.window()
    assert isinstance(main, MainWindow)
    main.open_module("leads")
    leads = main.pages["leads"].content
    assert isinstance(leads, LeadsPage)
    leads.show_list()
    qtbot.keyClicks(leads.filters.tag, "vip")
    leads.filters.engagement.setCurrentIndex(leads.filters.engagement.findData(1))
    desk.wait_until(lambda: isinstance(leads.list, LeadList) and names(leads.list) == ["Vip 0"], message="no filter")


async def _hand_off_earlier(desk: Desk, recipient_id: int) -> None:
    async with desk.server.session() as s:
        await s.execute(
            text("UPDATE campaign_recipients SET handed_at = handed_at - interval '1 minute' WHERE id = :id"),
            {"id": recipient_id},
        )


def test_pause_resume_and_cancel_a_throttled_campaign(desk: Desk, qtbot: QtBot, smtp: Smtp) -> None:
    page = _open_page(desk, qtbot, smtp)
    builder = _build(desk, qtbot, page, "Slow VIPs")
    builder.preset.setCurrentIndex(builder.preset.findData(Preset.custom))
    builder.limits["per_minute"].setValue(1)
    qtbot.mouseClick(builder.save_button, Qt.MouseButton.LeftButton)  # a draft first, started from the page
    desk.wait_until(lambda: page.current is not None and page.buttons["start"].isVisible(), message="no draft")
    assert page.current is not None and page.current.status == "draft" and smtp.messages == []
    qtbot.mouseClick(page.buttons["start"], Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.current is not None and page.current.next_batch_at is not None, timeout=60)
    assert page.current is not None and page.current.counts.sent == 1  # one a minute: the second waits
    assert "sending limit" in page.progress_label.text()
    qtbot.mouseClick(page.buttons["pause"], Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.buttons["resume"].isVisible(), message=page.progress_label.text())
    assert page.progress_label.text().startswith("Paused: 1 of 2 sent")
    qtbot.mouseClick(page.buttons["resume"], Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.buttons["pause"].isVisible(), message=page.progress_label.text())
    qtbot.mouseClick(page.buttons["cancel"], Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.current is not None and page.current.status == "cancelled")
    assert len(smtp.messages) == 1


def test_a_contacts_engagement_shows_in_the_client_window(desk: Desk, qtbot: QtBot) -> None:
    from crm_desktop.views.clients.detail import open_client
    from tests.desktop.test_client_window import loaded
    from tests.desktop.test_invoices import host, signed_in

    api, session = signed_in(desk)
    client = dict(desk.run(api.post("/api/clients", {"name": "Zeta Works"})))
    contact = dict(
        desk.run(api.post(f"/api/clients/{client['id']}/contacts", {"name": "Zoe", "email": "zoe@z.example"}))
    )

    async def engaged() -> None:  # what a campaign's open and click leave (see the server tests)
        async with desk.server.session() as s:
            await s.execute(
                text(
                    "INSERT INTO engagement_scores (entity, entity_id, opens, clicks, score)"
                    " VALUES ('contact', :i, 1, 1, 4)"
                ),
                {"i": contact["id"]},
            )

    desk.on_server(engaged())
    window = open_client(host(qtbot), session, client["id"])
    loaded(desk, window)
    assert not window.contact_engagement.isVisible()
    window.contacts.selectRow(0)
    desk.wait_until(lambda: window.contact_engagement.isVisible(), message="no engagement for the contact")
    assert window.contact_engagement.text() == "Zoe: Campaign engagement 4 of 100 (1 campaign opened, 1 link clicked)"

"""The Campaigns module as a person uses it: New campaign, pick a saved view of the lead list, see
who will receive it and who is left out, write the message, Save and start, and watch it send to the
real loopback SMTP server (live progress); then a throttled campaign is paused, resumed and
cancelled with its buttons."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from crm_desktop.api import campaigns as campaigns_api
from crm_desktop.views.campaigns.builder import CampaignBuilder
from crm_desktop.views.campaigns.page import CampaignsPage
from crm_desktop.views.modules import ModulePage
from crm_server.contract.campaigns import ConsentIn, Preset
from tests.desktop.conftest import Desk
from tests.desktop.test_leads_list import make_leads
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
    consented = ["vip0@example.net", "vip1@example.net", "other@example.net"]  # vip2 never said yes
    desk.run(campaigns_api.grant_consent(api, ConsentIn(addresses=consented, source="trade fair")))
    key = f"leads/saved_views/{window.session.me.id}"  # the lead list's saved view "VIP"
    QSettings().setValue(key, json.dumps({"VIP": {"tag": "vip"}}))
    assert "campaigns" in window.sidebar.keys()
    window.open_module("campaigns")
    page = window.stack.currentWidget()
    assert isinstance(page, ModulePage) and isinstance(page.content, CampaignsPage)
    return page.content


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


def test_pause_resume_and_cancel_a_throttled_campaign(desk: Desk, qtbot: QtBot, smtp: Smtp) -> None:
    page = _open_page(desk, qtbot, smtp)
    builder = _build(desk, qtbot, page, "Slow VIPs")
    builder.preset.setCurrentIndex(builder.preset.findData(Preset.custom))
    builder.limits["per_minute"].setValue(1)
    qtbot.mouseClick(builder.start_button, Qt.MouseButton.LeftButton)
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

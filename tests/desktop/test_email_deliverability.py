"""Deliverability as people meet it in the desktop (issue #22): the composer warns of a spam-prone
subject, of a suppressed recipient (with why) and of a reached daily limit before Send is pressed;
a bounce and a reply that arrived through the email pipe show on the lead's timeline as "Email
bounced" ("Bounced: <reason>") and "Email received"; the suppression list is exported as CSV with
the search applied and formula-looking text neutralised."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from crm_desktop.api import emails as emails_api
from crm_desktop.api.client import ApiError
from crm_desktop.views.admin.emails import EmailsPage
from crm_desktop.views.emails.compose import ComposeDialog
from crm_desktop.views.leads.detail import open_lead
from crm_server.contract.emails import EmailEntity
from crm_server.contract.events import LiveEvent
from crm_server.events import Event, to_live
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import open_panel, settle, the_dialog
from tests.desktop.test_lead_detail import session_of

FIXTURES = Path(__file__).parent.parent / "server" / "fixtures" / "email"
TOKEN = "desk-pipe-token"


def test_the_composer_warns_before_sending(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    desk.run(api.post("/api/emails/suppressions", {"address": "gone@acme.example", "reason": "Mailbox does not exist"}))
    lead = desk.run(api.post("/api/leads", {"person_name": "Ana Pop", "email": "ana@acme.example"}))
    composer = ComposeDialog(api, EmailEntity.lead, lead["id"], "ana@acme.example")
    qtbot.addWidget(composer)
    composer.show()
    desk.wait_until(lambda: "allows 500 messages" in composer.remaining.text(), message=composer.remaining.text())
    assert not composer.warnings.isVisible()

    qtbot.keyClicks(composer.subject, "FREE OFFER!!! ACT NOW")
    desk.wait_until(lambda: composer.warnings.isVisible(), message="no spam warning")
    assert "all capitals" in composer.warnings.text() and "'free'" in composer.warnings.text()

    composer.to.clear()
    qtbot.keyClicks(composer.to, "Gone@acme.example")  # a pause in typing asks again
    desk.wait_until(lambda: "suppression list" in composer.warnings.text(), message=composer.warnings.text())
    assert "Mailbox does not exist" in composer.warnings.text()

    desk.run(api.patch("/api/settings", {"values": {"emails.daily_limit": 0}}))
    composer.refresh_preview()
    desk.wait_until(lambda: "limit is reached" in composer.remaining.text(), message=composer.remaining.text())
    assert composer.remaining.property("role") == "alert" and "tomorrow" in composer.warnings.text()


async def _deliver(desk: Desk, raw: bytes) -> str:
    async with desk.server.client() as hook:
        answer = await hook.post(
            "/webhooks/email", content=raw, headers={"X-CRM-Token": TOKEN, "Content-Type": "message/rfc822"}
        )
    assert answer.status_code == 200, answer.text
    outcome: str = answer.json()["outcome"]
    return outcome


def test_a_bounce_and_a_reply_show_on_the_lead_timeline(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    desk.run(api.patch("/api/settings", {"values": {"email_pipe.token": TOKEN}}))
    lead = desk.run(api.post("/api/leads", {"person_name": "Ana Pop", "email": "ana@acme.example"}))
    sent = desk.run(
        api.post(
            "/api/emails/send",
            {"entity": "lead", "entity_id": lead["id"], "to": "ana@acme.example", "subject": "Hello", "body": "Hi"},
        )
    )
    window = open_lead(None, session_of(desk, api), lead["id"])
    qtbot.addWidget(window)
    desk.wait_until(lambda: window.lead is not None and not window.is_busy(), message="the lead did not load")
    assert not any("Email bounced" in t for t in window.timeline.texts())

    reply = (
        "From: Ana Pop <ana@acme.example>\r\nSubject: Re: Hello\r\nMessage-ID: <reply-1@acme.example>\r\n"
        f"In-Reply-To: {sent['message_id']}\r\nContent-Type: text/plain\r\n\r\nTuesday works.\r\n"
    ).encode()
    assert desk.on_server(_deliver(desk, reply)) == "threaded"
    bounce = (FIXTURES / "dsn_hard_bounce.eml").read_text()
    bounce = bounce.replace("{RECIPIENT}", "ana@acme.example").replace("{MESSAGE_ID}", sent["message_id"])
    assert desk.on_server(_deliver(desk, bounce.replace("{REPORT_ID}", "r1").encode())) == "bounce"

    # The live events the server wrote for the lead's module, as the event stream hands them over.
    announced = desk.on_server(_record_events(desk))
    assert [(e.action, e.data) for e in announced] == [
        ("received", {"lead_id": lead["id"]}),
        ("bounced", {"lead_id": lead["id"]}),
    ]
    for event in announced:
        window._on_event(event)
    desk.wait_until(
        lambda: any("Email bounced" in t for t in window.timeline.texts()), message=str(window.timeline.texts())
    )
    texts = window.timeline.texts()
    bounced = next(t for t in texts if "Email bounced" in t)
    assert "Bounced: 5.1.1 the mailbox does not exist" in bounced
    received = next(t for t in texts if "Email received" in t)
    assert "From ana@acme.example: Re: Hello" in received and "Tuesday works." in received


async def _record_events(desk: Desk) -> list[LiveEvent]:
    async with desk.server.session() as s:
        found = await s.scalars(
            select(Event).where(Event.module == "leads", Event.entity == "email").order_by(Event.seq)
        )
        return [to_live(e) for e in found]


def test_export_the_suppression_list(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api, panel, page = open_panel(desk, qtbot, "emails")
    assert isinstance(page, EmailsPage)
    for address, reason in (("a@acme.example", "=HYPERLINK(1)"), ("b@acme.example", "moved"), ("c@other.example", "x")):
        desk.run(api.post("/api/emails/suppressions", {"address": address, "reason": reason}))
    qtbot.keyClicks(page.search, "acme")
    desk.wait_until(lambda: page.suppression_list.count() == 2, message="the search did not apply")
    settle(desk, panel)
    page.export_button.click()
    dialog = the_dialog(QFileDialog)
    target = tmp_path / "suppressed.csv"
    dialog.selectFile(str(target))
    dialog.accept()
    desk.wait_until(lambda: "Exported" in page.notice_text.text(), message=page.notice_text.text())
    with target.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["address", "reason", "source", "added_at", "added_by"]
    assert sorted(r[0] for r in rows[1:]) == ["a@acme.example", "b@acme.example"]
    assert next(r for r in rows if r[0] == "a@acme.example")[1] == "'=HYPERLINK(1)"
    # Other roles may not export it.
    sam = desk.signed_in_api("sam@example.com", role="Salesperson")
    with pytest.raises(ApiError) as refused:
        desk.run(emails_api.export_suppressions(sam, str(tmp_path / "sam.csv")))
    assert refused.value.status == 403 and not (tmp_path / "sam.csv").exists()

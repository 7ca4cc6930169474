"""E-mail from a record (issue #22, first half) through HTTP with the real loopback SMTP server and
the job worker: templates refuse unknown merge tags naming the field; a preview fills the tags from a
real record; a send from a lead arrives with plain-text and HTML parts and shows on the lead's
timeline; a suppressed address is refused (409 "to"); hostile input is refused naming the field."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.server.conftest import MailServer
from tests.support import ADMIN_EMAIL, LiveServer, Smtp


@pytest.fixture(scope="module")
def mailbox(mail_server: MailServer) -> Smtp:
    return mail_server.mailbox


@pytest.fixture(scope="module")
def live(mail_server: MailServer) -> LiveServer:
    """The e-mail files' shared server, with its worker (tests/server/conftest.py)."""
    return mail_server.live


_ready: list[bool] = []


@pytest.fixture
async def boss(mail_server: MailServer, live: LiveServer, mailbox: Smtp) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        await mail_server.login_admin(api)
        if not _ready:
            settings = {**mailbox.settings(), "company.name": "Northwind", "emails.daily_limit": 500}
            assert (await api.patch("/api/settings", json={"values": settings})).status_code == 200
            # The daily limit counts every e-mail of the day: the other e-mail files' sends on this
            # shared server are moved to yesterday, as if that time had passed.
            async with live.session() as s:
                await s.execute(text("UPDATE outbound_emails SET created_at = created_at - interval '1 day'"))
            _ready.append(True)
        yield api


async def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


TEMPLATE = {
    "name": "First contact",
    "entity": "lead",
    "subject": "Hello {{lead.person_name}} from {{company.name}}",
    "body": "Dear {{lead.person_name}},\n\nAbout **{{lead.company}}** & <you>.\n\n{{owner.signature}}",
    "visibility": "everyone",
}


async def test_unknown_merge_tag_is_refused_naming_the_field(boss: httpx.AsyncClient) -> None:
    answer = await boss.post("/api/emails/templates", json={**TEMPLATE, "body": "Hi {{lead.secret_notes}}"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "body" and "lead.secret_notes" in answer.json()["message"]
    answer = await boss.post("/api/emails/templates", json={**TEMPLATE, "subject": "Hi {{client.name}}"})
    assert answer.status_code == 422 and answer.json()["field"] == "subject"


async def test_preview_send_and_timeline(boss: httpx.AsyncClient, mailbox: Smtp) -> None:
    await _ok(
        await boss.put(
            "/api/emails/identity",
            json={"display_name": "Ada of Northwind", "reply_to": "ada@northwind.example", "signature": "Ada, sales"},
        )
    )
    template = await _ok(await boss.post("/api/emails/templates", json=TEMPLATE), 201)
    lead = await _ok(
        await boss.post("/api/leads", json={"person_name": "Ana Pop", "company": "Acme", "email": "ana@acme.example"}),
        201,
    )
    preview = await _ok(
        await boss.post("/api/emails/preview/lead", json={"entity_id": lead["id"], "template_id": template["id"]})
    )
    assert preview["to"] == "ana@acme.example"
    assert preview["subject"] == "Hello Ana Pop from Northwind"
    assert "<strong>Acme</strong> &amp; &lt;you&gt;" in preview["html"] and "Ada, sales" in preview["text"]
    assert preview["remaining_today"] == 500 and preview["warnings"] == []
    shouting = await _ok(
        await boss.post(
            "/api/emails/preview/lead", json={"entity_id": lead["id"], "subject": "FREE OFFER!!!", "body": "x"}
        )
    )
    assert len(shouting["warnings"]) == 3

    before = len(mailbox.messages)
    attachment = {"filename": "offer.txt", "content_type": "text/plain", "data": base64.b64encode(b"offer").decode()}
    sent = await _ok(
        await boss.post(
            "/api/emails/send",
            json={
                "entity": "lead",
                "entity_id": lead["id"],
                "template_id": template["id"],
                "to": "ana@acme.example",
                "subject": TEMPLATE["subject"],
                "body": TEMPLATE["body"],
                "attachments": [attachment],
            },
        ),
        202,
    )
    assert sent["status"] == "queued"
    message = (await mailbox.wait_for(before + 1))[before]
    assert message["Subject"] == "Hello Ana Pop from Northwind" and message["To"] == "ana@acme.example"
    assert message["Message-ID"] == sent["message_id"] and message["Reply-To"] == "ada@northwind.example"
    assert "Ada of Northwind" in message["From"]
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and "Dear Ana Pop," in plain.get_content()
    assert rich is not None and "<strong>Acme</strong>" in rich.get_content()
    [file] = list(message.iter_attachments())
    assert file.get_filename() == "offer.txt" and file.get_content() == "offer"

    for _ in range(100):
        [email] = await _ok(await boss.get(f"/api/emails/records/lead/{lead['id']}"))
        if email["status"] != "queued":
            break
    assert email["status"] == "sent"
    timeline = await _ok(await boss.get(f"/api/leads/{lead['id']}/timeline"))
    emails = [i for i in timeline["items"] if i["kind"] == "email_sent"]
    statuses = [c["new"] for i in emails for c in i["changes"] if c["field"] == "email_status"]
    assert sorted(statuses) == ["queued", "sent"]

    test = await _ok(
        await boss.post(
            "/api/emails/send-test",
            json={
                "entity": "lead",
                "entity_id": lead["id"],
                "to": "x@y.example",
                "subject": "S {{lead.company}}",
                "body": "B",
            },
        ),
        202,
    )
    mine = (await mailbox.wait_for(before + 2))[before + 1]
    assert test["to_addr"] == ADMIN_EMAIL and mine["Subject"] == "[Test] S Acme"


async def test_suppressed_address_is_refused(boss: httpx.AsyncClient) -> None:
    await _ok(
        await boss.post("/api/emails/suppressions", json={"address": "Gone@Bounce.example", "reason": "mailbox gone"}),
        201,
    )
    found = await _ok(await boss.get("/api/emails/suppressions", params={"q": "bounce"}))
    assert [s["address"] for s in found["items"]] == ["gone@bounce.example"]
    lead = await _ok(await boss.post("/api/leads", json={"person_name": "Gone", "email": "gone@bounce.example"}), 201)
    compose = {"entity": "lead", "entity_id": lead["id"], "to": "GONE@bounce.example", "subject": "Hi", "body": "Hi"}
    answer = await boss.post("/api/emails/send", json=compose)
    assert answer.status_code == 409 and answer.json()["field"] == "to" and "mailbox gone" in answer.json()["message"]
    assert (await boss.delete(f"/api/emails/suppressions/{found['items'][0]['id']}")).status_code == 204
    assert (await boss.post("/api/emails/send", json=compose)).status_code == 202


async def test_hostile_input(boss: httpx.AsyncClient) -> None:
    lead = await _ok(await boss.post("/api/leads", json={"person_name": "Eve"}), 201)
    base = {"entity": "lead", "entity_id": lead["id"], "to": "eve@example.com", "subject": "Hi", "body": "Hi"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"subject": "Hi\r\nBcc: all@example.com"}, "subject"),
        ({"to": "eve@example.com\r\nBcc: all@example.com"}, "to"),
        ({"to": "a@example.com, b@example.com"}, "to"),
        ({"cc": ["not an address"]}, "cc.0"),
        ({"body": "x" * 100_001}, "body"),
        ({"body": "nul\u0000here"}, "body"),
        ({"entity_id": 2**64}, "entity_id"),
    ]
    for change, field in cases:
        answer = await boss.post("/api/emails/send", json={**base, **change})
        assert answer.status_code == 422, (change, answer.text)
        assert field in (answer.json().get("field") or ""), (change, answer.json())


async def test_invoice_sending_refuses_a_suppressed_address(boss: httpx.AsyncClient) -> None:
    from tests.server.test_invoice_sending import issued_invoice

    invoice = await issued_invoice(boss, client_email="billing@blocked.example")
    await _ok(
        await boss.post("/api/emails/suppressions", json={"address": "billing@blocked.example", "reason": "complaint"}),
        201,
    )
    draft = await _ok(await boss.get(f"/api/invoices/{invoice['id']}/send-draft"))
    answer = await boss.post(f"/api/invoices/{invoice['id']}/send", json=draft)
    assert answer.status_code == 409 and answer.json()["field"] == "to" and "complaint" in answer.json()["message"]


async def test_a_reply_to_a_message_sent_from_a_ticket_threads_onto_it(
    live: LiveServer, boss: httpx.AsyncClient
) -> None:
    """The stored Message-ID: the customer's reply (no [Ticket#N] in its subject) comes back through
    the email pipe onto the same ticket."""
    await _ok(await boss.patch("/api/settings", json={"values": {"email_pipe.token": "pipe-token"}}))
    ticket = await _ok(
        await boss.post("/api/tickets", json={"subject": "Printer", "requester_email": "it@acme.example"}), 201
    )
    compose = {"entity": "ticket", "entity_id": ticket["id"], "to": "it@acme.example", "subject": "Hi", "body": "Hi"}
    sent = await _ok(await boss.post("/api/emails/send", json=compose), 202)
    reply = (
        "From: IT <it@acme.example>\r\nTo: support@example.com\r\nSubject: Re: Hi\r\n"
        f"Message-ID: <reply-1@acme.example>\r\nIn-Reply-To: {sent['message_id']}\r\n"
        "Date: Sun, 06 Dec 2026 04:00:00 +0000\r\nContent-Type: text/plain\r\n\r\nThanks, fixed.\r\n"
    ).encode()
    async with live.client() as hook:
        answer = await hook.post(
            "/webhooks/email", content=reply, headers={"X-CRM-Token": "pipe-token", "Content-Type": "message/rfc822"}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "appended" and answer.json()["ticket_number"] == ticket["number"]


async def test_scope_sharing_and_the_daily_limit(live: LiveServer, boss: httpx.AsyncClient) -> None:
    """A salesperson previews only their own records, uses shared templates but may not share one,
    and nobody sends past emails.daily_limit (409 naming to; the composer shows what is left)."""
    others = await _ok(await boss.post("/api/leads", json={"person_name": "Not Yours", "email": "n@y.example"}), 201)
    shared = await _ok(await boss.post("/api/emails/templates", json={**TEMPLATE, "name": "Shared"}), 201)
    await live.create_user("sam@example.com", full_name="Sam Sales")
    async with live.client() as sam:
        await live.login(sam, "sam@example.com")
        mine = await _ok(await sam.post("/api/leads", json={"person_name": "Mine", "email": "m@y.example"}), 201)
        hidden = await sam.post(
            "/api/emails/preview/lead", json={"entity_id": others["id"], "template_id": shared["id"]}
        )
        assert hidden.status_code == 404
        shown = await _ok(
            await sam.post("/api/emails/preview/lead", json={"entity_id": mine["id"], "template_id": shared["id"]})
        )
        assert shown["subject"] == "Hello Mine from Northwind"
        sharing = await sam.post("/api/emails/templates", json={**TEMPLATE, "visibility": "everyone"})
        assert sharing.status_code == 403 and sharing.json()["field"] == "visibility"
        private = await _ok(await sam.post("/api/emails/templates", json={**TEMPLATE, "visibility": "private"}), 201)
    names = [t["name"] for t in await _ok(await boss.get("/api/emails/templates"))]
    assert "Shared" in names and private["owner_id"] != shared["owner_id"]

    left = (
        await _ok(
            await boss.post("/api/emails/preview/lead", json={"entity_id": others["id"], "subject": "x", "body": "x"})
        )
    )["remaining_today"]
    assert 0 < left < 500
    await _ok(await boss.patch("/api/settings", json={"values": {"emails.daily_limit": 500 - left}}))
    compose = {"entity": "lead", "entity_id": others["id"], "to": "n@y.example", "subject": "Hi", "body": "Hi"}
    refused = await boss.post("/api/emails/send", json=compose)
    assert refused.status_code == 409 and refused.json()["field"] == "to" and "limit" in refused.json()["message"]
    await _ok(await boss.patch("/api/settings", json={"values": {"emails.daily_limit": 500}}))


async def test_a_line_break_in_a_record_never_reaches_the_subject_header(
    boss: httpx.AsyncClient, mailbox: Smtp
) -> None:
    made = await boss.post("/api/leads", json={"person_name": "Eve\nBcc: all@example.com", "email": "eve@example.com"})
    lead = await _ok(made, 201)  # a name may hold a line break (pasted from a signature)
    compose = {
        "entity": "lead",
        "entity_id": lead["id"],
        "to": "eve@example.com",
        "subject": "Hi {{lead.person_name}}",
        "body": "x",
    }
    preview = await _ok(
        await boss.post(
            "/api/emails/preview/lead", json={"entity_id": lead["id"], "subject": compose["subject"], "body": "x"}
        )
    )
    assert preview["subject"] == "Hi Eve Bcc: all@example.com"
    before = len(mailbox.messages)
    await _ok(await boss.post("/api/emails/send", json=compose), 202)
    message = (await mailbox.wait_for(before + 1))[before]
    assert message["Subject"] == "Hi Eve Bcc: all@example.com" and message["Bcc"] is None

"""Bounces, complaints and replies through the email pipe's real door (issue #22, deliverability):
messages sent from leads by the job to the loopback SMTP server, then RFC 3464 delivery status
notifications and an RFC 5965 abuse report about them POSTed to /webhooks/email. A hard bounce
suppresses with the code and reason in words and shows "Bounced: ..." on the lead's timeline; soft
bounces suppress only after the setting's count; a complaint suppresses with "complaint"; a report
naming nothing we sent changes nothing; a reply threads onto the lead's timeline; hostile reports
(garbage fields, NUL bytes, a huge report) answer 200 and are kept in the pipe log."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import MailServer
from tests.support import LiveServer, Smtp

FIXTURES = Path(__file__).parent / "fixtures" / "email"
TOKEN = "deliverability-token"


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
            values = {
                **mailbox.settings(),
                "email_pipe.token": TOKEN,
                "emails.soft_bounce_limit": 2,
                "app.public_url": live.base_url,  # campaign links
            }
            assert (await api.patch("/api/settings", json={"values": values})).status_code == 200
            _ready.append(True)
        yield api


async def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def report(name: str, recipient: str, message_id: str) -> bytes:
    text = (FIXTURES / name).read_text()
    text = text.replace("{RECIPIENT}", recipient).replace("{MESSAGE_ID}", message_id)
    return text.replace("{REPORT_ID}", uuid.uuid4().hex).encode()


async def deliver(live: LiveServer, raw: bytes) -> dict[str, Any]:
    async with live.client() as hook:
        answer = await hook.post(
            "/webhooks/email", content=raw, headers={"X-CRM-Token": TOKEN, "Content-Type": "message/rfc822"}
        )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def send_from_lead(boss: httpx.AsyncClient, mailbox: Smtp, address: str) -> tuple[dict[str, Any], str]:
    """A lead with this address and one message sent to it (handed to the SMTP server)."""
    lead = await _ok(await boss.post("/api/leads", json={"person_name": "Ana Pop", "email": address}), 201)
    return lead, await send(boss, mailbox, lead, address)


async def send(boss: httpx.AsyncClient, mailbox: Smtp, lead: dict[str, Any], address: str) -> str:
    before = len(mailbox.messages)
    sent = await _ok(
        await boss.post(
            "/api/emails/send",
            json={"entity": "lead", "entity_id": lead["id"], "to": address, "subject": "Hello", "body": "Hi"},
        ),
        202,
    )
    await mailbox.wait_for(before + 1)
    message_id: str = sent["message_id"]
    return message_id


async def suppression(boss: httpx.AsyncClient, address: str) -> dict[str, Any] | None:
    page = await _ok(await boss.get("/api/emails/suppressions", params={"q": address}))
    found = [s for s in page["items"] if s["address"] == address]
    return found[0] if found else None


async def status_of(boss: httpx.AsyncClient, lead: dict[str, Any]) -> list[tuple[str, str | None]]:
    emails = await _ok(await boss.get(f"/api/emails/records/lead/{lead['id']}"))
    return [(e["status"], e["error"]) for e in emails]


async def timeline(boss: httpx.AsyncClient, lead: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await _ok(await boss.get(f"/api/leads/{lead['id']}/timeline")))["items"]
    return items


async def test_hard_bounce_suppresses_with_the_reason_and_shows_on_the_timeline(
    boss: httpx.AsyncClient, mailbox: Smtp, live: LiveServer
) -> None:
    lead, message_id = await send_from_lead(boss, mailbox, "Gone@Acme.example")
    raw = report("dsn_hard_bounce.eml", "gone@acme.example", message_id)
    answer = await deliver(live, raw)
    assert answer["outcome"] == "bounce" and answer["ticket_id"] is None

    entry = await suppression(boss, "gone@acme.example")
    assert entry is not None and entry["source"] == "bounce"
    assert entry["reason"].startswith("5.1.1 the mailbox does not exist (smtp; 550 5.1.1")
    [(status, error)] = await status_of(boss, lead)
    assert status == "bounced" and error is not None and error.startswith("Bounced: 5.1.1 the mailbox does not exist")
    bounced = [i for i in await timeline(boss, lead) if i["kind"] == "email_bounced"]
    assert [c["new"] for c in bounced[0]["changes"] if c["field"] == "email_status"] == [error]

    refused = await boss.post(
        "/api/emails/send",
        json={"entity": "lead", "entity_id": lead["id"], "to": "gone@acme.example", "subject": "Again", "body": "x"},
    )
    assert refused.status_code == 409 and refused.json()["field"] == "to"
    assert "5.1.1" in refused.json()["message"]

    # The same report delivered again changes nothing (one Message-ID, one pipe log row).
    again = await deliver(live, raw)
    assert again["outcome"] == "bounce" and again["duplicate"] and again["log_id"] == answer["log_id"]


async def test_soft_bounces_suppress_only_after_the_setting(
    boss: httpx.AsyncClient, mailbox: Smtp, live: LiveServer
) -> None:
    lead, first = await send_from_lead(boss, mailbox, "full@acme.example")
    second = await send(boss, mailbox, lead, "full@acme.example")
    assert (await deliver(live, report("dsn_soft_bounce.eml", "full@acme.example", first)))["outcome"] == "bounce"
    assert await suppression(boss, "full@acme.example") is None  # one of two allowed
    # The same message reported again (another report, another Message-ID) is still one failure.
    assert (await deliver(live, report("dsn_soft_bounce.eml", "full@acme.example", first)))["outcome"] == "bounce"
    assert await suppression(boss, "full@acme.example") is None
    statuses = await status_of(boss, lead)
    assert statuses[1][0] == "soft_bounced" and "4.2.2 the mailbox is full" in str(statuses[1][1])
    assert statuses[0][0] == "sent"

    assert (await deliver(live, report("dsn_soft_bounce.eml", "full@acme.example", second)))["outcome"] == "bounce"
    entry = await suppression(boss, "full@acme.example")
    assert entry is not None and entry["reason"].startswith("2 soft bounces within 7 days; the last: 4.2.2")


async def test_abuse_report_suppresses_as_complaint(boss: httpx.AsyncClient, mailbox: Smtp, live: LiveServer) -> None:
    lead, message_id = await send_from_lead(boss, mailbox, "angry@acme.example")
    answer = await deliver(live, report("arf_abuse.eml", "angry@acme.example", message_id))
    assert answer["outcome"] == "complaint"
    entry = await suppression(boss, "angry@acme.example")
    assert entry is not None and (entry["source"], entry["reason"]) == ("complaint", "complaint")
    assert (await status_of(boss, lead))[0][0] == "complained"
    assert any(i["kind"] == "email_complaint" for i in await timeline(boss, lead))

    # A "not-spam" report is no complaint: nothing more happens.
    lead, message_id = await send_from_lead(boss, mailbox, "happy@acme.example")
    raw = report("arf_abuse.eml", "happy@acme.example", message_id).replace(
        b"Feedback-Type: abuse", b"Feedback-Type: not-spam"
    )
    answer = await deliver(live, raw)
    assert answer["outcome"] == "report_ignored" and await suppression(boss, "happy@acme.example") is None


async def test_a_report_naming_nothing_we_sent_suppresses_nobody(boss: httpx.AsyncClient, live: LiveServer) -> None:
    forged = report("dsn_hard_bounce.eml", "victim@acme.example", "<made-up@attacker.example>")
    answer = await deliver(live, forged)
    assert answer["outcome"] == "report_ignored" and "names no message" in answer["message"]
    assert await suppression(boss, "victim@acme.example") is None


async def test_a_reply_threads_onto_the_lead(boss: httpx.AsyncClient, mailbox: Smtp, live: LiveServer) -> None:
    tickets = (await _ok(await boss.get("/api/tickets")))["total"]  # the shared server may hold others'
    lead, message_id = await send_from_lead(boss, mailbox, "reply@acme.example")
    raw = (
        "From: Ana Pop <reply@acme.example>\r\n"
        "To: crm@example.com\r\n"
        "Subject: Re: Hello\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@acme.example>\r\n"
        f"In-Reply-To: {message_id}\r\n"
        f"References: {message_id}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Yes, Tuesday works for us.\r\n\r\n"
        "On Sun, 6 Dec 2026 Ada wrote:\r\n> Hi\r\n"
    ).encode()
    answer = await deliver(live, raw)
    assert answer["outcome"] == "threaded" and answer["ticket_id"] is None
    received = [i for i in await timeline(boss, lead) if i["kind"] == "email_received"]
    assert len(received) == 1
    assert received[0]["text"].startswith("From reply@acme.example: Re: Hello")
    assert "Yes, Tuesday works for us." in received[0]["text"] and "> Hi" not in received[0]["text"]
    assert (await _ok(await boss.get("/api/tickets")))["total"] == tickets  # no ticket made


GARBAGE = (
    b"From: MAILER-DAEMON@mail.northwind.example\r\n"
    b"Subject: Undelivered \x00 Mail\r\n"
    b"Message-ID: <garbage-REPORT@mail.northwind.example>\r\n"
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: \x00\x01\xff\xfe\r\n\r\n"
    b"Final-Recipient: rfc822; \x00<<>>@@\r\nAction: failed\x00\r\nStatus: 99999999999999999999999.1.1\r\n"
    b"Diagnostic-Code: \xff\xfe\x00 550\r\n\r\n"
    b"Final-Recipient: \r\nAction: \r\nStatus: 5\r\n\r\n"
    b"--XX\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <\x00>\r\n--XX--\r\n"
)


async def test_hostile_reports_get_no_500_and_are_kept(boss: httpx.AsyncClient, live: LiveServer) -> None:
    garbage = GARBAGE.replace(b"REPORT", uuid.uuid4().hex.encode())
    answer = await deliver(live, garbage)
    assert answer["outcome"] == "report_ignored"
    huge_groups = b"".join(
        b"Final-Recipient: rfc822; r%d@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" % i
        for i in range(40_000)
    )
    huge = (
        b"From: MAILER-DAEMON@mail.northwind.example\r\nSubject: Undelivered\r\n"
        b"Message-ID: <huge-%s@mail.northwind.example>\r\n"
        % uuid.uuid4().hex.encode()
        + b"Content-Type: multipart/report; report-type=delivery-status; boundary=YY\r\n\r\n"
        b"--YY\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
        + huge_groups
        + b"--YY--\r\n"
    )
    answer = await deliver(live, huge)
    assert answer["outcome"] == "report_ignored"
    log = await _ok(await boss.get("/api/email-pipe/log", params={"outcome": "report_ignored"}))
    sizes = {row["raw_size"] for row in log["items"]}
    assert len(huge) in sizes and len(garbage) in sizes  # kept whole, to read or replay
    assert await suppression(boss, "r1@acme.example") is None

    # Ordinary mail of 20,000 MIME parts (the parser needed 36 s for it, blocking the server) is refused, kept.
    parts = b"".join(b"--B\r\nContent-Type: text/plain\r\n\r\nhello %d\r\n" % i for i in range(20_000))
    many = (
        b"From: a@acme.example\r\nSubject: parts\r\nMessage-ID: <parts-%s@acme.example>\r\n" % uuid.uuid4().hex.encode()
        + b"Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        + parts
        + b"--B--\r\n"
    )
    answer = await deliver(live, many)
    assert answer["outcome"] == "malformed" and "MIME parts" in answer["message"]
    log = await _ok(await boss.get("/api/email-pipe/log", params={"outcome": "malformed"}))
    assert len(many) in {row["raw_size"] for row in log["items"]}


async def test_a_reply_to_a_client_email_threads_onto_the_client(
    boss: httpx.AsyncClient, mailbox: Smtp, live: LiveServer
) -> None:
    client = await _ok(await boss.post("/api/clients", json={"name": "Acme SRL", "email": "office@acme.example"}), 201)
    before = len(mailbox.messages)
    sent = await _ok(
        await boss.post(
            "/api/emails/send",
            json={
                "entity": "client",
                "entity_id": client["id"],
                "to": "office@acme.example",
                "subject": "Offer",
                "body": "x",
            },
        ),
        202,
    )
    await mailbox.wait_for(before + 1)
    raw = (
        "From: office@acme.example\r\nSubject: Re: Offer\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@acme.example>\r\nReferences: <older@acme.example> {sent['message_id']}\r\n"
        "Content-Type: text/plain\r\n\r\nAgreed\x00.\r\n"
    ).encode()
    assert (await deliver(live, raw))["outcome"] == "threaded"
    items = (await _ok(await boss.get(f"/api/clients/{client['id']}/timeline")))["items"]
    [received] = [i for i in items if i["kind"] == "email_received"]
    assert received["text"].endswith("Agreed.")


async def test_complaint_without_original_rcpt_to_uses_the_returned_headers(
    boss: httpx.AsyncClient, mailbox: Smtp, live: LiveServer
) -> None:
    _lead, message_id = await send_from_lead(boss, mailbox, "quiet@acme.example")
    raw = report("arf_abuse.eml", "quiet@acme.example", message_id)
    raw = raw.replace(b"Original-Rcpt-To: <quiet@acme.example>\n", b"")
    assert b"Original-Rcpt-To" not in raw
    assert (await deliver(live, raw))["outcome"] == "complaint"
    entry = await suppression(boss, "quiet@acme.example")
    assert entry is not None and entry["reason"] == "complaint"


async def test_preview_warns_and_the_list_exports(boss: httpx.AsyncClient, live: LiveServer) -> None:
    lead = await _ok(await boss.post("/api/leads", json={"person_name": "Ana", "email": "x@acme.example"}), 201)
    await _ok(await boss.post("/api/emails/suppressions", json={"address": "No@Acme.example", "reason": "=1+1"}), 201)
    preview = await _ok(
        await boss.post(
            "/api/emails/preview/lead",
            json={"entity_id": lead["id"], "subject": "Cash prize", "body": "x", "to": " no@ACME.example "},
        )
    )
    assert any("no@acme.example is on the suppression list (manual: =1+1)" in w for w in preview["warnings"])
    assert sum("The word" in w for w in preview["warnings"]) == 2  # cash, prize
    hostile = await boss.post("/api/emails/preview/lead", json={"entity_id": lead["id"], "to": "x" * 400})
    assert hostile.status_code == 422 and "to" in hostile.text

    exported = await boss.get("/api/emails/suppressions.csv", params={"q": "no@"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.splitlines()
    assert lines[0] == "address,reason,source,added_at,added_by"
    assert len(lines) == 2 and lines[1].startswith("no@acme.example,'=1+1,manual,")
    assert (await boss.get("/api/emails/suppressions.csv", params={"q": "\x00"})).status_code == 422


async def test_a_campaign_message_bounce_marks_the_recipient_and_suppresses(
    boss: httpx.AsyncClient, mailbox: Smtp, live: LiveServer
) -> None:
    """P5's campaigns: the report names a campaign message; mark_recipient marks it, the address is suppressed."""
    for name, address in (("Fay", "fay@camp.example"), ("Gus", "gus@camp.example")):
        await _ok(await boss.post("/api/leads", json={"person_name": name, "email": address, "tags": ["dsn"]}), 201)
    addresses = ["fay@camp.example", "gus@camp.example"]
    await _ok(await boss.post("/api/campaigns/consents", json={"addresses": addresses, "source": "web form"}))
    body = {"name": "DSN", "entity": "lead", "filters": {"tag": "dsn"}, "subject": "Hi", "body": "Hello"}
    campaign = await _ok(await boss.post("/api/campaigns", json=body), 201)
    before = len(mailbox.messages)
    await _ok(await boss.post(f"/api/campaigns/{campaign['id']}/start"))
    sent = await mailbox.wait_for(before + 2, timeout=30)
    by_address = {str(m["To"]): str(m["Message-ID"]) for m in sent[before:]}

    hard = report("dsn_hard_bounce.eml", "fay@camp.example", by_address["fay@camp.example"])
    assert (await deliver(live, hard))["outcome"] == "bounce"
    complaint = report("arf_abuse.eml", "gus@camp.example", by_address["gus@camp.example"])
    assert (await deliver(live, complaint))["outcome"] == "complaint"

    fay = await suppression(boss, "fay@camp.example")
    gus = await suppression(boss, "gus@camp.example")
    assert fay is not None and fay["reason"].startswith("5.1.1 the mailbox does not exist")
    assert gus is not None and gus["source"] == "complaint"
    recipients = (await _ok(await boss.get(f"/api/campaigns/{campaign['id']}/recipients")))["items"]
    states = {r["address"]: r["state"] for r in recipients}
    assert states == {"fay@camp.example": "bounced", "gus@camp.example": "complained"}

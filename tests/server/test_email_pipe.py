"""The inbound email pipe: real .eml fixtures through the real app over HTTP (and the CLI as a
subprocess) into real tickets, every message and its outcome kept in the pipe log."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from crm_server.admin.models import AuditEntry
from crm_server.email_pipe import parse
from crm_server.email_pipe.models import PipeMessage
from crm_server.events import Event
from crm_server.tickets.models import Ticket, TicketAttachment, TicketComment
from tests.support import LiveServer

FIXTURES = Path(__file__).parent / "fixtures" / "email"
TOKEN = "s3cret-inbound-token"


def eml(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def with_message_id(raw: bytes, new_id: str) -> bytes:
    old = parse.message_id_of(raw)
    assert old is not None
    return raw.replace(old.encode(), f"<{new_id}>".encode(), 1)


async def deliver(
    server: LiveServer, raw: bytes, token: str = TOKEN, content_type: str = "message/rfc822"
) -> httpx.Response:
    async with server.client() as hook:
        return await hook.post(
            "/webhooks/email", content=raw, headers={"X-CRM-Token": token, "Content-Type": content_type}
        )


async def setup(admin: Any, **values: Any) -> None:
    answer = await admin.patch("/api/settings", json={"values": {"email_pipe.token": TOKEN, **values}})
    assert answer.status_code == 200, answer.text


async def acme(admin: Any) -> dict[str, Any]:
    made = await admin.post(
        "/api/clients",
        json={
            "name": "Acme SRL",
            "email": "office@acme.example",
            "contacts": [{"name": "Ana Pop", "email": "ana.pop@acme.example"}],
        },
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


async def log_entries(admin: Any, **params: Any) -> list[dict[str, Any]]:
    answer = await admin.get("/api/email-pipe/log", params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


# --- parsing -------------------------------------------------------------------------------------


def test_parse_fixtures() -> None:
    new = parse.parse(eml("new_ticket.eml"))
    assert (new.sender, new.sender_key, new.sender_name) == ("Ana.Pop@ACME.example", "ana.pop@acme.example", "Ana Pop")
    assert new.subject == "Orders do not sync since this morning" and new.ticket_number is None
    assert new.body.startswith("Hello,\n\nSince 8 o'clock")
    assert new.message_id == "<20261127091358.11@mail.acme.example>"

    reply = parse.parse(eml("reply.eml"))
    assert reply.ticket_number == 1000
    assert reply.in_reply_to[0] == "<ticket-1000-created@crm.example>"
    for subject, number in [("Re: [ticket #42] x", 42), ("[TICKET#7]", 7), ("Ticket 5", None), ("[Ticket#]", None)]:
        assert parse.ParsedEmail("a@b.example", "", subject, "").ticket_number == number

    pdf = parse.parse(eml("pdf_attachment.eml"))
    [(filename, content_type, data)] = pdf.attachments
    assert (filename, content_type) == ("invoice-2026-0117.pdf", "application/pdf") and data.startswith(b"%PDF-1.4")
    assert pdf.body == "The total on the attached invoice is 100 EUR too high."

    alt = parse.parse(eml("alternative.eml"))
    assert alt.body == "The Excel export of the leads list is empty – plain text part." and alt.attachments == []
    html = parse.parse(eml("html_only.eml"))
    assert "alert" not in html.body and "ignored" not in html.body
    assert html.body == (
        "The dashboard shows no charts.\n\n- Chrome\n- Firefox\n\n"
        "See the screenshot (https://acme.example/shot.png) & advise."
    )

    latin = parse.parse(eml("latin2_encoded_words.eml"))
    assert latin.sender_name == "Ştefan Dobreş" and latin.subject == "Factură greşită – plată"
    assert latin.body == "Bună ziua, factura are suma greşită; vă rog să o corectaţi."

    for broken in (eml("malformed.eml"), b"", b"\x00\xff\xfe binary", b"From: not an address\r\n\r\nx"):
        try:
            parse.parse(broken)
        except parse.Malformed:
            continue
        raise AssertionError(f"{broken[:30]!r} parsed")


# --- the webhook ---------------------------------------------------------------------------------


async def test_new_ticket_from_a_registered_contact(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    client = await acme(admin)
    await setup(admin, **{"email_pipe.registered_only": True})
    answer = await deliver(server, eml("new_ticket.eml"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "created" and body["duplicate"] is False
    async with server.session() as s:
        ticket = await s.get_one(Ticket, body["ticket_id"])
        assert ticket.number == body["ticket_number"]
        assert (ticket.client_id, ticket.contact_id) == (client["id"], client["contacts"][0]["id"])
        assert ticket.subject == "Orders do not sync since this morning"
        assert "#5512" in ticket.description
    [entry] = await log_entries(admin)
    assert entry["outcome"] == "created" and entry["sender"] == "Ana.Pop@ACME.example"
    assert entry["message_id"] == "<20261127091358.11@mail.acme.example>" and entry["source"] == "webhook"
    raw = await admin.get(f"/api/email-pipe/log/{entry['id']}/raw")
    assert raw.status_code == 200 and raw.content == eml("new_ticket.eml")
    assert raw.headers["content-type"].startswith("message/rfc822")


async def test_client_email_and_unknown_sender_open_tickets(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    client = await acme(admin)
    await setup(admin)
    by_client = await deliver(server, eml("new_ticket.eml").replace(b"Ana.Pop@ACME.example", b"Office@Acme.example"))
    stranger = await deliver(server, eml("unregistered.eml"))
    assert by_client.json()["outcome"] == stranger.json()["outcome"] == "created"
    async with server.session() as s:
        mine = await s.get_one(Ticket, by_client.json()["ticket_id"])
        theirs = await s.get_one(Ticket, stranger.json()["ticket_id"])
        assert (mine.client_id, mine.contact_id) == (client["id"], None)
        assert (theirs.client_id, theirs.contact_id, theirs.requester_email) == (None, None, "stranger@unknown.example")


async def test_reply_threads_by_ticket_number(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await acme(admin)
    await setup(admin, **{"email_pipe.replies_only": True})
    async with server.session() as s:  # replies_only: open the first ticket the way staff would
        from crm_server.tickets import service as tickets

        ticket = await tickets.create_ticket_from_email(
            s,
            client_id=None,
            contact_id=None,
            subject="Orders",
            sender="ana.pop@acme.example",
            body="first",
            attachments=[],
        )
        number = ticket.number
    reply = eml("reply.eml").replace(b"[Ticket#1000]", f"[Ticket#{number}]".encode())
    answer = await deliver(server, reply)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "appended" and answer.json()["ticket_number"] == number
    async with server.session() as s:
        [comment] = (await s.scalars(select(TicketComment).where(TicketComment.ticket_id == ticket.id))).all()
        assert comment.public and comment.author_email == "ana.pop@acme.example"
        assert comment.body.startswith("It works again after the restart")
    # A reply that lost the tag still threads, by In-Reply-To to a message the pipe processed.
    untagged = with_message_id(eml("alternative.eml"), "alt-reply@mail.acme.example").replace(
        b"Date:", b"In-Reply-To: <20261127100211.42@mail.acme.example>\r\nDate:", 1
    )
    threaded = await deliver(server, untagged)
    assert threaded.json()["outcome"] == "appended" and threaded.json()["ticket_number"] == number


async def test_a_reply_shows_its_new_text_and_keeps_the_quoted_history(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    """format=flowed lines are joined (RFC 3676; DelSp=yes too) and the quoted history under a reply
    is kept apart: the comment shows what the customer wrote now, full-message.txt on the same
    comment has the whole text. Thunderbird, Apple Mail and Outlook replies as they send them."""
    await setup(admin)
    async with server.session() as s:
        from crm_server.tickets import service as tickets

        ticket = await tickets.create_ticket_from_email(
            s,
            client_id=None,
            contact_id=None,
            subject="Orders",
            sender="ana.pop@acme.example",
            body="first",
            attachments=[],
        )
        ticket_id, number = ticket.id, ticket.number
    expected = {
        "reply_flowed.eml": "Hi,\n\nthe sync works again, but the totals in the PDF are still rounded differently "
        "from the screen: 10.005 shows as 10.00 on the PDF and as 10.01 in the window.\n\nAna",
        "reply_flowed_delsp.eml": "The export link you sent opens an empty page: https://crm.example/reports/export"
        "?from=2026-11-01&to=2026-11-30&format=pdf\n\nCould you look at it once more?",
        "reply_outlook.eml": "Yes, please close the ticket.\n\nMihai Ionescu\nAcme SRL",
    }
    history = {
        "reply_flowed.eml": "> We restarted the sync service. Could you check again and tell us whether the "
        "totals now match?",
        "reply_flowed_delsp.eml": "> Here is the export you asked for; it covers the whole month of November.",
        "reply_outlook.eml": "-----Original Message-----\nFrom: CRM Support",
    }
    for name in expected:
        answer = await deliver(server, eml(name).replace(b"[Ticket#1000]", f"[Ticket#{number}]".encode()))
        assert answer.status_code == 200 and answer.json()["outcome"] == "appended", answer.text
    comments = (await admin.get(f"/api/tickets/{ticket_id}/comments")).json()
    assert len(comments) == 3
    for comment, name in zip(comments, expected, strict=True):
        assert (
            comment["body"] == expected[name] + "\n\n[The earlier messages quoted in this email are in "
            "full-message.txt.]"
        )
        assert history[name].split("\n")[0] not in comment["body"]
        [full] = [a for a in comment["attachments"] if a["filename"] == "full-message.txt"]
        text = (await admin.get(f"/api/attachments/{full['id']}")).content.decode()
        assert text.startswith(expected[name]) and history[name] in text  # the whole original, joined
    # A message that is only a quote, or a reply written under the quote, keeps all its text.
    under = b"> What is the order number?\r\n\r\nIt is #5512.\r\n"
    raw = with_message_id(eml("reply.eml"), "under-1@mail.acme.example").replace(
        b"[Ticket#1000]", f"[Ticket#{number}]".encode()
    )
    raw = raw[: raw.index(b"\r\n\r\n") + 4] + under
    assert (await deliver(server, raw)).json()["outcome"] == "appended"
    last = (await admin.get(f"/api/tickets/{ticket_id}/comments")).json()[-1]
    assert last["body"] == "> What is the order number?\n\nIt is #5512." and last["attachments"] == []


async def test_each_refusal_is_logged_with_its_reason(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    """A refusal is final: answered 200 with its outcome (the one answer every provider takes as "do
    not retry"), kept in the pipe log with the reason, replayable by an admin."""
    await setup(admin, **{"email_pipe.registered_only": True})
    unregistered = await deliver(server, eml("unregistered.eml"))
    assert unregistered.status_code == 200 and unregistered.json()["outcome"] == "unregistered"
    assert "stranger@unknown.example" in unregistered.json()["message"]

    not_found = await deliver(server, eml("reply.eml").replace(b"[Ticket#1000]", b"[Ticket #999999]"))
    assert not_found.status_code == 200 and not_found.json()["outcome"] == "ticket_not_found"
    assert "[Ticket#999999] names no ticket" in not_found.json()["message"]

    malformed = await deliver(server, eml("malformed.eml"))
    assert malformed.status_code == 200 and malformed.json()["outcome"] == "malformed"
    garbage = await deliver(server, b"\x00\x01\x02 not mail at all \xff", content_type="application/octet-stream")
    assert garbage.status_code == 200 and garbage.json()["outcome"] == "malformed"
    form = await deliver(server, b"from=a%40b.example&subject=hi", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415 and form.json()["code"] == "malformed"  # not a message at all: the door's 4xx

    await setup(admin, **{"email_pipe.registered_only": False, "email_pipe.replies_only": True})
    new = await deliver(server, eml("html_only.eml"))
    assert new.status_code == 200 and new.json()["outcome"] == "replies_only"
    again = await deliver(server, eml("html_only.eml"))  # a provider that retries anyway changes nothing
    assert again.status_code == 200 and again.json() == {**new.json(), "duplicate": True}

    outcomes = {e["outcome"] for e in await log_entries(admin)}
    assert outcomes == {"unregistered", "ticket_not_found", "malformed", "replies_only"}
    assert len(await log_entries(admin, outcome="malformed")) == 3
    [entry] = await log_entries(admin, outcome="ticket_not_found")
    assert entry["ticket_number"] == 999999 and "999999" in entry["error"]
    assert (await admin.get("/api/email-pipe/log", params={"outcome": "nonsense"})).status_code == 422
    async with server.session() as s:
        assert await s.scalar(select(func.count()).select_from(Ticket)) == 0
        stored = await s.scalar(select(PipeMessage.raw).where(PipeMessage.outcome == "unregistered"))
        assert stored == eml("unregistered.eml")


async def test_more_than_ten_messages_in_the_window_are_refused(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await setup(admin)
    answers = [
        await deliver(server, with_message_id(eml("unregistered.eml"), f"flood-{i}@unknown.example")) for i in range(11)
    ]
    assert [a.status_code for a in answers] == [200] * 11  # a refused flood is not delivered again and again
    assert [a.json()["outcome"] for a in answers] == ["created"] * 10 + ["limit_exceeded"]
    other = await deliver(server, eml("new_ticket.eml"))  # another address is not held back
    assert other.status_code == 200
    assert len(await log_entries(admin, outcome="limit_exceeded")) == 1
    await setup(admin, **{"email_pipe.max_per_window": 20})
    later = await deliver(server, with_message_id(eml("unregistered.eml"), "flood-after@unknown.example"))
    assert later.status_code == 200


async def test_attachments_arrive_on_the_ticket(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await acme(admin)
    await setup(admin)
    answer = await deliver(server, eml("pdf_attachment.eml"))
    assert answer.json()["outcome"] == "created", answer.text
    async with server.session() as s:
        [attachment] = (
            await s.execute(
                select(TicketAttachment.filename, TicketAttachment.content_type, TicketAttachment.data).where(
                    TicketAttachment.ticket_id == answer.json()["ticket_id"]
                )
            )
        ).all()
        assert tuple(attachment) == parse.parse(eml("pdf_attachment.eml")).attachments[0]


async def test_a_redelivered_message_changes_nothing(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await setup(admin)
    first = await deliver(server, eml("latin2_encoded_words.eml"))
    again = await deliver(server, eml("latin2_encoded_words.eml"))
    assert first.status_code == again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    refused = await deliver(server, eml("malformed.eml"))
    refused_again = await deliver(server, eml("malformed.eml"))
    assert refused.status_code == refused_again.status_code == 200 and refused_again.json()["duplicate"] is True
    assert refused_again.json()["outcome"] == "malformed"
    async with server.session() as s:
        assert await s.scalar(select(func.count()).select_from(Ticket)) == 1
        assert await s.scalar(select(func.count()).select_from(PipeMessage)) == 2
        ticket = await s.get_one(Ticket, first.json()["ticket_id"])
        assert ticket.subject == "Factură greşită – plată"


async def test_the_token_guards_the_webhook(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    off = await deliver(server, eml("new_ticket.eml"))
    assert off.status_code == 404 and off.json()["code"] == "webhook_disabled"
    await setup(admin)
    wrong = await deliver(server, eml("new_ticket.eml"), token="guess")
    assert wrong.status_code == 403 and wrong.json()["code"] == "bad_token"
    async with server.client() as hook:
        missing = await hook.post(
            "/webhooks/email", content=eml("new_ticket.eml"), headers={"Content-Type": "message/rfc822"}
        )
    assert missing.status_code == 403
    entries = await log_entries(admin, outcome="bad_token")
    assert len(entries) == 2 and entries[0]["raw_size"] == len(eml("new_ticket.eml"))
    assert (await admin.post(f"/api/email-pipe/log/{entries[0]['id']}/replay")).status_code == 409
    # The refused delivery took no Message-ID slot: the real one still gets through.
    right = await deliver(server, eml("new_ticket.eml"))
    assert right.status_code == 200 and right.json()["duplicate"] is False
    settings = (await admin.get("/api/settings")).json()
    assert settings["values"]["email_pipe.token"] is True


async def test_replay_after_fixing_the_contact(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await setup(admin, **{"email_pipe.registered_only": True})
    refused = await deliver(server, eml("unregistered.eml"))
    log_id = refused.json()["log_id"]
    assert refused.status_code == 200 and refused.json()["outcome"] == "unregistered"
    made = await admin.post(
        "/api/clients",
        json={"name": "New Co", "contacts": [{"name": "Someone New", "email": "Stranger@Unknown.example"}]},
    )
    assert made.status_code == 201
    replayed = await admin.post(f"/api/email-pipe/log/{log_id}/replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["outcome"] == "created" and replayed.json()["log_id"] == log_id
    [entry] = await log_entries(admin)
    assert entry["attempts"] == 2 and entry["outcome"] == "created"
    again = await admin.post(f"/api/email-pipe/log/{log_id}/replay")
    assert again.status_code == 409 and again.json()["code"] == "already_processed"
    assert (await admin.post("/api/email-pipe/log/999999/replay")).status_code == 404
    async with server.session() as s:
        audit = await s.scalar(select(AuditEntry).where(AuditEntry.entity == "email_pipe_log"))
        assert audit is not None and audit.action == "replayed" and audit.entity_id == log_id
        assert {"field": "outcome", "old": "unregistered", "new": "created"} in audit.changes
    salesperson_id = await server.create_user("sales@example.com")
    assert salesperson_id
    async with server.client() as sales:
        await server.login(sales, "sales@example.com")
        assert (await sales.get("/api/email-pipe/log")).status_code == 403
        assert (await sales.post(f"/api/email-pipe/log/{log_id}/replay")).status_code == 403


# --- the mail server's pipe ----------------------------------------------------------------------


def _pipe(database_url: str, raw: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "CRM_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "crm_server.cli", "pipe-email"], input=raw, env=env, capture_output=True, timeout=60
    )


async def test_pipe_email_command(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await acme(admin)
    await setup(admin, **{"email_pipe.registered_only": True})
    created = _pipe(server.database_url, eml("new_ticket.eml"))
    assert created.returncode == 0, created.stderr
    assert created.stdout.decode().startswith("created: Created ticket #")
    again = _pipe(server.database_url, eml("new_ticket.eml"))
    assert again.returncode == 0 and b"already received" in again.stdout
    malformed = _pipe(server.database_url, eml("malformed.eml"))
    assert malformed.returncode == 65 and malformed.stdout.startswith(b"malformed:")
    refused = _pipe(server.database_url, eml("unregistered.eml"))
    assert refused.returncode == 77 and refused.stdout.startswith(b"unregistered:")
    entries = await log_entries(admin)
    assert {e["source"] for e in entries} == {"cli"} and len(entries) == 3


# --- robustness ----------------------------------------------------------------------------------


async def test_a_file_too_large_is_left_out_not_the_message(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await setup(admin)
    big = base64.encodebytes(b"\x00" * (11 * 1024 * 1024)).replace(b"\n", b"\r\n")
    raw = with_message_id(eml("pdf_attachment.eml"), "big-1@mail.acme.example").replace(
        b"--=_mixed_0117--",
        b"--=_mixed_0117\r\nContent-Type: application/zip\r\n"
        b'Content-Disposition: attachment; filename="dump.zip"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + big
        + b"\r\n--=_mixed_0117--",
    )
    answer = await deliver(server, raw)
    assert answer.status_code == 200, answer.text
    async with server.session() as s:
        names = (
            await s.scalars(
                select(TicketAttachment.filename).where(TicketAttachment.ticket_id == answer.json()["ticket_id"])
            )
        ).all()
        assert names == ["invoice-2026-0117.pdf"]
        ticket = await s.get_one(Ticket, answer.json()["ticket_id"])
        assert "dump.zip (11.0 MB) was not kept" in ticket.description


async def test_a_failure_of_ours_is_kept_and_retried_on_redelivery(server: LiveServer, admin, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from crm_server.email_pipe import service

    await setup(admin)
    real = service.tickets.create_ticket_from_email

    async def broken(*args: Any, **kwargs: Any) -> Any:
        await real(*args, **kwargs)  # its writes must be undone with the savepoint
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service.tickets, "create_ticket_from_email", broken)
    failed = await deliver(server, eml("new_ticket.eml"))
    assert failed.status_code == 503 and failed.json()["code"] == "failed"
    assert failed.headers["retry-after"] == "60"
    [entry] = await log_entries(admin, outcome="failed")
    assert "disk on fire" in entry["error"]
    async with server.session() as s:
        assert await s.scalar(select(func.count()).select_from(Ticket)) == 0
        announced = await s.scalars(select(Event.entity).where(Event.entity != "settings"))
        assert set(announced) == {"email_pipe_log"}  # no event of the ticket that was undone
    monkeypatch.setattr(service.tickets, "create_ticket_from_email", real)
    retried = await deliver(server, eml("new_ticket.eml"))
    assert retried.status_code == 200 and retried.json()["outcome"] == "created"
    assert retried.json()["log_id"] == entry["id"] and not retried.json()["duplicate"]


async def test_simultaneous_redeliveries_make_one_ticket(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await setup(admin)
    answers = await asyncio.gather(*(deliver(server, eml("alternative.eml")) for _ in range(4)))
    assert {a.status_code for a in answers} == {200}
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True, True, True]
    assert len({a.json()["ticket_id"] for a in answers}) == 1

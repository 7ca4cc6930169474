"""The pipe's rules: store the raw message first, then decide (reply, new ticket or refusal) and
hand it to the tickets service. Both doors (webhook, `crm-server pipe-email`) come through here.

Never commits: the request or the command owns the transaction. A refusal is an outcome written in
the log, not an exception, so the caller commits the log row whatever happened."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import Select, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, paging
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client, Contact
from crm_server.contract.common import Page
from crm_server.contract.email_pipe import PROCESSED, Outcome, PipeLogEntry, PipeResult
from crm_server.contract.tickets import MAX_ATTACHMENT_BYTES
from crm_server.db import savepoint, utcnow
from crm_server.email_pipe import parse, reports
from crm_server.email_pipe.models import PipeMessage
from crm_server.emails import bounces, replies
from crm_server.emails.models import OutboundEmail
from crm_server.errors import AppError, Conflict, NotFound
from crm_server.tickets import service as tickets
from crm_server.tickets.models import Ticket

log = logging.getLogger(__name__)


def _message(entry: PipeMessage) -> str:
    number = f"#{entry.ticket_number}" if entry.ticket_number is not None else ""
    return {
        "created": f"Created ticket {number}",
        "appended": f"Added a reply to ticket {number}",
        "received": "Stored, not processed yet",
    }.get(entry.outcome, f"Refused: {entry.error or entry.outcome}")


def result(entry: PipeMessage, duplicate: bool = False) -> PipeResult:
    return PipeResult(
        log_id=entry.id,
        outcome=entry.outcome,
        message=_message(entry),
        ticket_id=entry.ticket_id,
        ticket_number=entry.ticket_number,
        duplicate=duplicate,
    )


async def receive(session: AsyncSession, raw: bytes, *, source: str, remote: str | None = None) -> PipeResult:
    """Store one message (once per Message-ID), then process it. A redelivery answers the first
    delivery's outcome and changes nothing, unless that one failed on our side: then it is retried."""
    message_id = parse.message_id_of(raw)
    stmt = insert(PipeMessage).values(
        source=source, remote=remote, message_id=message_id, outcome="received", raw=raw, raw_size=len(raw)
    )
    if message_id is not None:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=[PipeMessage.message_id], index_where=PipeMessage.message_id.is_not(None)
        )
    new_id = await session.scalar(stmt.returning(PipeMessage.id))
    if new_id is None:
        earlier = await session.scalar(
            select(PipeMessage).where(PipeMessage.message_id == message_id).with_for_update()
        )
        assert earlier is not None
        if earlier.outcome != "failed":
            return result(earlier, duplicate=True)
        entry = earlier
    else:
        entry = await session.get_one(PipeMessage, new_id)
    await _process(session, entry, raw, enforce_limit=True)
    _announce(session, entry, "created" if new_id else "updated")
    if entry.outcome not in PROCESSED:
        log.warning(
            "email pipe: message %s from %r refused (%s): %s", entry.id, entry.sender, entry.outcome, entry.error
        )
    return result(entry)


async def log_refused(
    session: AsyncSession,
    *,
    outcome: Outcome,
    error: str,
    source: str,
    remote: str | None,
    raw: bytes = b"",
    size: int | None = None,
) -> PipeResult:
    """Log what was refused before it could be read (wrong token, wrong content type). It takes no
    Message-ID slot: an unauthenticated caller must not be able to block a real message's delivery."""
    entry = PipeMessage(
        source=source,
        remote=remote,
        outcome=outcome,
        error=error,
        raw=raw,
        raw_size=len(raw) if size is None else size,
        processed_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    _announce(session, entry, "created")
    return result(entry)


async def replay(session: AsyncSession, actor: Principal, log_id: int) -> PipeResult:
    """Process a stored message again (after fixing a contact or a setting). The rate limit is not
    applied: an admin asked for it. A message that already made a ticket or reply is refused."""
    entry = await session.get(PipeMessage, log_id, with_for_update=True)
    if entry is None:
        raise NotFound("No such message in the pipe log.", code="pipe_message_not_found")
    if entry.outcome in PROCESSED:
        raise Conflict(f"This message was already processed ({_message(entry)}).", code="already_processed")
    if entry.outcome == "bad_token":
        raise Conflict("A message refused for its token was not kept; it cannot be replayed.", code="nothing_to_replay")
    before = {"outcome": entry.outcome, "ticket_number": entry.ticket_number, "error": entry.error}
    raw = await session.scalar(select(PipeMessage.raw).where(PipeMessage.id == log_id)) or b""
    await _process(session, entry, raw, enforce_limit=False)
    after = {"outcome": entry.outcome, "ticket_number": entry.ticket_number, "error": entry.error}
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="email_pipe_log",
        entity_id=entry.id,
        action="replayed",
        changes=audit.diff(before, after),
    )
    _announce(session, entry, "updated", actor.user_id)
    return result(entry)


async def _process(session: AsyncSession, entry: PipeMessage, raw: bytes, *, enforce_limit: bool) -> None:
    entry.attempts += 1
    entry.processed_at = utcnow()
    entry.error, entry.ticket_id, entry.ticket_number = None, None, None
    report = reports.read_report(raw)
    try:
        mail = parse.parse(raw if report is None else reports.headers_only(raw))
    except parse.Malformed as exc:
        if report is None:
            entry.outcome, entry.error = "malformed", str(exc)
            return
        mail = None  # a bounce from the null sender has no usable From: the report is what counts
    if mail is not None:
        entry.sender, entry.sender_key, entry.subject = mail.sender, mail.sender_key, mail.subject
        entry.in_reply_to = mail.in_reply_to[0] if mail.in_reply_to else None
    if report is not None:  # a bounce or a complaint never makes a ticket
        await _guarded(session, entry, partial(bounces.apply_report, session, report, entry.id))
        return
    assert mail is not None
    rules = await settings.get_all(session)
    if mail.ticket_number is None and (sent := await replies.sent_from_record(session, mail.in_reply_to)):
        if enforce_limit and await _over_limit(session, entry, rules):
            entry.outcome, entry.error = "limit_exceeded", f"too many messages from {mail.sender} in the window"
            return
        await _guarded(session, entry, partial(_thread_reply, session, sent, mail, entry.id))
        return
    number = mail.ticket_number or await _threaded(session, mail, entry.id)
    contact_id, client_id = await _match_sender(session, mail.sender_key)
    if number is None and rules["email_pipe.replies_only"]:
        entry.outcome, entry.error = "replies_only", "only replies to existing tickets are accepted"
        return
    if number is None and rules["email_pipe.registered_only"] and client_id is None:
        entry.outcome, entry.error = "unregistered", f"{mail.sender} is not a registered contact or client"
        return
    if enforce_limit and await _over_limit(session, entry, rules):
        entry.outcome = "limit_exceeded"
        entry.error = (
            f"more than {rules['email_pipe.max_per_window']} messages from {mail.sender} "
            f"within {rules['email_pipe.window_minutes']} minutes"
        )
        return
    await _hand_over(session, entry, mail, number, contact_id, client_id)


async def _thread_reply(
    session: AsyncSession, sent: OutboundEmail, mail: parse.ParsedEmail, entry_id: int
) -> tuple[Outcome, str | None]:
    await replies.keep_reply(session, sent, mail, entry_id)
    return "threaded", None


async def _guarded(
    session: AsyncSession, entry: PipeMessage, work: Callable[[], Awaitable[tuple[Outcome, str | None]]]
) -> None:
    """Work on a bounce, complaint or reply inside a savepoint: a fault of ours leaves the log row
    (written before) as "failed" with the error, to be retried on redelivery or replayed."""
    try:
        async with savepoint(session):
            outcome, error = await work()
    except Exception as exc:
        log.exception("email pipe: processing message %s failed", entry.id)
        entry.outcome, entry.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        return
    entry.outcome, entry.error = outcome, error


async def _hand_over(
    session: AsyncSession,
    entry: PipeMessage,
    mail: parse.ParsedEmail,
    number: int | None,
    contact_id: int | None,
    client_id: int | None,
) -> None:
    """Call the tickets service inside a savepoint: if it fails, its half-work is undone while the
    log row (written before) stays, with the error, for the admin to see and replay."""
    body, files = _keepable(mail, reply=number is not None)
    try:
        async with savepoint(session):
            if number is not None:
                ticket = await tickets.add_public_comment_from_email(
                    session, number, sender=mail.sender, body=body, attachments=files
                )
            else:
                ticket = await tickets.create_ticket_from_email(
                    session,
                    client_id=client_id,
                    contact_id=contact_id,
                    sender=mail.sender,
                    subject=mail.subject,
                    body=body,
                    attachments=files,
                )
    except AppError as exc:
        entry.outcome, entry.error = "rejected", exc.message
        return
    except Exception as exc:  # a fault of ours: kept, retried on redelivery, replayable
        log.exception("email pipe: processing message %s failed", entry.id)
        entry.outcome, entry.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        return
    if ticket is None:
        entry.outcome = "ticket_not_found"
        entry.error = (
            f"ticket #{number} not found: the subject's [Ticket#{number}] names no ticket"
            if mail.ticket_number == number
            else f"ticket #{number}, which this message answers, no longer exists"
        )
        entry.ticket_number = number
        return
    entry.outcome = "appended" if number is not None else "created"
    entry.ticket_id, entry.ticket_number = ticket.id, ticket.number


FULL_MESSAGE = "full-message.txt"  # a reply's whole text (its new part and the quoted history)


def _keepable(mail: parse.ParsedEmail, *, reply: bool = False) -> tuple[str, list[parse.Attachment]]:
    """What the tickets service accepts: a customer's reply is not refused for one file too large
    (or empty) nor for having no text; the file is left out with a note (the raw message keeps it).

    A reply shows what the customer wrote now; the earlier messages it quotes stay available as
    full-message.txt on the same comment (the raw message is in the pipe log as well). A new
    ticket keeps its whole text: what it quotes or forwards is what the customer is asking about."""
    files = [a for a in mail.attachments if 0 < len(a[2]) <= MAX_ATTACHMENT_BYTES]
    notes = [
        f"[Attachment {name} ({len(data) / 1048576:.1f} MB) was not kept: files may be at most "
        f"{MAX_ATTACHMENT_BYTES // 1048576} MB. The original message is in the email pipe log.]"
        for name, _, data in mail.attachments
        if len(data) > MAX_ATTACHMENT_BYTES
    ]
    text = mail.body
    if reply and mail.quoted:
        text = mail.new_text
        full = mail.body.encode()
        if len(full) <= MAX_ATTACHMENT_BYTES:
            files.append((FULL_MESSAGE, "text/plain", full))
            notes.insert(0, f"[The earlier messages quoted in this email are in {FULL_MESSAGE}.]")
        else:
            notes.insert(0, "[The earlier messages quoted in this email are in the email pipe log.]")
    body = "\n\n".join([text, *notes]).strip()
    if not body:
        body = "(no text)" if not files else "(no text; see the attached files)"
    return body, files


async def _threaded(session: AsyncSession, mail: parse.ParsedEmail, own_id: int) -> int | None:
    """A reply whose subject lost its [Ticket#N] tag still threads by In-Reply-To / References,
    when it answers a message this pipe turned into a ticket or a reply."""
    if not mail.in_reply_to:
        return None
    return await session.scalar(
        select(PipeMessage.ticket_number)
        .where(
            PipeMessage.message_id.in_(mail.in_reply_to[:20]),
            PipeMessage.ticket_number.is_not(None),
            PipeMessage.outcome.in_(PROCESSED),
            PipeMessage.id != own_id,
        )
        .order_by(PipeMessage.id.desc())
        .limit(1)
    ) or await _sent_from_ticket(session, mail.in_reply_to[:20])


async def _sent_from_ticket(session: AsyncSession, message_ids: list[str]) -> int | None:
    """The ticket number of a message sent from a ticket window (crm_server.emails), by its stored
    Message-ID: a reply to it threads onto that ticket."""
    return await session.scalar(
        select(Ticket.number)
        .join(OutboundEmail, (OutboundEmail.entity == "ticket") & (OutboundEmail.entity_id == Ticket.id))
        .where(OutboundEmail.message_id.in_(message_ids))
        .order_by(OutboundEmail.id.desc())
        .limit(1)
    )


async def _match_sender(session: AsyncSession, key: str) -> tuple[int | None, int | None]:
    """(contact id, client id) of the address: a contact first, else a client's own email; active
    clients before archived ones, the oldest record first."""
    found = (
        await session.execute(
            select(Contact.id, Contact.client_id)
            .join(Client, Client.id == Contact.client_id)
            .where(func.lower(Contact.email) == key)
            .order_by(Client.archived_at.is_not(None), Contact.id)
            .limit(1)
        )
    ).first()
    if found is not None:
        return found[0], found[1]
    client_id = await session.scalar(
        select(Client.id)
        .where(func.lower(Client.email) == key)
        .order_by(Client.archived_at.is_not(None), Client.id)
        .limit(1)
    )
    return None, client_id


async def _over_limit(session: AsyncSession, entry: PipeMessage, rules: dict[str, Any]) -> bool:
    """Counts what one address made (tickets and replies: a mail loop is stopped too) in the window.
    A per-address lock makes two simultaneous messages count one after the other."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"email_pipe:{entry.sender_key}"}
    )
    since = utcnow() - timedelta(minutes=int(rules["email_pipe.window_minutes"]))
    made = await session.scalar(
        select(func.count())
        .select_from(PipeMessage)
        .where(
            PipeMessage.sender_key == entry.sender_key,
            PipeMessage.received_at >= since,
            PipeMessage.outcome.in_(PROCESSED),
            PipeMessage.id != entry.id,
        )
    )
    return (made or 0) >= int(rules["email_pipe.max_per_window"])


def _announce(session: AsyncSession, entry: PipeMessage, action: str, actor_id: int | None = None) -> None:
    events.emit(
        session,
        module="admin",
        entity="email_pipe_log",
        entity_id=entry.id,
        action=action,
        actor_id=actor_id,
        data={"outcome": entry.outcome},
    )


def _log_query(outcome: str | None, q: str | None) -> Select[PipeMessage]:
    stmt = select(PipeMessage)
    if outcome:
        stmt = stmt.where(PipeMessage.outcome == outcome)
    if q:
        term = q.strip().lower()
        stmt = stmt.where(
            or_(
                PipeMessage.sender_key.contains(term, autoescape=True),
                func.lower(PipeMessage.subject).contains(term, autoescape=True),
                func.lower(PipeMessage.message_id).contains(term, autoescape=True),
            )
        )
    return stmt


async def pipe_log(
    session: AsyncSession, outcome: str | None, q: str | None, offset: int, limit: int, after: str | None = None
) -> Page[PipeLogEntry]:
    return await paging.page(
        session,
        _log_query(outcome, q),
        offset,
        limit,
        PipeLogEntry.model_validate,
        (PipeMessage.received_at.desc(), PipeMessage.id.desc()),
        after=after,
    )


async def raw_message(session: AsyncSession, log_id: int) -> bytes:
    raw = await session.scalar(select(PipeMessage.raw).where(PipeMessage.id == log_id))
    if raw is None:
        raise NotFound("No such message in the pipe log.", code="pipe_message_not_found")
    return raw

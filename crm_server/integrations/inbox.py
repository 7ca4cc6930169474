"""The inbox's rules: store first (unique per provider event id, with its job in the same
transaction, so an acknowledged event survives a crash), then work in a job through the provider's
handler; failures keep their error, retry with backoff and can be replayed by an admin.

Never commits: the webhook request or the job owns the transaction."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import settings
from crm_server.contract.integrations import InboxEventOut, WebhookAnswer
from crm_server.db import savepoint, utcnow
from crm_server.errors import TooManyRequests
from crm_server.integrations import registry
from crm_server.integrations.models import InboxEvent, ProviderProblem
from crm_server.integrations.providers import Incoming, NeedsAttention
from crm_server.jobs import queue

log = logging.getLogger(__name__)

PROCESS_TASK = "integrations.process"
# Headers that prove who sent the request: kept out of the inbox (the admin panel shows the rest).
MASKED_HEADERS = frozenset(
    {
        "authorization",
        "cookie",
        "x-hub-signature",
        "x-hub-signature-256",
        "x-wc-webhook-signature",
        "stripe-signature",
        "x-crm-token",
    }
)
# A refused request is kept compactly: its headers (each cut short), the first 4 KB of its body, the
# body's size and SHA-256; a forged flood cannot fill the database (and rejects are purged after 7 days).
KEEP_REJECTED_BYTES = 4 * 1024
KEEP_REJECTED_HEADERS = 50
KEEP_HEADER_CHARS = 500
REJECTS_WINDOW = timedelta(hours=1)  # `integrations.max_rejects_per_hour` refusals kept per address
MAX_ATTEMPTS = 8  # 30 s, 1, 2, 4, 8, 16, 32 min... then it waits for a replay
FIRST_RETRY_SECONDS = 30
# Statuses a job may work on, and those a person may replay.
WORKABLE = ("pending", "failed")
REPLAYABLE = ("failed", "needs_attention")


def masked(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): ("(hidden)" if k.lower() in MASKED_HEADERS else v) for k, v in headers.items()}


def event_out(event: InboxEvent) -> InboxEventOut:
    return InboxEventOut.model_validate(event)


def _announce(session: AsyncSession, event: InboxEvent, action: str, actor_id: int | None = None) -> None:
    events.emit(
        session,
        module="integrations",
        entity="integration_event",
        entity_id=event.id,
        action=action,
        actor_id=actor_id,
        data={"provider": event.provider, "status": event.status},
    )


def storable(value: Any) -> Any:
    """The payload as PostgreSQL can keep it: a NUL, which no text column holds, becomes U+FFFD (the
    raw body keeps the bytes as signed)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    return value


async def accept(
    session: AsyncSession,
    provider: str,
    incoming: list[Incoming],
    *,
    headers: Mapping[str, str],
    body: bytes,
    remote: str | None,
) -> WebhookAnswer:
    """Store each event once and queue its job; an event seen before is counted and left alone."""
    kept_headers = masked(headers)
    ids, duplicates = [], 0
    for item in incoming:
        stmt = (
            insert(InboxEvent)
            .values(
                provider=provider,
                event_id=item.event_id,
                event_type=item.event_type,
                status="pending",
                remote=remote,
                headers=kept_headers,
                payload=storable(item.payload),
                body=body,
            )
            .on_conflict_do_nothing(
                index_elements=[InboxEvent.provider, InboxEvent.event_id], index_where=InboxEvent.event_id.is_not(None)
            )
            .returning(InboxEvent.id)
        )
        new_id = await session.scalar(stmt)
        if new_id is None:
            duplicates += 1
            continue
        ids.append(new_id)
        # No queueing lock: a fresh event has no job yet (and this skips a savepoint per event). No live
        # event either: the admin page hears of it when it is worked on, moments later.
        await queue.defer(session, PROCESS_TASK, event_id=new_id)
    return WebhookAnswer(accepted=len(ids), duplicates=duplicates, ids=ids)


@dataclass(frozen=True)
class Unkept:
    """A refused body the door did not keep whole (too large): its start, its size and SHA-256 as far
    as they are known. `sha256` None: the body was never read and `size` is the sender's word."""

    head: bytes
    size: int
    sha256: str | None


async def reject(
    session: AsyncSession,
    provider: str,
    *,
    reason: str,
    headers: Mapping[str, str],
    body: bytes | Unkept,
    remote: str | None,
) -> None:
    """Log a request refused at the door, with no event id (it takes no slot a real event needs), in
    little room. Past `integrations.max_rejects_per_hour` refusals from one address: 429 and nothing
    is stored (the request's transaction is rolled back)."""
    await _limit_rejects(session, remote)
    if not isinstance(body, Unkept):
        body = Unkept(body, len(body), hashlib.sha256(body).hexdigest())
    if body.sha256 is None:
        reason += (
            f" Its size, {body.size:,} bytes, is the one the sender declared (Content-Length);"
            " the body was not read, so neither its content nor its SHA-256 is known."
        )
    kept = dict(list(masked(headers).items())[:KEEP_REJECTED_HEADERS])
    event = InboxEvent(
        provider=provider,
        event_type="",
        status="rejected",
        error=reason[:2000],
        remote=remote,
        headers={k[:100]: v[:KEEP_HEADER_CHARS] for k, v in kept.items()},
        body=body.head[:KEEP_REJECTED_BYTES],
        body_size=body.size,
        body_sha256=body.sha256,
        processed_at=utcnow(),
    )
    session.add(event)


async def _limit_rejects(session: AsyncSession, remote: str | None) -> None:
    if not remote:
        return
    limit = int(await settings.get(session, "integrations.max_rejects_per_hour"))
    # One refusal at a time per address, so simultaneous forgeries are counted one after the other.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"rejects:{remote}"})
    now = utcnow()
    recent = (
        select(InboxEvent.received_at)
        .where(
            InboxEvent.status == "rejected", InboxEvent.remote == remote, InboxEvent.received_at >= now - REJECTS_WINDOW
        )
        .order_by(InboxEvent.received_at)
        .limit(limit)
        .subquery()
    )
    count, oldest = (await session.execute(select(func.count(), func.min(recent.c.received_at)))).one()
    if count >= limit:
        wait = max(1, int((oldest + REJECTS_WINDOW - now).total_seconds()) + 1)
        raise TooManyRequests(
            "Too many refused requests from this address; try again later.",
            code="too_many_rejects",
            headers={"Retry-After": str(wait)},
        )


def retry_delay(attempts: int) -> timedelta | None:
    """When to try again after `attempts` failed tries; None once it is a person's turn."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return timedelta(seconds=FIRST_RETRY_SECONDS * 2 ** (attempts - 1))


async def process(session: AsyncSession, event: InboxEvent, *, actor_id: int | None = None) -> InboxEvent:
    """Work on one event (locked by the caller) through its provider's handler, in a savepoint, so a
    failing handler leaves nothing half-done and the event keeps the error."""
    module = registry.provider(event.provider)
    event.attempts += 1
    handler = getattr(module, "HANDLERS", {}).get(event.event_type) if module else None
    now = utcnow()
    if handler is None:
        if module is not None and event.event_type in getattr(module, "IGNORED", frozenset()):
            _finish(event, "ignored", outcome="Acknowledged; the CRM does not use this kind of event.")
        else:
            _finish(event, "needs_attention", error=f"Unknown event type {event.event_type!r} for {event.provider}.")
    else:
        await session.flush()  # the attempt counts even if the handler's savepoint is rolled back
        try:
            async with savepoint(session):
                outcome = await handler(session, dict(event.payload))
        except NeedsAttention as exc:
            await session.refresh(event)
            _finish(event, "needs_attention", error=exc.reason)
            if exc.reauthorize:
                await set_problem(session, event.provider, exc.reason, reauthorize=True)
        except Exception as exc:  # transient until proven otherwise: keep it, try again later
            log.warning(
                "integration event %s (%s %s) failed", event.id, event.provider, event.event_type, exc_info=True
            )
            await session.refresh(event)
            _finish(event, "failed", error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            delay = retry_delay(event.attempts)
            if delay is not None:
                event.next_attempt_at = now + delay
                await _queue_retry(session, event)
        else:
            _finish(event, "processed", outcome=outcome)
            await clear_problem(session, event.provider)
    _announce(session, event, "updated", actor_id)
    await session.flush()
    return event


async def _queue_retry(session: AsyncSession, event: InboxEvent) -> None:
    try:
        await queue.defer(
            session,
            PROCESS_TASK,
            scheduled_at=event.next_attempt_at,
            queueing_lock=f"inbox:{event.id}",
            event_id=event.id,
        )
    except queue.AlreadyQueued:  # a retry is already waiting (a replay failed again meanwhile)
        pass


def _finish(event: InboxEvent, status: str, *, outcome: str | None = None, error: str | None = None) -> None:
    event.status, event.outcome, event.error = status, outcome, error
    event.processed_at, event.next_attempt_at = utcnow(), None


async def set_problem(session: AsyncSession, provider: str, reason: str, *, reauthorize: bool = False) -> None:
    stmt = insert(ProviderProblem).values(provider=provider, reason=reason, reauthorize=reauthorize)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ProviderProblem.provider], set_={"reason": reason, "reauthorize": reauthorize}
        )
    )
    events.emit(
        session, module="integrations", entity="integration", entity_id=0, action="updated", data={"provider": provider}
    )


async def clear_problem(session: AsyncSession, provider: str) -> None:
    gone = await session.execute(
        delete(ProviderProblem).where(ProviderProblem.provider == provider).returning(ProviderProblem.provider)
    )
    if gone.first() is not None:
        events.emit(
            session,
            module="integrations",
            entity="integration",
            entity_id=0,
            action="updated",
            data={"provider": provider},
        )


async def locked(session: AsyncSession, event_id: int, *, wait: bool = True) -> InboxEvent | None:
    """The event, locked for this transaction; None if missing (or, with wait False, being worked on)."""
    stmt = select(InboxEvent).where(InboxEvent.id == event_id).with_for_update(skip_locked=not wait)
    return (await session.scalars(stmt)).first()


async def work(session: AsyncSession, event_id: int) -> str:
    """The job's part: process the event unless someone else is at it or it is already settled."""
    event = await locked(session, event_id, wait=False)
    if event is None:
        return f"event {event_id}: busy or gone"
    if event.status not in WORKABLE:
        return f"event {event_id}: already {event.status}"
    await process(session, event)
    return f"event {event_id}: {event.status}"


async def requeue(session: AsyncSession, stale_after: timedelta = timedelta(minutes=2), limit: int = 1000) -> int:
    """Queue a job for each event whose time has come but whose job may be gone: the minute's sweep
    looks at events waiting longer than `stale_after`; a starting server at every waiting event
    (a killed process's job stays "doing" until the stalled-job check, and running an event twice
    is harmless: the second finds it locked or settled). Returns how many were queued."""
    stale = utcnow() - stale_after
    stmt = (
        select(InboxEvent.id)
        .where(
            (
                (InboxEvent.status == "pending")
                & InboxEvent.next_attempt_at.is_(None)
                & (InboxEvent.received_at <= stale)
            )
            | (InboxEvent.status.in_(WORKABLE) & (InboxEvent.next_attempt_at <= stale))
        )
        .order_by(InboxEvent.id)
        .limit(limit)
    )
    queued = 0
    for event_id in (await session.scalars(stmt)).all():
        try:
            await queue.defer(session, PROCESS_TASK, queueing_lock=f"inbox:{event_id}", event_id=event_id)
            queued += 1
        except queue.AlreadyQueued:
            pass
    return queued

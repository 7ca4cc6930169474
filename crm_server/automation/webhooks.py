"""Outgoing webhooks: subscriptions per event type, signed as the Standard Webhooks specification
says (webhook-id, webhook-timestamp, webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>"
with the subscription's "whsec_<base64>" secret), queued to the outbox in the transaction of the
change, delivered in batches by jobs with backoff over about a day. A 410 turns the subscription off; after the
last retry a delivery waits in the dead-letter list and every admin is told.

Only http(s) addresses, and none that resolves to a private, loopback, link-local or reserved
address unless the setting webhooks.allowed_private names that host (or host:port)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import math
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import audit, settings
from crm_server.admin.service import notify
from crm_server.automation.models import Attempt, Delivery, Subscription
from crm_server.contract.automation import EVENT_TYPES, AttemptOut, DeliveryOut, SubscriptionIn, SubscriptionOut
from crm_server.contract.common import Page
from crm_server.db import Database, utcnow
from crm_server.errors import NotFound, ValidationFailed
from crm_server.jobs import queue

DELIVER_TASK = "automation.deliver"
# Seconds to wait before each retry (the Standard Webhooks guidance: 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 10 h): about 27 hours from the first try to the dead-letter list.
BACKOFF = (5, 300, 1800, 7200, 18000, 36000, 36000)
TIMEOUT = 10.0
EXCERPT = 500
# Deliveries claimed per round, POSTed at once over at most CONCURRENCY kept-alive connections
# (more opened at once overflowed a small receiver's listen backlog: resets, retries).
BATCH = 200
CONCURRENCY = 16
# A claimed delivery is due again after this (its worker died mid-batch): never lost, maybe sent twice
# (receivers deduplicate on webhook-id, as the specification says).
LEASE = timedelta(seconds=TIMEOUT + 50)
RUN_FOR = 30.0
# The lock of the one waiting batch job (retries' scheduled jobs go without it).
WAKE_LOCK = "automation.deliver"


# --- signing ---------------------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secret: str, message_id: str, body: bytes, now: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if now is None else now
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
        "user-agent": "crm-webhooks/1",
    }


# --- addresses -------------------------------------------------------------------------------------


def _allowed(raw: str) -> set[str]:
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


def _parts(url: str) -> tuple[str, int]:
    try:
        parsed = urlsplit(url)
        port = parsed.port
    except ValueError as exc:
        raise ValidationFailed("The address is not a valid web address.", field="url") from exc
    if parsed.scheme not in ("http", "https"):
        raise ValidationFailed("Only http:// and https:// addresses can receive webhooks.", field="url")
    if not parsed.hostname:
        raise ValidationFailed("The address has no host name.", field="url")
    return parsed.hostname.lower(), port or (443 if parsed.scheme == "https" else 80)


async def check_address(session: AsyncSession, url: str) -> None:
    """Refuse a non-http(s) address and one resolving to a private or loopback network, unless an
    admin allowed that host (or host:port) in webhooks.allowed_private."""
    host, port = _parts(url)
    allowed = _allowed(str(await settings.get(session, "webhooks.allowed_private")))
    if host in allowed or f"{host}:{port}" in allowed:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:  # ValueError: a NUL or a name IDNA cannot encode
        raise ValidationFailed("The host could not be found.", field="url") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            if str(address) in allowed or f"{address}:{port}" in allowed:
                continue
            raise ValidationFailed(
                f"{host} is on a private or loopback network ({address}); an admin must allow it first "
                "(setting webhooks.allowed_private).",
                field="url",
            )


# --- subscriptions ---------------------------------------------------------------------------------


def _announce(session: AsyncSession, actor_id: int, sub_id: int, action: str) -> None:
    """Other admins' Webhooks pages refresh on it."""
    events.emit(
        session, module="admin", entity="webhook_subscription", entity_id=sub_id, action=action, actor_id=actor_id
    )


def subscription_out(sub: Subscription, secret: str | None = None) -> SubscriptionOut:
    out = SubscriptionOut.model_validate(sub)
    out.secret = secret
    return out


def _check_types(types: list[str]) -> list[str]:
    for i, name in enumerate(types):
        if name not in EVENT_TYPES:
            raise ValidationFailed(f"No event type {name!r}.", field=f"event_types.{i}")
    return sorted(set(types))


async def create_subscription(session: AsyncSession, actor_id: int, data: SubscriptionIn) -> SubscriptionOut:
    types = _check_types(data.event_types)
    await check_address(session, data.url)
    secret = new_secret()
    sub = Subscription(
        name=data.name.strip(),
        url=data.url,
        event_types=types,
        secret=secret,
        active=data.active,
        created_by=actor_id,
    )
    session.add(sub)
    await session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        entity="webhook_subscription",
        entity_id=sub.id,
        action="created",
        changes=audit.diff({}, {"name": sub.name, "url": sub.url, "event_types": sub.event_types}),
    )
    _announce(session, actor_id, sub.id, "created")
    return subscription_out(sub, secret)


async def _subscription(session: AsyncSession, sub_id: int, lock: bool = False) -> Subscription:
    sub = await session.get(Subscription, sub_id, with_for_update={"key_share": True} if lock else False)
    if sub is None:
        raise NotFound("No such webhook subscription.")
    return sub


async def update_subscription(
    session: AsyncSession, actor_id: int, sub_id: int, data: SubscriptionIn
) -> SubscriptionOut:
    sub = await _subscription(session, sub_id, lock=True)
    if data.url != sub.url:
        await check_address(session, data.url)
    before = {"name": sub.name, "url": sub.url, "event_types": sub.event_types, "active": sub.active}
    sub.name, sub.url, sub.event_types = data.name.strip(), data.url, _check_types(data.event_types)
    if data.active and not sub.active:
        sub.disabled_reason = None
    sub.active = data.active
    after = {"name": sub.name, "url": sub.url, "event_types": sub.event_types, "active": sub.active}
    audit.record(
        session,
        actor_id=actor_id,
        entity="webhook_subscription",
        entity_id=sub.id,
        action="updated",
        changes=audit.diff(before, after),
    )
    _announce(session, actor_id, sub.id, "updated")
    return subscription_out(sub)


async def delete_subscription(session: AsyncSession, actor_id: int, sub_id: int) -> None:
    sub = await _subscription(session, sub_id, lock=True)
    await session.delete(sub)
    audit.record(session, actor_id=actor_id, entity="webhook_subscription", entity_id=sub_id, action="deleted")
    _announce(session, actor_id, sub_id, "deleted")


async def list_subscriptions(session: AsyncSession) -> list[SubscriptionOut]:
    rows = await session.scalars(select(Subscription).order_by(Subscription.id))
    return [subscription_out(s) for s in rows]


# --- the outbox ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Active:
    id: int
    event_types: frozenset[str]


async def active_subscriptions(session: AsyncSession) -> list[Active]:
    rows = await session.execute(select(Subscription.id, Subscription.event_types).where(Subscription.active.is_(True)))
    return [Active(r.id, frozenset(r.event_types)) for r in rows]


def message(event_type: str, data: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    """The body as the Standard Webhooks specification shapes it: type, timestamp, data."""
    return {"type": event_type, "timestamp": (at or utcnow()).isoformat(), "data": data}


async def enqueue(session: AsyncSession, subscription_id: int, event_type: str, data: dict[str, Any]) -> int | None:
    """Write one delivery to the outbox, in the caller's transaction, and make sure a batch job
    will come for it (one waiting job serves every delivery written before it starts). The id, or
    None when the subscription is gone or off by now (read in the INSERT itself: a process that
    has not yet heard of it neither queues it nor fails the change on its foreign key)."""
    values = {
        "subscription_id": subscription_id,
        "event_type": event_type,
        "message_id": "msg_" + secrets.token_urlsafe(18),
        "payload": message(event_type, data),
        "status": "pending",
    }
    table = Delivery.__table__
    row = select(*(literal(v, type_=table.c[k].type).label(k) for k, v in values.items())).where(
        select(Subscription.id).where(Subscription.id == subscription_id, Subscription.active.is_(True)).exists()
    )
    delivery_id = await session.scalar(insert(Delivery).from_select(list(values), row).returning(Delivery.id))
    if delivery_id is not None:
        await wake(session)
    return delivery_id


async def wake(session: AsyncSession) -> None:
    """Queue the batch job unless one is already waiting (once per transaction)."""
    if session.info.get("webhooks_woken"):
        return
    session.info["webhooks_woken"] = True
    waiting = await session.scalar(
        text("SELECT 1 FROM procrastinate_jobs WHERE queueing_lock = :l AND status = 'todo' LIMIT 1"), {"l": WAKE_LOCK}
    )
    if waiting:
        return
    try:
        await queue.defer(session, DELIVER_TASK, queueing_lock=WAKE_LOCK)
    except queue.AlreadyQueued:
        pass


# --- delivering ------------------------------------------------------------------------------------


def _client() -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    return httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, limits=limits)


_shared: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None


def client() -> httpx.AsyncClient:
    """One connection pool per worker's event loop (a new client per delivery costs a TCP
    handshake; a pool is bound to the loop that opened its connections)."""
    global _shared
    loop = asyncio.get_running_loop()
    if _shared is None or _shared[0] is not loop or _shared[1].is_closed:
        _shared = (loop, _client())
    return _shared[1]


@dataclass
class _Claimed:
    id: int
    url: str
    secret: str
    message_id: str
    body: bytes
    refused: str | None
    status: int | None = None
    excerpt: str = ""
    error: str | None = None
    took_ms: int = 0


_CLAIM = text(
    """
    SELECT d.id FROM webhook_deliveries d
    WHERE d.status = 'pending' AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= now())
    ORDER BY d.id LIMIT :n
    FOR UPDATE SKIP LOCKED
    """
)


async def _claim(db: Database, limit: int) -> list[_Claimed]:
    """Take up to `limit` due deliveries no other worker holds, and lease them (next_attempt_at
    moves past the attempt's end: if this worker dies, they are due again, never lost)."""
    async with db.transaction() as session:
        ids = list(await session.scalars(_CLAIM, {"n": limit}))
        if not ids:
            return []
        rows = list(await session.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id)))
        subs = {
            s.id: s
            for s in await session.scalars(
                select(Subscription).where(Subscription.id.in_({r.subscription_id for r in rows}))
            )
        }
        verdicts: dict[str, str | None] = {}
        claimed: list[_Claimed] = []
        for row in rows:
            sub = subs[row.subscription_id]
            if not sub.active:
                row.status = "failed"
                session.add(Attempt(delivery_id=row.id, duration_ms=0, error="The subscription is turned off."))
                continue
            if sub.url not in verdicts:
                try:
                    await check_address(session, sub.url)
                    verdicts[sub.url] = None
                except ValidationFailed as exc:
                    verdicts[sub.url] = exc.message
            row.next_attempt_at = utcnow() + LEASE
            body = json.dumps(row.payload, separators=(",", ":")).encode()
            claimed.append(_Claimed(row.id, sub.url, sub.secret, row.message_id, body, verdicts[sub.url]))
        return claimed


async def _post(item: _Claimed) -> None:
    item.error = item.refused
    if item.refused is not None:
        return
    started = time.perf_counter()
    try:
        response = await client().post(
            item.url, content=item.body, headers=headers(item.secret, item.message_id, item.body)
        )
        item.status, item.excerpt = response.status_code, response.text[:EXCERPT]
    except httpx.HTTPError as exc:
        item.error = f"{type(exc).__name__}: {exc}"[:EXCERPT] or type(exc).__name__
    item.took_ms = int((time.perf_counter() - started) * 1000)


async def _settle(db: Database, items: list[_Claimed]) -> dict[str, int]:
    """Each attempt logged, then delivered, retry later, off (410) or dead: one transaction for the
    whole batch. Retries due in the same second share one scheduled job."""
    outcomes: dict[str, int] = {}
    async with db.transaction() as session:
        session.info["webhook_retries"] = {}
        rows = {
            r.id: r
            for r in await session.scalars(
                select(Delivery).where(Delivery.id.in_([i.id for i in items])).order_by(Delivery.id).with_for_update()
            )
        }
        for item in items:
            row = rows.get(item.id)
            outcome = (
                "settled elsewhere" if row is None or row.status != "pending" else await _outcome(session, row, item)
            )
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for second, first_id in sorted(session.info.pop("webhook_retries").items()):
            try:  # the job of this second names its first delivery (the jobs log shows which)
                await queue.defer(
                    session,
                    DELIVER_TASK,
                    delivery_id=first_id,
                    scheduled_at=datetime.fromtimestamp(second, UTC),
                    queueing_lock=f"{WAKE_LOCK}@{second}",
                )
            except queue.AlreadyQueued:
                pass
    return outcomes


async def _outcome(session: AsyncSession, row: Delivery, item: _Claimed) -> str:
    status = item.status
    session.add(
        Attempt(
            delivery_id=row.id,
            status_code=status,
            duration_ms=item.took_ms,
            response_excerpt=item.excerpt,
            error=item.error,
        )
    )
    row.attempts += 1
    row.last_status_code = status
    if status is not None and 200 <= status < 300:
        row.status, row.delivered_at, row.next_attempt_at = "delivered", utcnow(), None
        return "delivered"
    if status == 410:
        row.status, row.next_attempt_at = "failed", None
        sub = await session.get(Subscription, row.subscription_id, with_for_update={"key_share": True})
        assert sub is not None
        if sub.active:
            sub.active = False
            sub.disabled_reason = "The receiver answered 410 Gone: the subscription was turned off."
            events.emit(session, module="admin", entity="webhook_subscription", entity_id=sub.id, action="updated")
        return "gone"
    if row.attempts > len(BACKOFF):
        row.status, row.next_attempt_at = "dead", None
        await _tell_admins(session, row)
        return "dead"
    row.next_attempt_at = utcnow() + timedelta(seconds=BACKOFF[row.attempts - 1])
    second = math.ceil(row.next_attempt_at.timestamp())
    session.info["webhook_retries"].setdefault(second, row.id)
    return "retry"


async def deliver(db: Database, delivery_id: int | None = None) -> str:
    """The batch job: claim the due deliveries (the outbox row's time decides; `delivery_id` only
    names the retry that scheduled this job, for the jobs log), POST them at once over one
    connection pool, settle them, and go on while full batches keep coming (for at most RUN_FOR
    seconds; then a fresh job carries on, so other jobs get their turn)."""
    del delivery_id
    outcomes: dict[str, int] = {}
    ends = time.monotonic() + RUN_FOR
    while True:
        items = await _claim(db, BATCH)
        if items:
            await asyncio.gather(*(_post(i) for i in items))
            for name, count in (await _settle(db, items)).items():
                outcomes[name] = outcomes.get(name, 0) + count
        if len(items) < BATCH:
            break
        if time.monotonic() > ends:
            async with db.transaction() as session:
                await wake(session)
            break
    return ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "nothing to do"


async def _tell_admins(session: AsyncSession, row: Delivery) -> None:
    from crm_server.backups.service import admins

    sub = await session.get(Subscription, row.subscription_id)
    name = sub.name if sub else str(row.subscription_id)
    title = f"A webhook to {name} failed for a day and gave up ({row.event_type})"
    for user in await admins(session):
        notify(session, user.id, "webhook_failed", title[:300], "See Admin > Webhooks to resend it.", "webhook", row.id)


async def resend(session: AsyncSession, actor_id: int, delivery_id: int) -> DeliveryOut:
    row = await session.get(Delivery, delivery_id, with_for_update=True)
    if row is None:
        raise NotFound("No such delivery.")
    sub = await _subscription(session, row.subscription_id)
    if not sub.active:
        raise ValidationFailed("Turn the subscription on before resending.", field="delivery_id")
    row.status, row.attempts, row.next_attempt_at = "pending", 0, utcnow()
    await queue.defer(session, DELIVER_TASK, delivery_id=row.id, scheduled_at=None)
    audit.record(session, actor_id=actor_id, entity="webhook_delivery", entity_id=row.id, action="resent")
    return await delivery_out(session, row)


async def delivery_out(session: AsyncSession, row: Delivery, log: bool = True) -> DeliveryOut:
    out = DeliveryOut.model_validate(row)
    if log:
        attempts = await session.scalars(
            select(Attempt).where(Attempt.delivery_id == row.id).order_by(Attempt.at.desc(), Attempt.id.desc())
        )
        out.log = [AttemptOut.model_validate(a) for a in attempts]
    return out


async def get_delivery(session: AsyncSession, delivery_id: int) -> DeliveryOut:
    row = await session.get(Delivery, delivery_id)
    if row is None:
        raise NotFound("No such delivery.")
    return await delivery_out(session, row)


async def list_deliveries(
    session: AsyncSession, subscription_id: int | None, status: str | None, offset: int, limit: int
) -> Page[DeliveryOut]:
    where = []
    if subscription_id is not None:
        where.append(Delivery.subscription_id == subscription_id)
    if status is not None:
        where.append(Delivery.status == status)
    total = await session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0
    rows = await session.scalars(
        select(Delivery).where(*where).order_by(Delivery.id.desc()).offset(offset).limit(limit)
    )
    return Page(
        items=[await delivery_out(session, r, log=False) for r in rows], total=total, offset=offset, limit=limit
    )

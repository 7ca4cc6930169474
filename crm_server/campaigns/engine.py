"""The campaign engine: a batch job that hands messages to a channel one at a time, honouring the
throttle, pause and cancel, and never sending a recipient twice.

Exactly once, across crashes: a recipient is claimed (state "sending", its Message-ID and hand-off
time written) and COMMITTED before the channel sees it; the outcome ("sent" or "failed") is written
after, in the same autocommitted statement that claims the next one. Only one batch of a campaign
runs at a time (a PostgreSQL advisory lock held by the batch's own connection, released by
PostgreSQL if the process dies). So a batch that finds rows still "sending" knows their batch died
mid hand-off: it cannot tell whether the server took the message, so it marks them "unconfirmed"
(counted in the results, never resent by itself; a later bounce for its Message-ID still marks it),
and goes on.

Channels: CHANNELS maps a campaign's `channel` to `open_sender(snapshot)` (see engine_types). The
audience, throttle, batches and recipient states are the same for every channel; only the message
and its hand-off are the channel's. WhatsApp registers CHANNELS["whatsapp"] and fills
`Snapshot`/`Outgoing` the same way (address = the phone number)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_server.admin import settings
from crm_server.campaigns import email_channel, throttle, tracking
from crm_server.campaigns.engine_types import BATCH_DB, ChannelError, Outgoing, Snapshot
from crm_server.campaigns.models import Campaign, CampaignLink, CampaignRecipient
from crm_server.campaigns.service import announce, defer_batch
from crm_server.db import Database, utcnow
from crm_server.emails.models import Suppression
from crm_server.emails.service import ADDRESS, TAG, fill

Opener = Callable[[Snapshot], AbstractAsyncContextManager[Callable[[Outgoing], Awaitable[None]]]]
CHANNELS: dict[str, Opener] = {"email": email_channel.open_sender}
LOCK_SPACE = 37  # advisory lock key: (37, campaign id)
RUN_FOR = 240.0  # a batch hands over to a fresh job after this many seconds
SHORT_WAIT = 60.0  # a throttle wait up to this long is slept in the job (a job waits seconds to start)
PROGRESS_EVERY = 1.0
STATUS_EVERY = 0.5  # a pause or cancel is seen within this long


@asynccontextmanager
async def _only_batch(db: Database, campaign_id: int) -> AsyncIterator[bool]:
    async with db.engine.connect() as conn:
        got = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": LOCK_SPACE, "b": campaign_id}))
        await conn.commit()
        try:
            yield got
        finally:
            if got:
                await conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": LOCK_SPACE, "b": campaign_id})
                await conn.commit()


async def _snapshot(session: AsyncSession, campaign: Campaign) -> Snapshot:
    cfg = await settings.get_all(session)
    links = (
        await session.scalars(
            select(CampaignLink.url).where(CampaignLink.campaign_id == campaign.id).order_by(CampaignLink.position)
        )
    ).all()
    return Snapshot(
        id=campaign.id,
        channel=campaign.channel,
        entity=campaign.entity,
        subject=campaign.subject,
        body=campaign.body,
        secret=campaign.secret,
        limits={"per_minute": campaign.per_minute, "per_hour": campaign.per_hour, "per_day": campaign.per_day},
        public_url=str(cfg["app.public_url"] or "").rstrip("/"),
        sender=str(cfg["smtp.sender"]),
        sender_name=str(cfg["company.name"] or ""),
        links=list(links),
        smtp={k: v for k, v in cfg.items() if k.startswith(("smtp.", "dkim."))},  # what sending and signing need
    )


def _outgoing(snap: Snapshot, r: Claimed, values: dict[str, str]) -> Outgoing:
    return Outgoing(
        recipient_id=r.id,
        entity=r.entity,
        entity_id=r.entity_id,
        address=r.address,
        message_id=r.message_id,
        subject=" ".join(fill(snap.subject, values).split())[:300],
        text=fill(snap.body, values) if TAG.search(snap.body) else snap.body,
        open_token=tracking.token(snap.secret, "o", r.id),
        unsubscribe_token=tracking.token(snap.secret, "u", r.id),
        click_tokens=[tracking.token(snap.secret, "c", r.id, i) for i in range(len(snap.links))],
    )


async def _finish(session: AsyncSession, recipient_id: int, error: str | None) -> None:
    values: dict[str, object] = (
        {"state": "sent", "sent_at": utcnow()} if error is None else {"state": "failed", "error": error[:2000]}
    )
    await session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.id == recipient_id, CampaignRecipient.state == "sending")
        .values(**values)
    )


async def _begin(db: Database, campaign_id: int) -> Snapshot | None:
    async with db.transaction() as s:
        campaign = await s.get(Campaign, campaign_id, with_for_update=True)
        if campaign is None or campaign.status not in ("sending", "scheduled"):
            return None
        if campaign.status == "scheduled":
            campaign.status, campaign.started_at = "sending", utcnow()
        # Left "sending" by a batch that died mid hand-off (only one batch runs: it is not running).
        await s.execute(
            update(CampaignRecipient)
            .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.state == "sending")
            .values(
                state="unconfirmed",
                error="The server stopped while handing this message over; it may have been sent, so it is not resent.",
            )
        )
        campaign.next_batch_at = None
        announce(s, campaign)
        return await _snapshot(s, campaign)


async def run_batch(
    db: Database, campaign_id: int, *, run_for: float = RUN_FOR, clock: Callable[[], datetime] = utcnow
) -> str:
    """Send what the throttle allows until done, paused, cancelled, a long throttle wait (a later
    job continues) or `run_for` seconds (a fresh job continues)."""
    async with _only_batch(db, campaign_id) as mine:
        if not mine:
            return f"skipped: another batch of campaign {campaign_id} is running"
        snap = await _begin(db, campaign_id)
        if snap is None:
            return f"skipped: campaign {campaign_id} is not sending"
        BATCH_DB.set(db)
        return await _send(db, snap, run_for, clock)


FINISH = """
    UPDATE campaign_recipients SET state = CAST(:done_state AS varchar), sent_at = CAST(:done_at AS timestamptz),
           error = CAST(:done_error AS text)
    WHERE id = CAST(:done_id AS bigint) AND state = 'sending'
"""
# The last message's outcome and the next claim in one autocommitted statement: one round trip a
# message, and the claim is committed before the hand-off as before.
FINISH_AND_CLAIM = text(
    f"""
    WITH finished AS ({FINISH} RETURNING id),
    picked AS (
        SELECT q.id FROM campaign_recipients q
        WHERE q.campaign_id = :campaign AND q.state = 'queued'
          AND NOT EXISTS (SELECT 1 FROM email_suppressions s WHERE s.address = q.address)
        ORDER BY q.id LIMIT 1 FOR UPDATE SKIP LOCKED
    )
    UPDATE campaign_recipients r SET state = 'sending', handed_at = :now, message_id = :message_id
    FROM picked WHERE r.id = picked.id
    RETURNING r.id, r.entity, r.entity_id, r.address, r.name
    """
)
PREFETCH = 200  # merge values are read for this many recipients at a time


def _done(pending: tuple[int, str | None] | None) -> dict[str, object]:
    if pending is None:
        return {"done_id": None, "done_state": "sent", "done_at": None, "done_error": None}
    recipient_id, error = pending
    if error is None:
        return {"done_id": recipient_id, "done_state": "sent", "done_at": utcnow(), "done_error": None}
    return {"done_id": recipient_id, "done_state": "failed", "done_at": None, "done_error": error[:2000]}


async def _send(db: Database, snap: Snapshot, run_for: float, clock: Callable[[], datetime]) -> str:
    started, last_progress, checked = time.monotonic(), 0.0, 0.0
    status: str | None = "sending"
    sent = 0
    left, free_at = 0, None
    outcome = "continue"
    pending: tuple[int, str | None] | None = None
    values: dict[int, dict[str, str]] = {}
    domain = snap.sender.rpartition("@")[2] or "localhost"
    async with CHANNELS[snap.channel](snap) as deliver, db.engine.connect() as raw:
        conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
        while True:
            moment = time.monotonic()
            if moment - checked > STATUS_EVERY or left <= 0 or moment - last_progress > PROGRESS_EVERY:
                async with db.transaction() as s:
                    if pending is not None:
                        await _finish(s, *pending)
                        pending = None
                    if moment - checked > STATUS_EVERY:
                        status, checked = await s.scalar(select(Campaign.status).where(Campaign.id == snap.id)), moment
                    if status == "sending" and left <= 0:
                        left, free_at = await throttle.allowance(s, snap.channel, snap.limits, clock())
                    if moment - last_progress > PROGRESS_EVERY or left <= 0:
                        campaign = await s.get(Campaign, snap.id)
                        if campaign is not None:
                            campaign.next_batch_at = free_at if left <= 0 else None
                            announce(s, campaign, data={"sent": sent})
                        last_progress = moment
            if status != "sending":
                outcome = str(status)
                break
            if moment - started > run_for:
                outcome = "continue"
                break
            if left <= 0:
                outcome = "throttled"
                wait = (free_at - clock()).total_seconds() if free_at is not None else SHORT_WAIT + 1
                if wait <= SHORT_WAIT and moment - started + wait < run_for:
                    await _nap(db, snap.id, wait)
                    checked = 0.0
                    continue
                break
            message_id = make_msgid(domain=domain)
            params = {"campaign": snap.id, "now": clock(), "message_id": message_id, **_done(pending)}
            row = (await conn.execute(FINISH_AND_CLAIM, params)).first()
            pending = None
            if row is None:
                outcome = "done"
                break
            claimed = Claimed(row[0], row[1], row[2], row[3], row[4], message_id)
            left -= 1
            if snap.channel == "email" and not ADDRESS.match(claimed.address):  # never a header (WhatsApp: a phone)
                pending = (claimed.id, f"{claimed.address[:80]!r} is not a valid e-mail address.")
                continue
            if claimed.id not in values:
                values = await _prefetch(conn, snap, claimed.id)
            out = _outgoing(snap, claimed, values.get(claimed.id, {"company.name": snap.sender_name}))
            try:
                await deliver(out)
                pending, sent = (out.recipient_id, None), sent + 1
            except ChannelError as exc:
                pending = (out.recipient_id, str(exc))
    async with db.transaction() as s:
        if pending is not None:
            await _finish(s, *pending)
        if outcome == "done":
            await _sweep(s, snap.id)
        await _after(s, snap.id, outcome, free_at)
    return f"campaign {snap.id}: {sent} sent, {outcome}"


async def _prefetch(conn: AsyncConnection, snap: Snapshot, first_id: int) -> dict[int, dict[str, str]]:
    """Merge values of the next PREFETCH recipients from `first_id` on, a query per kind of record."""
    from crm_server.clients.models import Client, Contact
    from crm_server.leads.models import Lead

    r = CampaignRecipient
    rows = (
        await conn.execute(
            select(r.id, r.entity_id, r.address, r.name)
            .where(r.campaign_id == snap.id, r.id >= first_id)
            .order_by(r.id)
            .limit(PREFETCH)
        )
    ).all()
    ids = [row[1] for row in rows]
    base = {"company.name": snap.sender_name}
    out: dict[int, dict[str, str]] = {}
    if snap.entity == "lead":
        found = {
            i: (n, c)
            for i, n, c in (
                await conn.execute(select(Lead.id, Lead.person_name, Lead.company).where(Lead.id.in_(ids)))
            ).all()
        }
        for rid, eid, address, name in rows:
            person, company = found.get(eid, (name, None))
            out[rid] = base | {"lead.person_name": person, "lead.company": company or "", "lead.email": address}
    elif snap.entity == "client":
        for rid, _eid, address, name in rows:
            out[rid] = base | {"client.name": name, "client.email": address}
    else:
        found_c = {
            i: n
            for i, n in (
                await conn.execute(
                    select(Contact.id, Client.name)
                    .join(Client, Client.id == Contact.client_id)
                    .where(Contact.id.in_(ids))
                )
            ).all()
        }
        for rid, eid, address, name in rows:
            out[rid] = base | {"contact.name": name, "contact.email": address, "client.name": found_c.get(eid, "")}
    return out


async def _nap(db: Database, campaign_id: int, seconds: float) -> None:
    """Sleep through a short throttle wait, waking every 2 s to notice a pause or cancel."""
    end = time.monotonic() + max(seconds, 0.0)
    while (now := time.monotonic()) < end:
        await asyncio.sleep(min(2.0, end - now))
        async with db.transaction() as s:
            if await s.scalar(select(Campaign.status).where(Campaign.id == campaign_id)) != "sending":
                return


@dataclass(frozen=True)
class Claimed:
    id: int
    entity: str
    entity_id: int
    address: str
    name: str
    message_id: str


async def _sweep(s: AsyncSession, campaign_id: int) -> None:
    """Queued recipients put on the suppression list after the start: never sent, said why."""
    r = CampaignRecipient
    await s.execute(
        update(r)
        .where(r.campaign_id == campaign_id, r.state == "queued", r.address.in_(select(Suppression.address)))
        .values(state="cancelled", error="On the suppression list since the campaign started.")
    )


async def _after(s: AsyncSession, campaign_id: int, outcome: str, free_at: datetime | None) -> None:
    campaign = await s.get(Campaign, campaign_id, with_for_update=True)
    if campaign is None or campaign.status != "sending":
        return
    queued = await s.scalar(
        select(func.count()).where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.state == "queued")
    )
    if not queued:
        campaign.status, campaign.finished_at, campaign.next_batch_at = "done", utcnow(), None
    elif outcome == "throttled" and free_at is not None:
        campaign.next_batch_at = free_at
        await defer_batch(s, campaign_id, free_at + timedelta(milliseconds=50))
    else:
        await defer_batch(s, campaign_id)
    announce(s, campaign)

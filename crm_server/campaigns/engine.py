"""The campaign engine: a batch job that hands messages to a channel one at a time, honouring the
throttle, pause and cancel, and never sending a recipient twice.

Exactly once, across crashes: a recipient is claimed (state "sending", its Message-ID and hand-off
time written) and COMMITTED before the channel sees it; the outcome ("sent" or "failed") is written
after, in the same transaction that claims the next one. Only one batch of a campaign runs at a time
(a PostgreSQL advisory lock held by the batch's own connection, released by PostgreSQL if the process
dies). So a batch that finds rows still "sending" knows their batch died mid hand-off: it cannot
tell whether the server took the message, so it marks them "unconfirmed" (counted in the results,
never resent by itself; a later bounce for its Message-ID still marks it), and goes on.

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
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

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
        smtp={k: v for k, v in cfg.items() if k.startswith("smtp.")},
    )


async def _values(session: AsyncSession, r: Claimed, company: str) -> dict[str, str]:
    from crm_server.clients.models import Client, Contact
    from crm_server.leads.models import Lead

    values = {"company.name": company}
    if r.entity == "lead":
        lead = await session.get(Lead, r.entity_id)
        if lead is not None:
            values |= {
                "lead.person_name": lead.person_name,
                "lead.company": lead.company or "",
                "lead.email": r.address,
            }
    elif r.entity == "client":
        client = await session.get(Client, r.entity_id)
        values |= {"client.name": client.name if client else r.name, "client.email": r.address}
    else:
        contact = await session.get(Contact, r.entity_id)
        client = await session.get(Client, contact.client_id) if contact else None
        values |= {"contact.name": r.name, "contact.email": r.address, "client.name": client.name if client else ""}
    return values


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


async def _send(db: Database, snap: Snapshot, run_for: float, clock: Callable[[], datetime]) -> str:
    started, last_progress, checked = time.monotonic(), 0.0, 0.0
    status: str | None = "sending"
    sent = 0
    left, free_at = 0, None
    outcome = "continue"
    pending: tuple[int, str | None] | None = None
    async with CHANNELS[snap.channel](snap) as deliver:
        while True:
            out: Outgoing | None = None
            async with db.transaction() as s:
                if pending is not None:
                    await _finish(s, *pending)
                    pending = None
                if time.monotonic() - checked > STATUS_EVERY:
                    status = await s.scalar(select(Campaign.status).where(Campaign.id == snap.id))
                    checked = time.monotonic()
                if status != "sending":
                    outcome = str(status)
                elif time.monotonic() - started > run_for:
                    outcome = "continue"
                else:
                    if left <= 0:
                        left, free_at = await throttle.allowance(s, snap.channel, snap.limits, clock())
                    if left <= 0:
                        outcome = "throttled"
                    else:
                        out, outcome = await _claim(s, snap, clock())
                        left -= 1 if out is not None else 0
                if time.monotonic() - last_progress > PROGRESS_EVERY or out is None:
                    campaign = await s.get(Campaign, snap.id)
                    if campaign is not None:
                        if outcome == "throttled":
                            campaign.next_batch_at = free_at
                        announce(s, campaign, data={"sent": sent})
                    last_progress = time.monotonic()
            if out is None:
                if outcome == "skip":
                    continue
                if outcome == "throttled" and free_at is not None:
                    wait = (free_at - clock()).total_seconds()
                    if wait <= SHORT_WAIT and time.monotonic() - started + wait < run_for:
                        await _nap(db, snap.id, wait)
                        left = 0
                        continue
                break
            try:
                await deliver(out)
                pending, sent = (out.recipient_id, None), sent + 1
            except ChannelError as exc:
                pending = (out.recipient_id, str(exc))
    async with db.transaction() as s:
        if pending is not None:
            await _finish(s, *pending)
        await _after(s, snap.id, outcome, free_at)
    return f"campaign {snap.id}: {sent} sent, {outcome}"


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


async def _claim(s: AsyncSession, snap: Snapshot, now: datetime) -> tuple[Outgoing | None, str]:
    """The next queued recipient (not suppressed), made "sending" with its Message-ID: one statement."""
    r, q = CampaignRecipient, aliased(CampaignRecipient)  # q: the pick, not correlated to the update
    following = (
        select(q.id)
        .where(
            q.campaign_id == snap.id,
            q.state == "queued",
            ~select(Suppression.id).where(Suppression.address == q.address).exists(),
        )
        .order_by(q.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    domain = snap.sender.rpartition("@")[2] or "localhost"
    message_id = make_msgid(domain=domain)
    row = (
        await s.execute(
            update(r)
            .where(r.id == following)
            .values(state="sending", handed_at=now, message_id=message_id)
            .returning(r.id, r.entity, r.entity_id, r.address, r.name)
        )
    ).first()
    if row is None:
        await _sweep(s, snap.id)
        return None, "done"
    claimed = Claimed(row[0], row[1], row[2], row[3], row[4], message_id)
    if snap.channel == "email" and not ADDRESS.match(claimed.address):  # never a header (WhatsApp: a phone)
        await _finish(s, claimed.id, f"{claimed.address[:80]!r} is not a valid e-mail address.")
        return None, "skip"
    values = await _values(s, claimed, snap.sender_name)
    return _outgoing(snap, claimed, values), "claimed"


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

"""The rules of campaigns: who may build and run one, the throttle settings, the state machine
(draft -> scheduled/sending -> paused <-> sending -> done; cancelled from any unfinished state),
results, consent and engagement, and `mark_recipient` for the bounce and complaint parser. Never commits."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.campaigns import audience
from crm_server.campaigns.models import (
    Campaign,
    CampaignEvent,
    CampaignLink,
    CampaignRecipient,
    EmailConsent,
    Engagement,
)
from crm_server.contract.campaigns import (
    CAMPAIGN_TAGS,
    PRESETS,
    AudienceIn,
    AudienceOut,
    CampaignIn,
    CampaignOut,
    ConsentIn,
    Counts,
    EngagementOut,
    LinkResult,
    Preset,
    RecipientOut,
    ResultsOut,
    TimePoint,
)
from crm_server.contract.common import Page
from crm_server.db import utcnow
from crm_server.emails.service import TAG, address, single_line
from crm_server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm_server.jobs import queue
from crm_server.jobs.queue import AlreadyQueued

BATCH_TASK = "campaigns.batch"
URL = r"https?://[^\s<>\"'()]+"
MARKS = {"bounced", "soft_bounced", "complained"}


def announce(
    session: AsyncSession, campaign: Campaign, action: str = "updated", data: dict[str, Any] | None = None
) -> None:
    """Live progress to the campaign's author (the desktop's Campaigns module refreshes on it)."""
    events.emit(
        session,
        module="campaigns",
        entity="campaign",
        entity_id=campaign.id,
        action=action,
        user_id=campaign.created_by,
        data=data,
    )


def _may_run(principal: Principal) -> None:
    """Bulk mail reaches every address a filter matches: those who may e-mail and export leads
    (managers, admins), not every salesperson."""
    if not (principal.can("activities", "create") and principal.can("leads", "export")):
        raise Forbidden("Your role may not send e-mail campaigns.")


async def visible_campaign(
    session: AsyncSession, principal: Principal, campaign_id: int, *, lock: bool = False
) -> Campaign:
    """A campaign is its author's; admins see and run everyone's."""
    _may_run(principal)
    campaign = await session.get(Campaign, campaign_id, with_for_update=lock)
    if campaign is None or (campaign.created_by != principal.user_id and not principal.can("admin", "edit")):
        raise NotFound("No such campaign.", field="campaign_id")
    return campaign


async def count_audience(session: AsyncSession, principal: Principal, data: AudienceIn) -> AudienceOut:
    _may_run(principal)
    return await audience.count(session, principal, data.entity.value, data.filters)


def _throttle(data: CampaignIn) -> tuple[int | None, int | None, int | None]:
    if data.preset != Preset.custom:
        return PRESETS[data.preset]
    return data.per_minute, data.per_hour, data.per_day


def links_of(body: str) -> list[str]:
    """The body's links in order, each once: the only places a click may redirect to."""
    seen: list[str] = []
    for url in re.findall(URL, body):
        url = url.rstrip(".,;:!?")
        if url not in seen:
            seen.append(url)
    return seen[:200]


async def _check(session: AsyncSession, principal: Principal, data: CampaignIn) -> None:
    single_line(data.name, "name")
    single_line(data.subject, "subject")
    for field, text in (("subject", data.subject), ("body", data.body)):
        for tag in TAG.findall(text):
            if tag not in CAMPAIGN_TAGS[data.entity.value]:
                allowed = ", ".join(CAMPAIGN_TAGS[data.entity.value])
                raise ValidationFailed(f"Unknown merge tag {{{{{tag[:60]}}}}}. Tags here: {allowed}.", field=field)
    if data.scheduled_at is not None and data.scheduled_at.utcoffset() is None:
        raise ValidationFailed("Give the time with its time zone.", field="scheduled_at")
    await audience.records(session, principal, data.entity.value, data.filters)  # refuses bad filters by name


def _apply(campaign: Campaign, data: CampaignIn) -> None:
    campaign.name, campaign.entity, campaign.filters = data.name.strip(), data.entity.value, dict(data.filters)
    campaign.subject, campaign.body, campaign.preset = data.subject.strip(), data.body, data.preset.value
    campaign.per_minute, campaign.per_hour, campaign.per_day = _throttle(data)
    campaign.scheduled_at = data.scheduled_at.astimezone(UTC) if data.scheduled_at else None


async def _links(session: AsyncSession, campaign: Campaign) -> None:
    await session.execute(delete(CampaignLink).where(CampaignLink.campaign_id == campaign.id))
    for position, url in enumerate(links_of(campaign.body)):
        session.add(CampaignLink(campaign_id=campaign.id, position=position, url=url))


async def create(session: AsyncSession, principal: Principal, data: CampaignIn) -> CampaignOut:
    _may_run(principal)
    await _check(session, principal, data)
    campaign = Campaign(created_by=principal.user_id, secret=secrets.token_hex(32), status="draft")
    _apply(campaign, data)
    session.add(campaign)
    await session.flush()
    await _links(session, campaign)
    audit.record(
        session,
        actor_id=principal.user_id,
        entity="campaign",
        entity_id=campaign.id,
        action="created",
        changes=[{"field": "name", "old": None, "new": campaign.name}],
    )
    announce(session, campaign, "created")
    return await out(session, campaign)


async def update_draft(session: AsyncSession, principal: Principal, campaign_id: int, data: CampaignIn) -> CampaignOut:
    campaign = await visible_campaign(session, principal, campaign_id, lock=True)
    if campaign.status != "draft":
        raise Conflict("Only a campaign not started yet can be changed.", field="status", code="not_draft")
    await _check(session, principal, data)
    before = {"name": campaign.name, "subject": campaign.subject}
    _apply(campaign, data)
    await _links(session, campaign)
    audit.record(
        session,
        actor_id=principal.user_id,
        entity="campaign",
        entity_id=campaign.id,
        action="updated",
        changes=audit.diff(before, {"name": campaign.name, "subject": campaign.subject}),
    )
    announce(session, campaign)
    return await out(session, campaign)


async def defer_batch(session: AsyncSession, campaign_id: int, at: datetime | None = None) -> None:
    """Queue the campaign's next batch; one waiting batch per campaign is enough."""
    try:
        await queue.defer(
            session, BATCH_TASK, queueing_lock=f"campaign-{campaign_id}", scheduled_at=at, campaign_id=campaign_id
        )
    except AlreadyQueued:
        pass


async def start(session: AsyncSession, principal: Principal, campaign_id: int) -> CampaignOut:
    """Copy the audience into recipient rows now (in the starter's scope) and queue the first batch."""
    campaign = await visible_campaign(session, principal, campaign_id, lock=True)
    if campaign.status != "draft":
        raise Conflict("This campaign was started already.", field="status", code="not_draft")
    if campaign.channel != "email":  # its channel starts it (WhatsApp: POST /api/whatsapp/campaigns/{id}/start)
        raise Conflict(f"Start a {campaign.channel} campaign from its own page.", field="channel", code="channel")
    if not str(await settings.get(session, "app.public_url") or "").strip():
        raise Conflict(
            "Set the server's public address (app.public_url) first: tracking and unsubscribe links need it.",
            field="app.public_url",
            code="no_public_url",
        )
    counted = await audience.count(session, principal, campaign.entity, campaign.filters)
    if counted.eligible == 0:
        raise Conflict(
            "Nobody in this audience may receive it (see the excluded counts).", field="filters", code="empty"
        )
    await audience.materialize(session, principal, campaign.id, campaign.entity, campaign.filters)
    campaign.excluded = counted.excluded
    later = campaign.scheduled_at is not None and campaign.scheduled_at > utcnow()
    campaign.status = "scheduled" if later else "sending"
    campaign.started_at = None if later else utcnow()
    await defer_batch(session, campaign.id, campaign.scheduled_at if later else None)
    audit.record(
        session,
        actor_id=principal.user_id,
        entity="campaign",
        entity_id=campaign.id,
        action="started",
        changes=[{"field": "status", "old": "draft", "new": campaign.status}],
    )
    announce(session, campaign)
    return await out(session, campaign)


async def _transition(
    session: AsyncSession, principal: Principal, campaign_id: int, allowed: set[str], new: str
) -> Campaign:
    campaign = await visible_campaign(session, principal, campaign_id, lock=True)
    if campaign.status not in allowed:
        raise Conflict(f"A {campaign.status} campaign cannot be {new}.", field="status", code="wrong_status")
    old, campaign.status = campaign.status, new
    audit.record(
        session,
        actor_id=principal.user_id,
        entity="campaign",
        entity_id=campaign.id,
        action=new,
        changes=[{"field": "status", "old": old, "new": new}],
    )
    announce(session, campaign)
    return campaign


async def pause(session: AsyncSession, principal: Principal, campaign_id: int) -> CampaignOut:
    """The running batch stops before its next message; nothing queued is lost."""
    campaign = await _transition(session, principal, campaign_id, {"sending", "scheduled"}, "paused")
    campaign.next_batch_at = None
    return await out(session, campaign)


async def resume(session: AsyncSession, principal: Principal, campaign_id: int) -> CampaignOut:
    campaign = await _transition(session, principal, campaign_id, {"paused"}, "sending")
    campaign.started_at = campaign.started_at or utcnow()
    await defer_batch(session, campaign.id)
    return await out(session, campaign)


async def cancel(session: AsyncSession, principal: Principal, campaign_id: int) -> CampaignOut:
    campaign = await _transition(
        session, principal, campaign_id, {"draft", "scheduled", "sending", "paused"}, "cancelled"
    )
    await session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.state == "queued")
        .values(state="cancelled", error="The campaign was cancelled.")
    )
    campaign.finished_at, campaign.next_batch_at = utcnow(), None
    return await out(session, campaign)


# --- reading ---------------------------------------------------------------------------------------


async def counts(session: AsyncSession, campaign_id: int) -> Counts:
    r = CampaignRecipient
    states = dict(
        (
            await session.execute(select(r.state, func.count()).where(r.campaign_id == campaign_id).group_by(r.state))
        ).all()
    )
    row = (
        await session.execute(
            select(
                func.count(r.opened_at),
                func.count(r.machine_opened_at),
                func.count(r.clicked_at),
                func.count(r.unsubscribed_at),
            ).where(r.campaign_id == campaign_id)
        )
    ).one()
    return Counts(
        total=sum(states.values()),
        **{k: v for k, v in states.items() if k in Counts.model_fields},
        opened_people=row[0],
        opened_machines=row[1],
        clicked=row[2],
        unsubscribed=row[3],
    )


async def out(session: AsyncSession, campaign: Campaign) -> CampaignOut:
    await session.flush()
    await session.refresh(campaign)
    result = CampaignOut.model_validate(campaign)
    result.counts = await counts(session, campaign.id)
    return result


async def get(session: AsyncSession, principal: Principal, campaign_id: int) -> CampaignOut:
    return await out(session, await visible_campaign(session, principal, campaign_id))


async def list_campaigns(session: AsyncSession, principal: Principal, offset: int, limit: int) -> Page[CampaignOut]:
    _may_run(principal)
    stmt = select(Campaign)
    if not principal.can("admin", "edit"):
        stmt = stmt.where(Campaign.created_by == principal.user_id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = (
        await session.scalars(stmt.order_by(Campaign.created_at.desc(), Campaign.id.desc()).offset(offset).limit(limit))
    ).all()
    items = []
    for c in rows:
        item = CampaignOut.model_validate(c)
        item.counts = await counts(session, c.id)
        items.append(item)
    return Page[CampaignOut](items=items, total=total or 0, offset=offset, limit=limit)


async def results(session: AsyncSession, principal: Principal, campaign_id: int) -> ResultsOut:
    campaign = await visible_campaign(session, principal, campaign_id)
    e = CampaignEvent
    links = (
        await session.execute(
            select(
                CampaignLink.url,
                func.count(e.id),
                func.count(func.distinct(e.recipient_id)),
            )
            .outerjoin(e, (e.link_id == CampaignLink.id) & (e.kind == "click"))
            .where(CampaignLink.campaign_id == campaign.id)
            .group_by(CampaignLink.id, CampaignLink.url)
            .order_by(CampaignLink.position)
        )
    ).all()
    bucket = func.date_trunc("hour", e.at)
    hours: dict[datetime, list[int]] = {}
    for at, opened, clicked in (
        await session.execute(
            select(
                bucket,
                func.count().filter((e.kind == "open") & e.machine.is_(False)),
                func.count().filter((e.kind == "click") & e.machine.is_(False)),
            )
            .where(e.campaign_id == campaign.id)
            .group_by(bucket)
        )
    ).all():
        hours[at] = [0, opened, clicked]
    r = CampaignRecipient
    sent_hour = func.date_trunc("hour", r.sent_at)
    for at, sent in (
        await session.execute(
            select(sent_hour, func.count())
            .where(r.campaign_id == campaign.id, r.sent_at.is_not(None))
            .group_by(sent_hour)
        )
    ).all():
        hours.setdefault(at, [0, 0, 0])[0] = sent
    points = sorted(hours.items())[-24 * 60 :]
    return ResultsOut(
        counts=await counts(session, campaign.id),
        links=[LinkResult(url=u, clicks=c, people=p) for u, c, p in links],
        timeline=[TimePoint(at=at, sent=v[0], opened=v[1], clicked=v[2]) for at, v in points],
    )


async def recipients(
    session: AsyncSession, principal: Principal, campaign_id: int, state: str | None, offset: int, limit: int
) -> Page[RecipientOut]:
    campaign = await visible_campaign(session, principal, campaign_id)
    stmt = select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id)
    if state:
        stmt = stmt.where(CampaignRecipient.state == state)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = await session.scalars(stmt.order_by(CampaignRecipient.id).offset(offset).limit(limit))
    return Page[RecipientOut](
        items=[RecipientOut.model_validate(r) for r in rows.all()], total=total or 0, offset=offset, limit=limit
    )


# --- consent and engagement ------------------------------------------------------------------------


async def grant_consent(session: AsyncSession, principal: Principal, data: ConsentIn) -> int:
    """Record marketing consent for these addresses (an unsubscribe withdraws it again)."""
    _may_run(principal)
    source = single_line(data.source, "source")
    keys = sorted({address(a, f"addresses.{i}").lower() for i, a in enumerate(data.addresses)})
    now = utcnow()
    for key in keys:
        row = await session.get(EmailConsent, key)
        if row is None:
            session.add(EmailConsent(address=key, granted_at=now, source=source, updated_by=principal.user_id))
        else:
            row.granted_at, row.withdrawn_at, row.source, row.updated_by = now, None, source, principal.user_id
    audit.record(
        session,
        actor_id=principal.user_id,
        entity="email_consent",
        entity_id=0,
        action="granted",
        changes=[{"field": "addresses", "old": None, "new": ", ".join(keys)[:2000]}],
    )
    return len(keys)


async def engagement(session: AsyncSession, principal: Principal, entity: str, entity_id: int) -> EngagementOut:
    """The record's score, in the viewer's scope of the record."""
    if entity == "lead":
        from crm_server.leads.service import visible_lead

        await visible_lead(session, principal, entity_id)
    else:
        from crm_server.clients.models import Contact
        from crm_server.clients.service import visible_client

        client_id = entity_id
        if entity == "contact":
            contact = await session.get(Contact, entity_id)
            if contact is None:
                raise NotFound("No such contact.", field="entity_id")
            client_id = contact.client_id
        await visible_client(session, principal, client_id)
    row = await session.get(Engagement, (entity, entity_id))
    return EngagementOut(
        entity=entity,  # type: ignore[arg-type]
        entity_id=entity_id,
        opens=row.opens if row else 0,
        clicks=row.clicks if row else 0,
        score=row.score if row else 0,
    )


# --- for the bounce and complaint parser (P6) -----------------------------------------------------


async def mark_recipient(session: AsyncSession, message_id: str, state: str, reason: str) -> bool:
    """Mark the campaign recipient whose message had this Message-ID "bounced", "soft_bounced" or
    "complained", with the reason; False when no campaign message has that Message-ID. Does not touch
    the suppression list: the caller decides that (a soft bounce may not suppress). A complaint is
    never overwritten by a later bounce."""
    if state not in MARKS:
        raise ValueError(f"state must be one of {sorted(MARKS)}")
    key = message_id.strip()
    if not key.startswith("<"):
        key = f"<{key.strip('<>')}>"
    recipient = await session.scalar(
        select(CampaignRecipient).where(CampaignRecipient.message_id == key).with_for_update()
    )
    if recipient is None:
        return False
    if recipient.state != "complained":
        recipient.state = state
    recipient.error = reason[:2000]
    kind = {"bounced": "bounce", "soft_bounced": "soft_bounce", "complained": "complaint"}[state]
    session.add(CampaignEvent(campaign_id=recipient.campaign_id, recipient_id=recipient.id, kind=kind))
    campaign = await session.get(Campaign, recipient.campaign_id)
    if campaign is not None:
        announce(session, campaign, data={"recipient_id": recipient.id, "state": state})
    return True

"""WhatsApp campaigns on the campaign engine (crm_server.campaigns): an approved template to every
opted-in number a lead or client list filter matches, at most the number's messaging-limit tier a
day, in business hours only when asked (the company hours: tickets.business_hours/_days/time_zone).

The engine claims, throttles and records each recipient; this module is the WhatsApp channel
(engine.CHANNELS["whatsapp"]): each hand-off keeps a whatsapp_messages row with Meta's id, so the
status webhook (sent, delivered, read, failed with its reason) and replies count in the results.
Outside business hours the channel pauses the campaign (held_for_hours) before anything is claimed;
the periodic job `whatsapp.campaign_hours` resumes it at opening. Never commits."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Select, case, func, insert, literal, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.campaigns import audience
from crm_server.campaigns import service as campaigns
from crm_server.campaigns.engine_types import BATCH_DB, ChannelError, Outgoing, Snapshot
from crm_server.campaigns.models import Campaign, CampaignRecipient
from crm_server.clients.models import Client
from crm_server.contract.campaigns import CampaignOut
from crm_server.contract.whatsapp import CampaignAudienceIn, CampaignAudienceOut, CampaignIn, CampaignResults
from crm_server.db import Database, utcnow
from crm_server.emails.service import single_line
from crm_server.errors import Conflict, NotFound, ValidationFailed
from crm_server.integrations.providers import NeedsAttention
from crm_server.leads.models import Lead
from crm_server.tickets.sla import schedule_from_settings
from crm_server.whatsapp import number, service
from crm_server.whatsapp.models import Message, OptIn, Template, WhatsAppCampaign

EXCLUSIONS = ("no_phone", "no_opt_in", "opted_out", "duplicate")
FALLBACK_DAILY_LIMIT = 250  # the tier could not be read: the lowest a verified business has


# --- business hours ---------------------------------------------------------------------------------


async def open_now(session: AsyncSession, now: datetime | None = None) -> bool:
    """Inside the company's business hours (the support desk's settings) at `now`."""
    schedule = schedule_from_settings(await settings.get_all(session))
    local = (now or utcnow()).astimezone(schedule.zone)
    return local.isoweekday() in schedule.days and schedule.opens <= local.time() < schedule.closes


async def _hold_if_closed(session: AsyncSession, campaign_id: int) -> bool:
    """Pause a business-hours-only campaign outside the hours (held: the clock resumes it)."""
    wa = await session.get(WhatsAppCampaign, campaign_id, with_for_update=True)
    campaign = await session.get(Campaign, campaign_id, with_for_update=True)
    if wa is None or campaign is None or campaign.status != "sending":
        return False
    if not wa.business_hours_only or await open_now(session):
        wa.held_for_hours = False
        return False
    campaign.status, campaign.next_batch_at, wa.held_for_hours = "paused", None, True
    audit.record(
        session, actor_id=None, entity="campaign", entity_id=campaign.id, action="held_for_business_hours",
        changes=[{"field": "status", "old": "sending", "new": "paused"}],
    )  # fmt: skip
    campaigns.announce(session, campaign, data={"held": "outside business hours"})
    return True


async def resume_held(session: AsyncSession) -> str:
    """The periodic job: campaigns held outside business hours go on once the hours begin."""
    if not await open_now(session):
        return "outside business hours: nothing resumed"
    held = (
        await session.scalars(
            select(Campaign)
            .join(WhatsAppCampaign, WhatsAppCampaign.campaign_id == Campaign.id)
            .where(WhatsAppCampaign.held_for_hours, Campaign.status == "paused")
            .with_for_update(of=Campaign)
        )
    ).all()
    for campaign in held:
        wa = await session.get(WhatsAppCampaign, campaign.id)
        assert wa is not None
        campaign.status, wa.held_for_hours = "sending", False
        await campaigns.defer_batch(session, campaign.id)
        campaigns.announce(session, campaign, data={"held": None})
    return f"resumed {len(held)} campaign(s)"


# --- audience ---------------------------------------------------------------------------------------


async def _classified(session: AsyncSession, principal: Principal, entity: str, filters: dict[str, Any]) -> Any:
    """(entity_id, address = the E.164 phone, name, why left out or NULL) of every matching record."""
    base = (await audience.records(session, principal, entity, filters)).subquery("base")
    model: Any = Lead if entity == "lead" else Client
    phone = func.btrim(model.phone)
    why = case(
        (func.coalesce(phone, "") == "", literal("no_phone")),
        ((OptIn.id.is_(None)) | (OptIn.opted_in_at.is_(None)), literal("no_opt_in")),
        (OptIn.opted_out_at.is_not(None), literal("opted_out")),
        else_=None,
    )
    rows: Select[Any] = (
        select(base.c.entity_id, phone.label("address"), base.c.name, why.label("why"))
        .select_from(base)
        .join(model, model.id == base.c.entity_id)
        .outerjoin(OptIn, OptIn.phone == phone)
    )
    return rows.subquery("c")


async def count(session: AsyncSession, principal: Principal, data: CampaignAudienceIn) -> CampaignAudienceOut:
    campaigns._may_run(principal)  # the engine's rule: bulk messages are for managers and admins
    return await _count(session, principal, data.entity, dict(data.filters))


async def _count(
    session: AsyncSession, principal: Principal, entity: str, filters: dict[str, Any]
) -> CampaignAudienceOut:
    c = await _classified(session, principal, entity, filters)
    row = (
        await session.execute(
            select(
                func.count(),
                func.count(func.distinct(c.c.address)).filter(c.c.why.is_(None)),
                func.count().filter(c.c.why.is_(None)),
                *[func.count().filter(c.c.why == name) for name in EXCLUSIONS[:-1]],
            ).select_from(c)
        )
    ).one()
    matching, eligible, eligible_rows, *rest = row
    excluded = dict(zip(EXCLUSIONS[:-1], rest, strict=True)) | {"duplicate": eligible_rows - eligible}
    return CampaignAudienceOut(matching=matching, eligible=eligible, excluded=excluded)


async def _materialize(session: AsyncSession, principal: Principal, campaign: Campaign) -> None:
    c = await _classified(session, principal, campaign.entity, campaign.filters)
    picked = (
        select(literal(campaign.id), literal(campaign.entity), c.c.entity_id, c.c.address, func.left(c.c.name, 300))
        .where(c.c.why.is_(None))
        .ext(distinct_on(c.c.address))
        .order_by(c.c.address, c.c.entity_id)
    )
    await session.execute(
        insert(CampaignRecipient).from_select(["campaign_id", "entity", "entity_id", "address", "name"], picked)
    )


# --- building and starting ----------------------------------------------------------------------------


async def _approved(session: AsyncSession, template_id: int) -> Template:
    template = await session.get(Template, template_id)
    if template is None:
        raise ValidationFailed("No such WhatsApp template.", field="template_id")
    if template.status != "APPROVED":
        raise ValidationFailed(
            f"The template {template.name} is {template.status.lower()}: only an approved one can be sent.",
            field="template_id",
        )
    return template


async def create(session: AsyncSession, principal: Principal, data: CampaignIn) -> CampaignOut:
    """A draft: nothing is sent until it is started (POST .../start)."""
    campaigns._may_run(principal)
    name = single_line(data.name, "name")
    await audience.records(session, principal, data.entity, dict(data.filters))  # refuses bad filters by name
    template = await _approved(session, data.template_id)
    campaign = Campaign(
        created_by=principal.user_id, secret=secrets.token_hex(32), status="draft", channel="whatsapp",
        name=name, entity=data.entity, filters=dict(data.filters), subject=f"{template.name} ({template.language})",
        body=template.body, preset="custom", per_minute=data.per_minute,
        scheduled_at=data.scheduled_at.astimezone(UTC) if data.scheduled_at else None,
    )  # fmt: skip
    session.add(campaign)
    await session.flush()
    session.add(
        WhatsAppCampaign(campaign_id=campaign.id, template_id=template.id, business_hours_only=data.business_hours_only)
    )
    audit.record(
        session, actor_id=principal.user_id, entity="campaign", entity_id=campaign.id, action="created",
        changes=[{"field": "name", "old": None, "new": campaign.name}, {"field": "channel", "old": None,
                 "new": "whatsapp"}],
    )  # fmt: skip
    campaigns.announce(session, campaign, "created")
    return await campaigns.out(session, campaign)


async def _whatsapp_campaign(
    session: AsyncSession, principal: Principal, campaign_id: int, *, lock: bool = False
) -> tuple[Campaign, WhatsAppCampaign]:
    campaign = await campaigns.visible_campaign(session, principal, campaign_id, lock=lock)
    wa = await session.get(WhatsAppCampaign, campaign.id)
    if campaign.channel != "whatsapp" or wa is None:
        raise NotFound("No such WhatsApp campaign.", field="campaign_id")
    return campaign, wa


async def start(session: AsyncSession, principal: Principal, campaign_id: int) -> CampaignOut:
    """Copy the opted-in audience into recipients now (in the starter's scope), set the daily limit
    to the number's tier, and queue the first batch."""
    campaign, wa = await _whatsapp_campaign(session, principal, campaign_id, lock=True)
    if campaign.status != "draft":
        raise Conflict("This campaign was started already.", field="status", code="not_draft")
    await _approved(session, wa.template_id)
    counted = await _count(session, principal, campaign.entity, campaign.filters)
    if counted.eligible == 0:
        raise Conflict("Nobody in this audience has opted in to WhatsApp.", field="filters", code="empty")
    try:
        campaign.per_day = (await number.number(session)).daily_limit
    except Conflict:
        campaign.per_day = FALLBACK_DAILY_LIMIT
    await _materialize(session, principal, campaign)
    campaign.excluded = counted.excluded
    later = campaign.scheduled_at is not None and campaign.scheduled_at > utcnow()
    campaign.status = "scheduled" if later else "sending"
    campaign.started_at = None if later else utcnow()
    await campaigns.defer_batch(session, campaign.id, campaign.scheduled_at if later else None)
    audit.record(
        session, actor_id=principal.user_id, entity="campaign", entity_id=campaign.id, action="started",
        changes=[{"field": "status", "old": "draft", "new": campaign.status}],
    )  # fmt: skip
    campaigns.announce(session, campaign)
    return await campaigns.out(session, campaign)


async def results(session: AsyncSession, principal: Principal, campaign_id: int) -> CampaignResults:
    campaign, wa = await _whatsapp_campaign(session, principal, campaign_id)
    r, m = CampaignRecipient, Message
    states = dict(
        (
            await session.execute(select(r.state, func.count()).where(r.campaign_id == campaign.id).group_by(r.state))
        ).all()
    )
    statuses = dict(
        (
            await session.execute(
                select(m.status, func.count())
                .join(r, r.id == m.campaign_recipient_id)
                .where(r.campaign_id == campaign.id)
                .group_by(m.status)
            )
        ).all()
    )
    reasons: Counter[str] = Counter()
    refused = select(r.error, func.count()).where(r.campaign_id == campaign.id, r.state == "failed").group_by(r.error)
    for error, n in (await session.execute(refused)).all():
        reasons[error or "Not sent."] += n
    undelivered = (
        select(m.error, func.count())
        .join(r, r.id == m.campaign_recipient_id)
        .where(r.campaign_id == campaign.id, r.state == "sent", m.status == "failed")
        .group_by(m.error)
    )
    for error, n in (await session.execute(undelivered)).all():
        reasons[error or "WhatsApp did not deliver the message."] += n
    replies = 0
    if campaign.started_at is not None:
        # An inbound message's time is Meta's timestamp, in whole seconds: compared with the start's
        # microseconds, a reply in the second the campaign started was not counted.
        since = campaign.started_at.replace(microsecond=0)
        replies = (
            await session.scalar(
                select(func.count(func.distinct(m.phone))).where(
                    m.direction == "in",
                    m.created_at >= since,
                    m.phone.in_(select(r.address).where(r.campaign_id == campaign.id, r.state == "sent")),
                )
            )
            or 0
        )
    return CampaignResults(
        campaign_id=campaign.id, status=campaign.status, held_for_hours=wa.held_for_hours,
        business_hours_only=wa.business_hours_only, template=campaign.subject, daily_limit=campaign.per_day,
        total=sum(states.values()), queued=states.get("queued", 0), sent=states.get("sent", 0),
        delivered=statuses.get("delivered", 0) + statuses.get("read", 0), read=statuses.get("read", 0),
        failed=sum(reasons.values()), failed_by_reason=dict(reasons), replies=replies,
    )  # fmt: skip


# --- the channel --------------------------------------------------------------------------------------


async def _prepare(session: AsyncSession, snap: Snapshot, out: Outgoing) -> int:
    """The message row for one claimed recipient, with its {{n}} values; refusals in words."""
    wa = await session.get(WhatsAppCampaign, snap.id)
    campaign = await session.get(Campaign, snap.id)
    template = await session.get(Template, wa.template_id) if wa is not None else None
    if wa is None or campaign is None or template is None:
        raise ChannelError("The campaign's WhatsApp template is gone.")
    if template.status != "APPROVED":
        raise ChannelError(f"The template {template.name} is {template.status.lower()} now, not approved: not sent.")
    consent = await session.scalar(select(OptIn).where(OptIn.phone == out.address))
    if consent is None or consent.opted_in_at is None or consent.opted_out_at is not None:
        raise ChannelError("The customer opted out of WhatsApp messages after the campaign started.")
    record: Lead | Client | None = await session.get(Lead if out.entity == "lead" else Client, out.entity_id)
    if record is None:
        raise ChannelError("The record is gone.")
    try:
        values = await service.parameters_of(session, campaign.created_by, record, template)
    except ValidationFailed as exc:
        raise ChannelError(exc.message) from None
    message = Message(
        lead_id=record.id if out.entity == "lead" else None, client_id=record.id if out.entity == "client" else None,
        phone=out.address, direction="out", template_name=template.name, template_language=template.language,
        body=service.filled(template.body, values), parameters=values or None, status="queued",
        created_by=campaign.created_by, created_at=utcnow(), campaign_recipient_id=out.recipient_id,
    )  # fmt: skip
    session.add(message)
    await session.flush()
    return message.id


@asynccontextmanager
async def open_sender(snap: Snapshot) -> AsyncIterator[Callable[[Outgoing], Awaitable[None]]]:
    db: Database = BATCH_DB.get()
    async with db.transaction() as session:
        await _hold_if_closed(session, snap.id)  # paused before the engine claims anyone

    async def deliver(out: Outgoing) -> None:
        async with db.transaction() as session:
            await _hold_if_closed(session, snap.id)  # this one goes; the batch stops after it
            message_id = await _prepare(session, snap, out)
        try:
            async with db.transaction() as session:
                said = await service.deliver(session, message_id)
        except (httpx.HTTPError, RuntimeError, NeedsAttention) as exc:
            words = f"Cannot reach the WhatsApp Cloud API: {exc}"
            async with db.transaction() as session:
                row = await session.get(Message, message_id)
                if row is not None and row.status == "queued" and not row.wamid:
                    row.status, row.error, row.status_at = "failed", words[:2000], utcnow()
            raise ChannelError(words) from None
        if said.startswith("failed"):
            raise ChannelError(said.removeprefix("failed: "))

    yield deliver

"""What the public tracking doors do: an open, a click, an unsubscribe. A token that does not check
out (unknown recipient, wrong signature, a link the campaign does not have) changes nothing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import audit
from crm_server.campaigns import tracking
from crm_server.campaigns.models import Campaign, CampaignEvent, CampaignLink, CampaignRecipient, EmailConsent
from crm_server.campaigns.service import announce
from crm_server.db import utcnow
from crm_server.emails.models import Suppression


async def _recipient(session: AsyncSession, token: str, kind: str) -> tuple[CampaignRecipient, Campaign, int] | None:
    parsed = tracking.parse(token, kind)
    if parsed is None:
        return None
    recipient_id, link, signature = parsed
    recipient = await session.get(CampaignRecipient, recipient_id, with_for_update=True)
    campaign = await session.get(Campaign, recipient.campaign_id) if recipient else None
    if (
        recipient is None
        or campaign is None
        or not tracking.valid(campaign.secret, kind, recipient_id, link, signature)
    ):
        return None
    return recipient, campaign, link


async def opened(session: AsyncSession, token: str, user_agent: str, ip: str | None) -> None:
    found = await _recipient(session, token, "o")
    if found is None:
        return
    r, campaign, _ = found
    now = utcnow()
    machine = tracking.is_machine(user_agent, ip, r.handed_at, now)
    session.add(CampaignEvent(campaign_id=r.campaign_id, recipient_id=r.id, kind="open", machine=machine, at=now))
    if machine:
        r.machine_opened_at = r.machine_opened_at or now
    elif r.opened_at is None:
        r.opened_at = now
        await tracking.engage(session, r.entity, r.entity_id, opens=1, clicks=0)
    announce(session, campaign, data={"recipient_id": r.id})


async def clicked(session: AsyncSession, token: str, user_agent: str, ip: str | None) -> str | None:
    """The campaign's own URL for this signed link, or None (no redirect anywhere else)."""
    found = await _recipient(session, token, "c")
    if found is None:
        return None
    r, campaign, position = found
    link = await session.scalar(
        select(CampaignLink).where(CampaignLink.campaign_id == campaign.id, CampaignLink.position == position)
    )
    if link is None:
        return None
    now = utcnow()
    machine = tracking.is_machine(user_agent, ip, r.handed_at, now)
    if not machine:
        before = await session.scalar(
            select(CampaignEvent.id).where(
                CampaignEvent.recipient_id == r.id,
                CampaignEvent.link_id == link.id,
                CampaignEvent.kind == "click",
                CampaignEvent.machine.is_(False),
            )
        )
        if before is None:
            await tracking.engage(session, r.entity, r.entity_id, opens=1 if r.opened_at is None else 0, clicks=1)
        r.opened_at = r.opened_at or now  # a click is a read, whatever the pixel said
        r.clicked_at = r.clicked_at or now
    session.add(
        CampaignEvent(
            campaign_id=campaign.id, recipient_id=r.id, kind="click", machine=machine, link_id=link.id, at=now
        )
    )
    announce(session, campaign, data={"recipient_id": r.id})
    return link.url


async def can_unsubscribe(session: AsyncSession, token: str) -> str | None:
    """The address a valid unsubscribe token is for (the GET page shows it and changes nothing)."""
    found = await _recipient(session, token, "u")
    return found[0].address if found else None


async def unsubscribe(session: AsyncSession, token: str) -> str | None:
    """Put the address on the suppression list and withdraw its consent; the same POST twice is fine."""
    found = await _recipient(session, token, "u")
    if found is None:
        return None
    r, campaign, _ = found
    now = utcnow()
    key = r.address.lower()
    if r.unsubscribed_at is None:
        r.unsubscribed_at = now
        session.add(CampaignEvent(campaign_id=campaign.id, recipient_id=r.id, kind="unsubscribe", at=now))
    if await session.scalar(select(Suppression.id).where(Suppression.address == key)) is None:
        row = Suppression(
            address=key, reason=f"Unsubscribed from the campaign {campaign.name!r}."[:2000], source="unsubscribe"
        )
        session.add(row)
        await session.flush()
        audit.record(
            session,
            actor_id=None,
            entity="email_suppression",
            entity_id=row.id,
            action="created",
            changes=[{"field": "address", "old": None, "new": key}],
        )
        events.emit(session, module="emails", entity="email_suppression", entity_id=row.id, action="created")
    consent = await session.get(EmailConsent, key)
    if consent is None:
        session.add(EmailConsent(address=key, withdrawn_at=now, source="unsubscribe"))
    else:
        consent.withdrawn_at = now
    announce(session, campaign, data={"recipient_id": r.id})
    return r.address

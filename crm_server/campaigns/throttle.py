"""The sending throttle: how many more messages a channel may hand off now under a campaign's
per-minute, per-hour and per-day limits, and when the next one may go.

Windows slide: a limit counts the hand-offs of the channel's campaigns in the last 60 s, 3,600 s or
86,400 s (a provider's limit is the mailbox's, not one campaign's). `now` is a parameter, so a test
or a benchmark asks about any moment without waiting for it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.campaigns.models import Campaign, CampaignRecipient

WINDOWS = (("per_minute", 60), ("per_hour", 3600), ("per_day", 86400))
UNLIMITED = 1_000_000_000


async def allowance(
    session: AsyncSession, channel: str, limits: dict[str, int | None], now: datetime
) -> tuple[int, datetime | None]:
    """(messages that may go now, when the next may go if none may)."""
    left, free_at = UNLIMITED, None
    mine = select(Campaign.id).where(Campaign.channel == channel).scalar_subquery()
    r = CampaignRecipient
    for name, seconds in WINDOWS:
        limit = limits.get(name)
        if not limit:
            continue
        since = now - timedelta(seconds=seconds)
        used = await session.scalar(select(func.count()).where(r.handed_at > since, r.campaign_id.in_(mine))) or 0
        if used >= limit:  # the limit-th latest hand-off leaves the window first
            oldest = await session.scalar(
                select(r.handed_at)
                .where(r.handed_at > since, r.campaign_id.in_(mine))
                .order_by(r.handed_at.desc())
                .offset(limit - 1)
                .limit(1)
            )
            if oldest is not None:
                at = oldest + timedelta(seconds=seconds)
                free_at = at if free_at is None or at > free_at else free_at
        left = min(left, limit - used)
    return max(left, 0), free_at

"""The business number as the Cloud API reads it now (GET /{phone-number-id}?fields=...): its quality
rating and messaging limit tier, in words for the integration page, and the daily limit of unique
customers a campaign's throttle stays within."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.contract.whatsapp import NumberOut
from crm_server.errors import Conflict
from crm_server.integrations.providers import NeedsAttention
from crm_server.whatsapp import service

FIELDS = "display_phone_number,verified_name,quality_rating,messaging_limit_tier"
QUALITY_WORDS = {"GREEN": "high", "YELLOW": "medium", "RED": "low", "UNKNOWN": "not rated yet"}
# Unique customers a business may start conversations with in 24 hours, per tier.
TIER_LIMITS: dict[str, int | None] = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1_000,
    "TIER_2K": 2_000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
    "TIER_UNLIMITED": None,
}


def words(quality: str | None, tier: str | None) -> str:
    rating = QUALITY_WORDS.get(quality or "", "unknown")
    if tier in TIER_LIMITS:
        limit = TIER_LIMITS[tier]
        reach = "no daily limit" if limit is None else f"up to {limit:,} customers a day"
    else:
        reach = "an unknown messaging limit"
    return f"Quality rating: {rating}. Messaging limit: {reach} (new conversations the business starts)."


async def number(session: AsyncSession) -> NumberOut:
    phone_id = str(await settings.get(session, "whatsapp.phone_number_id") or "")
    if not phone_id:
        raise Conflict("Set the WhatsApp phone number id first.", code="not_configured")
    try:
        data = await service.call_api(session, "GET", f"{phone_id}?fields={FIELDS}")
    except NeedsAttention as exc:
        raise Conflict(f"WhatsApp refused to describe the number: {exc.reason}", code="whatsapp_refused") from None
    except (httpx.HTTPError, RuntimeError) as exc:
        raise Conflict(f"Cannot reach the WhatsApp Cloud API: {exc}", code="whatsapp_unreachable") from None
    quality = str(data.get("quality_rating") or "")[:20] or None
    tier = str(data.get("messaging_limit_tier") or "")[:30] or None
    return NumberOut(
        phone_number_id=phone_id,
        display_phone_number=str(data.get("display_phone_number") or "")[:30] or None,
        verified_name=str(data.get("verified_name") or "")[:200] or None,
        quality_rating=quality,
        messaging_limit_tier=tier,
        daily_limit=TIER_LIMITS.get(tier or ""),
        words=words(quality, tier),
    )

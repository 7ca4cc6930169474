"""Tracking of campaign messages: signed tokens (HMAC-SHA256 with the campaign's own secret, one
purpose per token: open, click of link n, unsubscribe), machine opens told apart from people, and
the engagement score.

Machine opens: mail privacy proxies fetch every image whether or not a person reads the message
(Apple Mail Privacy Protection from Apple's 17.0.0.0/8 network with a bare "Mozilla/5.0"; Gmail's
GoogleImageProxy; Yahoo's proxy), and link scanners fetch seconds after delivery. They are recorded
as machine opens and never count as engagement.

Engagement score = min(100, opens + 3 x clicks): opens are campaign messages a person opened (one
each, a click counts as the open too), clicks are distinct links clicked per message."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.campaigns.models import Engagement

PROXY_AGENTS = ("googleimageproxy", "ggpht.com", "yahoomailproxy", "ymailproxy")
APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
PREFETCH = timedelta(seconds=10)  # an open this soon after the hand-off is a scanner, not a reader
OPEN_WEIGHT, CLICK_WEIGHT, MAX_SCORE = 1, 3, 100


def sign(secret: str, kind: str, recipient_id: int, link: int = 0) -> str:
    mac = hmac.new(bytes.fromhex(secret), f"{kind}|{recipient_id}|{link}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def token(secret: str, kind: str, recipient_id: int, link: int = 0) -> str:
    parts = [str(recipient_id)] + ([str(link)] if kind == "c" else [])
    return ".".join([*parts, sign(secret, kind, recipient_id, link)])


def parse(value: str, kind: str) -> tuple[int, int, str] | None:
    """(recipient id, link position, signature) of a well-formed token, else None (checked later)."""
    parts = value.split(".")
    if len(parts) != (3 if kind == "c" else 2) or not all(p.isdigit() and len(p) <= 18 for p in parts[:-1]):
        return None
    if len(parts[-1]) != 24:
        return None
    return int(parts[0]), int(parts[1]) if kind == "c" else 0, parts[-1]


def valid(secret: str, kind: str, recipient_id: int, link: int, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, kind, recipient_id, link), signature)


def is_machine(user_agent: str, ip: str | None, handed_at: datetime | None, now: datetime) -> bool:
    agent = user_agent.strip().lower()
    if any(p in agent for p in PROXY_AGENTS):
        return True
    try:
        apple = ip is not None and ipaddress.ip_address(ip) in APPLE_NETWORK
    except ValueError:
        apple = False
    if apple and agent in ("mozilla/5.0", ""):
        return True
    return handed_at is not None and now - handed_at < PREFETCH


async def engage(session: AsyncSession, entity: str, entity_id: int, opens: int, clicks: int) -> None:
    """Add to a record's counts and recompute its score, in one upsert (no read-modify-write race)."""
    stmt = insert(Engagement).values(
        entity=entity,
        entity_id=entity_id,
        opens=opens,
        clicks=clicks,
        score=min(MAX_SCORE, OPEN_WEIGHT * opens + CLICK_WEIGHT * clicks),
    )
    new_opens = Engagement.opens + stmt.excluded.opens
    new_clicks = Engagement.clicks + stmt.excluded.clicks
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Engagement.entity, Engagement.entity_id],
            set_={
                "opens": new_opens,
                "clicks": new_clicks,
                "score": func.least(MAX_SCORE, OPEN_WEIGHT * new_opens + CLICK_WEIGHT * new_clicks),
                "updated_at": func.now(),
            },
        )
    )

"""Double-submit guard, shared by every create: the same payload from the same user within a few
seconds returns the record the first submit made (a double click, a retry without Idempotency-Key).

The claim is an upsert on (user, fingerprint) in the request's transaction: a concurrent twin waits
on the row until the first commits and then sees it, so two twins never both create."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.clients.models import RecentSubmit
from crm_server.db import utcnow

WINDOW = timedelta(seconds=5)


def fingerprint(entity: str, payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{entity}\n{text}".encode()).hexdigest()


async def claim(session: AsyncSession, user_id: int, entity: str, payload: Any) -> tuple[str, int | None]:
    """Returns (fingerprint, id of the record the same submit created moments ago, or None: go on)."""
    fp = fingerprint(entity, payload)
    now = utcnow()
    stmt = insert(RecentSubmit).values(user_id=user_id, fingerprint=fp, entity=entity, created_at=now)
    claimed = stmt.on_conflict_do_update(
        index_elements=[RecentSubmit.user_id, RecentSubmit.fingerprint],
        set_={"created_at": now, "entity_id": None},
        where=RecentSubmit.created_at < now - WINDOW,
    ).returning(RecentSubmit.user_id)
    if (await session.execute(claimed)).first() is not None:
        return fp, None
    earlier = await session.scalar(
        select(RecentSubmit.entity_id).where(RecentSubmit.user_id == user_id, RecentSubmit.fingerprint == fp)
    )
    return fp, earlier


async def remember(session: AsyncSession, user_id: int, fp: str, entity_id: int) -> None:
    await session.execute(
        update(RecentSubmit)
        .where(RecentSubmit.user_id == user_id, RecentSubmit.fingerprint == fp)
        .values(entity_id=entity_id)
    )

"""Idempotency-Key: a retried POST (lost connection, double click) returns the first answer.

The key row is inserted in the request's own transaction before the work: a concurrent duplicate
waits on the unique index until the first commits, then reads its stored answer; if the first
fails, its row rolls back with it and the retry does the work."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, String, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.db import Base
from crm_server.errors import ValidationFailed


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[Any] = mapped_column(JSONB, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


async def claim(session: AsyncSession, user_id: int, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Claim the key for this request; returns the earlier answer if the key was used already."""
    if not key or len(key) > 200:
        raise ValidationFailed("Idempotency-Key must be 1 to 200 characters", field="Idempotency-Key")
    inserted = await session.execute(
        insert(IdempotencyKey)
        .values(user_id=user_id, key=key, request_hash=fingerprint)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    if inserted.first() is not None:
        return None
    earlier = await session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    assert earlier is not None
    if earlier.request_hash != fingerprint:
        raise ValidationFailed(
            "This Idempotency-Key was used for a different request",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    if earlier.status_code is None:
        return None  # the first try failed but kept its writes (a logged denial): this one runs
    return earlier


async def remember(session: AsyncSession, user_id: int, key: str, status_code: int, body: Any) -> None:
    row = await session.get(IdempotencyKey, (user_id, key))
    assert row is not None
    row.status_code = status_code
    row.body = body

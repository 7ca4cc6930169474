"""Live events: every change is written to the `events` outbox inside its own transaction and
announced with NOTIFY, which PostgreSQL delivers only on commit (a rollback announces nothing).

Each server process holds one LISTEN connection; on a notification it reads the new rows in
sequence order and hands each to the WebSocket clients allowed to see that record. A client that
reconnects sends the last sequence it saw and gets everything after it from the table first.

Sequence numbers are taken under a transaction-level advisory lock held until commit, so rows become
visible in sequence order and a reader never skips a number that commits later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from crm_server.contract.events import LiveEvent
from crm_server.db import Base

log = logging.getLogger(__name__)

CHANNEL = "crm_events"
_SEQ_LOCK = 0x43524D45  # "CRME": serialises the tail of writing transactions, not whole ones


class Event(Base):
    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    module: Mapped[str] = mapped_column(String(30))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    # Who may see it: the record's owner and team decide for scoped modules; `user_id` targets
    # one user only (their notifications, their own session).
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    team_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    __table_args__ = (Index("ix_events_at", "at"),)


def emit(
    session: AsyncSession,
    *,
    module: str,
    entity: str,
    entity_id: int,
    action: str,
    actor_id: int | None = None,
    owner_id: int | None = None,
    team_id: int | None = None,
    user_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Queue a live event; it is written and announced when the transaction commits."""
    session.info.setdefault("pending_events", []).append(
        dict(
            module=module,
            entity=entity,
            entity_id=entity_id,
            action=action,
            actor_id=actor_id,
            owner_id=owner_id,
            team_id=team_id,
            user_id=user_id,
            data=data or {},
        )
    )


async def publish_pending(session: AsyncSession) -> None:
    pending = session.info.pop("pending_events", None)
    if not pending:
        return
    # Automation rules and outgoing webhooks see every change here, in its own transaction.
    from crm_server.automation import capture

    await capture.on_publish(session, pending)
    await session.execute(_PUBLISH, {"k": _SEQ_LOCK, "c": CHANNEL, "rows": pending})


# The lock, the rows and the NOTIFY in one round trip (three statements took a sixth of a small
# save's SQL time). The lock is taken before any row exists to take a sequence number (the rows are
# joined to it), the rows take their numbers in the order they were emitted, and NOTIFY carries the last.
_PUBLISH = text(
    """
    WITH locked AS (SELECT pg_advisory_xact_lock(:k)),
    written AS (
        INSERT INTO events (module, entity, entity_id, action, actor_id, owner_id, team_id, user_id, data)
        SELECT e.v ->> 'module', e.v ->> 'entity', (e.v ->> 'entity_id')::bigint, e.v ->> 'action',
               (e.v ->> 'actor_id')::bigint, (e.v ->> 'owner_id')::bigint, (e.v ->> 'team_id')::bigint,
               (e.v ->> 'user_id')::bigint, coalesce(e.v -> 'data', '{}'::jsonb)
        FROM locked, jsonb_array_elements(:rows) WITH ORDINALITY AS e(v, n)
        ORDER BY e.n
        RETURNING seq
    )
    SELECT pg_notify(:c, max(seq)::text) FROM written
    """
).bindparams(bindparam("rows", type_=JSONB))


def to_live(event: Event) -> LiveEvent:
    return LiveEvent(
        seq=event.seq,
        at=event.at,
        module=event.module,
        entity=event.entity,
        entity_id=event.entity_id,
        action=event.action,
        actor_id=event.actor_id,
        data=event.data,
    )


Subscriber = Callable[[Event], None]


class EventHub:
    """One per server process: LISTENs, reads new events in order, fans them out in memory."""

    def __init__(self, libpq_url: str, sessions: Callable[[], AsyncSession]) -> None:
        self._url = libpq_url
        self._sessions = sessions
        self._subscribers: set[Subscriber] = set()
        self._last_seq = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.connected = False

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.add(callback)
        return lambda: self._subscribers.discard(callback)

    @property
    def last_seq(self) -> int:
        return self._last_seq

    async def start(self) -> None:
        async with self._sessions() as s:
            self._last_seq = (await s.execute(select(func.coalesce(func.max(Event.seq), 0)))).scalar_one()
        self._task = asyncio.create_task(self._run(), name="event-hub")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
                # Its own reader (the listener is busy waiting): one prepared statement per wake-up,
                # no pool, no transaction to begin and roll back, no ORM loading.
                reader = await psycopg.AsyncConnection.connect(self._url, autocommit=True, row_factory=dict_row)
                async with conn, reader:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.connected = True
                    delay = 0.5
                    await self._drain(reader)  # whatever committed while we were not listening
                    async for _ in conn.notifies():
                        await self._drain(reader)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event listener lost its connection; retrying in %.1fs", delay)
            self.connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)

    async def _drain(self, reader: psycopg.AsyncConnection[dict[str, Any]]) -> None:
        while True:
            cursor = await reader.execute(_NEWER, (self._last_seq,), prepare=True)
            rows = [Event(**row) for row in await cursor.fetchall()]
            for event in rows:
                self._last_seq = event.seq
                for callback in list(self._subscribers):
                    try:
                        callback(event)
                    except Exception:
                        log.exception("event subscriber failed")
            if len(rows) < _BATCH:
                return


_BATCH = 500
_NEWER = (
    "SELECT seq, at, module, entity, entity_id, action, actor_id, owner_id, team_id, user_id, data"
    f" FROM events WHERE seq > %s ORDER BY seq LIMIT {_BATCH}"
)


async def events_after(session: AsyncSession, seq: int, limit: int = 1000) -> list[Event]:
    """The backlog a reconnecting client missed, oldest first."""
    rows = await session.execute(select(Event).where(Event.seq > seq).order_by(Event.seq).limit(limit))
    return list(rows.scalars())

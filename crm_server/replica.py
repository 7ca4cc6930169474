"""The optional streaming replica (CRM_REPLICA_URL): reports, exports and search read there, so a
long report does not compete with people's writes on the primary.

Writes, and reads that must see the request's own write, stay on the primary. The replica is used
only while it answers and its lag stays within CRM_REPLICA_MAX_LAG_SECONDS; otherwise the primary
answers and the person sees the report all the same. Lag: none when the replica has replayed the
primary's current WAL position, else the age of the last transaction it replayed. The verdict is
kept for CHECK_SECONDS (one look serves a burst of report requests); a replica that does not answer
is left alone for RETRY_DOWN_SECONDS."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from crm_server.routing import get_session

if TYPE_CHECKING:
    from crm_server.db import Database

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
RETRY_DOWN_SECONDS = 5.0
CONNECT_TIMEOUT = 2
# How a replica connection shows in pg_stat_activity (an operator, or a test, can tell them apart).
APPLICATION_NAME = "crm-replica-read"
# Headers on an answer read from the replica: where, and how fresh its data was.
SOURCE_HEADER = "X-CRM-Read-From"
AS_OF_HEADER = "X-CRM-Data-As-Of"

_STATUS = text(
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() >= CAST(:primary AS pg_lsn), "
    "pg_last_xact_replay_timestamp(), now()"
)


@dataclass
class Verdict:
    usable: bool
    as_of: datetime | None = None  # the replica's data is current to this moment
    why: str = ""
    down: bool = False  # not answering (or not a standby): looked at again after RETRY_DOWN_SECONDS


class Replica:
    """The replica's engine and the last verdict on whether to read from it."""

    def __init__(self, url: str, max_lag_seconds: float, pool_size: int = 5) -> None:
        self.max_lag = max_lag_seconds
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_timeout=CONNECT_TIMEOUT,
            connect_args={"connect_timeout": CONNECT_TIMEOUT, "application_name": APPLICATION_NAME},
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._verdict = Verdict(False, why="not checked yet")
        self._until = 0.0

    async def verdict(self, primary: Database) -> Verdict:
        """Whether to read from the replica now (cached for a moment)."""
        now = time.monotonic()
        if now < self._until:
            return self._verdict
        verdict = await self._look(primary)
        if verdict.usable != self._verdict.usable:
            log.info("replica %s", "in use" if verdict.usable else f"skipped: {verdict.why}")
        self._verdict = verdict
        self._until = now + (RETRY_DOWN_SECONDS if verdict.down else CHECK_SECONDS)
        return verdict

    async def _look(self, primary: Database) -> Verdict:
        try:
            async with primary.engine.connect() as conn:
                position = str(await conn.scalar(text("SELECT pg_current_wal_lsn()")))
        except Exception:  # the primary is down: the request fails there by itself, with a 503
            return Verdict(False, why="the primary did not answer")
        try:
            async with self.engine.connect() as conn:
                row = (await conn.execute(_STATUS, {"primary": position})).one()
        except Exception as exc:  # down, refusing, or not a standby at all: the primary answers
            return Verdict(False, why=_first_line(exc), down=True)
        recovering, caught_up, replayed_at, now = row
        if not recovering:
            return Verdict(False, why="CRM_REPLICA_URL is not a standby (not in recovery)", down=True)
        if caught_up:
            return Verdict(True, as_of=now)
        if replayed_at is None:
            return Verdict(False, why="lag unknown: nothing replayed yet")
        lag = (now - replayed_at).total_seconds()
        if lag > self.max_lag:
            return Verdict(False, why=f"lag {lag:.1f} s is past {self.max_lag:g} s")
        return Verdict(True, as_of=replayed_at)

    async def open(self, primary: Database) -> tuple[AsyncSession, Verdict] | None:
        """A session on the replica, connected, when it is usable; None to read from the primary.
        A replica stopped since the last look is found here (its pooled connection fails the
        ping) and skipped, so the person's report still comes, from the primary."""
        verdict = await self.verdict(primary)
        if not verdict.usable:
            return None
        session = self.sessions()
        try:
            await session.connection()
        except Exception as exc:
            await session.close()
            self._verdict = Verdict(False, why=_first_line(exc), down=True)
            self._until = time.monotonic() + RETRY_DOWN_SECONDS
            log.warning("replica skipped: %s", self._verdict.why)
            return None
        return session, verdict

    @asynccontextmanager
    async def reading(self, primary: Database) -> AsyncIterator[AsyncSession]:
        """A session on the replica when it is usable, else a new one on the primary."""
        opened = await self.open(primary)
        async with opened[0] if opened is not None else primary.sessions() as session:
            try:
                yield session
            finally:
                await session.rollback()

    async def dispose(self) -> None:
        await self.engine.dispose()


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


async def read_session(request: Request, response: Response) -> AsyncIterator[AsyncSession]:
    """Dependency for a read-only route that may answer from the replica (a report, a search).

    The request's own primary session still signs the person in and checks permissions (which may
    write: a logged denial); only the route's reads go to the replica, marked by headers."""
    db: Database = request.app.state.db
    opened = await db.replica.open(db) if db.replica is not None else None
    if opened is None:
        yield get_session(request)
        return
    session, verdict = opened
    async with session:
        response.headers[SOURCE_HEADER] = "replica"
        if verdict.as_of is not None:
            response.headers[AS_OF_HEADER] = verdict.as_of.isoformat()
        try:
            yield session
        finally:
            await session.rollback()


ReadSession = Annotated[AsyncSession, Depends(read_session)]

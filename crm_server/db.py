"""Engine, sessions and the one transaction shape every request, job and command uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, BigInteger, CursorResult, DateTime, Integer, MetaData, Result, func, literal, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from crm_server.config import Config, get_config

if TYPE_CHECKING:
    from crm_server.replica import Replica

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class IdMixin:
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class TimestampsMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class VersionedMixin:
    """Optimistic concurrency: every update bumps `version`; a write based on an older one is refused
    by the service with 409 (and by the mapper, should two writers race inside the same instant)."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


def utcnow() -> datetime:
    return datetime.now(UTC)


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched. `execute` is typed to answer a Result; for such a
    statement it is a CursorResult, which counts them."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(result).__name__} of a statement that returns rows has no row count")
    return result.rowcount


def same_text(column: Any, value: str) -> Any:
    """`column` holds `value` but for case and surrounding spaces, compared the one way the
    database's lower() indexes do (uq_*_lower). Python's lower() folds letters the database may
    not (É, Ä: the embedded PostgreSQL has no ICU), so a Python-lowered name would pass a check
    whose insert the unique index then refuses."""
    return func.lower(column) == func.lower(literal(value.strip()))


@asynccontextmanager
async def savepoint(session: AsyncSession) -> AsyncIterator[None]:
    """A savepoint whose rollback also forgets the live events queued inside it.

    Rows written inside roll back with the savepoint, but live events wait in the session until
    commit: without this, desktops would hear of a record that never was."""
    queued = list(session.info.get("pending_events", []))
    try:
        async with session.begin_nested():
            yield
    except BaseException:
        session.info["pending_events"] = queued
        raise


# Seconds. libpq counts connect_timeout per host and rounds it up to 2 at least.
CONNECT_TIMEOUT = 3
POOL_TIMEOUT = 5


class Database:
    """Owns the engine of one server process (or one test) and hands out sessions."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        import crm_server.models  # noqa: F401  (every table known before the first query)

        self.url = url
        # Reconnects by itself: a pooled connection is pinged before use and replaced if the
        # database restarted. While it is down a request fails fast (503, crm_server.errors): a new
        # connection gives up after CONNECT_TIMEOUT, a wait for a free pooled one after POOL_TIMEOUT.
        # No statement timeout: a long report or export is slow, not broken.
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_timeout=POOL_TIMEOUT,
            connect_args={"connect_timeout": CONNECT_TIMEOUT},
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        # The streaming replica for reads that may be a little behind (crm_server.replica); None: none.
        self.replica: Replica | None = None

    @classmethod
    def from_config(cls, config: Config | None = None) -> Database:
        config = config or get_config()
        return cls(config.async_url(), config.db_pool_size)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success (with its pending live events), roll back on error.

        An error that says `keep_changes` (a failed login that must still be counted, a logged
        permission denial) commits what was written before it and is raised all the same."""
        from crm_server import events
        from crm_server.errors import AppError

        async with self.sessions() as session:
            try:
                yield session
            except AppError as exc:
                if exc.keep_changes:
                    await events.publish_pending(session)
                    await session.commit()
                else:
                    await session.rollback()
                raise
            except BaseException:
                await session.rollback()
                raise
            await events.publish_pending(session)
            await session.commit()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads that may lag a few seconds (reports, exports, search): the replica's
        when one is set up, answering and close enough behind, else a new one on the primary."""
        if self.replica is not None:
            async with self.replica.reading(self) as session:
                yield session
            return
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.replica is not None:
            await self.replica.dispose()


async def driver_connection(session: AsyncSession) -> psycopg.AsyncConnection[Any]:
    """The session's own psycopg connection (in its transaction), for what SQLAlchemy does not do: COPY."""
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    return cast("psycopg.AsyncConnection[Any]", driver)


async def copy_rows(
    session: AsyncSession, model: Any, rows: list[dict[str, Any]], *, with_ids: bool = False
) -> list[int]:
    """`rows` written with one COPY in the session's transaction (no per-row SQL to build and parse).
    With `with_ids` each row first takes the next id of the table's sequence; the ids come back in
    the rows' order."""
    if not rows:
        return []
    table = model.__table__
    ids: list[int] = []
    if with_ids:
        result = await session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n) ORDER BY 1"),
            {"table": table.name, "n": len(rows)},
        )
        ids = [int(r[0]) for r in result]
        rows = [{"id": rid, **row} for rid, row in zip(ids, rows, strict=True)]
    keys = list(dict.fromkeys(k for row in rows for k in row))  # a key missing from a row is NULL there
    as_json = {k for k in keys if isinstance(table.c[k].type, JSON)}
    driver = await driver_connection(session)
    columns = ", ".join(f'"{k}"' for k in keys)
    async with driver.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            await copy.write_row([Jsonb(row.get(k)) if k in as_json and row.get(k) is not None else row.get(k)
                                  for k in keys])  # fmt: skip
    return ids

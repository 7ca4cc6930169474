"""Exports as jobs: a person asks for a list as .xlsx or .csv; a job re-runs that list's own query in
the person's scope, writes the file in constant memory and reports its progress live; the person
downloads it until it expires (setting exports.keep_days), then a scheduled job removes it.

Where the file is kept: in the database, as chunks of up to 1 MiB in `export_chunks`, streamed out
one chunk at a time. Production runs several stateless server processes behind nginx and the job
may run in any of them: a file in one process's data folder could not be downloaded through
another, and a shared folder would be one more thing to mount, back up and clean. In the database the
file is in every process's reach, goes with the export row (cascade), is cleaned by the same
transaction that expires it, and survives a server restart. Exports are kept a few days, so the
space is bounded by what people export in a week.

Scope: the job rebuilds the person's Principal from their current role, but the record scope is never
wider than the one they had when they asked (stored on the export); an account deactivated or a role
that lost the export permission meanwhile makes the export fail, in words. Only the person who asked
sees, cancels or downloads an export: another user gets 404, as for a record they may not see.

Every text cell goes through contract/spreadsheet.py (a formula-looking text stays text)."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticError
from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import settings
from crm_server.auth.models import Role, User
from crm_server.auth.permissions import Principal
from crm_server.auth.sessions import ensure_allowed
from crm_server.contract import spreadsheet
from crm_server.contract.common import Page
from crm_server.contract.exports import ENTITIES, ExportIn, ExportOut, ExportProgress, ExportState
from crm_server.db import Database, driver_connection, rowcount, utcnow
from crm_server.errors import AppError, Conflict, Gone, NotFound, ValidationFailed
from crm_server.exports.entities import REGISTRY, Entity, first_count, rows
from crm_server.exports.models import Export, ExportChunk
from crm_server.jobs import queue

log = logging.getLogger(__name__)

MODULE = "exports"
CHUNK_BYTES = 1 << 20
PROGRESS_SECONDS = 0.5  # a progress event at most this often
MAX_ACTIVE = 3  # exports waiting or running per person
_SCOPES = ("own", "team", "all")
_ACTIVE = (ExportState.pending.value, ExportState.running.value)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {"xlsx": XLSX, "csv": "text/csv; charset=utf-8"}


class _Stopped(Exception):
    """The export was cancelled (or is no longer running) while the job wrote it."""


class Failure(Exception):
    """Why an export cannot be made, in words for its owner."""


# --- reading and asking --------------------------------------------------------------------------


def expired(export: Export) -> bool:
    if export.state == ExportState.expired.value:
        return True
    return export.state == ExportState.done.value and export.expires_at is not None and export.expires_at <= utcnow()


def export_out(export: Export) -> ExportOut:
    out = ExportOut.model_validate(export)
    if expired(export):
        out.state = ExportState.expired
    return out


def parse_filter(entity: Entity, raw: dict[str, Any]) -> BaseModel:
    """The list's own query model from the JSON filter; a bad value is a 422 naming filter.<field>."""
    try:
        return entity.query.model_validate(raw)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        field = f"filter.{where}" if where else "filter"
        raise ValidationFailed(f"{field}: {first.get('msg', 'invalid value')}", field=field) from None


async def start(session: AsyncSession, principal: Principal, body: ExportIn, where: str) -> ExportOut:
    """Queue an export of `body.entity`'s list as `body.filter` shows it; needs the module's export
    permission (and its view permission, which the list itself needs)."""
    entity = REGISTRY[body.entity]
    await ensure_allowed(session, principal, entity.module, "export", where)
    await ensure_allowed(session, principal, entity.module, "view", where)
    query = parse_filter(entity, body.filter)
    active = await session.scalar(
        select(func.count()).where(Export.user_id == principal.user_id, Export.state.in_(_ACTIVE))
    )
    if (active or 0) >= MAX_ACTIVE:
        raise Conflict(f"You have {active} exports still running; wait for one to finish or cancel one.")
    stamp = utcnow().strftime("%Y-%m-%d-%H%M")
    export = Export(
        user_id=principal.user_id,
        entity=entity.name,
        format=body.format,
        filter=query.model_dump(mode="json", exclude_defaults=True),
        scope=principal.scope(entity.module).value,
        state=ExportState.pending.value,
        rows_done=0,
        file_name=f"{entity.name.replace('_', '-')}-{stamp}.{body.format}",
    )
    session.add(export)
    await session.flush()
    export.job_id = await queue.defer(session, "exports.run", export_id=export.id)
    _announce(session, export, "created")
    await session.flush()
    await session.refresh(export)
    return export_out(export)


async def own_export(session: AsyncSession, principal: Principal, export_id: int, *, lock: bool = False) -> Export:
    """The export, if this person asked for it; anyone else's is "no such export" (404)."""
    export = await session.get(Export, export_id, with_for_update=lock, populate_existing=lock)
    if export is None or export.user_id != principal.user_id:
        raise NotFound("No such export.")
    return export


async def list_exports(session: AsyncSession, principal: Principal, offset: int, limit: int) -> Page[ExportOut]:
    """The person's own exports, newest first."""
    mine = select(Export).where(Export.user_id == principal.user_id)
    total = await session.scalar(select(func.count()).select_from(mine.subquery())) or 0
    items = (await session.scalars(mine.order_by(Export.id.desc()).offset(offset).limit(limit))).all()
    return Page[ExportOut](items=[export_out(e) for e in items], total=total, offset=offset, limit=limit)


async def cancel(session: AsyncSession, principal: Principal, export_id: int) -> ExportOut:
    """Stop a waiting or running export (its job stops at its next step and keeps nothing)."""
    export = await own_export(session, principal, export_id, lock=True)
    if export.state == ExportState.cancelled.value:
        return export_out(export)
    if export.state not in _ACTIVE:
        raise Conflict("This export has already finished; there is nothing to cancel.")
    export.state, export.finished_at = ExportState.cancelled.value, utcnow()
    await session.execute(delete(ExportChunk).where(ExportChunk.export_id == export.id))
    _announce(session, export, "cancelled")
    return export_out(export)


async def ready_file(session: AsyncSession, principal: Principal, export_id: int) -> tuple[Export, int]:
    """The export and its chunk count, when its file can be downloaded; otherwise why not, in words:
    410 once expired ("export again"), 409 while waiting, running, failed or cancelled."""
    export = await own_export(session, principal, export_id)
    if expired(export):
        days = await settings.get(session, "exports.keep_days")
        raise Gone(
            f"This export has expired: files are kept for {days} days. Export the list again to get a new file.",
            code="export_expired",
        )
    if export.state == ExportState.failed.value:
        raise Conflict(f"This export failed: {export.error or 'no reason was given'}. Export the list again.")
    if export.state == ExportState.cancelled.value:
        raise Conflict("This export was cancelled. Export the list again.")
    if export.state != ExportState.done.value:
        raise Conflict("This export is not ready yet; wait until it is done.", code="export_not_ready")
    chunks = await session.scalar(select(func.count()).where(ExportChunk.export_id == export.id))
    return export, int(chunks or 0)


async def stream_chunks(db: Database, export_id: int, chunks: int) -> AsyncIterator[bytes]:
    """The file, one chunk per short read (no connection is held between chunks)."""
    for seq in range(chunks):
        async with db.sessions() as session:
            data = await session.scalar(
                select(ExportChunk.data).where(ExportChunk.export_id == export_id, ExportChunk.seq == seq)
            )
        if data is None:  # removed while it was being downloaded (expired, account deleted)
            return
        yield bytes(data)


def _announce(session: AsyncSession, export: Export, action: str) -> None:
    progress = ExportProgress(
        state=ExportState(export.state), rows_done=export.rows_done or 0, rows_total=export.rows_total
    )
    events.emit(
        session,
        module=MODULE,
        entity="export",
        entity_id=export.id,
        action=action,
        actor_id=export.user_id,
        user_id=export.user_id,
        data=progress.model_dump(mode="json"),
    )


# --- the job ------------------------------------------------------------------------------------


async def principal_for(session: AsyncSession, export: Export, module: str) -> Principal:
    """The owner as the rules see them now, never with a wider scope than when they asked."""
    user = await session.get(User, export.user_id)
    if user is None or not user.active:
        raise Failure("the account that asked for it is no longer active")
    role = await session.get(Role, user.role_id)
    permissions: dict[str, Any] = dict(role.permissions if role is not None else {})
    grant = dict(permissions.get(module) or {})
    if "export" not in grant.get("actions", ()) or "view" not in grant.get("actions", ()):
        raise Failure(f"you no longer have the permission to export {ENTITIES[export.entity].lower()}")
    now = grant.get("scope", "own")
    then = export.scope if export.scope in _SCOPES else "own"
    grant["scope"] = _SCOPES[min(_SCOPES.index(now) if now in _SCOPES else 0, _SCOPES.index(then))]
    permissions[module] = grant
    return Principal(user_id=user.id, team_id=user.team_id, role_id=user.role_id, permissions=permissions)


class _Writer:
    """Rows in, file chunks out: csv straight into chunks; xlsx into a temporary file (openpyxl's
    write-only mode keeps one row in memory) that is chunked when saved."""

    def __init__(self, fmt: str, headers: list[str]) -> None:
        self.fmt = fmt
        self.pending: list[bytes] = []
        self.size = 0
        if fmt == "csv":
            self._text = io.StringIO()
            self._encoder = codecs.getincrementalencoder("utf-8")()
            self._csv = csv.writer(self._text)
            self._text.write("\ufeff")  # the BOM: Excel then reads the file as UTF-8
            self._csv.writerow(headers)
        else:
            from openpyxl import Workbook  # loaded on the first export, not at server start

            fd, self.path = tempfile.mkstemp(prefix="crm-export-", suffix=".xlsx")
            os.close(fd)
            self._book = Workbook(write_only=True)
            self._sheet = self._book.create_sheet("Export")
            self._sheet.append(headers)

    def write(self, batch: list[list[Any]]) -> None:
        if self.fmt == "csv":
            for row in batch:
                self._csv.writerow(spreadsheet.csv_row(row))
            if self._text.tell() >= CHUNK_BYTES:
                self._cut()
        else:
            for row in batch:
                self._sheet.append(spreadsheet.xlsx_row(self._sheet, row))

    def _cut(self) -> None:
        data = self._encoder.encode(self._text.getvalue())
        self._text.seek(0)
        self._text.truncate()
        for start in range(0, len(data), CHUNK_BYTES):
            self.pending.append(data[start : start + CHUNK_BYTES])

    def finish(self) -> None:
        """Everything left becomes chunks (for xlsx: the saved workbook, read back in pieces)."""
        if self.fmt == "csv":
            self._cut()
            return
        self._book.save(self.path)

    def close(self) -> None:
        if self.fmt != "csv":
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


async def run(db: Database, export_id: int) -> str:
    """The job: write the export, or say why not. Running it again (a server killed mid-way) starts
    the file over, so it is written once."""
    async with db.transaction() as session:
        export = await session.get(Export, export_id, with_for_update=True)
        if export is None or export.state not in _ACTIVE:
            return "nothing to do"
        await session.execute(delete(ExportChunk).where(ExportChunk.export_id == export_id))
        export.state, export.started_at, export.rows_done = ExportState.running.value, utcnow(), 0
        export.error = None
        entity = REGISTRY[export.entity]
        try:
            principal = await principal_for(session, export, entity.module)
            query = parse_filter(entity, export.filter)
        except (Failure, AppError) as exc:
            reason = str(exc) if isinstance(exc, Failure) else exc.message
            export.state, export.error, export.finished_at = ExportState.failed.value, reason, utcnow()
            _announce(session, export, "failed")
            return f"failed: {reason}"
        _announce(session, export, "started")
        fmt = export.format
    writer = _Writer(fmt, entity.header_row())
    try:
        done = await _write(db, export_id, entity, principal, query, writer)
    except _Stopped:
        await _discard(db, export_id)
        return "cancelled"
    except Exception as exc:
        reason = exc.message if isinstance(exc, AppError) else "the server met an unexpected error; try again"
        if not isinstance(exc, AppError):
            log.exception("export %s failed", export_id)
        await _fail(db, export_id, reason)
        return f"failed: {reason}"
    finally:
        writer.close()
    return f"{done} rows"


async def _write(
    db: Database, export_id: int, entity: Entity, principal: Principal, query: BaseModel, writer: _Writer
) -> int:
    done, total, seq = 0, None, 0
    last = time.monotonic()
    async with db.reading() as read:  # the replica's when one is set up and close enough behind
        # One snapshot for the whole file: pages read later see the rows as they were at the start.
        await read.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        if writer.fmt == "csv" and entity.csv_select is not None:
            stmt = await entity.csv_select(read, principal, query)
            total = await first_count(read, principal, entity, query)
            done = await _copy_csv(db, export_id, read, stmt, total, writer)
            await read.rollback()
            await _finish(db, export_id, done, writer.size)
            return done
        async for batch, known in rows(read, principal, entity, query):
            total = known if known is not None else total
            await asyncio.to_thread(writer.write, list(batch))
            done += len(batch)
            if writer.pending or time.monotonic() - last >= PROGRESS_SECONDS:
                seq = await _checkpoint(db, export_id, done, max(total or 0, done) if total else None, writer, seq)
                last = time.monotonic()
        await read.rollback()
    await asyncio.to_thread(writer.finish)
    if writer.fmt == "xlsx":
        seq = await _store_file(db, export_id, done, writer, seq)
    seq = await _checkpoint(db, export_id, done, done, writer, seq)
    await _finish(db, export_id, done, writer.size)
    return done


async def _copy_csv(
    db: Database, export_id: int, read: AsyncSession, stmt: Select[Any], total: int | None, writer: _Writer
) -> int:
    """PostgreSQL writes the .csv (COPY ... TO STDOUT, its header the columns' labels); each COPY
    message is one row, so counting them is the progress. Chunks are stored as they fill."""
    compiled = stmt.compile(dialect=read.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    raw = await driver_connection(read)
    buffer = bytearray("\ufeff".encode())  # the BOM: Excel then reads the file as UTF-8
    done, seq, last = -1, 0, time.monotonic()  # the header is the first message
    async with raw.cursor() as cursor:
        copy_sql = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv, HEADER true)"
        async with cursor.copy(copy_sql, compiled.params) as copy:
            async for data in copy:
                buffer += data
                done += 1
                if len(buffer) >= CHUNK_BYTES or time.monotonic() - last >= PROGRESS_SECONDS:
                    if len(buffer) >= CHUNK_BYTES:
                        writer.pending.append(bytes(buffer))
                        buffer.clear()
                    seq = await _checkpoint(db, export_id, done, total, writer, seq)
                    last = time.monotonic()
    writer.pending.append(bytes(buffer))
    await _checkpoint(db, export_id, done, done, writer, seq)
    return done


async def _checkpoint(db: Database, export_id: int, done: int, total: int | None, writer: _Writer, seq: int) -> int:
    """Progress and the chunks made since the last checkpoint, in one short transaction; stops the
    job when the export is no longer running (cancelled)."""
    async with db.transaction() as session:
        export = await session.get(Export, export_id, with_for_update=True)
        if export is None or export.state != ExportState.running.value:
            raise _Stopped
        for data in writer.pending:
            session.add(ExportChunk(export_id=export_id, seq=seq, data=data))
            writer.size += len(data)
            seq += 1
        writer.pending.clear()
        export.rows_done, export.rows_total = done, total
        _announce(session, export, "progress")
    return seq


async def _store_file(db: Database, export_id: int, done: int, writer: _Writer, seq: int) -> int:
    """The saved workbook into chunks, a few at a time."""
    f = await asyncio.to_thread(open, writer.path, "rb")
    with f:
        while True:
            data = await asyncio.to_thread(f.read, CHUNK_BYTES)
            if not data:
                return seq
            writer.pending.append(data)
            if len(writer.pending) >= 8:
                seq = await _checkpoint(db, export_id, done, done, writer, seq)


async def _finish(db: Database, export_id: int, done: int, size: int) -> None:
    async with db.transaction() as session:
        export = await session.get(Export, export_id, with_for_update=True)
        if export is None or export.state != ExportState.running.value:
            raise _Stopped
        days = int(await settings.get(session, "exports.keep_days"))
        now = utcnow()
        export.state, export.rows_done, export.rows_total = ExportState.done.value, done, done
        export.size_bytes, export.finished_at, export.expires_at = size, now, now + timedelta(days=days)
        _announce(session, export, "done")


async def _discard(db: Database, export_id: int) -> None:
    async with db.transaction() as session:
        await session.execute(delete(ExportChunk).where(ExportChunk.export_id == export_id))


async def _fail(db: Database, export_id: int, reason: str) -> None:
    async with db.transaction() as session:
        await session.execute(delete(ExportChunk).where(ExportChunk.export_id == export_id))
        export = await session.get(Export, export_id, with_for_update=True)
        if export is not None and export.state in _ACTIVE:
            export.state, export.error, export.finished_at = ExportState.failed.value, reason, utcnow()
            _announce(session, export, "failed")


async def expire(session: AsyncSession) -> int:
    """Done exports past their keeping time become expired and their files are removed."""
    gone = (
        await session.execute(
            update(Export)
            .where(Export.state == ExportState.done.value, Export.expires_at <= func.now())
            .values(state=ExportState.expired.value)
            .returning(Export.id)
        )
    ).scalars()
    ids = list(gone)
    if ids:
        result = await session.execute(delete(ExportChunk).where(ExportChunk.export_id.in_(ids)))
        log.info("exports expired: %d (%d chunks removed)", len(ids), rowcount(result))
        for export in (await session.scalars(select(Export).where(Export.id.in_(ids)))).all():
            _announce(session, export, "expired")
    return len(ids)

"""Imports: upload a file, map its columns, dry run, commit as a job in chunks (live progress,
cancellable, resumed after a crash), error report, revert, history.

Who: the `import` action of the entity's module (leads -> leads, clients and contacts -> clients,
products -> products) for everything about an import of that entity, history included.

Exactly once: every chunk of rows is written in one transaction together with the outcome of each of
its row numbers (import_rows) and the import's counts. A job killed mid-chunk loses that chunk's
transaction whole; run again (procrastinate retries the job of a dead worker), it plans the file again
and writes only the row numbers that have no outcome yet.

The file itself is kept in the import row (bytea): any server process can run the job, as for exports."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import logging
import os
import time
from collections import OrderedDict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import settings
from crm_server.admin.models import AuditEntry
from crm_server.auth.models import Role, User
from crm_server.auth.permissions import Principal
from crm_server.auth.sessions import ensure_allowed
from crm_server.clients.models import Contact
from crm_server.contract import spreadsheet
from crm_server.contract.common import Page
from crm_server.contract.imports import (
    ENTITIES,
    MODULE_OF,
    DryRunOut,
    DuplicateMode,
    ErrorName,
    ImportEntityOut,
    ImportErrorRow,
    ImportOut,
    ImportProgress,
    ImportStatus,
    MappingIn,
    RevertLeftAlone,
    RevertOut,
    StartIn,
    UploadOut,
)
from crm_server.contract.stock import DocumentStatus
from crm_server.db import Database, rowcount, savepoint, utcnow
from crm_server.errors import AppError, Conflict, NotFound, ValidationFailed
from crm_server.imports import mapping as mapping_rules
from crm_server.imports import plan as planner
from crm_server.imports import readers, rows, staging
from crm_server.imports.models import FILE_REMOVED, Import, ImportMapping, ImportRow, ImportStaging, file_of
from crm_server.imports.rows import Converted
from crm_server.imports.write import AUDIT_ENTITY, TABLES, plain, record_values, write_chunk
from crm_server.jobs import queue
from crm_server.stock import service as stock_service
from crm_server.stock.models import StockDocument, StockDocumentLine

log = logging.getLogger(__name__)

MODULE = "imports"
# Rows per chunk: one transaction, one COPY per table, one look at the CRM per key kind. A chunk of
# 5,000 leads is written in about a second: progress and a cancel still answer within it.
CHUNK_ROWS = 5000


def chunk_rows() -> int:
    """Rows per chunk (one transaction each): CRM_IMPORT_CHUNK_ROWS, 1 to 5000 (tests use small chunks)."""
    raw = os.environ.get("CRM_IMPORT_CHUNK_ROWS", "")
    return max(1, min(CHUNK_ROWS, int(raw))) if raw.isdigit() else CHUNK_ROWS


PREVIEW_ROWS = 20
SAMPLE_ROWS = 5  # the first rows shown with the mapping
FIRST_ERRORS = 100
PROGRESS_SECONDS = 0.5
_EDITABLE = (ImportStatus.uploaded.value, ImportStatus.mapped.value, ImportStatus.dry_run_done.value)


# --- who and what ---------------------------------------------------------------------------------


async def allowed(session: AsyncSession, principal: Principal, entity: str, where: str) -> None:
    if entity not in ENTITIES:
        raise ValidationFailed(f"Nothing called {entity!r} can be imported.", field="entity")
    await ensure_allowed(session, principal, MODULE_OF[entity], "import", where)


async def visible_import(
    session: AsyncSession, principal: Principal, import_id: int, where: str, *, lock: bool = False
) -> Import:
    imp = await session.get(Import, import_id, with_for_update=lock, populate_existing=lock)
    if imp is None:
        raise NotFound("No such import.")
    await allowed(session, principal, imp.entity, where)
    return imp


async def entities(session: AsyncSession, principal: Principal) -> list[ImportEntityOut]:
    out = []
    for entity, label in ENTITIES.items():
        if principal.can(MODULE_OF[entity], "import"):
            look = await rows.lookups(session, entity)
            out.append(ImportEntityOut(entity=entity, label=label, fields=rows.fields_of(entity, look)))  # type: ignore[arg-type]
    return out


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict((await session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))).all())


async def import_out(session: AsyncSession, imp: Import, names: dict[int, str] | None = None) -> ImportOut:
    if names is None:
        names = await _names(session, {imp.created_by} if imp.created_by else set())
    total = imp.rows_total or 0
    return ImportOut(
        id=imp.id,
        entity=imp.entity,  # type: ignore[arg-type]
        file_name=imp.file_name,
        sheet=imp.sheet,
        status=ImportStatus(imp.status),
        rows_total=total,
        rows_done=imp.rows_done,
        progress=(min(1.0, imp.rows_done / total) if total else (1.0 if imp.status == "done" else 0.0)),
        created=imp.created,
        updated=imp.updated,
        skipped=imp.skipped,
        errors=imp.errors,
        duplicate_mode=DuplicateMode(imp.duplicate_mode),
        owner_id=imp.owner_id,
        mapping=dict(imp.mapping or {}),
        same_file_warning=await _same_file_warning(session, imp),
        error=imp.error,
        created_by=imp.created_by,
        created_by_name=names.get(imp.created_by) if imp.created_by else None,
        created_at=imp.created_at,
        started_at=imp.started_at,
        finished_at=imp.finished_at,
        reverted_at=imp.reverted_at,
    )


async def _same_file_warning(session: AsyncSession, imp: Import) -> str | None:
    """ "This file was imported on 5 Dec 2026 by Ana Pop." when the same bytes were imported before."""
    earlier = (
        await session.execute(
            select(Import.started_at, User.full_name)
            .outerjoin(User, User.id == Import.created_by)
            .where(
                Import.file_hash == imp.file_hash,
                Import.entity == imp.entity,
                Import.id != imp.id,
                Import.id < imp.id,
                Import.status.in_(("running", "done", "cancelled")),
            )
            .order_by(Import.id.desc())
            .limit(1)
        )
    ).first()
    if earlier is None:
        return None
    when: datetime | None = earlier[0]
    day = f"{when.day} {when:%b %Y}" if when else "an earlier day"
    return f"This file was imported on {day} by {earlier[1] or 'a former user'}."


# --- upload, sheet, mapping -----------------------------------------------------------------------


async def upload(
    session: AsyncSession, principal: Principal, entity: str, file_name: str, data: bytes, where: str
) -> UploadOut:
    await allowed(session, principal, entity, where)
    name = " ".join(file_name.replace("/", " ").replace("\\", " ").split())[:300]
    if not name:
        raise ValidationFailed("The file needs a name (file_name).", field="file_name")
    readers.file_kind(name)
    if not data:
        raise ValidationFailed("The file is empty.", field="file")
    sheets = await asyncio.to_thread(readers.sheet_names, data, name)
    imp = Import(
        entity=entity,
        file_name=name,
        file_hash=hashlib.sha256(data).hexdigest(),
        file_data=data,
        sheet=sheets[0] if len(sheets) == 1 else None,
        status=ImportStatus.uploaded.value,
        mapping={},
        winners={},
        duplicate_mode=DuplicateMode.skip.value,
        created_by=principal.user_id,
        rows_total=0,
        rows_done=0,
        created=0,
        updated=0,
        skipped=0,
        errors=0,
    )
    session.add(imp)
    await session.flush()
    await session.refresh(imp)
    return await _sheet_answer(session, imp, sheets)


async def choose_sheet(
    session: AsyncSession, principal: Principal, import_id: int, sheet: str, where: str
) -> UploadOut:
    imp = await visible_import(session, principal, import_id, where, lock=True)
    _editable(imp)
    sheets = await asyncio.to_thread(readers.sheet_names, await file_of(session, imp), imp.file_name)
    if sheet not in sheets:
        raise ValidationFailed(f"The file has no sheet named {sheet!r}.", field="sheet")
    imp.sheet, imp.mapping, imp.winners, imp.status = sheet, {}, {}, ImportStatus.uploaded.value
    await staging.clear(session, imp.id)
    return await _sheet_answer(session, imp, sheets)


async def _sheet_answer(session: AsyncSession, imp: Import, sheets: list[str]) -> UploadOut:
    look = await rows.lookups(session, imp.entity)
    fields = rows.fields_of(imp.entity, look)
    headers: list[str] = []
    sample: list[list[str]] = []
    count = 0
    suggested: dict[str, str | None] = {}
    remembered = False
    if imp.sheet is not None:
        sheet, first = await asyncio.to_thread(_first_rows, await file_of(session, imp), imp.file_name, imp.sheet)
        _LAYOUTS.put(_layout_key(imp), sheet)
        headers, count = sheet.headers, sheet.count
        sample = [[rows.as_text(c) for c in cells] for _n, cells in first]
        kept = await session.get(ImportMapping, (imp.entity, mapping_rules.headers_hash(headers)))
        known = {f.name for f in fields}
        if kept is not None and all(v is None or v in known for v in kept.mapping.values()):
            by_key = {mapping_rules.key(h): v for h, v in kept.mapping.items()}
            suggested = {h: by_key.get(mapping_rules.key(h)) for h in headers}
            remembered = True
        else:
            suggested = mapping_rules.suggest(imp.entity, headers, fields)
        imp.rows_total = count
        imp.mapping = suggested
    await session.flush()
    return UploadOut(
        item=await import_out(session, imp),
        sheets=sheets,
        sheet=imp.sheet,
        headers=headers,
        sample=sample,
        rows=count,
        mapping=suggested,
        mapping_remembered=remembered,
        required=rows.required_of(fields),
        fields=fields,
    )


class _Layouts:
    """The headers and row counts of the sheets uploaded last in this process (the mapping that
    follows the upload does not read the file again). A pure function of the file's bytes and the
    sheet, so a miss only costs a read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.kept: OrderedDict[tuple[str, str, str | None], readers.Sheet] = OrderedDict()

    def put(self, key: tuple[str, str, str | None], sheet: readers.Sheet) -> None:
        self.kept[key] = readers.Sheet(
            name=sheet.name, headers=list(sheet.headers), header_row=sheet.header_row, count=sheet.count, end=sheet.end
        )
        self.kept.move_to_end(key)
        while len(self.kept) > self.size:
            self.kept.popitem(last=False)

    def get(self, key: tuple[str, str, str | None]) -> readers.Sheet | None:
        return self.kept.get(key)


_LAYOUTS = _Layouts(64)


async def _layout_of(session: AsyncSession, imp: Import) -> readers.Sheet:
    """Headers and row count read from the file (uploaded through another server process, or forgotten)."""
    found, _rows = await asyncio.to_thread(readers.open_sheet, await file_of(session, imp), imp.file_name, imp.sheet)
    return found


def _layout_key(imp: Import) -> tuple[str, str, str | None]:
    return imp.file_hash, readers.file_kind(imp.file_name), imp.sheet


def _first_rows(data: bytes, file_name: str, sheet: str | None) -> tuple[readers.Sheet, list[Any]]:
    found, data_rows = readers.open_sheet(data, file_name, sheet)
    return found, list(itertools.islice(data_rows, SAMPLE_ROWS))


def _editable(imp: Import) -> None:
    if imp.status not in _EDITABLE:
        raise Conflict("This import has started already; its mapping can no longer change.")


async def set_mapping(
    session: AsyncSession, principal: Principal, import_id: int, body: MappingIn, where: str
) -> ImportOut:
    imp = await visible_import(session, principal, import_id, where, lock=True)
    _editable(imp)
    if imp.sheet is None:
        raise ValidationFailed("Choose the sheet to import first.", field="sheet")
    sheet = _LAYOUTS.get(_layout_key(imp)) or await _layout_of(session, imp)
    look = await rows.lookups(session, imp.entity)
    fields = rows.fields_of(imp.entity, look)
    unknown = [h for h in body.mapping if h not in sheet.headers]
    if unknown:
        raise ValidationFailed(f"The sheet has no column {unknown[0]!r}.", field=f"mapping.{unknown[0]}")
    columns = planner.resolve_columns(sheet.headers, body.mapping, body.winners, fields)
    missing = [f for f in rows.required_of(fields) if f not in columns]
    if missing:
        label = next(f.label for f in fields if f.name == missing[0])
        raise ValidationFailed(
            f"Required Field Missing: no column is mapped to {label}.",
            field="mapping",
            code="required_field_missing",
            extra={"error": ErrorName.required_field_missing.value, "field_name": missing[0]},
        )
    if body.owner_id is not None:
        if imp.entity not in ("leads", "clients"):
            raise ValidationFailed("Only leads and clients take an owner.", field="owner_id")
        team = next((t for uid, t in look.owners.values() if uid == body.owner_id), -1)
        if team == -1:
            raise ValidationFailed("No such active user.", field="owner_id")
        if not principal.reaches(MODULE_OF[imp.entity], body.owner_id, team):
            raise ValidationFailed("You cannot give records to this user.", field="owner_id")
    imp.mapping = {h: body.mapping.get(h) for h in sheet.headers}
    imp.winners = dict(body.winners)
    imp.duplicate_mode = body.duplicate_mode.value
    imp.owner_id = body.owner_id
    imp.rows_total = sheet.count
    imp.status = ImportStatus.mapped.value
    await staging.clear(session, imp.id)  # a dry run's rows were converted for the mapping before
    if body.remember:
        key = mapping_rules.headers_hash(sheet.headers)
        kept = await session.get(ImportMapping, (imp.entity, key))
        if kept is None:
            session.add(ImportMapping(entity=imp.entity, headers_hash=key, mapping=imp.mapping))
        else:
            kept.mapping, kept.updated_at = imp.mapping, utcnow()
    await session.flush()
    return await import_out(session, imp)


# --- dry run --------------------------------------------------------------------------------------


def _problems(c: Converted) -> list[ImportErrorRow]:
    return [ImportErrorRow(row=c.row, column=p.column, error=p.error, reason=p.reason) for p in c.problems]


def _preview(entity: str, c: Converted, look: rows.Lookups) -> dict[str, str | None]:
    values = record_values(entity, c, look)
    shown: dict[str, str | None] = {"_row": str(c.row), "_action": c.action}
    for k, v in c.values.items():
        if k in ("status", "owner") and v is not None:  # a blank cell in a mapped column is None
            v = v[1] if k == "status" else next((e for e, (uid, _t) in look.owners.items() if uid == v[0]), None)
        elif k == "vat_rate":
            v = next((n for n in look.tax_rate_names if look.tax_rates.get(n.casefold()) == v), v)
        shown[k] = None if v in (None, []) else (", ".join(v) if isinstance(v, list) else str(plain(v)))
    if entity == "leads" and "currency" not in c.values and values.get("value") is not None:
        shown["currency"] = look.default_currency
    return shown


async def dry_run(session: AsyncSession, principal: Principal, import_id: int, where: str) -> DryRunOut:
    """Everything the real import checks, on every row; nothing written but the import's status and
    the converted rows, kept for the commit (staging.py) so that it does not convert them again."""
    imp = await visible_import(session, principal, import_id, where, lock=True)
    _editable(imp)
    if imp.status == ImportStatus.uploaded.value:
        raise ValidationFailed("Map the columns first.", field="mapping")
    look = await rows.lookups(session, imp.entity)
    mode = DuplicateMode(imp.duplicate_mode)
    counts = {"create": 0, "update": 0, "skip": 0, "error": 0}
    errors: list[ImportErrorRow] = []
    preview: list[dict[str, str | None]] = []

    async def seen(chunk: list[Converted]) -> None:
        await planner.match(session, imp.entity, chunk, mode, principal)
        for c in chunk:
            counts[c.action] += 1
            if c.problems and len(errors) < FIRST_ERRORS:
                errors.extend(_problems(c))
            elif c.action != "error" and len(preview) < PREVIEW_ROWS:
                preview.append(_preview(imp.entity, c, look))

    staged = await staging.stage(session, imp, principal, look, seen)
    imp.status = ImportStatus.dry_run_done.value
    imp.rows_total = staged.rows
    return DryRunOut(
        item=await import_out(session, imp),
        to_create=counts["create"],
        to_update=counts["update"],
        to_skip=counts["skip"],
        in_error=counts["error"],
        preview=preview,
        errors=errors[:FIRST_ERRORS],
    )


# --- start, cancel, the job -----------------------------------------------------------------------


async def start(session: AsyncSession, principal: Principal, import_id: int, body: StartIn, where: str) -> ImportOut:
    imp = await visible_import(session, principal, import_id, where, lock=True)
    _editable(imp)
    if imp.status == ImportStatus.uploaded.value:
        raise ValidationFailed("Map the columns first.", field="mapping")
    warning = await _same_file_warning(session, imp)
    if warning and not body.confirm_same_file:
        raise Conflict(f"{warning} Import it again anyway?", code="same_file", extra={"same_file_warning": warning})
    imp.status, imp.started_at, imp.error = ImportStatus.running.value, utcnow(), None
    imp.job_id = await queue.defer(session, "imports.run", import_id=imp.id)
    _announce(session, imp, "started")
    await session.flush()
    return await import_out(session, imp)


async def cancel(session: AsyncSession, principal: Principal, import_id: int, where: str) -> ImportOut:
    """Stop a running import after its current chunk; what was written stays (and can be reverted)."""
    imp = await visible_import(session, principal, import_id, where, lock=True)
    if imp.status == ImportStatus.cancelled.value:
        return await import_out(session, imp)
    if imp.status in _EDITABLE:
        imp.status, imp.finished_at = ImportStatus.cancelled.value, utcnow()
        await staging.clear(session, imp.id)
    elif imp.status == ImportStatus.running.value:
        imp.status, imp.finished_at = ImportStatus.cancelled.value, utcnow()
    else:
        raise Conflict("This import has already finished; there is nothing to cancel.")
    _announce(session, imp, "cancelled")
    return await import_out(session, imp)


def _announce(session: AsyncSession, imp: Import, action: str) -> None:
    progress = ImportProgress(
        status=ImportStatus(imp.status),
        rows_done=imp.rows_done,
        rows_total=imp.rows_total,
        created=imp.created,
        updated=imp.updated,
        skipped=imp.skipped,
        errors=imp.errors,
    )
    events.emit(
        session,
        module=MODULE,
        entity="import",
        entity_id=imp.id,
        action=action,
        actor_id=imp.created_by,
        user_id=imp.created_by,
        data=progress.model_dump(mode="json"),
    )


class _Stopped(Exception):
    pass


async def _principal(session: AsyncSession, imp: Import) -> Principal:
    user = await session.get(User, imp.created_by) if imp.created_by else None
    if user is None or not user.active:
        raise ValidationFailed("the account that started it is no longer active")
    role = await session.get(Role, user.role_id)
    principal = Principal(
        user_id=user.id, team_id=user.team_id, role_id=user.role_id, permissions=dict(role.permissions if role else {})
    )
    if not principal.can(MODULE_OF[imp.entity], "import"):
        raise ValidationFailed(f"you no longer have the permission to import {ENTITIES[imp.entity].lower()}")
    return principal


async def run(db: Database, import_id: int) -> str:
    """The job: write every row number that has no outcome yet, a chunk per transaction. The rows
    come from the dry run's staging; without it (no dry run, a choice changed since, PostgreSQL
    restarted) the file is converted into the staging first."""
    async with db.transaction() as session:
        imp = await session.get(Import, import_id)
        if imp is None or imp.status != ImportStatus.running.value:
            return "nothing to do"
        try:
            principal = await _principal(session, imp)
            look = await rows.lookups(session, imp.entity)
            staged = await staging.ready(session, imp, principal, look)
        except AppError as exc:
            return await _failed(session, import_id, exc)
        entity, mode = imp.entity, DuplicateMode(imp.duplicate_mode)
    if staged is None:
        async with db.transaction() as session:
            imp = await session.get(Import, import_id, with_for_update=True, populate_existing=True)
            if imp is None or imp.status != ImportStatus.running.value:
                return "nothing to do"
            # A second job of the same import may have staged the rows meanwhile (under this lock).
            staged = await staging.ready(session, imp, principal, look)
            if staged is None:
                try:
                    async with savepoint(session):
                        staged = await staging.stage(session, imp, principal, look)
                except AppError as exc:
                    return await _failed(session, import_id, exc)
    last = 0.0
    after = 0
    per_owner: dict[int, int] = {}
    size = chunk_rows()
    try:
        while True:
            async with db.transaction() as session:
                imp = await session.get(Import, import_id, with_for_update=True, populate_existing=True)
                if imp is None or imp.status != ImportStatus.running.value:
                    raise _Stopped
                # Read under the import's row lock: rows a second job of the same import (a worker
                # thought dead was only slow) wrote meanwhile are not read again.
                chunk = await staging.next_chunk(session, imp, staged, after, size)
                if not chunk:
                    break
                after = chunk[-1].row
                await planner.match(session, entity, chunk, mode, principal)
                counts, owners = await write_chunk(session, imp, principal, look, chunk)
                for owner, n in owners.items():
                    per_owner[owner] = per_owner.get(owner, 0) + n
                imp.rows_done += len(chunk)
                imp.created += counts["created"]
                imp.updated += counts["updated"]
                imp.skipped += counts["skipped"]
                imp.errors += counts["errors"]
                if time.monotonic() - last >= PROGRESS_SECONDS:
                    _announce(session, imp, "progress")
                    last = time.monotonic()
    except _Stopped:
        async with db.transaction() as session:
            await staging.clear(session, import_id)
        return "cancelled"
    except Exception:
        log.exception("import %s failed", import_id)
        async with db.transaction() as session:
            imp = await session.get(Import, import_id, with_for_update=True)
            if imp is not None and imp.status == ImportStatus.running.value:
                imp.status, imp.finished_at = ImportStatus.failed.value, utcnow()
                imp.error = "the server met an unexpected error; the rows written so far stay (revert removes them)"
                _announce(session, imp, "failed")
                await staging.clear(session, import_id)
        raise
    async with db.transaction() as session:
        imp = await session.get(Import, import_id, with_for_update=True)
        await staging.clear(session, import_id)
        if imp is None or imp.status != ImportStatus.running.value:
            return "cancelled"
        imp.status, imp.finished_at, imp.rows_done = ImportStatus.done.value, utcnow(), imp.rows_total
        _announce(session, imp, "done")
        await _summaries(session, imp, per_owner)
    return f"{imp.created} created, {imp.updated} updated, {imp.skipped} skipped, {imp.errors} errors"


async def _failed(session: AsyncSession, import_id: int, exc: AppError) -> str:
    imp = await session.get(Import, import_id, with_for_update=True, populate_existing=True)
    assert imp is not None
    imp.status, imp.error, imp.finished_at = ImportStatus.failed.value, exc.message, utcnow()
    _announce(session, imp, "failed")
    await staging.clear(session, import_id)
    return f"failed: {exc.message}"


async def _summaries(session: AsyncSession, imp: Import, per_owner: dict[int, int]) -> None:
    """One notification for the person who imported, and one per owner who received new leads."""
    from crm_server.activities import preferences  # the notification preferences of each person

    what = ENTITIES[imp.entity].lower()
    if imp.created_by is not None:
        await preferences.notify(
            session,
            imp.created_by,
            "import_done",
            f"Import of {what} done: {imp.file_name}",
            f"{imp.created} created, {imp.updated} updated, {imp.skipped} skipped, {imp.errors} with errors.",
            "import",
            imp.id,
        )
    for owner, n in per_owner.items():
        if owner != imp.created_by:
            await preferences.notify(
                session, owner, "lead_assigned", f"{n} new leads from an import", imp.file_name, "import", imp.id
            )


# --- keeping: old uploads removed ---------------------------------------------------------------


async def remove_old_files(session: AsyncSession) -> str:
    """Past `imports.keep_days`: a finished import keeps its history, counts and revert but not its
    file; an import never started (uploaded, mapped, dry run) is removed whole."""
    days = int(await settings.get(session, "imports.keep_days"))
    cutoff = utcnow() - timedelta(days=days)
    stripped = await session.execute(
        update(Import)
        .where(
            Import.status.not_in([*_EDITABLE, ImportStatus.running.value]),
            func.coalesce(Import.reverted_at, Import.finished_at, Import.created_at) < cutoff,
            func.length(Import.file_data) > 0,
        )
        .values(file_data=FILE_REMOVED)
    )
    dropped = await session.execute(delete(Import).where(Import.status.in_(_EDITABLE), Import.created_at < cutoff))
    await session.execute(delete(ImportStaging).where(ImportStaging.created_at < cutoff))  # a dry run never started
    return f"{rowcount(stripped)} files removed, {rowcount(dropped)} imports never started removed"


# --- reading: history, errors, error report -----------------------------------------------------


async def history(
    session: AsyncSession, principal: Principal, entity: str | None, offset: int, limit: int
) -> Page[ImportOut]:
    mine = [e for e in ENTITIES if principal.can(MODULE_OF[e], "import") and (entity is None or e == entity)]
    query = select(Import).where(Import.entity.in_(mine))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = (await session.scalars(query.order_by(Import.id.desc()).offset(offset).limit(limit))).all()
    names = await _names(session, {i.created_by for i in items if i.created_by})
    return Page[ImportOut](
        items=[await import_out(session, i, names) for i in items], total=total, offset=offset, limit=limit
    )


async def _all_errors(
    session: AsyncSession, imp: Import, principal: Principal
) -> list[tuple[int, list[ImportErrorRow]]]:
    """(row, its errors) for every failed row: recorded by the import, or checked now before it ran."""
    if imp.status in _EDITABLE:
        plan = await planner.build(session, imp, principal)
        await planner.match(session, imp.entity, plan.rows, DuplicateMode(imp.duplicate_mode), principal)
        return [(c.row, _problems(c)) for c in plan.rows if c.problems]
    found = (
        await session.execute(
            select(ImportRow.row, ImportRow.errors)
            .where(ImportRow.import_id == imp.id, ImportRow.kind == "error")
            .order_by(ImportRow.row)
        )
    ).all()
    return [
        (
            row,
            [ImportErrorRow(row=row, column=e.get("column"), error=e["error"], reason=e["reason"]) for e in errs or []],
        )
        for row, errs in found
    ]


async def errors_page(
    session: AsyncSession, principal: Principal, import_id: int, offset: int, limit: int, where: str
) -> Page[ImportErrorRow]:
    imp = await visible_import(session, principal, import_id, where)
    flat = [e for _row, errs in await _all_errors(session, imp, principal) for e in errs]
    return Page[ImportErrorRow](items=flat[offset : offset + limit], total=len(flat), offset=offset, limit=limit)


async def error_report(session: AsyncSession, principal: Principal, import_id: int, where: str) -> tuple[str, bytes]:
    """The failed rows exactly as they were in the file, plus an "Error" column, as .xlsx: fixed, it
    can be uploaded again. Text that looks like a formula stays text."""
    from openpyxl import Workbook

    imp = await visible_import(session, principal, import_id, where)
    failed = dict(await _all_errors(session, imp, principal))
    sheet, data_rows = await asyncio.to_thread(
        readers.open_sheet, await file_of(session, imp), imp.file_name, imp.sheet
    )
    book = Workbook(write_only=True)
    out = book.create_sheet("Errors")
    out.append(spreadsheet.xlsx_row(out, [*sheet.headers, "Error"]))
    for number, cells in data_rows:
        if number in failed:
            words = "; ".join(
                f"{e.error.value}" + (f" ({e.column})" if e.column else "") + f": {e.reason}" for e in failed[number]
            )
            out.append(spreadsheet.xlsx_row(out, [*cells, words]))
    buffer = io.BytesIO()
    book.save(buffer)
    stem = imp.file_name.rsplit(".", 1)[0]
    return f"{stem}-errors.xlsx", buffer.getvalue()


# --- revert ---------------------------------------------------------------------------------------


async def revert(session: AsyncSession, principal: Principal, import_id: int, where: str) -> RevertOut:
    """Archive what the import created and put back the previous values of what it changed; a record
    someone changed since the import (its version moved on) is left alone and listed."""
    imp = await visible_import(session, principal, import_id, where, lock=True)
    if imp.status == ImportStatus.reverted.value:
        raise Conflict("This import was reverted already.")
    if imp.status not in (ImportStatus.done.value, ImportStatus.cancelled.value, ImportStatus.failed.value):
        raise Conflict("Only a finished import can be reverted; cancel it first if it is running.")
    entity = imp.entity
    table = TABLES[entity]
    outcome_rows = (
        await session.scalars(
            select(ImportRow)
            .where(ImportRow.import_id == imp.id, ImportRow.kind.in_(("created", "updated")))
            .order_by(ImportRow.row)
        )
    ).all()
    ids = [r.record_id for r in outcome_rows if r.record_id is not None]
    records = {r.id: r for r in (await session.scalars(select(table).where(table.id.in_(ids)).with_for_update())).all()}
    archived = restored = 0
    left: list[RevertLeftAlone] = []
    audits: list[dict[str, Any]] = []
    now = utcnow()
    for outcome in outcome_rows:
        record = records.get(outcome.record_id) if outcome.record_id is not None else None
        if record is None:
            continue
        if record.version != outcome.version:
            left.append(await _left_alone(session, entity, record, imp))
            continue
        if outcome.kind == "created":
            if entity == "products":
                record.active = False
            elif entity == "contacts":
                await session.delete(record)
            else:
                record.archived_at = now
            archived += 1
            audits.append(
                _audit(imp, principal, entity, record.id, "archived", [{"field": "import", "old": imp.id, "new": None}])
            )
        else:
            changes = []
            for name, old in (outcome.before or {}).items():
                value = _typed(table, name, old)
                changes.append({"field": name, "old": plain(getattr(record, name)), "new": old})
                setattr(record, name, value)
            restored += 1
            audits.append(_audit(imp, principal, entity, record.id, "updated", changes))
    if entity == "clients":  # the contacts it brought, to the clients it archived or put back, unedited since
        left_ids = {x.record_id for x in left}
        await session.execute(
            delete(Contact).where(
                Contact.import_batch_id == imp.id,
                Contact.client_id.in_([r for r in records if r not in left_ids]),
                Contact.version == 1,
            )
        )
    await session.flush()
    if entity == "products":
        left += await _take_back_opening_stock(session, principal, imp, {x.record_id for x in left})
    if audits:
        await session.execute(insert(AuditEntry), audits)
    imp.status, imp.reverted_at = ImportStatus.reverted.value, now
    _announce(session, imp, "reverted")
    touched = {(getattr(r, "owner_id", None), getattr(r, "team_id", None)) for r in records.values()}
    for owner_of, team_of in sorted(touched, key=str):  # the lists showing these records reload
        events.emit(
            session,
            module=MODULE_OF[entity],
            entity="import",
            entity_id=imp.id,
            action="reverted",
            actor_id=principal.user_id,
            owner_id=owner_of,
            team_id=team_of,
            data={"entity": entity},
        )
    return RevertOut(item=await import_out(session, imp), archived=archived, restored=restored, left_alone=left)


async def _take_back_opening_stock(
    session: AsyncSession, principal: Principal, imp: Import, kept: set[int]
) -> list[RevertLeftAlone]:
    """The opening stock receipts of the import reversed (each in a savepoint: goods already sold
    cannot be taken back, and that receipt is listed instead); a receipt holding a product that was
    left alone stays too."""
    left: list[RevertLeftAlone] = []
    documents = (
        await session.scalars(
            select(StockDocument).where(
                StockDocument.source_type == "import",
                StockDocument.source_id == imp.id,
                StockDocument.status == DocumentStatus.validated.value,
            )
        )
    ).all()
    for document in documents:
        products = set(
            (
                await session.scalars(
                    select(StockDocumentLine.product_id).where(StockDocumentLine.document_id == document.id)
                )
            ).all()
        )
        if products & kept:
            left.append(
                RevertLeftAlone(entity="stock_document", record_id=document.id, label=document.number,
                                reason="it holds the opening stock of a product changed since the import")
            )  # fmt: skip
            continue
        try:
            async with savepoint(session):
                await stock_service.reverse_document(session, principal, document.id, document.version)
        except AppError as exc:
            left.append(
                RevertLeftAlone(entity="stock_document", record_id=document.id, label=document.number,
                                reason=f"its opening stock could not be taken back: {exc.message}")
            )  # fmt: skip
    return left


def _audit(
    imp: Import, principal: Principal, entity: str, record_id: int, action: str, changes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "actor_id": principal.user_id,
        "entity": AUDIT_ENTITY[entity],
        "entity_id": record_id,
        "action": action,
        "changes": [{"field": "reverted import", "old": None, "new": imp.id}, *changes],
    }


def _typed(table: Any, name: str, value: Any) -> Any:
    """A value kept as JSON back in the column's Python type (Decimal, date)."""
    if value is None:
        return None
    kind = getattr(table, name).type.python_type
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is Decimal:
        return Decimal(value)
    return value


async def _left_alone(session: AsyncSession, entity: str, record: Any, imp: Import) -> RevertLeftAlone:
    label = getattr(record, "person_name", None) or getattr(record, "name", None) or f"#{record.id}"
    last = (
        await session.execute(
            select(AuditEntry.at, User.full_name)
            .outerjoin(User, User.id == AuditEntry.actor_id)
            .where(AuditEntry.entity == AUDIT_ENTITY[entity], AuditEntry.entity_id == record.id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(1)
        )
    ).first()
    if last is not None and imp.finished_at is not None and last[0] > imp.finished_at:
        reason = f"changed by {last[1] or 'someone'} on {last[0].day} {last[0]:%b %Y} after the import"
    else:
        reason = "changed since the import"
    return RevertLeftAlone(entity=AUDIT_ENTITY[entity], record_id=record.id, label=str(label), reason=reason)

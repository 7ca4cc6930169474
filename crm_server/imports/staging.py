"""The dry run's converted rows kept for the commit (issue #19: one pass over the file).

The dry run converts the file in chunks and writes each row's values and the problems found in the
file (conversion, within-file duplicates, owners in reach) to import_staged_rows, under a signature
of everything the conversion depended on: the file, sheet, mapping, choices, the importer and the
lookups (statuses, sources, owners, settings). The job reads them back in chunks when the signature
is the same; otherwise (mapping changed, a status renamed, PostgreSQL crashed and emptied the
UNLOGGED tables, a contacts import whose clients must be found again) it converts the file again into
the same tables first. Duplicates against the CRM are always matched again at commit, per chunk."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.permissions import Principal
from crm_server.contract.imports import ErrorName
from crm_server.db import driver_connection
from crm_server.imports import plan as planner
from crm_server.imports import rows
from crm_server.imports.models import Import, ImportStaging
from crm_server.imports.rows import STOCK_PREFIX, Converted, Lookups, Problem

STAGE_ROWS = 5000  # rows converted, checked and written to the staging per step
_DECIMALS = ("value", "unit_price")
_PAIRS = ("status", "owner")


def signature(imp: Import, principal: Principal, look: Lookups) -> str:
    """What the converted rows depend on: another value, and they are converted again."""
    given = [
        imp.entity,
        imp.file_hash,
        imp.sheet,
        imp.mapping,
        imp.winners,
        imp.duplicate_mode,
        imp.owner_id,
        [principal.user_id, principal.team_id, principal.role_id, principal.permissions],
        {f.name: getattr(look, f.name) for f in dataclasses.fields(look) if f.compare},
    ]
    return hashlib.sha256(json.dumps(given, sort_keys=True, default=str).encode()).hexdigest()


def _decoder(name: str) -> Callable[[Any], Any] | None:
    """How a field's JSON value becomes its value again (None: as it is)."""
    if name in _DECIMALS or name.startswith(STOCK_PREFIX):
        return Decimal
    if name == "expected_close_date":
        return date.fromisoformat
    if name in _PAIRS:
        return tuple
    return None


_DECODERS: dict[str, Callable[[Any], Any] | None] = {}


def _typed(name: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        decode = _DECODERS[name]
    except KeyError:
        decode = _DECODERS[name] = _decoder(name)
    return value if decode is None else decode(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not kept in the staging")


_encode = json.JSONEncoder(default=_json_default, ensure_ascii=False, separators=(",", ":")).encode


def staged_row(import_id: int, c: Converted) -> tuple[int, int, str, str | None]:
    """The row as the staging's COPY takes it: its values and its problems as JSON text (one
    encoding a row; tuples become lists, amounts and days text)."""
    problems = [[p.column, p.error.value, p.reason] for p in c.problems]
    return import_id, c.row, _encode(c.values), _encode(problems) if problems else None


async def _copy(session: AsyncSession, staged: list[tuple[int, int, str, str | None]]) -> None:
    driver = await driver_connection(session)
    statement = "COPY import_staged_rows (import_id, row, data, problems) FROM STDIN"
    async with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for values in staged:
            await copy.write_row(values)


def converted(entity: str, row: int, data: dict[str, Any], problems: Any, key_columns: dict[str, str]) -> Converted:
    """A staged row back as the planner left it after the file's checks (before the CRM match)."""
    for name, value in data.items():  # the JSON's own dict becomes the values (typed in place)
        if value is not None and type(value) is not bool and type(value) is not int:
            typed = _typed(name, value)
            if typed is not value:
                data[name] = typed
    out = Converted(row=row, values=data, key_columns=key_columns)
    if problems:
        out.problems = [Problem(column, ErrorName(error), reason) for column, error, reason in problems]
        out.action = "error"
    rows.keys_of(entity, out)
    return out


async def clear(session: AsyncSession, import_id: int) -> None:
    await session.execute(delete(ImportStaging).where(ImportStaging.import_id == import_id))


async def ready(session: AsyncSession, imp: Import, principal: Principal, look: Lookups) -> ImportStaging | None:
    """The staging of the import when it holds its rows for this signature (contacts: never, their
    clients are found again at commit)."""
    if imp.entity == "contacts":
        return None
    staged = await session.get(ImportStaging, imp.id, populate_existing=True)
    if staged is None or staged.signature != signature(imp, principal, look):
        return None
    return staged


OnChunk = Callable[[list[Converted]], Awaitable[None]]


async def stage(
    session: AsyncSession, imp: Import, principal: Principal, look: Lookups, on_chunk: OnChunk | None = None
) -> ImportStaging:
    """Convert the file into the staging, chunk by chunk (`on_chunk` sees each chunk before it is
    written: the dry run matches it against the CRM). Its `rows` says how many there are."""
    await clear(session, imp.id)
    prep = await planner.prepare(session, imp, look)
    staging = ImportStaging(
        import_id=imp.id, signature=signature(imp, principal, prep.look), key_columns=prep.key_columns, rows=0
    )
    session.add(staging)
    await session.flush()
    count = 0
    async for chunk in planner.chunks(session, imp, principal, prep, STAGE_ROWS):
        if on_chunk is not None:
            # What the chunk's look at the CRM decides is not kept: the commit matches again.
            before = [(len(c.problems), c.action) for c in chunk]
            await on_chunk(chunk)
            for c, (n, action) in zip(chunk, before, strict=True):
                del c.problems[n:]
                c.action, c.record_id = action, None
        await _copy(session, [staged_row(imp.id, c) for c in chunk])
        count += len(chunk)
    staging.rows = count
    await session.flush()
    return staging


async def next_chunk(
    session: AsyncSession, imp: Import, staged: ImportStaging, after: int, size: int
) -> list[Converted]:
    """The next `size` staged rows after row `after` that have no outcome yet (read under the
    import's row lock: a second job of the same import cannot have written them meanwhile)."""
    found = await session.execute(
        text(
            "SELECT s.row, s.data, s.problems FROM import_staged_rows s WHERE s.import_id = :i AND s.row > :after"
            " AND NOT EXISTS (SELECT 1 FROM import_rows r"
            " WHERE r.import_id = s.import_id AND r.row = s.row AND r.row > :after)"
            " ORDER BY s.row LIMIT :n"
        ),
        {"i": imp.id, "after": after, "n": size},
    )
    key_columns = dict(staged.key_columns or {})
    return [converted(imp.entity, row, data, problems, key_columns) for row, data, problems in found.all()]

"""What an import will do with each row, decided by the same code for the dry run and the real import:
the file read and its rows converted (rows.py), duplicates found within the file and against the CRM
(set-based: one query per key kind per chunk of rows, each an index lookup), and each row given its
action: create, update (fill empty fields or overwrite), skip, or error."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.permissions import Principal
from crm_server.clients import normalise
from crm_server.clients.models import Client, Contact
from crm_server.contract.imports import MODULE_OF, DuplicateMode, ErrorName, TemplateField
from crm_server.errors import ValidationFailed
from crm_server.imports import readers, rows
from crm_server.imports.models import Import, file_of
from crm_server.imports.rows import KEY_WORDS, Converted, Lookups, Problem
from crm_server.leads.models import Lead
from crm_server.products.models import Product

MATCH_CHUNK = 5000
BUILD_CHUNK = 10000
# Keys that may never be shared by two records (a unique index): a twin is an error even in "create".
STRICT_KEYS = {"vat", "sku"}


@dataclass
class Plan:
    sheet: readers.Sheet
    look: Lookups
    fields: list[TemplateField]
    columns: dict[str, int]  # field -> column index
    rows: list[Converted]


def resolve_columns(
    headers: list[str], mapping: dict[str, Any], winners: dict[str, Any], fields: list[TemplateField]
) -> dict[str, int]:
    """field -> column index; two columns on one field are refused ("Duplicate Header") unless a
    winner is named for it; a field name that does not exist is refused too."""
    known = {f.name for f in fields}
    by_field: dict[str, list[str]] = {}
    for header, name in mapping.items():
        if name is None or header not in headers:
            continue
        if name not in known:
            raise ValidationFailed(f"There is no field {name!r} to import into.", field=f"mapping.{header}")
        by_field.setdefault(name, []).append(header)
    columns: dict[str, int] = {}
    for name, given in by_field.items():
        if len(given) > 1:
            winner = winners.get(name)
            if winner not in given:
                raise ValidationFailed(
                    f"Duplicate Header: the columns {', '.join(repr(h) for h in given)} are all mapped to {name}; "
                    "map one of them, or say which one wins.",
                    field=f"mapping.{given[1]}",
                    code="duplicate_header",
                    extra={"error": ErrorName.duplicate_header.value, "columns": given, "field_name": name},
                )
            given = [winner]
        columns[name] = headers.index(given[0])
    return columns


@dataclass
class Prepared:
    """An import's file read and what its rows are converted with (the cells are given out in chunks)."""

    sheet: readers.Sheet
    look: Lookups
    fields: list[TemplateField]
    columns: dict[str, int]
    required: list[str]
    key_columns: dict[str, str]
    # Within-file duplicates: (key kind, value) -> the first row that has it, carried across chunks.
    seen: dict[tuple[str, str], int]
    data_rows: Iterator[tuple[int, list[Any]]]  # the sheet's rows, read as they are converted


async def prepare(session: AsyncSession, imp: Import, look: Lookups | None = None) -> Prepared:
    sheet, data_rows = await asyncio.to_thread(
        readers.open_sheet, await file_of(session, imp), imp.file_name, imp.sheet
    )
    look = look or await rows.lookups(session, imp.entity)
    fields = rows.fields_of(imp.entity, look)
    columns = resolve_columns(sheet.headers, dict(imp.mapping or {}), dict(imp.winners or {}), fields)
    return Prepared(
        sheet=sheet,
        look=look,
        fields=fields,
        columns=columns,
        required=rows.required_of(fields),
        key_columns=rows.key_columns_of(sheet.headers, columns),
        seen={},
        data_rows=data_rows,
    )


async def chunks(
    session: AsyncSession, imp: Import, principal: Principal, prep: Prepared, size: int
) -> AsyncIterator[list[Converted]]:
    """The file's rows read, converted and checked within the file, `size` rows at a time, in row
    order (a large file is never held whole: neither its cells nor its converted rows)."""
    entity, headers, look = imp.entity, prep.sheet.headers, prep.look
    mode = DuplicateMode(imp.duplicate_mode)

    def work() -> list[Converted]:
        return [
            rows.convert(entity, look, headers, prep.columns, prep.required, n, cells, prep.key_columns)
            for n, cells in itertools.islice(prep.data_rows, size)
        ]

    while True:
        converted = await asyncio.to_thread(work) if prep.sheet.count > 2000 else work()
        if not converted:
            break
        if entity == "contacts":
            column = headers[prep.columns["client"]] if "client" in prep.columns else None
            await _resolve_clients(session, converted, column)
        if "owner" in prep.columns:
            _owners_in_reach(converted, principal, MODULE_OF[entity], headers[prep.columns["owner"]], look)
        _within_file(converted, mode, prep.seen)
        yield converted


async def build(session: AsyncSession, imp: Import, principal: Principal) -> Plan:
    """The whole file planned at once (the error list of an import not started yet)."""
    prep = await prepare(session, imp)
    converted = [c async for part in chunks(session, imp, principal, prep, BUILD_CHUNK) for c in part]
    return Plan(sheet=prep.sheet, look=prep.look, fields=prep.fields, columns=prep.columns, rows=converted)


async def _resolve_clients(session: AsyncSession, converted: list[Converted], column: str | None) -> None:
    """A contact's client, named by its VAT number or its exact name (one query for the whole file)."""
    wanted = {c.values["client"] for c in converted if c.values.get("client")}
    vats = {v for v in (normalise.vat_key(w) for w in wanted) if v}
    names = {normalise.name_key(w) for w in wanted}
    found = (
        await session.execute(
            select(Client.id, Client.vat_key, Client.name_key).where(
                Client.archived_at.is_(None), or_(Client.vat_key.in_(vats), Client.name_key.in_(names))
            )
        )
    ).all()
    by_vat = {vat: cid for cid, vat, _n in found if vat}
    by_name: dict[str, list[int]] = {}
    for cid, _v, name in found:
        by_name.setdefault(name, []).append(cid)
    for c in converted:
        ref = c.values.get("client")
        if not ref:
            continue
        vat = normalise.vat_key(ref)
        if vat and vat in by_vat:
            c.values["client_id"] = by_vat[vat]
            continue
        named = by_name.get(normalise.name_key(ref), [])
        if len(named) == 1:
            c.values["client_id"] = named[0]
        elif named:
            c.problems.append(
                Problem(column, ErrorName.unknown_value, f"{len(named)} clients are named {ref!r}: use its VAT number")
            )
            c.action = "error"
        else:
            c.problems.append(Problem(column, ErrorName.unknown_value, f"there is no client {ref!r}"))
            c.action = "error"


def _owners_in_reach(converted: list[Converted], principal: Principal, module: str, column: str, look: Lookups) -> None:
    """An owner named in a row must be one the importer may give records to (their scope)."""
    if principal.scope(module).value == "all":
        return
    emails = {uid: email for email, (uid, _team) in look.owners.items()}
    for c in converted:
        owner = c.values.get("owner")
        if owner and not principal.reaches(module, owner[0], owner[1]):
            c.problems.append(
                Problem(column, ErrorName.unknown_value, f"you cannot give records to {emails.get(owner[0], owner[0])}")
            )
            c.action = "error"


def _within_file(converted: list[Converted], mode: DuplicateMode, seen: dict[tuple[str, str], int]) -> None:
    """A row whose e-mail, phone, VAT or SKU an earlier row of the file already has is a Duplicate
    Record (in "create anyway" only VAT and SKU, which two records may never share). `seen` holds
    the keys of the earlier rows (of earlier chunks too)."""
    for c in converted:
        if c.action == "error":
            continue
        for kind, value in c.keys.items():
            first = seen.get((kind, value))
            if first is None:
                continue
            if mode is DuplicateMode.create and kind not in STRICT_KEYS:
                continue
            c.problems.append(
                Problem(
                    c.key_columns.get(kind),
                    ErrorName.duplicate_record,
                    f"the same {KEY_WORDS[kind]} as row {first} ({value})",
                )
            )
            c.action = "error"
            break
        if c.action != "error":
            for kind, value in c.keys.items():
                seen.setdefault((kind, value), c.row)


def _queries(entity: str) -> dict[str, Any]:
    """Key kind -> (id column, key expression, extra conditions) of the records a key matches."""
    if entity == "leads":
        lead_live = (Lead.archived_at.is_(None), Lead.merged_into_id.is_(None))
        return {"email": (Lead.id, func.lower(Lead.email), lead_live), "phone": (Lead.id, Lead.phone, lead_live)}
    if entity == "clients":
        live = (Client.archived_at.is_(None),)
        return {
            "vat": (Client.id, Client.vat_key, ()),  # unique, archived ones included
            "email": (Client.id, func.lower(Client.email), live),
            "phone": (Client.id, Client.phone, live),
        }
    if entity == "contacts":
        return {"email": (Contact.id, func.lower(Contact.email), ()), "phone": (Contact.id, Contact.phone, ())}
    return {"sku": (Product.id, func.lower(Product.sku), ())}


async def match(
    session: AsyncSession, entity: str, batch: Iterable[Converted], mode: DuplicateMode, principal: Principal
) -> None:
    """Each row's twins in the CRM decide its action: none -> create; one -> skip / update / create by
    the import's mode; two different records -> a Duplicate Record error, not a guess. A twin the
    importer may not see (their record scope) is not updated: the row is a Duplicate Record error."""
    batch = list(batch)
    await _match(session, entity, batch, mode)
    module = MODULE_OF[entity]
    if entity not in ("leads", "clients") or principal.scope(module).value == "all":
        return
    table = Lead if entity == "leads" else Client
    updates = [c for c in batch if c.action == "update" and c.record_id is not None]
    if not updates:
        return
    found = await session.execute(
        select(table.id, table.owner_id, table.team_id).where(table.id.in_([c.record_id for c in updates]))
    )
    out_of_reach = {rid for rid, owner, team in found.all() if not principal.sees(module, owner, team)}
    for c in updates:
        if c.record_id in out_of_reach:
            c.problems.append(
                Problem(
                    ", ".join(c.key_columns.values()) or None,
                    ErrorName.duplicate_record,
                    "it matches a record outside the records you may change",
                )
            )
            c.action, c.record_id = "error", None


async def _match(session: AsyncSession, entity: str, batch: list[Converted], mode: DuplicateMode) -> None:
    todo = [c for c in batch if c.action != "error"]
    queries = _queries(entity)
    hits: dict[tuple[str, str], set[int]] = {}
    for kind, (id_col, key_expr, conditions) in queries.items():
        values = sorted({c.keys[kind] for c in todo if kind in c.keys})
        for start in range(0, len(values), MATCH_CHUNK):
            part = values[start : start + MATCH_CHUNK]
            # One array parameter (= ANY): an index lookup each, without 5,000 parameters to render.
            wanted = bindparam("keys", part, type_=ARRAY(String))
            found = await session.execute(select(id_col, key_expr).where(key_expr == any_(wanted), *conditions))
            for rid, value in found.all():
                hits.setdefault((kind, value), set()).add(int(rid))
    for c in todo:
        twins: set[int] = set()
        strict = False
        matched_columns: list[str] = []
        for kind, value in c.keys.items():
            ids = hits.get((kind, value), set())
            twins |= ids
            if ids and kind in c.key_columns:
                matched_columns.append(c.key_columns[kind])
            strict = strict or (bool(ids) and kind in STRICT_KEYS)
        if not twins:
            c.action, c.record_id = "create", None
        elif len(twins) > 1:
            listed = ", ".join(f"#{i}" for i in sorted(twins)[:5])
            c.problems.append(
                Problem(
                    ", ".join(matched_columns) or None,
                    ErrorName.duplicate_record,
                    f"it matches {len(twins)} records ({listed}): not a guess",
                )
            )
            c.action = "error"
        else:
            (twin,) = twins
            if mode is DuplicateMode.skip:
                c.action, c.record_id = "skip", twin
            elif mode is DuplicateMode.create:
                if strict:
                    kind = next(k for k in c.keys if k in STRICT_KEYS)
                    c.problems.append(
                        Problem(
                            c.key_columns.get(kind),
                            ErrorName.duplicate_record,
                            f"record #{twin} already has this {KEY_WORDS[kind]}",
                        )
                    )
                    c.action = "error"
                else:
                    c.action, c.record_id = "create", None
            else:
                c.action, c.record_id = "update", twin

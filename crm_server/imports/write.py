"""Writing one chunk of planned rows: new records in one multi-row INSERT per table, updates of the
matched records (fill empty fields or overwrite), audit rows in bulk, and the outcome of every row
number, all in the chunk's transaction."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin.models import AuditEntry
from crm_server.auth.permissions import Principal
from crm_server.clients import normalise
from crm_server.clients.models import Client, Contact
from crm_server.contract.imports import MODULE_OF, DuplicateMode
from crm_server.contract.stock import DocumentKind, DocumentLineIn, StockDocumentIn
from crm_server.db import copy_rows
from crm_server.imports.models import Import, ImportRow
from crm_server.imports.rows import STOCK_PREFIX, Converted, Lookups
from crm_server.leads import assignment
from crm_server.leads.models import Lead
from crm_server.products.models import Product
from crm_server.stock import service as stock_service

TABLES: dict[str, Any] = {"leads": Lead, "clients": Client, "contacts": Contact, "products": Product}
_NOT_AUDITED = ("import_batch_id", "created_by", "reached_status_ids")
AUDIT_ENTITY = {"leads": "lead", "clients": "client", "contacts": "contact", "products": "product"}
# The fields an update may change, per entity (what a row's value becomes on the record).
UPDATABLE: dict[str, tuple[str, ...]] = {
    # A lead's status is not changed by an import (moving it has rules: lost reasons, conversion).
    "leads": ("person_name", "company", "email", "phone", "source", "owner_id", "team_id", "value",
              "currency", "expected_close_date", "territory", "product_interest", "tags"),
    "clients": ("name", "vat_number", "vat_key", "email", "phone", "address", "website", "owner_id", "team_id"),
    "contacts": ("client_id", "name", "email", "phone", "position"),
    "products": ("sku", "name", "description", "unit", "unit_price", "currency", "tax_rate_id", "stock_tracked"),
}  # fmt: skip


def plain(value: Any) -> Any:
    if type(value) is str:  # most values: no further checks
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def record_values(entity: str, c: Converted, look: Lookups) -> dict[str, Any]:
    """The row's values under the record's column names (only what the row gives)."""
    v = c.values
    out: dict[str, Any] = {}
    if entity == "leads":
        for name in ("person_name", "company", "email", "phone", "source", "value", "currency",
                     "expected_close_date", "territory", "product_interest", "tags"):  # fmt: skip
            if v.get(name) not in (None, []):
                out[name] = v[name]
        if v.get("status"):
            out["status_id"] = v["status"][0]
        if v.get("owner"):
            out["owner_id"], out["team_id"] = v["owner"]
    elif entity == "clients":
        for name in ("name", "vat_number", "email", "phone", "address", "website"):
            if v.get(name) is not None:
                out[name] = v[name]
        if v.get("vat_number"):
            out["vat_key"] = normalise.vat_key(v["vat_number"])
        if v.get("owner"):
            out["owner_id"], out["team_id"] = v["owner"]
    elif entity == "contacts":
        for name in ("client_id", "name", "email", "phone", "position"):
            if v.get(name) is not None:
                out[name] = v[name]
    else:
        for name in ("sku", "name", "description", "unit", "unit_price", "currency", "stock_tracked"):
            if v.get(name) is not None:
                out[name] = v[name]
        if v.get("vat_rate") is not None:
            out["tax_rate_id"] = v["vat_rate"]
        if any(v.get(k) for k in v if k.startswith(STOCK_PREFIX)) and v.get("stock_tracked") is None:
            out["stock_tracked"] = True  # opening stock given: the product's stock is tracked
    return out


async def _new_lead_owners(
    session: AsyncSession, imp: Import, principal: Principal, chunk_values: list[dict[str, Any]], look: Lookups
) -> None:
    """Owner and team of the chunk's new leads: the row's owner, else the import's chosen owner, else
    (an importer who sees only their own leads keeps them) the assignment rules, all the chunk's
    leads at once; no rule for a lead: whoever imported it keeps it, as when typing it in."""
    ruled: list[dict[str, Any]] = []
    chosen_team = _team_of(look, imp.owner_id) if imp.owner_id is not None else None
    own = principal.scope("leads").value == "own"
    for values in chunk_values:
        if "owner_id" in values:
            values["team_id"] = values.get("team_id")
        elif imp.owner_id is not None:
            values["owner_id"], values["team_id"] = imp.owner_id, chosen_team
        elif own:
            values["owner_id"], values["team_id"] = principal.user_id, principal.team_id
        else:
            ruled.append(values)
    if not ruled:
        return
    chosen = await assignment.choose_owners(
        session, [(v.get("source"), v.get("territory"), v.get("product_interest")) for v in ruled]
    )
    for values, (owner, team) in zip(ruled, chosen, strict=True):
        if owner is None:
            owner, team = principal.user_id, principal.team_id
        values["owner_id"], values["team_id"] = owner, team


def _team_of(look: Lookups, user_id: int) -> int | None:
    return next((team for uid, team in look.owners.values() if uid == user_id), None)


async def write_chunk(
    session: AsyncSession, imp: Import, principal: Principal, look: Lookups, chunk: list[Converted]
) -> tuple[Counter[str], dict[int, int]]:
    """Write the chunk's rows; returns the counts by outcome and, for leads, new leads per owner."""
    entity = imp.entity
    table = TABLES[entity]
    counts: Counter[str] = Counter()
    per_owner: Counter[int] = Counter()
    outcomes: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    creates = [c for c in chunk if c.action == "create"]
    new_rows: list[dict[str, Any]] = []
    for c in creates:
        values = record_values(entity, c, look)
        values["import_batch_id"] = imp.id
        if entity == "leads":
            values.setdefault("status_id", look.first_status_id)
            values["pipeline_id"] = look.pipeline_id
            if values.get("value") is not None and not values.get("currency"):
                values["currency"] = look.default_currency
            values.setdefault("tags", [])
            values["created_by"] = imp.created_by
        elif entity == "clients":
            if "owner_id" not in values:
                owner = imp.owner_id if imp.owner_id is not None else principal.user_id
                values["owner_id"], values["team_id"] = owner, _team_of(look, owner)
            values["created_by"] = imp.created_by
        elif entity == "products":
            values.setdefault("unit", "pcs")
            values.setdefault("currency", look.base_currency)
            values.setdefault("tax_rate_id", look.default_tax_rate_id)
            values.setdefault("stock_tracked", False)
            values["active"] = True
            values["created_by"] = imp.created_by
        new_rows.append(values)
    if new_rows:
        if entity == "leads":
            await _new_lead_owners(session, imp, principal, new_rows, look)
            for r in new_rows:
                r["tags"] = r.get("tags") or []
                # What the row trigger leads_status_kept would compute for a new lead, given: the
                # trigger then has nothing to do (no array built per row).
                r["reached_status_ids"] = [r["status_id"]]
        ids = await copy_rows(session, table, new_rows, with_ids=True)
        made = [(rid, 1) for rid in ids]  # a new record's version is 1
        for c, values, (rid, version) in zip(creates, new_rows, made, strict=True):
            c.record_id = int(rid)
            counts["created"] += 1
            if entity == "leads" and values.get("owner_id") is not None:
                per_owner[values["owner_id"]] += 1
            outcomes.append({"import_id": imp.id, "row": c.row, "kind": "created", "record_id": rid,
                             "version": version, "before": None, "errors": None})  # fmt: skip
            audits.append({"actor_id": imp.created_by, "entity": AUDIT_ENTITY[entity], "entity_id": rid,
                           "action": "created",
                           "changes": [{"field": "import", "old": None, "new": imp.id}]
                           + [{"field": k, "old": None, "new": plain(v)} for k, v in values.items()
                              if k not in _NOT_AUDITED and v not in (None, [])]})  # fmt: skip
        if entity == "clients":
            await _contacts_of_new_clients(session, imp, creates)
        if entity == "products":
            await _opening_stock(session, imp, principal, look, creates)
    updates = [c for c in chunk if c.action == "update" and c.record_id is not None]
    changed: list[Any] = []
    if updates:
        records = {
            r.id: r
            for r in (
                await session.scalars(
                    select(table).where(table.id.in_([c.record_id for c in updates])).with_for_update()
                )
            ).all()
        }
        overwrite = imp.duplicate_mode == DuplicateMode.overwrite.value
        for c in updates:
            record = records.get(c.record_id)
            if record is None:  # removed since it was matched: nothing to update
                c.action = "skip"
                continue
            given = record_values(entity, c, look)
            before: dict[str, Any] = {}
            for name in UPDATABLE[entity]:
                if name not in given:
                    continue
                old = getattr(record, name)
                empty = old in (None, "", [])
                if (overwrite or empty) and old != given[name]:
                    before[name] = plain(old)
                    setattr(record, name, given[name])
            added = entity == "clients" and await _contact_of_updated_client(session, imp, record.id, c)
            if not before and not added:
                c.action = "skip"
                continue
            before["import_batch_id"] = record.import_batch_id
            record.import_batch_id = imp.id
            await session.flush()
            changed.append(record)
            counts["updated"] += 1
            outcomes.append({"import_id": imp.id, "row": c.row, "kind": "updated", "record_id": record.id,
                             "version": record.version, "before": before, "errors": None})  # fmt: skip
            audits.append({"actor_id": imp.created_by, "entity": AUDIT_ENTITY[entity], "entity_id": record.id,
                           "action": "updated",
                           "changes": [{"field": "import", "old": None, "new": imp.id}]
                           + [{"field": k, "old": v, "new": plain(getattr(record, k))} for k, v in before.items()
                              if k != "import_batch_id"]})  # fmt: skip
    for c in chunk:
        if c.action == "skip":
            counts["skipped"] += 1
            outcomes.append({"import_id": imp.id, "row": c.row, "kind": "skipped", "record_id": c.record_id,
                             "version": None, "before": None, "errors": None})  # fmt: skip
        elif c.action == "error":
            counts["errors"] += 1
            outcomes.append({"import_id": imp.id, "row": c.row, "kind": "error", "record_id": None,
                             "version": None, "before": None,
                             "errors": [{"column": p.column, "error": p.error.value, "reason": p.reason}
                                        for p in c.problems]})  # fmt: skip
    # The lists showing these records reload: one event per owner and team the chunk touched.
    touched = {(r.get("owner_id"), r.get("team_id")) for r in new_rows}
    touched |= {(getattr(r, "owner_id", None), getattr(r, "team_id", None)) for r in changed}
    for owner_of, team_of in sorted(touched, key=str):
        events.emit(
            session,
            module=MODULE_OF[entity],
            entity="import",
            entity_id=imp.id,
            action="imported",
            actor_id=imp.created_by,
            owner_id=owner_of,
            team_id=team_of,
            data={"entity": entity},
        )
    if outcomes:
        await copy_rows(session, ImportRow, outcomes)
    if audits:
        await copy_rows(session, AuditEntry, audits)
    return counts, dict(per_owner)


async def _contact_of_updated_client(session: AsyncSession, imp: Import, client_id: int, c: Converted) -> bool:
    """The row's contact joins the client it updates, unless the client has them already (same
    e-mail, or same name). Revert removes it again while nobody has edited it."""
    v = c.values
    name, email = v.get("contact_name"), v.get("contact_email")
    if not name:
        return False
    same = func.lower(Contact.name) == name.lower()
    if email:
        same = or_(same, func.lower(Contact.email) == email.lower())
    if await session.scalar(select(Contact.id).where(Contact.client_id == client_id, same).limit(1)) is not None:
        return False
    session.add(Contact(client_id=client_id, name=name, email=email, phone=v.get("contact_phone"),
                        position=v.get("contact_position"), import_batch_id=imp.id))  # fmt: skip
    return True


async def _contacts_of_new_clients(session: AsyncSession, imp: Import, creates: list[Converted]) -> None:
    people = []
    for c in creates:
        v = c.values
        if v.get("contact_name") and c.record_id is not None:
            people.append({"client_id": c.record_id, "name": v["contact_name"], "email": v.get("contact_email"),
                           "phone": v.get("contact_phone"), "position": v.get("contact_position"),
                           "import_batch_id": imp.id})  # fmt: skip
    if people:
        await session.execute(insert(Contact), people)


async def _opening_stock(
    session: AsyncSession, imp: Import, principal: Principal, look: Lookups, creates: list[Converted]
) -> None:
    """Opening stock of new products: one validated receipt per warehouse for the chunk."""
    per_warehouse: dict[int, list[DocumentLineIn]] = {}
    for c in creates:
        for name, quantity in c.values.items():
            if name.startswith(STOCK_PREFIX) and quantity and c.record_id is not None:
                warehouse = look.warehouses.get(STOCK_PREFIX + name[len(STOCK_PREFIX) :].casefold())
                if warehouse is not None:
                    per_warehouse.setdefault(warehouse, []).append(
                        DocumentLineIn(product_id=c.record_id, quantity=Decimal(quantity).quantize(Decimal("0.001")))
                    )
    for warehouse, lines in per_warehouse.items():
        document = await stock_service.create_document(
            session,
            principal,
            StockDocumentIn(
                kind=DocumentKind.receipt,
                warehouse_id=warehouse,
                reason=f"Opening stock (import #{imp.id})",
                source_type="import",
                source_id=imp.id,
                lines=lines,
            ),
        )
        await stock_service.validate_document(session, principal, document.id, None)

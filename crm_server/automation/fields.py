"""The fields of each record a rule can watch, compare or set, with their kind: the rule editor
offers them as a choice (not free text), and the kind picks how a value is entered."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache

from sqlalchemy import Column

from crm_server.automation import actions, engine
from crm_server.contract.automation import ENTITIES, EntityFields, FieldKind, FieldOut

# Bookkeeping columns no rule has a use for.
HIDDEN = frozenset({"id", "version", "import_batch_id", "search_text", "archived_by"})
# Fields every record has in a rule's eyes: who made the change (see engine.changed_by).
CHANGED_BY = (FieldOut(name="changed_by", kind="text"), FieldOut(name="changed_by_id", kind="person"))


def _kind(column: Column[object]) -> FieldKind | None:
    if column.name.endswith("_by") or column.name in ("owner_id", "assignee_id"):
        return "person"
    if column.name == "team_id":
        return "team"
    try:
        kind = column.type.python_type
    except NotImplementedError:  # tsvector and the like: nothing to compare
        return None
    if kind is bool:
        return "bool"
    if kind is datetime:
        return "moment"
    if kind is date:
        return "date"
    if kind in (int, float, Decimal):
        return "number"
    if kind in (list, tuple):
        return "list"
    return "text" if kind is str else None


@cache
def fields() -> list[EntityFields]:
    out = []
    for entity, model in engine.MODELS.items():
        settable = actions.SETTABLE.get(entity, frozenset())
        found = [
            FieldOut(name=c.name, kind=k, settable=c.name in settable)
            for c in model.__table__.columns
            if c.name not in HIDDEN and not c.name.endswith("_key") and (k := _kind(c)) is not None
        ]
        if entity == "lead":
            found += [FieldOut(name="status", kind="text"), FieldOut(name="status_kind", kind="text")]
        out.append(
            EntityFields.model_validate(
                {"entity": entity, "fields": [*sorted(found, key=lambda f: f.name), *CHANGED_BY]}
            )
        )
    assert {e.entity for e in out} == set(ENTITIES)
    return out

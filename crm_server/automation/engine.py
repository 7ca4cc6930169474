"""Reading a record the way rules see it, matching a trigger to a change, and evaluating conditions
with each one's result kept (the run log answers "why didn't it fire")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities.models import FollowUp
from crm_server.clients.models import Client
from crm_server.contract.automation import Condition, ConditionGroup, ConditionResult, Trigger, TriggerKind
from crm_server.invoices.models import Invoice
from crm_server.leads.models import Lead, PipelineStatus
from crm_server.orders.models import SalesOrder
from crm_server.proposals.models import Proposal
from crm_server.tickets.models import Ticket

MODELS: dict[str, type[Any]] = {
    "lead": Lead,
    "client": Client,
    "follow_up": FollowUp,
    "ticket": Ticket,
    "proposal": Proposal,
    "invoice": Invoice,
    "sales_order": SalesOrder,
}
# The column naming a record's person in charge.
OWNER_FIELD: dict[str, str] = {"ticket": "assignee_id"}
MAX_DEPTH = 3


@dataclass
class Change:
    """What one transaction did to one record: created or not, and each field's old and new value
    (from the audit rows written with it), and who did it."""

    entity: str
    entity_id: int
    actions: set[str] = field(default_factory=set)
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    actor_id: int | None = None

    @property
    def created(self) -> bool:
        return "created" in self.actions


def plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def record(session: AsyncSession, entity: str, entity_id: int) -> Any | None:
    """The record, with every column loaded: a flushed UPDATE expires server-set columns
    (updated_at), and reading one later would be lazy I/O, which an async session refuses."""
    model = MODELS.get(entity)
    obj = None if model is None else await session.get(model, entity_id)
    if obj is not None:
        expired = inspect(obj).expired_attributes
        if expired:
            await session.refresh(obj, attribute_names=list(expired))
    return obj


async def values(session: AsyncSession, entity: str, obj: Any) -> dict[str, Any]:
    """The record's columns by name, plus `status` as its name and `status_kind` for leads."""
    out = {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}
    if entity == "lead":
        status = await session.get(PipelineStatus, obj.status_id)
        out["status"] = status.name if status else None
        out["status_kind"] = status.kind if status else None
    out.setdefault("owner_id", out.get(OWNER_FIELD.get(entity, "owner_id")))
    return out


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return str(plain(a)).strip().casefold() == str(plain(b)).strip().casefold()


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(plain(value)))
    except (InvalidOperation, ValueError):
        return None


def _order(actual: Any, expected: Any) -> int | None:
    """-1, 0 or 1 comparing numbers as numbers and the rest (dates, text) as text; None if either is empty."""
    if actual is None or expected is None:
        return None
    a, b = _number(actual), _number(expected)
    if a is None or b is None:
        a_text, b_text = str(plain(actual)), str(plain(expected))
        return (a_text > b_text) - (a_text < b_text)
    return (a > b) - (a < b)


def compare(op: str, actual: Any, expected: Any) -> bool:
    many = actual if isinstance(actual, list) else None
    wanted = expected if isinstance(expected, list) else [expected]
    if op == "empty":
        return actual is None or actual == "" or actual == []
    if op == "not_empty":
        return not compare("empty", actual, expected)
    if op in ("eq", "ne"):
        hit = any(_same(v, expected) for v in many) if many is not None else _same(actual, expected)
        return hit if op == "eq" else not hit
    if op in ("in", "not_in"):
        pool = many if many is not None else [actual]
        hit = any(_same(v, w) for v in pool for w in wanted)
        return hit if op == "in" else not hit
    if op == "contains":
        if many is not None:
            return any(_same(v, expected) for v in many)
        return actual is not None and str(plain(expected)).casefold() in str(plain(actual)).casefold()
    order = _order(actual, expected)
    if order is None:
        return False
    return {"gt": order > 0, "gte": order >= 0, "lt": order < 0, "lte": order <= 0}.get(op, False)


def evaluate(group: ConditionGroup, data: dict[str, Any], path: str = "") -> tuple[bool, list[ConditionResult]]:
    """AND ("all") or OR ("any") over the group's items; every comparison's result is listed (none
    short-circuits away, so the log shows each one). An empty group passes."""
    results: list[ConditionResult] = []
    passes: list[bool] = []
    for i, item in enumerate(group.items):
        if isinstance(item, ConditionGroup):
            ok, inner = evaluate(item, data, f"{path}{i}.")
            results.extend(inner)
        else:
            ok = _one(item, data)
            results.append(
                ConditionResult(
                    field=item.field, op=item.op, expected=item.value, actual=plain(data.get(item.field)), passed=ok
                )
            )
        passes.append(ok)
    if not passes:
        return True, results
    return (all(passes) if group.match == "all" else any(passes)), results


def _one(condition: Condition, data: dict[str, Any]) -> bool:
    return compare(condition.op, data.get(condition.field), condition.value)


def fired(trigger: Trigger, change: Change, data: dict[str, Any]) -> dict[str, Any] | None:
    """The transition that fires this trigger ({"field", "old", "new"} or {"created": True}), or
    None: a rule fires on the change from old to new, never on a save that left the value alone."""
    kind = trigger.kind
    if kind == TriggerKind.created:
        return {"created": True} if change.created else None
    if kind == TriggerKind.inbound:
        if not change.created or data.get("changed_by") != "integration":
            return None
        if trigger.source and not _same(data.get("source"), trigger.source):
            return None
        return {"created": True, "inbound": True, "source": plain(data.get("source"))}
    if kind in (TriggerKind.field_changed, TriggerKind.status_changed):
        name = (trigger.field or "status") if kind == TriggerKind.status_changed else trigger.field
        if change.created or name is None or name not in change.fields:
            return None
        old, new = change.fields[name]
        if trigger.from_value is not None and not _same(old, trigger.from_value):
            return None
        if trigger.to_value is not None and not _same(new, trigger.to_value):
            return None
        return {"field": name, "old": plain(old), "new": plain(new)}
    return None


def changed_by(change: Change, context: dict[str, Any] | None) -> dict[str, Any]:
    """Who made the change, for conditions: a rule (inside a rule's actions), a person, or an
    integration (no person: a web form, Facebook, an e-mail, a sync)."""
    if context is not None:
        return {"changed_by": "rule", "changed_by_id": None, "changed_by_rule": context.get("rule_id")}
    if change.actor_id is not None:
        return {"changed_by": "person", "changed_by_id": change.actor_id}
    return {"changed_by": "integration", "changed_by_id": None}

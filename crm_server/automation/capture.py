"""The one hook every change passes: crm_server.events.publish_pending calls `on_publish` with the
transaction's queued live events just before it commits. Here, in that same transaction:

- each record's old and new values are read from the audit rows the change wrote (audit_log.at is
  the transaction's now(), so `at = now()` finds exactly this transaction's rows, and a rolled-back
  savepoint's rows are not there);
- webhook deliveries go to the outbox with their job;
- each active rule whose trigger fires on this transition is evaluated (its conditions' results
  logged) and, if it matched, its run is queued as a job: the actions run after commit, and a crash
  before the commit loses the change and its run together;
- date triggers are planned again when their date changed.

Inside a rule's actions (session.info["automation"]) the chain of rules so far is known: a rule
already in the chain is a loop and stops, and a chain of MAX_DEPTH stops, each with a log entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import DateTime, cast, delete, func, literal, null, select, tuple_, union_all
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin.models import AuditEntry
from crm_server.automation import engine, webhooks
from crm_server.automation.models import Planned, Rule, Run, Subscription
from crm_server.contract.automation import ConditionGroup, Trigger, TriggerKind
from crm_server.jobs import queue

RUN_TASK = "automation.run"
WATCHED = frozenset(engine.MODELS) | {"payment"}


@dataclass(frozen=True)
class Compiled:
    id: int
    name: str
    entity: str
    trigger: Trigger
    conditions: ConditionGroup


_cache: dict[int, tuple[datetime, Compiled]] = {}


async def _active(session: AsyncSession, entities: set[str]) -> tuple[list[webhooks.Active], list[Any]]:
    """Active webhook subscriptions, and the ids and edit times of the active rules on these
    entities: one round trip, paid by every change."""
    rules = select(literal("r").label("kind"), Rule.id, Rule.updated_at, cast(null(), JSONB).label("types")).where(
        Rule.active.is_(True), Rule.entity.in_(sorted(entities))
    )
    subs = select(literal("s"), Subscription.id, cast(null(), DateTime(timezone=True)), Subscription.event_types).where(
        Subscription.active.is_(True)
    )
    rows = (await session.execute(union_all(rules, subs))).all()
    found = [webhooks.Active(r.id, frozenset(r.types)) for r in rows if r.kind == "s"]
    return found, [r for r in rows if r.kind == "r"]


async def active_rules(session: AsyncSession, rows: list[Any]) -> list[Compiled]:
    """The active rules (`rows`: their ids and edit times), parsed once per edit per process."""
    stale = [r.id for r in rows if _cache.get(r.id, (None,))[0] != r.updated_at]
    if stale:
        for rule in (
            await session.execute(
                select(Rule.id, Rule.updated_at, Rule.name, Rule.entity, Rule.trigger, Rule.conditions).where(
                    Rule.id.in_(stale)
                )
            )
        ).all():
            _cache[rule.id] = (
                rule.updated_at,
                Compiled(
                    rule.id,
                    rule.name,
                    rule.entity,
                    Trigger.model_validate(rule.trigger),
                    ConditionGroup.model_validate(rule.conditions or {}),
                ),
            )
    return [_cache[r.id][1] for r in rows if r.id in _cache]


async def _changes(session: AsyncSession, pending: list[dict[str, Any]]) -> dict[tuple[str, int], engine.Change]:
    records: dict[tuple[str, int], engine.Change] = {}
    for event in pending:
        if event["entity"] not in WATCHED:
            continue
        key = (event["entity"], int(event["entity_id"]))
        change = records.setdefault(key, engine.Change(key[0], key[1], actor_id=event.get("actor_id")))
        change.actions.add(event["action"])
    if not records:
        return records
    rows = await session.execute(
        select(AuditEntry.entity, AuditEntry.entity_id, AuditEntry.changes)
        .where(
            tuple_(AuditEntry.entity, AuditEntry.entity_id).in_(list(records)),
            AuditEntry.at == func.now(),
        )
        .order_by(AuditEntry.id)
    )
    for entity, entity_id, diff in rows:
        change = records[(entity, entity_id)]
        for item in diff or []:
            name = item.get("field")
            if name in change.fields:  # changed twice in one transaction: first old, last new
                change.fields[name] = (change.fields[name][0], item.get("new"))
            else:
                change.fields[name] = (item.get("old"), item.get("new"))
    return records


async def on_publish(session: AsyncSession, pending: list[dict[str, Any]]) -> None:
    if not any(e["entity"] in WATCHED for e in pending):
        return
    entities = {e["entity"] for e in pending if e["entity"] in engine.MODELS}
    subs, rule_rows = await _active(session, entities)
    rules = await active_rules(session, rule_rows) if rule_rows else []
    if not subs and not rules:
        return
    records = await _changes(session, pending)
    events_of = {(e["entity"], int(e["entity_id"])): e for e in pending}
    for key, change in records.items():
        if subs:
            await _webhooks(session, subs, change, events_of[key])
        mine = [r for r in rules if r.entity == change.entity]
        if mine:
            await _rules(session, mine, change)


# --- webhooks --------------------------------------------------------------------------------------


async def _event_types(session: AsyncSession, change: engine.Change) -> list[str]:
    entity = change.entity
    if entity == "payment":
        return ["payment.received"] if change.created else []
    types = [f"{entity}.created"] if change.created else [f"{entity}.updated"]
    paid = change.fields.get("paid_total")
    if entity == "invoice" and paid is not None and engine.compare("gt", paid[1], paid[0] or 0):
        types.append("payment.received")  # payments are announced as their invoice's change
    status = change.fields.get("status")
    if status is not None and not change.created:
        types.append(f"{entity}.status_changed")
        if entity == "lead":
            obj = await engine.record(session, "lead", change.entity_id)
            data = await engine.values(session, "lead", obj) if obj is not None else {}
            if data.get("status_kind") in ("won", "lost"):
                types.append(f"lead.{data['status_kind']}")
        if entity == "invoice":
            old, new = status
            if old == "draft" and new not in ("draft", "cancelled"):
                types.append("invoice.issued")
            if new == "paid":
                types.append("invoice.paid")
    return types


async def payload(session: AsyncSession, entity: str, entity_id: int, event: dict[str, Any]) -> dict[str, Any]:
    """The record as the contract's model shows it (leads, tickets), else its columns."""
    obj = await engine.record(session, entity, entity_id)
    if obj is None:
        return {"id": entity_id, **event.get("data", {})}
    if entity == "lead":
        from crm_server.contract.leads import LeadOut

        return LeadOut.model_validate(obj).model_dump(mode="json")
    if entity == "ticket":
        from crm_server.contract.tickets import TicketOut

        return TicketOut.model_validate(obj).model_dump(mode="json")
    data = await engine.values(session, entity, obj)
    return {k: engine.plain(v) for k, v in data.items()}


async def _webhooks(
    session: AsyncSession, subs: list[webhooks.Active], change: engine.Change, event: dict[str, Any]
) -> None:
    types = await _event_types(session, change)
    wanted = [(s, t) for t in types for s in subs if t in s.event_types]
    if not wanted:
        return
    data = await payload(session, change.entity, change.entity_id, event)
    for sub, event_type in wanted:
        await webhooks.enqueue(session, sub.id, event_type, data)


# --- rules -----------------------------------------------------------------------------------------


def moment(value: Any) -> datetime | None:
    """A date field as a moment: a datetime as it is, a day at 09:00 UTC."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(9, 0), UTC)
    if isinstance(value, str):
        try:
            return moment(datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value))
        except ValueError:
            return None
    return None


def moment_type(model: type[Any], name: str | None) -> type | None:
    """date or datetime when the model's column `name` holds one, else None."""
    column = model.__table__.c.get(name) if name else None
    if column is None:
        return None
    try:
        kind: type = column.type.python_type
    except NotImplementedError:
        return None
    return kind if issubclass(kind, date) else None


async def _rules(session: AsyncSession, rules: list[Compiled], change: engine.Change) -> None:
    obj = await engine.record(session, change.entity, change.entity_id)
    if obj is None:
        return
    data = await engine.values(session, change.entity, obj)
    context: dict[str, Any] | None = session.info.get("automation")
    data.update(engine.changed_by(change, context))
    chain: list[int] = list(context["chain"]) if context else []
    for rule in rules:
        if rule.trigger.kind == TriggerKind.date_reached:
            await plan(session, rule, change, data)
            continue
        transition = engine.fired(rule.trigger, change, data)
        if transition is None:
            continue
        matched, results = engine.evaluate(rule.conditions, data)
        outcome, detail = ("queued", "") if matched else ("not_matched", "A condition did not hold.")
        if matched and rule.id in chain:
            outcome, detail = "stopped", "Loop stopped: this rule's own actions led back to it."
        elif matched and len(chain) >= engine.MAX_DEPTH:
            outcome, detail = "stopped", f"Stopped at a depth of {engine.MAX_DEPTH}: rules triggering rules."
        run = Run(
            rule_id=rule.id,
            entity=change.entity,
            entity_id=change.entity_id,
            outcome=outcome,
            depth=len(chain),
            chain=chain,
            change=transition,
            conditions=[r.model_dump(mode="json") for r in results],
            matched=matched,
            detail=detail,
        )
        session.add(run)
        await session.flush()
        if outcome == "queued":
            await queue.defer(session, RUN_TASK, run_id=run.id)


async def plan(
    session: AsyncSession, rule: Compiled | Rule, change: engine.Change | None, data: dict[str, Any]
) -> None:
    """(Re)plan a date trigger for one record: when it is new or its date changed."""
    trigger = rule.trigger if isinstance(rule, Compiled) else Trigger.model_validate(rule.trigger)
    name = trigger.field
    if name is None or (change is not None and not change.created and name not in change.fields):
        return
    when = moment(data.get(name))
    entity_id = int(data["id"])
    if when is None:
        await session.execute(
            delete(Planned).where(
                Planned.rule_id == rule.id, Planned.entity == rule.entity, Planned.entity_id == entity_id
            )
        )
        return
    fire_at = when + timedelta(minutes=trigger.offset_minutes)
    stmt = insert(Planned).values(rule_id=rule.id, entity=rule.entity, entity_id=entity_id, fire_at=fire_at)
    await session.execute(
        stmt.on_conflict_do_update(constraint="uq_automation_planned_record", set_={"fire_at": fire_at})
    )

"""The one hook every change passes: crm_server.events.publish_pending calls `on_publish` with the
transaction's queued live events just before it commits. Here, in that same transaction:

- each record's old and new values are read from the audit rows the change wrote (audit_log.at is
  the transaction's now(), so `at = now()` finds exactly this transaction's rows, and a rolled-back
  savepoint's rows are not there);
- webhook deliveries go to the outbox with their job;
- nothing is read unless this process's cached rules and subscriptions (see Cache) could care
  about one of the changed records, and a rule's record is read only when its trigger could fire;
- each active rule whose trigger fires on this transition is evaluated (its conditions' results
  logged) and, if it matched, its run is queued as a job: the actions run after commit, and a crash
  before the commit loses the change and its run together;
- date triggers are planned again when their date changed.

Inside a rule's actions (session.info["automation"]) the chain of rules so far is known: a rule
already in the chain is a loop and stops, and a chain of MAX_DEPTH stops, each with a log entry."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, literal, select, tuple_
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crm_server.admin.models import AuditEntry
from crm_server.automation import engine, webhooks
from crm_server.automation.models import Planned, Rule, Run
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
    # A manager's rule sees only their team's records (None: an admin's, every record).
    team_id: int | None = None

    def could_fire(self, change: engine.Change) -> bool:
        """A look at the trigger alone, before any record is read: most changes stop here."""
        kind, name = self.trigger.kind, self.trigger.field
        if kind in (TriggerKind.created, TriggerKind.inbound):
            return change.created
        if kind == TriggerKind.date_reached:
            return change.created or name in change.fields
        watched = (name or "status") if kind == TriggerKind.status_changed else name
        return not change.created and watched in change.fields


@dataclass(frozen=True)
class Snapshot:
    """The active rules per entity and the active subscriptions, as one process last read them."""

    rules: dict[str, tuple[Compiled, ...]]
    subs: tuple[webhooks.Active, ...]
    # Entities some subscription wants an event of ("payment" rides on its invoice).
    sub_entities: frozenset[str]

    def wanted(self, entities: set[str]) -> bool:
        return bool(entities & self.sub_entities) or any(e in self.rules for e in entities)


class Cache:
    """One per database engine of a server process. Trusted only while that process's live-event
    listener is connected: a rule or subscription change commits a live event (module admin), and
    every process drops its copy when its listener reads it, so several processes stay right. With
    no listener (a CLI command, a test's own session) every transaction reads the tables."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.snapshot: Snapshot | None = None
        self.generation = 0

    def drop(self) -> None:
        self.generation += 1
        self.snapshot = None

    def heard(self, event: Any) -> None:
        if event.entity in CONFIG_ENTITIES:
            self.drop()


CONFIG_ENTITIES = frozenset({"automation_rule", "webhook_subscription"})
_caches: weakref.WeakKeyDictionary[Any, Cache] = weakref.WeakKeyDictionary()


def attach(hub: Any, engine_: AsyncEngine) -> None:
    """Called once per server process (app lifespan): cache through this hub's live events."""
    cache = Cache(hub)
    hub.subscribe(cache.heard)
    _caches[engine_.sync_engine] = cache


def _cache_of(session: AsyncSession) -> Cache | None:
    bind = session.bind
    cache = _caches.get(getattr(bind, "sync_engine", None)) if bind is not None else None
    if cache is None:
        return None
    if not cache.hub.connected:  # events may be missed: read afresh once it is back
        cache.drop()
        return None
    return cache


async def _load(session: AsyncSession) -> Snapshot:
    """The active rules and subscriptions: two small reads, once per change of either."""
    rules: dict[str, list[Compiled]] = {}
    for r in (
        await session.execute(
            select(Rule.id, Rule.name, Rule.entity, Rule.trigger, Rule.conditions, Rule.team_id)
            .where(Rule.active.is_(True))
            .order_by(Rule.id)
        )
    ).all():
        rules.setdefault(r.entity, []).append(
            Compiled(
                r.id,
                r.name,
                r.entity,
                Trigger.model_validate(r.trigger),
                ConditionGroup.model_validate(r.conditions or {}),
                r.team_id,
            )
        )
    subs = tuple(await webhooks.active_subscriptions(session))
    types = {t for s in subs for t in s.event_types}
    entities = {t.partition(".")[0] for t in types} | ({"invoice", "payment"} if "payment.received" in types else set())
    return Snapshot({k: tuple(v) for k, v in rules.items()}, subs, frozenset(entities))


async def snapshot(session: AsyncSession) -> Snapshot:
    cache = _cache_of(session)
    if cache is None:
        return await _load(session)
    if cache.snapshot is None:
        generation = cache.generation
        found = await _load(session)
        if cache.generation == generation:  # no change was heard while reading
            cache.snapshot = found
        return found
    return cache.snapshot


def _changed_config(session: AsyncSession) -> None:
    """This transaction changes a rule or a subscription: this process drops its copy now and again
    after the commit (a copy read in between would be the old one); other processes hear the event."""
    cache = _cache_of(session)
    if cache is None:
        return
    cache.drop()
    sa_event.listen(session.sync_session, "after_commit", lambda _s: cache.drop(), once=True)


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
    """Least work first: no read at all unless a cached rule or subscription could care."""
    if any(e["entity"] in CONFIG_ENTITIES for e in pending):
        _changed_config(session)
    entities = {e["entity"] for e in pending if e["entity"] in WATCHED}
    if not entities:
        return
    snap = await snapshot(session)
    if not snap.wanted(entities):
        return
    records = await _changes(session, [e for e in pending if e["entity"] in entities])
    events_of = {(e["entity"], int(e["entity_id"])): e for e in pending}
    for key, change in records.items():
        if change.entity in snap.sub_entities:
            await _webhooks(session, list(snap.subs), change, events_of[key])
        mine = [r for r in snap.rules.get(change.entity, ()) if r.could_fire(change)]
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
        if rule.team_id is not None and data.get("team_id") != rule.team_id:
            continue  # a manager's rule: another team's record is none of its business (and not logged)
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
        run_id = await session.scalar(
            _if_still_on(
                Run,
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
            ).returning(Run.id)
        )
        if run_id is not None and outcome == "queued":
            await queue.defer(session, RUN_TASK, run_id=run_id)


def _if_still_on(model: type[Any], /, **values: Any) -> Any:
    """INSERT the row only while the rule is still there and on, read in this very statement: a
    process that has not yet heard of a rule turned off or deleted elsewhere neither runs it nor
    fails the change on the rule's foreign key."""
    table = model.__table__
    row = select(*(literal(v, type_=table.c[k].type).label(k) for k, v in values.items())).where(
        select(Rule.id).where(Rule.id == values["rule_id"], Rule.active.is_(True)).exists()
    )
    return insert(model).from_select(list(values), row)


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
    stmt = _if_still_on(Planned, rule_id=rule.id, entity=rule.entity, entity_id=entity_id, fire_at=fire_at)
    await session.execute(
        stmt.on_conflict_do_update(constraint="uq_automation_planned_record", set_={"fire_at": fire_at})
    )

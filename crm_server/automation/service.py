"""Automation rules: keeping them (a deactivated rule stops at once: its queued runs are cancelled and
its planned dates dropped), running a queued run's actions in one transaction, firing planned dates,
the run log, and "test on a record" (what the rule would do now, without doing it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, literal, select, text, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import audit
from crm_server.auth.permissions import Principal
from crm_server.automation import actions, capture, engine
from crm_server.automation.models import Planned, Rule, Run
from crm_server.contract.auth import Scope
from crm_server.contract.automation import (
    Action,
    ActionResult,
    ConditionGroup,
    RuleIn,
    RuleOut,
    RunOut,
    Trigger,
    TriggerKind,
)
from crm_server.contract.common import Page
from crm_server.db import Database, savepoint, utcnow
from crm_server.errors import AppError, Forbidden, NotFound, ValidationFailed
from crm_server.jobs import queue

DUE_BATCH = 500


def _announce(session: AsyncSession, actor_id: int, rule: Rule, action: str) -> None:
    """Automation pages refresh on it: every admin's, and a team rule's team's managers' (module
    automation, scoped by the rule's team); every process's rule cache drops on it."""
    events.emit(
        session,
        module="automation",
        entity="automation_rule",
        entity_id=rule.id,
        action=action,
        actor_id=actor_id,
        team_id=rule.team_id,
    )


def rule_out(rule: Rule) -> RuleOut:
    return RuleOut.model_validate(rule)


async def plan_existing(session: AsyncSession, rule: Rule) -> None:
    """A date rule made or turned on: plan it for every record whose moment is still ahead (a day
    counts from 09:00 UTC, as in capture.moment). Field names come from the model's own columns."""
    trigger = Trigger.model_validate(rule.trigger)
    if not rule.active or trigger.kind != TriggerKind.date_reached or trigger.field is None:
        return
    model = engine.MODELS[rule.entity]
    table = model.__table__
    column = table.c[trigger.field]
    kind = capture.moment_type(model, trigger.field)
    moment: Any = column if kind is datetime else func.timezone("UTC", column + text("time '09:00'"))
    fire_at = (moment + func.make_interval(0, 0, 0, 0, 0, trigger.offset_minutes)).label("fire_at")
    mine = table.c.team_id == rule.team_id if rule.team_id is not None else true()
    chosen = (
        select(literal(rule.id), literal(rule.entity), table.c.id, fire_at).where(column.is_not(None), mine).subquery()
    )
    rows = select(chosen).where(chosen.c.fire_at > func.now())
    stmt = insert(Planned).from_select(["rule_id", "entity", "entity_id", "fire_at"], rows)
    await session.execute(
        stmt.on_conflict_do_update(constraint="uq_automation_planned_record", set_={"fire_at": stmt.excluded.fire_at})
    )


async def _check(session: AsyncSession, principal: Principal, data: RuleIn) -> None:
    trigger = data.trigger
    model = engine.MODELS[data.entity]
    columns = set(model.__table__.c.keys()) | ({"status"} if data.entity == "lead" else set())
    if trigger.kind in (TriggerKind.field_changed, TriggerKind.date_reached):
        if not trigger.field:
            raise ValidationFailed("Choose the field the rule watches.", field="trigger.field")
        if trigger.field not in columns:
            raise ValidationFailed(
                f"{engine.MODELS[data.entity].__name__} has no field {trigger.field}.", field="trigger.field"
            )
    if trigger.kind == TriggerKind.date_reached and capture.moment_type(model, trigger.field) is None:
        raise ValidationFailed("That field is not a date.", field="trigger.field")
    for i, action in enumerate(data.actions):
        actions.check(data.entity, action, i)
        await actions.check_allowed(session, principal, team_of(principal), data.entity, action, i)


def team_of(principal: Principal) -> int | None:
    """None for whoever holds Automation on every record (admins); else the manager's team, whose
    records alone their rules see. A manager in no team has nothing to automate."""
    if principal.scope("automation") is Scope.all:
        return None
    if principal.team_id is None:
        raise Forbidden("You are in no team: a manager's rules work on their team's records.")
    return principal.team_id


def _mine(principal: Principal) -> Any:
    team = team_of(principal)
    return true() if team is None else Rule.team_id == team


async def _get(session: AsyncSession, principal: Principal, rule_id: int, lock: bool = False) -> Rule:
    # FOR NO KEY UPDATE: a change logging a run of this rule (its foreign key takes KEY SHARE) is not held up.
    rule = await session.get(Rule, rule_id, with_for_update={"key_share": True} if lock else False)
    if rule is None or (team_of(principal) is not None and rule.team_id != principal.team_id):
        raise NotFound("No such rule.")
    return rule


async def list_rules(session: AsyncSession, principal: Principal) -> list[RuleOut]:
    rows = await session.scalars(select(Rule).where(_mine(principal)).order_by(Rule.name, Rule.id))
    return [rule_out(r) for r in rows]


async def get_rule(session: AsyncSession, principal: Principal, rule_id: int) -> RuleOut:
    return rule_out(await _get(session, principal, rule_id))


def _values(data: RuleIn) -> dict[str, Any]:
    return {
        "name": data.name.strip(),
        "entity": data.entity,
        "trigger": data.trigger.model_dump(mode="json"),
        "conditions": data.conditions.model_dump(mode="json"),
        "actions": [a.model_dump(mode="json") for a in data.actions],
        "active": data.active,
    }


async def create_rule(session: AsyncSession, principal: Principal, data: RuleIn) -> RuleOut:
    await _check(session, principal, data)
    actor_id = principal.user_id
    rule = Rule(**_values(data), created_by=actor_id, team_id=team_of(principal), updated_at=utcnow())
    session.add(rule)
    await session.flush()
    await plan_existing(session, rule)
    audit.record(
        session,
        actor_id=actor_id,
        entity="automation_rule",
        entity_id=rule.id,
        action="created",
        changes=audit.diff({}, _values(data)),
    )
    _announce(session, actor_id, rule, "created")
    return rule_out(rule)


async def update_rule(session: AsyncSession, principal: Principal, rule_id: int, data: RuleIn) -> RuleOut:
    await _check(session, principal, data)
    actor_id = principal.user_id
    rule = await _get(session, principal, rule_id, lock=True)
    before = {k: getattr(rule, k) for k in _values(data)}
    for key, value in _values(data).items():
        setattr(rule, key, value)
    rule.updated_at = utcnow()
    if before["trigger"] != rule.trigger or not rule.active:  # planned dates no longer hold
        await session.execute(delete(Planned).where(Planned.rule_id == rule.id))
        await plan_existing(session, rule)
    if not rule.active:
        await _cancel_queued(session, rule.id)
    audit.record(
        session,
        actor_id=actor_id,
        entity="automation_rule",
        entity_id=rule.id,
        action="updated",
        changes=audit.diff(before, _values(data)),
    )
    _announce(session, actor_id, rule, "updated")
    return rule_out(rule)


async def _cancel_queued(session: AsyncSession, rule_id: int) -> None:
    await session.execute(
        update(Run)
        .where(Run.rule_id == rule_id, Run.outcome == "queued")
        .values(outcome="cancelled", detail="The rule was turned off before its actions ran.")
    )


async def set_active(session: AsyncSession, principal: Principal, rule_id: int, active: bool) -> RuleOut:
    actor_id = principal.user_id
    rule = await _get(session, principal, rule_id, lock=True)
    if rule.active != active:
        rule.active = active
        rule.updated_at = utcnow()
        if not active:
            await _cancel_queued(session, rule.id)
            await session.execute(delete(Planned).where(Planned.rule_id == rule.id))
        else:
            await plan_existing(session, rule)
        audit.record(
            session,
            actor_id=actor_id,
            entity="automation_rule",
            entity_id=rule.id,
            action="activated" if active else "deactivated",
            changes=audit.diff({"active": not active}, {"active": active}),
        )
        _announce(session, actor_id, rule, "updated")
    return rule_out(rule)


async def delete_rule(session: AsyncSession, principal: Principal, rule_id: int) -> None:
    actor_id = principal.user_id
    rule = await _get(session, principal, rule_id, lock=True)
    await session.delete(rule)
    audit.record(session, actor_id=actor_id, entity="automation_rule", entity_id=rule_id, action="deleted")
    _announce(session, actor_id, rule, "deleted")


# --- the run log -----------------------------------------------------------------------------------


def run_out(run: Run, rule_name: str = "") -> RunOut:
    out = RunOut.model_validate(run)
    out.rule_name = rule_name
    return out


async def list_runs(
    session: AsyncSession,
    principal: Principal,
    rule_id: int | None,
    entity: str | None,
    entity_id: int | None,
    outcome: str | None,
    offset: int,
    limit: int,
) -> Page[RunOut]:
    where: list[ColumnElement[bool]] = []
    team = team_of(principal)
    if team is not None:
        where.append(Run.rule_id.in_(select(Rule.id).where(Rule.team_id == team)))
    if rule_id is not None:
        where.append(Run.rule_id == rule_id)
    if entity is not None:
        where.append(Run.entity == entity)
    if entity_id is not None:
        where.append(Run.entity_id == entity_id)
    if outcome is not None:
        where.append(Run.outcome == outcome)
    total = await session.scalar(select(func.count()).select_from(Run).where(*where)) or 0
    rows = await session.execute(
        select(Run, Rule.name)
        .join(Rule, Rule.id == Run.rule_id)
        .where(*where)
        .order_by(Run.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return Page(items=[run_out(run, name) for run, name in rows], total=total, offset=offset, limit=limit)


async def test_rule(session: AsyncSession, principal: Principal, rule_id: int, entity_id: int) -> RunOut:
    """What the rule would do on this record now: its conditions' results and its actions in
    words. Nothing is written."""
    rule = await _get(session, principal, rule_id)
    obj = await engine.record(session, rule.entity, entity_id)
    if obj is None or (rule.team_id is not None and obj.team_id != rule.team_id):
        raise ValidationFailed(f"No {rule.entity.replace('_', ' ')} {entity_id}.", field="entity_id")
    data = await engine.values(session, rule.entity, obj)
    data.update({"changed_by": "person", "changed_by_id": None})
    matched, results = engine.evaluate(ConditionGroup.model_validate(rule.conditions), data)
    planned = [
        ActionResult(kind=a["kind"], ok=True, detail=actions.describe(Action.model_validate(a))) for a in rule.actions
    ]
    return RunOut(
        id=0,
        rule_id=rule.id,
        rule_name=rule.name,
        entity=rule.entity,
        entity_id=entity_id,
        at=utcnow(),
        outcome="would_run" if matched else "not_matched",
        depth=0,
        detail="" if matched else "A condition does not hold now.",
        conditions=results,
        matched=matched,
        actions=planned if matched else [],
    )


# --- jobs ------------------------------------------------------------------------------------------


async def run(db: Database, run_id: int) -> str:
    """A queued run's actions, all in one transaction with its outcome: a crash before the commit
    leaves it queued (the job runs again), after it the outcome says done (a second job does nothing)."""
    async with db.transaction() as session:
        row = await session.get(Run, run_id, with_for_update=True)
        if row is None or row.outcome != "queued":
            return "nothing to do"
        # Serialises the rule's own runs (round-robin state) without holding up a change that logs
        # a run of it (KEY SHARE): FOR UPDATE here deadlocked with a lead insert (board counts).
        rule = await session.get(Rule, row.rule_id, with_for_update={"key_share": True})
        if rule is None or not rule.active:
            row.outcome, row.detail = "cancelled", "The rule was turned off before its actions ran."
            return "cancelled"
        obj = await engine.record(session, row.entity, row.entity_id)
        if obj is None:
            row.outcome, row.detail = "failed", "The record is gone."
            return "failed"
        session.info["automation"] = {"chain": [*row.chain, rule.id], "rule_id": rule.id}
        results: list[ActionResult] = []
        for raw in rule.actions:
            action = Action.model_validate(raw)
            try:
                async with savepoint(session):
                    results.append(await actions.do(session, rule, row, obj, action))
            except AppError as exc:
                results.append(ActionResult(kind=action.kind.value, ok=False, detail=exc.message))
        row.actions = [r.model_dump(mode="json") for r in results]
        row.outcome = "done" if all(r.ok for r in results) else "failed"
        row.detail = "" if row.outcome == "done" else "An action could not be done."
        return row.outcome


async def give_up(db: Database, run_id: int, error: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Run).where(Run.id == run_id, Run.outcome == "queued").values(outcome="failed", detail=error[:1000])
        )


async def fire_due(session: AsyncSession) -> int:
    """Planned date triggers whose moment came: evaluated now (a record that no longer matches is
    logged and dropped), queued if they match."""
    due = list(
        await session.scalars(
            select(Planned)
            .where(Planned.fire_at <= utcnow())
            .order_by(Planned.fire_at)
            .limit(DUE_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for plan in due:
        await session.delete(plan)
        rule = await session.get(Rule, plan.rule_id)
        obj = await engine.record(session, plan.entity, plan.entity_id)
        if rule is None or not rule.active or obj is None:
            continue
        if rule.team_id is not None and obj.team_id != rule.team_id:
            continue  # moved to another team since it was planned: not this manager's rule's any more
        data = await engine.values(session, plan.entity, obj)
        data.update({"changed_by": None, "changed_by_id": None})
        matched, results = engine.evaluate(ConditionGroup.model_validate(rule.conditions), data)
        run_row = Run(
            rule_id=rule.id,
            entity=plan.entity,
            entity_id=plan.entity_id,
            outcome="queued" if matched else "not_matched",
            change={"field": rule.trigger.get("field"), "due": plan.fire_at.isoformat()},
            conditions=[r.model_dump(mode="json") for r in results],
            matched=matched,
            detail="" if matched else "The record no longer matches: dropped.",
        )
        session.add(run_row)
        await session.flush()
        if matched:
            await queue.defer(session, capture.RUN_TASK, run_id=run_row.id)
    return len(due)

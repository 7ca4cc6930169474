"""Who gets a new lead nobody owns: ordered admin rules on source, territory and product interest,
giving the lead to a user or sharing it round-robin among a team's active members (deactivated
users never receive leads). Rules are configuration: edited and deleted by admins, audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import audit, settings
from crm_server.auth.models import Role, Team, User
from crm_server.auth.permissions import Principal
from crm_server.clients.service import removed
from crm_server.concurrency import check_version
from crm_server.contract.leads import AssignmentRuleIn, AssignmentRuleOut, AssignmentRuleUpdate
from crm_server.db import utcnow
from crm_server.errors import NotFound, ValidationFailed
from crm_server.leads.models import AssignmentCursor, AssignmentRule

RULE_FIELDS = ("name", "position", "active", "source", "territory", "product_interest", "user_id", "team_id")


def _same(criterion: str | None, value: str | None) -> bool:
    return criterion is None or (value is not None and criterion.strip().lower() == value.strip().lower())


async def round_robin(session: AsyncSession, team_id: int) -> int | None:
    """The next active member of the team who works leads, after the one who got the last lead.
    The team's cursor row is locked until commit, so concurrent leads go to different people."""
    chosen = await _Teams(session).next(team_id)
    await session.flush()
    return chosen


async def choose_owner(
    session: AsyncSession, source: str | None, territory: str | None, product_interest: str | None
) -> tuple[int | None, int | None]:
    """(owner, team) for a new lead without an owner: the first matching rule that can give it to
    someone active, else round-robin in the default team, else nobody (managers see it unassigned)."""
    return (await choose_owners(session, [(source, territory, product_interest)]))[0]


class _Teams:
    """round_robin for many leads in one transaction: each team's cursor locked and its members read
    once, the turns taken in memory in order, the cursors written back once (the same owners as one
    round_robin call per lead)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.turns: dict[int, tuple[AssignmentCursor, list[int]]] = {}

    async def next(self, team_id: int) -> int | None:
        if team_id not in self.turns:
            session = self.session
            await session.execute(insert(AssignmentCursor).values(team_id=team_id).on_conflict_do_nothing())
            cursor = (
                await session.scalars(
                    select(AssignmentCursor)
                    .where(AssignmentCursor.team_id == team_id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).one()
            members = (
                await session.scalars(
                    select(User.id)
                    .join(Role, Role.id == User.role_id)
                    .where(
                        User.team_id == team_id,
                        User.active.is_(True),
                        Role.permissions["leads"]["actions"].contains(["edit"]),
                    )
                    .order_by(User.id)
                )
            ).all()
            self.turns[team_id] = (cursor, list(members))
        cursor, members = self.turns[team_id]
        if not members:
            return None
        after = [m for m in members if cursor.last_user_id is not None and m > cursor.last_user_id]
        chosen = after[0] if after else members[0]
        cursor.last_user_id = chosen
        cursor.updated_at = utcnow()
        return chosen


async def choose_owners(
    session: AsyncSession, leads: list[tuple[str | None, str | None, str | None]]
) -> list[tuple[int | None, int | None]]:
    """choose_owner for many new leads at once ((source, territory, product interest) each, in
    order): the rules, users and default team read once, round-robin turns taken in memory."""
    rules = (
        await session.scalars(
            select(AssignmentRule)
            .where(AssignmentRule.active.is_(True))
            .order_by(AssignmentRule.position, AssignmentRule.id)
        )
    ).all()
    wanted = {r.user_id for r in rules if r.user_id is not None}
    users = {
        uid: team
        for uid, team in (
            await session.execute(select(User.id, User.team_id).where(User.id.in_(wanted), User.active.is_(True)))
        ).all()
    }
    default_team = int(await settings.get(session, "leads.default_team_id") or 0)
    if default_team and await session.get(Team, default_team) is None:
        default_team = 0
    teams = _Teams(session)
    out: list[tuple[int | None, int | None]] = []
    for source, territory, product_interest in leads:
        chosen: tuple[int | None, int | None] = (None, None)
        for rule in rules:
            if not (
                _same(rule.source, source)
                and _same(rule.territory, territory)
                and _same(rule.product_interest, product_interest)
            ):
                continue
            if rule.user_id is not None:
                if rule.user_id in users:
                    chosen = (rule.user_id, users[rule.user_id])
                    break
            elif rule.team_id is not None and (member := await teams.next(rule.team_id)) is not None:
                chosen = (member, rule.team_id)
                break
        else:
            if default_team and (member := await teams.next(default_team)) is not None:
                chosen = (member, default_team)
        out.append(chosen)
    if teams.turns:
        await session.flush()
    return out


# --- admin: the rules ----------------------------------------------------------------------------


def _fields(rule: AssignmentRule) -> dict[str, Any]:
    return {n: getattr(rule, n) for n in RULE_FIELDS}


def _announce(session: AsyncSession, actor: Principal, rule_id: int, action: str) -> None:
    events.emit(
        session, module="admin", entity="assignment_rule", entity_id=rule_id, action=action, actor_id=actor.user_id
    )


async def _check_target(session: AsyncSession, data: AssignmentRuleIn) -> None:
    if data.user_id is not None:
        user = await session.get(User, data.user_id)
        if user is None:
            raise ValidationFailed("No such user.", field="user_id")
        if not user.active:
            raise ValidationFailed("This user is deactivated.", field="user_id", code="user_inactive")
    if data.team_id is not None and await session.get(Team, data.team_id) is None:
        raise ValidationFailed("No such team.", field="team_id")


def _clean(data: AssignmentRuleIn) -> dict[str, Any]:
    values = data.model_dump(exclude={"version"})
    for key in ("source", "territory", "product_interest"):
        values[key] = (values[key] or "").strip() or None
    values["name"] = values["name"].strip()
    return values


async def list_rules(session: AsyncSession) -> list[AssignmentRuleOut]:
    rules = (await session.scalars(select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id))).all()
    return [AssignmentRuleOut.model_validate(r) for r in rules]


async def create_rule(session: AsyncSession, actor: Principal, data: AssignmentRuleIn) -> AssignmentRuleOut:
    await _check_target(session, data)
    position = int(await session.scalar(select(func.coalesce(func.max(AssignmentRule.position), -1) + 1)) or 0)
    rule = AssignmentRule(**_clean(data), position=position)
    session.add(rule)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="assignment_rule",
        entity_id=rule.id,
        action="created",
        changes=audit.diff({}, _fields(rule)),
    )
    _announce(session, actor, rule.id, "created")
    return AssignmentRuleOut.model_validate(rule)


async def _get(session: AsyncSession, rule_id: int) -> AssignmentRule:
    rule = await session.get(AssignmentRule, rule_id, with_for_update=True)
    if rule is None:
        raise NotFound("No such rule.")
    return rule


async def update_rule(
    session: AsyncSession, actor: Principal, rule_id: int, data: AssignmentRuleUpdate
) -> AssignmentRuleOut:
    rule = await _get(session, rule_id)
    check_version(rule, data.version)
    await _check_target(session, data)
    before = _fields(rule)
    for key, value in _clean(data).items():
        setattr(rule, key, value)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="assignment_rule",
        entity_id=rule.id,
        action="updated",
        changes=audit.diff(before, _fields(rule)),
    )
    _announce(session, actor, rule.id, "updated")
    return AssignmentRuleOut.model_validate(rule)


async def delete_rule(session: AsyncSession, actor: Principal, rule_id: int) -> None:
    rule = await _get(session, rule_id)
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="assignment_rule",
        entity_id=rule.id,
        action="deleted",
        changes=removed(_fields(rule)),
    )
    await session.delete(rule)
    _announce(session, actor, rule_id, "deleted")


async def reorder_rules(session: AsyncSession, actor: Principal, rule_ids: list[int]) -> list[AssignmentRuleOut]:
    rules = {r.id: r for r in (await session.scalars(select(AssignmentRule).with_for_update())).all()}
    if sorted(rule_ids) != sorted(rules):
        raise ValidationFailed("Name every rule once.", field="rule_ids")
    before = [r.id for r in sorted(rules.values(), key=lambda r: (r.position, r.id))]
    for position, rule_id in enumerate(rule_ids):
        rules[rule_id].position = position
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="assignment_rule",
        entity_id=0,
        action="reordered",
        changes=[{"field": "order", "old": before, "new": rule_ids}],
    )
    _announce(session, actor, 0, "reordered")
    return await list_rules(session)

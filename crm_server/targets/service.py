"""Sales targets: a manager (a role that edits leads beyond their own) or an admin sets what a
person or a team should win in a month, in the base currency. Everyone with reports sees the
targets of the people and teams in their leads scope beside what those won that month: the won
leads (status kind "won") closed in that month (UTC), in the base currency, by owner and by team.

Each change is audited and announced (module "reports", entity "sales_target")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC as TZ
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, money
from crm_server.admin import audit, settings
from crm_server.auth.models import Team, User
from crm_server.auth.permissions import Principal
from crm_server.contract.auth import Scope
from crm_server.contract.targets import TargetIn, TargetOut, TargetRow, TargetsOut
from crm_server.db import utcnow
from crm_server.errors import Forbidden, NotFound, ValidationFailed
from crm_server.leads.models import Lead, PipelineStatus
from crm_server.targets.models import SalesTarget

ENTITY = "sales_target"


def may_edit(principal: Principal) -> bool:
    """Managers (leads edit, scope team or all) and admins set targets."""
    manager = principal.can("leads", "edit") and principal.scope("leads") is not Scope.own
    return manager or principal.can("admin", "edit")


def month_bounds(day: date) -> tuple[date, date]:
    if not 1900 <= day.year <= 9998:
        raise ValidationFailed("Choose a month between 1900 and 9998.", field="month")
    first = day.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1)


@dataclass
class Standing:
    """Who (a person or a team) with the target of a month and what they won in it."""

    kind: str
    id: int
    name: str
    team_name: str | None
    target_id: int | None
    target: Decimal | None
    won: Decimal


def _people(principal: Principal) -> ColumnElement[bool]:
    scope = principal.scope("leads")
    if scope is Scope.all:
        return true()
    if scope is Scope.team and principal.team_id is not None:
        return or_(User.team_id == principal.team_id, User.id == principal.user_id)
    return User.id == principal.user_id


def _teams(principal: Principal) -> ColumnElement[bool]:
    scope = principal.scope("leads")
    if scope is Scope.all:
        return true()
    return Team.id == principal.team_id if principal.team_id is not None else Team.id.is_(None)


async def standings(session: AsyncSession, principal: Principal, month: date, currency: str) -> list[Standing]:
    """The teams, then the people, in the viewer's leads scope: each one's target for the month and
    what they won in it. Active people, and anyone who has a target or won something that month."""
    first, after = month_bounds(month)
    won = (
        select(Lead.owner_id, Lead.team_id, func.sum(Lead.value).label("won"))
        .join(PipelineStatus, PipelineStatus.id == Lead.status_id)
        .where(
            PipelineStatus.kind == "won",
            Lead.archived_at.is_(None),
            Lead.currency == currency,
            Lead.closed_at >= datetime.combine(first, time(0), TZ),
            Lead.closed_at < datetime.combine(after, time(0), TZ),
            principal.scope_filter("leads", Lead.owner_id, Lead.team_id),
        )
        .group_by(Lead.owner_id, Lead.team_id)
    )
    by_user: dict[int, Decimal] = {}
    by_team: dict[int, Decimal] = {}
    for owner_id, team_id, value in await session.execute(won):
        if owner_id is not None:
            by_user[owner_id] = by_user.get(owner_id, Decimal(0)) + Decimal(value or 0)
        if team_id is not None:
            by_team[team_id] = by_team.get(team_id, Decimal(0)) + Decimal(value or 0)
    targets = (await session.scalars(select(SalesTarget).where(SalesTarget.month == first))).all()
    of_user = {t.user_id: t for t in targets if t.user_id is not None}
    of_team = {t.team_id: t for t in targets if t.team_id is not None}

    def amount(value: Decimal) -> Decimal:
        return money.round_money(value, currency)

    out: list[Standing] = []
    teams = await session.execute(select(Team.id, Team.name).where(_teams(principal)).order_by(Team.name))
    for team_id, name in teams:
        t = of_team.get(team_id)
        out.append(
            Standing(
                "team",
                team_id,
                name,
                None,
                t.id if t else None,
                t.amount if t else None,
                amount(by_team.get(team_id, Decimal(0))),
            )
        )
    people = await session.execute(
        select(User.id, User.full_name, Team.name)
        .outerjoin(Team, Team.id == User.team_id)
        .where(_people(principal), or_(User.active, User.id.in_([*of_user, *by_user])))
        .order_by(User.full_name, User.id)
        .limit(1000)
    )
    for user_id, name, team_name in people:
        t = of_user.get(user_id)
        out.append(
            Standing(
                "user",
                user_id,
                name,
                team_name,
                t.id if t else None,
                t.amount if t else None,
                amount(by_user.get(user_id, Decimal(0))),
            )
        )
    return out


def base_note(currency: str) -> str:
    return f"{currency} only. Managers set the targets under Reports, Targets."


async def base_currency(session: AsyncSession) -> str:
    return str(await settings.get(session, "sales.base_currency"))


async def list_targets(session: AsyncSession, principal: Principal, month: date) -> TargetsOut:
    month_bounds(month)
    currency = await base_currency(session)
    rows = [TargetRow(**vars(s)) for s in await standings(session, principal, month, currency)]
    return TargetsOut(month=month.replace(day=1), currency=currency, can_edit=may_edit(principal), rows=rows)


def _refuse(principal: Principal) -> None:
    if not may_edit(principal):
        raise Forbidden("Only a manager or an admin sets sales targets.")


async def put_target(session: AsyncSession, principal: Principal, data: TargetIn) -> TargetOut:
    """Set the target of a person or a team for a month (replacing the one there was)."""
    _refuse(principal)
    month_bounds(data.month)
    if (data.user_id is None) == (data.team_id is None):
        raise ValidationFailed("Name a person or a team, not both.", field="user_id")
    if data.user_id is not None and await session.get(User, data.user_id) is None:
        raise ValidationFailed("No such person.", field="user_id")
    if data.team_id is not None and await session.get(Team, data.team_id) is None:
        raise ValidationFailed("No such team.", field="team_id")
    currency = await base_currency(session)
    amount = money.round_money(data.amount, currency)
    if amount != data.amount:
        raise ValidationFailed(f"{currency} has {money.minor_unit(currency)} decimals.", field="amount")
    first, _ = month_bounds(data.month)
    who: Any = SalesTarget.user_id if data.user_id is not None else SalesTarget.team_id
    who_id = data.user_id if data.user_id is not None else data.team_id
    before = await session.scalar(select(SalesTarget.amount).where(SalesTarget.month == first, who == who_id))
    values = {"amount": amount, "currency": currency, "updated_by": principal.user_id, "updated_at": utcnow()}
    target_id = int(
        await session.scalar(
            insert(SalesTarget)
            .values(month=first, user_id=data.user_id, team_id=data.team_id, **values)
            .on_conflict_do_update(index_elements=["month", who.key], index_where=who.is_not(None), set_=values)
            .returning(SalesTarget.id)
        )
        or 0
    )
    _announce(
        session,
        principal,
        target_id,
        "created" if before is None else "updated",
        [
            {"field": "month", "old": None, "new": first.isoformat()},
            {"field": who.key, "old": None, "new": who_id},
            {"field": "amount", "old": str(before) if before is not None else None, "new": str(amount)},
        ],
    )
    return TargetOut(
        id=target_id, month=first, user_id=data.user_id, team_id=data.team_id, amount=amount, currency=currency
    )


async def remove_target(session: AsyncSession, principal: Principal, target_id: int) -> None:
    _refuse(principal)
    target = await session.get(SalesTarget, target_id)
    if target is None:
        raise NotFound("No such target.")
    changes = [
        {"field": "month", "old": target.month.isoformat(), "new": None},
        {"field": "user_id" if target.user_id else "team_id", "old": target.user_id or target.team_id, "new": None},
        {"field": "amount", "old": str(target.amount), "new": None},
    ]
    await session.execute(delete(SalesTarget).where(SalesTarget.id == target_id))
    _announce(session, principal, target_id, "deleted", changes)


def _announce(session: AsyncSession, principal: Principal, target_id: int, action: str, changes: list[Any]) -> None:
    audit.record(
        session, actor_id=principal.user_id, entity=ENTITY, entity_id=target_id, action=action, changes=changes
    )
    events.emit(
        session, module="reports", entity=ENTITY, entity_id=target_id, action=action, actor_id=principal.user_id
    )

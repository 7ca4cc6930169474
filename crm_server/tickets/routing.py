"""Which team gets a ticket: the team its category maps to. The categories are an admin-edited list;
changing a category's team re-routes new tickets only, never those already in a queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import audit
from crm_server.auth.models import Team
from crm_server.auth.permissions import Principal
from crm_server.concurrency import check_version
from crm_server.contract.tickets import CategoryIn, CategoryOut, CategoryUpdate
from crm_server.db import savepoint
from crm_server.errors import Conflict, NotFound, ValidationFailed
from crm_server.tickets.models import TicketCategory

GENERAL = "General"
FIELDS = ("name", "team_id", "position", "active")


async def general(session: AsyncSession) -> TicketCategory | None:
    """The category of tickets nobody classified (email, quick entry)."""
    return await session.scalar(select(TicketCategory).where(func.lower(TicketCategory.name) == GENERAL.lower()))


async def category_for_new_ticket(session: AsyncSession, category_id: int | None) -> TicketCategory | None:
    if category_id is None:
        return await general(session)
    category = await session.get(TicketCategory, category_id)
    if category is None or not category.active:
        raise ValidationFailed("No such category.", field="category_id")
    return category


async def check_team(session: AsyncSession, team_id: int | None, field: str = "team_id") -> int | None:
    if team_id is not None and await session.get(Team, team_id) is None:
        raise ValidationFailed("No such team.", field=field)
    return team_id


async def list_categories(session: AsyncSession, include_inactive: bool) -> list[CategoryOut]:
    stmt = select(TicketCategory).order_by(TicketCategory.position, TicketCategory.id)
    if not include_inactive:
        stmt = stmt.where(TicketCategory.active)
    return [CategoryOut.model_validate(c) for c in await session.scalars(stmt)]


def _announce(session: AsyncSession, actor_id: int, category: TicketCategory, action: str) -> None:
    events.emit(
        session,
        module="tickets",
        entity="ticket_category",
        entity_id=category.id,
        action=action,
        actor_id=actor_id,
        data={"version": category.version},
    )


async def _flush_unique(session: AsyncSession) -> None:
    try:
        async with savepoint(session):
            await session.flush()
    except IntegrityError as exc:
        raise Conflict("A category with this name exists already.", field="name", code="duplicate") from exc


async def create_category(session: AsyncSession, actor: Principal, data: CategoryIn) -> CategoryOut:
    await check_team(session, data.team_id)
    position = data.position
    if position is None:
        position = int(await session.scalar(select(func.coalesce(func.max(TicketCategory.position), -1))) or 0) + 1
    category = TicketCategory(name=data.name.strip(), team_id=data.team_id, position=position, active=data.active)
    session.add(category)
    await _flush_unique(session)
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="ticket_category",
        entity_id=category.id,
        action="created",
        changes=audit.diff({}, _fields(category)),
    )
    _announce(session, actor.user_id, category, "created")
    return CategoryOut.model_validate(category)


def _fields(category: TicketCategory) -> dict[str, Any]:
    return {n: getattr(category, n) for n in FIELDS}


async def update_category(
    session: AsyncSession, actor: Principal, category_id: int, data: CategoryUpdate
) -> CategoryOut:
    category = await session.get(TicketCategory, category_id, with_for_update=True, populate_existing=True)
    if category is None:
        raise NotFound("No such category.")
    check_version(category, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if "team_id" in changes:
        await check_team(session, changes["team_id"])
    for key in ("name", "position", "active"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key} cannot be empty.", field=key)
    before = _fields(category)
    for key, value in changes.items():
        setattr(category, key, value.strip() if key == "name" else value)
    await _flush_unique(session)
    diff = audit.diff(before, _fields(category))
    if diff:
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="ticket_category",
            entity_id=category.id,
            action="updated",
            changes=diff,
        )
        _announce(session, actor.user_id, category, "updated")
    return CategoryOut.model_validate(category)

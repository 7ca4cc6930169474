"""Who may own a record: an active user, and one the actor may hand records to (scope own: only
themselves; scope team: their team; scope all: anyone). Shared by clients, leads and follow-ups."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.models import Team, User
from crm_server.auth.permissions import Principal
from crm_server.contract.auth import Scope
from crm_server.errors import ValidationFailed


async def active_user(session: AsyncSession, user_id: int, field: str = "owner_id") -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise ValidationFailed("No such user.", field=field)
    if not user.active:
        raise ValidationFailed(
            f"{user.full_name} is deactivated and cannot own records.", field=field, code="user_inactive"
        )
    return user


def may_give_to(actor: Principal | None, module: str, owner: User) -> bool:
    if actor is None or owner.id == actor.user_id:
        return True
    scope = actor.scope(module)
    if scope is Scope.all:
        return True
    return scope is Scope.team and actor.team_id is not None and owner.team_id == actor.team_id


async def owner_and_team(
    session: AsyncSession,
    actor: Principal | None,
    module: str,
    owner_id: int | None,
    team_id: int | None,
    *,
    field: str = "owner_id",
) -> tuple[int | None, int | None]:
    """Check a chosen owner and work out the team: the one given, else the owner's."""
    owner = None
    if owner_id is not None:
        owner = await active_user(session, owner_id, field)
        if not may_give_to(actor, module, owner):
            raise ValidationFailed(
                "You can only give records to yourself or your team.", field=field, code="owner_not_allowed"
            )
    if team_id is not None:
        if await session.get(Team, team_id) is None:
            raise ValidationFailed("No such team.", field="team_id")
    else:
        team_id = owner.team_id if owner is not None else None
    check_reach(actor, module, owner_id, team_id)
    return owner_id, team_id


def check_reach(
    actor: Principal | None, module: str, owner_id: int | None, team_id: int | None, field: str = "team_id"
) -> None:
    """A person may put a record only where their scope reaches (see Principal.reaches): moving it to
    another team needs scope all on the module. The system (`actor` None) puts records anywhere."""
    if actor is not None and not actor.reaches(module, owner_id, team_id):
        raise ValidationFailed(
            "This would move the record out of what you may see: only someone who sees "
            "that team's records can move it there.",
            field=field,
            code="team_not_allowed",
        )

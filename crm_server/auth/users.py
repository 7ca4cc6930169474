"""Admin work on people: users, roles and teams. Each change is audited and announced."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, paging
from crm_server.admin import audit
from crm_server.auth import service, sessions
from crm_server.auth.models import Role, Team, User
from crm_server.auth.permissions import Principal, normalise_permissions
from crm_server.concurrency import check_version
from crm_server.contract.auth import (
    Colleague,
    RoleIn,
    RoleOut,
    RoleUpdate,
    TeamIn,
    TeamOut,
    TeamUpdate,
    UserCreate,
    UserOut,
    UserUpdate,
)
from crm_server.contract.common import Page
from crm_server.db import same_text
from crm_server.errors import Conflict, Forbidden, NotFound, ValidationFailed

# Areas that own records register here, so deactivating a user can hand their open work on.
Reassigner = Callable[[AsyncSession, int, int, int], Awaitable[int]]
REASSIGNERS: dict[str, Reassigner] = {}


def register_reassigner(name: str, reassign: Reassigner) -> None:
    REASSIGNERS[name] = reassign


def _fields(record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(record, n) for n in names}


USER_FIELDS = ("email", "full_name", "phone", "team_id", "role_id", "active", "must_change_password")
NOT_EMPTY_USER_FIELDS = ("email", "full_name", "role_id")


def _announce(
    session: AsyncSession,
    actor: Principal,
    entity: str,
    entity_id: int,
    action: str,
    data: dict[str, Any] | None = None,
) -> None:
    events.emit(
        session, module="admin", entity=entity, entity_id=entity_id, action=action, actor_id=actor.user_id, data=data
    )


# --- users ---------------------------------------------------------------------------------------


async def list_users(
    session: AsyncSession,
    principal: Principal,
    search: str | None,
    role_id: int | None,
    team_id: int | None,
    active: bool | None,
    offset: int,
    limit: int,
    after: str | None = None,
) -> Page[UserOut] | Page[Colleague]:
    """Users as an admin (admin.view) sees them, with their sign-in details; as colleagues
    (id, name, email, team) for everyone else, who may not filter by role either."""
    full = principal.can("admin", "view")
    if role_id is not None and not full:
        raise Forbidden("Only admins may list users by role.", field="role_id", code="permission_denied")
    stmt = select(User)
    if search:
        like = f"%{search.strip().lower()}%"
        stmt = stmt.where(func.lower(User.email).like(like) | func.lower(User.full_name).like(like))
    if role_id is not None:
        stmt = stmt.where(User.role_id == role_id)
    if team_id is not None:
        stmt = stmt.where(User.team_id == team_id)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    order = (User.full_name, User.id)
    # Typed pages (paging.page's is generic): the route's answer is one of two shapes, told by type.
    if full:
        return Page[UserOut](
            **dict(await paging.page(session, stmt, offset, limit, UserOut.model_validate, order, after=after))
        )
    return Page[Colleague](
        **dict(await paging.page(session, stmt, offset, limit, Colleague.model_validate, order, after=after))
    )


async def _email_free(session: AsyncSession, email: str, except_id: int | None = None) -> None:
    stmt = select(User.id).where(same_text(User.email, email))
    if except_id is not None:
        stmt = stmt.where(User.id != except_id)
    if await session.scalar(stmt):
        raise ValidationFailed("Another user has this email.", field="email", code="email_taken")


async def _refs_exist(session: AsyncSession, role_id: int | None, team_id: int | None) -> None:
    if role_id is not None and await session.get(Role, role_id) is None:
        raise ValidationFailed("No such role.", field="role_id")
    if team_id is not None and await session.get(Team, team_id) is None:
        raise ValidationFailed("No such team.", field="team_id")


async def get_user(session: AsyncSession, user_id: int, lock: bool = False) -> User:
    user = await session.get(User, user_id, with_for_update=lock)
    if user is None:
        raise NotFound("No such user.")
    return user


async def create_user(session: AsyncSession, actor: Principal, data: UserCreate) -> User:
    email = str(data.email).strip()
    await _email_free(session, email)
    await _refs_exist(session, data.role_id, data.team_id)
    user = User(
        email=email,
        full_name=data.full_name.strip(),
        phone=data.phone,
        team_id=data.team_id,
        role_id=data.role_id,
        must_change_password=data.password is not None,
    )
    session.add(user)
    if data.password is not None:
        await service.set_password(session, user, data.password, temporary=True, field="password")
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="user",
        entity_id=user.id,
        action="created",
        changes=audit.diff({}, _fields(user, USER_FIELDS)),
    )
    _announce(session, actor, "user", user.id, "created")
    if data.password is None:
        await service.send_reset(session, user, actor.address)  # a job mails the code after commit
    return user


async def update_user(session: AsyncSession, actor: Principal, user_id: int, data: UserUpdate) -> User:
    user = await get_user(session, user_id, lock=True)
    check_version(user, data.version)
    before = _fields(user, USER_FIELDS)
    changes = data.model_dump(exclude_unset=True, exclude={"version", "password"})
    for name in NOT_EMPTY_USER_FIELDS:  # null would mean "none", which a user cannot be without
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name}: a user must have one; leave it out to keep it as it is.", field=name)
    if "email" in changes:
        changes["email"] = str(changes["email"]).strip()
        if user.id == actor.user_id and changes["email"].lower() != user.email.lower():
            # One's own email leads to password resets: a stolen session must not move it alone.
            await service.confirm_password(session, user, data.password, actor.address)
        await _email_free(session, changes["email"], user.id)
    await _refs_exist(session, changes.get("role_id"), changes.get("team_id"))
    for key, value in changes.items():
        setattr(user, key, value)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="user",
        entity_id=user.id,
        action="updated",
        changes=audit.diff(before, _fields(user, USER_FIELDS)),
    )
    _announce(session, actor, "user", user.id, "updated")
    return user


async def deactivate_user(
    session: AsyncSession, actor: Principal, user_id: int, version: int, reassign_to: int | None
) -> dict[str, int]:
    """Deactivate, end their sessions, and hand their open records to `reassign_to`."""
    user = await get_user(session, user_id, lock=True)
    check_version(user, version)
    if user.id == actor.user_id:
        raise ValidationFailed("You cannot deactivate yourself.", field="user_id")
    moved: dict[str, int] = {}
    if reassign_to is not None:
        heir = await get_user(session, reassign_to)
        if not heir.active or heir.id == user.id:
            raise ValidationFailed("Records must go to another active user.", field="reassign_to")
        for name, reassign in REASSIGNERS.items():
            moved[name] = await reassign(session, user.id, heir.id, actor.user_id)
    user.active = False
    await sessions.end_all(session, user.id, "deactivated")
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="user",
        entity_id=user.id,
        action="deactivated",
        changes=[
            {"field": "active", "old": True, "new": False},
            *([{"field": "records_reassigned_to", "old": None, "new": reassign_to}] if reassign_to else []),
        ],
    )
    _announce(session, actor, "user", user.id, "deactivated", {"reassigned": moved})
    return moved


async def reactivate_user(session: AsyncSession, actor: Principal, user_id: int, version: int) -> User:
    user = await get_user(session, user_id, lock=True)
    check_version(user, version)
    user.active = True
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="user",
        entity_id=user.id,
        action="reactivated",
        changes=[{"field": "active", "old": False, "new": True}],
    )
    _announce(session, actor, "user", user.id, "updated")
    return user


async def admin_set_password(session: AsyncSession, actor: Principal, user_id: int, password: str) -> None:
    """A temporary password: the user must change it at next sign-in."""
    user = await get_user(session, user_id, lock=True)
    await service.set_password(session, user, password, temporary=True, field="password")
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="user",
        entity_id=user.id,
        action="password_set",
        changes=[{"field": "password_hash", "old": "***", "new": "***"}],
    )
    sessions.log_security(session, "password_set_by_admin", actor_id=actor.user_id, target_user_id=user.id)


async def unlock_user(session: AsyncSession, actor: Principal, user_id: int) -> None:
    user = await get_user(session, user_id, lock=True)
    names = ("locked_until", "lockout_count")
    before = _fields(user, names)
    await service.unlock(session, actor, user.id)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="user",
        entity_id=user.id,
        action="unlocked",
        changes=audit.diff(before, _fields(user, names)),
    )
    _announce(session, actor, "user", user.id, "updated")


async def reset_2fa(session: AsyncSession, actor: Principal, user_id: int) -> None:
    """Two-factor sign-in off and the recovery codes void: the user sets it up again."""
    user = await get_user(session, user_id, lock=True)
    before = user.totp_enabled
    await service.reset_totp(session, actor, user.id)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="user",
        entity_id=user.id,
        action="totp_reset",
        changes=[
            {"field": "totp_enabled", "old": before, "new": False},
            {"field": "totp_secret", "old": "***", "new": "***"},
        ],
    )
    _announce(session, actor, "user", user.id, "updated")


# --- roles ---------------------------------------------------------------------------------------


async def list_roles(session: AsyncSession) -> list[RoleOut]:
    counts = dict(
        (
            await session.execute(
                select(User.role_id, func.count()).where(User.active.is_(True)).group_by(User.role_id)
            )
        ).all()
    )
    roles = (await session.scalars(select(Role).order_by(Role.id))).all()
    return [RoleOut.model_validate(r).model_copy(update={"user_count": counts.get(r.id, 0)}) for r in roles]


async def _role_name_free(session: AsyncSession, name: str, except_id: int | None = None) -> None:
    stmt = select(Role.id).where(same_text(Role.name, name))
    if except_id is not None:
        stmt = stmt.where(Role.id != except_id)
    if await session.scalar(stmt):
        raise ValidationFailed("A role with this name exists.", field="name", code="name_taken")


def _role_dump(role: Role) -> dict[str, Any]:
    return {
        "name": role.name,
        "description": role.description,
        "require_2fa": role.require_2fa,
        "permissions": role.permissions,
    }


async def create_role(session: AsyncSession, actor: Principal, data: RoleIn) -> Role:
    await _role_name_free(session, data.name)
    role = Role(
        name=data.name.strip(),
        description=data.description,
        require_2fa=data.require_2fa,
        permissions=normalise_permissions(data.model_dump(mode="json")["permissions"]),
    )
    session.add(role)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="role",
        entity_id=role.id,
        action="created",
        changes=audit.diff({}, _role_dump(role)),
    )
    _announce(session, actor, "role", role.id, "created")
    return role


async def update_role(session: AsyncSession, actor: Principal, role_id: int, data: RoleUpdate) -> Role:
    role = await session.get(Role, role_id, with_for_update=True)
    if role is None:
        raise NotFound("No such role.")
    check_version(role, data.version)
    await _role_name_free(session, data.name, role.id)
    before = _role_dump(role)
    role.name = data.name.strip()
    role.description = data.description
    role.require_2fa = data.require_2fa
    role.permissions = normalise_permissions(data.model_dump(mode="json")["permissions"])
    if role.builtin and role.name.lower() == "admin" and "admin" not in role.permissions:
        raise ValidationFailed("The Admin role keeps the admin permission.", field="permissions")
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="role",
        entity_id=role.id,
        action="updated",
        changes=audit.diff(before, _role_dump(role)),
    )
    _announce(session, actor, "role", role.id, "updated")
    return role


async def delete_role(session: AsyncSession, actor: Principal, role_id: int) -> None:
    role = await session.get(Role, role_id, with_for_update=True)
    if role is None:
        raise NotFound("No such role.")
    users = await session.scalar(select(func.count()).select_from(User).where(User.role_id == role_id))
    if users:
        raise Conflict(f"{users} user(s) still have this role; give them another role first.", code="role_in_use")
    if role.builtin:
        raise Conflict("Built-in roles cannot be deleted; copy and edit them instead.", code="role_builtin")
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="role",
        entity_id=role.id,
        action="deleted",
        changes=audit.diff(_role_dump(role), {}),
    )
    await session.delete(role)
    _announce(session, actor, "role", role_id, "deleted")


# --- teams ---------------------------------------------------------------------------------------


async def team_out(session: AsyncSession, team: Team) -> TeamOut:
    members = (await session.scalars(select(User.id).where(User.team_id == team.id).order_by(User.id))).all()
    return TeamOut(
        id=team.id, name=team.name, lead_user_id=team.lead_user_id, member_ids=list(members), version=team.version
    )


async def list_teams(session: AsyncSession) -> list[TeamOut]:
    teams = (await session.scalars(select(Team).order_by(Team.name))).all()
    members: dict[int, list[int]] = {}
    for user_id, team_id in (
        await session.execute(select(User.id, User.team_id).where(User.team_id.is_not(None)).order_by(User.id))
    ).all():
        if team_id is not None:  # (the query has none; the column may)
            members.setdefault(team_id, []).append(user_id)
    return [
        TeamOut(id=t.id, name=t.name, lead_user_id=t.lead_user_id, member_ids=members.get(t.id, []), version=t.version)
        for t in teams
    ]


async def _team_name_free(session: AsyncSession, name: str, except_id: int | None = None) -> None:
    stmt = select(Team.id).where(same_text(Team.name, name))
    if except_id is not None:
        stmt = stmt.where(Team.id != except_id)
    if await session.scalar(stmt):
        raise ValidationFailed("A team with this name exists.", field="name", code="name_taken")


async def _apply_team(session: AsyncSession, team: Team, data: TeamIn) -> None:
    team.name = data.name.strip()
    if data.member_ids is not None:
        await session.flush()
        await session.execute(
            update(User).where(User.team_id == team.id, User.id.not_in(data.member_ids)).values(team_id=None)
        )
        if data.member_ids:
            await session.execute(update(User).where(User.id.in_(data.member_ids)).values(team_id=team.id))
    if data.lead_user_id is not None:
        lead = await session.get(User, data.lead_user_id)
        if lead is None:
            raise ValidationFailed("No such user.", field="lead_user_id")
    team.lead_user_id = data.lead_user_id


async def create_team(session: AsyncSession, actor: Principal, data: TeamIn) -> Team:
    await _team_name_free(session, data.name)
    team = Team(name=data.name.strip())
    session.add(team)
    await _apply_team(session, team, data)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="team",
        entity_id=team.id,
        action="created",
        changes=audit.diff({}, data.model_dump()),
    )
    _announce(session, actor, "team", team.id, "created")
    return team


async def update_team(session: AsyncSession, actor: Principal, team_id: int, data: TeamUpdate) -> Team:
    team = await session.get(Team, team_id, with_for_update=True)
    if team is None:
        raise NotFound("No such team.")
    check_version(team, data.version)
    await _team_name_free(session, data.name, team.id)
    before = (await team_out(session, team)).model_dump(exclude={"id", "version"})
    await _apply_team(session, team, data)
    await session.flush()
    after = (await team_out(session, team)).model_dump(exclude={"id", "version"})
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="team",
        entity_id=team.id,
        action="updated",
        changes=audit.diff(before, after),
    )
    _announce(session, actor, "team", team.id, "updated")
    return team


async def create_first_admin(session: AsyncSession, email: str, full_name: str, password: str) -> User:
    """For `crm-server create-admin`: an admin with a chosen (not temporary) password."""
    role_id = await session.scalar(select(Role.id).where(Role.builtin.is_(True), func.lower(Role.name) == "admin"))
    if role_id is None:
        raise ValidationFailed("The built-in Admin role is missing; run `crm-server migrate`.", field="role")
    email = email.strip()
    await _email_free(session, email)
    user = User(email=email, full_name=full_name, role_id=role_id)
    session.add(user)
    await service.set_password(session, user, password, temporary=False, field="password")
    await session.flush()
    audit.record(
        session,
        actor_id=None,
        entity="user",
        entity_id=user.id,
        action="created",
        changes=audit.diff({}, _fields(user, USER_FIELDS)),
    )
    return user

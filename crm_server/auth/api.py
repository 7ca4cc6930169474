"""HTTP routes of the auth area: parse, authorize, call the service, serialize."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from crm_server.auth import blocks, logs, service, sessions, throttle, users
from crm_server.auth.permissions import Principal
from crm_server.contract.auth import (
    BlockedAddressIn,
    BlockedAddressOut,
    ChangePasswordRequest,
    Colleague,
    DeactivateRequest,
    FailureGroup,
    ForgotPasswordRequest,
    LoginRecord,
    LoginRequest,
    LoginResponse,
    Me,
    PasswordConfirm,
    RecoveryCodes,
    ResetPasswordRequest,
    RoleIn,
    RoleOut,
    RoleUpdate,
    SecurityEventOut,
    SetPasswordRequest,
    TeamIn,
    TeamOut,
    TeamUpdate,
    TotpConfirm,
    TotpSetup,
    UserCreate,
    UserOut,
    UserUpdate,
)
from crm_server.contract.common import After, Ok, Page
from crm_server.db import utcnow
from crm_server.routing import CurrentUser, Session, TxRoute, client_address, require, signed_in

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["auth"])

Limit = Annotated[int, Query(ge=1, le=500)]


# --- signing in ----------------------------------------------------------------------------------


@router.post("/auth/login", response_model=LoginResponse)
async def login(body: LoginRequest, request: Request, session: Session) -> LoginResponse:
    client = body.client or request.headers.get("user-agent", "")[:200]
    token, expires_at, me = await service.login(
        request.app.state.db, session, body.email, body.password, body.otp, client_address(request), client
    )
    return LoginResponse(token=token, expires_at=expires_at, user=me)


# Usable while signing in is still pending (a temporary password, 2FA the role requires); every
# other route refuses such a session (routing.current_principal).
AnyStep = Annotated[Principal, signed_in(sessions.PASSWORD_CHANGE, sessions.TOTP_SETUP)]
ChangingPassword = Annotated[Principal, signed_in(sessions.PASSWORD_CHANGE)]
SettingUpTotp = Annotated[Principal, signed_in(sessions.TOTP_SETUP)]


@router.post("/auth/logout", response_model=Ok)
async def logout(principal: AnyStep, session: Session) -> Ok:
    assert principal.session_id is not None
    await sessions.end(session, principal.session_id, "logout")
    return Ok()


@router.get("/auth/me", response_model=Me)
async def me(principal: AnyStep, session: Session) -> Me:
    return await service.me(session, principal.user_id)


@router.post("/auth/change-password", response_model=Ok)
async def change_password(body: ChangePasswordRequest, principal: ChangingPassword, session: Session) -> Ok:
    await service.change_password(session, principal, body.current_password, body.new_password)
    return Ok()


@router.post("/auth/forgot-password", response_model=Ok)
async def forgot_password(body: ForgotPasswordRequest, request: Request, session: Session) -> Ok:
    await service.request_reset(request.app.state.db, body.email, client_address(request))
    return Ok()


@router.post("/auth/reset-password", response_model=Ok)
async def reset_password(body: ResetPasswordRequest, session: Session) -> Ok:
    await service.reset_password(session, body.token, body.new_password)
    return Ok()


@router.post("/auth/totp/begin", response_model=TotpSetup)
async def totp_begin(principal: SettingUpTotp, session: Session) -> TotpSetup:
    return await service.begin_totp(session, principal)


@router.post("/auth/totp/confirm", response_model=RecoveryCodes)
async def totp_confirm(body: TotpConfirm, principal: SettingUpTotp, session: Session) -> RecoveryCodes:
    return RecoveryCodes(codes=await service.confirm_totp(session, principal, body.code))


@router.post("/auth/totp/recovery-codes", response_model=RecoveryCodes)
async def recovery_codes(body: PasswordConfirm, principal: CurrentUser, session: Session) -> RecoveryCodes:
    """New recovery codes (the unused old ones stop working); asks for the password again."""
    return RecoveryCodes(codes=await service.regenerate_recovery_codes(session, principal, body.password))


@router.post("/auth/totp/disable", response_model=Ok)
async def totp_disable(body: PasswordConfirm, principal: CurrentUser, session: Session) -> Ok:
    """Turn one's own two-factor sign-in off, unless the role requires it; asks for the password again."""
    await service.disable_totp(session, principal, body.password)
    return Ok()


# --- users ---------------------------------------------------------------------------------------


@router.get("/users", response_model=Page[UserOut] | Page[Colleague])
async def list_users(
    session: Session,
    principal: CurrentUser,
    search: str | None = None,
    role_id: int | None = None,
    team_id: int | None = None,
    active: bool | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Limit = 100,
    after: After = None,
) -> Page[UserOut] | Page[Colleague]:
    """Every signed-in user may list colleagues (owner pickers): id, name, email, team. Admins
    (admin.view) get each user's whole record (UserOut) for the users page; editing needs admin.edit."""
    return await users.list_users(session, principal, search, role_id, team_id, active, offset, limit, after)


@router.get("/users/{user_id}", response_model=UserOut, dependencies=[require("admin", "view")])
async def get_user(user_id: int, session: Session) -> UserOut:
    return UserOut.model_validate(await users.get_user(session, user_id))


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(body: UserCreate, session: Session, actor: Principal = require("admin", "create")) -> UserOut:
    return UserOut.model_validate(await users.create_user(session, actor, body))


@router.patch("/users/{user_id}", response_model=UserOut)
async def update_user(
    user_id: int, body: UserUpdate, session: Session, actor: Principal = require("admin", "edit")
) -> UserOut:
    return UserOut.model_validate(await users.update_user(session, actor, user_id, body))


@router.post("/users/{user_id}/deactivate", response_model=dict[str, int])
async def deactivate_user(
    user_id: int, body: DeactivateRequest, session: Session, actor: Principal = require("admin", "edit")
) -> dict[str, int]:
    return await users.deactivate_user(session, actor, user_id, body.version, body.reassign_to)


@router.post("/users/{user_id}/reactivate", response_model=UserOut)
async def reactivate_user(
    user_id: int, body: DeactivateRequest, session: Session, actor: Principal = require("admin", "edit")
) -> UserOut:
    return UserOut.model_validate(await users.reactivate_user(session, actor, user_id, body.version))


@router.post("/users/{user_id}/unlock", response_model=Ok)
async def unlock_user(user_id: int, session: Session, actor: Principal = require("admin", "edit")) -> Ok:
    await users.unlock_user(session, actor, user_id)
    return Ok()


@router.post("/users/{user_id}/password", response_model=Ok)
async def set_password(
    user_id: int, body: SetPasswordRequest, session: Session, actor: Principal = require("admin", "edit")
) -> Ok:
    await users.admin_set_password(session, actor, user_id, body.password)
    return Ok()


@router.post("/users/{user_id}/send-reset", response_model=Ok)
async def send_reset(user_id: int, session: Session, actor: Principal = require("admin", "edit")) -> Ok:
    user = await users.get_user(session, user_id)
    await service.send_reset(session, user, actor.address)
    return Ok()


@router.post("/users/{user_id}/reset-2fa", response_model=Ok)
async def reset_2fa(user_id: int, session: Session, actor: Principal = require("admin", "edit")) -> Ok:
    await users.reset_2fa(session, actor, user_id)
    return Ok()


# --- roles and teams -----------------------------------------------------------------------------


@router.get("/roles", response_model=list[RoleOut])
async def list_roles(session: Session, _: CurrentUser) -> list[RoleOut]:
    return await users.list_roles(session)


@router.post("/roles", response_model=RoleOut, status_code=201)
async def create_role(body: RoleIn, session: Session, actor: Principal = require("admin", "create")) -> RoleOut:
    return RoleOut.model_validate(await users.create_role(session, actor, body))


@router.put("/roles/{role_id}", response_model=RoleOut)
async def update_role(
    role_id: int, body: RoleUpdate, session: Session, actor: Principal = require("admin", "edit")
) -> RoleOut:
    return RoleOut.model_validate(await users.update_role(session, actor, role_id, body))


@router.delete("/roles/{role_id}", response_model=Ok)
async def delete_role(role_id: int, session: Session, actor: Principal = require("admin", "delete")) -> Ok:
    await users.delete_role(session, actor, role_id)
    return Ok()


@router.get("/teams", response_model=list[TeamOut])
async def list_teams(session: Session, _: CurrentUser) -> list[TeamOut]:
    return await users.list_teams(session)


@router.post("/teams", response_model=TeamOut, status_code=201)
async def create_team(body: TeamIn, session: Session, actor: Principal = require("admin", "create")) -> TeamOut:
    return await users.team_out(session, await users.create_team(session, actor, body))


@router.put("/teams/{team_id}", response_model=TeamOut)
async def update_team(
    team_id: int, body: TeamUpdate, session: Session, actor: Principal = require("admin", "edit")
) -> TeamOut:
    return await users.team_out(session, await users.update_team(session, actor, team_id, body))


# --- logs ----------------------------------------------------------------------------------------


@router.get("/login-history", response_model=Page[LoginRecord], dependencies=[require("admin", "view")])
async def login_history(
    session: Session,
    user_id: int | None = None,
    result: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Limit = 100,
    after: After = None,
) -> Page[LoginRecord]:
    return await logs.login_history(session, user_id, result, since, until, offset, limit, after)


@router.get("/security-log", response_model=Page[SecurityEventOut], dependencies=[require("admin", "view")])
async def security_log(
    session: Session,
    kind: str | None = None,
    user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Limit = 100,
    after: After = None,
) -> Page[SecurityEventOut]:
    return await logs.security_log(session, kind, user_id, since, until, offset, limit, after)


# --- failed sign-ins by address, blocked addresses -------------------------------------------------


@router.get("/security-log/failures", response_model=Page[FailureGroup], dependencies=[require("admin", "view")])
async def failure_groups(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    min_count: Annotated[int, Query(ge=1, le=1_000_000)] = 2,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Limit = 100,
    after: After = None,
) -> Page[FailureGroup]:
    start = since or utcnow() - timedelta(days=1)
    return await throttle.failure_groups(session, start, until, min_count, offset, limit, after)


@router.get("/blocked-addresses", response_model=Page[BlockedAddressOut], dependencies=[require("admin", "view")])
async def blocked_addresses(
    session: Session,
    active: bool | None = True,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Limit = 100,
    after: After = None,
) -> Page[BlockedAddressOut]:
    return await blocks.list_blocks(session, active, offset, limit, after)


@router.post("/blocked-addresses", response_model=BlockedAddressOut, status_code=201)
async def block_address(
    body: BlockedAddressIn, session: Session, actor: Principal = require("admin", "edit")
) -> BlockedAddressOut:
    return await blocks.block(session, actor, body.address, body.reason)


@router.post("/blocked-addresses/{block_id}/lift", response_model=BlockedAddressOut)
async def lift_block(block_id: int, session: Session, actor: Principal = require("admin", "edit")) -> BlockedAddressOut:
    return await blocks.lift(session, actor, block_id)

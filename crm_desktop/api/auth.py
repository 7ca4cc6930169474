"""Typed calls for signing in and one's own account; the wire models come from crm_server.contract."""

from __future__ import annotations

from crm_desktop.api.client import ApiClient
from crm_server.contract.auth import Colleague, LoginResponse, Me, RecoveryCodes, TotpSetup
from crm_server.contract.common import Page

CLIENT_NAME = "CRM desktop"


async def login(api: ApiClient, email: str, password: str, otp: str | None = None) -> LoginResponse:
    """Sign in; on success the client carries the new token. Raises ApiError (otp_required, ...)."""
    body = await api.request(
        "POST",
        "/api/auth/login",
        retry=False,
        json={"email": email, "password": password, "otp": otp or None, "client": CLIENT_NAME},
    )
    response = LoginResponse.model_validate(body)
    api.token = response.token
    return response


async def logout(api: ApiClient) -> None:
    try:
        await api.request("POST", "/api/auth/logout", retry=False)
    finally:
        api.token = None


async def me(api: ApiClient) -> Me:
    return Me.model_validate(await api.get("/api/auth/me"))


async def change_password(api: ApiClient, current: str, new: str) -> None:
    await api.post("/api/auth/change-password", {"current_password": current, "new_password": new})


async def forgot_password(api: ApiClient, email: str) -> None:
    await api.post("/api/auth/forgot-password", {"email": email})


async def reset_password(api: ApiClient, token: str, new_password: str) -> None:
    await api.post("/api/auth/reset-password", {"token": token, "new_password": new_password})


async def begin_totp(api: ApiClient) -> TotpSetup:
    return TotpSetup.model_validate(await api.post("/api/auth/totp/begin"))


async def confirm_totp(api: ApiClient, code: str) -> RecoveryCodes:
    return RecoveryCodes.model_validate(await api.post("/api/auth/totp/confirm", {"code": code}))


async def regenerate_recovery_codes(api: ApiClient, password: str) -> RecoveryCodes:
    """New recovery codes (the old unused ones stop working); the password is asked again."""
    return RecoveryCodes.model_validate(await api.post("/api/auth/totp/recovery-codes", {"password": password}))


async def disable_totp(api: ApiClient, password: str) -> None:
    await api.post("/api/auth/totp/disable", {"password": password})


async def colleagues(
    api: ApiClient,
    search: str | None = None,
    *,
    active: bool | None = None,
    team_id: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[Colleague]:
    """Users as any colleague sees them (owner pickers, filters). An admin is answered with whole
    records (UserOut); they are read as colleagues here, so every caller sees one shape."""
    answer = await api.get(
        "/api/users", search=search or None, active=active, team_id=team_id, offset=offset, limit=limit
    )
    items = [Colleague.model_validate({k: user.get(k) for k in Colleague.model_fields}) for user in answer["items"]]
    return Page[Colleague](
        items=items,
        total=answer["total"],
        offset=answer["offset"],
        limit=answer["limit"],
        total_exact=answer.get("total_exact", True),
    )

"""A sign-in still pending (a temporary password to change, 2FA the role requires and the user has
not set up) blocks everything but finishing it: every /api route of the OpenAPI document is walked,
so a route added later is covered without anyone remembering to, and the live stream refuses too."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pyotp
import pytest
from sqlalchemy import update
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from crm_server.auth.models import Role
from tests.support import OPENAPI_SECONDS, PASSWORD, LiveServer

EMAIL = "pending@example.com"
PASSWORD_CHANGE = "password_change_required"
TOTP_SETUP = "totp_setup_required"
# Routes that need no session at all (signing in, the emailed reset, and the version the desktop
# checks before it signs in).
PUBLIC = {
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/forgot-password"),
    ("POST", "/api/auth/reset-password"),
    ("GET", "/api/version"),
}
# What a pending session may still do: look at itself, sign out, and finish the step.
FINISHING = {
    PASSWORD_CHANGE: {("GET", "/api/auth/me"), ("POST", "/api/auth/logout"), ("POST", "/api/auth/change-password")},
    TOTP_SETUP: {
        ("GET", "/api/auth/me"),
        ("POST", "/api/auth/logout"),
        ("POST", "/api/auth/totp/begin"),
        ("POST", "/api/auth/totp/confirm"),
    },
}
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


async def _routes(api: httpx.AsyncClient) -> list[tuple[str, str]]:
    spec = (await api.get("/openapi.json", timeout=OPENAPI_SECONDS)).json()
    routes = [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        if path.startswith("/api/")
        for method in operations
        if method.upper() in METHODS
    ]
    # The walk is only worth something if it sees the whole API, the areas the issue named included.
    paths = {path for _, path in routes}
    assert {"/api/search", "/api/users", "/api/roles", "/api/teams", "/api/auth/me"} <= paths
    assert any(p.startswith("/api/notifications") for p in paths)
    assert len(routes) > 100
    return routes


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)  # any id will do: the gate answers before the record is read


async def _walk(server: LiveServer, token: str, pending: str) -> None:
    async with server.client() as anonymous, server.client(token) as api:
        routes = await _routes(anonymous)
        wrong: list[str] = []
        for method, path in routes:
            if (method, path) in PUBLIC:
                continue
            alone = await anonymous.request(method, _url(path))
            if alone.status_code != 401:  # a new route without a session check must be a choice
                wrong.append(f"{method} {path}: {alone.status_code} without a session (add it to PUBLIC?)")
                continue
            if (method, path) in FINISHING[pending]:
                continue
            answer = await api.request(method, _url(path))
            if answer.status_code != 403 or answer.json().get("code") != pending:
                wrong.append(f"{method} {path}: {answer.status_code} {answer.text[:120]}")
        assert not wrong, "\n".join(wrong)
        me = await api.get("/api/auth/me")
        assert me.status_code == 200
        blocked = await api.get("/api/users")
        assert blocked.json()["message"]  # a sentence for the person, not only a code


async def test_a_temporary_password_blocks_every_route_but_changing_it(server: LiveServer) -> None:
    await server.create_user(EMAIL, must_change_password=True)
    async with server.client() as api:
        body = await server.login(api, EMAIL)
        assert body["user"]["must_change_password"] is True
        await _walk(server, body["token"], PASSWORD_CHANGE)
        # Setting up 2FA does not count as finishing this step.
        assert (await api.post("/api/auth/totp/begin")).json()["code"] == PASSWORD_CHANGE
        change = {"current_password": PASSWORD, "new_password": "my own secret words"}
        assert (await api.post("/api/auth/change-password", json=change)).status_code == 200
        assert (await api.get("/api/users")).status_code == 200
        assert (await api.get("/api/search", params={"q": "x"})).status_code == 200
        assert (await api.post("/api/auth/logout")).status_code == 200


async def _require_2fa(server: LiveServer, role: str = "Salesperson") -> None:
    async with server.session() as s:
        await s.execute(update(Role).where(Role.name == role).values(require_2fa=True))


async def test_2fa_the_role_requires_blocks_every_route_but_setting_it_up(server: LiveServer) -> None:
    await server.create_user(EMAIL)
    await _require_2fa(server)
    async with server.client() as api:
        body = await server.login(api, EMAIL)
        await _walk(server, body["token"], TOTP_SETUP)
        assert (await api.get("/api/auth/me")).json()["totp_required"] is True
        setup = (await api.post("/api/auth/totp/begin")).json()
        confirmed = await api.post("/api/auth/totp/confirm", json={"code": pyotp.TOTP(setup["secret"]).now()})
        assert confirmed.status_code == 200 and len(confirmed.json()["codes"]) == 10
        assert (await api.get("/api/users")).status_code == 200
        assert (await api.get("/api/roles")).status_code == 200


async def test_the_live_stream_refuses_a_pending_session(server: LiveServer) -> None:
    await server.create_user(EMAIL, must_change_password=True)
    async with server.client() as api:
        token = (await server.login(api, EMAIL))["token"]
    with pytest.raises(InvalidStatus) as refused:
        await connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    assert refused.value.response.status_code == 403


async def test_an_open_stream_ends_when_the_role_starts_requiring_2fa(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await server.create_user(EMAIL)
    async with server.client() as api:
        token = (await server.login(api, EMAIL))["token"]
    ws = await connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    try:
        assert json.loads(await ws.recv())["type"] == "hello"
        sales = next(r for r in (await admin.get("/api/roles")).json() if r["name"] == "Salesperson")
        body = {**{k: sales[k] for k in ("name", "description", "permissions", "version")}, "require_2fa": True}
        assert (await admin.put(f"/api/roles/{sales['id']}", json=body)).status_code == 200
        with pytest.raises(ConnectionClosed) as closed:
            while True:  # the role's own event makes the server look at the session again
                await asyncio.wait_for(ws.recv(), 30)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403 and closed.value.rcvd.reason == TOTP_SETUP
    finally:
        await ws.close()

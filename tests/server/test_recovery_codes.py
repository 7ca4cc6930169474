"""2FA hygiene: recovery codes of 80 random bits kept only as salted slow hashes; new codes, turning
2FA off and changing one's own email ask for the password again; an admin's unlock and 2FA reset
are audited and announced like every other change to a user."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pyotp
from sqlalchemy import select, update
from websockets.asyncio.client import connect

from crm_server.auth.models import RecoveryCode, Role, User
from crm_server.db import utcnow
from tests.support import ADMIN_EMAIL, PASSWORD, LiveServer

EMAIL = "sam@example.com"
BASE32 = set("abcdefghijklmnopqrstuvwxyz234567")


async def _enrol(api: httpx.AsyncClient) -> tuple[str, list[str]]:
    setup = (await api.post("/api/auth/totp/begin")).json()
    codes = (await api.post("/api/auth/totp/confirm", json={"code": pyotp.TOTP(setup["secret"]).now()})).json()
    return setup["secret"], codes["codes"]


async def _login(server: LiveServer, otp: str | None = None, password: str = PASSWORD) -> httpx.Response:
    async with server.client() as api:
        return await api.post("/api/auth/login", json={"email": EMAIL, "password": password, "otp": otp})


def _password_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "password" and answer.json()["message"]


async def test_codes_have_80_random_bits_and_only_a_salted_hash_is_kept(server: LiveServer) -> None:
    user_id = await server.create_user(EMAIL)
    async with server.client() as api:
        await server.login(api, EMAIL)
        _, codes = await _enrol(api)
    assert len(set(codes)) == 10
    for code in codes:
        plain = code.replace("-", "")
        # 20 base32 characters: 4 that find the row, 16 (80 bits) that nothing stored gives away.
        assert len(plain) == 20 and set(plain) <= BASE32
    async with server.session() as s:
        rows = (await s.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id))).all()
    assert len(rows) == 10 and len({r.code_hash for r in rows}) == 10
    stored = " ".join(f"{r.lookup} {r.code_hash}" for r in rows)
    for row in rows:
        assert row.code_hash.startswith("$argon2id$")  # salted and slow, not a bare SHA-256
    for code in codes:
        assert code.replace("-", "")[4:] not in stored
    # A code works once, typed with or without dashes, in either case; a made-up one with a real
    # code's lookup characters does not.
    assert (await _login(server, codes[0].replace("-", " ").upper())).status_code == 200
    assert (await _login(server, codes[0])).json()["code"] == "bad_otp"
    forged = codes[1][:5] + "aaaa-aaaa-aaaa-aaaa"
    assert forged != codes[1]
    assert (await _login(server, forged)).json()["code"] == "bad_otp"
    assert (await _login(server, codes[1])).status_code == 200


async def test_new_codes_need_the_password_and_void_the_old_ones(server: LiveServer) -> None:
    await server.create_user(EMAIL)
    async with server.client() as api:
        await server.login(api, EMAIL)
        _, old = await _enrol(api)
        _password_refused(await api.post("/api/auth/totp/recovery-codes", json={}))
        _password_refused(await api.post("/api/auth/totp/recovery-codes", json={"password": "not my password 1"}))
        fresh = await api.post("/api/auth/totp/recovery-codes", json={"password": PASSWORD})
        assert fresh.status_code == 200, fresh.text
        new = fresh.json()["codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert (await _login(server, old[2])).json()["code"] == "bad_otp"
    assert (await _login(server, new[2])).status_code == 200


async def test_turning_2fa_off_needs_the_password_and_is_refused_when_the_role_requires_it(server: LiveServer) -> None:
    await server.create_user(EMAIL)
    async with server.client() as api:
        await server.login(api, EMAIL)
        _, codes = await _enrol(api)
        _password_refused(await api.post("/api/auth/totp/disable", json={"password": "not my password 1"}))
        assert (await api.get("/api/auth/me")).json()["totp_enabled"] is True
        async with server.session() as s:
            await s.execute(update(Role).where(Role.name == "Salesperson").values(require_2fa=True))
        required = await api.post("/api/auth/totp/disable", json={"password": PASSWORD})
        assert required.status_code == 400 and required.json()["code"] == "totp_required"
        async with server.session() as s:
            await s.execute(update(Role).where(Role.name == "Salesperson").values(require_2fa=False))
        off = await api.post("/api/auth/totp/disable", json={"password": PASSWORD})
        assert off.status_code == 200, off.text
        assert (await api.get("/api/auth/me")).json()["totp_enabled"] is False
    assert (await _login(server)).status_code == 200  # no code asked any more
    async with server.session() as s:  # and the recovery codes are void
        unused = (await s.scalars(select(RecoveryCode).where(RecoveryCode.used_at.is_(None)))).all()
    assert unused == []
    assert codes


async def test_changing_ones_own_email_needs_the_password(server: LiveServer, admin: httpx.AsyncClient) -> None:
    me = (await admin.get("/api/auth/me")).json()
    other_id = await server.create_user(EMAIL)

    async def patch(user_id: int, **body: Any) -> httpx.Response:
        version = (await admin.get(f"/api/users/{user_id}")).json()["version"]
        return await admin.patch(f"/api/users/{user_id}", json={"version": version, **body})

    _password_refused(await patch(me["id"], email="ada@example.org"))
    _password_refused(await patch(me["id"], email="ada@example.org", password="not my password 1"))
    assert (await patch(me["id"], full_name="Ada Lovelace")).status_code == 200  # other fields: no password
    assert (await patch(me["id"], email=ADMIN_EMAIL.upper())).status_code == 200  # same address, other case
    moved = await patch(me["id"], email="ada@example.org", password=PASSWORD)
    assert moved.status_code == 200 and moved.json()["email"] == "ada@example.org"
    # An admin moving someone else's email is an admin's ordinary work.
    assert (await patch(other_id, email="samantha@example.com")).status_code == 200


async def _next_user_event(ws: Any, user_id: int) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if frame.get("type") == "event" and frame["entity"] == "user" and frame["entity_id"] == user_id:
            return frame  # type: ignore[no-any-return]


async def test_unlock_and_2fa_reset_are_audited_and_announced(server: LiveServer, admin: httpx.AsyncClient) -> None:
    user_id = await server.create_user(EMAIL)
    async with server.client() as api:
        await server.login(api, EMAIL)
        await _enrol(api)
    async with server.session() as s:
        await s.execute(
            update(User)
            .where(User.id == user_id)
            .values(locked_until=utcnow() + timedelta(minutes=15), lockout_count=1)
        )
    token = admin.headers["Authorization"].partition(" ")[2]
    ws = await connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    try:
        assert json.loads(await ws.recv())["type"] == "hello"
        assert (await admin.post(f"/api/users/{user_id}/unlock")).status_code == 200
        unlocked = await _next_user_event(ws, user_id)
        assert unlocked["module"] == "admin" and unlocked["action"] == "updated"
        assert (await admin.post(f"/api/users/{user_id}/reset-2fa")).status_code == 200
        await _next_user_event(ws, user_id)
    finally:
        await ws.close()
    rows = (await admin.get("/api/audit", params={"entity": "user", "entity_id": user_id})).json()["items"]
    by_action = {row["action"]: row for row in rows}
    admin_id = (await admin.get("/api/auth/me")).json()["id"]
    unlock = by_action["unlocked"]
    assert unlock["actor_id"] == admin_id
    assert {c["field"]: c["new"] for c in unlock["changes"]} == {"locked_until": None, "lockout_count": 0}
    reset = by_action["totp_reset"]
    assert reset["actor_id"] == admin_id
    assert {"field": "totp_enabled", "old": True, "new": False} in reset["changes"]
    assert "***" in json.dumps(reset["changes"])  # the secret itself is never written

"""Signing in: lockout, throttling, sessions, 2FA, password reset and policy (ASVS level 2 rules)."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from sqlalchemy import select

from crm_server.auth.models import AuthSession, User
from crm_server.db import utcnow
from tests.server.test_jobs import workers
from tests.support import PASSWORD, LiveServer

EMAIL = "sam@example.com"


async def _login(api, email=EMAIL, password=PASSWORD, otp=None):  # type: ignore[no-untyped-def]
    return await api.post("/api/auth/login", json={"email": email, "password": password, "otp": otp})


async def test_wrong_password_and_unknown_email_answer_alike(server: LiveServer) -> None:
    await server.create_user(EMAIL)
    async with server.client() as api:
        wrong = await _login(api, password="not the password at all")
        unknown = await _login(api, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"code": "bad_credentials", "message": "Wrong email or password."}


async def test_email_is_case_insensitive_and_session_works(server: LiveServer) -> None:
    await server.create_user(EMAIL)
    async with server.client() as api:
        body = await server.login(api, EMAIL.upper())
        assert len(body["token"]) >= 32
        me = await api.get("/api/auth/me")
        assert me.json()["email"] == EMAIL
    async with server.session() as s:
        stored = (await s.scalars(select(AuthSession.token_hash))).all()
    assert body["token"] not in stored  # only the hash is kept


async def test_admin_unlocks(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    # How an account gets locked (many failures from several addresses) is in test_auth_sign_in.py.
    user_id = await server.create_user(EMAIL, locked_until=utcnow() + timedelta(hours=1))
    async with server.client() as api:
        assert (await _login(api)).json()["code"] == "bad_credentials"  # a lock answers like a wrong password
        assert (await admin.post(f"/api/users/{user_id}/unlock")).status_code == 200
        assert (await _login(api)).status_code == 200
    log = (await admin.get("/api/security-log", params={"kind": "account_unlocked"})).json()
    assert log["total"] == 1 and log["items"][0]["target_user_id"] == user_id


async def test_attempts_are_throttled_per_address(server: LiveServer) -> None:
    async with server.client() as api:
        codes = [(await _login(api, email=f"x{i}@example.com")).status_code for i in range(31)]
    assert codes[:30] == [401] * 30
    assert codes[30] == 429


async def test_the_password_prompt_of_a_signed_in_session_is_throttled_like_sign_in(server: LiveServer) -> None:
    """A stolen session cannot guess the password at "enter your password again": wrong tries there
    count as failed sign-ins from that address, and the delays apply to both doors."""
    await server.create_user(EMAIL)
    async with server.client() as api:
        await server.login(api, EMAIL)
        answers = []
        for i in range(7):
            wrong = {"current_password": f"guess number {i}", "new_password": "a brand new passphrase 42"}
            answers.append(await api.post("/api/auth/change-password", json=wrong))
        assert [a.json()["code"] for a in answers[:5]] == ["password_wrong"] * 5
        assert answers[5].json()["field"] == "current_password"
        throttled = answers[-1]
        assert throttled.status_code == 429 and throttled.json()["code"] == "password_throttled", throttled.text
        assert int(throttled.headers["Retry-After"]) > 0
        # The right password waits too, and so does signing in from this address.
        right = {"current_password": PASSWORD, "new_password": "a brand new passphrase 42"}
        assert (await api.post("/api/auth/change-password", json=right)).status_code == 429
        assert (await _login(api)).status_code == 429
    async with server.session() as s:
        from crm_server.auth.models import SecurityEvent

        kinds = (await s.scalars(select(SecurityEvent.kind))).all()
    assert kinds.count("password_check_failed") >= 5


async def test_sessions_end_by_age_idle_logout_deactivation_and_password_change(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    user_id = await server.create_user(EMAIL)
    async with server.client() as a, server.client() as b, server.client() as c:
        await server.login(a, EMAIL)
        await server.login(b, EMAIL)
        await server.login(c, EMAIL)
        async with server.session() as s:  # a: older than 12 hours; b: idle for 31 minutes
            rows = (
                await s.scalars(select(AuthSession).where(AuthSession.user_id == user_id).order_by(AuthSession.id))
            ).all()
            rows[0].expires_at = utcnow() - timedelta(seconds=1)
            rows[1].last_seen_at = utcnow() - timedelta(minutes=31)
        assert (await a.get("/api/auth/me")).json()["code"] == "session_expired"
        assert (await b.get("/api/auth/me")).json()["code"] == "session_expired"
        assert (await c.get("/api/auth/me")).status_code == 200
        assert (await c.post("/api/auth/logout")).status_code == 200
        assert (await c.get("/api/auth/me")).status_code == 401

        await server.login(a, EMAIL)
        await server.login(b, EMAIL)
        # Changing the password ends every other session, keeps this one.
        new = "a brand new passphrase 42"
        changed = await a.post("/api/auth/change-password", json={"current_password": PASSWORD, "new_password": new})
        assert changed.status_code == 200, changed.text
        assert (await a.get("/api/auth/me")).status_code == 200
        assert (await b.get("/api/auth/me")).status_code == 401
        # Deactivation ends all of them at once.
        version = (await admin.get(f"/api/users/{user_id}")).json()["version"]
        assert (await admin.post(f"/api/users/{user_id}/deactivate", json={"version": version})).status_code == 200
        assert (await a.get("/api/auth/me")).status_code == 401
        refused = await _login(a, password=new)
        assert refused.json()["code"] == "account_inactive"


async def _enrol(server: LiveServer, api) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    setup = (await api.post("/api/auth/totp/begin")).json()
    assert setup["uri"].startswith("otpauth://totp/") and "<svg" in setup["qr_svg"]
    totp = pyotp.TOTP(setup["secret"])
    wrong = await api.post("/api/auth/totp/confirm", json={"code": "000000" if totp.now() != "000000" else "111111"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "code"
    codes = (await api.post("/api/auth/totp/confirm", json={"code": totp.now()})).json()["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    return setup["secret"], codes


async def test_totp_codes_work_once_and_recovery_codes_once(server: LiveServer) -> None:
    user_id = await server.create_user(EMAIL)
    async with server.client() as api:
        await server.login(api, EMAIL)
        secret, codes = await _enrol(server, api)
        # The code used to confirm enrolment cannot sign in again.
        reused = await _login(api, otp=pyotp.TOTP(secret).now())
        assert reused.status_code == 401 and reused.json()["code"] == "bad_otp"
        asked = await _login(api)
        assert asked.json() == {"code": "otp_required", "message": asked.json()["message"], "field": "otp"}
        async with server.session() as s:  # step forward: pretend the last code was one step ago
            user = await s.get(User, user_id)
            assert user is not None and user.totp_last_step is not None
            user.totp_last_step -= 1
        fresh = pyotp.TOTP(secret).now()
        assert (await _login(api, otp=fresh)).status_code == 200
        assert (await _login(api, otp=fresh)).json()["code"] == "bad_otp"  # same code, refused
        assert (await _login(api, otp=codes[0].upper())).status_code == 200
        assert (await _login(api, otp=codes[0])).json()["code"] == "bad_otp"


async def test_admin_resets_2fa_and_role_can_require_it(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    user_id = await server.create_user(EMAIL)
    async with server.client() as api:
        await server.login(api, EMAIL)
        await _enrol(server, api)
        assert (await admin.post(f"/api/users/{user_id}/reset-2fa")).status_code == 200
        assert (await _login(api)).status_code == 200  # no code asked any more
        roles = {r["name"]: r for r in (await admin.get("/api/roles")).json()}
        sales = roles["Salesperson"]
        body = {**{k: sales[k] for k in ("name", "description", "permissions", "version")}, "require_2fa": True}
        assert (await admin.put(f"/api/roles/{sales['id']}", json=body)).status_code == 200
        await server.login(api, EMAIL)
        me = (await api.get("/api/auth/me")).json()
        assert me["totp_required"] and not me["totp_enabled"]
        blocked = await api.get("/api/users/1")
        assert blocked.status_code == 403 and blocked.json()["code"] == "totp_setup_required"


async def test_forgot_password_token_is_single_use_and_does_not_bypass_2fa(server: LiveServer, admin, smtp) -> None:  # type: ignore[no-untyped-def]
    await admin.patch("/api/settings", json={"values": smtp.settings()})
    await server.create_user(EMAIL)
    async with server.client() as api:
        await server.login(api, EMAIL)
        await _enrol(server, api)
        unknown = await api.post("/api/auth/forgot-password", json={"email": "nobody@example.com"})
        known = await api.post("/api/auth/forgot-password", json={"email": EMAIL})
        assert unknown.status_code == known.status_code == 200 and unknown.json() == known.json()
        async with workers(server.database_url, n=1):  # the code is sent by a job, after commit
            (message,) = await smtp.wait_for(1)
        assert message["To"] == EMAIL
        token = re.search(r"^ {4}(\S+)\s*$", message.get_content(), re.M).group(1)  # type: ignore[union-attr]
        new = "completely different words 7"
        weak = await api.post("/api/auth/reset-password", json={"token": token, "new_password": "password1234"})
        assert weak.status_code == 422 and weak.json()["code"] == "password_common"
        done = await api.post("/api/auth/reset-password", json={"token": token, "new_password": new})
        assert done.status_code == 200, done.text
        again = await api.post("/api/auth/reset-password", json={"token": token, "new_password": new + "x"})
        assert again.status_code == 422 and again.json()["field"] == "token"
        still_2fa = await _login(api, password=new)
        assert still_2fa.json()["code"] == "otp_required"


async def test_reset_token_expires_after_30_minutes(server: LiveServer, admin, smtp) -> None:  # type: ignore[no-untyped-def]
    from crm_server.auth.models import PasswordResetToken

    await admin.patch("/api/settings", json={"values": smtp.settings()})
    await server.create_user(EMAIL)
    async with server.client() as api:
        await api.post("/api/auth/forgot-password", json={"email": EMAIL})
        async with workers(server.database_url, n=1):
            (message,) = await smtp.wait_for(1)
        token = re.search(r"^ {4}(\S+)\s*$", message.get_content(), re.M).group(1)  # type: ignore[union-attr]
        async with server.session() as s:
            row = await s.scalar(select(PasswordResetToken))
            assert row is not None
            assert timedelta(minutes=29) < row.expires_at - row.created_at <= timedelta(minutes=30)
            row.expires_at = utcnow() - timedelta(seconds=1)
        late = await api.post("/api/auth/reset-password", json={"token": token, "new_password": "late but long enough"})
        assert late.json()["code"] == "reset_token_invalid"


async def test_temporary_password_must_be_changed_first(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    user_id = await server.create_user(EMAIL)
    temporary = "temporary pass 2026!"
    assert (await admin.post(f"/api/users/{user_id}/password", json={"password": temporary})).status_code == 200
    async with server.client() as api:
        body = await server.login(api, EMAIL, temporary)
        assert body["user"]["must_change_password"] is True
        blocked = await api.get("/api/users/1")
        assert blocked.status_code == 403 and blocked.json()["code"] == "password_change_required"
        change = {"current_password": temporary, "new_password": "my own secret words"}
        assert (await api.post("/api/auth/change-password", json=change)).status_code == 200
        assert (await api.get("/api/auth/me")).json()["must_change_password"] is False


async def test_password_policy(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    user_id = await server.create_user(EMAIL, full_name="Samantha Jones")
    cases = {
        "short pass": "password_too_short",
        "x" * 129: "password_too_long",
        "qwerty123456": "password_common",
        "samantha is great!": "password_personal",
    }
    for password, code in cases.items():
        answer = await admin.post(f"/api/users/{user_id}/password", json={"password": password})
        assert answer.status_code == 422, password
        assert answer.json()["code"] == code and answer.json()["field"] == "password"
    ok = await admin.post(f"/api/users/{user_id}/password", json={"password": "y" * 64 + " long is fine"})
    assert ok.status_code == 200


async def test_login_history_records_every_attempt(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await server.create_user(EMAIL)
    async with server.client() as api:
        await _login(api, password="wrong password 1")
        await server.login(api, EMAIL)
    history = (await admin.get("/api/login-history", params={"limit": 10})).json()
    results = [(i["email"], i["result"]) for i in history["items"]]
    assert (EMAIL, "bad_credentials") in results and (EMAIL, "success") in results
    assert all(i["address"] == "127.0.0.1" for i in history["items"])
    failed_only = (await admin.get("/api/login-history", params={"result": "bad_credentials"})).json()
    assert failed_only["total"] == 1

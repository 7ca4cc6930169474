"""Sign-in security (issue #15): which emails exist is not learnable, lockout is not a weapon,
attempts are recorded apart from the request, and the security log as admins use it (new-device
sign-ins flagged, failures grouped by address, addresses blocked and lifted). All through HTTP.

Clients "from" other addresses bind 127.0.0.x (all loopback on Linux): the server sees that address.
Counting calls of passwords.verify_password in the in-process server is a measurement of the work
done per attempt, not a way to call the rule."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update

from crm_server.auth import passwords, sessions
from crm_server.auth.models import LoginHistory, User
from crm_server.db import utcnow
from tests.server.test_jobs import workers
from tests.support import PASSWORD, LiveServer, Smtp

SAM = "sam@example.com"
NOBODY = "nobody@example.com"
WRONG = "not the password at all"


def client_from(server: LiveServer, address: str) -> httpx.AsyncClient:
    """A client whose connections come from `address` (127.0.0.x)."""
    return httpx.AsyncClient(
        base_url=server.base_url, timeout=20, transport=httpx.AsyncHTTPTransport(local_address=address)
    )


async def login(
    api: httpx.AsyncClient, email: str = SAM, password: str = PASSWORD, otp: str | None = None, **extra: Any
) -> httpx.Response:
    return await api.post("/api/auth/login", json={"email": email, "password": password, "otp": otp, **extra})


class Verifications:
    """Counts password verifications done by the server (same process, another thread)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = passwords.verify_password

        def counting(stored_hash: str | None, password: str) -> bool:
            self.calls += 1
            return real(stored_hash, password)

        monkeypatch.setattr(passwords, "verify_password", counting)

    def take(self) -> int:
        calls, self.calls = self.calls, 0
        return calls


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[Verifications]:
    yield Verifications(monkeypatch)


def code_in(message: Any) -> str:
    found = re.search(r"^ {4}(\S+)\s*$", message.get_content(), re.M)
    assert found, message.get_content()
    return found.group(1)


async def results(server: LiveServer, email: str) -> list[str]:
    async with server.session() as s:
        return list(
            await s.scalars(select(LoginHistory.result).where(LoginHistory.email == email).order_by(LoginHistory.id))
        )


# --- which emails exist is not learnable ---------------------------------------------------------


async def test_a_locked_account_answers_like_a_wrong_password_with_the_same_work(
    server: LiveServer, admin: Any, smtp: Smtp, verifications: Verifications
) -> None:
    await admin.patch("/api/settings", json={"values": smtp.settings()})
    sam = await server.create_user(SAM, full_name="Sam Seller")
    # Twenty failures from four addresses lock the account.
    for n in (2, 3, 4, 5):
        async with client_from(server, f"127.0.0.{n}") as api:
            for _ in range(5):
                assert (await login(api, password=WRONG)).status_code == 401
    verifications.take()
    async with server.session() as s:
        user = await s.get(User, sam)
        assert user is not None and user.locked_until is not None

    async with server.client() as api:
        answers = {}
        for name, email, password in (
            ("locked, right password", SAM, PASSWORD),
            ("locked, wrong", SAM, WRONG),
            ("unknown", NOBODY, PASSWORD),
        ):
            answer = await login(api, email=email, password=password)
            answers[name] = (answer.status_code, answer.json(), answer.headers.get("retry-after"))
            assert verifications.take() == 1, name  # one password verification, whatever the email
    assert len(set(map(repr, answers.values()))) == 1, answers
    assert answers["unknown"][:2] == (401, {"code": "bad_credentials", "message": "Wrong email or password."})

    # Admins see it in the security log; the owner learns of it by email, with a code that lifts it.
    locked = (await admin.get("/api/security-log", params={"kind": "account_locked"})).json()["items"]
    assert [e["target_user_id"] for e in locked] == [sam] and locked[0]["detail"]["addresses"] == 4
    assert smtp.messages == []  # nothing is sent inside a request
    async with workers(server.database_url, n=1):
        (message,) = await smtp.wait_for(1)
    assert message["To"] == SAM and "locked" in message["Subject"]
    async with server.client() as api:
        new = "a new passphrase for sam 9"
        done = await api.post("/api/auth/reset-password", json={"token": code_in(message), "new_password": new})
        assert done.status_code == 200, done.text
        assert (await login(api, password=new)).status_code == 200
    unlocked = (await admin.get("/api/security-log", params={"kind": "account_unlocked"})).json()["items"]
    assert unlocked[0]["target_user_id"] == sam and unlocked[0]["detail"] == {"by": "password_reset"}


async def test_forgot_password_answers_alike_is_queued_limited_and_logged(
    server: LiveServer, admin: Any, smtp: Smtp, verifications: Verifications
) -> None:
    await admin.patch("/api/settings", json={"values": smtp.settings()})
    await server.create_user(SAM)
    async with server.client() as api:
        unknown = await api.post("/api/auth/forgot-password", json={"email": NOBODY})
        known = await api.post("/api/auth/forgot-password", json={"email": SAM})
        assert (unknown.status_code, unknown.json()) == (known.status_code, known.json()) == (200, {"ok": True})
    assert verifications.take() == 0
    async with server.session() as s:  # the same work: one job queued for each, whatever the email
        jobs = (
            (
                await s.execute(
                    text(
                        "SELECT args->>'email' FROM procrastinate_jobs WHERE task_name = "
                        "'crm:auth.send_reset' ORDER BY id"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert jobs == [NOBODY, SAM]
    assert smtp.messages == []
    async with workers(server.database_url, n=1):
        (message,) = await smtp.wait_for(1)
    assert message["To"] == SAM and code_in(message)

    # Three an hour per email: the fourth answers the same and sends nothing.
    async with server.client() as api:
        for _ in range(3):
            again = await api.post("/api/auth/forgot-password", json={"email": SAM.upper()})
            assert (again.status_code, again.json()) == (200, {"ok": True})
    assert await results(server, SAM.upper()) == ["reset_requested", "reset_requested", "reset_limited"]
    limited = (await admin.get("/api/security-log", params={"kind": "password_reset_limited"})).json()["items"]
    assert limited[0]["detail"]["per"] == "email"

    # Twenty an hour per address, whatever the emails; then 429.
    async with client_from(server, "127.0.0.7") as api:
        codes = [
            (await api.post("/api/auth/forgot-password", json={"email": f"p{i}@example.com"})).status_code
            for i in range(21)
        ]
    assert codes == [200] * 20 + [429]


# --- lockout is not a weapon ---------------------------------------------------------------------


async def test_failures_from_one_address_slow_that_address_not_the_owner(server: LiveServer) -> None:
    await server.create_user(SAM)
    async with server.client() as owner:  # typos, then the right password: the count starts again
        for _ in range(2):
            assert [(await login(owner, password=WRONG)).status_code for _ in range(4)] == [401] * 4
            assert (await login(owner)).status_code == 200
    async with client_from(server, "127.0.0.2") as attacker:
        for email in (SAM, NOBODY):  # a known and an unknown email are slowed down alike
            codes = [(await login(attacker, email=email, password=WRONG)).status_code for _ in range(6)]
            assert codes == [401] * 5 + [429], email
            slowed = await login(attacker, email=email, password=PASSWORD)
            assert slowed.status_code == 429 and slowed.json()["code"] == "login_throttled"
            assert 0 < int(slowed.headers["retry-after"]) <= 60
    async with server.client() as owner:  # the owner, from elsewhere, is not locked out
        assert (await login(owner)).status_code == 200
    async with server.session() as s:
        user = await s.scalar(select(User).where(User.email == SAM))
        assert user is not None and user.locked_until is None


async def test_delays_per_address_grow(server: LiveServer) -> None:
    async with client_from(server, "127.0.0.2") as api:
        codes = [(await login(api, email=f"x{i}@example.com")).status_code for i in range(31)]
        assert codes == [401] * 30 + [429]
        first = int((await login(api, email="y@example.com")).headers["retry-after"])
        async with server.session() as s:  # the wait is over
            await s.execute(update(LoginHistory).values(at=LoginHistory.at - timedelta(seconds=first + 1)))
        assert (await login(api, email="z@example.com")).status_code == 401
        second = await login(api, email="w@example.com")
    assert second.status_code == 429 and int(second.headers["retry-after"]) > first


async def test_an_office_behind_one_address_is_not_shut_out_by_2fa_prompts(server: LiveServer) -> None:
    await server.create_user("otto@example.com", totp_enabled=True, totp_secret="JBSWY3DPEHPK3PXP")
    await server.create_user(SAM)
    async with server.client() as office:
        for _ in range(40):  # the password was right: each stops to ask for the code, none is a failure
            answer = await login(office, email="otto@example.com")
            assert answer.json()["code"] == "otp_required"
        assert (await login(office)).status_code == 200


# --- attempts are recorded apart from the request --------------------------------------------------


async def test_an_attempt_is_recorded_and_counted_even_when_its_request_fails(
    server: LiveServer, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await server.create_user(SAM)

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the session store is gone")

    monkeypatch.setattr(sessions, "start", broken)  # the request fails after the password check
    for _ in range(5):
        async with client_from(server, "127.0.0.2") as api:  # a new connection: the server drops a failed one
            try:
                failed: int | str = (await login(api)).status_code
            except httpx.TransportError:
                failed = "dropped"
        assert failed in (500, "dropped")
    async with client_from(server, "127.0.0.2") as api:
        throttled = await login(api)
    assert throttled.status_code == 429  # the failed requests counted
    history = (await admin.get("/api/login-history", params={"result": "error"})).json()
    assert history["total"] == 5 and {i["email"] for i in history["items"]} == {SAM}


async def test_a_nul_byte_in_the_email_is_no_500_and_is_logged(server: LiveServer, admin: Any) -> None:
    async with server.client() as api:
        answer = await login(api, email="sam\x00@example.com", client="bad\x1b[31mclient")
    assert answer.status_code in (401, 422), answer.text
    if answer.status_code == 401:
        history = (await admin.get("/api/login-history", params={"result": "bad_credentials"})).json()
        assert [(i["email"], i["client"]) for i in history["items"]] == [
            ("sam\ufffd@example.com", "bad\ufffd[31mclient")
        ]


# --- the security log as admins use it -----------------------------------------------------------


async def test_a_sign_in_from_a_new_address_or_device_is_flagged_and_the_user_told(
    server: LiveServer, admin: Any, smtp: Smtp
) -> None:
    await admin.patch("/api/settings", json={"values": smtp.settings()})
    sam = await server.create_user(SAM)
    async with server.client() as api:
        await server.login(api, SAM)  # the first sign-in sets what is known
        await server.login(api, SAM)
    async with client_from(server, "127.0.0.2") as api:
        await server.login(api, SAM)
    async with server.client() as api:
        assert (await login(api, client="Sam's new laptop")).status_code == 200
    flagged = (await admin.get("/api/security-log", params={"kind": "new_device_sign_in"})).json()["items"]
    assert [
        (e["target_user_id"], e["address"], e["detail"]["new_address"], e["detail"]["new_device"])
        for e in reversed(flagged)
    ] == [(sam, "127.0.0.2", True, False), (sam, "127.0.0.1", False, True)]
    async with workers(server.database_url, n=1):
        messages = await smtp.wait_for(2)
    assert {m["To"] for m in messages} == {SAM} and all(
        m["Subject"] == "New sign-in to your CRM account" for m in messages
    )
    assert any("127.0.0.2" in m.get_content() for m in messages)


async def test_failures_from_one_address_are_grouped(server: LiveServer, admin: Any) -> None:
    sam = await server.create_user(SAM)
    async with client_from(server, "127.0.0.2") as api:
        for email in (SAM, SAM, SAM, NOBODY, NOBODY):
            await login(api, email=email, password=WRONG)
    async with client_from(server, "127.0.0.3") as api:
        await login(api, email=SAM, password=WRONG)
    groups = (await admin.get("/api/security-log/failures")).json()
    assert groups["total"] == 1  # one failure is no repetition
    (group,) = groups["items"]
    assert (group["address"], group["count"], group["email_count"], group["user_ids"], group["blocked"]) == (
        "127.0.0.2",
        5,
        2,
        [sam],
        False,
    )
    assert sorted(group["emails"]) == [NOBODY, SAM] and group["first_at"] < group["last_at"]
    everything = (await admin.get("/api/security-log/failures", params={"min_count": 1})).json()
    assert [(g["address"], g["count"]) for g in everything["items"]] == [("127.0.0.2", 5), ("127.0.0.3", 1)]


async def test_an_admin_blocks_an_address_or_range_and_lifts_it(
    server: LiveServer, admin: Any, verifications: Verifications
) -> None:
    await server.create_user(SAM)
    await server.create_user("rep@example.com", role="Salesperson")
    async with server.client() as rep:
        await server.login(rep, "rep@example.com")
        assert (await rep.post("/api/blocked-addresses", json={"address": "127.0.0.2"})).status_code == 403
    # Signed in before the block: from the address to be blocked, and from one that stays allowed.
    doomed, spared = client_from(server, "127.0.0.2"), client_from(server, "127.0.0.4")
    for api in (doomed, spared):
        api.headers["Authorization"] = f"Bearer {(await login(api)).json()['token']}"
    mine = await admin.post("/api/blocked-addresses", json={"address": "127.0.0.0/24"})
    assert mine.status_code == 422 and mine.json()["code"] == "blocks_yourself"
    junk = await admin.post("/api/blocked-addresses", json={"address": "not an address"})
    assert junk.status_code == 422 and junk.json()["field"] == "address"
    one = await admin.post("/api/blocked-addresses", json={"address": "127.0.0.2", "reason": "password spraying"})
    assert one.status_code == 201 and one.json()["network"] == "127.0.0.2/32"
    assert (await admin.post("/api/blocked-addresses", json={"address": "127.0.0.2/32"})).status_code == 409
    rng = await admin.post("/api/blocked-addresses", json={"address": "127.0.1.7/24"})
    assert rng.status_code == 201 and rng.json()["network"] == "127.0.1.0/24"
    verifications.take()
    # The block signs out who is signed in from there; a session taken to a blocked network ends there.
    assert (await doomed.get("/api/auth/me")).json()["code"] == "session_expired"
    assert (await spared.get("/api/auth/me")).status_code == 200
    async with client_from(server, "127.0.1.9") as moved:
        moved.headers["Authorization"] = spared.headers["Authorization"]
        assert (await moved.get("/api/auth/me")).status_code == 401
    assert (await spared.get("/api/auth/me")).json()["code"] == "session_expired"
    await doomed.aclose()
    await spared.aclose()

    for address in ("127.0.0.2", "127.0.1.9"):
        async with client_from(server, address) as api:
            refused = await login(api)  # the right password, refused before it is checked
            assert refused.status_code == 403 and refused.json()["code"] == "address_blocked"
            forgot = await api.post("/api/auth/forgot-password", json={"email": SAM})
            assert forgot.status_code == 403
    assert verifications.take() == 0
    assert (await results(server, SAM)).count("blocked") == 4
    groups = (await admin.get("/api/security-log/failures")).json()["items"]
    assert {g["address"]: g["blocked"] for g in groups} == {"127.0.0.2": True, "127.0.1.9": True}

    listed = (await admin.get("/api/blocked-addresses")).json()
    assert [b["network"] for b in listed["items"]] == ["127.0.1.0/24", "127.0.0.2/32"]
    lifted = await admin.post(f"/api/blocked-addresses/{one.json()['id']}/lift")
    assert lifted.status_code == 200 and lifted.json()["lifted_at"]
    assert [b["network"] for b in (await admin.get("/api/blocked-addresses")).json()["items"]] == ["127.0.1.0/24"]
    async with client_from(server, "127.0.0.2") as api:
        assert (await login(api)).status_code == 200
    kinds = [e["kind"] for e in (await admin.get("/api/security-log")).json()["items"]]
    assert kinds.count("address_blocked") == 2 and kinds.count("address_unblocked") == 1


async def test_an_account_lock_ends_by_itself_and_the_next_lasts_twice_as_long(server: LiveServer) -> None:
    sam = await server.create_user(SAM)

    async def spray(first: int) -> None:  # from four addresses not used before
        for n in range(first, first + 4):
            async with client_from(server, f"127.0.0.{n}") as api:
                for _ in range(5):
                    assert (await login(api, password=WRONG)).status_code == 401

    async def lock() -> tuple[int, timedelta]:
        async with server.session() as s:
            user = await s.get(User, sam)
            assert user is not None and user.locked_until is not None
            return user.lockout_count, user.locked_until - utcnow()

    async def time_passes(hours: int) -> None:
        async with server.session() as s:
            earlier = User.locked_until - timedelta(hours=hours)
            await s.execute(update(User).where(User.id == sam).values(locked_until=earlier))
            await s.execute(update(LoginHistory).values(at=LoginHistory.at - timedelta(hours=hours)))

    await spray(2)
    count, left = await lock()
    assert count == 1 and timedelta(minutes=59) < left <= timedelta(hours=1)
    await time_passes(1)
    async with server.client() as api:  # over by itself
        assert (await login(api)).status_code == 200
    await spray(6)
    count, left = await lock()
    assert count == 1 and timedelta(minutes=59) < left <= timedelta(hours=1)  # a success started the count again
    await time_passes(2)
    await spray(10)
    count, left = await lock()
    assert count == 2 and timedelta(minutes=119) < left <= timedelta(hours=2)

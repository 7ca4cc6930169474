"""Benchmark: does a sign-in or a forgot-password answer take the same time whatever the email?

Sign-in: an unknown email, a known email with a wrong password, a locked account with its right
password and with a wrong one: each verifies one password and answers "Wrong email or password"
(tests/server/test_auth_sign_in.py counts the verifications; this prints the times). Forgot
password: a known and an unknown email do the same work (a recorded request and a queued job).
The cases take turns, each attempt from its own loopback address so no limit slows it down.

Run: .venv/bin/python -m tests.perf.bench_login [iterations]   (default 200; medians should agree
within a millisecond or two, far below argon2id's ~20-60 ms)"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import timedelta

import httpx
from sqlalchemy import update

from crm_server.auth.models import User
from crm_server.db import utcnow
from tests.perf.common import live_server, percentiles
from tests.support import PASSWORD, LiveServer

ITERATIONS = 200
KNOWN = "known@example.com"
LOCKED = "locked@example.com"


def address(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


async def timed(server: LiveServer, source: str, path: str, body: dict[str, str]) -> tuple[float, int]:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(base_url=server.base_url, transport=transport, timeout=20) as api:
        await api.get("/health")  # the connection is open before the clock starts
        t0 = time.perf_counter()
        answer = await api.post(path, json=body)
        return (time.perf_counter() - t0) * 1000, answer.status_code


async def bench(server: LiveServer, iterations: int) -> None:
    await server.create_user(KNOWN)
    locked_id = await server.create_user(LOCKED)
    for i in range(iterations):
        await server.create_user(f"reset{i}@example.com")
    async with server.session() as s:
        await s.execute(update(User).where(User.id == locked_id).values(locked_until=utcnow() + timedelta(days=1)))

    login_cases = {
        "unknown email": lambda i: {"email": f"nobody{i}@example.com", "password": PASSWORD},
        "known email, wrong password": lambda i: {"email": KNOWN, "password": f"wrong password {i}"},
        "locked account, right password": lambda i: {"email": LOCKED, "password": PASSWORD},
        "locked account, wrong password": lambda i: {"email": LOCKED, "password": f"wrong password {i}"},
    }
    reset_cases = {
        "forgot password, unknown email": lambda i: {"email": f"nobody{i}@example.com"},
        "forgot password, known email": lambda i: {"email": f"reset{i}@example.com"},
    }
    times: dict[str, list[float]] = {name: [] for name in (*login_cases, *reset_cases)}
    n = 0
    for i in range(iterations):
        for name, body in login_cases.items():
            ms, status = await timed(server, address(n), "/api/auth/login", body(i))
            assert status == 401, (name, status)
            times[name].append(ms)
            n += 1
        for name, body in reset_cases.items():
            ms, status = await timed(server, address(n), "/api/auth/forgot-password", body(i))
            assert status == 200, (name, status)
            times[name].append(ms)
            n += 1
    print(f"sign-in and forgot-password by case ({iterations} each, interleaved):")
    for name, samples in times.items():
        print(f"  {name:32} median {statistics.median(samples):6.1f} ms   {percentiles(samples)}")


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else ITERATIONS
    with live_server() as server:
        asyncio.run(bench(server, max(2, iterations)))


if __name__ == "__main__":
    main()

"""Benchmark: login latency, and the time from a committed change to its event on a WebSocket.

Run: .venv/bin/python -m tests.perf.bench_server_foundation   (targets: event p95 < 50 ms)"""

from __future__ import annotations

import asyncio
import json
import time

from websockets.asyncio.client import connect

from crm_server import events
from crm_server.db import Database
from tests.perf.common import live_server, percentiles
from tests.support import ADMIN_EMAIL, PASSWORD, LiveServer

LOGINS = 200
EVENTS = 500


async def bench(server: LiveServer) -> None:
    async with server.client() as api:
        await server.login_admin(api)
        login_ms = []
        for _ in range(LOGINS):
            t0 = time.perf_counter()
            answer = await api.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
            login_ms.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200
        token = answer.json()["token"]
    print(f"login ({LOGINS} sequential, argon2id m=19MiB t=2): {percentiles(login_ms)}")

    latency_ms = []
    ws = await connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    await ws.recv()  # hello
    db = Database(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=2)
    try:
        for i in range(EVENTS):
            async with db.transaction() as s:
                events.emit(s, module="admin", entity="team", entity_id=i, action="updated")
            committed = time.perf_counter()
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            latency_ms.append((time.perf_counter() - committed) * 1000)
            assert frame["entity_id"] == i
    finally:
        await ws.close()
        await db.dispose()
    print(f"commit -> WebSocket event ({EVENTS} changes): {percentiles(latency_ms)}  [target p95 < 50 ms]")


def main() -> None:
    with live_server() as server:
        asyncio.run(bench(server))


if __name__ == "__main__":
    main()

"""Home at scale: p50/p95 ms of GET /api/home over real HTTP for the admin (every widget, all
records), a manager (the team) and a salesperson (own), on the data set of bench_reports (1,000,000
leads, 3,000,000 follow-ups, 1,000,000 invoices, 100,000 tickets). Target (issue #20): p95 under
300 ms for each role.

Run on a quiet machine (not in the suite):
    .venv/bin/python -m tests.perf.bench_home [leads] [--url=URL] [--fill]
(--url: a database bench_reports or this benchmark filled before; --fill fills it first)."""

from __future__ import annotations

import asyncio

from crm_server import migrate
from tests.perf.bench_reports import FILL, RUNS, SCOPES, TARGET_MS, URL, _get, fill, p
from tests.perf.common import live_server
from tests.support import PASSWORD, LiveServer


async def bench(server: LiveServer) -> None:
    print(f"{'home of':<12} {'p50 ms':>8} {'p95 ms':>8}")
    over: list[str] = []
    for scope, email in SCOPES:
        async with server.client() as api:
            await server.login(api, email, PASSWORD)
            await _get(api, "/api/home", {})  # warm
            samples = [await _get(api, "/api/home", {}) for _ in range(RUNS)]
            print(f"{scope:<12} {p(samples, 50):8.1f} {p(samples, 95):8.1f}")
            if p(samples, 95) >= TARGET_MS:
                over.append(scope)
    print(f"\nHome at or over {TARGET_MS} ms p95: {', '.join(over) or 'none'}")


def main() -> None:
    if URL:
        migrate.upgrade(URL)
        with LiveServer.run(URL) as server:
            if FILL:
                asyncio.run(fill(server))
            asyncio.run(bench(server))
        return
    with live_server() as server:
        asyncio.run(fill(server))
        asyncio.run(bench(server))


if __name__ == "__main__":
    main()

"""A million leads, every screen of the lead list, for every role's scope: one table of p50/p95.

1,000,000 leads (bench_leads.generate: 24 salespeople in 4 teams, weighted statuses, tags, sources)
and, per scope (admin: all; manager: the team; salesperson: own), the list's first page with its
total for every sort and filter the desktop offers and search terms from rare to common; the board;
a lead's create and update. Requests go over real HTTP to the real app. The slowest list request
is EXPLAINed (ANALYZE, BUFFERS) at the end: the rows and buffers it read.

Run on a quiet machine: .venv/bin/python -m tests.perf.bench_leads_million [leads] [--url URL]
(--url: a database this benchmark filled before, migrated to the newest schema and measured again
without building the million rows anew; --fill fills that database first; --board measures only the
board open per scope)."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

import httpx
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from crm_server import migrate
from tests.perf.bench_leads import generate, make_people
from tests.perf.common import live_server
from tests.support import PASSWORD, LiveServer

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
FILL = "--fill" in sys.argv
BOARD_ONLY = "--board" in sys.argv
URL = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--url=")), None)
LEADS = int(ARGS[0]) if ARGS else 1_000_000
CHUNK = 100_000
RUNS = 20
SCOPES = (("admin", "admin@example.com"), ("manager", "manager0@example.com"), ("salesperson", "seller00@example.com"))
LIST_CASES: list[tuple[str, dict[str, Any]]] = [
    ("first page, newest first", {}),
    ("sort name", {"sort": "person_name"}),
    ("sort company", {"sort": "company"}),
    ("sort company, descending", {"sort": "-company"}),
    ("sort value, descending", {"sort": "-value"}),
    ("sort value", {"sort": "value"}),
    ("sort expected close", {"sort": "expected_close_date"}),
    ("sort created, oldest first", {"sort": "created_at"}),
    ("closed included", {"include_closed": "true"}),
    ("tag 'hot'", {"tag": "hot"}),
    ("tag 'vip'", {"tag": "vip"}),
    ("source Facebook", {"source": "Facebook"}),
    ("created this month", {"created_from": "2026-12-01"}),
    ("search common 'ion'", {"q": "ion"}),
    ("search 'popescu'", {"q": "popescu"}),
    ("search rare 'popescu12'", {"q": "popescu12"}),
    ("search a phone '0722'", {"q": "0722"}),
    ("search no match 'zzqx'", {"q": "zzqx"}),
    ("search + tag", {"q": "ana", "tag": "hot"}),
]


class Statements:
    """The last list statement the in-process server sent (to EXPLAIN the slowest)."""

    def __init__(self) -> None:
        self.last: tuple[str, Any] | None = None
        event.listen(Engine, "before_cursor_execute", self._keep)

    def _keep(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM leads" in statement and "ORDER BY" in statement:
            self.last = (statement, params)


def p(samples: list[float], q: int) -> float:
    return statistics.quantiles(sorted(samples), n=100)[q - 1]


async def timed(api: httpx.AsyncClient, method: str, path: str, **kw: Any) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await api.request(method, path, **kw)
    took = (time.perf_counter() - started) * 1000
    assert response.status_code < 300, response.text
    return took, response


async def fill(server: LiveServer) -> None:
    await make_people(server)
    started = time.perf_counter()
    for start in range(1, LEADS + 1, CHUNK):
        generate(server.database_url, start, min(CHUNK, LEADS - start + 1))
    print(f"generated {LEADS:,} leads in {time.perf_counter() - started:.0f} s\n")


async def bench(server: LiveServer, seen: Statements) -> None:
    with psycopg.connect(server.database_url) as conn:
        count = conn.execute("SELECT count(*) FROM leads").fetchone()
    print(f"{count[0] if count else 0:,} leads\n")
    print(f"{'request':<34} {'scope':<12} {'p50 ms':>8} {'p95 ms':>8}  total")
    worst: tuple[float, str, tuple[str, Any] | None] = (0.0, "", None)
    over: list[str] = []
    for scope, email in SCOPES:
        async with server.client() as api:
            await server.login(api, email, PASSWORD)
            for name, params in [] if BOARD_ONLY else LIST_CASES:
                await timed(api, "GET", "/api/leads", params=params)  # warm
                samples = []
                for _ in range(RUNS):
                    ms, answer = await timed(api, "GET", "/api/leads", params=params)
                    samples.append(ms)
                page = answer.json()
                total = f"{page['total']:,}" + ("" if page["total_exact"] else " (more than)")
                print(f"{name:<34} {scope:<12} {p(samples, 50):8.1f} {p(samples, 95):8.1f}  {total}")
                if p(samples, 95) > worst[0]:
                    worst = (p(samples, 95), f"{name} ({scope})", seen.last)
                if p(samples, 95) >= 50:
                    over.append(f"{name} ({scope})")
            first, _ = await timed(api, "GET", "/api/leads/board")  # warm, as the list cases are
            board = [(await timed(api, "GET", "/api/leads/board"))[0] for _ in range(RUNS)]
            print(f"{'board open, first after start':<34} {scope:<12} {first:8.1f}")
            print(f"{'board open':<34} {scope:<12} {p(board, 50):8.1f} {p(board, 95):8.1f}  [target < 100 ms]")
            if BOARD_ONLY:
                continue
            creates, updates = [], []
            for i in range(RUNS * 2):
                ms, made = await timed(
                    api,
                    "POST",
                    "/api/leads",
                    json={"person_name": f"Bench {scope} {i}", "company": f"Bench Co {i} SRL", "email": f"b{i}@x.ro"},
                )
                creates.append(ms)
                lead = made.json()
                ms, _ = await timed(
                    api, "PATCH", f"/api/leads/{lead['id']}", json={"version": lead["version"], "phone": "0722123456"}
                )
                updates.append(ms)
            print(f"{'create a lead':<34} {scope:<12} {p(creates, 50):8.1f} {p(creates, 95):8.1f}  [target < 30 ms]")
            print(f"{'update a lead':<34} {scope:<12} {p(updates, 50):8.1f} {p(updates, 95):8.1f}  [target < 30 ms]")
    print(f"\nlist requests at or over 50 ms p95: {', '.join(over) or 'none'}")
    if worst[2] is not None:
        statement, params = worst[2]
        with psycopg.connect(server.database_url) as conn:
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, params).fetchone()
        top = rows[0][0] if rows else {}
        plan = top.get("Plan", {})
        print(
            f"slowest list request: {worst[1]}, p95 {worst[0]:.1f} ms; its page query read "
            f"{plan.get('Shared Hit Blocks', 0) + plan.get('Shared Read Blocks', 0):,} buffers, "
            f"execution {top.get('Execution Time', 0):.1f} ms, plan: {_shape(plan)}"
        )


def _shape(plan: dict[str, Any]) -> str:
    """The plan's nodes, outermost first, with the index each scan used."""
    nodes = []
    stack = [plan]
    while stack:
        node = stack.pop(0)
        label = node.get("Node Type", "?") + (f" {node['Index Name']}" if "Index Name" in node else "")
        nodes.append(f"{label} (rows {node.get('Actual Rows', '?')})")
        stack.extend(node.get("Plans", []))
    return json.dumps(nodes[:8])


def main() -> None:
    seen = Statements()
    if URL:
        migrate.upgrade(URL)
        with LiveServer.run(URL) as server:
            if FILL:
                asyncio.run(fill(server))
            asyncio.run(bench(server, seen))
        return
    with live_server() as server:
        asyncio.run(fill(server))
        asyncio.run(bench(server, seen))


if __name__ == "__main__":
    main()

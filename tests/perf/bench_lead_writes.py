"""Benchmark of the lead write path: create and update over HTTP, and where the time goes.

100,000 leads over 20,000 companies whose names all end in "SRL" (the shape that made the old
trigram duplicate check read ~12,000 candidates per save). Each save still does everything: the
double-submit guard, assignment, audit, the live event, the owner's notification and the duplicate
check. The breakdown times every SQL statement the server sends (SQLAlchemy cursor events, in this
process) and groups it by what it is for; "the rest" is Python, HTTP, JSON and the commit.

Run: .venv/bin/python -m tests.perf.bench_lead_writes [leads]"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections import defaultdict
from typing import Any

import httpx
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.perf.common import live_server, percentiles
from tests.support import LiveServer

LEADS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
COMPANIES = max(1, LEADS // 5)
SAVES = 300

# What each statement is for, by its text (first match wins).
KINDS = [
    ("duplicate check", re.compile(r"similarity|union all", re.I)),
    ("audit", re.compile(r"insert into audit", re.I)),
    ("live event", re.compile(r"insert into (change_)?events|pg_notify|outbox", re.I)),
    ("notification", re.compile(r"notification|preferences", re.I)),
    ("double-submit guard", re.compile(r"recent_submits|double_submit|submit_fingerprints", re.I)),
    ("assignment", re.compile(r"assignment_", re.I)),
    ("insert/update the lead", re.compile(r"^\s*(insert into|update) leads", re.I)),
    ("sign-in check (session, user, role)", re.compile(r"from (auth_)?sessions|from users|from roles", re.I)),
]


class SqlClock:
    """Milliseconds of SQL per kind while `on` is set."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = defaultdict(float)
        self.on = False
        self._started: dict[int, float] = {}
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        started = self._started.pop(id(cursor), None)
        if not self.on or started is None:
            return
        kind = next((name for name, pattern in KINDS if pattern.search(statement)), "other SQL")
        self.ms[kind] += (time.perf_counter() - started) * 1000


def generate(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO leads (person_name, company, email, phone, pipeline_id, status_id, owner_id, created_at,
                               updated_at, status_changed_at)
            SELECT (ARRAY['Ana','Ion','Maria','Mihai','Elena','Radu','Ioana','Dan'])[1 + mod(g, 8)] || ' '
                     || (ARRAY['Pop','Popescu','Ionescu','Stan','Matei','Dumitru','Stoica'])[1 + mod(g / 8, 7)]
                     || ' ' || g::text,
                   'Company ' || mod(g, %(companies)s)::text || ' SRL',
                   'person' || g::text || '@example.ro',
                   '+4072' || lpad(g::text, 7, '0'),
                   p.id, s.id, (SELECT min(id) FROM users), now(), now(), now()
            FROM generate_series(1, %(leads)s) g,
                 (SELECT id FROM pipelines WHERE is_default) p,
                 LATERAL (SELECT id FROM pipeline_statuses WHERE pipeline_id = p.id ORDER BY position LIMIT 1) s
            """,
            {"leads": LEADS, "companies": COMPANIES},
        )
        conn.execute("VACUUM ANALYZE leads")


async def timed(call: Any) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await call
    return (time.perf_counter() - started) * 1000, response


async def bench(server: LiveServer, clock: SqlClock) -> None:
    started = time.perf_counter()
    generate(server.database_url)
    print(f"generated {LEADS:,} leads over {COMPANIES:,} companies in {time.perf_counter() - started:.1f} s")
    async with server.client() as admin:
        await server.login_admin(admin)
        for i in range(20):  # warm
            await admin.post("/api/leads", json={"person_name": f"Warm {i}", "company": f"Company {i} SRL"})
        clock.ms.clear()
        clock.on = True
        creates: list[float] = []
        made: list[dict[str, Any]] = []
        for i in range(SAVES):
            ms, response = await timed(
                admin.post(
                    "/api/leads",
                    json={
                        "person_name": f"New Person {i}",
                        "company": f"Company {(i * 7919) % COMPANIES} S.R.L.",
                        "email": f"new{i}@example.org",
                        "phone": f"+40 733 {i:06d}",
                    },
                )
            )
            assert response.status_code == 201, response.text
            creates.append(ms)
            made.append(response.json())
        clock.on = False
        create_sql = dict(clock.ms)
        clock.ms.clear()
        clock.on = True
        updates: list[float] = []
        for i, lead in enumerate(made):
            ms, response = await timed(
                admin.patch(f"/api/leads/{lead['id']}", json={"version": lead["version"], "phone": f"+40 744 {i:06d}"})
            )
            assert response.status_code == 200, response.text
            updates.append(ms)
        clock.on = False
        update_sql = dict(clock.ms)
    print(f"create a lead over HTTP ({LEADS:,} leads): {percentiles(creates)}  [target p95 < 30 ms]")
    _breakdown("create", create_sql, creates)
    print(f"update a lead's phone over HTTP: {percentiles(updates)}  [target p95 < 30 ms]")
    _breakdown("update", update_sql, updates)


def _breakdown(what: str, sql: dict[str, float], samples: list[float]) -> None:
    n = len(samples)
    total = sum(samples) / n
    print(f"  where a {what} spends its {total:.1f} ms on average:")
    for kind, ms in sorted(sql.items(), key=lambda kv: -kv[1]):
        print(f"    {kind:<38} {ms / n:6.2f} ms")
    print(f"    {'the rest (Python, HTTP, JSON, commit)':<38} {total - sum(sql.values()) / n:6.2f} ms")


def main() -> None:
    clock = SqlClock()
    with live_server() as server:
        asyncio.run(bench(server, clock))


if __name__ == "__main__":
    main()

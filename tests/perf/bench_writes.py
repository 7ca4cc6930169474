"""Benchmark of the write paths: create and update of a lead, a client, a ticket and a follow-up over
HTTP, on a realistic volume, and where each save's time goes.

Data (generate_series): 100,000 leads over 20,000 companies all ending in "SRL", 100,000 clients
(names sharing legal forms), 200,000 tickets and 200,000 follow-ups; `--million` makes it 1,000,000
of each; `--scale 0.05` shrinks it (to profile). Every save still does everything: the double-submit
guard, the duplicate / similar-name check, assignment or routing, audit, the live event and the
notifications. The breakdown times every SQL statement the server sends (SQLAlchemy cursor events in
this process, the server runs in it) grouped by purpose; "the rest" is Python, HTTP, JSON and the
commit (the COMMIT statement itself is timed as its own line).

Run: .venv/bin/python -m tests.perf.bench_writes [--scale F | --million] [--saves N]
     [--only lead,client,ticket,follow-up] [--statements]"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.perf.common import live_server, percentiles
from tests.support import LiveServer

# What each statement is for, by its text (first match wins). Order matters: the row itself last but one.
KINDS: list[tuple[str, re.Pattern[str]]] = [
    (
        "duplicate / similar-name check",
        re.compile(r"similarity|union all|where clients\.(name_key|vat_key)|savepoint", re.I),
    ),
    ("audit", re.compile(r"insert into audit", re.I)),
    ("live event", re.compile(r"insert into (change_)?events|pg_notify|pg_advisory_xact_lock", re.I)),
    ("live event fan-out (server's reader)", re.compile(r"^select events\.seq", re.I)),
    ("notification", re.compile(r"notification|preferences|procrastinate|ticket_emails", re.I)),
    ("double-submit guard", re.compile(r"recent_submits", re.I)),
    ("assignment / routing", re.compile(r"assignment_|round_robin|ticket_categories|team_members", re.I)),
    ("sign-in check (session, user, role, settings)", re.compile(r"from (auth_)?sessions|from users|from roles", re.I)),
    ("settings", re.compile(r"from settings", re.I)),
    ("the row itself", re.compile(r"^\s*(insert into|update) (leads|clients|tickets|follow_ups)\b", re.I)),
    ("reading rows (the record, its parent, the answer)", re.compile(r"^\s*select", re.I)),
]


class SqlClock:
    """Milliseconds and counts of SQL per kind while `on` is set."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = defaultdict(float)
        self.count: Counter[str] = Counter()
        self.texts: dict[str, Counter[str]] = defaultdict(Counter)
        self.on = False
        self._started: dict[int, float] = {}
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)
        event.listen(Engine, "commit", self._commit_started)
        event.listen(Session, "after_commit", self._committed)
        self._commit_at: float | None = None

    def clear(self) -> None:
        self.ms.clear()
        self.count.clear()
        self.texts.clear()

    def _commit_started(self, conn: Any) -> None:
        self._commit_at = time.perf_counter()

    def _committed(self, session: Any) -> None:
        started, self._commit_at = self._commit_at, None
        if self.on and started is not None:
            self.ms["commit"] += (time.perf_counter() - started) * 1000
            self.count["commit"] += 1

    def _before(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        started = self._started.pop(id(cursor), None)
        if not self.on or started is None:
            return
        kind = kind_of(statement)
        self.ms[kind] += (time.perf_counter() - started) * 1000
        self.count[kind] += 1
        self.texts[kind][" ".join(statement.split())[:110]] += 1


def kind_of(statement: str) -> str:
    return next((name for name, pattern in KINDS if pattern.search(statement)), "other SQL")


def generate(url: str, n: dict[str, int]) -> None:
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
            {"leads": n["lead"], "companies": max(1, n["lead"] // 5)},
        )
        conn.execute(
            """
            INSERT INTO clients (name, vat_number, vat_key, phone, email, owner_id, created_by, created_at, updated_at)
            SELECT 'Client ' || g::text || (ARRAY[' SRL',' S.A.',' SRL',' PFA',' Ltd'])[1 + mod(g, 5)],
                   'RO' || (1000000 + g)::text, 'RO' || (1000000 + g)::text,
                   '+4021' || lpad(g::text, 7, '0'), 'office' || g::text || '@client.ro',
                   (SELECT min(id) FROM users), (SELECT min(id) FROM users), now(), now()
            FROM generate_series(1, %(clients)s) g
            """,
            {"clients": n["client"]},
        )
        conn.execute(
            """
            INSERT INTO tickets (subject, description, client_id, requester_email, priority, category_id, team_id,
                                 status, created_by, first_response_due_at, created_at, updated_at)
            SELECT 'Problem ' || g::text || ' with ' || (ARRAY['login','invoice','export','printer'])[1 + mod(g, 4)],
                   'Please help.', 1 + mod(g, %(clients)s), 'customer' || mod(g, 50000) || '@example.com',
                   (ARRAY['normal','normal','high','critical'])[1 + mod(g, 4)],
                   c.id, c.team_id, 'new', (SELECT min(id) FROM users), now() + interval '8 hours',
                   now() - g * interval '1 minute', now() - g * interval '1 minute'
            FROM generate_series(1, %(tickets)s) g
            CROSS JOIN LATERAL (SELECT id, team_id FROM ticket_categories ORDER BY id LIMIT 1) c
            """,
            {"tickets": n["ticket"], "clients": max(1, n["client"])},
        )
        conn.execute(
            """
            INSERT INTO follow_ups (client_id, kind, due_at, notes, owner_id, created_by, status, created_at,
                                    updated_at)
            SELECT 1 + mod(g, %(clients)s), (ARRAY['call','email','whatsapp','meeting'])[1 + mod(g, 4)],
                   now() + (mod(g, 2000) - 1000) * interval '1 hour', 'Ask about the renewal.',
                   (SELECT min(id) FROM users), (SELECT min(id) FROM users),
                   CASE WHEN mod(g, 3) = 0 THEN 'done' ELSE 'open' END, now(), now()
            FROM generate_series(1, %(follow_ups)s) g
            """,
            {"follow_ups": n["follow-up"], "clients": max(1, n["client"])},
        )
        for table in ("leads", "clients", "tickets", "follow_ups"):
            conn.execute(f"VACUUM ANALYZE {table}")


Body = Callable[[int], dict[str, Any]]


def _due(i: int) -> str:
    return (datetime.now(UTC) + timedelta(days=1, minutes=i)).isoformat()


class Entity:
    def __init__(self, name: str, path: str, create: Body, update: Callable[[int, dict[str, Any]], dict[str, Any]]):
        self.name, self.path, self.create, self.update = name, path, create, update


def entities(n: dict[str, int]) -> list[Entity]:
    companies = max(1, n["lead"] // 5)
    clients = max(1, n["client"])
    return [
        Entity(
            "lead",
            "/api/leads",
            lambda i: {
                "person_name": f"New Person {i}",
                "company": f"Company {(i * 7919) % companies} S.R.L.",
                "email": f"new{i}@example.org",
                "phone": f"+40 733 {i:06d}",
            },
            lambda i, row: {"version": row["version"], "phone": f"+40 744 {i:06d}"},
        ),
        Entity(
            "client",
            "/api/clients",
            lambda i: {
                "name": f"Client {(i * 7919) % clients} SRL",  # a similar name exists: the warning path
                "vat_number": f"RO{90_000_000 + i}",
                "phone": f"+40 731 {i:06d}",
                "email": f"new{i}@client.ro",
            },
            lambda i, row: {"version": row["version"], "phone": f"+40 732 {i:06d}"},
        ),
        Entity(
            "ticket",
            "/api/tickets",
            lambda i: {
                "subject": f"Cannot print invoice {i}",
                "description": "The printer says nothing.",
                "client_id": 1 + (i * 7919) % clients,
                "priority": "high" if i % 3 == 0 else "normal",
            },
            lambda i, row: {"version": row["version"], "priority": "critical" if i % 2 else "normal"},
        ),
        Entity(
            "follow-up",
            "/api/follow-ups",
            lambda i: {
                "client_id": 1 + (i * 7919) % clients,
                "kind": "call",
                "due_at": _due(i),
                "notes": f"Call back about offer {i}",
            },
            lambda i, row: {"version": row["version"], "notes": f"Moved to a meeting {i}", "kind": "meeting"},
        ),
    ]


async def timed(call: Awaitable[httpx.Response]) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await call
    return (time.perf_counter() - started) * 1000, response


async def bench(server: LiveServer, clock: SqlClock, args: argparse.Namespace, n: dict[str, int]) -> None:
    started = time.perf_counter()
    generate(server.database_url, n)
    sizes = ", ".join(f"{v:,} {k}s" for k, v in n.items())
    print(f"generated {sizes} in {time.perf_counter() - started:.1f} s; load average {_load()}")
    only = set(args.only.split(",")) if args.only else None
    async with server.client() as admin:
        await server.login_admin(admin)
        for entity in entities(n):
            if only and entity.name not in only:
                continue
            for i in range(20):  # warm
                warm = entity.create(900_000 + i)
                response = await admin.post(entity.path, json=warm)
                assert response.status_code == 201, response.text
            clock.clear()
            clock.on = True
            creates: list[float] = []
            made: list[dict[str, Any]] = []
            for i in range(args.saves):
                ms, response = await timed(admin.post(entity.path, json=entity.create(i)))
                assert response.status_code == 201, response.text
                creates.append(ms)
                made.append(response.json())
            clock.on = False
            _report(f"create a {entity.name}", creates, clock, args.statements)
            clock.clear()
            clock.on = True
            updates: list[float] = []
            for i, row in enumerate(made):
                ms, response = await timed(admin.patch(f"{entity.path}/{row['id']}", json=entity.update(i, row)))
                assert response.status_code == 200, response.text
                updates.append(ms)
            clock.on = False
            _report(f"update a {entity.name}", updates, clock, args.statements)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _report(what: str, samples: list[float], clock: SqlClock, statements: bool) -> None:
    n = len(samples)
    total = sum(samples) / n
    print(f"{what} over HTTP: {percentiles(samples)}  [target p95 < 30 ms]  (load {_load()})")
    print(f"  where it spends its {total:.1f} ms on average (ms, statements per save):")
    for kind, ms in sorted(clock.ms.items(), key=lambda kv: -kv[1]):
        print(f"    {kind:<38} {ms / n:6.2f} ms  {clock.count[kind] / n:4.1f}")
        if statements:
            for text, count in clock.texts[kind].most_common(6):
                print(f"        {count / n:4.1f}x {text}")
    print(f"    {'the rest (Python, HTTP, JSON)':<38} {total - sum(clock.ms.values()) / n:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the default volumes")
    parser.add_argument("--million", action="store_true", help="1,000,000 of each")
    parser.add_argument("--saves", type=int, default=200, help="saves timed per entity and operation")
    parser.add_argument("--only", default="", help="comma-separated: lead,client,ticket,follow-up")
    parser.add_argument("--statements", action="store_true", help="the statements behind each line")
    args = parser.parse_args()
    base = {"lead": 100_000, "client": 100_000, "ticket": 200_000, "follow-up": 200_000}
    n = {k: 1_000_000 for k in base} if args.million else {k: max(10, int(v * args.scale)) for k, v in base.items()}
    clock = SqlClock()
    with live_server() as server:
        asyncio.run(bench(server, clock, args, n))


if __name__ == "__main__":
    main()

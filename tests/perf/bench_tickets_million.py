"""The ticket queue and board at 1,000,000 tickets, for every role's scope (issue #18).

The data are bench_tickets' (generate_series: three years of a busy desk, four support teams of five
agents, old tickets closed and archived), plus a ticket in twenty created by the agent. Over real
HTTP to the real app, for an admin (scope all), a manager of a support team (team scope) and an agent
who sees only their own tickets (a role like "Support agent" with the tickets scope "own"): the
queue's first page of 100 with its capped total ("more than N") for every filter, sort and search the
desktop offers, and the board open. One table: request, scope, p50/p95 (target: the list under
50 ms p95, the board under 100 ms); then, for the slowest request, its statements' EXPLAIN (ANALYZE,
BUFFERS): rows and buffers read.

Run: nice .venv/bin/python -m tests.perf.bench_tickets_million
(or `... bench_tickets_million postgresql://...` to build once into, and measure, a database of yours)."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from crm_server import migrate
from tests.perf.bench_tickets import AGENTS, CHUNK, SEARCHES, TICKETS, generate, login, people, route_categories
from tests.perf.common import live_server
from tests.support import LiveServer

RUNS = 30
LIST_MS = 50.0
BOARD_MS = 100.0
OWN_ROLE = "Own-queue agent"
SCOPES = {"admin": "admin@example.com", "manager": "lead0@example.com", "agent": "agent00@example.com"}


def own_role(url: str) -> None:
    """A support agent who sees only the tickets assigned to or created by them."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO roles (name, description, permissions)
            SELECT %(name)s, 'Own tickets only.', jsonb_set(permissions, '{tickets,scope}', '"own"')
            FROM roles WHERE name = 'Support agent'
            ON CONFLICT DO NOTHING
            """,
            {"name": OWN_ROLE},
        )


async def build(server: LiveServer) -> None:
    url = server.database_url
    with psycopg.connect(url) as conn:
        have = conn.execute("SELECT count(*) FROM tickets").fetchone()
    if have is not None and have[0] >= TICKETS:
        return
    async with server.client() as boot:
        await server.login_admin(boot)
    own_role(url)
    agents = await people(server)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE users SET role_id = (SELECT id FROM roles WHERE name = %(role)s) WHERE email = %(email)s",
            {"role": OWN_ROLE, "email": SCOPES["agent"]},
        )
    await server.create_user(SCOPES["manager"], role="Manager", team="Support 0", full_name="Lead 0")
    route_categories(url)
    started = time.perf_counter()
    for start in range(1, TICKETS + 1, CHUNK):
        generate(url, start, min(CHUNK, TICKETS - start + 1), agents)
    with psycopg.connect(url, autocommit=True) as conn:
        # Agents write tickets down too (a phone call): one in twenty is the first agent's.
        conn.execute("UPDATE tickets SET created_by = %(agent)s WHERE id %% 20 = 7", {"agent": agents[0][0]})
        conn.execute("VACUUM ANALYZE tickets")
        live = conn.execute("SELECT count(*) FROM tickets WHERE archived_at IS NULL").fetchone()
    print(f"generated {TICKETS:,} tickets in {time.perf_counter() - started:.0f} s ({live[0] if live else 0:,} live)")


@contextmanager
def captured() -> Iterator[list[tuple[str, Any]]]:
    """The statements the in-process server sends meanwhile."""
    sent: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        sent.append((statement, params))

    event.listen(Engine, "before_cursor_execute", keep)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", keep)


def cases(ids: dict[str, int]) -> list[tuple[str, str, Callable[[], dict[str, Any]]]]:
    """(request, path, params) of what the desktop asks: its queue (open tickets, newest number first)
    with each filter, sort and search, the archive, and the board."""
    rng = random.Random(5)
    opened = {"status": "open"}
    found: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        ("open, by number (the desktop's first view)", "/api/tickets", lambda: {**opened, "sort": "-number"}),
        ("any status, newest first", "/api/tickets", lambda: {}),
        ("my tickets (open, mine)", "/api/tickets", lambda: {**opened, "mine": True, "sort": "-number"}),
        ("high priority and breaching (open, urgent)", "/api/tickets", lambda: {**opened, "urgent": True}),
        ("breaching, by due time", "/api/tickets", lambda: {"breaching": True, "sort": "first_response_due_at"}),
        ("search q (words of the subject)", "/api/tickets", lambda: {"q": rng.choice(SEARCHES)}),
        ("open, search q", "/api/tickets", lambda: {**opened, "q": rng.choice(SEARCHES)}),
        ("search q = #number", "/api/tickets", lambda: {"q": f"#{rng.randrange(1000, 1000 + TICKETS)}"}),
        ("team", "/api/tickets", lambda: {"team_id": ids["team"]}),
        ("open, category", "/api/tickets", lambda: {**opened, "category_id": ids["category"]}),
        ("assignee", "/api/tickets", lambda: {"assignee_id": ids["assignee"]}),
        ("priority = critical", "/api/tickets", lambda: {"priority": "critical"}),
        ("archive, newest first", "/api/tickets", lambda: {"archived": True}),
        ("archive, search q", "/api/tickets", lambda: {"archived": True, "q": rng.choice(SEARCHES)}),
    ]
    for status in ("new", "in_process", "pending_customer", "resolved", "closed"):
        found.append((f"status = {status}", "/api/tickets", lambda s=status: {"status": s}))  # type: ignore[misc]
    for sort in ("priority", "-priority", "created_at", "-updated_at", "updated_at", "first_response_due_at"):
        found.append((f"sort {sort}", "/api/tickets", lambda s=sort: {"sort": s}))  # type: ignore[misc]
        found.append((f"open, sort {sort}", "/api/tickets", lambda s=sort: {**opened, "sort": s}))  # type: ignore[misc]
    found.append(("number ascending", "/api/tickets", lambda: {"sort": "number"}))
    found.append(("board (open)", "/api/tickets/board", lambda: {"status": "open", "per_column": 50}))
    found.append(("board (any status)", "/api/tickets/board", lambda: {"per_column": 50}))
    found.append(("board, search q", "/api/tickets/board", lambda: {"q": rng.choice(SEARCHES), "per_column": 50}))
    found.append(("board, mine", "/api/tickets/board", lambda: {"mine": True, "per_column": 50}))
    return found


async def timed(api: httpx.AsyncClient, path: str, params: dict[str, Any]) -> float:
    started = time.perf_counter()
    response = await api.get(path, params=params)
    took = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    return took


def explain(url: str, statements: list[tuple[str, Any]]) -> None:
    with psycopg.connect(url) as conn:
        for statement, params in statements:
            if "tickets" not in statement or statement.lstrip().upper().startswith(("UPDATE", "INSERT")):
                continue
            print("  " + " ".join(statement.split())[:160])
            for (line,) in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).fetchall():
                if any(w in line for w in ("rows=", "Buffers", "Execution")):
                    print("    " + line)


async def measure(server: LiveServer) -> None:
    url = server.database_url
    with psycopg.connect(url) as conn:
        team, assignee = conn.execute(
            "SELECT team_id, id FROM users WHERE email = %(e)s", {"e": "agent01@example.com"}
        ).fetchone() or (0, 0)
        category = conn.execute("SELECT id FROM ticket_categories WHERE team_id = %(t)s LIMIT 1", {"t": team})
        ids = {"team": team, "assignee": assignee, "category": (category.fetchone() or (0,))[0]}
    apis = {scope: await login(server, email) for scope, email in SCOPES.items()}
    rows: list[tuple[float, str, str, str, dict[str, Any]]] = []
    print(f"{'request':<46} {'scope':<8} {'p50':>8} {'p95':>8}")
    try:
        for title, path, params in cases(ids):
            for scope, api in apis.items():
                await timed(api, path, params())  # warm
                samples = sorted([await timed(api, path, params()) for _ in range(RUNS)])
                p50, p95 = samples[len(samples) // 2], samples[int(len(samples) * 0.95) - 1]
                target = BOARD_MS if "board" in path else LIST_MS
                flag = "  <-- over" if p95 >= target else ""
                print(f"{title:<46} {scope:<8} {p50:>6.1f}ms {p95:>6.1f}ms{flag}", flush=True)
                rows.append((p95 / target, title, scope, path, params()))
        _, worst, who, where, asked = max(rows, key=lambda row: row[0])
        print(f"\nslowest against its target: {worst} ({who}) {asked}; its statements, EXPLAIN (ANALYZE, BUFFERS):")
        with captured() as sent:
            await timed(apis[who], where, asked)
        explain(url, sent)
    finally:
        for api in apis.values():
            await api.aclose()


async def bench(server: LiveServer) -> None:
    await build(server)
    await measure(server)


def main() -> None:
    if len(sys.argv) > 1:  # a database of yours: built once, then measured
        migrate.upgrade(sys.argv[1])
        with LiveServer.run(sys.argv[1]) as server:
            asyncio.run(bench(server))
        return
    with live_server() as server:
        asyncio.run(bench(server))


if __name__ == "__main__":
    assert AGENTS == 5
    main()

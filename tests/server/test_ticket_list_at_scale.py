"""The ticket queue at scale, through HTTP: a capped total said as "more than", pages past the cap in
order, the priority sort critical first, an own-scope agent's few matches; and the plans that were
slow at a million tickets (issue #18) cannot come back: the SQL the server sent is captured and
EXPLAINed on the same database with the slow ways (a whole-table scan, a sort, visiting rows in the
heap) priced out: the plan must not need them. (At a million tickets the planner picks these plans
by itself: tests/perf/bench_tickets_million.py.)

- the priority sort was a CASE expression with bound values: no index could give its order, every live
  ticket was read and sorted (114-156 ms);
- an agent's scope (assigned to or created by them) was tested on each live row in the heap (the
  live rows are scattered over the table: 17,000 pages at a million): the count must be index-only."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from crm_server.tickets.service import COUNT_CAP
from tests.support import LiveServer

TICKETS = COUNT_CAP + 400
RARE = 250  # every 250th subject has the word "needle"
OWN = "Own-queue agent"
SPREAD = 15  # one ticket in 15 is live


async def agent(server: LiveServer) -> Any:
    """A support agent who sees only their own tickets (assigned to or created by them)."""
    with psycopg.connect(server.database_url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO roles (name, description, permissions)
            SELECT %(name)s, 'Own tickets only.', jsonb_set(permissions, '{tickets,scope}', '"own"')
            FROM roles WHERE name = 'Support agent'
            """,
            {"name": OWN},
        )
    await server.create_user("own@example.com", role=OWN, team="Support", full_name="Own Agent")
    api = server.client()
    await server.login(api, "own@example.com")
    return api


def fill(url: str) -> None:
    """Open tickets numbered in creation order, each among 14 archived ones (the live rows of a real
    desk are scattered over the table); every tenth is the agent's, a third each priority."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO tickets (subject, priority, status, assignee_id, created_by, archived_at, created_at,
                                 updated_at)
            SELECT 'Printer ' || g || CASE WHEN live AND g %% %(rare)s = 0 THEN ' needle' ELSE '' END,
                   CASE WHEN live THEN (ARRAY['normal', 'high', 'critical'])[1 + g %% 3] ELSE 'normal' END,
                   CASE WHEN live THEN 'in_process' ELSE 'closed' END,
                   CASE WHEN g %% 10 = 0 THEN (SELECT id FROM users WHERE email = 'own@example.com') END,
                   (SELECT min(id) FROM users), CASE WHEN NOT live THEN now() END,
                   now() - s * interval '1 minute', now() - random() * interval '30 days'
            FROM generate_series(1, %(n)s * %(spread)s) s,
                 LATERAL (SELECT s %% %(spread)s = 0 AS live, s / %(spread)s AS g) x
            """,
            {"n": TICKETS, "rare": RARE, "spread": SPREAD},
        )
        conn.execute("VACUUM ANALYZE tickets")


def plan(url: str, statement: str, params: Any, *off: str, only: str | None = None) -> str:
    """The plan with these ways priced out (a node the planner could not do without says "Disabled":
    true), and with `only` the tickets' other indexes dropped meanwhile (rolled back): a few thousand
    tickets would not show what a million do, so the test asks whether the indexes can answer."""
    with psycopg.connect(url) as conn:
        for way in off:
            conn.execute(f"SET enable_{way} = off")
        if only is not None:
            others = conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'tickets'"
                " AND indexname NOT IN (%(only)s, 'pk_tickets')",
                {"only": only},
            ).fetchall()
            for (name,) in others:
                conn.execute(f'DROP INDEX "{name}"')
        row = conn.execute("EXPLAIN (FORMAT JSON) " + statement, params).fetchone()
        conn.rollback()
    assert row is not None
    return json.dumps(row[0])


def numbers(page: dict[str, Any]) -> list[int]:
    return [i["number"] for i in page["items"]]


async def test_a_large_queue_says_more_than_and_pages_in_order(server: LiveServer, admin) -> None:
    own = await agent(server)
    fill(server.database_url)
    query = {"status": "open", "sort": "-number", "limit": 100}
    first = (await admin.get("/api/tickets", params=query)).json()
    assert first["total_exact"] is False and first["total"] == COUNT_CAP + 100 + 1  # "more than 1,100"
    second = (await admin.get("/api/tickets", params={**query, "offset": 100})).json()
    both = numbers(first) + numbers(second)
    assert both == list(range(both[0], both[0] - 200 * SPREAD, -SPREAD))  # newest first, no gap, no repeat
    ranked = (await admin.get("/api/tickets", params={"sort": "priority", "limit": 500})).json()["items"]
    assert [t["priority"] for t in ranked] == ["critical"] * 467 + ["high"] * 33  # critical first
    assert [t["id"] for t in ranked[:467]] == sorted(t["id"] for t in ranked[:467])  # then by id
    downward = (await admin.get("/api/tickets", params={"sort": "-priority", "limit": 1})).json()["items"]
    assert downward[0]["priority"] == "normal"
    # The agent sees their own (every tenth): 140 tickets, counted exactly, and the rare "needle" ones.
    mine = (await own.get("/api/tickets", params={"status": "open"})).json()
    assert mine["total_exact"] is True and mine["total"] == TICKETS // 10
    rare = (await own.get("/api/tickets", params={"q": "needle", "sort": "number"})).json()
    assert rare["total"] == TICKETS // RARE and [i["subject"] for i in rare["items"]] == [
        f"Printer {g} needle" for g in range(RARE, TICKETS + 1, RARE)
    ]
    await own.aclose()


async def test_the_slow_shapes_at_a_million_are_answered_by_indexes(server: LiveServer, admin, statements) -> None:
    own = await agent(server)
    fill(server.database_url)
    statements.clear()
    answer = await admin.get("/api/tickets", params={"sort": "priority"})
    assert answer.status_code == 200 and answer.json()["total_exact"] is False
    page = [(s, p) for s, p in statements if "FROM tickets" in s and "ORDER BY" in s]
    assert len(page) == 1, [s for s, _ in statements]
    shape = plan(server.database_url, *page[0], "seqscan", "sort")
    assert '"Disabled": true' not in shape  # an index gives the order: no sort of every live ticket
    assert "ix_tickets_live_priority" in shape
    statements.clear()
    answer = await own.get("/api/tickets", params={"status": "open", "sort": "-priority"})
    assert answer.status_code == 200 and answer.json()["total"] == TICKETS // 10
    count = [(s, p) for s, p in statements if "count(*)" in s and "FROM tickets" in s]
    assert len(count) == 1, [s for s, _ in statements]
    shape = plan(server.database_url, *count[0], "seqscan", "bitmapscan", only="ix_tickets_live_status")
    assert '"Disabled": true' not in shape  # counted in the covering index alone: no live row read in the heap
    assert '"Node Type": "Index Only Scan"' in shape
    await own.aclose()

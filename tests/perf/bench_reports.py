"""The standard reports at scale: p50/p95 ms over real HTTP per report and scope.

1,000,000 leads (bench_leads.generate: 24 salespeople in 4 teams; each lead's status history is
its insert row from the trigger of migration 0030 plus, made here, a move through every open stage
before the one it is in, an hour to a fortnight apart), 3,000,000 follow-ups (calls, emails,
meetings, WhatsApp; three in four done over the last year, the rest open around today), 1,000,000
invoices (bench_invoices.generate) and 100,000 tickets. Then each standard report (this year, the
last 90 days, with a filter) as the admin (all), a manager (the team) and a salesperson (own).
Target (issue #20): p95 under 300 ms each; custom reports grouped by two levels (CUSTOM_CASES) under 500 ms.

Run on a quiet machine (not in the suite):
    .venv/bin/python -m tests.perf.bench_reports [leads] [--url=URL] [--fill]
(--url: a database this benchmark filled before, migrated to the newest schema; --fill fills it first)."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import date, timedelta

import httpx
import psycopg

from crm_server import migrate
from tests.perf import bench_invoices
from tests.perf.bench_leads import generate as generate_leads
from tests.perf.bench_leads import make_people
from tests.perf.common import live_server
from tests.support import PASSWORD, LiveServer

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
FILL = "--fill" in sys.argv
URL = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--url=")), None)
LEADS = int(ARGS[0]) if ARGS else 1_000_000
FOLLOW_UPS_PER_LEAD = 3
INVOICES = LEADS
TICKETS = LEADS // 10
CHUNK = 200_000
RUNS = 20
SCOPES = (("admin", "admin@example.com"), ("manager", "manager0@example.com"), ("salesperson", "seller00@example.com"))
TARGET_MS = 300
CUSTOM_TARGET_MS = 500  # a custom report grouped by two levels (issue #20)
# Custom reports (POST /api/reports/custom/run), each grouped by two levels.
CUSTOM_CASES: list[tuple[str, dict[str, object]]] = [
    (
        "custom: leads by owner x month, 30 d",
        {
            "entity": "leads",
            "group_by": ["owner", "created_at:month"],
            "filters": [{"field": "created_at", "op": "within", "value": "last_30_days"}],
        },
    ),
    (
        "custom: leads by team x source, sum",
        {"entity": "leads", "group_by": ["team", "source"], "aggregate": "sum", "aggregate_field": "value"},
    ),
    (
        "custom: follow-ups by owner x week",
        {
            "entity": "activities",
            "group_by": ["owner", "completed_at:week"],
            "filters": [{"field": "completed_at", "op": "within", "value": "this_month"}],
        },
    ),
    (
        "custom: invoices by team x status",
        {"entity": "invoices", "group_by": ["team", "status"], "aggregate": "sum", "aggregate_field": "gross_total"},
    ),
]


def _cases() -> list[tuple[str, str, dict[str, str]]]:
    today = date.today()
    year = {"date_from": date(today.year, 1, 1).isoformat(), "date_to": today.isoformat()}
    quarter = {"date_from": (today - timedelta(days=90)).isoformat(), "date_to": today.isoformat()}
    ahead = {"date_from": today.isoformat(), "date_to": (today + timedelta(days=180)).isoformat()}
    return [
        ("sales funnel, this year", "funnel", year),
        ("sales funnel, 90 days, Facebook", "funnel", {**quarter, "source": "Facebook"}),
        ("lost deals, this year", "lost", year),
        ("lead sources, this year", "sources", year),
        ("team activity, 90 days by week", "activity", {**quarter, "group": "week"}),
        ("team activity, this year by day", "activity", {**year, "group": "day"}),
        ("forecast, next 6 months", "forecast", ahead),
        ("support, this year", "support", year),
        ("receivables, today", "receivables", {"date_to": today.isoformat()}),
        ("sales (accrual), this year", "sales", year),
    ]


def fill_history(url: str) -> None:
    """Each lead's earlier moves: through every open stage before its own, oldest first."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO lead_status_history (lead_id, pipeline_id, from_status_id, to_status_id, at)
            SELECT l.id, l.pipeline_id, prev.id, nxt.id,
                   l.created_at + (nxt.position * (1 + mod(l.id, 14))) * interval '1 day' / 2
              FROM leads l
              JOIN pipeline_statuses cur ON cur.id = l.status_id
              JOIN pipeline_statuses nxt ON nxt.pipeline_id = l.pipeline_id AND nxt.kind = 'open'
                                        AND nxt.position > 0 AND nxt.position < cur.position
              JOIN pipeline_statuses prev ON prev.pipeline_id = l.pipeline_id AND prev.position = nxt.position - 1
            """
        )
        conn.execute("VACUUM ANALYZE lead_status_history")


def fill_follow_ups(url: str, leads: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for start in range(1, leads + 1, CHUNK):
            conn.execute(
                """
                INSERT INTO follow_ups (lead_id, kind, due_at, owner_id, team_id, status, completed_at, reminders_sent)
                SELECT l.id, (ARRAY['call','email','meeting','whatsapp'])[1 + mod(l.id + k, 4)],
                       d.due, l.owner_id, l.team_id,
                       CASE WHEN mod(l.id + k, 4) = 0 THEN 'open' ELSE 'done' END,
                       CASE WHEN mod(l.id + k, 4) = 0 THEN NULL ELSE d.due END, 7
                  FROM leads l
                 CROSS JOIN generate_series(1, %(per)s) k
                 CROSS JOIN LATERAL (  -- refers to l and k: a random time per follow-up, not per chunk
                     SELECT now() - random() * interval '365 days' + interval '20 days'
                            + (l.id + k) * interval '0' AS due
                 ) d
                 WHERE l.id BETWEEN %(lo)s AND %(hi)s
                """,
                {"per": FOLLOW_UPS_PER_LEAD, "lo": start, "hi": start + CHUNK - 1},
            )
        conn.execute("VACUUM ANALYZE follow_ups")


def fill_tickets(url: str, count: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO tickets (subject, priority, category_id, team_id, assignee_id, status, created_at,
                                 updated_at, first_response_due_at, first_responded_at, resolved_at)
            SELECT 'Bench ticket ' || g, (ARRAY['normal','high','critical'])[1 + mod(g, 3)],
                   (SELECT min(id) FROM ticket_categories) + mod(g, 5),
                   u.team_id, u.id, CASE WHEN mod(g, 3) = 0 THEN 'new' ELSE 'resolved' END,
                   t.at, t.at, t.at + interval '4 hours',
                   CASE WHEN mod(g, 3) = 0 THEN NULL ELSE t.at + mod(g, 9) * interval '1 hour' END,
                   CASE WHEN mod(g, 3) = 0 THEN NULL ELSE t.at + mod(g, 90) * interval '1 hour' END
              FROM generate_series(1, %(n)s) g
             CROSS JOIN LATERAL (SELECT now() - random() * interval '365 days' + g * interval '0' AS at) t
             CROSS JOIN LATERAL (
                 SELECT id, team_id FROM users WHERE email LIKE 'seller%%' ORDER BY id OFFSET mod(g, 24) LIMIT 1
             ) u
            """,
            {"n": count},
        )
        conn.execute("VACUUM ANALYZE tickets")


async def fill(server: LiveServer) -> None:
    await make_people(server)
    url = server.database_url
    started = time.perf_counter()
    for start in range(1, LEADS + 1, CHUNK):
        generate_leads(url, start, min(CHUNK, LEADS - start + 1))
    fill_history(url)
    fill_follow_ups(url, LEADS)
    with psycopg.connect(url) as conn:
        sellers = conn.execute("SELECT id, team_id FROM users WHERE email LIKE 'seller%' ORDER BY id").fetchall()
    owners, teams = [int(o) for o, _ in sellers], [int(t) for _, t in sellers]
    first_client = bench_invoices.make_clients(url, owners, teams)
    for start in range(1, INVOICES + 1, CHUNK):
        bench_invoices.generate(url, start, min(CHUNK, INVOICES - start + 1), first_client, owners, teams)
    fill_tickets(url, TICKETS)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        row = conn.execute(
            "SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM lead_status_history),"
            " (SELECT count(*) FROM follow_ups), (SELECT count(*) FROM invoices), (SELECT count(*) FROM tickets)"
        ).fetchone()
    assert row is not None
    print(
        f"made {row[0]:,} leads, {row[1]:,} status moves, {row[2]:,} follow-ups, {row[3]:,} invoices, "
        f"{row[4]:,} tickets in {time.perf_counter() - started:.0f} s\n"
    )


def p(samples: list[float], q: int) -> float:
    return statistics.quantiles(sorted(samples), n=100)[q - 1]


async def bench(server: LiveServer) -> None:
    print(f"{'report':<36} {'scope':<12} {'p50 ms':>8} {'p95 ms':>8}")
    over: list[str] = []
    for scope, email in SCOPES:
        async with server.client() as api:
            await server.login(api, email, PASSWORD)
            for name, key, params in _cases():
                path = f"/api/reports/{key}"
                await _get(api, path, params)  # warm
                samples = [await _get(api, path, params) for _ in range(RUNS)]
                print(f"{name:<36} {scope:<12} {p(samples, 50):8.1f} {p(samples, 95):8.1f}")
                if p(samples, 95) >= TARGET_MS:
                    over.append(f"{name} ({scope})")
            for name, definition in CUSTOM_CASES:
                await _post(api, "/api/reports/custom/run", definition)  # warm
                samples = [await _post(api, "/api/reports/custom/run", definition) for _ in range(RUNS)]
                print(f"{name:<36} {scope:<12} {p(samples, 50):8.1f} {p(samples, 95):8.1f}")
                if p(samples, 95) >= CUSTOM_TARGET_MS:
                    over.append(f"{name} ({scope}, target {CUSTOM_TARGET_MS} ms)")
    print(f"\nreports at or over their p95 target: {', '.join(over) or 'none'}")


async def _get(api: httpx.AsyncClient, path: str, params: dict[str, str]) -> float:
    started = time.perf_counter()
    answer = await api.get(path, params=params)
    took = (time.perf_counter() - started) * 1000
    assert answer.status_code == 200, answer.text
    return took


async def _post(api: httpx.AsyncClient, path: str, body: dict[str, object]) -> float:
    started = time.perf_counter()
    answer = await api.post(path, json=body)
    took = (time.perf_counter() - started) * 1000
    assert answer.status_code == 200, answer.text
    return took


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

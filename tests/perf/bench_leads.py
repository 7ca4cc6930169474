"""Benchmark of the sales side on a realistic volume.

100,000 leads: opening the board (the summary and the first page of every column, one request, the
way the desktop opens it; target < 300 ms) and paging the lead list. Then 1,000,000 leads: global
search p95 (target < 100 ms); and a move on one desktop until another has it (target p95 < 250 ms).
Data is made in PostgreSQL with generate_series, the requests go over real HTTP to the real app.
"Server time" is the board built by the service in this process; the other figures are client-side
round trips (HTTP, auth, JSON; the test server shares this process's GIL).

Run: .venv/bin/python -m tests.perf.bench_leads"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import httpx
import psycopg
from sqlalchemy import select
from websockets.asyncio.client import connect

from crm_server.auth.models import Role, User
from crm_server.auth.permissions import Principal
from crm_server.contract.leads import LeadFilters
from crm_server.db import Database
from crm_server.leads import board
from tests.perf.common import live_server, percentiles
from tests.support import PASSWORD, LiveServer

BOARD_LEADS = 100_000
SEARCH_LEADS = 1_000_000
CHUNK = 100_000
RUNS = 40
MOVES = 200

FIRST = [
    "Ana",
    "Ioana",
    "Maria",
    "Elena",
    "Andreea",
    "Cristina",
    "Mihai",
    "Andrei",
    "Alexandru",
    "Ion",
    "George",
    "Radu",
    "Bogdan",
    "Vlad",
    "Sofia",
    "Lars",
    "Emma",
    "Lukas",
    "Chiara",
    "Jan",
    "Marta",
    "Pierre",
    "Julia",
    "Tudor",
    "Irina",
    "Dan",
    "Oana",
    "Paul",
    "Raluca",
    "Stefan",
]
LAST = [
    "Popescu",
    "Ionescu",
    "Popa",
    "Dumitru",
    "Stan",
    "Stoica",
    "Gheorghe",
    "Matei",
    "Ciobanu",
    "Rusu",
    "Marin",
    "Lungu",
    "Andersson",
    "Muller",
    "Rossi",
    "Novak",
    "Dubois",
    "Kowalski",
    "Nieminen",
    "Horvat",
    "Constantin",
    "Florea",
    "Barbu",
    "Nistor",
    "Tudose",
    "Cristea",
    "Enache",
    "Moldovan",
    "Preda",
    "Voicu",
    "Zamfir",
    "Neagu",
    "Lazar",
    "Mocanu",
    "Sandu",
    "Toma",
    "Vasile",
    "Olteanu",
    "Munteanu",
    "Diaconu",
]
COMPANY_A = [
    "Nord",
    "Carpat",
    "Delta",
    "Vertex",
    "Blue",
    "Danube",
    "Astra",
    "Nova",
    "Orion",
    "Tera",
    "Alpin",
    "Green",
    "Smart",
    "Prime",
    "Urban",
    "Euro",
    "Media",
    "Agro",
    "Metal",
    "Trans",
    "Quantum",
    "Helios",
    "Boreal",
    "Cobalt",
    "Lumen",
    "Zenit",
    "Atlas",
    "Sigma",
    "Titan",
    "Aurora",
]
COMPANY_B = [
    "Logistics",
    "Retail",
    "Foods",
    "Systems",
    "Pharma",
    "Construct",
    "Textile",
    "Auto",
    "Energy",
    "Software",
    "Consulting",
    "Distribution",
    "Hotels",
    "Clinic",
    "Print",
    "Furniture",
    "Solar",
    "Dental",
]


def _array(values: list[str]) -> str:
    return "(ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "])"


def generate(url: str, start: int, count: int) -> None:
    """`count` leads numbered from `start`: weighted statuses, 24 owners in 4 teams, EUR/RON values, tags,
    and an open follow-up for a third of them."""
    with psycopg.connect(url, autocommit=True) as conn:
        statuses = conn.execute(
            "SELECT s.id, s.name, s.kind FROM pipeline_statuses s JOIN pipelines p"
            " ON p.id = s.pipeline_id AND p.is_default ORDER BY s.position"
        ).fetchall()
        weights = {
            "Open": 18,
            "First Contact": 12,
            "Connected": 10,
            "Demo Scheduled": 8,
            "Demo Given": 7,
            "Proposal Sent": 7,
            "Negotiation": 5,
            "On Hold": 4,
            "Integration Approved": 3,
            "Won": 10,
            "Lost": 12,
            "Junk": 4,
        }
        pool = [sid for sid, name, _ in statuses for _ in range(weights.get(name, 3))]
        lost = [sid for sid, _, kind in statuses if kind == "lost"]
        closed = [sid for sid, _, kind in statuses if kind != "open"]
        owners = conn.execute("SELECT id, team_id FROM users WHERE email LIKE 'seller%' ORDER BY id").fetchall()
        reason = conn.execute("SELECT min(id) FROM lost_reasons").fetchone()[0]  # type: ignore[index]
        conn.execute(
            f"""
            INSERT INTO leads (person_name, company, email, phone, source, pipeline_id, status_id, owner_id,
                               team_id, value, currency, territory, product_interest, tags, created_at,
                               updated_at, status_changed_at, lost_reason_id, closed_at)
            SELECT n.first || ' ' || n.last, n.company,
                   lower(n.first || '.' || n.last || g::text || '@' || replace(n.company, ' ', '') || '.ro'),
                   '+407' || (2 + mod(g, 4))::text || lpad(mod(g::bigint * 7919, 10000000)::text, 7, '0'),
                   (ARRAY['Facebook','Website form','Manual','Partner referral','Import'])[1 + mod(g, 5)],
                   (SELECT id FROM pipelines WHERE is_default),
                   n.status_id, n.owner_id, n.team_id,
                   CASE WHEN mod(g, 5) = 0 THEN NULL ELSE (mod(g * 37, 500) * 100)::numeric(14,2) END,
                   CASE WHEN mod(g, 5) = 0 THEN NULL WHEN mod(g, 3) = 0 THEN 'RON' ELSE 'EUR' END,
                   (ARRAY['North','South','East','West','Bucharest'])[1 + mod(g, 5)],
                   (ARRAY['POS','ERP','E-commerce','Loyalty'])[1 + mod(g, 4)],
                   CASE WHEN mod(g, 7) = 0 THEN ARRAY['hot'] WHEN mod(g, 11) = 0 THEN ARRAY['vip','expo']
                        ELSE '{{}}' END,
                   n.created_at, n.created_at, n.created_at + interval '1 day',
                   CASE WHEN n.status_id = ANY(%(lost)s) THEN {reason} END,
                   CASE WHEN n.status_id = ANY(%(closed)s) THEN n.created_at + interval '1 day' END
            FROM generate_series(%(start)s::bigint, %(end)s::bigint) g
            CROSS JOIN LATERAL (
                SELECT {_array(FIRST)}[1 + floor(random() * {len(FIRST)})::int] AS first,
                       {_array(LAST)}[1 + floor(random() * {len(LAST)})::int] AS last,
                       {_array(COMPANY_A)}[1 + floor(random() * {len(COMPANY_A)})::int] || ' '
                         || {_array(COMPANY_B)}[1 + floor(random() * {len(COMPANY_B)})::int] || ' SRL' AS company,
                       (%(pool)s::bigint[])[1 + floor(random() * %(pool_len)s)::int] AS status_id,
                       (%(owners)s::bigint[])[1 + mod(g, %(owner_count)s)] AS owner_id,
                       (%(teams)s::bigint[])[1 + mod(g, %(owner_count)s)] AS team_id,
                       now() - random() * interval '365 days' AS created_at
            ) n
        """,
            {
                "start": start,
                "end": start + count - 1,
                "pool": pool,
                "pool_len": len(pool),
                "lost": lost,
                "closed": closed,
                "owners": [o[0] for o in owners],
                "teams": [o[1] for o in owners],
                "owner_count": len(owners),
            },
        )
        conn.execute(
            """
            INSERT INTO follow_ups (lead_id, kind, due_at, owner_id, team_id, status, reminders_sent)
            SELECT l.id, 'call', now() + (mod(l.id, 20) - 5) * interval '1 day', l.owner_id, l.team_id, 'open', 7
            FROM leads l WHERE l.id BETWEEN %(lo)s AND %(hi)s AND mod(l.id, 3) = 0 AND l.closed_at IS NULL
        """,
            {"lo": start, "hi": start + count - 1},
        )
        conn.execute("VACUUM ANALYZE leads")
        conn.execute("VACUUM ANALYZE follow_ups")


async def server_time(db: Database, principal: Principal, filters: LeadFilters, runs: int = RUNS) -> list[float]:
    """The board as the server builds it (summary + first page of every column), without HTTP."""
    samples = []
    for _ in range(runs + 1):
        async with db.transaction() as session:
            started = time.perf_counter()
            await board.board(session, principal, filters, 50)
            samples.append((time.perf_counter() - started) * 1000)
    return samples[1:]


async def principal_of(db: Database, email: str) -> Principal:
    async with db.transaction() as session:
        user = (await session.scalars(select(User).where(User.email == email))).one()
        role = await session.get_one(Role, user.role_id)
        return Principal(user_id=user.id, team_id=user.team_id, role_id=role.id, permissions=role.permissions)


async def timed(api: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None) -> float:
    started = time.perf_counter()
    response = await api.get(path, params=params)
    took = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    return took


async def login(server: LiveServer, email: str) -> httpx.AsyncClient:
    api = server.client()
    await server.login(api, email, PASSWORD)
    return api


async def make_people(server: LiveServer) -> None:
    """The admin, 24 salespeople in 4 teams (seller<team><n>) and a manager per team (manager<team>)."""
    async with server.client() as boot:
        await server.login_admin(boot)
    for team in range(4):
        for i in range(6):
            await server.create_user(f"seller{team}{i}@example.com", team=f"Team {team}", full_name=f"Seller {team}{i}")
        await server.create_user(f"manager{team}@example.com", role="Manager", team=f"Team {team}")


async def bench(server: LiveServer) -> None:
    await make_people(server)
    url = server.database_url
    rng = random.Random(4)

    started = time.perf_counter()
    generate(url, 1, BOARD_LEADS)
    print(f"generated {BOARD_LEADS:,} leads in {time.perf_counter() - started:.1f} s")
    db = Database(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=2)
    for who, email in (
        ("admin, scope all", "admin@example.com"),
        ("manager, scope team", "manager0@example.com"),
        ("salesperson, scope own", "seller00@example.com"),
    ):
        samples = await server_time(db, await principal_of(db, email), LeadFilters())
        print(f"board open, server time, {BOARD_LEADS:,} leads ({who}): {percentiles(samples)}  [target < 300 ms]")
    await db.dispose()
    admin = await login(server, "admin@example.com")
    seller = await login(server, "seller00@example.com")
    manager = await login(server, "manager0@example.com")
    try:
        for who, api in (
            ("admin, scope all", admin),
            ("manager, scope team", manager),
            ("salesperson, scope own", seller),
        ):
            await timed(api, "/api/leads/board")  # warm
            samples = [await timed(api, "/api/leads/board") for _ in range(RUNS)]
            print(f"board open, HTTP round trip, {BOARD_LEADS:,} leads ({who}): {percentiles(samples)}")
        filtered = [
            await timed(admin, "/api/leads/board", {"tag": "hot", "include_closed": True, "source": "Facebook"})
            for _ in range(RUNS)
        ]
        print(f"board open with filters (tag, source, closed columns): {percentiles(filtered)}")
        column = (await admin.get("/api/pipelines")).json()[0]["statuses"][0]["id"]
        scroll = [
            await timed(admin, f"/api/leads/board/columns/{column}", {"offset": rng.randrange(0, 5000)})
            for _ in range(RUNS)
        ]
        print(f"board column page (50 cards, deep offsets): {percentiles(scroll)}")
        sorts = ["-created_at", "person_name", "-value", "company", "-updated_at"]
        pages = [
            await timed(
                admin, "/api/leads", {"sort": rng.choice(sorts), "offset": rng.randrange(0, 2000), "limit": 100}
            )
            for _ in range(RUNS)
        ]
        print(f"lead list page (100 rows, total count, random sort): {percentiles(pages)}")
        own_pages = [
            await timed(seller, "/api/leads", {"sort": "-created_at", "offset": rng.randrange(0, 500)})
            for _ in range(RUNS)
        ]
        print(f"lead list page as a salesperson: {percentiles(own_pages)}")
        searched = [
            await timed(admin, "/api/leads", {"q": rng.choice(LAST).lower()[:5], "limit": 100}) for _ in range(RUNS)
        ]
        print(f"lead list page with a search term: {percentiles(searched)}")
        await move_latency(admin, manager, server)

        started = time.perf_counter()
        for start in range(BOARD_LEADS + 1, SEARCH_LEADS + 1, CHUNK):
            generate(url, start, min(CHUNK, SEARCH_LEADS - start + 1))
        print(f"generated up to {SEARCH_LEADS:,} leads in {time.perf_counter() - started:.1f} s")
        with psycopg.connect(url) as conn:
            sample = conn.execute(
                "SELECT id, person_name, company, email, phone FROM leads ORDER BY random() LIMIT 60"
            ).fetchall()
        queries = []
        for lead_id, name, company, email, phone in sample:
            queries += [
                name.lower(),
                name.split()[1],
                company.split()[0] + " " + company.split()[1][:4],
                email.split("@")[0],
                "0" + phone[3:6] + " " + phone[6:9] + " " + phone[9:],
                phone[-6:],
                f"#{lead_id}",
            ]
        queries += ["zzqx", "nomatchatall", "popescu ion", "ana"]
        rng.shuffle(queries)
        for who, api in (("admin", admin), ("salesperson", seller)):
            for q in queries[:20]:
                await timed(api, "/api/search", {"q": q})  # warm
            samples = [await timed(api, "/api/search", {"q": q}) for q in queries[:300]]
            print(f"search, {SEARCH_LEADS:,} leads ({who}): {percentiles(samples)}  [target p95 < 100 ms]")
        board_1m = [await timed(admin, "/api/leads/board") for _ in range(10)]
        print(f"(for scale) board open at {SEARCH_LEADS:,} leads, admin: {percentiles(board_1m)}")
    finally:
        for api in (admin, seller, manager):
            await api.aclose()


async def move_latency(mover: httpx.AsyncClient, watcher: httpx.AsyncClient, server: LiveServer) -> None:
    """A move on one desktop until another desktop has it: the event on the watcher's WebSocket, and
    then the board column reloaded the way an open board does (one GET of the two columns' board)."""
    token = watcher.headers["Authorization"].split()[1]
    statuses = [s["id"] for s in (await mover.get("/api/pipelines")).json()[0]["statuses"][:4]]
    leads = (await watcher.get("/api/leads", params={"limit": MOVES, "sort": "-id"})).json()["items"]
    event_ms, board_ms = [], []
    async with connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        json.loads(await ws.recv())  # hello
        for i, lead in enumerate(leads):
            target = (
                statuses[(statuses.index(lead["status_id"]) + 1) % len(statuses)]
                if lead["status_id"] in statuses
                else statuses[i % len(statuses)]
            )
            t0 = time.perf_counter()
            moved = await mover.post(
                f"/api/leads/{lead['id']}/move", json={"version": lead["version"], "status_id": target}
            )
            assert moved.status_code == 200, moved.text
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame.get("entity") == "lead" and frame.get("entity_id") == lead["id"]:
                    break
            event_ms.append((time.perf_counter() - t0) * 1000)
            await watcher.get(f"/api/leads/board/columns/{target}", params={"limit": 50})
            board_ms.append((time.perf_counter() - t0) * 1000)
    print(f"move on one desktop -> event on another ({len(event_ms)} moves): {percentiles(event_ms)}")
    print(f"move on one desktop -> other's column reloaded: {percentiles(board_ms)}  [target p95 < 250 ms]")


def main() -> None:
    with live_server() as server:
        asyncio.run(bench(server))


if __name__ == "__main__":
    main()

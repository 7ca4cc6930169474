"""Benchmark of stock: 100,000 products in 5 warehouses (500,000 balance rows, each opened by a
receipt whose moves are in the ledger), 2 % of products with a low-stock threshold they are under.

Over real HTTP to the real app (server pool of 5 connections, as the test server runs it):
- stock-move throughput under concurrency: draft deliveries validated by 20 concurrent clients,
  all on ONE product in one warehouse (the hot row: every validation queues on the same balance
  row lock), then each on a different product (no contention); validations per second and their
  latency. Every validation is a conditional UPDATE of the balance row plus a ledger insert, an
  audit row and an event. The same again through the service alone (20 concurrent transactions
  on their own pool, no HTTP, auth or JSON), which is what the database side sustains.
- the stock overview (GET /api/stock/levels, first page of 100 with its total, the way the desktop
  opens it) p95, default sort and with filters, sorts and a deep page.
The issue fixes no number; the aim is p95 < 100 ms for the overview. Round trips are client-side
(HTTP, auth, JSON; the test server shares this process's GIL).

Run: nice .venv/bin/python -m tests.perf.bench_stock"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx
import psycopg

from crm_server.auth.permissions import Principal
from crm_server.db import Database
from crm_server.errors import ValidationFailed
from crm_server.stock import service
from tests.perf.common import live_server, percentiles
from tests.support import LiveServer

PRODUCTS = 100_000
WAREHOUSES = 5
RUNS = 40
CONCURRENCY = 20
VALIDATIONS = 400
TARGET_MS = 100.0


def generate(url: str) -> tuple[list[int], list[int]]:
    """Products, warehouses, one opening receipt per warehouse with its moves, and the balances."""
    with psycopg.connect(url, autocommit=True) as conn:
        rate = conn.execute("SELECT min(id) FROM tax_rates").fetchone()[0]  # type: ignore[index]
        user = conn.execute("SELECT min(id) FROM users").fetchone()[0]  # type: ignore[index]
        conn.execute(
            """
            INSERT INTO products (sku, name, unit, unit_price, currency, tax_rate_id, stock_tracked)
            SELECT 'SKU-' || lpad(g::text, 6, '0'),
                   (ARRAY['Bolt','Nut','Screw','Washer','Hinge','Bracket','Cable','Relay','Switch','Fuse'])
                     [1 + mod(g, 10)] || ' ' || (ARRAY['M4','M6','M8','steel','brass','zinc','black','XL'])
                     [1 + mod(g / 10, 8)] || ' ' || g,
                   'pcs', round((1 + random() * 99)::numeric, 2), 'EUR', %(rate)s, true
            FROM generate_series(1, %(n)s) g""",
            {"rate": rate, "n": PRODUCTS},
        )
        conn.execute(
            "INSERT INTO warehouses (name, address) SELECT 'Warehouse ' || g, 'Street ' || g "
            "FROM generate_series(1, %(n)s) g",
            {"n": WAREHOUSES},
        )
        warehouses = [r[0] for r in conn.execute("SELECT id FROM warehouses ORDER BY id").fetchall()]
        conn.execute(
            """
            INSERT INTO stock_documents (number, kind, status, warehouse_id, reason, created_by, validated_by,
                                         validated_at)
            SELECT 'REC-OPEN-' || w.id, 'receipt', 'validated', w.id, 'Opening stock', %(u)s, %(u)s, now()
            FROM warehouses w""",
            {"u": user},
        )
        conn.execute(
            """
            INSERT INTO stock_moves (product_id, warehouse_id, quantity, document_id, document_type, created_by)
            SELECT p.id, d.warehouse_id, 1 + floor(random() * 500), d.id, 'receipt', %(u)s
            FROM products p CROSS JOIN stock_documents d""",
            {"u": user},
        )
        conn.execute("""
            INSERT INTO stock_levels (product_id, warehouse_id, on_hand)
            SELECT product_id, warehouse_id, sum(quantity) FROM stock_moves GROUP BY 1, 2""")
        conn.execute("""
            INSERT INTO stock_product_settings (product_id, low_threshold, low_since)
            SELECT id, 5000, now() FROM products WHERE mod(id, 50) = 0""")
        conn.execute("VACUUM ANALYZE products, warehouses, stock_moves, stock_levels, stock_product_settings")
        products = [r[0] for r in conn.execute("SELECT id FROM products ORDER BY id").fetchall()]
    return products, warehouses


async def drafts(api: httpx.AsyncClient, pairs: list[tuple[int, int]]) -> list[dict[str, Any]]:
    made = []
    for product_id, warehouse_id in pairs:
        answer = await api.post(
            "/api/stock/documents",
            json={
                "kind": "delivery",
                "warehouse_id": warehouse_id,
                "lines": [{"product_id": product_id, "quantity": "1"}],
            },
        )
        assert answer.status_code == 201, answer.text
        made.append(answer.json())
    return made


async def validate_all(api: httpx.AsyncClient, documents: list[dict[str, Any]]) -> tuple[float, list[float], int]:
    """Validate with CONCURRENCY clients at once; (seconds, latencies in ms, refusals)."""
    queue = list(documents)
    latencies: list[float] = []
    refused = 0

    async def worker() -> None:
        nonlocal refused
        while queue:
            document = queue.pop()
            started = time.perf_counter()
            answer = await api.post(
                f"/api/stock/documents/{document['id']}/validate", json={"version": document["version"]}
            )
            latencies.append((time.perf_counter() - started) * 1000)
            if answer.status_code == 422:
                refused += 1
            else:
                assert answer.status_code == 200, answer.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started, latencies, refused


async def validate_in_service(
    url: str, user_id: int, documents: list[dict[str, Any]]
) -> tuple[float, list[float], int]:
    """The same validations through the service: CONCURRENCY transactions at a time, own pool."""
    db = Database(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=CONCURRENCY)
    actor = Principal(user_id=user_id, team_id=None, role_id=0)
    queue = list(documents)
    latencies: list[float] = []
    refused = 0

    async def worker() -> None:
        nonlocal refused
        while queue:
            document = queue.pop()
            started = time.perf_counter()
            try:
                async with db.transaction() as session:
                    await service.validate_document(session, actor, document["id"], document["version"])
            except ValidationFailed:
                refused += 1
            latencies.append((time.perf_counter() - started) * 1000)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started, latencies, refused
    finally:
        await db.dispose()


async def timed(api: httpx.AsyncClient, params: dict[str, Any]) -> float:
    started = time.perf_counter()
    answer = await api.get("/api/stock/levels", params=params)
    took = (time.perf_counter() - started) * 1000
    assert answer.status_code == 200, answer.text
    return took


async def bench(server: LiveServer) -> None:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as api:
        await server.login_admin(api)
        started = time.perf_counter()
        products, warehouses = generate(server.database_url)
        print(
            f"generated {len(products):,} products x {len(warehouses)} warehouses "
            f"({len(products) * len(warehouses):,} balance rows and opening moves) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        rng = random.Random(7)

        hot = products[rng.randrange(len(products))]
        with psycopg.connect(server.database_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO stock_moves (product_id, warehouse_id, quantity, document_id, document_type) "
                "SELECT %(p)s, %(w)s, %(n)s, min(id), 'receipt' FROM stock_documents",
                {"n": 2 * VALIDATIONS, "p": hot, "w": warehouses[0]},
            )
            conn.execute(
                "UPDATE stock_levels SET on_hand = on_hand + %(n)s WHERE product_id = %(p)s AND warehouse_id = %(w)s",
                {"n": 2 * VALIDATIONS, "p": hot, "w": warehouses[0]},
            )
            user_id = conn.execute("SELECT min(id) FROM users").fetchone()[0]  # type: ignore[index]
        spread = rng.sample(products, 2 * VALIDATIONS)
        for label, pairs in (
            ("one product (hot row)", [(hot, warehouses[0])] * (2 * VALIDATIONS)),
            ("many products", [(p, rng.choice(warehouses)) for p in spread]),
        ):
            documents = await drafts(api, pairs)
            seconds, latencies, refused = await validate_all(api, documents[:VALIDATIONS])
            print(
                f"stock moves over HTTP, {label}, {CONCURRENCY} concurrent clients: "
                f"{VALIDATIONS / seconds:.0f} validations/s ({VALIDATIONS} in {seconds:.2f} s, {refused} refused);"
                f" latency {percentiles(latencies)}"
            )
            seconds, latencies, refused = await validate_in_service(
                server.database_url, user_id, documents[VALIDATIONS:]
            )
            print(
                f"stock moves in the service, {label}, {CONCURRENCY} concurrent transactions: "
                f"{VALIDATIONS / seconds:.0f} validations/s ({VALIDATIONS} in {seconds:.2f} s, {refused} refused);"
                f" latency {percentiles(latencies)}"
            )

        with psycopg.connect(server.database_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE stock_levels, stock_moves")
            negative = conn.execute("SELECT count(*) FROM stock_levels WHERE on_hand < 0").fetchone()[0]  # type: ignore[index]
            drift = conn.execute("""
                SELECT count(*) FROM stock_levels l
                LEFT JOIN (SELECT product_id, warehouse_id, sum(quantity) q FROM stock_moves GROUP BY 1, 2) m
                  USING (product_id, warehouse_id)
                WHERE l.on_hand <> coalesce(m.q, 0)""").fetchone()[0]  # type: ignore[index]
        print(f"  after: {negative} balances below zero, {drift} balances differing from their ledger")

        cases: list[tuple[str, dict[str, Any]]] = [
            ("first page, default sort (name)", {}),
            ("sort by SKU", {"sort": "sku"}),
            ("one warehouse", {"warehouse_id": warehouses[2]}),
            ("search 'bolt m8'", {"q": "bolt m8"}),
            ("search a SKU", {"q": "SKU-04217"}),
            ("low stock only", {"low_only": True}),
            ("sort by available, descending", {"sort": "-available"}),
            ("deep page (offset 250,000)", {"offset": 250_000}),
        ]
        for label, params in cases:
            await timed(api, params)
            samples = [await timed(api, params) for _ in range(RUNS)]
            flag = "" if sorted(samples)[int(len(samples) * 0.95) - 1] < TARGET_MS else "  (above the 100 ms aim)"
            print(f"stock overview, {label}: {percentiles(samples)}{flag}")


def main() -> None:
    with live_server() as server:
        asyncio.run(bench(server))


if __name__ == "__main__":
    main()

"""Keyset paging on every list the desktop scrolls, through HTTP: a few more rows than a page, walked
page after page by the cursor each full page gives (`next`, sent back as `after`), come each once and
in the list's order (the same order one big page by offset gives; empties last on a nullable sort);
a garbled cursor is a 422 naming `after`. A list whose order a cursor cannot serve gives no `next`."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg

from tests.server.test_invoices import _client, _draft, _issued, _rate
from tests.server.test_orders import apply, store_order
from tests.server.test_payments_list import _pay
from tests.server.test_products import _product
from tests.server.test_proposals import _client as _proposal_client
from tests.server.test_proposals import _proposal
from tests.server.test_proposals import _rate as _proposal_rate
from tests.server.test_purchasing import order as purchase_order
from tests.server.test_stock import done, warehouse
from tests.server.test_stock import draft as stock_draft
from tests.server.test_stock import product as stock_product
from tests.server.test_tickets import make_ticket
from tests.support import LiveServer

GARBLED = ("not base64!", "bm9wZQ", "W3t9LHt9LHt9XQ")  # not base64; base64 of "nope"; of "[{},{},{}]"


async def walk(api: httpx.AsyncClient, path: str, limit: int = 2, **params: Any) -> list[dict[str, Any]]:
    """Every row of the list, page after page by the cursor each full page gives."""
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        extra: dict[str, str] = {"after": after} if after else {}
        answer = await api.get(path, params={**params, "offset": len(seen), "limit": limit, **extra})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += page["items"]
        after = page["next"]
        if after is None:
            assert len(page["items"]) <= limit
            return seen
        assert len(page["items"]) == limit


async def whole(api: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """The list as one page by offset: the order a walk must keep."""
    answer = await api.get(path, params={**params, "limit": 500})
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["next"] is None and page["total_exact"] is True
    items: list[dict[str, Any]] = page["items"]
    return items


async def same_walk(
    api: httpx.AsyncClient, path: str, at_least: int, key: tuple[str, ...] = ("id",), limit: int = 2, **params: Any
) -> list[dict[str, Any]]:
    """Walked by cursor, the list is the offset list, each row (told by `key`) once; returns it."""
    walked = await walk(api, path, limit, **params)
    assert len(walked) >= at_least > limit, (path, params, len(walked))
    keys = [tuple(row[k] for k in key) for row in walked]
    assert len(set(keys)) == len(keys), (path, params, "a row came twice")
    assert keys == [tuple(row[k] for k in key) for row in await whole(api, path, **params)], (path, params)
    return walked


async def refuses_garbled(api: httpx.AsyncClient, path: str, **params: Any) -> None:
    for bad in GARBLED:
        answer = await api.get(path, params={**params, "after": bad})
        assert answer.status_code == 422, (path, bad, answer.text)
        assert answer.json()["field"] == "after", (path, bad, answer.text)


def sql(server: LiveServer, *lines: str) -> None:
    with psycopg.connect(server.database_url, autocommit=True) as conn:
        for line in lines:
            conn.execute(line)


def ordered(values: list[Any], descending: bool) -> bool:
    return values == sorted(values, reverse=descending)


# --- clients ---------------------------------------------------------------------------------------


async def test_clients(server: LiveServer, admin: httpx.AsyncClient) -> None:
    for name in ("Delta", "alpha", "Charlie", "Bravo", "Alpha", "echo", "bravo"):
        made = await admin.post("/api/clients", json={"name": name})
        assert made.status_code == 201, made.text
    for sort in ("name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"):
        rows = await same_walk(admin, "/api/clients", 7, sort=sort)
        if sort.endswith("name"):
            keys = [(r["name"].lower(), r["id"]) for r in rows]
            assert ordered(keys, sort.startswith("-")), sort
    await refuses_garbled(admin, "/api/clients")


# --- products, proposals, purchase orders, sales orders, payments ----------------------------------


async def test_products(server: LiveServer, admin: httpx.AsyncClient) -> None:
    for n, (name, price) in enumerate([("Bolt", "3"), ("Nut", "1"), ("bolt", "3"), ("Washer", "0.5"), ("Axle", "9")]):
        await _product(admin, sku=f"S-{5 - n}", name=name, unit_price=price)
    for sort in ("sku", "-sku", "name", "-name", "unit_price", "-unit_price", "updated_at", "-updated_at"):
        await same_walk(admin, "/api/products", 5, sort=sort)
    await refuses_garbled(admin, "/api/products", sort="-unit_price")


async def test_proposals_empties_none_but_ties(server: LiveServer, admin: httpx.AsyncClient) -> None:
    rate = await _proposal_rate(admin)
    client = await _proposal_client(admin)
    for days in (5, 1, 5, 9, 1, 3):
        when = (date.today() + timedelta(days=days)).isoformat()
        await _proposal(admin, rate, client_id=client["id"], valid_until=when)
    for sort in ("number", "-number", "valid_until", "-valid_until", "gross_total", "-created_at", "updated_at"):
        rows = await same_walk(admin, "/api/proposals", 6, sort=sort)
        if sort.endswith("valid_until"):
            assert ordered([(r["valid_until"], r["id"]) for r in rows], sort.startswith("-")), sort
    await refuses_garbled(admin, "/api/proposals", sort="valid_until")


async def test_purchase_orders_empty_expected_dates_last(server: LiveServer, admin: httpx.AsyncClient) -> None:
    for expected in ("2027-03-01", None, "2027-01-10", None, "2027-03-01", "2027-02-02", None):
        await purchase_order(admin, **({"expected_on": expected} if expected else {}))
    for sort in ("expected_on", "-expected_on"):
        rows = await same_walk(admin, "/api/purchase-orders", 7, sort=sort)
        dated = [(r["expected_on"], r["id"]) for r in rows if r["expected_on"] is not None]
        assert len(dated) == 4 and [(r["expected_on"], r["id"]) for r in rows[:4]] == dated, "empties last"
        assert ordered(dated, sort.startswith("-")), sort
        assert ordered([r["id"] for r in rows[4:]], sort.startswith("-")), "the empties by id"
    for sort in ("number", "-number", "created_at", "-total"):
        await same_walk(admin, "/api/purchase-orders", 7, sort=sort)
    await refuses_garbled(admin, "/api/purchase-orders", sort="-expected_on")


async def test_sales_orders(server: LiveServer, admin: httpx.AsyncClient) -> None:
    for n in range(5):
        await apply(server, store_order(id=900 + n, number=str(900 + n)))
    sql(server, "UPDATE sales_orders SET total = (id % 2) * 10")  # ties, broken by the id
    for sort in ("created_at", "-created_at", "number", "-number", "total", "-total", "-external_modified_at"):
        await same_walk(admin, "/api/orders", 5, sort=sort)
    await refuses_garbled(admin, "/api/orders")


async def test_payments(server: LiveServer, admin: httpx.AsyncClient) -> None:
    rate = await _rate(admin)
    client = await _client(admin, "Northwind")
    invoice = await _issued(admin, client["id"], rate)
    for amount, paid_on in (
        ("10.00", "2026-03-01"),
        ("5.00", "2026-03-02"),
        ("10.00", "2026-03-01"),
        ("1.00", "2026-02-01"),
        ("2.00", "2026-03-02"),
    ):
        await _pay(admin, invoice, amount, paid_on)
    for sort in ("paid_on", "-paid_on", "amount", "-amount", "created_at", "-created_at"):
        await same_walk(admin, "/api/payments", 5, sort=sort)
    await refuses_garbled(admin, "/api/payments")


# --- invoices, stock documents ---------------------------------------------------------------------


async def test_invoices_drafts_without_number_or_dates_last(server: LiveServer, admin: httpx.AsyncClient) -> None:
    rate = await _rate(admin)
    client = await _client(admin, "Northwind")
    for _ in range(4):
        await _issued(admin, client["id"], rate)
    for _ in range(3):
        await _draft(admin, client["id"], rate)
    sql(
        server,
        "UPDATE invoices SET issue_date = date '2026-01-01' + (id % 3)::int,"
        " due_date = date '2026-02-01' + (id % 2)::int WHERE number IS NOT NULL",
        "UPDATE invoices SET issue_date = NULL, due_date = NULL WHERE number IS NULL",
    )
    for sort in ("number", "-number", "issue_date", "-issue_date", "due_date", "-due_date"):
        rows = await same_walk(admin, "/api/invoices", 7, sort=sort)
        key = sort.lstrip("-")
        assert [r[key] for r in rows[4:]] == [None] * 3, (sort, "empties last")
        assert ordered([(r[key], r["id"]) for r in rows[:4]], sort.startswith("-")), sort
        assert ordered([r["id"] for r in rows[4:]], sort.startswith("-")), (sort, "the empties by id")
    for sort in ("gross_total", "-created_at", "created_at"):
        await same_walk(admin, "/api/invoices", 7, sort=sort)
    # a short issue-date range is sorted another way; its cursor still goes on in the same order
    await same_walk(admin, "/api/invoices", 4, sort="-issue_date", issued_from="2026-01-01", issued_to="2026-01-31")
    await refuses_garbled(admin, "/api/invoices", sort="-due_date")


async def test_stock_documents_unvalidated_last(server: LiveServer, admin: httpx.AsyncClient) -> None:
    main = await warehouse(admin)
    bolt = await stock_product(admin, "BOLT")
    for n in range(6):
        lines = [(bolt["id"], str(n + 1))]
        await (done if n % 2 else stock_draft)(admin, "receipt", lines, warehouse_id=main["id"])
    for sort in ("validated_at", "-validated_at"):
        rows = await same_walk(admin, "/api/stock/documents", 6, sort=sort)
        assert [r["validated_at"] is None for r in rows] == [False] * 3 + [True] * 3, (sort, "empties last")
    for sort in ("created_at", "-created_at", "number", "-number"):
        await same_walk(admin, "/api/stock/documents", 6, sort=sort)
    await refuses_garbled(admin, "/api/stock/documents")


# --- the admin lists -------------------------------------------------------------------------------

# Seven rows each, times in three groups (ties broken by the id), newest first.
AT = "now() - (g % 3) * interval '1 minute'"


async def test_admin_lists(server: LiveServer, admin: httpx.AsyncClient) -> None:
    for n in range(5):
        await server.create_user(f"user{n}@example.com", full_name=f"User {n % 2}")
    rate = await _rate(admin)
    invoice = await _issued(admin, (await _client(admin, "Northwind"))["id"], rate)
    sql(
        server,
        f"INSERT INTO audit_log (at, entity, entity_id, action) SELECT {AT}, 'client', g, 'updated'"
        " FROM generate_series(1, 7) g",
        f"INSERT INTO login_history (at, email, address, result) SELECT {AT}, 'x' || g || '@example.com',"
        " ('10.0.0.' || (g % 3))::inet, 'bad_credentials' FROM generate_series(1, 7) g",
        f"INSERT INTO security_log (at, kind) SELECT {AT}, 'password_changed' FROM generate_series(1, 7) g",
        f"INSERT INTO blocked_networks (created_at, network) SELECT {AT}, ('10.1.' || g || '.0/24')::cidr"
        " FROM generate_series(1, 7) g",
        f"INSERT INTO email_pipe_log (received_at, source, outcome) SELECT {AT}, 'cli', 'created'"
        " FROM generate_series(1, 7) g",
        f"INSERT INTO invoice_emails (invoice_id, recipient, subject, body) SELECT {invoice['id']},"
        " 'a@example.com', 'Invoice', 'Hello' FROM generate_series(1, 7) g",
        f"INSERT INTO integration_events (received_at, provider, status) SELECT {AT}, 'stripe', 'processed'"
        " FROM generate_series(1, 7) g",
    )
    lists: list[tuple[str, dict[str, Any]]] = [
        ("/api/audit", {}),
        ("/api/users", {}),
        ("/api/login-history", {}),
        ("/api/security-log", {}),
        ("/api/blocked-addresses", {}),
        ("/api/email-pipe/log", {}),
        ("/api/invoice-emails", {}),
        ("/api/integrations/events", {"provider": "stripe"}),
    ]
    for path, params in lists:
        await same_walk(admin, path, 6, **params)
        await refuses_garbled(admin, path, **params)
    # failed sign-ins grouped by address: counts tie, no row's own key; pages by offset only
    first = (await admin.get("/api/security-log/failures", params={"min_count": 1, "limit": 2})).json()
    assert first["total"] == 3 and len(first["items"]) == 2 and first["next"] is None
    await refuses_garbled(admin, "/api/security-log/failures")


# --- stock levels and a product's history ----------------------------------------------------------


async def test_stock_levels_and_history(server: LiveServer, admin: httpx.AsyncClient) -> None:
    main, north = await warehouse(admin), await warehouse(admin, "North")
    products = [await stock_product(admin, sku, name) for sku, name in (("b-2", "Bolt"), ("A-1", "Bolt"), ("c", "Nut"))]
    for n, item in enumerate(products):
        for place in (main, north):
            await done(admin, "receipt", [(item["id"], str(1 + n % 2))], warehouse_id=place["id"])
    await done(admin, "receipt", [(products[0]["id"], "4")], warehouse_id=main["id"])
    for sort in ("sku", "-sku", "name", "-name", "warehouse", "-warehouse", "on_hand", "-reserved", "-available"):
        await same_walk(admin, "/api/stock/levels", 6, key=("product_id", "warehouse_id"), sort=sort)
    levels = await walk(admin, "/api/stock/levels", sort="warehouse")
    assert [(r["warehouse_name"], r["product_id"]) for r in levels] == [
        (place, item["id"])
        for place in ("Main", "North")
        for item in products  # by name, then id
    ]
    await refuses_garbled(admin, "/api/stock/levels", sort="-available")
    history = f"/api/products/{products[0]['id']}/stock-history"
    for newest_first in ("true", "false"):
        moves = await same_walk(admin, history, 3, newest_first=newest_first)
        assert ordered([m["id"] for m in moves], newest_first == "true")
    await refuses_garbled(admin, history)


# --- tickets ---------------------------------------------------------------------------------------


async def test_tickets_without_a_due_time_last(server: LiveServer, admin: httpx.AsyncClient) -> None:
    for n in range(7):
        await make_ticket(admin, subject=f"Ticket {n}", priority=("normal", "high", "critical")[n % 3])
    sql(
        server,
        "UPDATE tickets SET first_response_due_at = CASE WHEN id % 3 = 0 THEN NULL"
        " ELSE timestamptz '2027-01-01 09:00Z' + (id % 2) * interval '1 hour' END",
    )
    for sort in ("first_response_due_at", "-first_response_due_at"):
        rows = await same_walk(admin, "/api/tickets", 7, sort=sort)
        assert [r["first_response_due_at"] is None for r in rows] == [False] * 5 + [True] * 2, "empties last"
        assert ordered([r["id"] for r in rows[5:]], sort.startswith("-")), "the empties by id"
    for sort in ("created_at", "-created_at", "updated_at", "priority", "-priority", "number", "-number"):
        await same_walk(admin, "/api/tickets", 7, sort=sort)
    await refuses_garbled(admin, "/api/tickets", sort="-first_response_due_at")


# --- the large lists: the page after a cursor is an index range, each direction ------------------


async def test_a_page_after_a_cursor_reads_an_index_in_order_each_way(
    server: LiveServer, admin: httpx.AsyncClient, statements: list[tuple[str, Any]]
) -> None:
    rate = await _rate(admin)
    client = await _client(admin, "Northwind")
    invoice = await _issued(admin, client["id"], rate)
    for n in range(3):
        await _pay(admin, invoice, f"{n + 1}.00", f"2026-03-0{n + 1}")
        await _draft(admin, client["id"], rate)
    lists = [("/api/invoices", sort) for sort in ("number", "issue_date", "due_date", "gross_total", "created_at")]
    lists += [("/api/payments", sort) for sort in ("paid_on", "amount", "created_at")]
    lists += [("/api/audit", "")]
    for path, name in lists:
        for sort in [name, f"-{name}"] if name else [""]:
            params = {"sort": sort} if sort else {}
            first = (await admin.get(path, params={**params, "limit": 1})).json()
            statements.clear()
            answer = await admin.get(path, params={**params, "limit": 1, "after": first["next"]})
            assert answer.status_code == 200, answer.text
            table = path.rsplit("/", 1)[1].replace("audit", "audit_log")
            sent = [(s, p) for s, p in statements if f"FROM {table}" in s and "ORDER BY" in s]
            assert sent, (path, sort)
            with psycopg.connect(server.database_url) as conn:
                conn.execute("SET enable_seqscan = off")  # a few rows: read as the million would be
                for statement, values in sent:
                    row = conn.execute("EXPLAIN (FORMAT JSON) " + statement, values).fetchone()
                    assert row is not None
                    shape = json.dumps(row[0])
                    assert '"Node Type": "Sort"' not in shape, (path, sort, shape)

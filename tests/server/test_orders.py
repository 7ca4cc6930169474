"""Sales orders from the web shop: each status with its stock effect (processing holds, completed
delivers through a validated delivery that consumes the hold, cancelled/refunded/failed give it
back), the same or an older state changing nothing, an unknown SKU making the product, a line
without SKU kept as skipped, the client matched by email or made, the lists and who may read them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from crm_server.admin.models import AuditEntry
from crm_server.clients.models import Client
from crm_server.events import Event
from crm_server.integrations import woocommerce
from crm_server.orders.models import SalesOrder
from crm_server.products.models import Product
from crm_server.stock.models import StockDocument
from tests.server.test_stock import done, level, product, warehouse
from tests.support import LiveServer

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks" / "woocommerce"
HOODIE = "WOO-HOODIE-BLUE"


def store_order(name: str = "order.created", **changes: Any) -> dict[str, Any]:
    """A fixture order with some fields changed (billing fields by `billing`)."""
    order: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    billing = changes.pop("billing", {})
    order.update(copy.deepcopy(changes))
    order["billing"].update(billing)
    return order


def later(order: dict[str, Any], minutes: int, **changes: Any) -> dict[str, Any]:
    """The same order changed `minutes` after the fixture's date_modified_gmt."""
    from datetime import datetime, timedelta

    stamp = datetime.fromisoformat(order["date_modified_gmt"]) + timedelta(minutes=minutes)
    return {**copy.deepcopy(order), "date_modified_gmt": stamp.strftime("%Y-%m-%dT%H:%M:%S"), **changes}


async def apply(server: LiveServer, payload: dict[str, Any]) -> str:
    async with server.session() as s:
        return await woocommerce.handle_order(s, payload)


async def the_order(server: LiveServer, external_id: int = 727) -> SalesOrder:
    async with server.session() as s:
        order = await s.scalar(select(SalesOrder).where(SalesOrder.external_id == str(external_id)))
        assert order is not None
        return order


async def count(server: LiveServer, model: Any, *where: Any) -> int:
    async with server.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def stocked(admin: Any, quantity: str = "5") -> tuple[int, int]:
    """The hoodie as a stock-tracked product with `quantity` in the main warehouse."""
    main = await warehouse(admin)
    hoodie = await product(admin, HOODIE, "Hoodie - Blue")
    await done(admin, "receipt", [(hoodie["id"], quantity)], warehouse_id=main["id"])
    return hoodie["id"], main["id"]


async def test_processing_reserves_completed_delivers_and_repeats_change_nothing(
    server: LiveServer, admin: Any
) -> None:
    hoodie, main = await stocked(admin)
    created = store_order()
    said = await apply(server, created)
    assert said.startswith("Created WC-727 (Processing") and "stock reserved" in said, said
    assert "new product WOO-CAP-RED" in said and "new client John Doe" in said, said
    row = await level(admin, hoodie, main)
    assert (row["on_hand"], row["reserved"], row["available"]) == ("5.000", "2.000", "3.000")

    body = (await admin.get("/api/orders")).json()
    assert body["total"] == 1
    listed = body["items"][0]
    assert (listed["number"], listed["status"], listed["client_name"], listed["total"], listed["line_count"]) == (
        "WC-727",
        "processing",
        "John Doe",
        "166.60",
        2,
    )
    detail = (await admin.get(f"/api/orders/{listed['id']}")).json()
    assert [(ln["sku"], ln["quantity"], ln["unit_price"], ln["line_total"]) for ln in detail["lines"]] == [
        (HOODIE, "2.000", "45.00", "90.00"),
        ("WOO-CAP-RED", "1.000", "40.00", "40.00"),
    ]
    assert detail["skipped_lines"] == [
        {"name": "Gift card", "quantity": "1", "line_total": "0.00", "reason": "no SKU in the store"}
    ]
    assert [(h["sku"], h["quantity"], h["warehouse_id"]) for h in detail["held"]] == [(HOODIE, "2.000", main)]
    assert detail["stock_state"] == "reserved" and detail["client_email"] == "john.doe@example.com"

    # The same state again (a retry, or the reconciliation) changes nothing: no audit, no event, no stock.
    audits, announced = await count(server, AuditEntry), await count(server, Event, Event.module == "orders")
    assert "unchanged" in await apply(server, created)
    assert (await count(server, AuditEntry), await count(server, Event, Event.module == "orders")) == (
        audits,
        announced,
    )

    completed = store_order("order.updated")
    assert "delivered by DEL-" in await apply(server, completed)
    row = await level(admin, hoodie, main)
    assert (row["on_hand"], row["reserved"], row["available"]) == ("3.000", "0.000", "3.000")
    order = await the_order(server)
    assert (order.status, order.stock_state) == ("completed", "delivered")
    async with server.session() as s:
        delivery = await s.get(StockDocument, order.delivery_id)
        assert delivery is not None
        assert (delivery.kind, delivery.status, delivery.source_type, delivery.source_id) == (
            "delivery",
            "validated",
            "sales_order",
            order.id,
        )

    # An older state arriving late (the created webhook after the completed one) changes nothing.
    assert "unchanged" in await apply(server, created)
    assert "unchanged" in await apply(server, completed)
    order = await the_order(server)
    assert (order.status, order.stock_state) == ("completed", "delivered")
    assert await count(server, StockDocument, StockDocument.kind == "delivery") == 1
    assert (await level(admin, hoodie, main))["on_hand"] == "3.000"
    assert await count(server, Event, Event.module == "orders", Event.entity == "sales_order") == 2


@pytest.mark.parametrize("status", ["cancelled", "refunded", "failed"])
async def test_cancelled_refunded_failed_give_the_hold_back(server: LiveServer, admin: Any, status: str) -> None:
    hoodie, main = await stocked(admin)
    created = store_order()
    await apply(server, created)
    assert (await level(admin, hoodie, main))["reserved"] == "2.000"
    said = await apply(server, later(created, 5, status=status))
    assert "stock released" in said, said
    row = await level(admin, hoodie, main)
    assert (row["on_hand"], row["reserved"]) == ("5.000", "0.000")
    order = await the_order(server)
    assert (order.status, order.stock_state) == (status, "released")
    # Told again, later: nothing more to give back, nothing refused.
    assert "stock" not in await apply(server, later(created, 9, status=status))
    assert (await level(admin, hoodie, main))["reserved"] == "0.000"


async def test_on_hold_keeps_the_hold_pending_holds_nothing_and_lines_follow_the_store(
    server: LiveServer, admin: Any
) -> None:
    hoodie, main = await stocked(admin)
    pending = store_order(status="pending")
    await apply(server, pending)
    assert (await level(admin, hoodie, main))["reserved"] == "0.000"
    assert (await the_order(server)).stock_state == "none"

    processing = later(pending, 1, status="processing")
    await apply(server, processing)
    on_hold = later(pending, 2, status="on-hold")
    await apply(server, on_hold)
    assert (await the_order(server)).status == "on_hold"
    assert (await level(admin, hoodie, main))["reserved"] == "2.000"

    # The shop changes the quantity while processing: the hold follows (3, not 2 + 3).
    more = later(pending, 3, status="processing")
    more["line_items"][0]["quantity"] = 3
    await apply(server, more)
    assert (await level(admin, hoodie, main))["reserved"] == "3.000"


async def test_not_enough_stock_keeps_the_order_and_says_why(server: LiveServer, admin: Any) -> None:
    hoodie, main = await stocked(admin, quantity="1")
    said = await apply(server, store_order())
    assert "stock short" in said
    order = await the_order(server)
    assert order.status == "processing" and order.stock_state == "short"
    assert order.stock_note is not None and HOODIE in order.stock_note
    assert (await level(admin, hoodie, main))["reserved"] == "0.000"
    # Cancelled by the shop: nothing was held, the shortage is no longer a concern.
    await apply(server, later(store_order(), 3, status="cancelled"))
    assert (await the_order(server)).stock_state == "none"


async def test_an_order_short_of_stock_holds_it_once_a_receipt_comes_in(server: LiveServer, admin: Any) -> None:
    from crm_server.orders import service

    hoodie, main = await stocked(admin, quantity="1")
    await apply(server, store_order())
    async with server.session() as s:
        assert await service.retry_short(s) == []  # still one hoodie for an order of two
    assert (await the_order(server)).stock_state == "short"
    await done(admin, "receipt", [(hoodie, "4")], warehouse_id=main)
    async with server.session() as s:
        assert await service.retry_short(s) == ["WC-727"]
    order = await the_order(server)
    assert (order.stock_state, order.stock_note) == ("reserved", None)
    assert (await level(admin, hoodie, main))["reserved"] == "2.000"


async def test_unknown_sku_makes_the_product_and_a_line_without_sku_is_skipped(server: LiveServer, admin: Any) -> None:
    payload = store_order()
    payload["line_items"][0]["sku"] = "NEW-1"
    await apply(server, payload)
    async with server.session() as s:
        made = {p.sku: p for p in (await s.scalars(select(Product).order_by(Product.sku))).all()}
    assert set(made) == {"NEW-1", "WOO-CAP-RED"}  # the gift card has no SKU: no product
    assert (made["NEW-1"].name, str(made["NEW-1"].unit_price), made["NEW-1"].currency) == (
        "Hoodie - Blue",
        "45.00",
        "EUR",
    )
    assert not made["NEW-1"].stock_tracked
    order = await the_order(server)
    assert order.stock_state == "none"  # nothing stock-tracked to hold
    assert [s["name"] for s in order.skipped_lines] == ["Gift card"]

    # The next state of the order finds the products it made: none made twice.
    await apply(server, later(payload, 1, status="completed"))
    assert await count(server, Product) == 2


async def test_client_matched_by_email_or_made(server: LiveServer, admin: Any) -> None:
    known = (await admin.post("/api/clients", json={"name": "Doe Consulting", "email": "JOHN.DOE@example.com"})).json()
    await apply(server, store_order())
    assert (await the_order(server)).client_id == known["id"]

    # A contact's address finds the contact's client.
    other = (await admin.post("/api/clients", json={"name": "Globex"})).json()
    contact = await admin.post(
        f"/api/clients/{other['id']}/contacts", json={"name": "Ann Lee", "email": "ann@globex.example.net"}
    )
    assert contact.status_code == 201, contact.text
    await apply(
        server, store_order(id=728, number="728", billing={"email": "ann@globex.example.net", "first_name": "Ann"})
    )
    assert (await the_order(server, 728)).client_id == other["id"]

    # Someone new: a client made from the billing details (the company when there is one).
    await apply(
        server,
        store_order(
            id=729, number="729", billing={"email": "mia@newco.example.org", "company": "NewCo", "phone": "not a phone"}
        ),
    )
    async with server.session() as s:
        made = await s.scalar(select(Client).where(Client.email == "mia@newco.example.org"))
    assert made is not None and made.name == "NewCo" and made.phone is None
    assert (await the_order(server, 729)).client_id == made.id
    assert await count(server, Client) == 3


def test_status_map() -> None:
    cases = {
        "pending": "pending",
        "pending-payment": "pending",
        "processing": "processing",
        "on-hold": "on_hold",
        "completed": "completed",
        "cancelled": "cancelled",
        "refunded": "refunded",
        "failed": "failed",
        "checkout-draft": "draft",
        "wc-shipped": "draft",
        "": "draft",
    }
    for store_status, ours in cases.items():
        assert woocommerce.store_order(store_order(status=store_status), "EUR").status.value == ours, store_status


async def test_list_filters_and_who_may_read(server: LiveServer, admin: Any) -> None:
    await apply(server, store_order())
    await apply(
        server,
        store_order(
            id=800, number="800", status="completed", billing={"email": "zed@example.com", "first_name": "Zed"}
        ),
    )
    assert [o["number"] for o in (await admin.get("/api/orders", params={"status": "completed"})).json()["items"]] == [
        "WC-800"
    ]
    assert [o["number"] for o in (await admin.get("/api/orders", params={"q": "john"})).json()["items"]] == ["WC-727"]
    assert [o["number"] for o in (await admin.get("/api/orders", params={"q": "800"})).json()["items"]] == ["WC-800"]
    assert (await admin.get("/api/orders", params={"sort": "total"})).json()["total"] == 2

    async with server.client() as api:
        await server.create_user("acc@example.com", role="Accountant")
        await server.login(api, "acc@example.com")
        assert (await api.get("/api/orders")).json()["total"] == 2  # as invoices: all of them
    async with server.client() as api:
        await server.create_user("sam@example.com", role="Salesperson")
        await server.login(api, "sam@example.com")
        assert (await api.get("/api/orders")).json()["total"] == 0  # own scope: the shop's clients are no one's
        order_id = (await the_order(server)).id
        assert (await api.get(f"/api/orders/{order_id}")).status_code == 404
    async with server.client() as api:
        await server.create_user("wh@example.com", role="Warehouse")
        await server.login(api, "wh@example.com")
        assert (await api.get("/api/orders")).status_code == 403


async def test_two_states_of_a_new_order_at_once_make_one_order_in_the_newer_state(
    server: LiveServer, admin: Any
) -> None:
    import asyncio

    hoodie, main = await stocked(admin)
    created = store_order()
    second = store_order(id=728, number="728")  # same new client, same new SKU, at the same time
    await asyncio.gather(
        apply(server, later(created, 10, status="completed")), apply(server, created), apply(server, second)
    )
    order = await the_order(server)
    assert (order.status, order.stock_state) == ("completed", "delivered")
    assert await count(server, SalesOrder) == 2
    assert await count(server, Client) == 1 and await count(server, Product) == 2
    row = await level(admin, hoodie, main)
    assert (row["on_hand"], row["reserved"]) == ("3.000", "2.000")  # 727 delivered, 728 holds its two

"""Stock: the ledger arithmetic, documents from draft to validated, a receipt refused without its
warehouse, reversal, transfer, inventory adjustment, reservations and release, negative stock
refused (naming the product and the available quantity) or allowed by the setting, twenty
concurrent requests for the last units, the low-stock notification sent once, the history's running
quantities, and permissions."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from crm_server.admin.models import AuditEntry
from crm_server.stock.models import StockLevel, StockMove
from tests.support import LiveServer


async def rate(api: Any) -> int:
    return int((await api.get("/api/tax-rates")).json()[0]["id"])


async def product(api: Any, sku: str, name: str | None = None, tracked: bool = True) -> dict[str, Any]:
    made = await api.post(
        "/api/products",
        json={
            "sku": sku,
            "name": name or f"Product {sku}",
            "unit_price": "10",
            "tax_rate_id": await rate(api),
            "stock_tracked": tracked,
        },
    )
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def warehouse(api: Any, name: str = "Main") -> dict[str, Any]:
    made = await api.post("/api/warehouses", json={"name": name, "address": "Str. 1"})
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def draft(api: Any, kind: str, lines: list[tuple[int, str]], **fields: Any) -> dict[str, Any]:
    made = await api.post(
        "/api/stock/documents",
        json={"kind": kind, "lines": [{"product_id": p, "quantity": q} for p, q in lines], **fields},
    )
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def validate(api: Any, document: dict[str, Any]) -> Any:
    return await api.post(f"/api/stock/documents/{document['id']}/validate", json={"version": document["version"]})


async def done(api: Any, kind: str, lines: list[tuple[int, str]], **fields: Any) -> dict[str, Any]:
    answer = await validate(api, await draft(api, kind, lines, **fields))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def level(api: Any, product_id: int, warehouse_id: int) -> dict[str, Any]:
    rows = (await api.get("/api/stock/levels", params={"product_id": product_id, "warehouse_id": warehouse_id})).json()[
        "items"
    ]
    assert len(rows) == 1, rows
    return rows[0]  # type: ignore[no-any-return]


async def setting(api: Any, key: str, value: Any) -> None:
    answer = await api.patch("/api/settings", json={"values": {key: value}})
    assert answer.status_code == 200, answer.text


async def ledger_sum(server: LiveServer, product_id: int, warehouse_id: int) -> Decimal:
    async with server.session() as s:
        total = await s.scalar(
            select(func.coalesce(func.sum(StockMove.quantity), 0)).where(
                StockMove.product_id == product_id, StockMove.warehouse_id == warehouse_id
            )
        )
    return Decimal(total)


async def test_documents_move_stock_only_when_validated_and_levels_equal_the_ledger(
    server: LiveServer, admin: Any
) -> None:
    main = await warehouse(admin)
    a, b = await product(admin, "A-1"), await product(admin, "B-1")
    receipt = await draft(
        admin, "receipt", [(a["id"], "10.5"), (b["id"], "3")], warehouse_id=main["id"], reference="DN 77"
    )
    assert receipt["status"] == "draft" and receipt["number"].startswith("REC-")
    assert [ln["sku"] for ln in receipt["lines"]] == ["A-1", "B-1"]
    assert (await admin.get("/api/stock/levels", params={"warehouse_id": main["id"]})).json()["total"] == 0

    edited = await admin.patch(
        f"/api/stock/documents/{receipt['id']}",
        json={
            "version": receipt["version"],
            "lines": [{"product_id": a["id"], "quantity": "12.250"}, {"product_id": b["id"], "quantity": "3"}],
        },
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] > receipt["version"]
    answer = await validate(admin, edited.json())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "validated" and body["validated_by"] is not None and body["validated_at"]

    again = await admin.patch(
        f"/api/stock/documents/{receipt['id']}", json={"version": body["version"], "notes": "late"}
    )
    assert again.status_code == 409 and again.json()["code"] == "not_draft" and "Reverse" in again.json()["message"]
    twice = await validate(admin, body)
    assert twice.status_code == 409

    await done(admin, "delivery", [(a["id"], "2.25")], warehouse_id=main["id"])
    await done(admin, "delivery", [(a["id"], "1"), (b["id"], "3")], warehouse_id=main["id"])
    row = await level(admin, a["id"], main["id"])
    assert (row["on_hand"], row["reserved"], row["available"], row["incoming"]) == ("9.000", "0.000", "9.000", "0.000")
    assert await ledger_sum(server, a["id"], main["id"]) == Decimal(9)
    assert (await level(admin, b["id"], main["id"]))["on_hand"] == "0.000"
    async with server.session() as s:
        moves = (
            await s.scalars(select(StockMove.quantity).where(StockMove.product_id == a["id"]).order_by(StockMove.id))
        ).all()
        assert moves == [Decimal("12.25"), Decimal("-2.25"), Decimal("-1")]
        # The ledger is append-only: the database itself refuses to change or drop a move.
        for statement in ("UPDATE stock_moves SET quantity = 1", "DELETE FROM stock_moves"):
            with pytest.raises(DBAPIError, match="append-only"):
                async with s.begin_nested():
                    await s.execute(text(statement))
        audits = (
            await s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity == "stock_document", AuditEntry.entity_id == receipt["id"])
                .order_by(AuditEntry.id)
            )
        ).all()
        assert audits == ["created", "updated", "validated"]


async def test_validation_names_what_is_missing(server: LiveServer, admin: Any) -> None:
    main, other = await warehouse(admin), await warehouse(admin, "Other")
    a = await product(admin, "A-1")
    service_item = await product(admin, "SRV", tracked=False)
    receipt = await draft(admin, "receipt", [(a["id"], "5")])
    refused = await validate(admin, receipt)
    assert refused.status_code == 422 and refused.json()["field"] == "warehouse_id"
    assert "destination warehouse" in refused.json()["message"]
    transfer = await draft(admin, "transfer", [(a["id"], "1")], warehouse_id=main["id"])
    refused = await validate(admin, transfer)
    assert refused.status_code == 422 and refused.json()["field"] == "to_warehouse_id"
    same = await admin.patch(
        f"/api/stock/documents/{transfer['id']}", json={"version": transfer["version"], "to_warehouse_id": main["id"]}
    )
    assert (await validate(admin, same.json())).json()["field"] == "to_warehouse_id"
    adjustment = await draft(admin, "adjustment", [(a["id"], "5")], warehouse_id=main["id"])
    assert (await validate(admin, adjustment)).json()["field"] == "reason"
    empty = await draft(admin, "delivery", [], warehouse_id=main["id"])
    assert (await validate(admin, empty)).json()["field"] == "lines"
    untracked = await admin.post(
        "/api/stock/documents",
        json={
            "kind": "receipt",
            "warehouse_id": main["id"],
            "lines": [{"product_id": service_item["id"], "quantity": "1"}],
        },
    )
    assert untracked.status_code == 422 and untracked.json()["field"] == "lines.0.product_id"
    zero = await admin.post(
        "/api/stock/documents",
        json={"kind": "receipt", "warehouse_id": other["id"], "lines": [{"product_id": a["id"], "quantity": "0"}]},
    )
    assert zero.status_code == 422 and zero.json()["field"] == "lines.0.quantity"
    cancelled = await admin.post(f"/api/stock/documents/{receipt['id']}/cancel", json={"version": receipt["version"]})
    assert cancelled.json()["status"] == "cancelled"
    assert (await validate(admin, cancelled.json())).status_code == 409


async def test_transfer_adjustment_and_reversal(server: LiveServer, admin: Any) -> None:
    main, shop = await warehouse(admin), await warehouse(admin, "Shop")
    a = await product(admin, "A-1")
    receipt = await done(admin, "receipt", [(a["id"], "10")], warehouse_id=main["id"])
    transfer = await done(admin, "transfer", [(a["id"], "4")], warehouse_id=main["id"], to_warehouse_id=shop["id"])
    assert (await level(admin, a["id"], main["id"]))["on_hand"] == "6.000"
    assert (await level(admin, a["id"], shop["id"]))["on_hand"] == "4.000"
    too_much = await draft(admin, "transfer", [(a["id"], "7")], warehouse_id=main["id"], to_warehouse_id=shop["id"])
    assert (await validate(admin, too_much)).json()["code"] == "insufficient_stock"
    assert (await level(admin, a["id"], shop["id"]))["on_hand"] == "4.000"  # all or nothing

    counted = await done(admin, "adjustment", [(a["id"], "5.5")], warehouse_id=main["id"], reason="Yearly count")
    assert counted["lines"][0]["moved"] == "-0.500"
    assert (await level(admin, a["id"], main["id"]))["on_hand"] == "5.500"
    unchanged = await done(admin, "adjustment", [(a["id"], "4")], warehouse_id=shop["id"], reason="Spot check")
    assert unchanged["lines"][0]["moved"] == "0.000"

    reversed_transfer = await admin.post(
        f"/api/stock/documents/{transfer['id']}/reverse", json={"version": transfer["version"]}
    )
    assert reversed_transfer.status_code == 201, reversed_transfer.text
    back = reversed_transfer.json()
    assert back["kind"] == "transfer" and back["status"] == "validated" and back["reverses_id"] == transfer["id"]
    assert (back["warehouse_id"], back["to_warehouse_id"]) == (shop["id"], main["id"])
    assert (await level(admin, a["id"], main["id"]))["on_hand"] == "9.500"
    assert (await level(admin, a["id"], shop["id"]))["on_hand"] == "0.000"
    original = (await admin.get(f"/api/stock/documents/{transfer['id']}")).json()
    assert original["status"] == "reversed" and original["reversed_by_id"] == back["id"]
    again = await admin.post(f"/api/stock/documents/{transfer['id']}/reverse", json={"version": original["version"]})
    assert again.status_code == 409
    undo_count = await admin.post(f"/api/stock/documents/{counted['id']}/reverse", json={"version": counted["version"]})
    assert undo_count.status_code == 201 and undo_count.json()["lines"][0]["moved"] == "0.500"
    assert (await level(admin, a["id"], main["id"]))["on_hand"] == "10.000"
    undo_receipt = await admin.post(
        f"/api/stock/documents/{receipt['id']}/reverse", json={"version": receipt["version"]}
    )
    assert undo_receipt.status_code == 201 and undo_receipt.json()["kind"] == "delivery"
    assert (await level(admin, a["id"], main["id"]))["on_hand"] == "0.000"
    assert await ledger_sum(server, a["id"], main["id"]) == 0
    listed = (await admin.get("/api/stock/documents", params={"product_id": a["id"], "status": "reversed"})).json()
    assert {d["id"] for d in listed["items"]} == {transfer["id"], counted["id"], receipt["id"]}


async def test_negative_stock_refused_naming_product_and_available_unless_allowed(
    server: LiveServer, admin: Any
) -> None:
    main = await warehouse(admin)
    a = await product(admin, "A-1", "Blue widget")
    await done(admin, "receipt", [(a["id"], "3")], warehouse_id=main["id"])
    delivery = await draft(admin, "delivery", [(a["id"], "5")], warehouse_id=main["id"])
    refused = await validate(admin, delivery)
    body = refused.json()
    assert refused.status_code == 422 and body["code"] == "insufficient_stock"
    assert body["field"] == "lines.0.quantity" and body["available"] == "3.000" and body["sku"] == "A-1"
    assert "Blue widget" in body["message"] and "3 available" in body["message"]
    assert (await admin.get(f"/api/stock/documents/{delivery['id']}")).json()["status"] == "draft"

    await setting(admin, "stock.allow_negative", True)
    allowed = await validate(admin, delivery)
    assert allowed.status_code == 200, allowed.text
    row = await level(admin, a["id"], main["id"])
    assert row["on_hand"] == "-2.000" and row["available"] == "-2.000"
    await setting(admin, "stock.allow_negative", False)
    # From below zero, goods in are always accepted; more goods out are not.
    await done(admin, "receipt", [(a["id"], "1")], warehouse_id=main["id"])
    more = await validate(admin, await draft(admin, "delivery", [(a["id"], "1")], warehouse_id=main["id"]))
    assert more.status_code == 422 and more.json()["available"] == "-1.000"


async def test_reservations_hold_stock_and_delivery_consumes_them(server: LiveServer, admin: Any) -> None:
    main = await warehouse(admin)
    a, b = await product(admin, "A-1"), await product(admin, "B-1")
    await done(admin, "receipt", [(a["id"], "10"), (b["id"], "2")], warehouse_id=main["id"])
    held = await admin.post(
        "/api/stock/reservations",
        json={
            "source_type": "invoice",
            "source_id": 41,
            "warehouse_id": main["id"],
            "lines": [{"product_id": a["id"], "quantity": "4"}, {"product_id": b["id"], "quantity": "2"}],
        },
    )
    assert held.status_code == 200, held.text
    assert {(r["sku"], r["quantity"]) for r in held.json()} == {("A-1", "4.000"), ("B-1", "2.000")}
    row = await level(admin, a["id"], main["id"])
    assert (row["on_hand"], row["reserved"], row["available"]) == ("10.000", "4.000", "6.000")

    beyond = await admin.post(
        "/api/stock/reservations",
        json={
            "source_type": "invoice",
            "source_id": 42,
            "warehouse_id": main["id"],
            "lines": [{"product_id": b["id"], "quantity": "1"}],
        },
    )
    assert beyond.status_code == 422 and beyond.json()["available"] == "0.000"
    assert beyond.json()["field"] == "lines.0.quantity"
    # Someone else's delivery cannot take what invoice 41 holds.
    other = await validate(admin, await draft(admin, "delivery", [(a["id"], "7")], warehouse_id=main["id"]))
    assert other.status_code == 422 and other.json()["available"] == "6.000"

    more = await admin.post(
        "/api/stock/reservations",
        json={
            "source_type": "invoice",
            "source_id": 41,
            "warehouse_id": main["id"],
            "lines": [{"product_id": a["id"], "quantity": "1"}],
        },
    )
    assert {r["sku"]: r["quantity"] for r in more.json()}["A-1"] == "5.000"
    # Delivering invoice 41: its reservation is consumed (3 of A, all of B), not added on top.
    await done(
        admin,
        "delivery",
        [(a["id"], "3"), (b["id"], "2")],
        warehouse_id=main["id"],
        source_type="invoice",
        source_id=41,
    )
    row = await level(admin, a["id"], main["id"])
    assert (row["on_hand"], row["reserved"], row["available"]) == ("7.000", "2.000", "5.000")
    assert (await level(admin, b["id"], main["id"]))["reserved"] == "0.000"
    left = (await admin.get("/api/stock/reservations", params={"source_type": "invoice", "source_id": 41})).json()
    assert [(r["sku"], r["quantity"]) for r in left["items"]] == [("A-1", "2.000")]

    partly = await admin.post(
        "/api/stock/reservations/release",
        json={"source_type": "invoice", "source_id": 41, "product_id": a["id"], "quantity": "0.5"},
    )
    assert partly.json()[0]["quantity"] == "1.500"
    released = await admin.post("/api/stock/reservations/release", json={"source_type": "invoice", "source_id": 41})
    assert released.status_code == 200 and released.json() == []
    row = await level(admin, a["id"], main["id"])
    assert (row["reserved"], row["available"]) == ("0.000", "7.000")


async def test_twenty_concurrent_deliveries_for_the_last_units(server: LiveServer, admin: Any) -> None:
    main = await warehouse(admin)
    a = await product(admin, "HOT")
    await done(admin, "receipt", [(a["id"], "5")], warehouse_id=main["id"])
    drafts = [await draft(admin, "delivery", [(a["id"], "1")], warehouse_id=main["id"]) for _ in range(20)]
    answers = await asyncio.gather(*(validate(admin, d) for d in drafts))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(200) == 5 and codes.count(422) == 15, codes
    assert all(r.json()["code"] == "insufficient_stock" for r in answers if r.status_code == 422)
    row = await level(admin, a["id"], main["id"])
    assert row["on_hand"] == "0.000"
    assert await ledger_sum(server, a["id"], main["id"]) == 0

    # Reservations race the same way, and no update is lost when every one fits.
    await done(admin, "receipt", [(a["id"], "30")], warehouse_id=main["id"])
    reserves = await asyncio.gather(
        *(
            admin.post(
                "/api/stock/reservations",
                json={
                    "source_type": "order",
                    "source_id": i,
                    "warehouse_id": main["id"],
                    "lines": [{"product_id": a["id"], "quantity": "2"}],
                },
            )
            for i in range(20)
        )
    )
    assert sorted(r.status_code for r in reserves).count(200) == 15
    async with server.session() as s:
        stored = (await s.scalars(select(StockLevel).where(StockLevel.product_id == a["id"]))).one()
        assert (stored.on_hand, stored.reserved) == (Decimal(30), Decimal(30))
    await admin.patch("/api/settings", json={"values": {"stock.allow_negative": False}})
    receipts = [await draft(admin, "receipt", [(a["id"], "1.5")], warehouse_id=main["id"]) for _ in range(20)]
    assert all(r.status_code == 200 for r in await asyncio.gather(*(validate(admin, d) for d in receipts)))
    assert (await level(admin, a["id"], main["id"]))["on_hand"] == "60.000"
    assert await ledger_sum(server, a["id"], main["id"]) == 60


async def test_low_stock_notifies_the_warehouse_role_once_per_fall(server: LiveServer, admin: Any) -> None:
    keeper = await server.create_user("keeper@example.com", role="Warehouse", full_name="Kim Keeper")
    await server.create_user("sales@example.com", role="Salesperson")
    main = await warehouse(admin)
    a = await product(admin, "A-1", "Blue widget")
    await done(admin, "receipt", [(a["id"], "10")], warehouse_id=main["id"])
    threshold = await admin.put(f"/api/stock/products/{a['id']}/settings", json={"low_threshold": "5"})
    assert threshold.status_code == 200 and threshold.json()["low"] is False

    async def bell() -> list[Any]:
        async with server.session() as s:
            rows = (
                await s.execute(
                    text("SELECT user_id, kind, title FROM notifications WHERE kind = 'stock_low' ORDER BY id")
                )
            ).all()
        return list(rows)

    await done(admin, "delivery", [(a["id"], "5")], warehouse_id=main["id"])  # 5 left: not below
    assert await bell() == []
    await done(admin, "delivery", [(a["id"], "1")], warehouse_id=main["id"])  # 4: below
    await done(admin, "delivery", [(a["id"], "1")], warehouse_id=main["id"])  # 3: still below, no second one
    notes = await bell()
    assert [(n[0], n[1]) for n in notes] == [(keeper, "stock_low")] and "Blue widget" in notes[0][2]
    low = (await admin.get("/api/stock/low")).json()
    assert low["total"] == 1 and low["items"][0]["available"] == "3.000" and low["items"][0]["low_threshold"] == "5.000"
    only_low = (await admin.get("/api/stock/levels", params={"low_only": True})).json()
    assert only_low["total"] == 1 and only_low["items"][0]["low"] is True

    await done(admin, "receipt", [(a["id"], "10")], warehouse_id=main["id"])  # back up: armed again
    assert (await admin.get("/api/stock/low")).json()["total"] == 0
    await admin.post(
        "/api/stock/reservations",
        json={
            "source_type": "order",
            "source_id": 1,
            "warehouse_id": main["id"],
            "lines": [{"product_id": a["id"], "quantity": "9"}],
        },
    )
    assert len(await bell()) == 2  # a reservation lowers what is available too


async def test_history_has_running_quantities_and_lookup_by_sku(server: LiveServer, admin: Any) -> None:
    main, shop = await warehouse(admin), await warehouse(admin, "Shop")
    a = await product(admin, "Ab-9", "Red widget")
    first = await done(admin, "receipt", [(a["id"], "8")], warehouse_id=main["id"])
    await done(admin, "transfer", [(a["id"], "3")], warehouse_id=main["id"], to_warehouse_id=shop["id"])
    await done(admin, "delivery", [(a["id"], "2")], warehouse_id=shop["id"])
    await done(admin, "adjustment", [(a["id"], "4")], warehouse_id=main["id"], reason="Count")
    history = (await admin.get(f"/api/products/{a['id']}/stock-history")).json()
    rows = [
        (m["warehouse_name"], m["quantity"], m["running_total"], m["running_warehouse"], m["document_type"])
        for m in history["items"]
    ]
    assert rows == [
        ("Main", "8.000", "8.000", "8.000", "receipt"),
        ("Main", "-3.000", "5.000", "5.000", "transfer"),
        ("Shop", "3.000", "8.000", "3.000", "transfer"),
        ("Shop", "-2.000", "6.000", "1.000", "delivery"),
        ("Main", "-1.000", "5.000", "4.000", "adjustment"),
    ]
    assert history["items"][0]["document_number"] == first["number"]
    assert history["items"][0]["created_by_name"] == "Ada Admin"
    shop_only = (
        await admin.get(
            f"/api/products/{a['id']}/stock-history", params={"warehouse_id": shop["id"], "newest_first": True}
        )
    ).json()
    assert [m["running_warehouse"] for m in shop_only["items"]] == ["1.000", "3.000"]

    found = await admin.get("/api/stock/lookup", params={"sku": " ab-9 "})
    assert found.status_code == 200 and found.json()["name"] == "Red widget"
    assert found.json()["on_hand"] == "5.000"
    assert {w["warehouse_name"]: w["on_hand"] for w in found.json()["warehouses"]} == {"Main": "4.000", "Shop": "1.000"}
    missing = await admin.get("/api/stock/lookup", params={"sku": "nope"})
    assert missing.status_code == 404 and missing.json()["field"] == "sku"
    overview = (await admin.get("/api/stock/levels", params={"q": "red", "sort": "-on_hand"})).json()
    assert [(r["warehouse_name"], r["on_hand"]) for r in overview["items"]] == [("Main", "4.000"), ("Shop", "1.000")]


async def test_permissions(server: LiveServer, admin: Any) -> None:
    main = await warehouse(admin)
    a = await product(admin, "A-1")
    document = await done(admin, "receipt", [(a["id"], "2")], warehouse_id=main["id"])
    await server.create_user("sales@example.com", role="Salesperson")
    await server.create_user("support@example.com", role="Support agent")
    await server.create_user("keeper@example.com", role="Warehouse")
    async with server.client() as sales, server.client() as support, server.client() as keeper:
        await server.login(sales, "sales@example.com")
        await server.login(support, "support@example.com")
        await server.login(keeper, "keeper@example.com")
        assert (await sales.get("/api/stock/levels")).status_code == 200
        assert (await sales.post("/api/warehouses", json={"name": "X"})).status_code == 403
        assert (
            await sales.post(f"/api/stock/documents/{document['id']}/reverse", json={"version": document["version"]})
        ).status_code == 403
        assert (await support.get("/api/stock/levels")).status_code == 403
        assert (await support.get(f"/api/products/{a['id']}/stock-history")).status_code == 403
        made = await keeper.post(
            "/api/stock/documents",
            json={"kind": "delivery", "warehouse_id": main["id"], "lines": [{"product_id": a["id"], "quantity": "1"}]},
        )
        assert made.status_code == 201
        assert (await validate(keeper, made.json())).status_code == 200
        assert (
            await keeper.patch(f"/api/warehouses/{main['id']}", json={"version": main["version"], "active": False})
        ).status_code == 200
    inactive = await validate(admin, await draft(admin, "receipt", [(a["id"], "1")], warehouse_id=main["id"]))
    assert inactive.status_code == 422 and inactive.json()["code"] == "inactive"
    duplicate = await admin.post("/api/warehouses", json={"name": "MAIN"})
    assert duplicate.status_code == 422 and duplicate.json()["field"] == "name"


async def test_demo_stock_is_made_through_the_services(server: LiveServer, admin: Any) -> None:
    import random

    from crm_server.auth.models import User
    from crm_server.products.demo import seed_products
    from crm_server.stock.demo import seed_stock

    async with server.session() as s:
        admin_id = await s.scalar(select(User.id).where(User.role_id.is_not(None)).order_by(User.id))
        assert admin_id is not None
        await seed_products(s, random.Random(2028))
        await s.flush()
        await seed_stock(s, admin_id, random.Random(2030))
    statuses = {o["status"] for o in (await admin.get("/api/purchase-orders")).json()["items"]}
    assert statuses == {"draft", "confirmed", "partially_received", "received", "cancelled"}
    levels = (await admin.get("/api/stock/levels", params={"limit": 1000})).json()
    assert levels["total"] > 20 and any(r["incoming"] != "0.000" for r in levels["items"])
    assert any(r["reserved"] != "0.000" for r in levels["items"])
    assert (await admin.get("/api/stock/documents", params={"status": "reversed"})).json()["total"] == 1
    async with server.session() as s:
        drift = await s.scalar(
            text("""
            SELECT count(*) FROM stock_levels l
            LEFT JOIN (SELECT product_id, warehouse_id, sum(quantity) q FROM stock_moves GROUP BY 1, 2) m
              USING (product_id, warehouse_id)
            WHERE l.on_hand <> coalesce(m.q, 0)""")
        )
    assert drift == 0


async def test_issued_invoices_reserve_their_tracked_lines_and_cancel_gives_them_back(
    server: LiveServer, admin: Any
) -> None:
    main = await warehouse(admin)
    kept, service = await product(admin, "K-1"), await product(admin, "SRV-1", tracked=False)
    await done(admin, "receipt", [(kept["id"], "5")], warehouse_id=main["id"])
    client = (await admin.post("/api/clients", json={"name": "Acme"})).json()

    async def issue(quantity: str) -> Any:
        made = (
            await admin.post(
                "/api/invoices",
                json={
                    "client_id": client["id"],
                    "lines": [
                        {"product_id": service["id"], "quantity": "1"},
                        {"product_id": kept["id"], "quantity": quantity},
                    ],
                },
            )
        ).json()
        return await admin.post(f"/api/invoices/{made['id']}/issue", json={"version": made["version"]})

    first = await issue("3")
    assert first.status_code == 200, first.text
    row = await level(admin, kept["id"], main["id"])
    assert (row["on_hand"], row["reserved"], row["available"]) == ("5.000", "3.000", "2.000")
    too_many = await issue("4")  # only 2 left to promise: refused, and that draft stays a draft
    assert too_many.status_code == 422 and too_many.json()["available"] == "2.000"
    assert "K-1" in too_many.json()["message"]
    assert (await admin.get("/api/invoices", params={"status": "draft"})).json()["total"] == 1

    # The delivery note of the invoice consumes its hold; cancelling a second one gives its hold back.
    await done(
        admin,
        "delivery",
        [(kept["id"], "3")],
        warehouse_id=main["id"],
        source_type="invoice",
        source_id=first.json()["id"],
    )
    second = (await issue("2")).json()
    assert (await level(admin, kept["id"], main["id"]))["available"] == "0.000"
    cancelled = await admin.post(f"/api/invoices/{second['id']}/cancel", json={"version": second["version"]})
    assert cancelled.status_code == 200, cancelled.text
    row = await level(admin, kept["id"], main["id"])
    assert (row["on_hand"], row["reserved"], row["available"]) == ("2.000", "0.000", "2.000")

"""Purchase orders: confirmation names every missing field, receiving in two parts through receipt
documents, the incoming figure of the stock overview, over-receipt refused, reversing a receipt
reopens the order, cancelling, vendors only, and permissions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import event, select

from crm_server.admin.models import AuditEntry
from crm_server.contract.purchasing import PurchaseOrderQuery
from crm_server.purchasing import service
from tests.server.test_stock import done, level, product, warehouse
from tests.support import LiveServer


async def vendor(api: Any, name: str = "Parts Ltd", is_vendor: bool = True) -> dict[str, Any]:
    made = await api.post("/api/clients", json={"name": name, "is_vendor": is_vendor})
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def order(api: Any, **fields: Any) -> dict[str, Any]:
    made = await api.post("/api/purchase-orders", json=fields)
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def confirm(api: Any, po: dict[str, Any]) -> Any:
    return await api.post(f"/api/purchase-orders/{po['id']}/confirm", json={"version": po["version"]})


async def test_confirm_names_every_missing_field(server: LiveServer, admin: Any) -> None:
    empty = await order(admin)
    assert empty["status"] == "draft" and empty["number"] == f"PO-{date.today().year}-{empty['id']:04d}"
    refused = await confirm(admin, empty)
    body = refused.json()
    assert refused.status_code == 422 and body["code"] == "incomplete"
    assert body["fields"] == ["vendor_id", "lines", "expected_on"] and body["field"] == "vendor_id"
    assert "a vendor" in body["message"] and "at least one line" in body["message"]
    assert "expected delivery date" in body["message"]

    parts = await vendor(admin)
    a = await product(admin, "A-1")
    changed = await admin.patch(
        f"/api/purchase-orders/{empty['id']}",
        json={
            "version": empty["version"],
            "vendor_id": parts["id"],
            "lines": [{"product_id": a["id"], "quantity": "5"}],
        },
    )
    assert changed.status_code == 200, changed.text
    refused = await confirm(admin, changed.json())
    assert refused.json()["fields"] == ["expected_on"] and refused.json()["field"] == "expected_on"

    customer = await vendor(admin, "Just a customer", is_vendor=False)
    not_vendor = await admin.post("/api/purchase-orders", json={"vendor_id": customer["id"]})
    assert not_vendor.status_code == 422 and not_vendor.json()["field"] == "vendor_id"
    assert not_vendor.json()["code"] == "not_vendor"
    untracked = await product(admin, "SRV", tracked=False)
    service_line = await admin.post(
        "/api/purchase-orders", json={"lines": [{"product_id": untracked["id"], "quantity": "1"}]}
    )
    assert service_line.status_code == 422 and service_line.json()["field"] == "lines.0.product_id"


async def test_receive_in_two_parts_with_incoming_figures(server: LiveServer, admin: Any) -> None:
    main, shop = await warehouse(admin), await warehouse(admin, "Shop")
    parts = await vendor(admin)
    a, b = await product(admin, "A-1"), await product(admin, "B-1")
    po = await order(
        admin,
        vendor_id=parts["id"],
        warehouse_id=main["id"],
        expected_on=str(date.today() + timedelta(days=7)),
        reference="V-555",
        lines=[
            {"product_id": a["id"], "quantity": "10", "unit_cost": "2.50"},
            {"product_id": b["id"], "quantity": "4", "unit_cost": "1.25"},
        ],
    )
    assert po["total"] == "30.00" and [ln["total"] for ln in po["lines"]] == ["25.00", "5.00"]
    assert (await admin.get(f"/api/stock/products/{a['id']}")).json()["incoming"] == "0.000"  # a draft is not incoming
    confirmed = await confirm(admin, po)
    assert confirmed.status_code == 200, confirmed.text
    po = confirmed.json()
    assert po["status"] == "confirmed" and po["confirmed_at"]
    row = await level(admin, a["id"], main["id"])
    assert (row["on_hand"], row["incoming"]) == ("0.000", "10.000")
    frozen = await admin.patch(f"/api/purchase-orders/{po['id']}", json={"version": po["version"], "lines": []})
    assert frozen.status_code == 409 and frozen.json()["field"] == "lines"

    line_a, line_b = po["lines"][0]["id"], po["lines"][1]["id"]
    first = await admin.post(
        f"/api/purchase-orders/{po['id']}/receive",
        json={"version": po["version"], "reference": "DN-1", "lines": [{"line_id": line_a, "quantity": "6"}]},
    )
    assert first.status_code == 200, first.text
    po, receipt = first.json()["order"], first.json()["receipt"]
    assert po["status"] == "partially_received"
    assert (po["line_count"], po["lines_received"]) == (2, 0)  # 6 of 10 is not a received line
    assert [(ln["received"], ln["remaining"]) for ln in po["lines"]] == [("6.000", "4.000"), ("0.000", "4.000")]
    assert receipt["kind"] == "receipt" and receipt["status"] == "validated"
    assert receipt["purchase_order_id"] == po["id"] and receipt["reference"] == "DN-1"
    assert receipt["lines"][0]["purchase_order_line_id"] == line_a and receipt["lines"][0]["unit_cost"] == "2.50"
    row = await level(admin, a["id"], main["id"])
    assert (row["on_hand"], row["incoming"]) == ("6.000", "4.000")
    stock = (await admin.get(f"/api/stock/products/{a['id']}")).json()
    assert (stock["on_hand"], stock["incoming"]) == ("6.000", "4.000")

    over = await admin.post(
        f"/api/purchase-orders/{po['id']}/receive",
        json={"version": po["version"], "lines": [{"line_id": line_a, "quantity": "5"}]},
    )
    assert over.status_code == 422 and over.json()["field"] == "lines.0.quantity"
    assert over.json()["remaining"] == "4.000"
    stale = await admin.post(
        f"/api/purchase-orders/{po['id']}/receive",
        json={"version": po["version"] - 1, "lines": [{"line_id": line_a, "quantity": "1"}]},
    )
    assert stale.status_code == 409

    second = await admin.post(
        f"/api/purchase-orders/{po['id']}/receive",
        json={
            "version": po["version"],
            "warehouse_id": shop["id"],
            "lines": [{"line_id": line_a, "quantity": "4"}, {"line_id": line_b, "quantity": "4"}],
        },
    )
    assert second.status_code == 200, second.text
    po = second.json()["order"]
    assert po["status"] == "received" and po["received_at"]
    assert (po["line_count"], po["lines_received"]) == (2, 2)
    assert (await level(admin, a["id"], shop["id"]))["on_hand"] == "4.000"
    assert (await level(admin, a["id"], main["id"]))["incoming"] == "0.000"
    receipts = (await admin.get(f"/api/purchase-orders/{po['id']}/receipts")).json()
    assert receipts["total"] == 2
    closed = await admin.post(
        f"/api/purchase-orders/{po['id']}/receive",
        json={"version": po["version"], "lines": [{"line_id": line_a, "quantity": "1"}]},
    )
    assert closed.status_code == 409

    # Reversing the second receipt gives its quantities back to the order: open again.
    last = second.json()["receipt"]
    undone = await admin.post(f"/api/stock/documents/{last['id']}/reverse", json={"version": last["version"]})
    assert undone.status_code == 201, undone.text
    po = (await admin.get(f"/api/purchase-orders/{po['id']}")).json()
    assert po["status"] == "partially_received"
    assert [ln["remaining"] for ln in po["lines"]] == ["4.000", "4.000"]
    assert (await level(admin, a["id"], shop["id"]))["on_hand"] == "0.000"

    assert (po["line_count"], po["lines_received"]) == (2, 0)
    listed = (await admin.get("/api/purchase-orders", params={"q": "parts", "open_only": True})).json()
    assert listed["total"] == 1 and listed["items"][0]["vendor_name"] == "Parts Ltd"
    assert (listed["items"][0]["line_count"], listed["items"][0]["lines_received"]) == (2, 0)
    async with server.session() as s:
        actions = (
            await s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity == "purchase_order", AuditEntry.entity_id == po["id"])
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == ["created", "confirmed", "received", "received", "receipt_reversed"]


async def test_the_list_counts_lines_and_received_lines_in_one_query(server: LiveServer, admin: Any) -> None:
    main = await warehouse(admin, "Main")
    parts, paper = await vendor(admin), await vendor(admin, "Paper Co")
    a, b, c = await product(admin, "A-1"), await product(admin, "B-1"), await product(admin, "C-1")
    empty = await order(admin, vendor_id=paper["id"])
    draft = await order(
        admin, vendor_id=paper["id"], warehouse_id=main["id"], lines=[{"product_id": a["id"], "quantity": "1"}]
    )
    po = (
        await confirm(
            admin,
            await order(
                admin,
                vendor_id=parts["id"],
                warehouse_id=main["id"],
                expected_on=str(date.today()),
                lines=[
                    {"product_id": a["id"], "quantity": "5"},
                    {"product_id": b["id"], "quantity": "2"},
                    {"product_id": c["id"], "quantity": "1"},
                ],
            ),
        )
    ).json()
    assert (po["line_count"], po["lines_received"]) == (3, 0)
    assert (draft["line_count"], draft["lines_received"], draft["warehouse_name"]) == (1, 0, "Main")
    assert (empty["line_count"], empty["lines_received"], empty["warehouse_name"]) == (0, 0, None)

    async def receive(quantities: list[tuple[int, str]]) -> dict[str, Any]:
        got = await admin.post(
            f"/api/purchase-orders/{po['id']}/receive",
            json={
                "version": po["version"],
                "lines": [{"line_id": po["lines"][i]["id"], "quantity": q} for i, q in quantities],
            },
        )
        assert got.status_code == 200, got.text
        return got.json()["order"]  # type: ignore[no-any-return]

    po = await receive([(1, "2"), (0, "3")])  # line 2 in full, line 1 in part
    assert (po["status"], po["line_count"], po["lines_received"]) == ("partially_received", 3, 1)

    async def listed(**params: Any) -> dict[int, tuple[Any, ...]]:
        page = (await admin.get("/api/purchase-orders", params=params)).json()
        assert all(item["lines"] == [] for item in page["items"])
        return {
            item["id"]: (item["line_count"], item["lines_received"], item["vendor_name"], item["warehouse_name"])
            for item in page["items"]
        }

    assert await listed() == {
        empty["id"]: (0, 0, "Paper Co", None),
        draft["id"]: (1, 0, "Paper Co", "Main"),
        po["id"]: (3, 1, "Parts Ltd", "Main"),
    }
    assert await listed(product_id=b["id"]) == {po["id"]: (3, 1, "Parts Ltd", "Main")}
    assert await listed(sort="-total", limit=1, offset=0) == {po["id"]: (3, 1, "Parts Ltd", "Main")}

    po = await receive([(0, "2"), (2, "1")])
    assert (po["status"], po["line_count"], po["lines_received"]) == ("received", 3, 3)
    # Both shapes agree: a list row is the single order without its lines.
    page = (await admin.get("/api/purchase-orders")).json()["items"]
    for item in page:
        single = (await admin.get(f"/api/purchase-orders/{item['id']}")).json()
        assert {**single, "lines": []} == item

    # However many orders a page shows, it is two statements: the count and the page.
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    async with server.session() as s:
        engine = s.sync_session.get_bind()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            result = await service.list_orders(s, PurchaseOrderQuery())
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert result.total == 3 and len(statements) == 2, statements
    assert {(o.id, o.line_count, o.lines_received) for o in result.items} == {
        (empty["id"], 0, 0),
        (draft["id"], 1, 0),
        (po["id"], 3, 3),
    }


async def test_cancel_stops_incoming(server: LiveServer, admin: Any) -> None:
    main = await warehouse(admin)
    parts = await vendor(admin)
    a = await product(admin, "A-1")
    po = (
        await confirm(
            admin,
            await order(
                admin,
                vendor_id=parts["id"],
                warehouse_id=main["id"],
                expected_on=str(date.today()),
                lines=[{"product_id": a["id"], "quantity": "3"}],
            ),
        )
    ).json()
    assert (await level(admin, a["id"], main["id"]))["incoming"] == "3.000"
    no_warehouse = await order(
        admin, vendor_id=parts["id"], expected_on=str(date.today()), lines=[{"product_id": a["id"], "quantity": "2"}]
    )
    no_warehouse = (await confirm(admin, no_warehouse)).json()
    assert (await admin.get(f"/api/stock/products/{a['id']}")).json()["incoming"] == "5.000"
    where = await admin.post(
        f"/api/purchase-orders/{no_warehouse['id']}/receive",
        json={
            "version": no_warehouse["version"],
            "lines": [{"line_id": no_warehouse["lines"][0]["id"], "quantity": "1"}],
        },
    )
    assert where.status_code == 422 and where.json()["field"] == "warehouse_id"

    cancelled = await admin.post(f"/api/purchase-orders/{po['id']}/cancel", json={"version": po["version"]})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await level(admin, a["id"], main["id"]))["incoming"] == "0.000"
    again = await admin.post(f"/api/purchase-orders/{po['id']}/cancel", json={"version": cancelled.json()["version"]})
    assert again.status_code == 409
    receive = await admin.post(
        f"/api/purchase-orders/{po['id']}/receive",
        json={"version": cancelled.json()["version"], "lines": [{"line_id": po["lines"][0]["id"], "quantity": "1"}]},
    )
    assert receive.status_code == 409
    await done(admin, "receipt", [(a["id"], "1")], warehouse_id=main["id"])  # stock itself is unaffected


async def test_purchasing_permissions(server: LiveServer, admin: Any) -> None:
    main = await warehouse(admin)
    parts = await vendor(admin)
    a = await product(admin, "A-1")
    po = (
        await confirm(
            admin,
            await order(
                admin,
                vendor_id=parts["id"],
                warehouse_id=main["id"],
                expected_on=str(date.today()),
                lines=[{"product_id": a["id"], "quantity": "3"}],
            ),
        )
    ).json()
    await server.create_user("sales@example.com", role="Salesperson")
    await server.create_user("boss@example.com", role="Manager")
    await server.create_user("keeper@example.com", role="Warehouse")
    async with server.client() as sales, server.client() as boss, server.client() as keeper:
        await server.login(sales, "sales@example.com")
        await server.login(boss, "boss@example.com")
        await server.login(keeper, "keeper@example.com")
        assert (await sales.get("/api/purchase-orders")).status_code == 403
        assert (await boss.get("/api/purchase-orders")).json()["total"] == 1
        assert (await boss.post("/api/purchase-orders", json={})).status_code == 403
        got = await keeper.post(
            f"/api/purchase-orders/{po['id']}/receive",
            json={"version": po["version"], "lines": [{"line_id": po["lines"][0]["id"], "quantity": "3"}]},
        )
        assert got.status_code == 200 and got.json()["order"]["status"] == "received"

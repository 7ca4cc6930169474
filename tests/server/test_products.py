"""Products and VAT rates: SKU unique whatever its case, errors that name the field, stale writes
refused, deactivate/reactivate instead of delete, and who may change what."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from crm_server.admin.models import AuditEntry
from tests.support import LiveServer

SETTINGS = "/api/settings"


async def _rates(api: Any) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in (await api.get("/api/tax-rates")).json()}


async def _product(api: Any, **fields: Any) -> dict[str, Any]:
    rates = await _rates(api)
    payload = {
        "sku": "W-1",
        "name": "Widget",
        "unit_price": "12.50",
        "tax_rate_id": rates["Standard 19%"]["id"],
        **fields,
    }
    made = await api.post("/api/products", json=payload)
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def test_four_rates_ship_and_products_default_to_the_base_currency(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    rates = await _rates(admin)
    assert {n: r["rate"] for n, r in rates.items()} == {
        "Standard 19%": "19.000",
        "Reduced 9%": "9.000",
        "Reduced 5%": "5.000",
        "Exempt 0%": "0.000",
    }
    product = await _product(admin, unit="h", description="  Setup work ")
    assert product["currency"] == "EUR" and product["unit_price"] == "12.50"
    assert product["tax_rate_name"] == "Standard 19%" and product["description"] == "Setup work"
    changed = await admin.patch(SETTINGS, json={"values": {"sales.base_currency": "RON"}})
    assert changed.status_code == 200, changed.text
    second = await _product(admin, sku="W-2")
    assert second["currency"] == "RON"
    async with server.session() as s:
        actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "product"))).all()
    assert list(actions) == ["created", "created"]


async def test_sku_is_unique_whatever_its_case(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    first = await _product(admin, sku="AB-100")
    again = await admin.post(
        "/api/products",
        json={"sku": " ab-100 ", "name": "Other", "unit_price": "1", "tax_rate_id": first["tax_rate_id"]},
    )
    assert again.status_code == 422
    assert again.json()["code"] == "duplicate_sku" and again.json()["field"] == "sku"
    other = await _product(admin, sku="AB-200")
    clash = await admin.patch(f"/api/products/{other['id']}", json={"version": other["version"], "sku": "Ab-100"})
    assert clash.status_code == 422 and clash.json()["field"] == "sku"
    # Two creates racing with the same SKU: one wins, the other gets the same clear error.
    body = {"name": "Race", "unit_price": "1", "tax_rate_id": first["tax_rate_id"]}
    a, b = await asyncio.gather(
        admin.post("/api/products", json={**body, "sku": "RACE"}),
        admin.post("/api/products", json={**body, "sku": "race"}),
    )
    assert sorted([a.status_code, b.status_code]) == [201, 422]
    assert (b if b.status_code == 422 else a).json()["code"] == "duplicate_sku"


async def test_validation_errors_name_the_field(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    rates = await _rates(admin)
    ok = {"sku": "V-1", "name": "Valid", "unit_price": "10", "tax_rate_id": rates["Reduced 9%"]["id"]}
    cases = [
        ({"sku": "has space"}, "sku"),
        ({"name": "   "}, "name"),
        ({"unit_price": "-1"}, "unit_price"),
        ({"unit_price": "1.005"}, "unit_price"),
        ({"currency": "euro"}, "currency"),
        ({"tax_rate_id": 999999}, "tax_rate_id"),
        ({"unit": " "}, "unit"),
    ]
    for change, field in cases:
        answer = await admin.post("/api/products", json={**ok, **change})
        assert answer.status_code == 422, (change, answer.text)
        assert answer.json()["field"] == field, (change, answer.json())
    assert (await admin.get("/api/products")).json()["total"] == 0
    # An inactive VAT rate cannot be chosen for a new product.
    exempt = rates["Exempt 0%"]
    off = await admin.patch(f"/api/tax-rates/{exempt['id']}", json={"version": exempt["version"], "active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    refused = await admin.post("/api/products", json={**ok, "tax_rate_id": exempt["id"]})
    assert refused.json()["code"] == "inactive_tax_rate" and refused.json()["field"] == "tax_rate_id"


async def test_stale_version_is_refused(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    product = await _product(admin)
    first = await admin.patch(
        f"/api/products/{product['id']}", json={"version": product["version"], "unit_price": "13.00"}
    )
    assert first.status_code == 200 and first.json()["unit_price"] == "13.00"
    assert first.json()["version"] == product["version"] + 1
    stale = await admin.patch(f"/api/products/{product['id']}", json={"version": product["version"], "name": "Lost"})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert (await admin.get(f"/api/products/{product['id']}")).json()["name"] == "Widget"
    async with server.session() as s:
        changes = (await s.scalars(select(AuditEntry.changes).where(AuditEntry.action == "updated"))).all()
    assert changes == [[{"field": "unit_price", "old": "12.50", "new": "13.00"}]]


async def test_deactivate_and_reactivate(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    product = await _product(admin)
    await _product(admin, sku="SRV-1", name="Consulting", unit="h", stock_tracked=False)
    tracked = await _product(admin, sku="TR-1", name="Tracked bolt", stock_tracked=True)
    off = await admin.post(f"/api/products/{product['id']}/deactivate", json={"version": product["version"]})
    assert off.status_code == 200 and off.json()["active"] is False
    twice = await admin.post(f"/api/products/{product['id']}/deactivate", json={"version": off.json()["version"]})
    assert twice.status_code == 409
    listed = (await admin.get("/api/products")).json()
    assert [p["sku"] for p in listed["items"]] == ["SRV-1", "TR-1"]  # by name
    inactive = (await admin.get("/api/products", params={"status": "inactive"})).json()
    assert [p["sku"] for p in inactive["items"]] == ["W-1"]
    assert (await admin.get("/api/products", params={"status": "all"})).json()["total"] == 3
    assert [p["id"] for p in (await admin.get("/api/products", params={"stock_tracked": "true"})).json()["items"]] == [
        tracked["id"]
    ]
    found = (await admin.get("/api/products", params={"q": "consult", "sort": "-unit_price"})).json()
    assert [p["sku"] for p in found["items"]] == ["SRV-1"]
    by_sku = (await admin.get("/api/products", params={"q": "tr-", "status": "all"})).json()
    assert [p["sku"] for p in by_sku["items"]] == ["TR-1"]
    page = (await admin.get("/api/products", params={"status": "all", "sort": "-sku", "limit": 2})).json()
    assert page["total"] == 3 and [p["sku"] for p in page["items"]] == ["W-1", "TR-1"]
    on = await admin.post(f"/api/products/{product['id']}/reactivate", json={"version": off.json()["version"]})
    assert on.status_code == 200 and on.json()["active"] is True


async def test_salesperson_views_but_cannot_change(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    product = await _product(admin)
    rates = await _rates(admin)
    await server.create_user("sam@example.com", role="Salesperson")
    await server.create_user("wes@example.com", role="Warehouse")
    async with server.client() as sam, server.client() as wes:
        await server.login(sam, "sam@example.com")
        await server.login(wes, "wes@example.com")
        assert (await sam.get("/api/products")).json()["total"] == 1
        assert len((await sam.get("/api/tax-rates")).json()) == 4
        # Document editors total lines as the server does: the rounding is readable, not only by admins.
        await admin.patch("/api/settings", json={"values": {"sales.tax_rounding": "document"}})
        assert (await sam.get("/api/sales-settings")).json() == {
            "base_currency": "EUR",
            "tax_rounding": "document",
            "payment_terms_days": 14,
        }
        made = await sam.post(
            "/api/products", json={"sku": "S-1", "name": "No", "unit_price": "1", "tax_rate_id": product["tax_rate_id"]}
        )
        assert made.status_code == 403
        edit = await sam.patch(f"/api/products/{product['id']}", json={"version": 1, "name": "No"})
        assert edit.status_code == 403
        off = await sam.post(f"/api/products/{product['id']}/deactivate", json={"version": 1})
        assert off.status_code == 403
        # The warehouse works on products but VAT rates are the admin's.
        boxed = await wes.post(
            "/api/products",
            json={"sku": "WH-1", "name": "Box", "unit_price": "2", "tax_rate_id": product["tax_rate_id"]},
        )
        assert boxed.status_code == 201 and boxed.json()["unit_price"] == "2.00"
        standard = rates["Standard 19%"]
        assert (
            await wes.patch(f"/api/tax-rates/{standard['id']}", json={"version": standard["version"], "rate": "21"})
        ).status_code == 403
        assert (await wes.post("/api/tax-rates", json={"name": "Super", "rate": "25"})).status_code == 403


async def test_admin_manages_tax_rates(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    made = await admin.post("/api/tax-rates", json={"name": "Special 11%", "rate": "11.5"})
    assert made.status_code == 201 and made.json()["rate"] == "11.500"
    dup = await admin.post("/api/tax-rates", json={"name": "special 11%", "rate": "11"})
    assert dup.status_code == 422 and dup.json()["field"] == "name"
    bad = await admin.post("/api/tax-rates", json={"name": "Too much", "rate": "101"})
    assert bad.status_code == 422 and bad.json()["field"] == "rate"
    rate = made.json()
    renamed = await admin.patch(
        f"/api/tax-rates/{rate['id']}", json={"version": rate["version"], "name": "Special 11.5%"}
    )
    assert renamed.status_code == 200 and renamed.json()["version"] == rate["version"] + 1
    stale = await admin.patch(f"/api/tax-rates/{rate['id']}", json={"version": rate["version"], "rate": "12"})
    assert stale.status_code == 409
    active = (await admin.get("/api/tax-rates", params={"include_inactive": "false"})).json()
    assert len(active) == 5


async def test_demo_catalogue(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    import random

    from crm_server.products.demo import seed_products

    async with server.session() as s:
        count = await seed_products(s, random.Random(1))
    assert 55 <= count <= 70
    listed = (await admin.get("/api/products", params={"status": "all", "limit": 500})).json()
    assert listed["total"] == count
    assert {p["tax_rate_name"] for p in listed["items"]} == set(await _rates(admin))

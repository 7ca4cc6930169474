"""The payments list across invoices: each payment with its invoice and client, filters, sort,
scope through the invoice (a manager sees the team's), and a bad range named by its field."""

from __future__ import annotations

from typing import Any

from tests.server.test_invoices import _client, _issued, _rate
from tests.support import LiveServer


async def _pay(api: Any, invoice: dict[str, Any], amount: str, paid_on: str, **fields: Any) -> dict[str, Any]:
    answer = await api.post(
        f"/api/invoices/{invoice['id']}/payments", json={"amount": amount, "paid_on": paid_on, **fields}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_payments_list_filters_sorts_and_scopes(server: LiveServer, admin: Any) -> None:
    north_sales = await server.create_user("nia@example.com", team="North")
    await server.create_user("max@example.com", role="Manager", team="North")
    rate = await _rate(admin)
    north = await _client(admin, "Northwind", owner_id=north_sales)
    other = await _client(admin, "Southern")
    first = await _issued(admin, north["id"], rate)  # 3 x 33.33 + 19% = 118.99
    second = await _issued(admin, other["id"], rate)
    early = await _pay(admin, first, "18.99", "2026-03-01", method="cash", reference="till 4")
    late = await _pay(admin, first, "100.00", "2026-04-15")
    southern = await _pay(admin, second, "50.00", "2026-03-20", method="card")

    everything = (await admin.get("/api/payments")).json()
    assert [p["id"] for p in everything["items"]] == [late["id"], southern["id"], early["id"]]
    row = everything["items"][2]
    assert (row["invoice_number"], row["client_name"], row["currency"], row["amount"], row["method"]) == (
        first["number"],
        "Northwind",
        "EUR",
        "18.99",
        "cash",
    )

    march = (
        await admin.get("/api/payments", params={"paid_from": "2026-03-01", "paid_to": "2026-03-31", "sort": "amount"})
    ).json()
    assert [p["id"] for p in march["items"]] == [early["id"], southern["id"]] and march["total"] == 2
    assert [p["id"] for p in (await admin.get("/api/payments", params={"method": "card"})).json()["items"]] == [
        southern["id"]
    ]
    assert {p["id"] for p in (await admin.get("/api/payments", params={"q": "till"})).json()["items"]} == {early["id"]}
    assert (await admin.get("/api/payments", params={"client_id": other["id"]})).json()["total"] == 1

    async with server.client() as max_:
        await server.login(max_, "max@example.com")
        seen = (await max_.get("/api/payments")).json()
        assert {p["id"] for p in seen["items"]} == {early["id"], late["id"]}
    async with server.client() as nia:
        await server.login(nia, "nia@example.com")
        assert (await nia.get("/api/payments")).status_code == 403  # salespeople have no payments view

    wrong = await admin.get("/api/payments", params={"paid_from": "2026-05-01", "paid_to": "2026-04-01"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "paid_from"

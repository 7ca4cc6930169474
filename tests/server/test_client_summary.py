"""GET /api/clients/{id}/summary: one client's deals, proposals, invoices (the open balance),
payments, tickets and sales orders, each with its count, its sums per currency and its newest
records; an area the role may not view is absent, and each area keeps the role's record scope."""

from __future__ import annotations

from typing import Any

from tests.server.test_invoices import _client, _draft, _issued, _rate
from tests.server.test_leads import make_lead, move, status_ids
from tests.server.test_payments_list import _pay
from tests.server.test_proposals import _move, _proposal
from tests.support import LiveServer


async def _summary(api: Any, client_id: int, **params: Any) -> dict[str, Any]:
    answer = await api.get(f"/api/clients/{client_id}/summary", params=params)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_totals_with_paid_partly_paid_overdue_cancelled_and_draft_invoices(
    server: LiveServer, admin: Any
) -> None:
    rate = await _rate(admin)
    acme = await _client(admin, "Acme")
    other = await _client(admin, "Other")
    paid = await _issued(admin, acme["id"], rate)  # every invoice: 3 x 33.33 + 19% = 118.99
    await _pay(admin, paid, "118.99", "2026-03-01")
    partly = await _issued(admin, acme["id"], rate)
    await _pay(admin, partly, "18.99", "2026-03-02", method="cash")
    late = await _issued(admin, acme["id"], rate, issue_date="2026-01-05", due_date="2026-01-20")
    cancelled = await _issued(admin, acme["id"], rate)
    answer = await admin.post(f"/api/invoices/{cancelled['id']}/cancel", json={"version": cancelled["version"]})
    assert answer.status_code == 200, answer.text  # and a credit note of -118.99 is made
    await _draft(admin, acme["id"], rate)  # counted, never invoiced
    await _issued(admin, other["id"], rate)  # another client's: nowhere in Acme's summary

    offer = await _proposal(admin, rate, client_id=acme["id"])
    await _move(admin, offer, "sent")
    won_offer = await _proposal(admin, rate, client_id=acme["id"])
    won_offer = await _move(admin, won_offer, "sent")
    await _move(admin, won_offer, "accepted")
    ticket = await admin.post("/api/tickets", json={"subject": "Printer on fire", "client_id": acme["id"]})
    assert ticket.status_code == 201, ticket.text
    statuses = await status_ids(admin)
    lead = await make_lead(admin, company="Acme", value="5000.00", currency="EUR")
    won = await move(admin, lead, statuses["Won"], convert=True, client={"existing_client_id": acme["id"]})
    assert won.status_code == 200, won.text

    summary = await _summary(admin, acme["id"])
    invoices = summary["invoices"]
    assert (invoices["count"], invoices["open_count"]) == (6, 2)  # 5 invoices and the credit note
    assert invoices["totals"] == [
        {
            "currency": "EUR",
            "total": "356.97",  # paid + partly + late; the cancelled one and its credit note make 0
            "open": "218.99",  # 100.00 left on the partly paid one, 118.99 on the late one
            "paid": "137.98",
            "overdue": "118.99",
        }
    ]
    numbers = {i["number"] for i in invoices["items"]}
    assert {paid["number"], partly["number"], late["number"], cancelled["number"]} <= numbers
    owed = {i["number"]: i["open_amount"] for i in invoices["items"]}
    assert owed[partly["number"]] == "100.00" and owed[paid["number"]] == "0.00"

    payments = summary["payments"]
    assert payments["count"] == 2 and payments["totals"] == [{"currency": "EUR", "total": "137.98", "open": "0.00"}]
    assert {p["invoice_number"] for p in payments["items"]} == {paid["number"], partly["number"]}

    proposals = summary["proposals"]
    assert (proposals["count"], proposals["open_count"]) == (2, 1)
    assert proposals["totals"] == [{"currency": "EUR", "total": "118.99", "open": "118.99"}]

    deals = summary["deals"]
    assert deals["count"] == 1 and [d["id"] for d in deals["items"]] == [lead["id"]]
    assert deals["totals"] == [{"currency": "EUR", "total": "5000.00", "open": "0.00"}]
    assert summary["stage_names"] == {str(statuses["Won"]): "Won"}  # the deals' stages, by name

    tickets = summary["tickets"]
    assert (tickets["count"], tickets["open_count"]) == (1, 1)
    assert tickets["items"][0]["subject"] == "Printer on fire"
    assert summary["orders"] == {"count": 0, "open_count": 0, "totals": [], "items": []}

    # The newest records only, up to the limit; the counts and sums stay the whole client's.
    first = await _summary(admin, acme["id"], limit=2)
    assert len(first["invoices"]["items"]) == 2 and first["invoices"]["count"] == 6
    assert first["invoices"]["totals"] == invoices["totals"]


async def test_scope_a_salesperson_sees_their_own_invoices_and_no_payments_or_tickets(
    server: LiveServer, admin: Any
) -> None:
    nia = await server.create_user("nia@example.com", team="North")
    await server.create_user("sam@example.com", team="South")
    rate = await _rate(admin)
    acme = await _client(admin, "Acme")  # the admin's while the first invoice is made
    before = await _issued(admin, acme["id"], rate)
    handed = await admin.patch(f"/api/clients/{acme['id']}", json={"version": acme["version"], "owner_id": nia})
    assert handed.status_code == 200, handed.text
    hers = await _issued(admin, acme["id"], rate)  # an invoice belongs to its client's owner then
    await _pay(admin, hers, "18.99", "2026-03-02")
    ticket = await admin.post("/api/tickets", json={"subject": "Cannot log in", "client_id": acme["id"]})
    assert ticket.status_code == 201, ticket.text

    everything = await _summary(admin, acme["id"])
    assert {i["id"] for i in everything["invoices"]["items"]} == {before["id"], hers["id"]}
    assert everything["payments"]["count"] == 1 and everything["tickets"]["count"] == 1
    assert everything["orders"]["count"] == 0

    async with server.client() as api:
        await server.login(api, "nia@example.com")
        mine = await _summary(api, acme["id"])
        assert [i["id"] for i in mine["invoices"]["items"]] == [hers["id"]]
        assert mine["invoices"]["count"] == 1
        assert mine["invoices"]["totals"][0]["open"] == "100.00"  # 118.99 less 18.99, hers alone
        # No view of payments or tickets in the role: those areas are absent, not empty.
        assert mine["payments"] is None and mine["tickets"] is None
        assert mine["deals"] is not None and mine["proposals"] is not None and mine["orders"] is not None

    async with server.client() as api:
        await server.login(api, "sam@example.com")  # another team's salesperson: not his client
        refused = await api.get(f"/api/clients/{acme['id']}/summary")
        assert refused.status_code == 404, refused.text


async def test_a_bad_limit_is_named(server: LiveServer, admin: Any) -> None:
    acme = await _client(admin, "Acme")
    for limit in ("0", "101", str(2**70), "ten"):
        answer = await admin.get(f"/api/clients/{acme['id']}/summary", params={"limit": limit})
        assert answer.status_code == 422, (limit, answer.text)
        assert answer.json()["field"] == "limit"
    assert (await admin.get("/api/clients/999999/summary")).status_code == 404
    past_64_bits = await admin.get(f"/api/clients/{2**70}/summary")
    assert past_64_bits.status_code in (404, 422) and past_64_bits.json()["code"], past_64_bits.text

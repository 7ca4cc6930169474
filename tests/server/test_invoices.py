"""Invoices and payments: gapless numbers under concurrency, totals from money.py, payments moving
the status, overpayment refused, cancellation by a credit note, the overdue sweep, issued invoices
frozen, scope by client owner, and errors that name the field."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from crm_server import money
from crm_server.admin.models import AuditEntry
from crm_server.invoices import service
from crm_server.jobs import registry
from tests.support import LiveServer


async def _client(api: Any, name: str = "Acme", **fields: Any) -> dict[str, Any]:
    made = await api.post("/api/clients", json={"name": name, **fields})
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def _rate(api: Any, name: str = "Standard 19%") -> int:
    rates = {r["name"]: r for r in (await api.get("/api/tax-rates")).json()}
    return int(rates[name]["id"])


async def _draft(api: Any, client_id: int, rate_id: int, **fields: Any) -> dict[str, Any]:
    body = {
        "client_id": client_id,
        "lines": [{"description": "Consulting", "quantity": "3", "unit_price": "33.33", "tax_rate_id": rate_id}],
        **fields,
    }
    made = await api.post("/api/invoices", json=body)
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def _issued(api: Any, client_id: int, rate_id: int, **fields: Any) -> dict[str, Any]:
    draft = await _draft(api, client_id, rate_id, **fields)
    issued = await api.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]})
    assert issued.status_code == 200, issued.text
    return issued.json()  # type: ignore[no-any-return]


async def test_totals_are_money_py_and_drafts_are_edited_as_a_whole(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    standard, reduced = await _rate(admin), await _rate(admin, "Reduced 9%")
    lines = [
        {
            "description": "Licence",
            "quantity": "2.5",
            "unit_price": "19.99",
            "discount_percent": "10",
            "tax_rate_id": standard,
        },
        {"description": "Book", "quantity": "3", "unit_price": "0.35", "tax_rate_id": reduced},
    ]
    draft = await _draft(admin, client["id"], standard, lines=lines, notes=" Thanks ")
    expected = money.document_totals(
        [
            money.Line(Decimal("2.5"), Decimal("19.99"), Decimal(19), Decimal(10)),
            money.Line(Decimal(3), Decimal("0.35"), Decimal(9)),
        ],
        "EUR",
    )
    assert draft["status"] == "draft" and draft["number"] is None and draft["currency"] == "EUR"
    assert (draft["net_total"], draft["tax_total"], draft["gross_total"]) == (
        str(expected.net),
        str(expected.tax),
        str(expected.gross),
    )
    assert [ln["net"] for ln in draft["lines"]] == [str(t.net) for t in expected.lines]
    assert draft["lines"][1]["tax_percent"] == "9.000" and draft["client_name"] == "Acme" and draft["notes"] == "Thanks"

    changed = await admin.patch(
        f"/api/invoices/{draft['id']}",
        json={
            "version": draft["version"],
            "lines": [{"description": "Only", "quantity": "1", "unit_price": "100", "tax_rate_id": standard}],
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert len(body["lines"]) == 1 and body["gross_total"] == "119.00" and body["version"] > draft["version"]
    stale = await admin.patch(f"/api/invoices/{draft['id']}", json={"version": draft["version"], "notes": "x"})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    listed = (await admin.get("/api/invoices", params={"q": "acm"})).json()
    assert listed["total"] == 1 and listed["items"][0]["gross_total"] == "119.00"


async def test_twenty_concurrent_issues_get_numbers_without_gaps(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    rate = await _rate(admin)
    drafts = [await _draft(admin, client["id"], rate) for _ in range(20)]
    answers = await asyncio.gather(
        *(admin.post(f"/api/invoices/{d['id']}/issue", json={"version": d["version"]}) for d in drafts)
    )
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    year = date.today().year
    assert sorted(a.json()["number"] for a in answers) == [f"INV-{year}-{n:06d}" for n in range(1, 21)]
    again = await admin.post(f"/api/invoices/{drafts[0]['id']}/issue", json={"version": answers[0].json()["version"]})
    assert again.status_code == 409
    first = answers[0].json()
    assert first["status"] == "unpaid" and first["issue_date"] == date.today().isoformat()
    assert first["due_date"] == (date.today() + timedelta(days=14)).isoformat()


async def test_issued_invoice_amounts_cannot_change(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    rate = await _rate(admin)
    issued = await _issued(admin, client["id"], rate)
    refused = await admin.patch(
        f"/api/invoices/{issued['id']}",
        json={
            "version": issued["version"],
            "lines": [{"description": "x", "quantity": "1", "unit_price": "1", "tax_rate_id": rate}],
        },
    )
    assert refused.status_code == 409 and refused.json()["code"] == "issued" and refused.json()["field"] == "lines"
    assert "cannot be changed" in refused.json()["message"]
    notes = await admin.patch(f"/api/invoices/{issued['id']}", json={"version": issued["version"], "notes": "Late"})
    assert notes.status_code == 200 and notes.json()["notes"] == "Late"


async def test_payments_move_the_status_and_overpayment_names_the_open_amount(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    issued = await _issued(admin, client["id"], await _rate(admin))
    assert issued["gross_total"] == "118.99" and issued["open_amount"] == "118.99"
    url = f"/api/invoices/{issued['id']}/payments"
    too_much = await admin.post(url, json={"amount": "200", "method": "card"})
    assert too_much.status_code == 422 and too_much.json()["field"] == "amount"
    assert too_much.json()["open_amount"] == "118.99" and "118.99 EUR" in too_much.json()["message"]
    assert (await admin.post(url, json={"amount": "100", "reference": "T-1"})).status_code == 201
    part = (await admin.get(f"/api/invoices/{issued['id']}")).json()
    assert (part["status"], part["paid_total"], part["open_amount"]) == ("partially_paid", "100.00", "18.99")
    again = await admin.post(url, json={"amount": "19.00", "method": "cash"})
    assert again.status_code == 422 and again.json()["open_amount"] == "18.99"
    assert (await admin.post(url, json={"amount": "18.99", "method": "cash"})).status_code == 201
    paid = (await admin.get(f"/api/invoices/{issued['id']}")).json()
    assert (paid["status"], paid["open_amount"]) == ("paid", "0.00")
    payments = (await admin.get(url)).json()
    assert [(p["amount"], p["method"]) for p in payments] == [("100.00", "transfer"), ("18.99", "cash")]
    closed = await admin.post(url, json={"amount": "1"})
    assert closed.status_code == 409 and closed.json()["code"] == "not_payable"
    refused = await admin.post(f"/api/invoices/{issued['id']}/cancel", json={"version": paid["version"]})
    assert refused.status_code == 409 and refused.json()["code"] == "has_payments"


async def test_cancel_makes_a_credit_note(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    issued = await _issued(admin, client["id"], await _rate(admin))
    answer = await admin.post(f"/api/invoices/{issued['id']}/cancel", json={"version": issued["version"]})
    assert answer.status_code == 200, answer.text
    credit = answer.json()
    assert credit["kind"] == "credit_note" and credit["number"] == f"CN-{date.today().year}-000001"
    assert credit["credited_invoice_id"] == issued["id"] and credit["gross_total"] == "-118.99"
    assert [ln["quantity"] for ln in credit["lines"]] == ["-3.000"]
    original = (await admin.get(f"/api/invoices/{issued['id']}")).json()
    assert original["status"] == "cancelled" and original["open_amount"] == "0.00"
    async with server.session() as s:
        actions = (
            await s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "invoice").order_by(AuditEntry.id))
        ).all()
    assert list(actions) == ["created", "issued", "credit_note", "cancelled"]


async def test_overdue_job_marks_open_invoices_past_due(server: LiveServer, admin: Any) -> None:
    assert registry.is_periodic("invoices.mark_overdue")
    client = await _client(admin)
    rate = await _rate(admin)
    past = (date.today() - timedelta(days=40)).isoformat()
    late = await _issued(admin, client["id"], rate, issue_date=past, due_date=past)
    assert late["status"] == "overdue"  # already late when issued
    on_time = await _issued(admin, client["id"], rate)
    async with server.session() as s:
        assert await service.mark_overdue(s, date.today() + timedelta(days=30)) == 1
    moved = (await admin.get(f"/api/invoices/{on_time['id']}")).json()
    assert moved["status"] == "overdue"
    listed = (await admin.get("/api/invoices", params={"overdue": "true"})).json()
    assert {i["id"] for i in listed["items"]} == {late["id"]}  # on_time is "overdue" only in the job's future
    queued = await admin.post("/api/admin/jobs/invoices.mark_overdue/run")
    assert queued.status_code == 202, queued.text


async def test_salesperson_sees_only_their_clients_invoices(server: LiveServer, admin: Any) -> None:
    sales_id = await server.create_user("sam@example.com", role="Salesperson")
    rate = await _rate(admin)
    theirs = await _client(admin, "Theirs", owner_id=sales_id)
    other = await _client(admin, "Other")
    mine = await _draft(admin, theirs["id"], rate)
    hidden = await _draft(admin, other["id"], rate)
    async with server.client() as sam:
        await server.login(sam, "sam@example.com")
        listed = (await sam.get("/api/invoices")).json()
        assert [i["id"] for i in listed["items"]] == [mine["id"]]
        assert (await sam.get(f"/api/invoices/{hidden['id']}")).status_code == 404
        assert (await sam.post("/api/invoices", json={"client_id": theirs["id"]})).status_code == 403
        assert (await sam.get(f"/api/invoices/{mine['id']}/payments")).status_code == 403


async def test_validation_errors_name_the_field(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    rate = await _rate(admin)
    ok_line = {"description": "A", "quantity": "1", "unit_price": "10", "tax_rate_id": rate}
    cases = [
        ({"client_id": 999999}, "client_id"),
        ({"currency": "euro"}, "currency"),
        ({"lines": [{**ok_line, "quantity": "0"}]}, "lines.0.quantity"),
        ({"lines": [{**ok_line, "description": " "}]}, "lines.0.description"),
        ({"lines": [ok_line, {**ok_line, "tax_rate_id": 999999}]}, "lines.1.tax_rate_id"),
        ({"lines": [{**ok_line, "product_id": 999999}]}, "lines.0.product_id"),
        ({"lines": [{**ok_line, "discount_percent": "101"}]}, "lines.0.discount_percent"),
        ({"issue_date": "2026-05-02", "due_date": "2026-05-01"}, "due_date"),
    ]
    for change, field in cases:
        answer = await admin.post("/api/invoices", json={"client_id": client["id"], "lines": [ok_line], **change})
        assert answer.status_code == 422, (change, answer.text)
        assert answer.json()["field"] == field, (change, answer.json())
    empty = await admin.post("/api/invoices", json={"client_id": client["id"]})
    issue = await admin.post(f"/api/invoices/{empty.json()['id']}/issue", json={"version": empty.json()["version"]})
    assert issue.status_code == 422 and issue.json()["field"] == "lines"
    assert (await admin.get("/api/invoices")).json()["total"] == 1


async def test_list_search_sort_and_capped_total(server: LiveServer, admin: Any, monkeypatch: Any) -> None:
    """Search by part of the number or the client's name, a sort on a NOT NULL column, and the
    total counted only so far past the page (then a lower bound, said by total_exact)."""
    acme, zeta = await _client(admin), await _client(admin, "Zeta Works")
    rate = await _rate(admin)
    small = await _issued(admin, acme["id"], rate)
    big = await _issued(
        admin,
        zeta["id"],
        rate,
        lines=[{"description": "Big", "quantity": "1", "unit_price": "500", "tax_rate_id": rate}],
    )
    await _draft(
        admin,
        zeta["id"],
        rate,
        lines=[{"description": "Small", "quantity": "1", "unit_price": "1", "tax_rate_id": rate}],
    )
    by_number = (await admin.get("/api/invoices", params={"q": big["number"][-4:]})).json()
    assert [i["id"] for i in by_number["items"]] == [big["id"]] and by_number["total_exact"] is True
    whole = (await admin.get("/api/invoices", params={"q": big["number"].lower()})).json()
    assert [i["id"] for i in whole["items"]] == [big["id"]]
    started = (await admin.get("/api/invoices", params={"q": big["number"][:-1].lower()})).json()  # as typed
    assert {i["id"] for i in started["items"]} == {small["id"], big["id"]}
    by_client = (await admin.get("/api/invoices", params={"q": "zeta"})).json()
    assert by_client["total"] == 2 and {i["client_name"] for i in by_client["items"]} == {"Zeta Works"}
    largest = (await admin.get("/api/invoices", params={"sort": "-gross_total"})).json()
    assert [i["id"] for i in largest["items"][:2]] == [big["id"], small["id"]]
    newest = (await admin.get("/api/invoices")).json()
    assert newest["total"] == 3 and newest["items"][-1]["id"] == small["id"]
    ranged = (
        await admin.get(
            "/api/invoices",
            params={"issued_from": small["issue_date"], "issued_to": small["issue_date"], "sort": "-gross_total"},
        )
    ).json()
    assert [i["id"] for i in ranged["items"]] == [big["id"], small["id"]]  # the small-set sort, same order

    monkeypatch.setattr(service, "COUNT_CAP", 0)
    capped = (await admin.get("/api/invoices", params={"limit": 1})).json()
    assert capped["total_exact"] is False and capped["total"] == 2 and len(capped["items"]) == 1
    exact = (await admin.get("/api/invoices", params={"limit": 3})).json()
    assert exact["total_exact"] is True and exact["total"] == 3

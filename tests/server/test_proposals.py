"""Proposals: totals from money.py, the status moves (allowed and refused), expiry and re-opening,
accept / decline with who and when, conversion into an invoice draft and each reason it is
refused, audit, and scope (a salesperson sees only their own proposals)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from crm_server import money
from crm_server.admin.models import AuditEntry
from crm_server.proposals.models import Proposal
from tests.support import LiveServer


async def _client(api: Any, name: str = "Acme", **fields: Any) -> dict[str, Any]:
    made = await api.post("/api/clients", json={"name": name, **fields})
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def _rate(api: Any, name: str = "Standard 19%") -> int:
    rates = {r["name"]: r for r in (await api.get("/api/tax-rates")).json()}
    return int(rates[name]["id"])


async def _proposal(api: Any, rate_id: int, **fields: Any) -> dict[str, Any]:
    body = {
        "lines": [{"description": "Consulting", "quantity": "3", "unit_price": "33.33", "tax_rate_id": rate_id}],
        **fields,
    }
    made = await api.post("/api/proposals", json=body)
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def _move(api: Any, proposal: dict[str, Any], status: str, expect: int = 200) -> dict[str, Any]:
    answer = await api.post(
        f"/api/proposals/{proposal['id']}/status", json={"version": proposal["version"], "status": status}
    )
    assert answer.status_code == expect, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_totals_are_money_py_and_lines_are_replaced(server: LiveServer, admin: Any) -> None:
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
    made = await _proposal(admin, standard, client_id=client["id"], lines=lines, title=" Q1 ")
    expected = money.document_totals(
        [
            money.Line(Decimal("2.5"), Decimal("19.99"), Decimal(19), Decimal(10)),
            money.Line(Decimal(3), Decimal("0.35"), Decimal(9)),
        ],
        "EUR",
    )
    assert (made["net_total"], made["tax_total"], made["gross_total"]) == (
        str(expected.net),
        str(expected.tax),
        str(expected.gross),
    )
    assert [ln["net"] for ln in made["lines"]] == [str(t.net) for t in expected.lines]
    assert made["status"] == "draft" and made["number"] == f"P-{1000 + made['id']}" and made["title"] == "Q1"
    assert made["valid_until"] == (date.today() + timedelta(days=30)).isoformat() and not made["expired"]
    assert made["party_name"] == "Acme" and made["currency"] == "EUR" and made["revision"] == 1

    changed = await admin.patch(
        f"/api/proposals/{made['id']}",
        json={
            "version": made["version"],
            "lines": [{"description": "Only", "quantity": "1", "unit_price": "100", "tax_rate_id": standard}],
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert len(body["lines"]) == 1 and body["gross_total"] == "119.00" and body["status"] == "draft"
    stale = await admin.patch(f"/api/proposals/{made['id']}", json={"version": made["version"], "notes": "x"})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    listed = (await admin.get("/api/proposals", params={"q": "acm", "sort": "-gross_total"})).json()
    assert listed["total"] == 1 and listed["items"][0]["gross_total"] == "119.00"
    assert (await admin.get("/api/proposals", params={"status": "sent"})).json()["total"] == 0


async def test_exactly_one_of_lead_and_client(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    lead = (await admin.post("/api/leads", json={"person_name": "Ana Pop", "company": "Pop SRL"})).json()
    rate = await _rate(admin)
    both = await admin.post("/api/proposals", json={"client_id": client["id"], "lead_id": lead["id"]})
    none = await admin.post("/api/proposals", json={})
    assert both.status_code == 422 and none.status_code == 422 and none.json()["field"] == "lead_id"
    on_lead = await _proposal(admin, rate, lead_id=lead["id"])
    assert on_lead["party_name"] == "Ana Pop, Pop SRL" and on_lead["client_id"] is None
    listed = (await admin.get("/api/proposals", params={"lead_id": lead["id"]})).json()
    assert [p["id"] for p in listed["items"]] == [on_lead["id"]]


async def test_status_moves_allowed_and_refused(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    rate = await _rate(admin)
    p = await _proposal(admin, rate, client_id=client["id"])
    for wrong in ("open", "revised", "accepted", "declined"):
        refused = await _move(admin, p, wrong, 409)
        assert refused["code"] == "status_not_allowed" and refused["field"] == "status"
    p = await _move(admin, p, "sent")
    assert p["sent_at"] is not None
    assert (await _move(admin, p, "draft", 409))["code"] == "status_not_allowed"
    p = await _move(admin, p, "open")
    assert (await _move(admin, p, "sent", 409))["code"] == "status_not_allowed"
    # Editing the lines of an open proposal makes it revised.
    edited = await admin.patch(
        f"/api/proposals/{p['id']}",
        json={
            "version": p["version"],
            "lines": [{"description": "More", "quantity": "2", "unit_price": "10", "tax_rate_id": rate}],
        },
    )
    assert edited.status_code == 200, edited.text
    p = edited.json()
    assert p["status"] == "revised" and p["revision"] == 2
    assert (await _move(admin, p, "open", 409))["code"] == "status_not_allowed"
    p = await _move(admin, p, "sent")
    p = await _move(admin, p, "revised")  # a sent one can be marked revised by hand too
    assert p["revision"] == 3
    p = await _move(admin, p, "sent")
    notes = await admin.patch(f"/api/proposals/{p['id']}", json={"version": p["version"], "notes": "Call Friday"})
    assert notes.json()["status"] == "sent"  # notes do not change the offer
    p = await _move(admin, notes.json(), "declined")
    for final in ("sent", "open", "accepted"):
        assert (await _move(admin, p, final, 409))["code"] == "status_not_allowed"
    closed = await admin.patch(f"/api/proposals/{p['id']}", json={"version": p["version"], "notes": "x"})
    assert closed.status_code == 409 and closed.json()["code"] == "closed"
    for start in ("sent", "open", "revised"):
        q = await _move(admin, await _proposal(admin, rate, client_id=client["id"]), "sent")
        if start == "open":
            q = await _move(admin, q, "open")
        elif start == "revised":
            q = await _move(admin, q, "revised")
        assert (await _move(admin, q, "accepted"))["status"] == "accepted"


async def test_accept_and_decline_record_who_and_when(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    rate = await _rate(admin)
    me = (await admin.get("/api/auth/me")).json()
    a = await _move(admin, await _move(admin, await _proposal(admin, rate, client_id=client["id"]), "sent"), "accepted")
    d = await _move(admin, await _move(admin, await _proposal(admin, rate, client_id=client["id"]), "sent"), "declined")
    assert a["accepted_by"] == me["id"] and a["accepted_at"] is not None and a["declined_at"] is None
    assert d["declined_by"] == me["id"] and d["declined_at"] is not None and d["accepted_by"] is None
    async with server.session() as s:
        actions = (
            await s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity == "proposal", AuditEntry.entity_id == a["id"])
                .order_by(AuditEntry.id)
            )
        ).all()
    assert list(actions) == ["created", "sent", "accepted"]


async def test_expired_proposal_set_to_open_is_valid_seven_more_days(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    rate = await _rate(admin)
    p = await _move(admin, await _proposal(admin, rate, client_id=client["id"]), "sent")
    async with server.session() as s:
        await s.execute(
            update(Proposal).where(Proposal.id == p["id"]).values(valid_until=date.today() - timedelta(days=3))
        )
    p = (await admin.get(f"/api/proposals/{p['id']}")).json()
    assert p["expired"]
    p = await _move(admin, p, "open")
    assert p["valid_until"] == (date.today() + timedelta(days=7)).isoformat() and not p["expired"]
    # A proposal that is still valid keeps its date.
    q = await _move(admin, await _proposal(admin, rate, client_id=client["id"]), "sent")
    assert (await _move(admin, q, "open"))["valid_until"] == q["valid_until"]


async def test_conversion_rules_and_success(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    lead = (await admin.post("/api/leads", json={"person_name": "Lee"})).json()
    rate = await _rate(admin)
    on_lead = await _move(
        admin, await _move(admin, await _proposal(admin, rate, lead_id=lead["id"]), "sent"), "accepted"
    )
    check = (await admin.get(f"/api/proposals/{on_lead['id']}/conversion")).json()
    assert check["possible"] is False and "Convert the lead to a client first" in check["reason"]
    refused = await admin.post(f"/api/proposals/{on_lead['id']}/convert")
    assert refused.status_code == 422 and refused.json()["code"] == "lead_not_client"
    assert "Convert the lead to a client first" in refused.json()["message"]

    p = await _move(admin, await _proposal(admin, rate, client_id=client["id"]), "sent")
    check = (await admin.get(f"/api/proposals/{p['id']}/conversion")).json()
    assert check["possible"] is False and "accepted" in check["reason"]
    refused = await admin.post(f"/api/proposals/{p['id']}/convert")
    assert refused.status_code == 409 and refused.json()["code"] == "not_accepted"

    p = await _move(admin, p, "accepted")
    assert (await admin.get(f"/api/proposals/{p['id']}/conversion")).json() == {
        "possible": True,
        "reason": None,
        "code": None,
        "invoice_id": None,
    }
    made = await admin.post(f"/api/proposals/{p['id']}/convert")
    assert made.status_code == 201, made.text
    invoice = made.json()
    assert invoice["status"] == "draft" and invoice["client_id"] == client["id"] and invoice["currency"] == "EUR"
    assert (invoice["net_total"], invoice["tax_total"], invoice["gross_total"]) == (
        p["net_total"],
        p["tax_total"],
        p["gross_total"],
    )
    assert [(ln["description"], ln["quantity"], ln["unit_price"]) for ln in invoice["lines"]] == [
        (ln["description"], ln["quantity"], ln["unit_price"]) for ln in p["lines"]
    ]
    linked = (await admin.get(f"/api/proposals/{p['id']}")).json()
    assert linked["converted_invoice_id"] == invoice["id"]

    again = await admin.post(f"/api/proposals/{p['id']}/convert")
    assert again.status_code == 409 and again.json()["code"] == "already_converted"
    assert again.json()["invoice_id"] == invoice["id"] and f"#{invoice['id']}" in again.json()["message"]
    check = (await admin.get(f"/api/proposals/{p['id']}/conversion")).json()
    assert check["possible"] is False and check["invoice_id"] == invoice["id"]
    assert (await admin.get("/api/invoices")).json()["total"] == 1


async def test_salesperson_scope_and_invoice_permission(server: LiveServer, admin: Any) -> None:
    sam_id = await server.create_user("sam@example.com", role="Salesperson")
    rate = await _rate(admin)
    theirs = await _client(admin, "Theirs", owner_id=sam_id)
    hidden = await _proposal(admin, rate, client_id=theirs["id"])  # the admin's own proposal
    async with server.client() as sam:
        await server.login(sam, "sam@example.com")
        mine = await _proposal(sam, rate, client_id=theirs["id"])
        assert mine["owner_id"] == sam_id
        listed = (await sam.get("/api/proposals")).json()
        assert [p["id"] for p in listed["items"]] == [mine["id"]]
        assert (await sam.get(f"/api/proposals/{hidden['id']}")).status_code == 404
        accepted = await _move(sam, await _move(sam, mine, "sent"), "accepted")
        check = (await sam.get(f"/api/proposals/{accepted['id']}/conversion")).json()
        assert check["possible"] is False and "invoices.create" in check["reason"]
        refused = await sam.post(f"/api/proposals/{accepted['id']}/convert")
        assert refused.status_code == 403 and "invoices.create" in refused.json()["message"]
        assert refused.json()["permission"] == "invoices.create"
    assert (await admin.get("/api/invoices")).json()["total"] == 0
    assert (await admin.get("/api/proposals")).json()["total"] == 2

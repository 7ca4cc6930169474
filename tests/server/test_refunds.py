"""Refunds by a person: part of a payment then the rest, the invoice's paid total and status going
back, more than is left refused naming what is left, a reason required, audited and announced, the
payment list showing each refund, scope and permission, and cancelling only once all is refunded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from crm_server.admin.models import AuditEntry
from crm_server.events import Event
from tests.server.test_stripe import issued
from tests.support import LiveServer


async def pay(api: Any, invoice: dict[str, Any], amount: str, **fields: Any) -> dict[str, Any]:
    answer = await api.post(f"/api/invoices/{invoice['id']}/payments", json={"amount": amount, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def refund_url(invoice: dict[str, Any], payment: dict[str, Any]) -> str:
    return f"/api/invoices/{invoice['id']}/payments/{payment['id']}/refunds"


async def test_partial_then_full_refund_by_a_person(server: LiveServer, admin: Any) -> None:
    invoice = await issued(admin)  # 119.00 EUR
    first = await pay(admin, invoice, "100.00", method="card", reference="POS 17")
    await pay(admin, invoice, "19.00", method="cash")
    assert (await admin.get(f"/api/invoices/{invoice['id']}")).json()["status"] == "paid"

    answer = await admin.post(refund_url(invoice, first), json={"amount": "30.00", "reason": " Damaged box "})
    assert answer.status_code == 201, answer.text
    payment = answer.json()
    assert (payment["refunded_total"], payment["refundable"]) == ("30.00", "70.00")
    assert [(r["amount"], r["reason"]) for r in payment["refunds"]] == [("30.00", "Damaged box")]
    after = (await admin.get(f"/api/invoices/{invoice['id']}")).json()
    assert (after["status"], after["paid_total"], after["open_amount"]) == ("partially_paid", "89.00", "30.00")

    over = await admin.post(refund_url(invoice, first), json={"amount": "70.01", "reason": "Too much"})
    assert over.status_code == 422
    assert (over.json()["field"], over.json()["code"], over.json()["refundable"]) == ("amount", "over_refund", "70.00")
    blank = await admin.post(refund_url(invoice, first), json={"amount": "1.00", "reason": "   "})
    assert blank.status_code == 422 and blank.json()["field"] == "reason"
    tiny = await admin.post(refund_url(invoice, first), json={"amount": "0.001", "reason": "x"})
    assert tiny.status_code == 422 and tiny.json()["field"] == "amount"

    stuck = await admin.post(f"/api/invoices/{invoice['id']}/cancel", json={"version": after["version"]})
    assert stuck.status_code == 409 and stuck.json()["code"] == "has_payments"

    rest = await admin.post(refund_url(invoice, first), json={"amount": "70.00", "reason": "Returned"})
    assert rest.status_code == 201 and rest.json()["refundable"] == "0.00"
    cash = next(p for p in (await admin.get(f"/api/invoices/{invoice['id']}/payments")).json() if p["method"] == "cash")
    cash_back = await admin.post(refund_url(invoice, cash), json={"amount": "19.00", "reason": "Returned"})
    assert cash_back.status_code == 201
    again = await admin.post(refund_url(invoice, cash), json={"amount": "0.01", "reason": "Again"})
    assert again.status_code == 422 and again.json()["refundable"] == "0.00"

    listed = (await admin.get(f"/api/invoices/{invoice['id']}/payments")).json()
    assert [(p["amount"], p["refunded_total"], [r["amount"] for r in p["refunds"]]) for p in listed] == [
        ("100.00", "100.00", ["30.00", "70.00"]),
        ("19.00", "19.00", ["19.00"]),
    ]
    page = (await admin.get("/api/payments", params={"q": "POS 17"})).json()
    assert [(r["amount"], r["refunded_total"], r["refundable"]) for r in page["items"]] == [
        ("100.00", "100.00", "0.00")
    ]

    back = (await admin.get(f"/api/invoices/{invoice['id']}")).json()
    assert (back["status"], back["paid_total"]) == ("unpaid", "0.00")
    cancelled = await admin.post(f"/api/invoices/{invoice['id']}/cancel", json={"version": back["version"]})
    assert cancelled.status_code == 200 and cancelled.json()["kind"] == "credit_note"

    async with server.session() as s:
        audit = (
            await s.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.entity == "payment", AuditEntry.entity_id == first["id"], AuditEntry.action == "refunded"
                )
                .order_by(AuditEntry.id)
            )
        ).all()
        assert [{c["field"]: c["new"] for c in a.changes}["refunded_total"] for a in audit] == ["30.00", "100.00"]
        assert {c["field"]: c["new"] for c in audit[0].changes}["reason"] == "Damaged box"
        announced = (
            await s.scalars(select(Event).where(Event.module == "invoices", Event.entity_id == invoice["id"]))
        ).all()
        assert sum(1 for e in announced if e.data.get("status") in ("partially_paid", "unpaid")) >= 2


async def test_overdue_comes_back_and_scope_and_permission_hold(server: LiveServer, admin: Any) -> None:
    invoice = await issued(admin, issue_date="2026-01-05", due_date="2026-01-19")  # long past due
    payment = await pay(admin, invoice, "119.00")
    answer = await admin.post(refund_url(invoice, payment), json={"amount": "119.00", "reason": "Chargeback"})
    assert answer.status_code == 201
    assert (await admin.get(f"/api/invoices/{invoice['id']}")).json()["status"] == "overdue"

    other = await issued(admin)
    wrong = await admin.post(refund_url(other, payment), json={"amount": "1.00", "reason": "x"})
    assert wrong.status_code == 404  # the payment is not the named invoice's

    await server.create_user("sam@example.com", role="Salesperson")
    async with server.client() as sam:
        await server.login(sam, "sam@example.com")
        denied = await sam.post(refund_url(other, payment), json={"amount": "1.00", "reason": "x"})
        assert denied.status_code == 403
    async with server.session() as s:
        entries = (
            await s.scalars(select(AuditEntry).where(AuditEntry.entity == "payment", AuditEntry.action == "refunded"))
        ).all()
        assert len(entries) == 1 and entries[0].actor_id is not None
    assert Decimal(answer.json()["refunded_total"]) == Decimal("119.00")

"""Stripe money through the webhook door and the job, with Stripe's API played by tests/standins/stripe.py:
one real payment is recorded once whatever events arrive in whatever order, in old (payment_intent on
the Invoice) and new (2025-03-31 "basil" and later: InvoicePayments) API shapes; money that names no CRM
invoice waits as needs attention until a person matches it (then the client's Stripe customer id finds
the next ones, never the amount alone); and an invoice's "Pay online" Checkout Session carries its
number so the payment made through it matches by itself."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crm_server.admin.models import AuditEntry
from crm_server.integrations import stripe
from crm_server.integrations.models import StripeCustomer
from crm_server.invoices.models import Payment, PaymentRefund
from tests.standins.stripe import StripeStandIn
from tests.support import LiveServer

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks" / "stripe"
SECRET = "whsec_test_5f1c9a7e2b4d8c6a0e3f7b1d9c5a2e8f"
OLD, NEW = "2024-06-20", "2025-10-29.clover"


@pytest.fixture
def worker_server(database_url: str) -> Iterator[LiveServer]:
    with LiveServer.run(database_url, worker=True) as live:
        yield live


@pytest.fixture
def stripe_api() -> Iterator[StripeStandIn]:
    with StripeStandIn.run() as stand_in:
        yield stand_in


def fixture(event_type: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((FIXTURES / f"{event_type}.json").read_bytes()))


async def configure(api: httpx.AsyncClient, stand_in: StripeStandIn | None = None) -> None:
    values = {"stripe.endpoint_secret": SECRET, **(stand_in.settings() if stand_in else {})}
    answer = await api.patch("/api/settings", json={"values": values})
    assert answer.status_code == 200, answer.text


async def issue(api: httpx.AsyncClient, client_id: int | None = None, price: str = "100.00") -> dict[str, Any]:
    """An issued invoice of `price` + 19% VAT (100.00 -> 119.00 EUR), for a new client unless given."""
    if client_id is None:
        made = await api.post("/api/clients", json={"name": "Acme", "email": "billing@acme.example"})
        client_id = made.json()["id"]
    rate = next(r["id"] for r in (await api.get("/api/tax-rates")).json() if r["name"] == "Standard 19%")
    draft = (
        await api.post(
            "/api/invoices",
            json={
                "client_id": client_id,
                "lines": [{"description": "Support hours", "quantity": "1", "unit_price": price, "tax_rate_id": rate}],
            },
        )
    ).json()
    answer = await api.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def send(server: LiveServer, api: httpx.AsyncClient, event: dict[str, Any]) -> dict[str, Any]:
    """Stripe posts the signed event; answers the inbox's event once the job has worked on it."""
    body = json.dumps(event).encode()
    answer = await api.post(
        "/webhooks/stripe",
        content=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": stripe.signature_header(SECRET, body)},
    )
    assert answer.status_code == 200, answer.text
    [event_id] = answer.json()["ids"]
    deadline = time.monotonic() + 20
    while True:
        row = (await api.get(f"/api/integrations/events/{event_id}")).json()
        if row["status"] != "pending":
            return row  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, "the job did not work on the event"
        await asyncio.sleep(0.1)


async def payments(server: LiveServer, invoice_id: int) -> list[tuple[Decimal, str | None, int | None]]:
    async with server.session() as s:
        rows = (await s.scalars(select(Payment).where(Payment.invoice_id == invoice_id).order_by(Payment.id))).all()
        return [(p.amount, p.external_ref, p.created_by) for p in rows]


def intent_event(
    n: int,
    version: str,
    *,
    number: str | None,
    stripe_invoice: str | None,
    customer: str = "cus_RTx5FqL2mN8pQa",
    minor: int = 11900,
) -> dict[str, Any]:
    """A PaymentIntent's payment_intent.succeeded; `stripe_invoice` it paid (named on it only before basil)."""
    event = fixture("payment_intent.succeeded")
    event.update(id=f"evt_pi_{n}_{version}", api_version=version)
    intent = event["data"]["object"]
    intent.update(
        id=f"pi_{n}_{version}",
        amount=minor,
        amount_received=minor,
        customer=customer,
        metadata={"invoice_number": number} if number else {},
        description=f"Payment for Invoice 7C3A9B21-{n:04d}",
    )  # Stripe's own words and numbering
    if version == OLD:
        intent["invoice"] = stripe_invoice
    else:
        intent.pop("invoice", None)  # removed from the PaymentIntent in basil
    return event


def invoice_event(n: int, version: str, crm_number: str, stand_in: StripeStandIn) -> dict[str, Any]:
    """invoice.paid of Stripe invoice in_<n>: before basil it names the CRM invoice in its metadata and
    its payment intent; since, the CRM's number is the Stripe invoice's number and its payment is an
    InvoicePayment only the API lists."""
    event = fixture("invoice.paid")
    event.update(id=f"evt_in_{n}_{version}", api_version=version)
    obj = event["data"]["object"]
    obj.update(id=f"in_{n}_{version}")
    if version == OLD:
        obj.update(payment_intent=f"pi_{n}_{version}", metadata={"invoice_number": crm_number})
    else:
        for gone in ("payment_intent", "charge", "paid"):
            del obj[gone]
        obj.update(number=crm_number, metadata={})
        stand_in.put_invoice_payment(obj["id"], f"pi_{n}_{version}", 11900)
    stand_in.put_invoice(copy.deepcopy(obj))
    return event


async def test_one_payment_whatever_events_arrive_in_either_order_and_api_version(
    worker_server: LiveServer, stripe_api: StripeStandIn
) -> None:
    server = worker_server
    async with server.client() as api:
        await server.login_admin(api)
        await configure(api, stripe_api)
        n = 0
        for version in (OLD, NEW):
            for invoice_first in (True, False):
                for intent_names_it in (True, False):  # an integrator's own metadata on the PaymentIntent, or none
                    n += 1
                    invoice = await issue(api)
                    paid = invoice_event(n, version, invoice["number"], stripe_api)
                    intent = intent_event(
                        n,
                        version,
                        number=invoice["number"] if intent_names_it else None,
                        stripe_invoice=f"in_{n}_{version}",
                    )
                    first, second = (paid, intent) if invoice_first else (intent, paid)
                    case = f"{version}, {'invoice' if invoice_first else 'intent'} first, named {intent_names_it}"
                    one, two = await send(server, api, first), await send(server, api, second)
                    assert (one["status"], two["status"]) == ("processed", "processed"), (case, one, two)
                    assert "Recorded payment" in one["outcome"] and "already" in two["outcome"], case
                    assert await payments(server, invoice["id"]) == [(Decimal("119.00"), f"pi_{n}_{version}", None)], (
                        case
                    )
                    fresh = (await api.get(f"/api/invoices/{invoice['id']}")).json()
                    assert (fresh["status"], fresh["paid_total"]) == ("paid", "119.00"), case
        assert any(path == "/v1/invoice_payments" and "invoice" in q for _, path, q in stripe_api.requests)
        assert any(path == "/v1/invoice_payments" and "payment" in q for _, path, q in stripe_api.requests)


async def test_money_naming_no_invoice_waits_until_a_person_matches_it(worker_server: LiveServer) -> None:
    server = worker_server
    async with server.client() as api:
        me = await server.login_admin(api)
        await configure(api)  # no secret API key: nothing to ask Stripe
        first = await issue(api)
        client_id = first["client_id"]
        customer = "cus_Elsewhere01"
        waiting = await send(server, api, intent_event(1, OLD, number=None, stripe_invoice=None, customer=customer))
        assert waiting["status"] == "needs_attention"
        assert "names no CRM invoice" in waiting["error"] and "119.00 EUR" in waiting["error"]
        assert await payments(server, first["id"]) == []

        # Hostile or wrong picks are refused and change nothing.
        for body, status in (
            ({"invoice_id": 2**70}, 422),
            ({"invoice_id": None}, 422),
            ({}, 422),
            ({"invoice_id": 999999}, 404),
        ):
            answer = await api.post(f"/api/integrations/events/{waiting['id']}/match", json=body)
            assert answer.status_code == status, answer.text
        # A person picks the invoice: the payment is recorded as theirs, the event processed and audited.
        answer = await api.post(f"/api/integrations/events/{waiting['id']}/match", json={"invoice_id": first["id"]})
        assert answer.status_code == 200, answer.text
        matched = answer.json()
        assert matched["status"] == "processed" and matched["error"] is None
        assert matched["outcome"].startswith(f"Matched to {first['number']} by a person. Recorded payment")
        user_id = me["user"]["id"]
        assert await payments(server, first["id"]) == [(Decimal("119.00"), "pi_1_" + OLD, user_id)]
        again = await api.post(f"/api/integrations/events/{waiting['id']}/match", json={"invoice_id": first["id"]})
        assert again.status_code == 409 and again.json()["code"] == "not_matchable"
        async with server.session() as s:
            audit = (
                await s.scalars(
                    select(AuditEntry).where(
                        AuditEntry.entity == "integration_event", AuditEntry.entity_id == waiting["id"]
                    )
                )
            ).all()
            assert [(a.action, a.actor_id) for a in audit] == [("matched", user_id)]
            assert (
                await s.scalar(select(StripeCustomer.client_id).where(StripeCustomer.customer_id == customer))
                == client_id
            )

        # The client's Stripe customer is known now: its next payment finds the client's one open invoice.
        second = await issue(api, client_id)
        found = await send(server, api, intent_event(2, OLD, number=None, stripe_invoice=None, customer=customer))
        assert found["status"] == "processed" and second["number"] in found["outcome"], found
        # Two open invoices of the same amount: the customer alone cannot say which. Never the amount alone.
        third, fourth = await issue(api, client_id), await issue(api, client_id)
        unsure = await send(server, api, intent_event(3, OLD, number=None, stripe_invoice=None, customer=customer))
        assert unsure["status"] == "needs_attention" and "2 open EUR invoices" in unsure["error"], unsure
        assert third["number"] in unsure["error"] and fourth["number"] in unsure["error"]
        # With a third open invoice of another amount, the customer plus the exact open amount picks it.
        fifth = await issue(api, client_id, price="200.00")  # 238.00
        exact = await send(
            server, api, intent_event(4, OLD, number=None, stripe_invoice=None, customer=customer, minor=23800)
        )
        assert exact["status"] == "processed" and fifth["number"] in exact["outcome"], exact
        # An unknown customer paying exactly an open amount is still a person's to match.
        stranger = await send(
            server, api, intent_event(5, OLD, number=None, stripe_invoice=None, customer="cus_Stranger")
        )
        assert stranger["status"] == "needs_attention", stranger
        assert await payments(server, third["id"]) == [] and await payments(server, fourth["id"]) == []


async def test_a_refund_of_money_waiting_for_a_person_waits_too_and_replays_once_matched(
    worker_server: LiveServer,
) -> None:
    server = worker_server
    async with server.client() as api:
        await server.login_admin(api)
        await configure(api)
        invoice = await issue(api)
        payment = await send(
            server, api, intent_event(7, OLD, number=None, stripe_invoice=None, customer="cus_Unknown7")
        )
        assert payment["status"] == "needs_attention" and "names no CRM invoice" in payment["error"]
        # Stripe refunds 50.00 of it before anyone matched the payment: nothing to reverse yet, so it waits.
        refund = fixture("charge.refunded")
        refund["id"] = "evt_refund_7"
        refund["data"]["object"].update(
            payment_intent="pi_7_" + OLD, metadata={}, amount_refunded=5000, customer="cus_Unknown7"
        )
        held = await send(server, api, refund)
        assert held["status"] == "needs_attention", held
        assert (
            f"its payment (event #{payment['id']}, payment_intent.succeeded) waits to be matched to an invoice: "
            "match that event first, then replay this one."
        ) in held["error"]
        early = await api.post(f"/api/integrations/events/{held['id']}/replay")
        assert early.status_code == 200 and early.json()["status"] == "needs_attention", early.text

        matched = await api.post(f"/api/integrations/events/{payment['id']}/match", json={"invoice_id": invoice["id"]})
        assert matched.status_code == 200 and matched.json()["status"] == "processed", matched.text
        paid = (await api.get(f"/api/invoices/{invoice['id']}")).json()
        assert (paid["status"], Decimal(paid["paid_total"])) == ("paid", Decimal("119.00"))

        replayed = await api.post(f"/api/integrations/events/{held['id']}/replay")
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["status"] == "processed" and replayed.json()["error"] is None
        assert replayed.json()["outcome"].startswith("Recorded a refund of 50.00 EUR")
        # Stripe sends the refund again (its own retry, and a later event with the same cumulative amount).
        resent = await api.post(
            "/webhooks/stripe",
            content=json.dumps(refund).encode(),
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": stripe.signature_header(SECRET, json.dumps(refund).encode()),
            },
        )
        assert resent.status_code == 200 and resent.json()["duplicates"] == 1, resent.text
        later = copy.deepcopy(refund)
        later["id"] = "evt_refund_7_updated"
        settled = await send(server, api, later)
        assert settled["status"] == "processed" and "recorded already" in settled["outcome"], settled
        after = (await api.get(f"/api/invoices/{invoice['id']}")).json()
        assert Decimal(after["paid_total"]) == Decimal("69.00") and after["status"] != "paid", after
        async with server.session() as s:
            refunds = (await s.scalars(select(PaymentRefund.amount))).all()
        assert refunds == [Decimal("50.00")]


async def test_pay_online_link_carries_the_invoice_number_and_its_payment_matches(
    worker_server: LiveServer, stripe_api: StripeStandIn
) -> None:
    server = worker_server
    async with server.client() as api:
        await server.login_admin(api)
        await configure(api)
        invoice = await issue(api)
        number = invoice["number"]
        no_key = await api.post(f"/api/invoices/{invoice['id']}/pay-online")
        assert no_key.status_code == 409 and "secret API key is not set" in no_key.json()["message"]
        await configure(api, stripe_api)
        rate = next(r["id"] for r in (await api.get("/api/tax-rates")).json() if r["name"] == "Standard 19%")
        draft = (
            await api.post(
                "/api/invoices",
                json={
                    "client_id": invoice["client_id"],
                    "lines": [{"description": "x", "quantity": "1", "unit_price": "1.00", "tax_rate_id": rate}],
                },
            )
        ).json()
        assert (await api.post(f"/api/invoices/{draft['id']}/pay-online")).json()["code"] == "not_payable"

        answer = await api.post(f"/api/invoices/{invoice['id']}/pay-online")
        assert answer.status_code == 200, answer.text
        link = answer.json()
        assert link["url"].startswith("https://checkout.stripe.com/c/pay/cs_test_") and not link["reused"]
        assert (link["amount"], link["currency"]) == ("119.00", "EUR")
        method, path, sent = stripe_api.requests[-1]
        assert (method, path) == ("POST", "/v1/checkout/sessions")
        assert sent["mode"] == "payment" and sent["client_reference_id"] == number
        assert sent["metadata"]["invoice_number"] == number
        assert sent["payment_intent_data"]["metadata"]["invoice_number"] == number
        assert sent["line_items"] == [
            {
                "quantity": "1",
                "price_data": {
                    "currency": "eur",
                    "unit_amount": "11900",
                    "product_data": {"name": f"Invoice {number} from My Company"},
                },
            }
        ]
        assert sent["customer_email"] == "billing@acme.example"

        again = (await api.post(f"/api/invoices/{invoice['id']}/pay-online")).json()
        assert (again["url"], again["reused"]) == (link["url"], True)  # the open session is handed out again
        assert stripe_api.requests[-1][:2] == ("GET", f"/v1/checkout/sessions/{link['session_id']}")
        message = (await api.get(f"/api/invoices/{invoice['id']}/send-draft")).json()["message"]
        assert f"You can pay it online: {link['url']}" in message

        # 19.00 arrive by transfer: the link asks for the 100.00 still open, in a new session.
        assert (await api.post(f"/api/invoices/{invoice['id']}/payments", json={"amount": "19.00"})).status_code == 201
        smaller = (await api.post(f"/api/invoices/{invoice['id']}/pay-online")).json()
        assert smaller["session_id"] != link["session_id"] and smaller["amount"] == "100.00"
        assert stripe_api.requests[-1][2]["line_items"][0]["price_data"]["unit_amount"] == "10000"

        # The client pays: Stripe's event names the invoice through the PaymentIntent's metadata.
        done = await send(server, api, stripe_api.pay(smaller["session_id"]))
        assert done["status"] == "processed" and number in done["outcome"], done
        fresh = (await api.get(f"/api/invoices/{invoice['id']}")).json()
        assert (fresh["status"], fresh["paid_total"]) == ("paid", "119.00")
        paid_link = await api.post(f"/api/invoices/{invoice['id']}/pay-online")
        assert paid_link.status_code == 409 and paid_link.json()["code"] == "not_payable"

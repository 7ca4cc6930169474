"""Demo inbox history: what a week of webhooks leaves in the integrations page's event browser.

Everything that needs no network goes through the real inbox (`inbox.process` and the provider's
handler): website form submissions (validated by the forms service, one spam post the honeypot
caught), WooCommerce orders (crm_server/orders/demo.py), a Stripe invoice.paid twin of a recorded
payment and a payment for an invoice number the CRM does not know (needs attention), an ignored
customer.created, and a request with a bad signature (`inbox.reject`, as the door logs it).

Written directly, because the handler would call Facebook's Graph API: the Facebook leadgen events
(their leads are made by the same mapping, `facebook.lead_from_graph`, and the leads service), one
that failed all its tries while Graph could not be reached, and the Stripe payment_intent.succeeded
events of demo invoices already paid by card through Stripe (their payments get the intent id, so a
replay finds them recorded). Bodies are in each provider's own format."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.auth.sessions import log_security
from crm_server.db import utcnow
from crm_server.integrations import facebook, inbox, stripe
from crm_server.integrations.models import InboxEvent
from crm_server.integrations.providers import Incoming
from crm_server.invoices.models import Invoice, Payment
from crm_server.leads import service as leads
from crm_server.webforms import service as webforms
from crm_server.webforms.models import WebForm

# Demo secrets, so the providers count as configured (no scheduled job calls out with them:
# WooCommerce's store URL stays empty, so its reconciliation does not run against a made-up shop).
SECRETS = {
    "facebook.app_secret": "demo-app-secret",
    "facebook.verify_token": "demo-verify-token",
    "facebook.page_token": "EAAdemo-page-token",
    "stripe.endpoint_secret": "whsec_demo",
    "woocommerce.webhook_secret": "demo-woo-secret",
}
PAGE_ID, FORM_ID, AD_ID = "104729384756123", "873645129087654", "238746512398765"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
# (leadgen id, hours ago, Graph field_data answers)
FACEBOOK_LEADS: tuple[tuple[str, int, dict[str, list[str]]], ...] = (
    (
        "120219384756120",
        150,
        {
            "full_name": ["Ingrid Sörensen"],
            "email": ["ingrid@sorensen-bygg.example"],
            "phone_number": ["+46 70 555 01 23"],
            "company_name": ["Sörensen Bygg AB"],
            "how_many_checkouts_do_you_run?": ["2-5"],
        },
    ),
    (
        "120219384756121",
        97,
        {
            "full_name": ["Mihai Dobre"],
            "email": ["mihai.dobre@cafe-central.example"],
            "phone_number": ["+40 722 555 012"],
            "city": ["Brașov"],
            "how_many_checkouts_do_you_run?": ["1"],
        },
    ),
    (
        "120219384756122",
        52,
        {
            "first_name": ["Chloé"],
            "last_name": ["Martin"],
            "email": ["chloe.martin@boulangerie.example"],
            "company_name": ["Boulangerie Martin"],
            "which_modules_interest_you?": ["stock", "invoicing"],
        },
    ),
    (
        "120219384756123",
        20,
        {
            "full_name": ["Pavel Horák"],
            "email": ["p.horak@horak-sport.example"],
            "phone_number": ["+420 601 555 123"],
            "company_name": ["Horák Sport s.r.o."],
            "how_many_checkouts_do_you_run?": ["6-20"],
        },
    ),
    (
        "120219384756124",
        3,
        {
            "full_name": ["Aisha Bello"],
            "email": ["aisha@bello-pharmacy.example"],
            "phone_number": ["0722 555 987"],
            "which_modules_interest_you?": ["pos"],
        },
    ),
)
FAILED_LEADGEN = ("120219384756125", 30)
GRAPH_DOWN = "ConnectError: [Errno 101] Network is unreachable (graph.facebook.com)"
# (form name, hours ago, values as the visitor typed them)
SUBMISSIONS: tuple[tuple[str, int, dict[str, str]], ...] = (
    (
        "Contact us",
        140,
        {
            "name": "Hanna Virtanen",
            "email": "hanna.virtanen@kahvila.example",
            "phone": "+358 40 555 1234",
            "message": "Do you support Finnish e-invoices?",
        },
    ),
    (
        "Request a quote",
        75,
        {
            "name": "Diego Ferreira",
            "company": "Ferreira Mercado Lda",
            "email": "diego@ferreira-mercado.example",
            "phone": "+351 912 555 321",
            "interest": "POS hardware",
            "budget": "4500",
            "details": "Three checkouts and a label printer for the deli counter.",
            "heard": "Trade fair",
        },
    ),
    (
        "Contact us",
        28,
        {
            "name": "Tom Reilly",
            "email": "tom@reilly-hardware.example",
            "message": "Please call me about moving our shop onto your CRM.",
        },
    ),
    (
        "Request a quote",
        6,
        {
            "name": "Yuki Tanaka",
            "company": "Tanaka Tea House",
            "email": "yuki@tanaka-tea.example",
            "interest": "Software licences",
            "budget": "1200",
            "heard": "Search engine",
        },
    ),
)


def _at(hours_ago: float) -> datetime:
    return (utcnow() - timedelta(hours=hours_ago)).replace(microsecond=0)


async def through_inbox(
    session: AsyncSession,
    provider: str,
    item: Incoming,
    *,
    headers: Mapping[str, str],
    body: bytes,
    remote: str | None,
    at: datetime,
) -> InboxEvent:
    """Store the event as the webhook door does and work on it now as the job would, received at `at`
    (no job is queued: it is settled before the demo's server starts)."""
    event = InboxEvent(
        provider=provider,
        event_id=item.event_id,
        event_type=item.event_type,
        status="pending",
        remote=remote,
        headers=inbox.masked(headers),
        payload=item.payload,
        body=body,
        received_at=at,
    )
    session.add(event)
    await session.flush()
    await inbox.process(session, event)
    event.processed_at = at + timedelta(seconds=2)
    return event


def _settled(
    provider: str,
    item: Incoming,
    *,
    status: str,
    headers: Mapping[str, str],
    body: bytes,
    remote: str | None,
    at: datetime,
    attempts: int = 1,
    outcome: str | None = None,
    error: str | None = None,
) -> InboxEvent:
    return InboxEvent(
        provider=provider,
        event_id=item.event_id,
        event_type=item.event_type,
        status=status,
        remote=remote,
        headers=inbox.masked(headers),
        payload=item.payload,
        body=body,
        received_at=at,
        processed_at=at + timedelta(seconds=2),
        attempts=attempts,
        outcome=outcome,
        error=error,
    )


def _page_webhook(leadgen_id: str, created: int) -> tuple[dict[str, str], bytes]:
    body = json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": PAGE_ID,
                    "time": created,
                    "changes": [
                        {
                            "field": "leadgen",
                            "value": {
                                "ad_id": AD_ID,
                                "form_id": FORM_ID,
                                "leadgen_id": leadgen_id,
                                "created_time": created,
                                "page_id": PAGE_ID,
                                "adgroup_id": AD_ID,
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    headers = {
        "content-type": "application/json",
        "user-agent": "facebookexternalua",
        "x-hub-signature-256": facebook.signature(SECRETS["facebook.app_secret"], body),
    }
    return headers, body


async def _facebook(session: AsyncSession) -> int:
    made = 0
    for leadgen_id, hours, answers in FACEBOOK_LEADS:
        at = _at(hours)
        headers, body = _page_webhook(leadgen_id, int(at.timestamp()))
        [item] = facebook.events(headers, body)
        graph_lead = {
            "created_time": at.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "id": leadgen_id,
            "ad_id": AD_ID,
            "form_id": FORM_ID,
            "field_data": [{"name": k, "values": v} for k, v in answers.items()],
        }
        lead = await leads.create_lead(session, None, await facebook.lead_from_graph(session, graph_lead, item.payload))
        session.add(
            _settled(
                "facebook",
                item,
                status="processed",
                headers=headers,
                body=body,
                remote="173.252.88.4",
                at=at,
                outcome=f"Created lead #{lead.id} ({lead.person_name}).",
            )
        )
        made += 1
    leadgen_id, hours = FAILED_LEADGEN
    at = _at(hours)
    headers, body = _page_webhook(leadgen_id, int(at.timestamp()))
    [item] = facebook.events(headers, body)
    session.add(
        _settled(
            "facebook",
            item,
            status="failed",
            headers=headers,
            body=body,
            remote="173.252.88.4",
            at=at + timedelta(hours=8),
            attempts=inbox.MAX_ATTEMPTS,
            error=GRAPH_DOWN,
        )
    )
    return made + 1


async def _forms(session: AsyncSession, rng: random.Random) -> int:
    forms = {f.name: f for f in (await session.scalars(select(WebForm))).all()}
    made = 0
    for name, hours, raw in SUBMISSIONS:
        form = forms.get(name)
        if form is None:
            continue
        values, errors = await webforms.validate(session, form, raw)
        assert not errors, errors
        body = urlencode({**raw, form.honeypot: ""}).encode()
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "origin": form.allowed_origins[0],
            "user-agent": BROWSER,
        }
        item = Incoming(
            event_id=f"{rng.getrandbits(128):032x}", event_type="submission", payload=webforms.payload(form, values)
        )
        await through_inbox(
            session,
            webforms.PROVIDER,
            item,
            headers=headers,
            body=body,
            remote=f"198.51.100.{rng.randint(2, 250)}",
            at=_at(hours),
        )
        made += 1
    if (contact := forms.get("Contact us")) is not None:  # a robot filled the hidden field
        body = urlencode(
            {
                "name": "Best SEO",
                "email": "seo@spam.example",
                "message": "Rank #1 now!!!",
                contact.honeypot: "http://spam.example",
            }
        ).encode()
        await through_inbox(
            session,
            webforms.PROVIDER,
            Incoming(event_id=f"{rng.getrandbits(128):032x}", event_type="spam", payload={"form_id": contact.id}),
            headers={"content-type": "application/x-www-form-urlencoded", "user-agent": "python-requests/2.31"},
            body=body,
            remote="203.0.113.66",
            at=_at(44),
        )
        made += 1
    return made


def _stripe_event(event_id: str, event_type: str, obj: dict[str, Any], at: datetime) -> tuple[dict[str, str], bytes]:
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(at.timestamp()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
    ).encode()
    headers = {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "stripe-signature": stripe.signature_header(SECRETS["stripe.endpoint_secret"], body, int(at.timestamp())),
    }
    return headers, body


def _intent(intent_id: str, minor: int, currency: str, number: str, customer: str) -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": minor,
        "amount_received": minor,
        "capture_method": "automatic_async",
        "currency": currency.lower(),
        "customer": customer,
        "description": f"Invoice {number}",
        "latest_charge": "ch_" + intent_id[3:],
        "livemode": False,
        "metadata": {"invoice_number": number},
        "payment_method_types": ["card"],
        "status": "succeeded",
    }


async def _stripe(session: AsyncSession, rng: random.Random) -> int:
    """Stripe payments of paid demo invoices, with invoice.paid's twin for one; an unknown invoice; a
    customer.created the CRM does not use."""
    rows = (
        await session.execute(
            select(Payment, Invoice.number, Invoice.currency)
            .join(Invoice, Invoice.id == Payment.invoice_id)
            .where(Payment.method == stripe.METHOD, Payment.external_ref.is_(None), Invoice.status == "paid")
            .order_by(Payment.paid_on.desc(), Payment.id)
            .limit(3)
        )
    ).all()
    made = 0
    for n, (payment, number, currency) in enumerate(rows):
        at = datetime.combine(payment.paid_on, time(rng.randint(8, 18), rng.randint(0, 59)), UTC)
        intent_id = f"pi_3Qdemo{rng.getrandbits(64):016x}"
        customer = f"cus_Rdemo{rng.getrandbits(32):08x}"
        minor = int((payment.amount * 100).to_integral_value())
        headers, body = _stripe_event(
            f"evt_3Qdemo{rng.getrandbits(64):016x}",
            "payment_intent.succeeded",
            _intent(intent_id, minor, currency, str(number), customer),
            at,
        )
        [item] = stripe.events(headers, body)
        payment.external_ref = intent_id
        session.add(
            _settled(
                "stripe",
                item,
                status="processed",
                headers=headers,
                body=body,
                remote="54.187.174.169",
                at=at,
                outcome=f"Recorded payment #{payment.id} of {payment.amount} {currency} on {number} ({intent_id}).",
            )
        )
        made += 1
        if n == 0:  # Stripe also tells of the paid Stripe invoice: the same money, recorded once
            await session.flush()
            stripe_invoice = {
                "id": f"in_1Qdemo{rng.getrandbits(48):012x}",
                "object": "invoice",
                "amount_due": minor,
                "amount_paid": minor,
                "amount_remaining": 0,
                "currency": currency.lower(),
                "customer": customer,
                "number": f"DEMO-{1000 + n}",
                "payment_intent": intent_id,
                "status": "paid",
                "metadata": {"invoice_number": number},
                "status_transitions": {"paid_at": int(at.timestamp())},
            }
            headers, body = _stripe_event(
                f"evt_1Qdemo{rng.getrandbits(64):016x}", "invoice.paid", stripe_invoice, at + timedelta(seconds=3)
            )
            [item] = stripe.events(headers, body)
            await through_inbox(
                session,
                "stripe",
                item,
                headers=headers,
                body=body,
                remote="54.187.174.169",
                at=at + timedelta(seconds=3),
            )
            made += 1
    at = _at(9)
    currency = str(await settings.get(session, "sales.base_currency"))
    headers, body = _stripe_event(
        f"evt_3Qdemo{rng.getrandbits(64):016x}",
        "payment_intent.succeeded",
        _intent(f"pi_3Qdemo{rng.getrandbits(64):016x}", 24990, currency, "INV-2019-000042", "cus_Rdemo0unknown"),
        at,
    )
    [item] = stripe.events(headers, body)
    await through_inbox(session, "stripe", item, headers=headers, body=body, remote="54.187.174.169", at=at)
    buyer = {
        "id": "cus_Rdemo0unknown",
        "object": "customer",
        "email": "billing@unknown-buyer.example",
        "name": "Unknown Buyer GmbH",
        "metadata": {},
        "created": int(at.timestamp()) - 60,
    }
    headers, body = _stripe_event(
        f"evt_1Qdemo{rng.getrandbits(64):016x}", "customer.created", buyer, at - timedelta(minutes=1)
    )
    [item] = stripe.events(headers, body)
    await through_inbox(
        session, "stripe", item, headers=headers, body=body, remote="54.187.174.169", at=at - timedelta(minutes=1)
    )
    return made + 2


async def _rejected(session: AsyncSession) -> None:
    """A request signed with an old secret, refused at the door (and in the security log)."""
    body = json.dumps(
        {
            "id": "evt_1QforgedAAAAAAAAAAAAAAA",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": "pi_forged",
                    "object": "payment_intent",
                    "amount_received": 990000,
                    "currency": "eur",
                    "metadata": {"invoice_number": "INV-2026-000001"},
                }
            },
        }
    ).encode()
    stamp = int(_at(12).timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": "curl/8.5.0",
        "stripe-signature": stripe.signature_header("whsec_old_rotated", body, stamp),
    }
    reason = "No signature matches the body (is the endpoint secret right?)."
    await inbox.reject(
        session, "stripe", reason=f"Bad signature: {reason}", headers=headers, body=body, remote="192.0.2.77"
    )
    log_security(session, "webhook_bad_signature", address="192.0.2.77", provider="stripe", reason=reason)


async def seed_integrations(session: AsyncSession, admin_id: int, rng: random.Random) -> dict[str, int]:
    """The inbox history besides the web shop's orders; returns how many events of each provider."""
    for key, value in SECRETS.items():
        await settings.put(session, key, value, admin_id)
    made = {
        "facebook": await _facebook(session),
        "forms": await _forms(session, rng),
        "stripe": await _stripe(session, rng),
    }
    await _rejected(session)
    made["rejected"] = 1
    await session.flush()
    return made

"""Stripe: the webhook endpoint's signature (Stripe-Signature, checked as stripe-python's
WebhookSignature.verify_header does), one event per request, the handlers that record or reverse a
payment on a CRM invoice, Stripe's REST API (form-encoded, the secret key as Basic auth), and the
"Pay online" Checkout Sessions of issued invoices.

Which CRM invoice a payment is for, in this order: `metadata.invoice_number` (what our Checkout
Sessions put on the session and its PaymentIntent); the Stripe invoice's metadata, `number` or
description when the CRM's numbering is used there; a Stripe customer id remembered on a CRM client
(StripeCustomer) with exactly one open invoice in the currency, or exactly one whose open amount is
the payment's. Never by the amount alone. Money that finds no invoice is not recorded and waits in
the inbox as needs attention with the reason; a person resolves it with "Match to invoice…"
(`match`, called by integrations/service.py).

One real payment is recorded once, keyed by its PaymentIntent id (Payment.external_ref, unique per
method), whichever events arrive in whatever order and API version. Before 2025-03-31 ("basil") a
Stripe Invoice names its `payment_intent`; since, its payments are InvoicePayment objects: the
invoice's `payments` when expanded, else `GET /v1/invoice_payments?invoice=in_…`. A PaymentIntent
that names no CRM invoice is looked up the other way (its `invoice` in old versions, else
`GET /v1/invoice_payments?payment[type]=payment_intent&payment[payment_intent]=pi_…`) so its Stripe
invoice's hints apply to it too. charge.refunded carries the charge's cumulative `amount_refunded`:
the handler records only what is not yet refunded on the payment, so a retry adds nothing. An
unknown invoice, another currency or more than is open waits in the inbox for a person; so does the
refund of a payment that waits for one (replayed once that payment is matched)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import money
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.contract.invoices import OPEN_STATUSES, PaymentIn, PaymentMethod, PayOnlineOut, RefundIn
from crm_server.db import utcnow
from crm_server.errors import Conflict, ValidationFailed
from crm_server.integrations.models import InboxEvent, StripeCheckout, StripeCustomer
from crm_server.integrations.providers import BadSignature, Handler, Incoming, Malformed, NeedsAttention, header
from crm_server.invoices import service as invoices
from crm_server.invoices.models import Invoice

SETTINGS = ("stripe.endpoint_secret", "stripe.secret_key", "stripe.api_url", "stripe.success_url")
REQUIRED = ("stripe.endpoint_secret",)
SIGNATURE_HEADER = "stripe-signature"
SCHEME = "v1"
TOLERANCE_SECONDS = 300  # stripe-python's DEFAULT_TOLERANCE
METHOD = PaymentMethod.stripe.value
# Events an endpoint commonly also receives: acknowledged, not acted on. invoice.payment_succeeded
# is invoice.paid's twin; refund.* details are covered by charge.refunded's cumulative amount.
IGNORED = frozenset(
    {
        "payment_intent.created",
        "payment_intent.processing",
        "payment_intent.requires_action",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.amount_capturable_updated",
        "charge.succeeded",
        "charge.captured",
        "charge.updated",
        "charge.failed",
        "charge.pending",
        "charge.refund.updated",
        "refund.created",
        "refund.updated",
        "refund.failed",
        "invoice.created",
        "invoice.finalized",
        "invoice.updated",
        "invoice.sent",
        "invoice.upcoming",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "invoice.payment_action_required",
        "invoice.voided",
        "invoice.marked_uncollectible",
        "customer.created",
        "customer.updated",
        "checkout.session.completed",
        "checkout.session.expired",
    }
)
TEST_EVENT_TYPE = "payment_intent.created"
# Events that carry money a person may match to an invoice ("Match to invoice…").
MATCHABLE = frozenset({"payment_intent.succeeded", "invoice.paid"})
TIMEOUT = httpx.Timeout(20.0)
CHECKOUT_REUSE_MARGIN = timedelta(minutes=30)  # a session closer than this to its end is not handed out
NUMBER_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.-]{1,48}[A-Za-z0-9]")
# Stripe's amounts are in its minor units, which are ISO 4217's (money.minor_unit) except for these.
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
TWO_DECIMAL = frozenset({"ISK"})  # zero-decimal in use, still "100 = 1 ISK" in Stripe's API


# --- the door ------------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "{t}.{body}" with the endpoint secret (whsec_... used as it is)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The Stripe-Signature value Stripe sends for `body` (also signs test requests)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},{SCHEME}={signature(secret, t, body)}"


def check_signature(
    header: str | None, body: bytes, secret: str, *, tolerance: int = TOLERANCE_SECONDS, now: float | None = None
) -> None:
    """verify_header's rules: t and every v1 taken from the header, any v1 may match (Stripe sends
    several while a secret is rolled), compared in constant time; then the timestamp within
    `tolerance` seconds of now (either way: a clock far ahead is as suspect as a replay)."""
    if not header:
        raise BadSignature("No Stripe-Signature header.")
    items = [part.split("=", 1) for part in header.split(",")]  # parts of other shapes are passed over
    try:
        timestamp = int(next(i[1] for i in items if len(i) == 2 and i[0] == "t"))
    except (StopIteration, ValueError):
        raise BadSignature("Unable to read the timestamp of the Stripe-Signature header.") from None
    candidates = [i[1] for i in items if len(i) == 2 and i[0] == SCHEME]
    if not candidates:
        raise BadSignature(f"No {SCHEME} signature in the Stripe-Signature header.")
    expected = signature(secret, timestamp, body).encode()
    # Every candidate is compared (no early exit): the time taken says nothing about which matched.
    matched = [hmac.compare_digest(expected, c.encode()) for c in candidates]
    if not any(matched):
        raise BadSignature("No signature matches the body (is the endpoint secret right?).")
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise BadSignature("The Stripe-Signature timestamp is outside the tolerance (a replay or a wrong clock).")


async def verify(session: AsyncSession, headers: Mapping[str, str], body: bytes) -> None:
    secret = str(await settings.get(session, "stripe.endpoint_secret") or "")
    if not secret:
        raise BadSignature("Stripe is not configured (no endpoint secret).")
    check_signature(header(headers, SIGNATURE_HEADER), body, secret)


def events(headers: Mapping[str, str], body: bytes) -> list[Incoming]:
    """One Stripe event per request: id evt_..., its type, the whole event as the payload."""
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed(f"The body is not JSON: {exc}") from None
    if not isinstance(event, dict) or event.get("object", "event") != "event":
        raise Malformed("The body is not a Stripe event object.")
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str) or not event_type:
        raise Malformed("A Stripe event needs an id and a type.")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise Malformed("A Stripe event needs data.object.")
    return [Incoming(event_id=event_id, event_type=event_type, payload=event)]


def test_request(values: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """A signed payment_intent.created (ignored: it changes nothing), unique each time it is sent."""
    event = {
        "id": f"evt_test_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": TEST_EVENT_TYPE,
        "request": {"id": None, "idempotency_key": None},
        "data": {
            "object": {
                "id": f"pi_test_{secrets.token_hex(12)}",
                "object": "payment_intent",
                "amount": 100,
                "amount_received": 0,
                "currency": "eur",
                "status": "requires_payment_method",
                "metadata": {"crm_test": "true"},
            }
        },
    }
    body = json.dumps(event).encode()
    secret = str(values.get("stripe.endpoint_secret") or "")
    return {"Content-Type": "application/json", "Stripe-Signature": signature_header(secret, body)}, body


# --- reading an event ----------------------------------------------------------------------------


def amount(minor: Any, currency: str) -> Decimal:
    """Stripe's integer minor units as a Decimal of the currency (2500 EUR -> 25.00, 500 JPY -> 500)."""
    if isinstance(minor, bool) or not isinstance(minor, int) or minor < 0:
        raise NeedsAttention(f"The event's amount {minor!r} is not a whole number of minor units.")
    code = currency.upper()
    exponent = 0 if code in ZERO_DECIMAL else 2 if code in TWO_DECIMAL else money.minor_unit(code)
    return money.round_money(Decimal(minor).scaleb(-exponent), code)


def _object(event: dict[str, Any]) -> dict[str, Any]:
    obj = (event.get("data") or {}).get("object")
    if not isinstance(obj, dict):
        raise NeedsAttention("The event has no data.object.")
    return obj


def _id(value: Any) -> str | None:
    """An id field that may be expanded into its object ({"id": ...})."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _invoice_number(obj: dict[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    number = metadata.get("invoice_number") if isinstance(metadata, dict) else None
    if number is None:
        return None
    return str(number).strip() or None


def _day(event: dict[str, Any], stamp: Any = None) -> date:
    """The UTC day of `stamp` (Unix seconds), else of the event: when the money moved."""
    stamp = stamp if isinstance(stamp, int) else event.get("created")
    return datetime.fromtimestamp(stamp, UTC).date() if isinstance(stamp, int) else date.today()


def _currency(obj: dict[str, Any]) -> str:
    currency = obj.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        raise NeedsAttention(f"The event's currency {currency!r} is not an ISO 4217 code.")
    return currency.upper()


def _stripe_invoice_intent(obj: dict[str, Any]) -> str | None:
    """A Stripe Invoice's payment intent: `payment_intent` (API versions before 2025-03-31) or its
    first paid entry in `payments` (since)."""
    intent = _id(obj.get("payment_intent"))
    if intent is not None:
        return intent
    payments = obj.get("payments")
    rows = payments.get("data") if isinstance(payments, dict) else None
    for row in rows if isinstance(rows, list) else []:
        payment = row.get("payment") if isinstance(row, dict) else None
        intent = _id(payment.get("payment_intent")) if isinstance(payment, dict) else None
        if intent is not None:
            return intent
    return None


# --- Stripe's REST API -----------------------------------------------------------------------------


class StripeUnavailable(RuntimeError):
    """Stripe is down or throttling us: a transient failure the inbox retries."""


def form(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding of nested parameters: a[b][0][c]=v (booleans as true/false)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs += form(value, name)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                pairs += form(item, f"{name}[{i}]") if isinstance(item, Mapping) else [(f"{name}[{i}]", str(item))]
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return pairs


async def _api(
    session: AsyncSession,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """One call to Stripe's API with the secret key. Stripe's refusals become NeedsAttention (a wrong
    key also marks the provider for re-authorization); its outages raise StripeUnavailable."""
    key = str(await settings.get(session, "stripe.secret_key") or "")
    if not key:
        raise NeedsAttention(
            "The Stripe secret API key is not set (Integrations, Stripe): the CRM cannot ask Stripe about this payment."
        )
    base = str(await settings.get(session, "stripe.api_url") or "").rstrip("/")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            response = await client.request(
                method,
                f"{base}{path}",
                params=tuple(form(params)) if params else None,
                data=dict(form(data)) if data else None,
                auth=(key, ""),
                headers=headers,
            )
    except httpx.HTTPError as exc:
        raise StripeUnavailable(f"Stripe's API at {base} cannot be reached: {exc or type(exc).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code < 400 and isinstance(body, dict):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    message = str(error.get("message") or "") if isinstance(error, dict) else ""
    message = message or f"HTTP {response.status_code}"
    if response.status_code in (429,) or response.status_code >= 500:
        raise StripeUnavailable(f"Stripe answered {response.status_code}: {message}")
    if response.status_code in (401, 403):
        raise NeedsAttention(f"Stripe refused the secret API key ({response.status_code}): {message}", reauthorize=True)
    raise NeedsAttention(f"Stripe refused {method} {path} ({response.status_code}): {message}")


def _rows(listing: Any) -> list[dict[str, Any]]:
    rows = listing.get("data") if isinstance(listing, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


async def invoice_payments(session: AsyncSession, stripe_invoice: dict[str, Any]) -> list[dict[str, Any]]:
    """A Stripe invoice's InvoicePayment objects: its expanded `payments` when complete, else the list
    call, page by page."""
    payments = stripe_invoice.get("payments")
    if isinstance(payments, dict) and not payments.get("has_more") and _rows(payments):
        return _rows(payments)
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"invoice": stripe_invoice.get("id"), "limit": 100}
    while True:
        page = await _api(session, "GET", "/v1/invoice_payments", params=params)
        rows = _rows(page)
        found += rows
        if not page.get("has_more") or not rows:
            return found
        params["starting_after"] = rows[-1].get("id")


# --- reading an event: the money and the hints of its invoice ------------------------------------


@dataclass
class Money:
    """One payment as Stripe reports it, and what may name its CRM invoice."""

    external_ref: str  # the PaymentIntent's id (or a charge's / invoice's when there is none)
    minor: Any
    currency: str
    paid_on: date
    reference: str | None
    what: str
    number: str | None = None  # an explicit metadata.invoice_number
    hints: list[str] = field(default_factory=list)  # texts that may hold a CRM invoice number
    customer: str | None = None


def _intent_money(event: dict[str, Any], intent: dict[str, Any]) -> Money:
    intent_id = _id(intent.get("id"))
    if intent_id is None:
        raise NeedsAttention("The payment intent has no id.")
    return Money(
        external_ref=intent_id,
        minor=intent.get("amount_received"),
        currency=_currency(intent),
        paid_on=_day(event),
        reference=_id(intent.get("latest_charge")),
        what=f"Payment intent {intent_id}",
        number=_invoice_number(intent),
        hints=[str(intent.get("description") or "")],
        customer=_id(intent.get("customer")),
    )


def _invoice_hints(stripe_invoice: dict[str, Any]) -> tuple[str | None, list[str]]:
    number = _invoice_number(stripe_invoice)
    return number, [str(stripe_invoice.get(k) or "") for k in ("number", "description")]


async def _invoice_money(session: AsyncSession, event: dict[str, Any], stripe_invoice: dict[str, Any]) -> list[Money]:
    """Each payment of a paid Stripe invoice, keyed by its PaymentIntent in either API shape."""
    invoice_id = _id(stripe_invoice.get("id"))
    if invoice_id is None:
        raise NeedsAttention("The Stripe invoice has no id.")
    currency = _currency(stripe_invoice)
    number, hints = _invoice_hints(stripe_invoice)
    label = stripe_invoice.get("number") or invoice_id
    transitions = stripe_invoice.get("status_transitions")
    paid_at = transitions.get("paid_at") if isinstance(transitions, dict) else None
    customer = _id(stripe_invoice.get("customer"))

    def paid(external_ref: str, minor: Any, paid_on: date, what: str) -> Money:
        return Money(
            external_ref=external_ref,
            minor=minor,
            paid_on=paid_on,
            what=what,
            currency=currency,
            number=number,
            hints=hints,
            customer=customer,
            reference=f"Stripe invoice {label}",
        )

    intent = _id(stripe_invoice.get("payment_intent"))
    expanded = isinstance(stripe_invoice.get("payments"), dict)
    if not expanded and "payment_intent" in stripe_invoice:
        # Before 2025-03-31: one payment intent (none: paid by balance or out of band, keyed by the invoice).
        return [
            paid(
                external_ref=intent or invoice_id,
                minor=stripe_invoice.get("amount_paid"),
                paid_on=_day(event, paid_at),
                what=f"Stripe invoice {invoice_id}",
            )
        ]
    found = []
    for row in await invoice_payments(session, stripe_invoice):
        if row.get("status") != "paid":
            continue
        given = row.get("payment")
        payment = given if isinstance(given, dict) else {}
        ref = (
            _id(payment.get("payment_intent"))
            or _id(payment.get("charge"))
            or _id(payment.get("payment_record"))
            or _id(row.get("payment_intent"))
            or _id(row.get("charge"))
            or _id(row.get("id"))
            or invoice_id
        )
        row_transitions = row.get("status_transitions")
        row_paid = row_transitions.get("paid_at") if isinstance(row_transitions, dict) else None
        found.append(
            paid(
                external_ref=ref,
                minor=row.get("amount_paid"),
                paid_on=_day(event, row_paid or paid_at),
                what=f"Stripe invoice {invoice_id} ({ref})",
            )
        )
    if not found:
        raise NeedsAttention(f"Stripe invoice {invoice_id} is paid but Stripe lists no paid payment for it.")
    return found


async def _stripe_invoice_of(session: AsyncSession, intent: dict[str, Any]) -> dict[str, Any] | None:
    """The Stripe invoice a payment intent paid, if any and if the API may be asked."""
    if not await settings.get(session, "stripe.secret_key"):
        return None
    invoice_id = _id(intent.get("invoice")) or await _stripe_invoice_id_of(session, intent.get("id"))
    if invoice_id is None:
        return None
    return await _api(session, "GET", f"/v1/invoices/{invoice_id}")


async def _stripe_invoice_id_of(session: AsyncSession, intent_id: Any) -> str | None:
    """Since 2025-03-31 only Stripe's InvoicePayments say which Stripe invoice a payment intent paid."""
    listing = await _api(
        session,
        "GET",
        "/v1/invoice_payments",
        params={"payment": {"type": "payment_intent", "payment_intent": intent_id}, "limit": 1},
    )
    rows = _rows(listing)
    return _id(rows[0].get("invoice")) if rows else None


# --- finding the invoice and recording -----------------------------------------------------------


async def _by_hints(session: AsyncSession, hints: list[str]) -> Invoice | None:
    """The one CRM invoice whose number appears in these texts (a Stripe invoice's number or
    description when the CRM's numbering is used there)."""
    tokens = {t for text in hints for t in NUMBER_TOKEN.findall(text or "")}
    if not tokens:
        return None
    found = (
        await session.scalars(select(Invoice).where(Invoice.number.in_(tokens), Invoice.kind == "invoice").limit(2))
    ).all()
    return found[0] if len(found) == 1 else None


async def _by_customer(session: AsyncSession, money_in: Money) -> tuple[Invoice | None, str | None]:
    """The invoice of a remembered Stripe customer: their client's one open invoice in the currency,
    or the one whose open amount is exactly the payment's; else why not (None: unknown customer)."""
    if money_in.customer is None:
        return None, None
    client_id = await session.scalar(
        select(StripeCustomer.client_id).where(StripeCustomer.customer_id == money_in.customer)
    )
    if client_id is None:
        return None, None
    name = await session.scalar(select(Client.name).where(Client.id == client_id))
    open_ = (
        await session.scalars(
            select(Invoice)
            .where(
                Invoice.client_id == client_id,
                Invoice.kind == "invoice",
                Invoice.currency == money_in.currency,
                Invoice.status.in_([s.value for s in OPEN_STATUSES]),
            )
            .order_by(Invoice.id)
        )
    ).all()
    if len(open_) == 1:
        return open_[0], None
    if not open_:
        return None, (
            f"Stripe customer {money_in.customer} is client {name}, who has no open {money_in.currency} invoice."
        )
    paid = amount(money_in.minor, money_in.currency)
    exact = [i for i in open_ if i.gross_total - i.paid_total == paid]
    if len(exact) == 1:
        return exact[0], None
    numbers = ", ".join(str(i.number) for i in open_[:10])
    return None, (
        f"Stripe customer {money_in.customer} is client {name}, who has {len(open_)} open "
        f"{money_in.currency} invoices ({numbers}); the payment does not say which."
    )


async def remember_customer(session: AsyncSession, customer: str | None, client_id: int) -> None:
    """Remember that this Stripe customer is this client (the first client it was matched to stays)."""
    if customer:
        await session.execute(
            insert(StripeCustomer)
            .values(customer_id=customer[:255], client_id=client_id)
            .on_conflict_do_nothing(index_elements=[StripeCustomer.customer_id])
        )


async def _find(session: AsyncSession, money_in: Money) -> Invoice:
    if money_in.number is not None:
        invoice = await invoices.invoice_by_number(session, money_in.number, lock=True)
        if invoice is None or invoice.kind != "invoice":
            raise NeedsAttention(
                f"No invoice {money_in.number} in the CRM ({money_in.what}). Correct the number in "
                "Stripe's metadata or issue the invoice, then replay; or use Match to invoice…."
            )
        return invoice
    invoice = await _by_hints(session, money_in.hints)
    why = None
    if invoice is None:
        invoice, why = await _by_customer(session, money_in)
    if invoice is None:
        paid = amount(money_in.minor, money_in.currency)
        raise NeedsAttention(
            why
            or (
                f"{money_in.what} of {paid} {money_in.currency} names no CRM invoice (no metadata.invoice_number, no "
                "CRM invoice number in its Stripe invoice, no known Stripe customer): nothing recorded. Pick the "
                "invoice with Match to invoice…."
            )
        )
    locked = await invoices.invoice_by_number(session, str(invoice.number), lock=True)
    assert locked is not None
    return locked


async def _record(
    session: AsyncSession, money_in: Money, invoice: Invoice | None = None, actor_id: int | None = None
) -> str:
    """Record the money once, on `invoice` (a person's choice) or the one the event names."""
    if invoice is None and money_in.number is not None:  # an explicit number must be a CRM invoice
        invoice = await _find(session, money_in)
    existing = await invoices.payment_by_external_ref(session, METHOD, money_in.external_ref)
    if existing is not None:
        if invoice is not None and existing.invoice_id != invoice.id:
            raise NeedsAttention(f"{money_in.external_ref} is recorded on another invoice than {invoice.number}.")
        return f"Payment {money_in.external_ref} is recorded already (payment #{existing.id}); nothing changed."
    paid = amount(money_in.minor, money_in.currency)
    if paid <= 0:
        return f"{money_in.what} has no money received: nothing recorded."
    if invoice is None:
        invoice = await _find(session, money_in)
    number = invoice.number
    if money_in.currency != invoice.currency:
        raise NeedsAttention(f"{money_in.what} is in {money_in.currency}, invoice {number} in {invoice.currency}.")
    try:
        payment = await invoices.receive_payment(
            session,
            actor_id,
            invoice,
            PaymentIn(amount=paid, paid_on=money_in.paid_on, method=PaymentMethod.stripe, reference=money_in.reference),
            external_ref=money_in.external_ref,
        )
    except (ValidationFailed, Conflict) as exc:  # more than is open, not an open invoice...
        raise NeedsAttention(f"Invoice {number}: {exc.message}") from None
    except ValidationError as exc:  # an amount no invoice can hold
        raise NeedsAttention(f"Invoice {number}: the amount {paid} {money_in.currency} is not valid ({exc}).") from None
    await remember_customer(session, money_in.customer, invoice.client_id)
    return f"Recorded payment #{payment.id} of {paid} {money_in.currency} on {number} ({money_in.external_ref})."


async def _intent_moneys(session: AsyncSession, event: dict[str, Any]) -> list[Money]:
    intent = _object(event)
    found = _intent_money(event, intent)
    if found.number is None and await invoices.payment_by_external_ref(session, METHOD, found.external_ref) is None:
        stripe_invoice = await _stripe_invoice_of(session, intent)
        if stripe_invoice is not None:  # the money of a Stripe invoice: its hints name the CRM invoice
            found.number, found.hints = _invoice_hints(stripe_invoice)
            found.hints.append(str(intent.get("description") or ""))
            found.customer = found.customer or _id(stripe_invoice.get("customer"))
            found.reference = found.reference or f"Stripe invoice {stripe_invoice.get('number') or ''}".strip()
    return [found]


async def payment_intent_succeeded(session: AsyncSession, event: dict[str, Any]) -> str:
    return " ".join([await _record(session, m) for m in await _intent_moneys(session, event)])


async def invoice_paid(session: AsyncSession, event: dict[str, Any]) -> str:
    moneys = await _invoice_money(session, event, _object(event))
    return " ".join([await _record(session, m) for m in moneys])


async def match(session: AsyncSession, actor_id: int, event_type: str, event: dict[str, Any], invoice: Invoice) -> str:
    """Record a waiting payment event's money on the invoice a person picked (and remember its Stripe
    customer on the invoice's client). NeedsAttention says why it cannot be."""
    if event_type == "payment_intent.succeeded":
        moneys = [_intent_money(event, _object(event))]
    elif event_type == "invoice.paid":
        moneys = await _invoice_money(session, event, _object(event))
    else:
        raise NeedsAttention(f"A {event_type} event carries no payment to match to an invoice.")
    outcomes = [await _record(session, m, invoice, actor_id) for m in moneys]
    for m in moneys:
        await remember_customer(session, m.customer, invoice.client_id)
    return " ".join(outcomes)


async def charge_refunded(session: AsyncSession, event: dict[str, Any]) -> str:
    """Bring the payment's refunded total up to the charge's cumulative amount_refunded."""
    charge = _object(event)
    charge_id = _id(charge.get("id")) or "charge"
    intent_id = _id(charge.get("payment_intent"))
    number = _invoice_number(charge)
    payment = await invoices.payment_by_external_ref(session, METHOD, intent_id) if intent_id else None
    if payment is None:
        if number is None:
            waiting = await _unrecorded_payment_event(session, intent_id, _id(charge.get("invoice")))
            if waiting is None:
                return f"Charge {charge_id} is not a payment recorded in the CRM: nothing to reverse."
            if waiting.status == "needs_attention":
                raise NeedsAttention(
                    f"Refund of charge {charge_id}: its payment (event #{waiting.id}, "
                    f"{waiting.event_type}) waits to be matched to an invoice: match that event "
                    "first, then replay this one."
                )
            # Its payment's event is not worked on yet (or is being retried): transient, retried.
            raise LookupError(
                f"The payment of charge {charge_id} ({waiting.event_type} event #{waiting.id}) is not recorded yet."
            )
        invoice = await invoices.invoice_by_number(session, number)
        if invoice is None:
            raise NeedsAttention(f"No invoice {number} in the CRM (refund of charge {charge_id}).")
        # The payment's own event may simply not have been worked on yet: transient, retried.
        raise LookupError(f"No Stripe payment {intent_id or charge_id} is recorded on {number} yet.")
    invoice, payment = await invoices.locked_payment(session, None, payment.id)
    currency = _currency(charge)
    if currency != invoice.currency:
        raise NeedsAttention(
            f"Refund of charge {charge_id} is in {currency}, invoice {invoice.number} in {invoice.currency}."
        )
    refunded = amount(charge.get("amount_refunded"), currency)
    if refunded > payment.amount:
        raise NeedsAttention(
            f"Charge {charge_id} has {refunded} {currency} refunded, more than the "
            f"{payment.amount} {currency} recorded as payment #{payment.id}."
        )
    delta = refunded - payment.refunded_total
    if delta <= 0:
        return (
            f"Refunds of {payment.refunded_total} {currency} on payment #{payment.id} are recorded already; "
            "nothing changed."
        )
    try:
        await invoices.refund_payment(
            session,
            None,
            payment.id,
            RefundIn(amount=delta, reason="Refunded in Stripe", refunded_on=_day(event), reference=charge_id),
        )
    except (ValidationFailed, Conflict) as exc:
        raise NeedsAttention(f"Invoice {invoice.number}: {exc.message}") from None
    except ValidationError as exc:
        raise NeedsAttention(f"Invoice {invoice.number}: the refund {delta} {currency} is not valid ({exc}).") from None
    return (
        f"Recorded a refund of {delta} {currency} on payment #{payment.id} of {invoice.number} "
        f"({refunded} {currency} refunded in all)."
    )


async def _unrecorded_payment_event(
    session: AsyncSession, intent_id: str | None, stripe_invoice: str | None
) -> InboxEvent | None:
    """The inbox event of a payment that is not recorded because it waits (for a person, or for its
    job): a payment_intent.succeeded of the intent, or an invoice.paid of the Stripe invoice it paid.
    One waiting for a person comes first."""
    if intent_id is None:
        return None
    unsettled = (
        InboxEvent.provider == "stripe",
        InboxEvent.event_type.in_(MATCHABLE),
        InboxEvent.status.in_(("pending", "failed", "needs_attention")),
    )
    shapes: list[dict[str, Any]] = [
        {"data": {"object": {"id": intent_id}}},  # payment_intent.succeeded
        {"data": {"object": {"payment_intent": intent_id}}},  # invoice.paid before 2025-03-31
        {"data": {"object": {"payments": {"data": [{"payment": {"payment_intent": intent_id}}]}}}},  # expanded
    ]
    if (
        stripe_invoice is None
        and await settings.get(session, "stripe.secret_key")
        and await session.scalar(
            select(InboxEvent.id).where(*unsettled, InboxEvent.event_type == "invoice.paid").limit(1)
        )
    ):
        stripe_invoice = await _stripe_invoice_id_of(session, intent_id)  # a later invoice.paid names no intent
    if stripe_invoice is not None:
        shapes.append({"data": {"object": {"id": stripe_invoice}}})
    found = (
        await session.scalars(
            select(InboxEvent)
            .where(*unsettled, or_(*(InboxEvent.payload.contains(shape) for shape in shapes)))
            .order_by(InboxEvent.id)
        )
    ).all()
    return next((e for e in found if e.status == "needs_attention"), found[0] if found else None)


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": payment_intent_succeeded,
    "invoice.paid": invoice_paid,
    "charge.refunded": charge_refunded,
}


# --- "Pay online": a Checkout Session per invoice ------------------------------------------------


def minor_units(value: Decimal, currency: str) -> int:
    """The inverse of `amount`: 119.00 EUR -> 11900, 500 JPY -> 500, 500 ISK -> 50000."""
    code = currency.upper()
    exponent = 0 if code in ZERO_DECIMAL else 2 if code in TWO_DECIMAL else money.minor_unit(code)
    return int(value.scaleb(exponent).to_integral_value())


def _out(row: StripeCheckout, reused: bool) -> PayOnlineOut:
    return PayOnlineOut(
        invoice_id=row.invoice_id,
        url=row.url,
        session_id=row.session_id,
        amount=row.amount,
        currency=row.currency,
        expires_at=row.expires_at,
        reused=reused,
    )


async def live_checkout(session: AsyncSession, invoice: Invoice) -> StripeCheckout | None:
    """The invoice's latest Checkout Session if it asks what is open now and has time left (what the
    invoice e-mail links to); its state in Stripe is not asked."""
    row = (
        await session.scalars(
            select(StripeCheckout)
            .where(StripeCheckout.invoice_id == invoice.id)
            .order_by(StripeCheckout.id.desc())
            .limit(1)
        )
    ).first()
    if row is None or row.currency != invoice.currency or row.amount != invoice.gross_total - invoice.paid_total:
        return None
    return row if row.expires_at > utcnow() + CHECKOUT_REUSE_MARGIN else None


async def checkout_link(session: AsyncSession, actor: Principal, invoice_id: int) -> PayOnlineOut:
    """The invoice's "Pay online" link: its open Checkout Session for the open amount, else a new one
    whose session and PaymentIntent metadata carry the invoice number (so the payment always matches)."""
    invoice = await invoices.visible_invoice(session, actor, invoice_id, lock=True)
    if invoice.kind != "invoice" or invoice.status not in [s.value for s in OPEN_STATUSES]:
        raise Conflict(
            f"Only an issued invoice with money open can be paid online (this one is {invoice.status}).",
            code="not_payable",
        )
    try:
        existing = await live_checkout(session, invoice)
        if existing is not None:
            current = await _api(session, "GET", f"/v1/checkout/sessions/{existing.session_id}")
            if current.get("status") == "open":
                return _out(existing, True)
        return _out(await _new_checkout(session, actor, invoice), False)
    except NeedsAttention as exc:
        raise Conflict(exc.reason, code="stripe_refused") from None
    except StripeUnavailable as exc:
        raise Conflict(f"{exc} Try again in a moment.", code="stripe_unavailable") from None


async def _new_checkout(session: AsyncSession, actor: Principal, invoice: Invoice) -> StripeCheckout:
    number = str(invoice.number)
    open_amount = invoice.gross_total - invoice.paid_total
    client = await session.get(Client, invoice.client_id)
    customer = await session.scalar(
        select(StripeCustomer.customer_id)
        .where(StripeCustomer.client_id == invoice.client_id)
        .order_by(StripeCustomer.created_at.desc())
        .limit(1)
    )
    company = str(await settings.get(session, "company.name") or "")
    metadata = {"invoice_number": number, "crm_invoice_id": str(invoice.id)}
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": invoice.currency.lower(),
                    "unit_amount": minor_units(open_amount, invoice.currency),
                    "product_data": {"name": f"Invoice {number}" + (f" from {company}" if company else "")},
                },
            }
        ],
        "client_reference_id": number,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": f"Invoice {number}"},
        "success_url": str(await settings.get(session, "stripe.success_url") or "") or None,
    }
    email = client.email if client is not None else None
    if customer:
        params["customer"] = customer
    elif email:
        params["customer_email"] = email
    made = await _api(session, "POST", "/v1/checkout/sessions", data=params, idempotency_key=str(uuid.uuid4()))
    session_id, url, expires = made.get("id"), made.get("url"), made.get("expires_at")
    if not isinstance(session_id, str) or not isinstance(url, str) or not isinstance(expires, int):
        raise NeedsAttention("Stripe's answer has no Checkout Session id, url or expires_at.")
    row = StripeCheckout(
        invoice_id=invoice.id,
        session_id=session_id,
        url=url,
        amount=open_amount,
        currency=invoice.currency,
        expires_at=datetime.fromtimestamp(expires, UTC),
        created_by=actor.user_id,
    )
    session.add(row)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="invoice",
        entity_id=invoice.id,
        action="payment_link",
        changes=[
            {"field": "checkout_session", "old": None, "new": session_id},
            {"field": "amount", "old": None, "new": str(open_amount)},
        ],
    )
    return row

"""Stripe: the webhook endpoint's signature (Stripe-Signature, checked as stripe-python's
WebhookSignature.verify_header does), one event per request, and the handlers that record or reverse
a payment on the CRM invoice named in the object's metadata (`invoice_number`).

The money is keyed by its payment intent id (Payment.external_ref, unique per method), so
payment_intent.succeeded and invoice.paid for the same money, or any retry of either, record one
payment. charge.refunded carries the charge's cumulative `amount_refunded`: the handler records only
what is not yet refunded on the payment, so a retry (or a refund a person already recorded) adds
nothing. An unknown invoice, another currency or more than is open waits in the inbox for a person."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import money
from crm_server.admin import settings
from crm_server.contract.invoices import PaymentIn, PaymentMethod, RefundIn
from crm_server.errors import Conflict, ValidationFailed
from crm_server.integrations.providers import BadSignature, Handler, Incoming, Malformed, NeedsAttention, header
from crm_server.invoices import service as invoices

SETTINGS = ("stripe.endpoint_secret",)
REQUIRED = ("stripe.endpoint_secret",)
SIGNATURE_HEADER = "stripe-signature"
SCHEME = "v1"
TOLERANCE_SECONDS = 300  # stripe-python's DEFAULT_TOLERANCE
METHOD = PaymentMethod.stripe.value
# Events an endpoint commonly also receives: acknowledged, not acted on. invoice.payment_succeeded
# is invoice.paid's twin; refund.* details are covered by charge.refunded's cumulative amount.
IGNORED = frozenset({
    "payment_intent.created", "payment_intent.processing", "payment_intent.requires_action",
    "payment_intent.payment_failed", "payment_intent.canceled", "payment_intent.amount_capturable_updated",
    "charge.succeeded", "charge.captured", "charge.updated", "charge.failed", "charge.pending",
    "charge.refund.updated", "refund.created", "refund.updated", "refund.failed",
    "invoice.created", "invoice.finalized", "invoice.updated", "invoice.sent", "invoice.upcoming",
    "invoice.payment_succeeded", "invoice.payment_failed", "invoice.payment_action_required",
    "invoice.voided", "invoice.marked_uncollectible", "customer.created", "customer.updated",
    "checkout.session.completed", "checkout.session.expired",
})
TEST_EVENT_TYPE = "payment_intent.created"
# Stripe's amounts are in its minor units, which are ISO 4217's (money.minor_unit) except for these.
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                          "VUV", "XAF", "XOF", "XPF"})
TWO_DECIMAL = frozenset({"ISK"})  # zero-decimal in use, still "100 = 1 ISK" in Stripe's API


# --- the door ------------------------------------------------------------------------------------

def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "{t}.{body}" with the endpoint secret (whsec_... used as it is)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The Stripe-Signature value Stripe sends for `body` (also signs test requests)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},{SCHEME}={signature(secret, t, body)}"


def check_signature(header: str | None, body: bytes, secret: str, *, tolerance: int = TOLERANCE_SECONDS,
                    now: float | None = None) -> None:
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
    event = {"id": f"evt_test_{secrets.token_hex(12)}", "object": "event", "api_version": "2024-06-20",
             "created": int(time.time()), "livemode": False, "pending_webhooks": 1, "type": TEST_EVENT_TYPE,
             "request": {"id": None, "idempotency_key": None},
             "data": {"object": {"id": f"pi_test_{secrets.token_hex(12)}", "object": "payment_intent",
                                 "amount": 100, "amount_received": 0, "currency": "eur",
                                 "status": "requires_payment_method", "metadata": {"crm_test": "true"}}}}
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


# --- recording -----------------------------------------------------------------------------------

async def _record(session: AsyncSession, *, number: str | None, external_ref: str, minor: Any, currency: str,
                  paid_on: date, reference: str | None, what: str) -> str:
    """Record the money once on invoice `number` (see the module's docstring)."""
    if number is None:
        return f"{what} names no CRM invoice (no metadata.invoice_number): nothing recorded."
    invoice = await invoices.invoice_by_number(session, number, lock=True)
    if invoice is None or invoice.kind != "invoice":
        raise NeedsAttention(f"No invoice {number} in the CRM ({what}). Correct the number in Stripe's metadata "
                             "or issue the invoice, then replay.")
    existing = await invoices.payment_by_external_ref(session, METHOD, external_ref)
    if existing is not None:
        if existing.invoice_id != invoice.id:
            raise NeedsAttention(f"{external_ref} is recorded on another invoice than {number}.")
        return f"Payment {external_ref} is recorded on {number} already (payment #{existing.id}); nothing changed."
    if currency != invoice.currency:
        raise NeedsAttention(f"{what} is in {currency}, invoice {number} in {invoice.currency}.")
    paid = amount(minor, currency)
    if paid <= 0:
        return f"{what} has no money received: nothing recorded."
    try:
        payment = await invoices.receive_payment(
            session, None, invoice, PaymentIn(amount=paid, paid_on=paid_on, method=PaymentMethod.stripe,
                                              reference=reference), external_ref=external_ref)
    except (ValidationFailed, Conflict) as exc:  # more than is open, not an open invoice...
        raise NeedsAttention(f"Invoice {number}: {exc.message}") from None
    except ValidationError as exc:  # an amount no invoice can hold
        raise NeedsAttention(f"Invoice {number}: the amount {paid} {currency} is not valid ({exc}).") from None
    return f"Recorded payment #{payment.id} of {paid} {currency} on {number} ({external_ref})."


async def payment_intent_succeeded(session: AsyncSession, event: dict[str, Any]) -> str:
    intent = _object(event)
    intent_id = _id(intent.get("id"))
    if intent_id is None:
        raise NeedsAttention("The payment intent has no id.")
    return await _record(session, number=_invoice_number(intent), external_ref=intent_id,
                         minor=intent.get("amount_received"), currency=_currency(intent),
                         paid_on=_day(event), reference=_id(intent.get("latest_charge")),
                         what=f"Payment intent {intent_id}")


async def invoice_paid(session: AsyncSession, event: dict[str, Any]) -> str:
    stripe_invoice = _object(event)
    invoice_id = _id(stripe_invoice.get("id"))
    if invoice_id is None:
        raise NeedsAttention("The Stripe invoice has no id.")
    number = stripe_invoice.get("number")
    transitions = stripe_invoice.get("status_transitions")
    paid_at = transitions.get("paid_at") if isinstance(transitions, dict) else None
    return await _record(session, number=_invoice_number(stripe_invoice),
                         external_ref=_stripe_invoice_intent(stripe_invoice) or invoice_id,
                         minor=stripe_invoice.get("amount_paid"), currency=_currency(stripe_invoice),
                         paid_on=_day(event, paid_at),
                         reference=f"Stripe invoice {number or invoice_id}", what=f"Stripe invoice {invoice_id}")


async def charge_refunded(session: AsyncSession, event: dict[str, Any]) -> str:
    """Bring the payment's refunded total up to the charge's cumulative amount_refunded."""
    charge = _object(event)
    charge_id = _id(charge.get("id")) or "charge"
    intent_id = _id(charge.get("payment_intent"))
    number = _invoice_number(charge)
    payment = await invoices.payment_by_external_ref(session, METHOD, intent_id) if intent_id else None
    if payment is None:
        if number is None:
            return f"Charge {charge_id} is not a payment recorded in the CRM: nothing to reverse."
        invoice = await invoices.invoice_by_number(session, number)
        if invoice is None:
            raise NeedsAttention(f"No invoice {number} in the CRM (refund of charge {charge_id}).")
        # The payment's own event may simply not have been worked on yet: transient, retried.
        raise LookupError(f"No Stripe payment {intent_id or charge_id} is recorded on {number} yet.")
    invoice, payment = await invoices.locked_payment(session, None, payment.id)
    currency = _currency(charge)
    if currency != invoice.currency:
        raise NeedsAttention(f"Refund of charge {charge_id} is in {currency}, invoice {invoice.number} in "
                             f"{invoice.currency}.")
    refunded = amount(charge.get("amount_refunded"), currency)
    if refunded > payment.amount:
        raise NeedsAttention(f"Charge {charge_id} has {refunded} {currency} refunded, more than the "
                             f"{payment.amount} {currency} recorded as payment #{payment.id}.")
    delta = refunded - payment.refunded_total
    if delta <= 0:
        return (f"Refunds of {payment.refunded_total} {currency} on payment #{payment.id} are recorded already; "
                "nothing changed.")
    try:
        await invoices.refund_payment(session, None, payment.id, RefundIn(
            amount=delta, reason="Refunded in Stripe", refunded_on=_day(event), reference=charge_id))
    except (ValidationFailed, Conflict) as exc:
        raise NeedsAttention(f"Invoice {invoice.number}: {exc.message}") from None
    except ValidationError as exc:
        raise NeedsAttention(f"Invoice {invoice.number}: the refund {delta} {currency} is not valid ({exc}).") from None
    return (f"Recorded a refund of {delta} {currency} on payment #{payment.id} of {invoice.number} "
            f"({refunded} {currency} refunded in all).")


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": payment_intent_succeeded,
    "invoice.paid": invoice_paid,
    "charge.refunded": charge_refunded,
}

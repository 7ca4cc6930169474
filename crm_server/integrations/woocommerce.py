"""WooCommerce: the store's webhooks (X-WC-Webhook-Signature, the creation ping, one event per order
state) and its REST API (the reconciliation that fills gaps, the connection check).

An order's event id is its id and its date_modified_gmt, so the same state of an order is the same
event whether a webhook or the reconciliation brought it, and a newer state is a new event. The
handler turns the store's order into a sales order (orders.service.apply_store_order)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.contract.orders import OrderStatus
from crm_server.integrations.providers import BadSignature, Handler, Incoming, Malformed, NeedsAttention, header
from crm_server.orders import service as orders
from crm_server.orders.matching import StoreCustomer, StoreLine

PROVIDER = "woocommerce"
SETTINGS = (
    "woocommerce.store_url",
    "woocommerce.consumer_key",
    "woocommerce.consumer_secret",
    "woocommerce.webhook_secret",
    "woocommerce.reconcile_hours",
)
REQUIRED = (
    "woocommerce.store_url",
    "woocommerce.consumer_key",
    "woocommerce.consumer_secret",
    "woocommerce.webhook_secret",
)
SIGNATURE_HEADER = "x-wc-webhook-signature"
TOPIC_HEADER = "x-wc-webhook-topic"
ORDER_TOPICS = ("order.created", "order.updated")
TEST_TOPIC = "action.crm_test"  # what "Send test event" sends: acknowledged, changes nothing
IGNORED = frozenset(
    {
        TEST_TOPIC,
        "order.deleted",
        "order.restored",
        "product.created",
        "product.updated",
        "product.deleted",
        "product.restored",
        "customer.created",
        "customer.updated",
        "customer.deleted",
        "coupon.created",
        "coupon.updated",
        "coupon.deleted",
        "coupon.restored",
    }
)
STATUSES = {
    "pending": OrderStatus.pending,
    "pending-payment": OrderStatus.pending,
    "processing": OrderStatus.processing,
    "on-hold": OrderStatus.on_hold,
    "completed": OrderStatus.completed,
    "cancelled": OrderStatus.cancelled,
    "refunded": OrderStatus.refunded,
    "failed": OrderStatus.failed,
}
API = "/wp-json/wc/v3"
PAGE_SIZE = 100
TIMEOUT = httpx.Timeout(15.0)
_PING = re.compile(rb"^webhook_id=\d+$")


def signature(secret: str, body: bytes) -> str:
    """The X-WC-Webhook-Signature WooCommerce sends: base64 of HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# wp_specialchars_decode($secret, ENT_QUOTES) in WordPress: numeric entities lose their zero padding,
# then one strtr pass over this table (so "&amp;amp;" becomes "&amp;", once, as in PHP).
_WP_PADDING = (
    (re.compile(r"&#0*39;"), "&#039;"),
    (re.compile(r"&#x0*27;", re.IGNORECASE), "&#x27;"),
    (re.compile(r"&#0*34;"), "&#034;"),
    (re.compile(r"&#x0*22;", re.IGNORECASE), "&#x22;"),
    (re.compile(r"&#0*60;"), "&#060;"),
    (re.compile(r"&#0*62;"), "&#062;"),
    (re.compile(r"&#0*38;"), "&#038;"),
    (re.compile(r"&#x0*26;", re.IGNORECASE), "&#x26;"),
)
_WP_ENTITIES = {
    "&#039;": "'",
    "&#x27;": "'",
    "&quot;": '"',
    "&#034;": '"',
    "&#x22;": '"',
    "&lt;": "<",
    "&#060;": "<",
    "&gt;": ">",
    "&#062;": ">",
    "&amp;": "&",
    "&#038;": "&",
    "&#x26;": "&",
}
_WP_TABLE = re.compile("|".join(re.escape(k) for k in sorted(_WP_ENTITIES, key=len, reverse=True)))


def wp_specialchars_decode(text: str) -> str:
    """WordPress's wp_specialchars_decode(text, ENT_QUOTES): what WC_Webhook::generate_signature
    does to the stored secret before signing. WordPress stores a secret typed with & < > " ' in its
    escaped form (sanitize_text_field turns a stray "<…&" into "&lt;…&amp;"), so the key WooCommerce
    signs with is this decoding of the stored text."""
    if "&" not in text:
        return text
    for pattern, padded in _WP_PADDING:
        text = pattern.sub(padded, text)
    return _WP_TABLE.sub(lambda m: _WP_ENTITIES[m.group(0)], text)


def signing_keys(secret: str) -> list[str]:
    """The keys a delivery may be signed with: WooCommerce's decoding of the secret as pasted (the
    stored form, "a&amp;b", signs as "a&b"), and the secret exactly as pasted (a store whose secret
    really is "a&amp;b" keeps it as "a&amp;amp;b" and signs with "a&amp;b")."""
    return list(dict.fromkeys((wp_specialchars_decode(secret), secret)))


def is_ping(body: bytes) -> bool:
    """The request WooCommerce sends once when a webhook is saved (form-encoded, unsigned)."""
    return bool(_PING.match(body.strip()))


async def verify(session: AsyncSession, headers: Mapping[str, str], body: bytes) -> None:
    if is_ping(body):
        return  # unsigned by WooCommerce; it carries nothing and stores nothing
    secret = str(await settings.get(session, "woocommerce.webhook_secret") or "")
    if not secret:
        raise BadSignature("The WooCommerce webhook secret is not set.")
    given = (header(headers, SIGNATURE_HEADER) or "").strip()
    if not given:
        raise BadSignature("Missing X-WC-Webhook-Signature.")
    # Every key is compared (no early exit), so the time taken does not tell which one came close.
    matches = [hmac.compare_digest(given.encode(), signature(key, body).encode()) for key in signing_keys(secret)]
    if not any(matches):
        raise BadSignature("X-WC-Webhook-Signature does not match the body.")


# --- events --------------------------------------------------------------------------------------


def _gmt(value: Any) -> datetime:
    """date_modified_gmt ("2026-11-27T20:15:00", UTC without an offset) as an aware datetime."""
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def order_event(order: Any, topic: str = "order.updated") -> Incoming:
    """One state of one order as an inbox event (from a webhook or from the REST API)."""
    if not isinstance(order, dict) or not isinstance(order.get("id"), int) or not order.get("date_modified_gmt"):
        raise Malformed("Not a WooCommerce order (an id and date_modified_gmt are needed).")
    try:
        modified = _gmt(order["date_modified_gmt"])
    except ValueError:
        raise Malformed(f"date_modified_gmt {order['date_modified_gmt']!r} is not a date.") from None
    return Incoming(event_id=f"order:{order['id']}:{modified:%Y-%m-%dT%H:%M:%S}", event_type=topic, payload=order)


def events(headers: Mapping[str, str], body: bytes) -> list[Incoming]:
    if is_ping(body):
        return []
    topic = (header(headers, TOPIC_HEADER) or "").strip()
    if not topic:
        raise Malformed("Missing X-WC-Webhook-Topic.")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Malformed("The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise Malformed("The body is not a JSON object.")
    if topic in ORDER_TOPICS:
        return [order_event(payload, topic)]
    delivery = (header(headers, "x-wc-webhook-delivery-id") or "").strip() or hashlib.sha256(body).hexdigest()
    return [Incoming(event_id=f"{topic}:{delivery}", event_type=topic, payload=payload)]


def test_request(values: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """A signed action event, as WooCommerce sends an "Action" webhook: acknowledged, changes nothing."""
    delivery = uuid.uuid4().hex
    body = json.dumps({"action": TEST_TOPIC.removeprefix("action."), "arg": delivery}).encode()
    secret = str(values.get("woocommerce.webhook_secret") or "")
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": str(values.get("woocommerce.store_url") or ""),
        "X-WC-Webhook-Topic": TEST_TOPIC,
        "X-WC-Webhook-Resource": "action",
        "X-WC-Webhook-Event": TEST_TOPIC.removeprefix("action."),
        "X-WC-Webhook-ID": "0",
        "X-WC-Webhook-Delivery-ID": delivery,
        "X-WC-Webhook-Signature": signature(signing_keys(secret)[0], body),
    }, body


# --- the handler ---------------------------------------------------------------------------------


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise Malformed(f"{value!r} is not an amount.") from None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text(value: Any) -> str:
    """Store text as a person reads it: WooCommerce keeps names HTML-escaped ("Hoodie &ndash; Blue",
    "Fish &amp; Chips"), so entities are decoded; control characters (NUL too) are dropped."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    return _CONTROL.sub("", html.unescape(str(value))).strip()


def _line(item: dict[str, Any]) -> StoreLine:
    quantity = Decimal(str(item.get("quantity") or 0))
    total = _money(item.get("total"))
    price = item.get("price")
    unit = (
        _money(price)
        if price not in (None, "")
        else (total / quantity if quantity else total).quantize(Decimal("0.01"))
    )
    return StoreLine(
        sku=_text(item.get("sku")) or None,
        name=_text(item.get("name")),
        quantity=quantity,
        unit_price=unit,
        line_total=total,
    )


def _country_name(code: str) -> str:
    """ "US" -> "United States" (phonenumbers' region names); an unknown code stays as written."""
    try:
        from phonenumbers.geocoder import _region_display_name

        return str(_region_display_name(code.upper(), "en") or code) if len(code) == 2 else code
    except Exception:
        return code


def billing_address(billing: dict[str, Any]) -> str:
    """The billing address on one line, as the client's Address field holds it ("Street, number,
    city"): street, street 2, city, state postcode, country."""
    city = ", ".join(p for p in (_text(billing.get("city")), _text(billing.get("state"))) if p)
    place = " ".join(p for p in (city, _text(billing.get("postcode"))) if p)
    country = _text(billing.get("country"))
    lines = [
        _text(billing.get("address_1")),
        _text(billing.get("address_2")),
        place,
        _country_name(country) if country else "",
    ]
    return ", ".join(" ".join(line.split()) for line in lines if line.strip())[:2000]


def store_customer(billing: Any) -> StoreCustomer:
    """The buyer from the order's billing block: person, company, email, phone, address, country."""
    billing = billing if isinstance(billing, dict) else {}
    return StoreCustomer(
        email=_text(billing.get("email")) or None,
        first_name=_text(billing.get("first_name")),
        last_name=_text(billing.get("last_name")),
        company=_text(billing.get("company")),
        phone=_text(billing.get("phone")) or None,
        address=billing_address(billing),
        country=_text(billing.get("country")).upper()[:2],
    )


def store_order(order: dict[str, Any], currency: str) -> orders.StoreOrder:
    """The store's order in the CRM's neutral shape (status map: unknown statuses are Draft)."""
    status = str(order.get("status") or "").removeprefix("wc-")
    return orders.StoreOrder(
        source=PROVIDER,
        external_id=str(order["id"]),
        external_number=str(order.get("number") or order["id"]),
        status=STATUSES.get(status, OrderStatus.draft),
        currency=str(order.get("currency") or currency).upper()[:3],
        modified_at=_gmt(order["date_modified_gmt"]),
        total=_money(order.get("total")),
        total_tax=_money(order.get("total_tax")),
        shipping_total=_money(order.get("shipping_total")),
        discount_total=_money(order.get("discount_total")),
        customer=store_customer(order.get("billing")),
        lines=[_line(item) for item in order.get("line_items") or [] if isinstance(item, dict)],
    )


async def handle_order(session: AsyncSession, payload: dict[str, Any]) -> str:
    order_event(payload)  # the same checks as at the door (a replayed or reconciled payload too)
    currency = str(await settings.get(session, "sales.base_currency"))
    return await orders.apply_store_order(session, store_order(payload, currency))


HANDLERS: dict[str, Handler] = {topic: handle_order for topic in ORDER_TOPICS}


# --- the REST API --------------------------------------------------------------------------------


def _client(values: Mapping[str, Any]) -> httpx.AsyncClient:
    base = str(values.get("woocommerce.store_url") or "").rstrip("/")
    auth = (str(values.get("woocommerce.consumer_key") or ""), str(values.get("woocommerce.consumer_secret") or ""))
    return httpx.AsyncClient(base_url=base + API, auth=auth, timeout=TIMEOUT)


def _refusal(response: httpx.Response) -> NeedsAttention | None:
    if response.status_code in (401, 403):
        return NeedsAttention(
            f"WooCommerce refused the REST API keys ({response.status_code}): check the consumer "
            "key and secret, and that the key has Read access."
        )
    if response.status_code >= 400:
        return NeedsAttention(f"The store's REST API answered {response.status_code} to {response.request.url}.")
    return None


def configured(values: Mapping[str, Any]) -> bool:
    return all(
        values.get(key) for key in ("woocommerce.store_url", "woocommerce.consumer_key", "woocommerce.consumer_secret")
    )


async def check_connection(session: AsyncSession) -> None:
    """One order through the REST API with the keys in settings (nothing to check until they are set)."""
    values = await settings.get_all(session)
    if not configured(values):
        return
    try:
        async with _client(values) as client:
            response = await client.get("/orders", params={"per_page": 1})
    except httpx.HTTPError as exc:
        raise NeedsAttention(f"The store at {values['woocommerce.store_url']} cannot be reached: {exc}") from None
    if (problem := _refusal(response)) is not None:
        raise problem


async def fetch_orders(values: Mapping[str, Any], modified_after: datetime) -> list[dict[str, Any]]:
    """Every order changed since `modified_after` (UTC), page by page as X-WP-TotalPages says."""
    params: dict[str, Any] = {
        "modified_after": modified_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "dates_are_gmt": "true",
        "per_page": PAGE_SIZE,
        "orderby": "modified",
        "order": "asc",
    }
    found: list[dict[str, Any]] = []
    try:
        async with _client(values) as client:
            page = 1
            while True:
                response = await client.get("/orders", params={**params, "page": page})
                if (problem := _refusal(response)) is not None:
                    raise problem
                batch = response.json()
                if not isinstance(batch, list):
                    raise NeedsAttention("The store's REST API did not answer a list of orders.")
                found += [o for o in batch if isinstance(o, dict)]
                pages = int(response.headers.get("x-wp-totalpages") or 0)
                if not batch or page >= pages:
                    return found
                page += 1
    except httpx.HTTPError as exc:
        raise NeedsAttention(f"The store at {values['woocommerce.store_url']} cannot be reached: {exc}") from None

"""Demo web shop orders: a dozen WooCommerce orders over the last ten days in every status, fed as
the store's own order.created/order.updated webhooks through the inbox and the WooCommerce handler,
so clients, products, stock holds and deliveries come out as the real thing does it (runs after the
stock and invoices demos). Buyers are partly demo clients (matched by email), partly new; one order
has a gift-wrapping line without SKU (skipped), one a SKU the CRM did not know (a new product)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.clients.models import Client
from crm_server.db import utcnow
from crm_server.integrations import woocommerce
from crm_server.integrations.demo import SECRETS, through_inbox
from crm_server.orders.models import SalesOrder
from crm_server.products.models import Product

STORE = "https://shop.demo-shop.example"
VAT = Decimal("0.19")
CENT = Decimal("0.01")
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "SEK": "kr"}
NEW_SKU = ("WOO-TOTE-BAG", "Canvas tote bag", Decimal("12.00"))
WRAPPING = ("Gift wrapping", Decimal("4.50"))
# (order number, the store's statuses in turn, hours ago it was placed, buyer: None = a demo client)
PLAN: tuple[tuple[int, tuple[str, ...], int, tuple[str, str, str] | None], ...] = (
    (1041, ("processing", "completed"), 236, ("Elin", "Holm", "elin.holm@mail.example")),
    (1042, ("pending", "processing", "completed"), 210, None),
    (1043, ("processing", "completed", "refunded"), 190, ("Marek", "Zielinski", "marek.z@mail.example")),
    (1044, ("pending", "cancelled"), 160, ("Sofia", "Rossi", "sofia.rossi@mail.example")),
    (1045, ("processing", "cancelled"), 130, None),
    (1046, ("processing", "completed"), 100, ("Jonas", "Weber", "jonas.weber@mail.example")),
    (1047, ("pending", "failed"), 80, ("Emma", "Laine", "emma.laine@mail.example")),
    (1048, ("on-hold",), 60, None),
    (1049, ("processing",), 30, ("Lucas", "Petit", "lucas.petit@mail.example")),
    (1050, ("processing",), 14, None),
    (1051, ("pending", "processing"), 8, ("Nora", "Berg", "nora.berg@mail.example")),
    (1052, ("pending",), 1, ("Oskar", "Nilsson", "oskar.nilsson@mail.example")),
)
SKIPPED_IN, NEW_PRODUCT_IN = 1049, 1046


def _gmt(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S")


def _item(n: int, name: str, sku: str, price: Decimal, quantity: int) -> dict[str, Any]:
    total = (price * quantity).quantize(CENT)
    tax = (total * VAT).quantize(CENT)
    return {
        "id": n,
        "name": name,
        "product_id": 0,
        "variation_id": 0,
        "quantity": quantity,
        "tax_class": "",
        "subtotal": str(total),
        "subtotal_tax": str(tax),
        "total": str(total),
        "total_tax": str(tax),
        "taxes": [{"id": 1, "total": str(tax), "subtotal": str(tax)}],
        "meta_data": [],
        "sku": sku,
        "price": float(price),
        "parent_name": None,
    }


def order_json(
    number: int,
    status: str,
    created: datetime,
    modified: datetime,
    currency: str,
    billing: dict[str, str],
    items: list[dict[str, Any]],
) -> dict[str, Any]:
    """A WooCommerce REST/webhook order (the fields of tests/server/fixtures/webhooks/woocommerce)."""
    lines = sum(Decimal(i["total"]) for i in items)
    shipping = Decimal("0.00") if lines >= 200 else Decimal("9.90")
    tax = (sum(Decimal(i["total_tax"]) for i in items) + shipping * VAT).quantize(CENT)
    paid = status in ("processing", "completed", "refunded")
    address = {k: billing.get(k, "") for k in ("first_name", "last_name", "company")} | {
        "address_1": "Storgatan 1",
        "address_2": "",
        "city": "Stockholm",
        "state": "",
        "postcode": "111 22",
        "country": "SE",
    }
    return {
        "id": number,
        "parent_id": 0,
        "number": str(number),
        "order_key": f"wc_order_demo{number}",
        "created_via": "checkout",
        "version": "8.3.1",
        "status": status,
        "currency": currency,
        "date_created": _gmt(created + timedelta(hours=1)),
        "date_created_gmt": _gmt(created),
        "date_modified": _gmt(modified + timedelta(hours=1)),
        "date_modified_gmt": _gmt(modified),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": str(shipping),
        "shipping_tax": str((shipping * VAT).quantize(CENT)),
        "cart_tax": str(tax - (shipping * VAT).quantize(CENT)),
        "total": str(lines + shipping + tax),
        "total_tax": str(tax),
        "prices_include_tax": False,
        "customer_id": 0,
        "customer_ip_address": "203.0.113.24",
        "customer_user_agent": "Mozilla/5.0",
        "customer_note": "",
        "billing": {**address, "email": billing["email"], "phone": billing.get("phone", "")},
        "shipping": address,
        "payment_method": "stripe",
        "payment_method_title": "Credit card (Stripe)",
        "transaction_id": f"pi_demo{number}" if paid else "",
        "date_paid": _gmt(modified + timedelta(hours=1)) if paid else None,
        "date_paid_gmt": _gmt(modified) if paid else None,
        "date_completed": None,
        "date_completed_gmt": None,
        "cart_hash": "",
        "meta_data": [],
        "line_items": items,
        "tax_lines": [],
        "shipping_lines": [],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [],
        "payment_url": f"{STORE}/checkout/order-pay/{number}/",
        "currency_symbol": SYMBOLS.get(currency, currency),
        "_links": {"self": [{"href": f"{STORE}/wp-json/wc/v3/orders/{number}"}]},
    }


def _headers(topic: str, order: dict[str, Any], body: bytes, delivery: int) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "WooCommerce/8.3.1 Hookshot (WordPress/6.4.2)",
        "x-wc-webhook-source": STORE + "/",
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-resource": "order",
        "x-wc-webhook-event": topic.split(".")[1],
        "x-wc-webhook-id": "3",
        "x-wc-webhook-delivery-id": str(delivery),
        "x-wc-webhook-signature": woocommerce.signature(SECRETS["woocommerce.webhook_secret"], body),
    }


async def _stocked(session: AsyncSession) -> list[Product]:
    """Active stock-tracked products (the stock demo received plenty of each into the warehouse)."""
    return list(
        (await session.scalars(select(Product).where(Product.active, Product.stock_tracked).order_by(Product.id))).all()
    )


async def seed_orders(session: AsyncSession, rng: random.Random) -> int:
    """The orders; returns how many store events went through the inbox."""
    currency = str(await settings.get(session, "sales.base_currency"))
    products = (await _stocked(session))[1:]  # the first holds the stock demo's reservation
    if not products:
        return 0
    clients = list(
        (
            await session.execute(
                select(Client.name, Client.email)
                .where(Client.email.is_not(None), Client.archived_at.is_(None), Client.is_vendor.is_(False))
                .order_by(Client.id)
                .limit(20)
            )
        ).all()
    )
    now, delivery, line_id, sent = utcnow().replace(microsecond=0), 9100, 400, 0
    for number, statuses, hours, buyer in PLAN:
        if buyer is None and clients:
            name, email = clients.pop(rng.randrange(len(clients)))
            billing = {"first_name": "", "last_name": "", "company": name, "email": str(email)}
        else:
            first, last, email = buyer or ("Web", "Customer", f"buyer{number}@mail.example")
            billing = {
                "first_name": first,
                "last_name": last,
                "company": "",
                "email": email,
                "phone": f"+46 70 555 {number % 100:02d} {rng.randint(10, 99)}",
            }
        items = []
        for product in rng.sample(products, k=rng.randint(1, 3)):
            line_id += 1
            items.append(_item(line_id, product.name, product.sku or "", product.unit_price, rng.randint(1, 3)))
        if number == NEW_PRODUCT_IN:
            line_id += 1
            items.append(_item(line_id, NEW_SKU[1], NEW_SKU[0], NEW_SKU[2], 2))
        if number == SKIPPED_IN:
            line_id += 1
            items.append(_item(line_id, WRAPPING[0], "", WRAPPING[1], 1))
        created = now - timedelta(hours=hours, minutes=rng.randint(0, 50))
        modified = created
        for step, status in enumerate(statuses):
            if step:
                modified += timedelta(hours=rng.randint(2, max(3, hours // len(statuses))), minutes=rng.randint(1, 59))
            topic = "order.created" if step == 0 else "order.updated"
            order = order_json(number, status, created, min(modified, now), currency, billing, items)
            body = json.dumps(order).encode()
            delivery += 1
            await through_inbox(
                session,
                woocommerce.PROVIDER,
                woocommerce.order_event(order, topic),
                headers=_headers(topic, order, body, delivery),
                body=body,
                remote="192.0.2.10",
                at=min(modified, now) + timedelta(seconds=1),
            )
            sent += 1
        await session.execute(
            update(SalesOrder)
            .where(SalesOrder.source == woocommerce.PROVIDER, SalesOrder.external_id == str(number))
            .values(created_at=created)
        )
    return sent

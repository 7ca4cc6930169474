"""WooCommerce at the door and behind it: X-WC-Webhook-Signature on the raw body (good, bad,
missing, no secret set), the unsigned creation ping answered and storing nothing, a malformed body,
an order webhook stored once and processed into a sales order, the harmless test event, the REST
connection check, and the reconciliation against a store stand-in filling a missed webhook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from crm_server.admin import settings
from crm_server.db import Database
from crm_server.integrations import inbox, woocommerce
from crm_server.integrations.models import InboxEvent
from crm_server.integrations.providers import NeedsAttention
from crm_server.jobs import registry
from crm_server.orders import reconcile
from crm_server.orders.models import SalesOrder
from tests.standins.woocommerce import WooStandIn
from tests.support import LiveServer

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks" / "woocommerce"
SECRET = "wc-test-webhook-secret"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def headers(topic: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    """What WooCommerce sends with a webhook delivery."""
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-ID": "15",
        "X-WC-Webhook-Delivery-ID": "a8d6c0e1",
        "X-WC-Webhook-Signature": woocommerce.signature(secret, body),
    }


async def configure(server: LiveServer, **values: Any) -> None:
    async with server.session() as s:
        for key, value in {"woocommerce.webhook_secret": SECRET, **values}.items():
            await settings.put(s, key, value, None)


async def post(server: LiveServer, body: bytes, hdrs: dict[str, str]) -> Any:
    async with server.client() as api:
        return await api.post("/webhooks/woocommerce", content=body, headers=hdrs)


async def stored(server: LiveServer, *where: Any) -> list[InboxEvent]:
    async with server.session() as s:
        return list(
            (
                await s.scalars(
                    select(InboxEvent).where(InboxEvent.provider == "woocommerce", *where).order_by(InboxEvent.id)
                )
            ).all()
        )


async def work_all(server: LiveServer) -> list[InboxEvent]:
    """Process every pending event as the inbox's job would."""
    for event in await stored(server, InboxEvent.status == "pending"):
        async with server.session() as s:
            await inbox.work(s, event.id)
    return await stored(server)


async def order_count(server: LiveServer) -> int:
    async with server.session() as s:
        return int(await s.scalar(select(func.count()).select_from(SalesOrder)) or 0)


@pytest.fixture
def store() -> Iterator[WooStandIn]:
    with WooStandIn.run() as stand_in:
        yield stand_in


async def test_ping_is_answered_and_stores_nothing(server: LiveServer) -> None:
    body = fixture("ping.txt")
    assert woocommerce.events({}, body) == []
    answer = await post(
        server,
        body,
        {"Content-Type": "application/x-www-form-urlencoded", "X-WC-Webhook-Source": "https://shop.example.com/"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 0
    assert await stored(server) == []


async def test_signature_checked_on_the_raw_body(server: LiveServer) -> None:
    body = fixture("order.created.json")
    unset = await post(server, body, headers("order.created", body))
    assert unset.status_code == 401  # no secret set: nothing is trusted
    await configure(server)
    wrong = await post(server, body, headers("order.created", body, secret="not-the-secret"))
    assert wrong.status_code == 401
    missing = headers("order.created", body)
    missing.pop("X-WC-Webhook-Signature")
    assert (await post(server, body, missing)).status_code == 401
    tampered = body.replace(b'"166.60"', b'"1.00"')
    assert (await post(server, tampered, headers("order.created", body))).status_code == 401
    assert [e.status for e in await stored(server)] == ["rejected"] * 4
    assert await order_count(server) == 0


async def test_malformed_body_is_refused(server: LiveServer) -> None:
    await configure(server)
    for body, topic in (
        (b"<html>not json</html>", "order.created"),
        (b'{"id": "x"}', "order.updated"),
        (b'{"id": 5}', ""),
    ):
        answer = await post(
            server, body, headers(topic or "order.created", body) | ({"X-WC-Webhook-Topic": ""} if not topic else {})
        )
        assert answer.status_code == 400, (body, answer.text)
    assert {e.status for e in await stored(server)} == {"rejected"}


async def test_order_webhooks_make_the_order_once(server: LiveServer) -> None:
    await configure(server)
    created = fixture("order.created.json")
    first = await post(server, created, headers("order.created", created))
    assert first.status_code == 200 and first.json()["accepted"] == 1
    again = await post(server, created, headers("order.created", created))  # the same delivery again
    assert again.json() == {**again.json(), "accepted": 0, "duplicates": 1}
    [event] = await work_all(server)
    assert event.event_id == "order:727:2026-11-27T19:41:05" and event.status == "processed", event.error
    assert event.outcome is not None and event.outcome.startswith("Created WC-727 (Processing")

    updated = fixture("order.updated.json")
    assert (await post(server, updated, headers("order.updated", updated))).json()["accepted"] == 1
    events = await work_all(server)
    assert [e.status for e in events] == ["processed", "processed"]
    async with server.session() as s:
        order = await s.scalar(select(SalesOrder))
        assert order is not None and order.status == "completed"
    assert await order_count(server) == 1


async def test_the_admin_test_event_is_harmless(server: LiveServer) -> None:
    await configure(server)
    async with server.session() as s:
        values = await settings.get_all(s)
    hdrs, body = woocommerce.test_request(values)
    answer = await post(server, body, hdrs)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text
    [event] = await work_all(server)
    assert event.status == "ignored" and event.event_type == woocommerce.TEST_TOPIC
    assert await order_count(server) == 0


async def test_connection_check_names_refused_keys(server: LiveServer, store: WooStandIn) -> None:
    await configure(server, **{**store.settings(), "woocommerce.consumer_secret": "cs_wrong"})
    async with server.session() as s:
        with pytest.raises(NeedsAttention, match="refused the REST API keys \\(401\\)"):
            await woocommerce.check_connection(s)
    await configure(server, **store.settings())
    async with server.session() as s:
        await woocommerce.check_connection(s)


async def test_reconciliation_fills_a_missed_webhook(server: LiveServer, store: WooStandIn) -> None:
    registry.find("orders.reconcile_woocommerce")  # registered (raises UnknownTask otherwise)...
    assert registry.is_periodic("orders.reconcile_woocommerce")  # ...and scheduled
    await configure(server, **store.settings())
    created = json.loads(fixture("order.created.json"))
    body = fixture("order.created.json")
    await post(server, body, headers("order.created", body))  # 727 came by webhook...
    await work_all(server)
    missed = {**created, "id": 728, "number": "728", "status": "completed", "date_modified_gmt": "2026-11-27T20:05:00"}
    store.put(created)  # ...728's webhook never came (the hook was disabled)
    store.put(missed)
    for i in range(150):  # more than one page of 100; changed long ago, outside the window
        store.put({**created, "id": 1000 + i, "number": str(1000 + i), "date_modified_gmt": "2026-10-01T10:00:00"})
    for i in range(120):  # two pages of recent orders
        store.put(
            {
                **created,
                "id": 2000 + i,
                "number": str(2000 + i),
                "status": "pending",
                "date_modified_gmt": f"2026-11-27T18:{i % 60:02d}:{i // 60:02d}",
            }
        )
    db = Database(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=1)
    try:
        from datetime import UTC, datetime

        now = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
        said = await reconcile.run(db, now)
        assert said == (
            "WooCommerce: 122 orders changed since 2026-11-25 21:00 UTC, 121 new states queued, 1 already known"
        ), said
        assert [r["page"] for r in store.requests] == ["1", "2"]
        assert store.requests[0]["modified_after"] == "2026-11-25T21:00:00"
        events = await work_all(server)
        assert {e.status for e in events} == {"processed"}, {e.error for e in events}
        assert await order_count(server) == 122
        async with server.session() as s:
            gap = await s.scalar(select(SalesOrder).where(SalesOrder.external_id == "728"))
            assert gap is not None and gap.status == "completed"
        # Nothing new in the store: the next run queues nothing.
        assert ", 0 new states queued, 122 already known" in await reconcile.run(db, now)
    finally:
        await db.dispose()


async def test_reconciliation_with_refused_keys_marks_the_provider(server: LiveServer, store: WooStandIn) -> None:
    db = Database(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=1)
    try:
        assert await reconcile.run(db) == "WooCommerce is not configured: nothing to reconcile."
        await configure(server, **{**store.settings(), "woocommerce.consumer_key": "ck_wrong"})
        said = await reconcile.run(db)
        assert said.startswith("WooCommerce reconciliation failed: WooCommerce refused the REST API keys (401)")
    finally:
        await db.dispose()
    async with server.client() as api:
        await server.login_admin(api)
        states = {p["provider"]: p for p in (await api.get("/api/integrations")).json()}
    assert states["woocommerce"]["state"] == "needs_attention"
    assert "401" in (states["woocommerce"]["reason"] or "")


# --- hardening (#15): what WooCommerce really sends ----------------------------------------------


def test_signature_is_wooCommerces_own_example() -> None:
    """WooCommerce's unit test (tests/legacy/unit-tests/webhooks/crud.php, test_generate_signature):
    a new WC_Webhook (empty secret) signs the payload "secret" as this base64 HMAC-SHA256."""
    assert woocommerce.signature("", b"secret") == "GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs="


def wc_signed(key: str, body: bytes) -> str:
    """WC_Webhook::generate_signature, written out: base64(hash_hmac('sha256', body, key, true))."""
    import base64
    import hashlib
    import hmac

    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


async def test_a_secret_pasted_in_its_stored_form_verifies(server: LiveServer) -> None:
    """The shop owner typed `p&ss<word"1` as the secret; WordPress stores it escaped and that stored
    text is what one copies and pastes. WooCommerce signs with wp_specialchars_decode(stored)."""
    stored_form = "p&amp;ss&lt;word&quot;1"
    await configure(server, **{"woocommerce.webhook_secret": stored_form})
    body = fixture("order.created.json")
    hdrs = headers("order.created", body) | {"X-WC-Webhook-Signature": wc_signed('p&ss<word"1', body)}
    answer = await post(server, body, hdrs)
    assert answer.status_code == 200, answer.text
    # A store whose secret really is the text "p&amp;ss…" signs with that text: also accepted.
    hdrs = headers("order.created", body) | {
        "X-WC-Webhook-Signature": wc_signed(stored_form, body),
        "X-WC-Webhook-Delivery-ID": "b2",
    }
    assert (await post(server, body, hdrs)).status_code == 200
    wrong = headers("order.created", body) | {"X-WC-Webhook-Signature": wc_signed("p&ss<word", body)}
    assert (await post(server, body, wrong)).status_code == 401
    assert woocommerce.wp_specialchars_decode("a&amp;amp;b&#0039;&#X26;") == "a&amp;b'&"  # one pass, as PHP


async def test_entities_decoded_and_the_billing_person_kept(server: LiveServer, admin: Any) -> None:
    await configure(server)
    body = fixture("order.created.billing_entities.json")
    assert (await post(server, body, headers("order.created", body))).json()["accepted"] == 1
    [event] = await work_all(server)
    assert event.status == "processed", event.error
    assert "new client Müller & Söhne GmbH" in (event.outcome or "")
    async with server.session() as s:
        order_id = await s.scalar(select(SalesOrder.id).where(SalesOrder.external_id == "731"))
    order = (await admin.get(f"/api/orders/{order_id}")).json()
    assert [line["name"] for line in order["lines"]] == ["Hoodie – Blue", "Fish & Chips – Poster"]
    products = (await admin.get("/api/products", params={"q": "WOO-POSTER-FISH"})).json()["items"]
    assert [p["name"] for p in products] == ["Fish & Chips – Poster"]
    client = (await admin.get(f"/api/clients/{order['client_id']}")).json()
    assert client["name"] == "Müller & Söhne GmbH" and client["email"] == "j.mueller@mueller-soehne.example"
    assert client["address"] == "Hauptstraße 5, 2. OG, Berlin, BE 10115, Germany"
    assert client["phone"] == "+4930901820"  # "030 901820" read in Germany, not in the office's Romania
    assert [(c["name"], c["email"], c["phone"]) for c in client["contacts"]] == [
        ("Jürgen Müller", "j.mueller@mueller-soehne.example", "+4930901820")
    ]


async def test_an_existing_client_gets_what_it_lacks(server: LiveServer, admin: Any) -> None:
    made = await admin.post(
        "/api/clients", json={"name": "Doe Family", "email": "John.Doe@example.com", "phone": "+40722123456"}
    )
    assert made.status_code == 201, made.text
    await configure(server)
    created = fixture("order.created.json")
    await post(server, created, headers("order.created", created))
    updated = fixture("order.updated.json")
    await post(server, updated, headers("order.updated", updated))
    assert {e.status for e in await work_all(server)} == {"processed"}
    client = (await admin.get(f"/api/clients/{made.json()['id']}")).json()
    assert client["name"] == "Doe Family" and client["phone"] == "+40722123456"  # what the office typed stays
    assert client["address"] == "969 Market, San Francisco, CA 94103, United States"
    assert [(c["name"], c["phone"]) for c in client["contacts"]] == [("John Doe", "+14155550132")]  # once

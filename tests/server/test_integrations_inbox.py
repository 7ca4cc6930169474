"""The integration inbox through the real webhook door: stored before the 2xx, once per provider event
id, refusals logged (bad signature also in the security log) and never worked on, a waiting event
replayed after its cause is fixed, providers' states and "Send test event" for the admin panel."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from crm_server.auth.models import SecurityEvent
from crm_server.integrations import inbox, stripe
from crm_server.integrations.models import InboxEvent
from tests.server.test_invoices import _client, _issued, _rate
from tests.support import LiveServer

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks" / "stripe"
SECRET = "whsec_test_inbox"


def _event(name: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    event.update(changes)
    return event


def _signed(event: dict[str, Any], secret: str = SECRET, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {
        "Content-Type": "application/json",
        "Stripe-Signature": stripe.signature_header(secret, body, timestamp),
    }


async def _configure(api: Any) -> None:
    changed = await api.patch("/api/settings", json={"values": {"stripe.endpoint_secret": SECRET}})
    assert changed.status_code == 200, changed.text


async def _work(server: LiveServer, event_id: int) -> str:
    """What the job does with one event (the test server runs no worker)."""
    async with server.session() as session:
        return await inbox.work(session, event_id)


async def _rows(server: LiveServer) -> list[InboxEvent]:
    async with server.session() as session:
        return list((await session.scalars(select(InboxEvent).order_by(InboxEvent.id))).all())


async def test_an_event_is_stored_once_however_often_it_is_delivered(server: LiveServer, admin: Any) -> None:
    await _configure(admin)
    body, headers = _signed(_event("customer.created"))
    answers = [await admin.post("/webhooks/stripe", content=body, headers=headers) for _ in range(10)]
    assert [a.status_code for a in answers] == [200] * 10
    assert answers[0].json()["accepted"] == 1 and answers[0].json()["duplicates"] == 0
    assert all(a.json() == {"accepted": 0, "duplicates": 1, "ids": []} for a in answers[1:])
    rows = await _rows(server)
    assert len(rows) == 1 and rows[0].status == "pending" and rows[0].event_type == "customer.created"
    assert rows[0].headers["stripe-signature"] == "(hidden)"
    assert "ignored" in await _work(server, rows[0].id)
    assert "already ignored" in await _work(server, rows[0].id)  # a second job changes nothing
    detail = (await admin.get(f"/api/integrations/events/{rows[0].id}")).json()
    assert detail["status"] == "ignored" and detail["attempts"] == 1
    assert json.loads(detail["body"])["id"] == _event("customer.created")["id"]
    assert detail["payload"]["type"] == "customer.created"


async def test_refusals_are_logged_and_never_worked_on(server: LiveServer, admin: Any) -> None:
    await _configure(admin)
    event = _event("customer.created")
    body, headers = _signed(event, secret="whsec_wrong")
    wrong = await admin.post("/webhooks/stripe", content=body, headers=headers)
    assert wrong.status_code == 401 and wrong.json()["code"] == "bad_signature"
    body, headers = _signed(event, timestamp=int(time.time()) - 301)
    stale = await admin.post("/webhooks/stripe", content=body, headers=headers)
    assert stale.status_code == 401
    body, headers = _signed(event)
    unsigned = await admin.post("/webhooks/stripe", content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    broken = b'{"id": "evt_1", "type": '
    bad_json = await admin.post(
        "/webhooks/stripe", content=broken, headers={"Stripe-Signature": stripe.signature_header(SECRET, broken)}
    )
    assert bad_json.status_code == 400 and bad_json.json()["code"] == "malformed"
    assert (await admin.post("/webhooks/nosuch", content=b"{}")).status_code == 404
    rows = await _rows(server)
    assert [r.status for r in rows] == ["rejected"] * 4
    assert all(r.event_id is None for r in rows)
    assert "tolerance" in (rows[1].error or "") and "not JSON" in (rows[3].error or "")
    async with server.session() as session:
        logged = await session.scalar(
            select(func.count()).select_from(SecurityEvent).where(SecurityEvent.kind == "webhook_bad_signature")
        )
    assert logged == 3
    # The refused copies took no slot: the genuine delivery of the same event id is accepted.
    genuine = await admin.post("/webhooks/stripe", content=body, headers=headers)
    assert genuine.json()["accepted"] == 1
    rejected = (await admin.get("/api/integrations/events", params={"status": "rejected"})).json()
    assert rejected["total"] == 4


async def test_a_waiting_event_is_replayed_once_its_cause_is_fixed(server: LiveServer, admin: Any) -> None:
    await _configure(admin)
    client = await _client(admin)
    rate = await _rate(admin)
    intent = _event("payment_intent.succeeded")
    intent["data"]["object"]["metadata"] = {"invoice_number": "INV-2026-000001"}
    body, headers = _signed(intent)
    stored = (await admin.post("/webhooks/stripe", content=body, headers=headers)).json()["ids"][0]
    assert "needs_attention" in await _work(server, stored)  # no such invoice yet
    states = {s["provider"]: s for s in (await admin.get("/api/integrations")).json()}
    assert states["stripe"]["state"] == "needs_attention" and states["stripe"]["error_count"] == 1
    event = (await admin.get(f"/api/integrations/events/{stored}")).json()
    assert "INV-2026-000001" in event["error"]

    invoice = await _issued(admin, client["id"], rate)
    assert invoice["number"] == "INV-2026-000001"
    gross = Decimal(invoice["gross_total"])
    # The same intent, now for the right amount: the provider's retry carries the same event id, so
    # the inbox keeps the first body; the admin fixes the invoice's amount instead (pays what Stripe got).
    intent["data"]["object"]["amount_received"] = int(gross * 100)
    assert (await admin.post("/webhooks/stripe", content=_signed(intent)[0], headers=_signed(intent)[1])).json()[
        "duplicates"
    ] == 1
    async with server.session() as session:
        row = await session.get_one(InboxEvent, stored)
        row.payload = intent  # what a corrected redelivery would carry
    replayed = await admin.post(f"/api/integrations/events/{stored}/replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "processed" and replayed.json()["attempts"] == 2
    payments = (await admin.get(f"/api/invoices/{invoice['id']}/payments")).json()
    assert [Decimal(p["amount"]) for p in payments] == [gross]
    again = await admin.post(f"/api/integrations/events/{stored}/replay")
    assert again.status_code == 409 and again.json()["code"] == "not_replayable"
    states = {s["provider"]: s for s in (await admin.get("/api/integrations")).json()}
    assert states["stripe"]["state"] == "connected" and states["stripe"]["error_count"] == 0


async def test_states_and_the_test_event(server: LiveServer, admin: Any) -> None:
    states = {s["provider"]: s for s in (await admin.get("/api/integrations")).json()}
    assert set(states) == {"facebook", "forms", "woocommerce", "stripe", "whatsapp"}
    assert states["stripe"]["state"] == "not_configured"
    assert states["stripe"]["settings"] == [
        "stripe.endpoint_secret",
        "stripe.secret_key",
        "stripe.api_url",
        "stripe.success_url",
    ]
    refused = (await admin.post("/api/integrations/stripe/test")).json()
    assert refused["ok"] is False and "settings" in refused["message"]
    await _configure(admin)
    settings = (await admin.get("/api/settings")).json()
    assert settings["values"]["stripe.endpoint_secret"] is True  # secrets never read back
    result = (await admin.post("/api/integrations/stripe/test")).json()
    assert result["ok"] is True, result
    assert result["event"]["status"] == "ignored" and result["event"]["provider"] == "stripe"
    states = {s["provider"]: s for s in (await admin.get("/api/integrations")).json()}
    assert states["stripe"]["state"] == "connected" and states["stripe"]["last_event_at"] is not None
    listed = (await admin.get("/api/integrations/events", params={"provider": "stripe"})).json()
    assert [e["id"] for e in listed["items"]] == [result["event"]["id"]]


def test_retries_back_off_then_wait_for_a_person() -> None:
    delays = [inbox.retry_delay(n) for n in range(1, inbox.MAX_ATTEMPTS + 1)]
    seconds = [d.total_seconds() for d in delays if d is not None]
    assert seconds == [30 * 2**i for i in range(inbox.MAX_ATTEMPTS - 1)]
    assert delays[-1] is None


async def test_the_nightly_purge_forgets_settled_events_after_three_months(server: LiveServer) -> None:
    from datetime import timedelta

    from sqlalchemy import text

    from crm_server.db import utcnow
    from crm_server.jobs.maintenance import SETTLED_EVENTS

    old, recent = utcnow() - timedelta(days=91), utcnow() - timedelta(days=89)
    async with server.session() as session:
        for n, (status, at) in enumerate(
            [
                ("processed", old),
                ("ignored", old),
                ("rejected", old),
                ("failed", old),
                ("needs_attention", old),
                ("processed", recent),
            ]
        ):
            session.add(
                InboxEvent(
                    provider="stripe",
                    event_id=None if status == "rejected" else f"evt_{n}",
                    event_type="customer.created",
                    status=status,
                    received_at=at,
                )
            )
    async with server.session() as session:
        await session.execute(text(SETTLED_EVENTS))
    assert sorted(r.status for r in await _rows(server)) == ["failed", "needs_attention", "processed"]


async def test_a_body_too_large_for_an_event_is_refused_and_logged(server: LiveServer, admin: Any) -> None:
    from crm_server.integrations.api import MAX_BODY_BYTES

    await _configure(admin)
    huge = b"{" + b" " * MAX_BODY_BYTES + b"}"
    refused = await admin.post("/webhooks/stripe", content=huge, headers={"Content-Type": "application/json"})
    assert refused.status_code == 413 and refused.json()["code"] == "too_large"
    rows = await _rows(server)
    assert [(r.status, r.provider) for r in rows] == [("rejected", "stripe")] and "larger" in (rows[0].error or "")

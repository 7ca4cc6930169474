"""A provider's signed event is the provider's word, odd characters and all: a Stripe payment whose
description holds a NUL and a bell is stored (the raw body byte for byte, the payload with the NUL
made visible), worked on, and the money recorded. Nothing a provider sent is refused for its text."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import undefer

from crm_server.admin import settings
from crm_server.integrations import inbox
from crm_server.integrations.models import InboxEvent
from tests.server.test_stripe import SECRET, event, issued, signed, state
from tests.support import LiveServer


async def test_a_signed_event_with_control_characters_is_kept_and_worked(server: LiveServer, admin: Any) -> None:
    invoice = await issued(admin)
    async with server.session() as s:
        await settings.put(s, "stripe.endpoint_secret", SECRET, None)
    body = json.dumps(
        event("payment_intent.succeeded", invoice["number"], description="Order \u0000 for \u0007 Acme")
    ).encode()
    answer = await admin.post("/webhooks/stripe", content=body, headers=signed(body))
    assert answer.status_code == 200, answer.text
    [event_id] = answer.json()["ids"]

    async with server.session() as s:
        await inbox.work(s, event_id)
    async with server.session() as s:
        stored = await s.scalar(select(InboxEvent).where(InboxEvent.id == event_id).options(undefer(InboxEvent.body)))
        assert stored is not None and stored.status == "processed", stored and stored.error
        assert stored.body == body  # the raw bytes, as signed
        assert stored.payload["data"]["object"]["description"] == "Order \ufffd for \u0007 Acme"
    assert (await state(server, invoice["id"]))[:2] == ("paid", Decimal("119.00"))

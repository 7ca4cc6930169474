"""Work rolled back inside a savepoint announces nothing: a store order whose products cannot be made
(no active VAT rate) waits as needs attention, and the client made for it before the refusal is
neither kept nor heard of by any desktop."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import func, select
from websockets.asyncio.client import connect

from crm_server.clients.models import Client
from tests.server.test_woocommerce import configure, fixture, headers, post, work_all
from tests.support import LiveServer


async def _heard(ws: Any, wait: float = 0.7) -> list[dict[str, Any]]:
    heard = []
    try:
        while True:
            heard.append(json.loads(await asyncio.wait_for(ws.recv(), wait)))
    except TimeoutError:
        return heard


async def test_a_rolled_back_client_is_not_announced(server: LiveServer, admin: Any) -> None:
    await configure(server)
    for rate in (await admin.get("/api/tax-rates")).json():
        answer = await admin.patch(f"/api/tax-rates/{rate['id']}", json={"active": False, "version": rate["version"]})
        assert answer.status_code == 200, answer.text
    body = fixture("order.created.json")
    assert (await post(server, body, headers("order.created", body))).status_code == 200

    token = admin.headers["Authorization"].split()[1]
    async with connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        [event] = await work_all(server)
        heard = await _heard(ws)

    assert event.status == "needs_attention", event.error
    assert "No active VAT rate" in (event.error or "")
    async with server.session() as s:
        assert await s.scalar(select(func.count()).select_from(Client)) == 0
    assert [e for e in heard if e.get("entity") == "client"] == [], heard

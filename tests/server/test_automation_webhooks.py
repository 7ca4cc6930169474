"""Outgoing webhooks through HTTP with the real job worker and a receiver on loopback that checks
every signature with an independent implementation (the `standardwebhooks` package): only
http(s), loopback only once an admin allowed it, the secret shown once, a 410 turns the
subscription off, the last retry lands in the dead-letter list and admins are told, resend."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import standardwebhooks
from sqlalchemy import text

from tests.support import LiveServer, make_url


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: /ok... answers 200, /gone 410, /flaky what `flaky_status` says."""

    port: int = 0
    got: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    flaky_status: int = 500

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def received(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for p, h, b in self.got if p == path]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state.got.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            code = 200 if self.path.startswith("/ok") else 410 if self.path.startswith("/gone") else state.flaky_status
            answer = b'{"thanks": true}' if code == 200 else b"not now"
            self.send_response(code)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()


@pytest.fixture(scope="module")
def live(pg_cluster: Any, clones: Any) -> Iterator[LiveServer]:
    """One server with its job worker for the whole file (deliveries are jobs)."""
    name = clones.take()
    try:
        with LiveServer.run(make_url(pg_cluster.admin_url, name), worker=True) as server:
            yield server
    finally:
        clones.give_back(name)


_made: list[int] = []


@pytest.fixture
async def boss(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        if not _made:
            _made.append(await live.create_user("ada@example.com", role="Admin", full_name="Ada Admin"))
        await live.login(api, "ada@example.com")
        yield api


async def _until(check: Any, what: str, timeout: float = 60) -> Any:
    """Waits for the worker (the deadline only keeps a broken worker from hanging the suite)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


async def _allow_loopback(api: httpx.AsyncClient) -> None:
    response = await api.patch("/api/settings", json={"values": {"webhooks.allowed_private": "127.0.0.1"}})
    assert response.status_code == 200, response.text


async def _subscribe(api: httpx.AsyncClient, url: str, *types: str) -> dict[str, Any]:
    response = await api.post("/api/automation/webhooks", json={"name": "Shop", "url": url, "event_types": list(types)})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _deliveries(api: httpx.AsyncClient, sub_id: int, **params: Any) -> list[dict[str, Any]]:
    response = await api.get("/api/automation/deliveries", params={"subscription_id": sub_id, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _delivery(api: httpx.AsyncClient, delivery_id: int) -> dict[str, Any]:
    body: dict[str, Any] = (await api.get(f"/api/automation/deliveries/{delivery_id}")).json()
    return body


async def _lead(api: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await api.post("/api/leads", json={"person_name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_only_web_addresses_and_loopback_only_when_allowed(boss: httpx.AsyncClient, receiver: Receiver) -> None:
    body = {"name": "x", "event_types": ["lead.created"]}
    for url, words in [("ftp://example.com/hook", "http"), (receiver.url("/ok"), "private or loopback")]:
        response = await boss.post("/api/automation/webhooks", json={**body, "url": url})
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "url" and words in response.json()["message"]
    response = await boss.post(
        "/api/automation/webhooks", json={**body, "url": "http://example.com/", "event_types": ["lead.eaten"]}
    )
    assert response.status_code == 422 and response.json()["field"] == "event_types.0"
    await _allow_loopback(boss)
    made = await _subscribe(boss, receiver.url("/ok"), "lead.created")
    assert made["secret"].startswith("whsec_")
    listed = (await boss.get("/api/automation/webhooks")).json()
    assert [s["secret"] for s in listed if s["id"] == made["id"]] == [None]  # shown once


async def test_a_change_is_delivered_signed_and_logged(boss: httpx.AsyncClient, receiver: Receiver) -> None:
    await _allow_loopback(boss)
    sub = await _subscribe(boss, receiver.url("/ok/signed"), "lead.created", "lead.status_changed", "lead.won")
    before = len(receiver.received("/ok/signed"))
    lead = await _lead(boss, "Webhook Wanda")
    pipelines = (await boss.get("/api/pipelines")).json()
    won = next(
        s for p in pipelines for s in p["statuses"] if s["pipeline_id"] == lead["pipeline_id"] and s["kind"] == "won"
    )
    moved = await boss.post(f"/api/leads/{lead['id']}/move", json={"status_id": won["id"], "version": lead["version"]})
    assert moved.status_code == 200, moved.text

    async def three() -> list[tuple[dict[str, str], bytes]] | None:
        got = receiver.received("/ok/signed")[before:]
        return got if len(got) >= 3 else None

    got = await _until(three, "three deliveries")
    verifier = standardwebhooks.Webhook(sub["secret"])
    types = set()
    for headers, body in got:
        message = verifier.verify(body, headers)  # raises unless the signature and timestamp hold
        if message["data"].get("id") == lead["id"]:
            types.add(message["type"])
    assert types == {"lead.created", "lead.status_changed", "lead.won"}
    created = next(json.loads(b) for _, b in got if json.loads(b)["type"] == "lead.created")
    assert created["data"]["person_name"] == "Webhook Wanda"
    # Another key cannot have signed it: the check is real.
    headers, body = got[0]
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=").verify(body, headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        verifier.verify(body.replace(b"Wanda", b"Wendy"), headers)

    async def logged() -> list[dict[str, Any]] | None:
        items = await _deliveries(boss, sub["id"], status="delivered")
        return items if len(items) >= 3 else None

    one = (await _until(logged, "the deliveries delivered"))[0]
    detail = await _delivery(boss, one["id"])
    assert detail["log"][0]["status_code"] == 200 and "thanks" in detail["log"][0]["response_excerpt"]
    assert detail["message_id"] == next(
        h["webhook-id"]
        for h, b in got
        if json.loads(b)["type"] == detail["event_type"]
        and json.loads(b)["data"]["id"] == detail["payload"]["data"]["id"]
    )


async def test_410_turns_the_subscription_off(boss: httpx.AsyncClient, receiver: Receiver) -> None:
    await _allow_loopback(boss)
    sub = await _subscribe(boss, receiver.url("/gone"), "lead.created")
    await _lead(boss, "Gone Gary")

    async def off() -> dict[str, Any] | None:
        listed = (await boss.get("/api/automation/webhooks")).json()
        mine: dict[str, Any] = next(s for s in listed if s["id"] == sub["id"])
        return mine if not mine["active"] else None

    assert "410" in (await _until(off, "the subscription turned off"))["disabled_reason"]
    [delivery] = await _deliveries(boss, sub["id"])
    assert delivery["status"] == "failed" and delivery["last_status_code"] == 410


async def test_the_last_retry_waits_in_the_dead_letters_and_admins_are_told(
    live: LiveServer, boss: httpx.AsyncClient, receiver: Receiver
) -> None:
    await _allow_loopback(boss)
    receiver.flaky_status = 503
    sub = await _subscribe(boss, receiver.url("/flaky"), "lead.created")
    await _lead(boss, "Flaky Fred")

    async def tried() -> dict[str, Any] | None:
        items = await _deliveries(boss, sub["id"])
        return items[0] if items and items[0]["attempts"] >= 1 else None

    first = await _until(tried, "the first attempt")
    assert first["status"] == "pending" and first["last_status_code"] == 503 and first["next_attempt_at"]
    # A day passes: it is on its last retry, and the retry is due now.
    async with live.session() as s:
        await s.execute(
            text("UPDATE webhook_deliveries SET attempts = 7, next_attempt_at = now() WHERE id = :i"),
            {"i": first["id"]},
        )
        await s.execute(
            text(
                "UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo' "
                "AND task_name = 'crm:automation.deliver' AND (args ->> 'delivery_id')::bigint = :i"
            ),
            {"i": first["id"]},
        )

    async def dead() -> list[dict[str, Any]] | None:
        items = await _deliveries(boss, sub["id"], status="dead")
        return items or None

    await _until(dead, "the dead-letter list")
    bell = (await boss.get("/api/notifications")).json()["items"]
    assert any(n["kind"] == "webhook_failed" for n in bell)
    receiver.flaky_status = 200
    resent = await boss.post(f"/api/automation/deliveries/{first['id']}/resend")
    assert resent.status_code == 200, resent.text

    async def delivered() -> dict[str, Any] | None:
        item = await _delivery(boss, first["id"])
        return item if item["status"] == "delivered" else None

    item = await _until(delivered, "the resend delivered")
    assert [a["status_code"] for a in item["log"]] == [200, 503, 503]


async def test_a_rule_calls_a_webhook(boss: httpx.AsyncClient, receiver: Receiver) -> None:
    await _allow_loopback(boss)
    sub = await _subscribe(boss, receiver.url("/ok/rule"), "automation.webhook")
    made = await boss.post(
        "/api/automation/rules",
        json={
            "name": "Tell the shop",
            "entity": "lead",
            "trigger": {"kind": "field_changed", "field": "territory", "to_value": "Export"},
            # The tag's UPDATE expires the lead's updated_at before the webhook reads the lead.
            "actions": [{"kind": "add_tag", "tag": "exported"}, {"kind": "call_webhook", "subscription_id": sub["id"]}],
        },
    )
    assert made.status_code == 201, made.text
    lead = await _lead(boss, "Rule Rita")
    version = lead["version"]
    edited = await boss.patch(f"/api/leads/{lead['id']}", json={"version": version, "territory": "Export"})
    assert edited.status_code == 200, edited.text

    async def called() -> list[tuple[dict[str, str], bytes]] | None:
        return receiver.received("/ok/rule") or None

    [(headers, body)] = await _until(called, "the rule's webhook call")
    message = standardwebhooks.Webhook(sub["secret"]).verify(body, headers)
    assert message["type"] == "automation.webhook"
    assert message["data"]["rule"]["name"] == "Tell the shop"
    assert message["data"]["record"]["id"] == lead["id"] and message["data"]["record"]["territory"] == "Export"
    assert message["data"]["record"]["tags"] == ["exported"]
    assert message["data"]["change"] == {"field": "territory", "old": None, "new": "Export"}


async def test_invoice_issued_payment_received_and_paid(boss: httpx.AsyncClient, receiver: Receiver) -> None:
    from tests.server.test_invoices import _client, _issued, _rate

    await _allow_loopback(boss)
    sub = await _subscribe(boss, receiver.url("/ok/money"), "invoice.issued", "invoice.paid", "payment.received")
    client = await _client(boss, "Money Ltd")
    invoice = await _issued(boss, client["id"], await _rate(boss))
    url = f"/api/invoices/{invoice['id']}/payments"
    assert (await boss.post(url, json={"amount": "100", "method": "card"})).status_code == 201
    assert (await boss.post(url, json={"amount": "18.99", "method": "cash"})).status_code == 201

    async def four() -> list[tuple[dict[str, str], bytes]] | None:
        got = receiver.received("/ok/money")
        return got if len(got) >= 4 else None

    verifier = standardwebhooks.Webhook(sub["secret"])
    got = [verifier.verify(body, headers) for headers, body in await _until(four, "four invoice deliveries")]
    assert sorted(m["type"] for m in got) == ["invoice.issued", "invoice.paid", "payment.received", "payment.received"]
    assert {m["data"]["id"] for m in got} == {invoice["id"]}


async def test_a_delivery_left_by_a_stopped_worker_goes_out_on_the_next_sweep(
    live: LiveServer, boss: httpx.AsyncClient, receiver: Receiver
) -> None:
    """A batch claims its rows with a lease: a worker killed mid-batch leaves them pending, due once
    the lease ran out, with no job of their own; the minute sweep delivers them."""
    await _allow_loopback(boss)
    sub = await _subscribe(boss, receiver.url("/ok/swept"), "lead.created")
    await _lead(boss, "Swept Sally")
    [first] = await _until(lambda: _deliveries(boss, sub["id"], status="delivered"), "the first delivery")
    async with live.session() as s:  # as the killed worker left it: claimed, lease over, no job
        await s.execute(
            text(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now() - interval '1 minute' "
                "WHERE id = :i"
            ),
            {"i": first["id"]},
        )
    before = len(receiver.received("/ok/swept"))
    ran = await boss.post("/api/admin/jobs/automation.deliver_due/run")
    assert ran.status_code == 202, ran.text

    async def again() -> list[tuple[dict[str, str], bytes]] | None:
        got = receiver.received("/ok/swept")
        return got if len(got) > before else None

    [(headers, _body)] = (await _until(again, "the sweep's delivery"))[before:]
    assert headers["webhook-id"] == first["message_id"]  # the same message: the receiver can drop a double

"""WhatsApp Business (issue #23) through HTTP and the webhook door, against a Cloud API stand-in on
loopback, with the job worker on (sending and the inbox are jobs): the handshake and the signature,
opt-in before any message, the 24-hour window, only approved templates, statuses from the webhook
(never going back, a failure in words), inbound messages on the timeline and STOP, unknown numbers
listed, hostile input."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.standins.whatsapp import CloudApiStandIn, signed
from tests.support import LiveServer

SECRET = "wa-app-secret"
VERIFY = "wa-verify-token"
PHONE = "+40722123456"


@pytest.fixture
def cloud() -> Iterator[CloudApiStandIn]:
    with CloudApiStandIn.run() as stand_in:
        stand_in.add_template("welcome", "APPROVED", "Hello {{1}}, thanks for your interest!")
        stand_in.add_template("spring_offer", "PENDING", "Spring offer: {{1}}")
        stand_in.add_template("hard_sell", "REJECTED", "BUY NOW", rejected_reason="PROMOTIONAL")
        yield stand_in


@pytest.fixture
def live(database_url: str) -> Iterator[LiveServer]:
    with LiveServer.run(database_url, worker=True) as server:
        yield server


@pytest.fixture
async def boss(live: LiveServer, cloud: CloudApiStandIn) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        await live.login_admin(api)
        values = {
            "whatsapp.phone_number_id": cloud.phone_number_id,
            "whatsapp.business_account_id": cloud.waba_id,
            "whatsapp.access_token": cloud.token,
            "whatsapp.app_secret": SECRET,
            "whatsapp.verify_token": VERIFY,
            "whatsapp.api_url": cloud.url,
        }
        changed = await api.patch("/api/settings", json={"values": values})
        assert changed.status_code == 200, changed.text
        yield api


async def until(check: Any, what: str) -> Any:
    """Poll the server until `check()` gives something truthy (jobs run on the worker)."""
    deadline = time.monotonic() + 30
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.05)


async def hook(api: httpx.AsyncClient, body: bytes) -> None:
    answer = await api.post("/webhooks/whatsapp", content=body, headers=signed(SECRET, body))
    assert answer.status_code == 200, answer.text


async def new_lead(api: httpx.AsyncClient, phone: str = PHONE) -> int:
    made = await api.post("/api/leads", json={"person_name": "Kerry Fisher", "phone": phone})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def message(api: httpx.AsyncClient, lead_id: int, **where: Any) -> dict[str, Any] | None:
    found = (await api.get(f"/api/whatsapp/leads/{lead_id}/messages")).json()
    return next((m for m in found if all(m.get(k) == v for k, v in where.items())), None)


async def test_door_handshake_signature_and_hostile_input(boss: httpx.AsyncClient, cloud: CloudApiStandIn) -> None:
    shown = (await boss.get("/api/settings")).text
    assert cloud.token not in shown and SECRET not in shown and VERIFY not in shown  # secrets are write-only
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    ok = await boss.get("/webhooks/whatsapp", params=query)
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = await boss.get("/webhooks/whatsapp", params={**query, "hub.verify_token": "guess"})
    assert bad.status_code == 403
    body = b'{"object": "whatsapp_business_account", "entry": []}'
    for headers in (signed("someone-else", body), {"Content-Type": "application/json"}):
        refused = await boss.post("/webhooks/whatsapp", content=body, headers=headers)
        assert refused.status_code == 401, refused.text
    rejected = (await boss.get("/api/integrations/events", params={"provider": "whatsapp"})).json()["items"]
    assert len(rejected) == 2 and all(e["status"] == "rejected" for e in rejected)  # logged, nothing lost
    malformed = b'{"object": "page", "entry": []}'
    assert (
        await boss.post("/webhooks/whatsapp", content=malformed, headers=signed(SECRET, malformed))
    ).status_code == 400
    lead_id = await new_lead(boss)
    for payload, field in (
        ({"text": "hi\x00there"}, "text"),
        ({"template": 2**70}, "template"),
        ({"text": "x" * 5000}, "text"),
    ):
        answer = await boss.post(f"/api/whatsapp/leads/{lead_id}/messages", json=payload)
        assert 400 <= answer.status_code < 500 and field in str(answer.json().get("field")), answer.text
    assert (await boss.put(f"/api/whatsapp/leads/{lead_id}/opt-in", json={"method": None})).status_code == 422
    # A signed but hostile inbound message (a NUL in the text, a timestamp past 64 bits) is kept, cleaned.
    hostile = json.loads(cloud.inbound_webhook(PHONE, "bad\x00text"))
    hostile["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = str(2**70)
    await hook(boss, json.dumps(hostile).encode())
    kept = await until(lambda: message(boss, lead_id, direction="in"), "the hostile message is kept")
    assert kept["body"] == "bad\ufffdtext"


async def test_opt_in_templates_window_and_statuses(boss: httpx.AsyncClient, cloud: CloudApiStandIn) -> None:
    lead_id = await new_lead(boss)
    url = f"/api/whatsapp/leads/{lead_id}/messages"
    no_consent = await boss.post(url, json={"template": "welcome"})
    assert no_consent.status_code == 422 and no_consent.json()["field"] == "opt_in", no_consent.text
    assert "opt-in" in no_consent.json()["message"]
    opted = await boss.put(f"/api/whatsapp/leads/{lead_id}/opt-in", json={"method": "Ticked the box on the web form"})
    assert opted.status_code == 200 and opted.json()["phone"] == PHONE

    synced = {t["name"]: t for t in (await boss.post("/api/whatsapp/templates/sync")).json()}
    assert {n: t["status"] for n, t in synced.items()} == {
        "welcome": "APPROVED",
        "spring_offer": "PENDING",
        "hard_sell": "REJECTED",
    }
    assert synced["hard_sell"]["reason"] == "PROMOTIONAL"
    await hook(boss, cloud.template_webhook("spring_offer", "REJECTED", reason="INCORRECT_CATEGORY"))
    await until(lambda: _outcome(boss, "spring_offer is now REJECTED"), "the template status webhook")
    listed = {t["name"]: t for t in (await boss.get("/api/whatsapp/templates")).json()}
    assert listed["spring_offer"]["status"] == "REJECTED" and listed["spring_offer"]["reason"] == "INCORRECT_CATEGORY"
    state = (await boss.get(f"/api/whatsapp/leads/{lead_id}")).json()
    assert state["can_send"] and not state["free_text"] and "24 hours" in state["reason"]
    assert [t["name"] for t in state["templates"]] == ["welcome"]

    free = await boss.post(url, json={"text": "Hi Kerry"})  # nobody wrote: outside the window
    assert free.status_code == 422 and free.json()["field"] == "text" and "24 hours" in free.json()["message"]
    for name in ("spring_offer", "hard_sell"):
        refused = await boss.post(url, json={"template": name})
        assert refused.status_code == 422 and refused.json()["field"] == "template" and "not approved" in refused.text
    assert cloud.sent == []

    sent = await boss.post(url, json={"template": "welcome"})
    assert sent.status_code == 201 and sent.json()["status"] == "queued", sent.text
    out = await until(lambda: _with_wamid(boss, lead_id, sent.json()["id"]), "the Cloud API's wamid is kept")
    assert cloud.sent[0]["type"] == "template" and cloud.sent[0]["to"] == PHONE
    assert cloud.sent[0]["template"] == {"name": "welcome", "language": {"code": "en_US"}}
    assert out["status"] == "queued"  # a 200 from the API is not "delivered"

    wamid = out["wamid"]
    await hook(boss, cloud.status_webhook(wamid, "read", PHONE))  # read arrives before delivered
    await until(lambda: message(boss, lead_id, wamid=wamid, status="read"), "read")
    await hook(boss, cloud.status_webhook(wamid, "delivered", PHONE))
    await until(lambda: _outcome(boss, "changes nothing"), "the late delivered was worked on")
    assert (await message(boss, lead_id, wamid=wamid))["status"] == "read"  # type: ignore[index]
    timeline = (await boss.get(f"/api/leads/{lead_id}/timeline")).json()["items"]
    item = next(i for i in timeline if i["kind"] == "whatsapp")
    assert item["data"]["status"] == "read" and item["data"]["template"] == "welcome"


async def _with_wamid(api: httpx.AsyncClient, lead_id: int, message_id: int) -> dict[str, Any] | None:
    found = await message(api, lead_id, id=message_id)
    return found if found and found["wamid"] else None


async def _outcome(api: httpx.AsyncClient, words: str) -> bool:
    events = (await api.get("/api/integrations/events", params={"provider": "whatsapp"})).json()["items"]
    return any(words in (e.get("outcome") or "") for e in events)


async def test_inbound_opens_the_window_stop_opts_out_and_failures_in_words(
    boss: httpx.AsyncClient, cloud: CloudApiStandIn
) -> None:
    lead_id = await new_lead(boss)
    await boss.put(f"/api/whatsapp/leads/{lead_id}/opt-in", json={"method": "Asked on the phone"})
    await hook(boss, cloud.inbound_webhook(PHONE, "Is the offer still on?"))
    inbound = await until(lambda: message(boss, lead_id, direction="in"), "the inbound message is on the lead")
    assert inbound["body"] == "Is the offer still on?"
    timeline = (await boss.get(f"/api/leads/{lead_id}/timeline")).json()["items"]
    assert any(i["kind"] == "whatsapp" and i["data"]["direction"] == "in" for i in timeline)
    state = (await boss.get(f"/api/whatsapp/leads/{lead_id}")).json()
    assert state["window_open"] and state["free_text"], state

    sent = await boss.post(f"/api/whatsapp/leads/{lead_id}/messages", json={"text": "Yes, until Friday."})
    assert sent.status_code == 201, sent.text
    out = await until(lambda: _with_wamid(boss, lead_id, sent.json()["id"]), "sent")
    assert cloud.sent[-1]["text"] == {"preview_url": False, "body": "Yes, until Friday."}
    await hook(boss, cloud.status_webhook(out["wamid"], "failed", PHONE, error_code=131047))
    failed = await until(lambda: message(boss, lead_id, id=out["id"], status="failed"), "failed")
    assert "24 hours" in failed["error"] and "131047" in failed["error"]

    await hook(boss, cloud.inbound_webhook(PHONE, "STOP"))
    await until(lambda: message(boss, lead_id, body="STOP"), "STOP is kept")
    refused = await boss.post(f"/api/whatsapp/leads/{lead_id}/messages", json={"text": "Sorry to see you go"})
    assert refused.status_code == 422 and "opted out" in refused.json()["message"]

    client = (await boss.post("/api/clients", json={"name": "Acme SRL", "phone": "+40744555666"})).json()
    await hook(boss, cloud.inbound_webhook("+40744555666", "Hello from Acme"))
    await until(lambda: _client_has(boss, client["id"], "Hello from Acme"), "the client's timeline has it")
    client_state = (await boss.get(f"/api/whatsapp/clients/{client['id']}")).json()
    assert client_state["window_open"] and not client_state["can_send"] and client_state["opt_in"] is None

    await hook(boss, cloud.inbound_webhook("+40733999888", "Who is this?"))
    unmatched = await until(lambda: _unmatched(boss), "the unknown number is listed")
    assert unmatched[0]["phone"] == "+40733999888" and unmatched[0]["lead_id"] is None


async def _unmatched(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await api.get("/api/whatsapp/unmatched")).json())


async def _client_has(api: httpx.AsyncClient, client_id: int, text: str) -> bool:
    items = (await api.get(f"/api/clients/{client_id}/timeline")).json()["items"]
    return any(i["kind"] == "whatsapp" and i["text"] == text for i in items)


async def test_a_salesperson_reaches_only_their_own_records_conversations(
    live: LiveServer, boss: httpx.AsyncClient
) -> None:
    theirs = await new_lead(boss)
    await live.create_user("sam@example.com", role="Salesperson")
    async with live.client() as sam:
        await live.login(sam, "sam@example.com")
        mine = (await sam.post("/api/leads", json={"person_name": "Sam's Lead", "phone": "+40722999888"})).json()
        assert (await sam.get(f"/api/whatsapp/leads/{mine['id']}")).status_code == 200
        for path in (f"/api/whatsapp/leads/{theirs}", f"/api/whatsapp/leads/{theirs}/messages"):
            assert (await sam.get(path)).status_code == 404, path  # as for a lead they may not see
        opt_in = await sam.put(f"/api/whatsapp/leads/{theirs}/opt-in", json={"method": "asked by phone"})
        assert opt_in.status_code == 404, opt_in.text

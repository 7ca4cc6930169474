"""WhatsApp templates written in the CRM (issue #23), the number's quality and limit, and a WhatsApp
follow-up done by sending, through HTTP and the webhook door against the Cloud API stand-in: Meta's
rules refused by field before anything leaves, submit -> PENDING -> rejected with the reason in
words -> edited (submitted again) -> approved -> sent with its {{n}} values; an edit of an approved
template makes it unusable until approved again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.standins.whatsapp import CloudApiStandIn, signed
from tests.support import ADMIN_EMAIL, LiveServer, make_url

SECRET = "wa-app-secret"
PHONE = "+40722123456"
GOOD = {
    "name": "spring_offer",
    "category": "MARKETING",
    "language": "en_US",
    "header": "Spring offer",
    "body": "Hello {{1}}, {{2}} has a spring offer for you.",
    "variables": ["contact.name", "company.name"],
    "footer": "Reply STOP to stop these messages",
    "buttons": [
        {"type": "QUICK_REPLY", "text": "Tell me more"},
        {"type": "URL", "text": "See the offer", "url": "https://example.com/offer"},
    ],
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[CloudApiStandIn]:
    with CloudApiStandIn.run() as stand_in:
        stand_in.add_template("welcome", "APPROVED", "Hello, thanks for your interest!")
        yield stand_in


@pytest.fixture(scope="module")
def live(pg_cluster: Any, clones: Any) -> Iterator[LiveServer]:
    """One server with its job worker for the file (sending and the webhook inbox are jobs)."""
    name = clones.take()
    try:
        with LiveServer.run(make_url(pg_cluster.admin_url, name), worker=True) as server:
            yield server
    finally:
        clones.give_back(name)


_ready: list[bool] = []


@pytest.fixture
async def boss(live: LiveServer, cloud: CloudApiStandIn) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        if _ready:
            await live.login(api, ADMIN_EMAIL)
            yield api
            return
        await live.login_admin(api)
        _ready.append(True)
        values = {
            "whatsapp.phone_number_id": cloud.phone_number_id,
            "whatsapp.business_account_id": cloud.waba_id,
            "whatsapp.access_token": cloud.token,
            "whatsapp.app_secret": SECRET,
            "whatsapp.verify_token": "verify",
            "whatsapp.api_url": cloud.url,
            "company.name": "Acme Windows",
        }
        changed = await api.patch("/api/settings", json={"values": values})
        assert changed.status_code == 200, changed.text
        yield api


async def until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + 30
    while not (value := await check()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.05)
    return value


async def hook(api: httpx.AsyncClient, body: bytes) -> None:
    answer = await api.post("/webhooks/whatsapp", content=body, headers=signed(SECRET, body))
    assert answer.status_code == 200, answer.text


async def template(api: httpx.AsyncClient, name: str) -> dict[str, Any]:
    return next(t for t in (await api.get("/api/whatsapp/templates")).json() if t["name"] == name)


async def opted_in_lead(api: httpx.AsyncClient, phone: str) -> int:
    made = await api.post("/api/leads", json={"person_name": "Kerry Fisher", "phone": phone})
    assert made.status_code == 201, made.text
    opted = await api.put(f"/api/whatsapp/leads/{made.json()['id']}/opt-in", json={"method": "web form"})
    assert opted.status_code == 200, opted.text
    return int(made.json()["id"])


async def test_hostile_or_malformed_templates_are_refused_by_field(boss: httpx.AsyncClient) -> None:
    for change, field in (
        ({"name": "Spring Offer!"}, "name"),
        ({"language": "english"}, "language"),
        ({"category": "PROMO"}, "category"),
        ({"body": "Hi {{1}} and {{3}}"}, "body"),
        ({"body": "Hi {{name}}"}, "body"),
        ({"variables": ["contact.name"]}, "variables"),
        ({"variables": ["contact.name", "lead.password_hash"]}, "variables"),
        ({"variables": [2**70, "company.name"]}, "variables"),
        ({"buttons": [{"type": "URL", "text": "Go", "url": "http://example.com"}]}, "buttons"),
        ({"buttons": [{"type": "PHONE_NUMBER", "text": "Call", "phone_number": "0722"}]}, "buttons"),
        ({"header": "Two\nlines"}, "header"),
        ({"header": "Hi {{1}}"}, "header"),
        ({"body": "bad\x00body"}, "body"),
        ({"body": "x" * 1025}, "body"),
        ({"name": None}, "name"),
    ):
        answer = await boss.post("/api/whatsapp/templates", json={**GOOD, **change})
        assert 400 <= answer.status_code < 500 and field in str(answer.json().get("field")), (change, answer.text)
    assert (await boss.post("/api/whatsapp/templates/99999/submit")).status_code == 404
    assert (await boss.put(f"/api/whatsapp/templates/{2**70}", json=GOOD)).status_code in (404, 422)


async def test_write_submit_reject_edit_approve_and_send(boss: httpx.AsyncClient, cloud: CloudApiStandIn) -> None:
    made = await boss.post("/api/whatsapp/templates", json=GOOD)
    assert made.status_code == 201, made.text
    draft = made.json()
    assert draft["status"] == "DRAFT" and draft["status_words"] == "Not submitted yet" and cloud.submitted == []
    again = await boss.post("/api/whatsapp/templates", json=GOOD)
    assert again.status_code == 422 and again.json()["field"] == "name"

    lead_id = await opted_in_lead(boss, PHONE)
    url = f"/api/whatsapp/leads/{lead_id}/messages"
    refused = await boss.post(url, json={"template": "spring_offer"})
    assert refused.status_code == 422 and refused.json()["field"] == "template" and "not approved" in refused.text

    submitted = await boss.post(f"/api/whatsapp/templates/{draft['id']}/submit")
    assert submitted.status_code == 200 and submitted.json()["status"] == "PENDING", submitted.text
    sent_to_meta = cloud.submitted[-1]
    assert sent_to_meta["name"] == "spring_offer" and sent_to_meta["category"] == "MARKETING"
    parts = {p["type"]: p for p in sent_to_meta["components"]}
    assert parts["HEADER"] == {"type": "HEADER", "format": "TEXT", "text": "Spring offer"}
    assert parts["BODY"]["example"] == {"body_text": [["Kerry Fisher", "Our Company"]]}
    assert [b["type"] for b in parts["BUTTONS"]["buttons"]] == ["QUICK_REPLY", "URL"]
    twice = await boss.post(f"/api/whatsapp/templates/{draft['id']}/submit")
    assert twice.status_code == 409 and "waiting for approval" in twice.json()["message"]

    await hook(boss, cloud.review("spring_offer", "REJECTED", reason="INCORRECT_CATEGORY"))
    rejected = await until(
        lambda: _with_status(boss, "spring_offer", "REJECTED"), "the rejection arrives by the webhook"
    )
    assert "category does not fit" in rejected["reason_words"] and "INCORRECT_CATEGORY" in rejected["reason_words"]

    renamed = await boss.put(f"/api/whatsapp/templates/{draft['id']}", json={**GOOD, "name": "spring_offer_2"})
    assert renamed.status_code == 422 and renamed.json()["field"] == "name"
    edited = await boss.put(f"/api/whatsapp/templates/{draft['id']}", json={**GOOD, "category": "UTILITY"})
    assert edited.status_code == 200 and edited.json()["status"] == "PENDING", edited.text
    assert edited.json()["reason"] is None
    # POST /{template-id}: the category in a call of its own, then the components
    assert cloud.submitted[-2] == {"id": cloud.submitted[-1]["id"], "category": "UTILITY"}
    assert {p["type"] for p in cloud.submitted[-1]["components"]} == {"HEADER", "BODY", "FOOTER", "BUTTONS"}

    await hook(boss, cloud.review("spring_offer", "APPROVED"))
    await until(lambda: _with_status(boss, "spring_offer", "APPROVED"), "the approval arrives")
    sent = await boss.post(url, json={"template": "spring_offer"})
    assert sent.status_code == 201, sent.text
    assert sent.json()["body"] == "Hello Kerry Fisher, Acme Windows has a spring offer for you."
    await until(lambda: _sent_named(cloud, "spring_offer"), "the job sends it")
    body = (await _sent_named(cloud, "spring_offer"))["template"]  # type: ignore[index]
    assert body["components"] == [
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Kerry Fisher"}, {"type": "text", "text": "Acme Windows"}],
        }
    ]

    # An approved template edited is submitted again and cannot be sent until approved again.
    changed = {**GOOD, "category": "UTILITY", "body": "Hi {{1}}, {{2}} has news for you."}
    reedited = await boss.put(f"/api/whatsapp/templates/{draft['id']}", json=changed)
    assert reedited.status_code == 200 and reedited.json()["status"] == "PENDING"
    category = await boss.put(f"/api/whatsapp/templates/{draft['id']}", json={**changed, "category": "MARKETING"})
    assert category.status_code == 200  # not approved now: Meta allows a category change
    blocked = await boss.post(url, json={"template": "spring_offer"})
    assert blocked.status_code == 422 and "not approved" in blocked.text
    audit = (await boss.get("/api/audit", params={"entity": "whatsapp_template"})).json()
    assert {"created", "submitted", "resubmitted"} <= {e["action"] for e in audit["items"]}


async def _with_status(api: httpx.AsyncClient, name: str, status: str) -> dict[str, Any] | None:
    found = await template(api, name)
    return found if found["status"] == status else None


async def _sent_named(cloud: CloudApiStandIn, name: str) -> dict[str, Any] | None:
    return next((b for b in cloud.sent if (b.get("template") or {}).get("name") == name), None)


async def test_quality_rating_and_messaging_limit(boss: httpx.AsyncClient, cloud: CloudApiStandIn) -> None:
    number = (await boss.get("/api/whatsapp/number")).json()
    assert number["quality_rating"] == "GREEN" and number["messaging_limit_tier"] == "TIER_1K"
    assert number["daily_limit"] == 1000 and "high" in number["words"] and "1,000 customers a day" in number["words"]
    cloud.quality_rating, cloud.messaging_limit_tier = "RED", "TIER_250"
    try:
        number = (await boss.get("/api/whatsapp/number")).json()
        assert "low" in number["words"] and number["daily_limit"] == 250
    finally:
        cloud.quality_rating, cloud.messaging_limit_tier = "GREEN", "TIER_1K"


async def test_a_whatsapp_follow_up_is_done_by_sending(boss: httpx.AsyncClient, cloud: CloudApiStandIn) -> None:
    await boss.post("/api/whatsapp/templates/sync")
    lead_id = await opted_in_lead(boss, "+40722000111")
    due = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    follow_up = (
        await boss.post("/api/follow-ups", json={"lead_id": lead_id, "kind": "whatsapp", "due_at": due})
    ).json()
    call = (await boss.post("/api/follow-ups", json={"lead_id": lead_id, "kind": "call", "due_at": due})).json()
    url = f"/api/whatsapp/follow-ups/{follow_up['id']}/messages"

    outside = await boss.post(url, json={"version": follow_up["version"], "text": "Hi Kerry"})
    assert outside.status_code == 422 and outside.json()["field"] == "text"  # nobody wrote in 24 h
    still = (await boss.get(f"/api/follow-ups/{follow_up['id']}")).json()
    assert still["status"] == "open"  # a refused message leaves it open
    wrong_kind = await boss.post(
        f"/api/whatsapp/follow-ups/{call['id']}/messages", json={"version": call["version"], "template": "welcome"}
    )
    assert wrong_kind.status_code == 422 and wrong_kind.json()["field"] == "kind"
    stale = await boss.post(url, json={"version": follow_up["version"] + 5, "template": "welcome"})
    assert stale.status_code == 409
    hostile = await boss.post(url, json={"version": 2**70, "template": "welcome"})
    assert hostile.status_code == 422 and "version" in str(hostile.json()["field"])

    done = await boss.post(url, json={"version": follow_up["version"], "template": "welcome"})
    assert done.status_code == 201, done.text
    answer = done.json()
    assert answer["follow_up"]["status"] == "done" and "welcome" in answer["follow_up"]["outcome"]
    assert answer["message"]["template_name"] == "welcome" and answer["message"]["status"] == "queued"
    await until(lambda: _sent_to(cloud, "+40722000111"), "the job sends it")
    again = await boss.post(url, json={"version": answer["follow_up"]["version"], "template": "welcome"})
    assert again.status_code == 409 and again.json()["code"] == "not_open"


async def _sent_to(cloud: CloudApiStandIn, phone: str) -> bool:
    return any(b.get("to") == phone for b in cloud.sent)


async def test_pause_flag_and_reinstatement_follow_the_webhook(boss: httpx.AsyncClient, cloud: CloudApiStandIn) -> None:
    await boss.post("/api/whatsapp/templates/sync")
    welcome = next(t for t in cloud.templates if t["name"] == "welcome")
    template_id = int(welcome["id"])

    async def status_after(event: str, words: str, **extra: Any) -> dict[str, Any]:
        await hook(boss, cloud.template_webhook("welcome", event, template_id=template_id, **extra))
        await until(lambda: _outcome(boss, words), f"the {event} event was worked on")
        return await template(boss, "welcome")

    flagged = await status_after("FLAGGED", "flagged noted")
    assert flagged["status"] == "APPROVED"  # at risk, still sendable
    pause = {"title": "FIRST_PAUSE", "description": "Paused for 3 hours because of low quality."}
    paused = await status_after("PAUSED", "welcome is now PAUSED", other_info=pause)
    assert paused["status_words"] == "Paused by WhatsApp (low quality)"
    assert paused["reason_words"] == "Paused for 3 hours because of low quality."
    back = await status_after("REINSTATED", "welcome is now APPROVED")
    assert back["status"] == "APPROVED" and back["reason"] is None


async def _outcome(api: httpx.AsyncClient, words: str) -> bool:
    events = (await api.get("/api/integrations/events", params={"provider": "whatsapp"})).json()["items"]
    return any(words in (e.get("outcome") or "") for e in events)

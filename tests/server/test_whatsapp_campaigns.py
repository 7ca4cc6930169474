"""WhatsApp campaigns on the campaign engine (issue #23) through HTTP, the webhook door and the job
worker, against the Cloud API stand-in: only opted-in numbers get it, an approved template only,
the daily limit is the number's tier, outside business hours it is held (nothing sent) and the
minute job resumes it at opening; results count delivered, read, failed by reason and replies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.standins.whatsapp import CloudApiStandIn, signed
from tests.support import LiveServer, make_url

SECRET = "wa-app-secret"
ANA, BOB, CID = "+40722100001", "+40722100002", "+40722100003"
FILTERS = {"q": "Wabash"}


@pytest.fixture(scope="module")
def cloud() -> Iterator[CloudApiStandIn]:
    with CloudApiStandIn.run() as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def live(pg_cluster: Any, clones: Any) -> Iterator[LiveServer]:
    name = clones.take()
    try:
        with LiveServer.run(make_url(pg_cluster.admin_url, name), worker=True) as server:
            yield server
    finally:
        clones.give_back(name)


def closed_hours() -> str:
    """An hour of the day that is not now (UTC), so the business is closed now."""
    hour = (datetime.now(UTC).hour + 12) % 24
    return f"{hour:02d}:00-{hour:02d}:59"


@pytest.fixture
async def boss(live: LiveServer, cloud: CloudApiStandIn) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        await live.login_admin(api)
        values = {
            "whatsapp.phone_number_id": cloud.phone_number_id,
            "whatsapp.business_account_id": cloud.waba_id,
            "whatsapp.access_token": cloud.token,
            "whatsapp.app_secret": SECRET,
            "whatsapp.verify_token": "verify",
            "whatsapp.api_url": cloud.url,
            "tickets.time_zone": "UTC",
            "tickets.business_days": "1-7",
            "tickets.business_hours": closed_hours(),
        }
        changed = await api.patch("/api/settings", json={"values": values})
        assert changed.status_code == 200, changed.text
        yield api


async def until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + 60  # 1.5 s alone
    while not (value := await check()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.1)
    return value


async def hook(api: httpx.AsyncClient, body: bytes) -> None:
    answer = await api.post("/webhooks/whatsapp", content=body, headers=signed(SECRET, body))
    assert answer.status_code == 200, answer.text


async def lead(api: httpx.AsyncClient, name: str, phone: str | None, opted_in: bool) -> int:
    made = await api.post("/api/leads", json={"person_name": name, "company": "Wabash Windows", "phone": phone})
    assert made.status_code == 201, made.text
    if opted_in:
        opted = await api.put(f"/api/whatsapp/leads/{made.json()['id']}/opt-in", json={"method": "web form"})
        assert opted.status_code == 200, opted.text
    return int(made.json()["id"])


async def approved_template(api: httpx.AsyncClient, cloud: CloudApiStandIn) -> int:
    body = {
        "name": "spring_promo",
        "category": "MARKETING",
        "language": "en_US",
        "body": "Hi {{1}}, spring prices are in.",
        "variables": ["contact.name"],
    }
    made = (await api.post("/api/whatsapp/templates", json=body)).json()
    assert (await api.post(f"/api/whatsapp/templates/{made['id']}/submit")).status_code == 200
    await hook(api, cloud.review("spring_promo", "APPROVED"))

    async def approved() -> bool:
        listed = (await api.get("/api/whatsapp/templates")).json()
        return any(t["id"] == made["id"] and t["status"] == "APPROVED" for t in listed)

    await until(approved, "the template is approved")
    return int(made["id"])


async def test_a_campaign_to_opted_in_numbers_in_business_hours_only(
    boss: httpx.AsyncClient, cloud: CloudApiStandIn
) -> None:
    ana = await lead(boss, "Ana Pop", ANA, True)
    bob = await lead(boss, "Bob Ionescu", BOB, True)
    await lead(boss, "Cid Nou", CID, False)  # no opt-in: never gets it
    await lead(boss, "Dan Fara", None, False)  # no phone
    counted = await boss.post("/api/whatsapp/campaigns/audience", json={"entity": "lead", "filters": FILTERS})
    assert counted.status_code == 200, counted.text
    assert counted.json()["eligible"] == 2
    assert counted.json()["excluded"] | {} == {"no_phone": 1, "no_opt_in": 1, "opted_out": 0, "duplicate": 0}

    pending = (
        await boss.post(
            "/api/whatsapp/templates",
            json={"name": "not_yet", "category": "MARKETING", "language": "en_US", "body": "Soon"},
        )
    ).json()
    base = {"name": "Spring on WhatsApp", "entity": "lead", "filters": FILTERS}
    for change, field in (
        ({"template_id": pending["id"]}, "template_id"),  # a draft, not approved
        ({"template_id": 2**70}, "template_id"),
        ({"template_id": 1, "name": "two\nlines"}, "name"),
        ({"template_id": 1, "entity": "contact"}, "entity"),
        ({"template_id": 1, "filters": {"nope": 1}}, "filters.nope"),
        ({"template_id": 1, "per_minute": 0}, "per_minute"),
    ):
        refused = await boss.post("/api/whatsapp/campaigns", json={**base, **change})
        assert 400 <= refused.status_code < 500 and field in str(refused.json().get("field")), (change, refused.text)

    template_id = await approved_template(boss, cloud)
    made = await boss.post("/api/whatsapp/campaigns", json={**base, "template_id": template_id})
    assert made.status_code == 201, made.text
    campaign = made.json()
    assert campaign["channel"] == "whatsapp" and campaign["status"] == "draft"
    wrong_door = await boss.post(f"/api/campaigns/{campaign['id']}/start")
    assert wrong_door.status_code == 409 and wrong_door.json()["field"] == "channel"

    started = await boss.post(f"/api/whatsapp/campaigns/{campaign['id']}/start")
    assert started.status_code == 200 and started.json()["status"] == "sending", started.text
    results_url = f"/api/whatsapp/campaigns/{campaign['id']}/results"

    async def held() -> dict[str, Any] | None:
        found = (await boss.get(results_url)).json()
        return found if found["held_for_hours"] and found["status"] == "paused" else None

    waiting = await until(held, "outside business hours the campaign is held")
    assert waiting["sent"] == 0 and waiting["queued"] == 2 and waiting["daily_limit"] == 1000  # the TIER_1K
    assert not [b for b in cloud.sent if b["to"] in (ANA, BOB)]
    ran = await boss.post("/api/admin/jobs/whatsapp.campaign_hours/run")
    assert ran.status_code == 202, ran.text
    await until(lambda: _job_done(boss, ran.json()), "the hours job ran")
    assert (await boss.get(results_url)).json()["status"] == "paused"  # still closed: still held

    opened = await boss.patch("/api/settings", json={"values": {"tickets.business_hours": "00:00-23:59:59"}})
    assert opened.status_code == 200, opened.text
    assert (await boss.post("/api/admin/jobs/whatsapp.campaign_hours/run")).status_code == 202

    async def done() -> dict[str, Any] | None:
        found = (await boss.get(results_url)).json()
        return found if found["status"] == "done" else None

    finished = await until(done, "the campaign is sent once the hours begin")
    assert finished["sent"] == 2 and not finished["held_for_hours"], str(finished)
    sent = {b["to"]: b for b in cloud.sent if b["to"] in (ANA, BOB, CID)}
    assert set(sent) == {ANA, BOB}  # never to the number without opt-in
    assert sent[ANA]["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Ana Pop"}]}
    ]

    wamids = {phone: await _wamid(boss, lead_id) for phone, lead_id in ((ANA, ana), (BOB, bob))}
    await hook(boss, cloud.status_webhook(wamids[ANA], "read", ANA))
    await hook(boss, cloud.status_webhook(wamids[BOB], "failed", BOB, error_code=131026))
    # Meta stamps a message in whole seconds: a reply in the second the campaign started (here as soon as
    # the run is quick, under a second from start to reply) counts; it was missed against the start's
    # microseconds (the "known bug" seen after the DKIM tests, which only made this run faster).
    started_at = datetime.fromisoformat((await boss.get(f"/api/campaigns/{campaign['id']}")).json()["started_at"])
    reply = cloud.inbound_webhook(ANA, "Send me the prices", name="Ana Pop", timestamp=int(started_at.timestamp()))
    await hook(boss, reply)

    async def counted_back() -> dict[str, Any] | None:
        found = (await boss.get(results_url)).json()
        return found if found["read"] == 1 and found["failed"] == 1 and found["replies"] == 1 else None

    final = await until(counted_back, "the statuses and the reply count")
    assert final["delivered"] == 1  # read counts as delivered
    (reason,) = final["failed_by_reason"]
    assert "131026" in reason and "not be delivered" in reason


async def _job_done(api: httpx.AsyncClient, run: dict[str, Any]) -> bool:
    runs = (await api.get("/api/admin/jobs", params={"task": run["task"]})).json()
    return any(r["id"] == run["id"] and r["status"] == "succeeded" for r in runs)


async def _wamid(api: httpx.AsyncClient, lead_id: int) -> str:
    async def found() -> str | None:
        rows = (await api.get(f"/api/whatsapp/leads/{lead_id}/messages")).json()
        return next((m["wamid"] for m in rows if m["wamid"]), None)

    return str(await until(found, "the message's wamid"))

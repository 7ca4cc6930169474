"""E-mail campaigns (issue #22) through HTTP, with the job worker and the real loopback SMTP server:
the audience counted with each exclusion; a campaign sent with tracking rewritten in and the RFC 8058
headers; opens by privacy proxies and prefetchers kept apart from people's; a signed click redirects
only to the campaign's own link (a tampered one is refused); the unsubscribe GET changes nothing and
the one-click POST suppresses; the per-minute throttle holds (counted in its window, no sleeping);
scheduled, paused and cancelled campaigns send nothing; hostile input gets a 4xx naming the field."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

import dkim  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy import text

from tests.server.conftest import MailServer
from tests.support import LiveServer, Smtp

GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
READER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0"


@pytest.fixture(scope="module")
def mailbox(mail_server: MailServer) -> Smtp:
    return mail_server.mailbox


@pytest.fixture(scope="module")
def live(mail_server: MailServer) -> LiveServer:
    """The e-mail files' shared server, with its worker (tests/server/conftest.py)."""
    return mail_server.live


_ready: list[bool] = []


@pytest.fixture
async def boss(mail_server: MailServer, live: LiveServer, mailbox: Smtp) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        await mail_server.login_admin(api)
        if not _ready:
            values = {**mailbox.settings(), "company.name": "Northwind", "app.public_url": live.base_url}
            assert (await api.patch("/api/settings", json={"values": values})).status_code == 200
            _ready.append(True)
        yield api


async def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


async def _leads(
    api: httpx.AsyncClient, tag: str, people: Sequence[tuple[str, str | None]], consent: bool = True
) -> None:
    for name, address in people:
        await _ok(await api.post("/api/leads", json={"person_name": name, "email": address, "tags": [tag]}), 201)
    addresses = [a for _, a in people if a]
    if consent and addresses:
        await _ok(await api.post("/api/campaigns/consents", json={"addresses": addresses, "source": "web form"}))


def _campaign(tag: str, **more: Any) -> dict[str, Any]:
    return {
        "name": f"Spring {tag}",
        "entity": "lead",
        "filters": {"tag": tag},
        "subject": "Hello {{lead.person_name}}",
        "body": "Dear {{lead.person_name}},\n\nSee https://shop.example/spring?a=1&b=2 now.\n\nNorthwind",
        **more,
    }


async def _wait(api: httpx.AsyncClient, campaign_id: int, done: Any, timeout: float = 30) -> dict[str, Any]:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = await _ok(await api.get(f"/api/campaigns/{campaign_id}"))
        if done(found):
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.1)


async def _machine_opens(live: LiveServer, campaign_id: int) -> dict[str, int]:
    async with live.session() as s:
        rows = await s.execute(
            text(
                "SELECT r.address, count(*) FROM campaign_events e JOIN campaign_recipients r ON r.id = e.recipient_id"
                " WHERE e.campaign_id = :c AND e.kind = 'open' AND e.machine GROUP BY r.address"
            ),
            {"c": campaign_id},
        )
        return {address: n for address, n in rows.all()}


def _to(mailbox: Smtp, address: str) -> list[EmailMessage]:
    return [m for m in mailbox.messages if m["To"] == address]


async def test_audience_counts_each_exclusion(boss: httpx.AsyncClient) -> None:
    await _leads(
        boss,
        "aud",
        [("Ana", "ana@aud.example"), ("Ana again", "ANA@aud.example"), ("Bob", "bob@aud.example"), ("No Mail", None)],
    )
    await _leads(boss, "aud", [("Cid", "cid@aud.example")], consent=False)
    await _ok(await boss.post("/api/emails/suppressions", json={"address": "bob@aud.example", "reason": "asked"}), 201)
    counted = await _ok(await boss.post("/api/campaigns/audience", json={"entity": "lead", "filters": {"tag": "aud"}}))
    assert counted["matching"] == 5 and counted["eligible"] == 1
    assert counted["excluded"] == {
        "no_address": 1,
        "unsubscribed": 0,
        "bounced": 0,
        "complained": 0,
        "suppressed": 1,
        "never_consented": 1,
        "duplicate": 1,
    }


async def test_send_track_click_and_unsubscribe(boss: httpx.AsyncClient, live: LiveServer, mailbox: Smtp) -> None:
    await _leads(boss, "spring", [("Dana Pop", "dana@spring.example"), ("Eve Ion", "eve@spring.example")])
    campaign = await _ok(await boss.post("/api/campaigns", json=_campaign("spring")), 201)
    assert campaign["status"] == "draft"
    started = await _ok(await boss.post(f"/api/campaigns/{campaign['id']}/start"))
    assert started["counts"]["total"] == 2
    done = await _wait(boss, campaign["id"], lambda c: c["status"] == "done")
    assert done["counts"]["sent"] == 2
    [message] = _to(mailbox, "dana@spring.example")
    assert len(_to(mailbox, "eve@spring.example")) == 1
    assert message["Subject"] == "Hello Dana Pop"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe_url.startswith(f"{live.base_url}/track/u/")
    html_part = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text_part = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "https://shop.example" not in text_part  # the link goes through the click redirect
    [pixel] = re.findall(r'<img src="([^"]+)"', html_part)
    [click] = re.findall(r'<a href="([^"]+/track/c/[^"]+)"', html_part)
    recipients = (await _ok(await boss.get(f"/api/campaigns/{campaign['id']}/recipients")))["items"]
    dana = next(r for r in recipients if r["address"] == "dana@spring.example")
    eve = next(r for r in recipients if r["address"] == "eve@spring.example")
    [eve_message] = _to(mailbox, "eve@spring.example")
    [eve_pixel] = re.findall(r'<img src="([^"]+)"', eve_message.get_body(("html",)).get_content())  # type: ignore[union-attr]

    async with httpx.AsyncClient(timeout=10) as web:
        # A scanner fetching seconds after the hand-off (the hand-off time set, not waited for): a machine.
        async with live.session() as s:
            await s.execute(text("UPDATE campaign_recipients SET handed_at = now() WHERE id = :id"), {"id": eve["id"]})
        assert (await web.get(eve_pixel, headers={"User-Agent": READER})).status_code == 200
        # From here on, a minute after delivery (the hand-off moved back a minute).
        async with live.session() as s:
            await s.execute(text("UPDATE campaign_recipients SET handed_at = now() - interval '1 minute'"))
        # Gmail's image proxy, and Apple Mail Privacy Protection (Apple's network, a bare user agent,
        # through the proxy that forwards for it): machine opens, no engagement.
        gif = await web.get(pixel, headers={"User-Agent": GMAIL_PROXY})
        assert gif.headers["content-type"] == "image/gif"
        apple = {"User-Agent": "Mozilla/5.0", "X-Forwarded-For": "17.58.101.7"}
        assert (await web.get(eve_pixel, headers=apple)).status_code == 200
        # Dana's own mail program: a person.
        assert (await web.get(pixel, headers={"User-Agent": READER})).status_code == 200
        answer = await web.get(click, headers={"User-Agent": READER})
        assert answer.status_code == 302 and answer.headers["location"] == "https://shop.example/spring?a=1&b=2"
        tampered = click[:-3] + ("AAA" if not click.endswith("AAA") else "BBB")
        refused = await web.get(tampered, headers={"User-Agent": READER})
        assert refused.status_code == 404 and "location" not in refused.headers
        other_link = re.sub(r"/track/c/(\d+)\.0\.", r"/track/c/\1.7.", click)
        assert (await web.get(other_link)).status_code == 404

        page = await web.get(unsubscribe_url)  # what a link scanner does: nothing changes
        assert page.status_code == 200 and 'method="post"' in page.text
        found = await _ok(await boss.get("/api/emails/suppressions", params={"q": "dana@spring.example"}))
        assert found["total"] == 0
        one_click = await web.post(
            unsubscribe_url,
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert one_click.status_code == 200, one_click.text
        assert (await web.post(unsubscribe_url)).status_code == 200  # twice is fine
    [entry] = (await _ok(await boss.get("/api/emails/suppressions", params={"q": "dana@spring.example"})))["items"]
    assert entry["source"] == "unsubscribe"

    results = await _ok(await boss.get(f"/api/campaigns/{campaign['id']}/results"))
    counts = results["counts"]
    assert (counts["opened_people"], counts["opened_machines"], counts["clicked"], counts["unsubscribed"]) == (
        1,  # Dana
        2,  # Dana's through Gmail's proxy; Eve's by a scanner and Apple's proxy
        1,
        1,
    )
    events = await _machine_opens(live, campaign["id"])
    assert events == {"dana@spring.example": 1, "eve@spring.example": 2}
    assert results["links"] == [{"url": "https://shop.example/spring?a=1&b=2", "clicks": 1, "people": 1}]
    assert sum(p["sent"] for p in results["timeline"]) == 2
    score = await _ok(await boss.get(f"/api/campaigns/engagement/lead/{dana['entity_id']}"))
    assert (score["opens"], score["clicks"], score["score"]) == (1, 1, 4)
    eve = next(r for r in recipients if r["address"] == "eve@spring.example")
    assert (await _ok(await boss.get(f"/api/campaigns/engagement/lead/{eve['entity_id']}")))["score"] == 0
    filtered = await _ok(await boss.get("/api/leads", params={"tag": "spring", "min_engagement": 1}))
    assert [lead["email"] for lead in filtered["items"]] == ["dana@spring.example"]
    again = await _ok(await boss.post("/api/campaigns/audience", json={"entity": "lead", "filters": {"tag": "spring"}}))
    assert again["excluded"]["unsubscribed"] == 1 and again["eligible"] == 1


async def test_per_minute_throttle_holds(boss: httpx.AsyncClient, live: LiveServer, mailbox: Smtp) -> None:
    """The limit is the mailbox's (every e-mail campaign counts): earlier tests' hand-offs are moved
    two days back, as if that time had passed."""
    people = [(f"T{i}", f"t{i}@throttle.example") for i in range(4)]
    await _leads(boss, "throttle", people)
    async with live.session() as s:
        await s.execute(text("UPDATE campaign_recipients SET handed_at = handed_at - interval '2 days'"))
    body = _campaign("throttle", per_minute=2, preset="custom")
    campaign = await _ok(await boss.post("/api/campaigns", json=body), 201)
    await _ok(await boss.post(f"/api/campaigns/{campaign['id']}/start"))
    waiting = await _wait(boss, campaign["id"], lambda c: c["next_batch_at"] is not None and c["counts"]["sent"] == 2)
    assert sum(len(_to(mailbox, a)) for _, a in people) == 2
    sent = [
        r for r in (await _ok(await boss.get(f"/api/campaigns/{campaign['id']}/recipients")))["items"] if r["sent_at"]
    ]
    first = min(datetime.fromisoformat(r["sent_at"]) for r in sent)
    assert datetime.fromisoformat(waiting["next_batch_at"]) >= first + timedelta(seconds=55)
    assert waiting["counts"]["queued"] == 2
    cancelled = await _ok(await boss.post(f"/api/campaigns/{campaign['id']}/cancel"))
    assert cancelled["status"] == "cancelled" and cancelled["counts"]["cancelled"] == 2


async def test_a_campaign_to_contacts_of_clients(boss: httpx.AsyncClient, mailbox: Smtp) -> None:
    """Contacts of the clients a client-list filter shows, each with the client's name to merge."""
    client = await _ok(
        await boss.post("/api/clients", json={"name": "Zeta Works", "email": "office@zeta.example"}), 201
    )
    for name, address in (("Zoe", "zoe@zeta.example"), ("Zack", "zack@zeta.example")):
        made = await boss.post(f"/api/clients/{client['id']}/contacts", json={"name": name, "email": address})
        assert made.status_code == 201, made.text
    await _ok(await boss.post("/api/campaigns/consents", json={"addresses": ["zoe@zeta.example"], "source": "call"}))
    filters = {"q": "zeta works"}
    counted = await _ok(await boss.post("/api/campaigns/audience", json={"entity": "contact", "filters": filters}))
    assert (counted["matching"], counted["eligible"], counted["excluded"]["never_consented"]) == (2, 1, 1)
    body = {
        **_campaign("contacts"),
        "entity": "contact",
        "filters": filters,
        "subject": "For {{client.name}}",
        "body": "Hello {{contact.name}}",
    }
    campaign = await _ok(await boss.post("/api/campaigns", json=body), 201)
    await _ok(await boss.post(f"/api/campaigns/{campaign['id']}/start"))
    await _wait(boss, campaign["id"], lambda c: c["status"] == "done")
    [message] = _to(mailbox, "zoe@zeta.example")
    assert message["Subject"] == "For Zeta Works"
    assert "Hello Zoe" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert _to(mailbox, "zack@zeta.example") == []


async def test_a_scheduled_campaign_sends_at_its_time(boss: httpx.AsyncClient, mailbox: Smtp) -> None:
    await _leads(boss, "soon", [("Sam", "sam@soon.example")])
    at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    campaign = await _ok(await boss.post("/api/campaigns", json=_campaign("soon", scheduled_at=at)), 201)
    assert (await _ok(await boss.post(f"/api/campaigns/{campaign['id']}/start")))["status"] == "scheduled"
    done = await _wait(boss, campaign["id"], lambda c: c["status"] == "done")
    assert datetime.fromisoformat(done["started_at"]) >= datetime.fromisoformat(at)
    assert len(_to(mailbox, "sam@soon.example")) == 1


async def test_scheduled_paused_cancelled_send_nothing(boss: httpx.AsyncClient, mailbox: Smtp) -> None:
    await _leads(boss, "later", [("Lu", "lu@later.example")])
    at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    campaign = await _ok(await boss.post("/api/campaigns", json=_campaign("later", scheduled_at=at)), 201)
    assert (await _ok(await boss.post(f"/api/campaigns/{campaign['id']}/start")))["status"] == "scheduled"
    assert (await _ok(await boss.post(f"/api/campaigns/{campaign['id']}/pause")))["status"] == "paused"
    refused = await boss.post(f"/api/campaigns/{campaign['id']}/start")
    assert refused.status_code == 409 and refused.json()["field"] == "status"
    assert (await _ok(await boss.post(f"/api/campaigns/{campaign['id']}/cancel")))["status"] == "cancelled"
    assert _to(mailbox, "lu@later.example") == []


async def test_campaigns_are_their_authors_and_not_every_roles(boss: httpx.AsyncClient, live: LiveServer) -> None:
    campaign = await _ok(await boss.post("/api/campaigns", json=_campaign("mine")), 201)
    await live.create_user("mona@example.com", role="Manager")
    await live.create_user("sally@example.com")
    async with live.client() as mona:
        await live.login(mona, "mona@example.com")
        for path in ("", "/results", "/recipients"):
            assert (await mona.get(f"/api/campaigns/{campaign['id']}{path}")).status_code == 404
        assert (await mona.post(f"/api/campaigns/{campaign['id']}/start")).status_code == 404
        assert (await _ok(await mona.get("/api/campaigns")))["total"] == 0
    async with live.client() as sally:  # a salesperson sends from records, not to whole lists
        await live.login(sally, "sally@example.com")
        assert (await sally.get("/api/campaigns")).status_code == 403
        answer = await sally.post("/api/campaigns/audience", json={"entity": "lead", "filters": {}})
        assert answer.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filters": {"evil": 1}}, "filters.evil"),
        ({"filters": {"owner_id": 2**70}}, "filters.owner_id"),
        ({"filters": {"q": "a\x00b"}}, "filters.q"),
        ({"per_minute": 2**70}, "per_minute"),
        ({"per_minute": None, "per_hour": -1}, "per_hour"),
        ({"name": "a\x00b"}, "name"),
        ({"subject": "Hi\r\nBcc: x@y.example"}, "subject"),
        ({"body": "Hi {{lead.secret}}"}, "body"),
        ({"entity": "invoice"}, "entity"),
        ({"scheduled_at": "2026-12-06T10:00:00"}, "scheduled_at"),
        ({"filters": {f"k{i}": i for i in range(40)}}, "filters"),
    ],
)
async def test_hostile_input_names_the_field(boss: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    answer = await boss.post("/api/campaigns", json={**_campaign("hostile"), **body})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["field"] == field, answer.text


async def test_hostile_ids_tokens_and_consents(boss: httpx.AsyncClient, live: LiveServer) -> None:
    for bad in (101, -1, 2**70, "x"):
        answer = await boss.get("/api/leads", params={"min_engagement": bad})
        assert answer.status_code == 422 and answer.json()["field"] == "min_engagement", answer.text
    assert (await boss.get(f"/api/campaigns/{2**70}")).status_code == 422
    answer = await boss.post(
        "/api/campaigns/consents", json={"addresses": ["ok@x.example", "not an address"], "source": "x"}
    )
    assert answer.status_code == 422 and answer.json()["field"] == "addresses.1"
    async with httpx.AsyncClient(base_url=live.base_url, timeout=10) as web:
        for path in ("/track/c/1.0.x", f"/track/c/{2**70}.0.AAAAAAAAAAAAAAAAAAAAAAAA", "/track/u/1"):
            assert (await web.get(path)).status_code == 404, path
            assert (await web.post(path)).status_code in (404, 405), path
        assert (await web.post("/track/u/%00")).status_code == 422  # the input guard refuses NUL
        assert (await web.get("/track/o/garbage.gif")).headers["content-type"] == "image/gif"


async def test_campaign_messages_are_dkim_signed(boss: httpx.AsyncClient, mailbox: Smtp) -> None:
    """With DKIM on, each campaign message is signed on its batch's connection, as a single e-mail
    is, and verifies against the record the DNS page publishes (handed to dkimpy: no DNS)."""
    await _ok(await boss.post("/api/emails/dkim/key"))
    on = {"dkim.enabled": True, "dkim.domain": "northwind.example"}
    await _ok(await boss.patch("/api/settings", json={"values": on}))
    try:
        records = (await _ok(await boss.get("/api/emails/dkim")))["records"]
        published = next(r["value"] for r in records if r["purpose"] == "DKIM").encode()
        await _leads(boss, "signed", [("Sia Sign", "sia@signed.example")])
        campaign = await _ok(await boss.post("/api/campaigns", json=_campaign("signed")), 201)
        await _ok(await boss.post(f"/api/campaigns/{campaign['id']}/start"))
        await _wait(boss, campaign["id"], lambda c: c["status"] == "done")
        [message] = _to(mailbox, "sia@signed.example")
        assert "d=northwind.example" in str(message["DKIM-Signature"])
        raw = message.as_bytes(policy=policy.default.clone(linesep="\r\n"))

        def dns(name: bytes, timeout: int = 5) -> bytes | None:
            return published if name == b"crm._domainkey.northwind.example." else None

        assert dkim.verify(raw, dnsfunc=dns)
    finally:
        await _ok(await boss.patch("/api/settings", json={"values": {"dkim.enabled": False}}))

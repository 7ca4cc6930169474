"""Facebook Lead Ads: the verification handshake, X-Hub-Signature-256 on the raw body, the Page
webhook split into events, and the leadgen handler against a Graph API stand-in on loopback (lead
fields, custom answers in the first note, source details, assignment and the owner's bell; Graph
down then up; an expired token needing re-authorization; a replay making no second lead)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from crm_server.activities.models import Note
from crm_server.admin import settings
from crm_server.admin.models import Notification
from crm_server.integrations import facebook
from crm_server.integrations.providers import BadSignature, Malformed, NeedsAttention
from crm_server.leads.models import Lead
from tests.standins.graph import GraphStandIn
from tests.support import LiveServer

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks" / "facebook"
SECRET = "test-app-secret"
VERIFY = "test-verify-token"
LEADGEN_ID = "987654321098765"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": facebook.signature(secret, body)}


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn.run(app_secret=SECRET) as stand_in:  # "Require App Secret" on, as we recommend
        stand_in.leads[LEADGEN_ID] = json.loads(fixture("graph_lead.json"))
        yield stand_in


async def configure(server: LiveServer, graph: GraphStandIn | None = None, **overrides: Any) -> None:
    values = {
        "facebook.app_secret": SECRET,
        "facebook.verify_token": VERIFY,
        "facebook.page_token": graph.token if graph else "page-token",
        **overrides,
    }
    if graph is not None:
        values["facebook.graph_url"] = graph.url
    async with server.session() as s:
        for key, value in values.items():
            await settings.put(s, key, value, None)


def leadgen_payload() -> dict[str, Any]:
    [event] = facebook.events(signed(fixture("leadgen.json")), fixture("leadgen.json"))
    return event.payload


async def run_leadgen(server: LiveServer, payload: dict[str, Any] | None = None) -> str:
    async with server.session() as s:
        return await facebook.HANDLERS["leadgen"](s, payload or leadgen_payload())


async def lead_count(server: LiveServer) -> int:
    async with server.session() as s:
        return int(await s.scalar(select(func.count()).select_from(Lead)) or 0)


# --- the door --------------------------------------------------------------------------------------


async def test_handshake_echoes_the_challenge_only_for_our_verify_token(server: LiveServer) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    async with server.session() as s:
        with pytest.raises(BadSignature):  # nothing configured: even an empty token is refused
            await facebook.handshake(s, {**query, "hub.verify_token": ""})
    await configure(server)
    async with server.session() as s:
        assert await facebook.handshake(s, query) == "1158201444"
        for bad in (
            {**query, "hub.verify_token": "guess"},
            {**query, "hub.mode": "unsubscribe"},
            {k: v for k, v in query.items() if k != "hub.verify_token"},
        ):
            with pytest.raises(BadSignature):
                await facebook.handshake(s, bad)


async def test_signature_is_checked_on_the_raw_body(server: LiveServer) -> None:
    body = fixture("leadgen.json")
    async with server.session() as s:
        with pytest.raises(BadSignature):  # no app secret yet: nothing is trusted
            await facebook.verify(s, signed(body, ""), body)
    await configure(server)
    async with server.session() as s:
        await facebook.verify(s, signed(body), body)
        await facebook.verify(s, {"x-hub-signature-256": signed(body)["X-Hub-Signature-256"]}, body)
        tampered = body.replace(b"987654321098765", b"987654321098766")
        refused = [
            (signed(body), tampered),  # body changed after signing
            (signed(body, "someone-else"), body),  # another app's secret
            ({"Content-Type": "application/json"}, body),  # unsigned
            ({"X-Hub-Signature-256": signed(body)["X-Hub-Signature-256"].removeprefix("sha256=")}, body),
            ({"X-Hub-Signature": "sha1=" + "0" * 40}, body),  # the old SHA-1 header alone is not enough
        ]
        for headers, raw in refused:
            with pytest.raises(BadSignature):
                await facebook.verify(s, headers, raw)


def test_events_one_per_change_with_the_leadgen_id_as_event_id() -> None:
    body = fixture("leadgen.json")
    [event] = facebook.events(signed(body), body)
    assert (event.event_id, event.event_type) == (LEADGEN_ID, "leadgen")
    assert {k: event.payload[k] for k in ("page_id", "form_id", "ad_id", "adgroup_id")} == {
        "page_id": "123456789012345",
        "form_id": "444444444444",
        "ad_id": "555555555555",
        "adgroup_id": "666666666666",
    }
    # Facebook batches: two entries, three changes -> three events; a feed change is acknowledged only.
    data = json.loads(body)
    second = json.loads(json.dumps(data["entry"][0]))
    second["changes"][0]["value"]["leadgen_id"] = 111
    second["changes"].append(json.loads(fixture("feed.json"))["entry"][0]["changes"][0])
    data["entry"].append(second)
    many = facebook.events({}, json.dumps(data).encode())
    assert [(e.event_id, e.event_type) for e in many][:2] == [(LEADGEN_ID, "leadgen"), ("111", "leadgen")]
    assert many[2].event_type == "feed" and "feed" in facebook.IGNORED and "feed" not in facebook.HANDLERS
    # The same feed delivery twice has the same id (a retry is a duplicate); another post does not.
    [feed] = facebook.events({}, fixture("feed.json"))
    assert facebook.events({}, fixture("feed.json"))[0].event_id == feed.event_id
    other = fixture("feed.json").replace(b"111111111111111", b"222222222222222")
    assert facebook.events({}, other)[0].event_id != feed.event_id
    # A field the CRM does not know is passed on by name (the inbox calls it an unknown event type).
    odd = body.replace(b'"leadgen"', b'"invoice_access_bank_slip_events"')
    [unknown] = facebook.events({}, odd)
    assert unknown.event_type not in facebook.HANDLERS and unknown.event_type not in facebook.IGNORED
    assert facebook.events({}, b'{"object": "page", "entry": []}') == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"object": "user", "entry": []}',
        b'{"object": "page"}',
        b'{"object": "page", "entry": [{"id": "1", "changes": [{"field": "leadgen", "value": {}}]}]}',
        b'{"object": "page", "entry": [{"id": "1", "changes": '
        b'[{"field": "leadgen", "value": {"leadgen_id": "../me"}}]}]}',
        b'{"object": "page", "entry": [{"id": "1", "changes": [{"value": {"leadgen_id": "1"}}]}]}',
        b'{"object": "page", "entry": ["x"]}',
    ],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(Malformed):
        facebook.events(signed(body), body)


async def test_test_request_is_validly_signed_and_harmless(server: LiveServer) -> None:
    await configure(server)
    async with server.session() as s:
        headers, body = facebook.test_request(await settings.get_all(s))
        await facebook.verify(s, headers, body)
    first = facebook.events(headers, body)
    assert first and all(e.event_type in facebook.IGNORED for e in first)
    again = facebook.events(*facebook.test_request({"facebook.app_secret": SECRET}))
    assert again[0].event_id != first[0].event_id  # each press is a new event


async def test_the_published_x_hub_signature_256_example_passes_the_door(
    server: LiveServer, admin: httpx.AsyncClient
) -> None:
    """Meta documents the scheme (HMAC-SHA256 of the raw body with the app secret, hex, "sha256="
    prefix) but publishes no worked example; GitHub publishes one for the same X-Hub-Signature-256
    header (docs "Validating webhook deliveries": secret "It's a Secret to Everybody", payload
    "Hello, World!"). Our check must accept exactly that signature at the door."""
    published = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    await configure(server, **{"facebook.app_secret": "It's a Secret to Everybody"})
    assert facebook.signature("It's a Secret to Everybody", b"Hello, World!") == published
    passed = await admin.post(
        "/webhooks/facebook",
        content=b"Hello, World!",
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": published},
    )
    # The signature is good; the body is not a Page webhook: refused as malformed (400), not forged (401).
    assert (passed.status_code, passed.json()["code"]) == (400, "malformed"), passed.text
    forged = await admin.post(
        "/webhooks/facebook",
        content=b"Hello, World!",
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": published[:-1] + "8"},
    )
    assert (forged.status_code, forged.json()["code"]) == (401, "bad_signature")


# --- the leadgen handler -----------------------------------------------------------------------


async def test_leadgen_makes_a_lead_with_answers_source_details_and_an_owner(
    server: LiveServer, admin: httpx.AsyncClient, graph: GraphStandIn
) -> None:
    await configure(server, graph)
    ann = await server.create_user("ann@example.com", full_name="Ann", team="Inbound")
    rule = await admin.post("/api/assignment-rules", json={"name": "Facebook", "source": "Facebook", "user_id": ann})
    assert rule.status_code == 201, rule.text
    outcome = await run_leadgen(server)
    async with server.session() as s:
        lead = await s.scalar(select(Lead))
        assert lead is not None
        assert outcome == f"Created lead #{lead.id} (Maria Ionescu)."
        assert (lead.person_name, lead.email, lead.phone, lead.company, lead.territory, lead.source) == (
            "Maria Ionescu",
            "Maria.Ionescu@example.com",
            "+40722123456",
            "Ionescu Logistics",
            "North",
            "Facebook",
        )
        assert lead.source_details == {
            "page_id": "123456789012345",
            "form_id": "444444444444",
            "ad_id": "555555555555",
            "leadgen_id": LEADGEN_ID,
        }
        assert lead.owner_id == ann and lead.created_by is None
        notes = list((await s.scalars(select(Note.body).where(Note.lead_id == lead.id))).all())
        assert notes == [
            "city: Cluj-Napoca\nhow many trucks do you run?: 10-50\nwhich modules interest you?: fleet, invoicing"
        ]
        bell = (await s.scalars(select(Notification).where(Notification.user_id == ann))).all()
        assert [(n.kind, n.entity_id) for n in bell] == [("lead_assigned", lead.id)]
    # The Graph call carried the page token and its appsecret_proof (the stand-in checks the proof)...
    [(path, query)] = graph.requests
    assert path == f"/v19.0/{LEADGEN_ID}" and query["access_token"] == graph.token
    assert query["appsecret_proof"] == hmac.new(SECRET.encode(), graph.token.encode(), hashlib.sha256).hexdigest()
    # ... in the body of a batch request, never in a URL (URLs are logged).
    assert graph.urls == ["POST /v19.0/"]
    # The API shows where the lead came from.
    shown = (await admin.get(f"/api/leads/{lead.id}")).json()
    assert shown["source_details"]["form_id"] == "444444444444"
    # A replay (the event failed after the lead was made, or an admin replays it) makes no second lead.
    assert await run_leadgen(server) == f"Lead #{lead.id} already exists for Facebook lead {LEADGEN_ID}."
    assert await lead_count(server) == 1 and len(graph.requests) == 1


async def test_first_and_last_name_and_refused_answers_go_where_they_fit(
    server: LiveServer, graph: GraphStandIn
) -> None:
    await configure(server, graph)
    graph.add_lead(
        "222",
        {
            "first_name": "Ion",
            "last_name": "Popa",
            "email": "not-an-address",
            "phone_number": "12",
            "job_title": "Fleet manager",
        },
    )
    await run_leadgen(server, {**leadgen_payload(), "leadgen_id": "222"})
    async with server.session() as s:
        lead = await s.scalar(select(Lead).where(Lead.source_details["leadgen_id"].astext == "222"))
        assert lead is not None and (lead.person_name, lead.email, lead.phone) == ("Ion Popa", None, None)
        note = await s.scalar(select(Note.body).where(Note.lead_id == lead.id))
    assert note == (
        "job title: Fleet manager\nemail (not a valid address): not-an-address\nphone (not a valid number): 12"
    )


async def test_graph_down_is_transient_and_up_again_succeeds(server: LiveServer, graph: GraphStandIn) -> None:
    await configure(server, graph)
    graph.down()
    with pytest.raises(httpx.ConnectError) as refused:
        await run_leadgen(server)
    assert not isinstance(refused.value, NeedsAttention)
    graph.up()
    graph.hiccup = True  # up, but answering 500 "please retry": still transient
    with pytest.raises(facebook.GraphUnavailable):
        await run_leadgen(server)
    assert await lead_count(server) == 0
    graph.hiccup = False
    assert (await run_leadgen(server)).startswith("Created lead #")
    assert await lead_count(server) == 1


async def test_expired_token_needs_reauthorization(server: LiveServer, graph: GraphStandIn) -> None:
    await configure(server, graph)
    async with server.session() as s:
        await facebook.check_connection(s)  # the token works
    graph.expired = True
    with pytest.raises(NeedsAttention) as expired:
        await run_leadgen(server)
    assert expired.value.reauthorize and "expired or revoked" in expired.value.reason
    async with server.session() as s:
        with pytest.raises(NeedsAttention) as check:
            await facebook.check_connection(s)
        assert check.value.reauthorize
    assert await lead_count(server) == 0
    # An admin pastes a new token: the replay goes through.
    graph.expired, graph.token = False, "renewed-token"
    await configure(server, graph)
    assert (await run_leadgen(server)).startswith("Created lead #")
    # A lead Graph does not know is a person's job too, but not a re-authorization.
    with pytest.raises(NeedsAttention) as unknown:
        await run_leadgen(server, {**leadgen_payload(), "leadgen_id": "999"})
    assert not unknown.value.reauthorize and "does not exist" in unknown.value.reason
    graph.down()
    async with server.session() as s:
        with pytest.raises(NeedsAttention) as down:
            await facebook.check_connection(s)
        assert not down.value.reauthorize and "Cannot reach" in down.value.reason


# --- end to end: through the webhook door, the inbox and its job ---------------------------------


async def wait_for(check: Any, timeout: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return result


async def test_webhook_to_lead_through_the_inbox(database_url: str, graph: GraphStandIn) -> None:
    with LiveServer.run(database_url, worker=True) as live:
        await configure(live, graph)
        async with live.client() as api:
            await live.login_admin(api)
            challenge = await api.get(
                "/webhooks/facebook",
                params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "42"},
            )
            assert (challenge.status_code, challenge.text) == (200, "42")
            body = fixture("leadgen.json")
            assert (await api.post("/webhooks/facebook", content=body, headers=signed(body, "x"))).status_code == 401
            assert (await api.post("/webhooks/facebook", content=b"{", headers=signed(b"{"))).status_code == 400
            # The token expired: the event waits for a person, the provider asks for re-authorization.
            graph.expired = True
            first = await api.post("/webhooks/facebook", content=body, headers=signed(body))
            assert first.status_code == 200 and first.json()["accepted"] == 1, first.text
            [event_id] = first.json()["ids"]

            async def settled() -> dict[str, Any] | None:
                event = (await api.get(f"/api/integrations/events/{event_id}")).json()
                return event if event["status"] not in ("pending", "failed") else None

            assert (await wait_for(settled))["status"] == "needs_attention"
            states = {s["provider"]: s for s in (await api.get("/api/integrations")).json()}
            assert states["facebook"]["state"] == "needs_reauthorization"
            # Facebook retries the delivery: stored once.
            again = await api.post("/webhooks/facebook", content=body, headers=signed(body))
            assert again.json()["duplicates"] == 1
            # An admin pastes a new token and replays the event: the lead is made.
            graph.expired, graph.token = False, "renewed-token"
            await configure(live, graph)
            replayed = await api.post(f"/api/integrations/events/{event_id}/replay")
            assert replayed.json()["status"] == "processed", replayed.text
            leads = (await api.get("/api/leads", params={"source": "Facebook"})).json()["items"]
            assert [(x["person_name"], x["source_details"]["leadgen_id"]) for x in leads] == [
                ("Maria Ionescu", LEADGEN_ID)
            ]
            states = {s["provider"]: s for s in (await api.get("/api/integrations")).json()}
            assert states["facebook"]["state"] == "connected"
            # The admin's test button: a harmless, validly signed event through the same door.
            test = (await api.post("/api/integrations/facebook/test")).json()
            assert test["ok"] and test["event"]["status"] == "ignored", test
            assert len((await api.get("/api/leads")).json()["items"]) == 1


async def test_secrets_stay_out_of_the_log(
    database_url: str, graph: GraphStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """A real webhook -> job -> Graph call, logged at INFO: httpx logs the Graph URL, uvicorn each
    request line; neither holds the page token, its appsecret_proof or the verify token."""
    caplog.set_level(logging.INFO)
    access = logging.getLogger("uvicorn.access")  # uvicorn's own handler, not propagated to the root
    with LiveServer.run(database_url, worker=True) as live:
        access.addHandler(caplog.handler)
        level = access.level
        access.setLevel(logging.INFO)
        try:
            await configure(live, graph)
            async with live.client() as api:
                await live.login_admin(api)
                challenge = await api.get(
                    "/webhooks/facebook",
                    params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "42"},
                )
                assert challenge.text == "42"
                body = fixture("leadgen.json")
                [event_id] = (await api.post("/webhooks/facebook", content=body, headers=signed(body))).json()["ids"]

                async def settled() -> dict[str, Any] | None:
                    event = (await api.get(f"/api/integrations/events/{event_id}")).json()
                    return event if event["status"] not in ("pending", "failed") else None

                assert (await wait_for(settled))["status"] == "processed"
        finally:
            access.removeHandler(caplog.handler)
            access.setLevel(level)
    lines = [record.getMessage() for record in caplog.records]
    graph_calls = [line for line in lines if f"127.0.0.1:{graph.port}" in line]
    assert graph_calls, "the Graph call was logged (httpx, INFO)"
    handshakes = [line for line in lines if "/webhooks/facebook?" in line]
    assert handshakes and all("hub.verify_token=(hidden)" in line for line in handshakes), handshakes
    proof = hmac.new(SECRET.encode(), graph.token.encode(), hashlib.sha256).hexdigest()
    written = "\n".join(lines) + caplog.text
    for secret in (graph.token, proof, VERIFY, SECRET):
        assert secret not in written

"""A rule's "send a template e-mail" and "send a WhatsApp template" actions, through HTTP with the
job worker, the real SMTP server on loopback and the WhatsApp Cloud API stand-in: the message goes
out as the rule's author would send it by hand, and what refuses a person's send (a suppressed
address, the daily limit, no opt-in) refuses the rule's, in words, in the run log. A rule cannot
be saved with a template that does not fit (another record kind, not approved)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.standins.whatsapp import CloudApiStandIn
from tests.support import ADMIN_EMAIL, LiveServer, Smtp, make_url

PHONE = "+40722123999"


@pytest.fixture(scope="module")
def live(pg_cluster: Any, clones: Any) -> Iterator[LiveServer]:
    """One server with its job worker for the file (a rule's actions and the sends are jobs)."""
    name = clones.take()
    try:
        with LiveServer.run(make_url(pg_cluster.admin_url, name), worker=True) as server:
            yield server
    finally:
        clones.give_back(name)


_ready: list[bool] = []


@pytest.fixture
async def boss(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        if _ready:
            await live.login(api, ADMIN_EMAIL)
        else:
            await live.login_admin(api)
            _ready.append(True)
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


async def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


async def _rule(api: httpx.AsyncClient, territory: str, action: dict[str, Any]) -> dict[str, Any]:
    """A lead rule: when the territory becomes `territory`, do `action`."""
    body = {
        "name": f"Send on {territory}",
        "entity": "lead",
        "trigger": {"kind": "field_changed", "field": "territory", "to_value": territory},
        "actions": [action],
    }
    made: dict[str, Any] = await _ok(await api.post("/api/automation/rules", json=body), 201)
    return made


async def _lead_moved_to(api: httpx.AsyncClient, territory: str, **fields: Any) -> dict[str, Any]:
    lead = await _ok(await api.post("/api/leads", json={"person_name": "Rhea Rule", **fields}), 201)
    moved: dict[str, Any] = await _ok(
        await api.patch(f"/api/leads/{lead['id']}", json={"version": lead["version"], "territory": territory})
    )
    return moved


async def _run(api: httpx.AsyncClient, rule_id: int, lead_id: int) -> dict[str, Any]:
    async def settled() -> dict[str, Any] | None:
        items = (await api.get("/api/automation/runs", params={"rule_id": rule_id, "entity_id": lead_id})).json()
        done = [r for r in items["items"] if r["outcome"] not in ("queued", "not_matched")]
        return done[0] if done else None

    run: dict[str, Any] = await _until(settled, f"the run of rule {rule_id} on lead {lead_id}")
    return run


async def test_a_rule_sends_a_template_email_unless_suppressed_or_over_the_limit(
    boss: httpx.AsyncClient, smtp: Smtp
) -> None:
    await _ok(await boss.patch("/api/settings", json={"values": {**smtp.settings(), "company.name": "Northwind"}}))
    template = await _ok(
        await boss.post(
            "/api/emails/templates",
            json={
                "name": "Welcome",
                "entity": "lead",
                "subject": "Welcome {{lead.person_name}} from {{company.name}}",
                "body": "Dear {{lead.person_name}},\n\nthanks for your interest.",
                "visibility": "everyone",
            },
        ),
        201,
    )
    for action, field in (
        ({"kind": "send_email"}, "actions.0.template_id"),
        ({"kind": "send_email", "template_id": 2**62}, "actions.0.template_id"),
    ):
        body = {"name": "x", "entity": "lead", "trigger": {"kind": "created"}, "actions": [action]}
        refused = await boss.post("/api/automation/rules", json=body)
        assert refused.status_code == 422 and refused.json()["field"] == field, refused.text
    on_invoice = {
        "name": "x",
        "entity": "invoice",
        "trigger": {"kind": "created"},
        "actions": [{"kind": "send_email", "template_id": template["id"]}],
    }
    refused = await boss.post("/api/automation/rules", json=on_invoice)
    assert refused.status_code == 422 and refused.json()["field"] == "actions.0.kind", refused.text
    client_template = await _ok(
        await boss.post(
            "/api/emails/templates",
            json={"name": "Client hello", "entity": "client", "subject": "Hi {{client.name}}", "body": "Hello."},
        ),
        201,
    )
    wrong = await boss.post(
        "/api/automation/rules",
        json={
            **on_invoice,
            "entity": "lead",
            "actions": [{"kind": "send_email", "template_id": client_template["id"]}],
        },
    )
    assert wrong.status_code == 422 and "client records" in wrong.json()["message"], wrong.text

    rule = await _rule(boss, "Mail", {"kind": "send_email", "template_id": template["id"]})
    before = len(smtp.messages)
    lead = await _lead_moved_to(boss, "Mail", email="rhea@example.com")
    run = await _run(boss, rule["id"], lead["id"])
    assert run["outcome"] == "done" and "rhea@example.com" in run["actions"][0]["detail"], run
    message = (await smtp.wait_for(before + 1))[before]
    assert message["To"] == "rhea@example.com" and message["Subject"] == "Welcome Rhea Rule from Northwind"
    sent = await _ok(await boss.get(f"/api/emails/records/lead/{lead['id']}"))
    assert [m["subject"] for m in sent] == ["Welcome Rhea Rule from Northwind"]  # on the lead, as by hand

    await _ok(
        await boss.post("/api/emails/suppressions", json={"address": "gone@example.com", "reason": "mailbox gone"}),
        201,
    )
    gone = await _lead_moved_to(boss, "Mail", email="gone@example.com")
    run = await _run(boss, rule["id"], gone["id"])
    assert run["outcome"] == "failed" and not run["actions"][0]["ok"]
    assert "suppression list" in run["actions"][0]["detail"], run

    await _ok(await boss.patch("/api/settings", json={"values": {"emails.daily_limit": 1}}))
    try:
        over = await _lead_moved_to(boss, "Mail", email="later@example.com")
        run = await _run(boss, rule["id"], over["id"])
        assert run["outcome"] == "failed" and "limit" in run["actions"][0]["detail"], run
    finally:
        await _ok(await boss.patch("/api/settings", json={"values": {"emails.daily_limit": 500}}))
    assert len(smtp.messages) == before + 1  # neither refused one went out


@pytest.fixture
async def cloud(boss: httpx.AsyncClient) -> AsyncIterator[CloudApiStandIn]:
    with CloudApiStandIn.run() as stand_in:
        stand_in.add_template("welcome", "APPROVED", "Hello {{1}}, thanks for your interest!")
        stand_in.add_template("spring_offer", "PENDING", "Spring offer: {{1}}")
        values = {
            "whatsapp.phone_number_id": stand_in.phone_number_id,
            "whatsapp.business_account_id": stand_in.waba_id,
            "whatsapp.access_token": stand_in.token,
            "whatsapp.api_url": stand_in.url,
        }
        await _ok(await boss.patch("/api/settings", json={"values": values}))
        await _ok(await boss.post("/api/whatsapp/templates/sync"))
        yield stand_in


async def test_a_rule_sends_an_approved_whatsapp_template_only_with_opt_in(
    boss: httpx.AsyncClient, cloud: CloudApiStandIn
) -> None:
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"kind": "send_whatsapp"}, "Choose"),
        ({"kind": "send_whatsapp", "whatsapp_template": "spring_offer"}, "not approved"),
        ({"kind": "send_whatsapp", "whatsapp_template": "no_such"}, "No WhatsApp template"),
    ]
    for action, words in refusals:
        body = {"name": "x", "entity": "lead", "trigger": {"kind": "created"}, "actions": [action]}
        refused = await boss.post("/api/automation/rules", json=body)
        assert refused.status_code == 422 and refused.json()["field"] == "actions.0.whatsapp_template", refused.text
        assert words in refused.json()["message"]
    hostile: list[tuple[dict[str, Any], str]] = [  # a NUL, an id past 64 bits
        ({"kind": "send_whatsapp", "whatsapp_template": "wel\x00come"}, "whatsapp_template"),
        ({"kind": "send_email", "template_id": 2**70}, "template_id"),
    ]
    for action, field in hostile:
        body = {"name": "x", "entity": "lead", "trigger": {"kind": "created"}, "actions": [action]}
        refused = await boss.post("/api/automation/rules", json=body)
        assert 400 <= refused.status_code < 500 and field in str(refused.json()["field"]), refused.text
    on_ticket = {
        "name": "x",
        "entity": "ticket",
        "trigger": {"kind": "created"},
        "actions": [{"kind": "send_whatsapp", "whatsapp_template": "welcome"}],
    }
    refused = await boss.post("/api/automation/rules", json=on_ticket)
    assert refused.status_code == 422 and refused.json()["field"] == "actions.0.kind", refused.text

    rule = await _rule(boss, "Chat", {"kind": "send_whatsapp", "whatsapp_template": "welcome"})
    lead = await _lead_moved_to(boss, "Chat", phone=PHONE)
    run = await _run(boss, rule["id"], lead["id"])
    assert run["outcome"] == "failed" and "opt-in" in run["actions"][0]["detail"], run
    assert cloud.sent == []

    await _ok(await boss.put(f"/api/whatsapp/leads/{lead['id']}/opt-in", json={"method": "Ticked the web form box"}))
    version = lead["version"]
    for territory in ("Away", "Chat"):  # the rule fires again on the next move to Chat
        version = (
            await _ok(await boss.patch(f"/api/leads/{lead['id']}", json={"version": version, "territory": territory}))
        )["version"]

    async def second() -> dict[str, Any] | None:
        items = (await boss.get("/api/automation/runs", params={"rule_id": rule["id"]})).json()["items"]
        return items[0] if len(items) == 2 and items[0]["outcome"] != "queued" else None

    run = await _until(second, "the second run")
    assert run["outcome"] == "done", run["actions"]

    async def sent() -> list[dict[str, Any]] | None:
        return cloud.sent or None

    [message] = await _until(sent, "the template reached the Cloud API")
    assert message["to"] == PHONE and message["template"] == {"name": "welcome", "language": {"code": "en_US"}}

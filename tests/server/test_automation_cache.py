"""What a change pays for automation, and several server processes staying right: each process
keeps the active rules and subscriptions in memory, so a change no rule watches reads neither
table; a rule made, changed or turned off through one process is obeyed by another as soon as
that process's live-event listener has heard of it. Two servers on one database stand for two
processes behind nginx; a WebSocket on the second says when it has heard."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect

from tests.support import ADMIN_EMAIL, LiveServer, make_url


@pytest.fixture(scope="module")
def first(pg_cluster: Any, clones: Any) -> Iterator[LiveServer]:
    """The process rules are edited through (with the job worker)."""
    name = clones.take()
    try:
        with LiveServer.run(make_url(pg_cluster.admin_url, name), worker=True) as server:
            yield server
    finally:
        clones.give_back(name)


@pytest.fixture(scope="module")
def second(first: LiveServer) -> Iterator[LiveServer]:
    """Another process on the same database, where the records change."""
    with LiveServer.run(first.database_url) as server:
        yield server


_ready: list[bool] = []


@pytest.fixture
async def apis(first: LiveServer, second: LiveServer) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with first.client() as one:
        if _ready:
            await first.login(one, ADMIN_EMAIL)
        else:
            await first.login_admin(one)
            _ready.append(True)
        async with second.client(one.headers["Authorization"].split()[1]) as two:
            yield one, two


async def _heard(ws: ClientConnection, rule_id: int, entity: str = "automation_rule") -> None:
    """Until the second process's listener passed on this rule's live event (the cache heard it first)."""
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if event.get("entity") == entity and event.get("entity_id") == rule_id:
            return


async def _set(api: httpx.AsyncClient, lead: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The rule's own tag moves the version under us: edit the lead as it is now."""
    version = (await api.get(f"/api/leads/{lead['id']}")).json()["version"]
    answer = await api.patch(f"/api/leads/{lead['id']}", json={"version": version, **fields})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _runs(api: httpx.AsyncClient, rule_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get("/api/automation/runs", params={"rule_id": rule_id})).json()["items"]
    return items


def _reads(statements: list[tuple[str, Any]]) -> list[str]:
    return [s for s, _ in statements if "automation_rules" in s or "webhook_subscriptions" in s]


async def test_another_process_obeys_a_rule_once_it_heard_of_it(
    second: LiveServer,
    apis: tuple[httpx.AsyncClient, httpx.AsyncClient],
    statements: list[tuple[str, Any]],
) -> None:
    one, two = apis
    lead = (await one.post("/api/leads", json={"person_name": "Cache Carl"})).json()
    lead = await _set(two, lead, company="Warm")  # the second process reads (and keeps) "no rules" here
    token = one.headers["Authorization"].split()[1]
    async with connect(second.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        body = {
            "name": "Tag the cached",
            "entity": "lead",
            "trigger": {"kind": "field_changed", "field": "product_interest", "to_value": "Cached"},
            "actions": [{"kind": "add_tag", "tag": "cached"}],
        }
        rule = (await one.post("/api/automation/rules", json=body)).json()
        await _heard(ws, rule["id"])
        lead = await _set(two, lead, product_interest="Cached")
        [run] = await _runs(one, rule["id"])  # logged in the change's own transaction, on the second process
        assert run["entity_id"] == lead["id"] and run["matched"]
        while run["outcome"] == "queued":  # its job (on the first process's worker) done before going on
            await asyncio.sleep(0.05)
            [run] = await _runs(one, rule["id"])
        assert run["outcome"] == "done", run

        off = await one.post(f"/api/automation/rules/{rule['id']}/active", json={"active": False})
        assert off.status_code == 200, off.text
        await _heard(ws, rule["id"])
        lead = await _set(two, lead, product_interest="Other")
        lead = await _set(two, lead, product_interest="Cached")
        assert len(await _runs(one, rule["id"])) == 1  # turned off in one process: stopped in the other

    lead = await _set(two, lead, company="Reads the rules once")
    statements.clear()
    lead = await _set(two, lead, company="Reads nothing")  # no rule watches the company
    assert _reads(statements) == [], _reads(statements)


async def test_a_change_reads_nothing_when_no_rule_or_subscription_wants_it(
    first: LiveServer, apis: tuple[httpx.AsyncClient, httpx.AsyncClient], statements: list[tuple[str, Any]]
) -> None:
    one, _ = apis
    client = (await one.post("/api/clients", json={"name": "Quiet Ltd"})).json()
    await one.patch(f"/api/clients/{client['id']}", json={"version": client["version"], "website": "https://q.example"})
    statements.clear()
    ticket = await one.post("/api/tickets", json={"subject": "Nobody automates tickets", "client_id": client["id"]})
    assert ticket.status_code == 201, ticket.text
    assert _reads(statements) == [], _reads(statements)
    assert not [s for s, _ in statements if "FROM audit_log" in s]  # nor the change's audit rows


async def test_a_rule_gone_before_this_process_heard_neither_runs_nor_fails_the_change(
    first: LiveServer, second: LiveServer, apis: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    one, two = apis
    lead = (await one.post("/api/leads", json={"person_name": "Race Rita"})).json()
    token = one.headers["Authorization"].split()[1]
    async with connect(second.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        body = {
            "name": "Raced",
            "entity": "lead",
            "trigger": {"kind": "field_changed", "field": "product_interest", "to_value": "Race"},
            "actions": [{"kind": "add_tag", "tag": "raced"}],
        }
        rule = (await one.post("/api/automation/rules", json=body)).json()
        await _heard(ws, rule["id"])
    lead = await _set(two, lead, company="Knows the rule")  # the second process holds it, on
    # Turned off and then deleted with no live event: the moment before the second process hears.
    async with first.session() as s:
        await s.execute(text("UPDATE automation_rules SET active = false WHERE id = :i"), {"i": rule["id"]})
    lead = await _set(two, lead, product_interest="Race")
    assert await _runs(one, rule["id"]) == []
    async with first.session() as s:
        await s.execute(text("DELETE FROM automation_rules WHERE id = :i"), {"i": rule["id"]})
    lead = await _set(two, lead, product_interest="Other")
    lead = await _set(two, lead, product_interest="Race")  # no foreign-key failure: the change is saved
    assert lead["product_interest"] == "Race"


async def test_a_subscription_gone_before_this_process_heard_does_not_fail_the_change(
    first: LiveServer, second: LiveServer, apis: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    one, two = apis
    allowed = await one.patch("/api/settings", json={"values": {"webhooks.allowed_private": "127.0.0.1"}})
    assert allowed.status_code == 200, allowed.text
    lead = (await one.post("/api/leads", json={"person_name": "Hook Hugo"})).json()
    token = one.headers["Authorization"].split()[1]
    async with connect(second.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        body = {"name": "Gone soon", "url": "http://127.0.0.1:9/hook", "event_types": ["lead.updated"]}
        sub = (await one.post("/api/automation/webhooks", json=body)).json()
        await _heard(ws, sub["id"], "webhook_subscription")
    lead = await _set(two, lead, company="Knows the subscription")
    async with first.session() as s:  # gone with no live event: before the second process hears
        await s.execute(text("DELETE FROM webhook_subscriptions WHERE id = :i"), {"i": sub["id"]})
    lead = await _set(two, lead, company="Still saved")
    assert lead["company"] == "Still saved"

"""Managers may use Automation (the `automation` permission, scope team): their rules work on their
team's records only, they see only their team's rules and runs, and a rule of theirs cannot reach
outside the team (no webhooks, no whole role, no people of other teams). A salesperson has none of
it. Through HTTP with the job worker."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.support import LiveServer, make_url


@pytest.fixture(scope="module")
def live(pg_cluster: Any, clones: Any) -> Iterator[LiveServer]:
    name = clones.take()
    try:
        with LiveServer.run(make_url(pg_cluster.admin_url, name), worker=True) as server:
            yield server
    finally:
        clones.give_back(name)


_people: dict[str, int] = {}


@pytest.fixture
async def people(live: LiveServer) -> dict[str, int]:
    if not _people:
        _people["ada"] = await live.create_user("ada@example.com", role="Admin", full_name="Ada Admin")
        _people["mona"] = await live.create_user(
            "mona@example.com", role="Manager", full_name="Mona Manager", team="North"
        )
        _people["sam"] = await live.create_user("sam@example.com", full_name="Sam Sales", team="North")
        _people["sue"] = await live.create_user("sue@example.com", full_name="Sue Sales", team="South")
    return _people


@pytest.fixture
async def boss(live: LiveServer, people: dict[str, int]) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        await live.login(api, "ada@example.com")
        yield api


@pytest.fixture
async def mona(live: LiveServer, people: dict[str, int]) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        await live.login(api, "mona@example.com")
        yield api


async def _until(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


def _body(name: str, *actions: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "entity": "lead",
        "trigger": {"kind": "field_changed", "field": "territory", "to_value": "Coast"},
        "actions": list(actions),
    }


async def _lead(api: httpx.AsyncClient, owner: int) -> dict[str, Any]:
    made = await api.post("/api/leads", json={"person_name": "Team Lead", "owner_id": owner})
    assert made.status_code == 201, made.text
    moved = await api.patch(
        f"/api/leads/{made.json()['id']}", json={"version": made.json()["version"], "territory": "Coast"}
    )
    assert moved.status_code == 200, moved.text
    lead: dict[str, Any] = moved.json()
    return lead


async def _runs(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    answer = await api.get("/api/automation/runs", params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_a_salesperson_has_no_automation(live: LiveServer, people: dict[str, int]) -> None:
    async with live.client() as sam:
        await live.login(sam, "sam@example.com")
        for method, path, body in (
            ("GET", "/api/automation/rules", None),
            ("GET", "/api/automation/runs", None),
            ("GET", "/api/automation/fields", None),
            ("POST", "/api/automation/rules", _body("Mine", {"kind": "add_tag", "tag": "x"})),
        ):
            answer = await sam.request(method, path, json=body)
            assert answer.status_code == 403, (path, answer.text)


async def test_a_managers_rule_works_on_their_teams_records_only(
    boss: httpx.AsyncClient, mona: httpx.AsyncClient, people: dict[str, int]
) -> None:
    admins = (
        await boss.post("/api/automation/rules", json=_body("Everyone's", {"kind": "add_tag", "tag": "all"}))
    ).json()
    made = await mona.post("/api/automation/rules", json=_body("North's", {"kind": "add_tag", "tag": "north"}))
    assert made.status_code == 201, made.text
    mine = made.json()
    assert mine["team_id"] is not None
    assert [r["id"] for r in (await mona.get("/api/automation/rules")).json()] == [mine["id"]]
    assert {r["id"] for r in (await boss.get("/api/automation/rules")).json()} >= {mine["id"], admins["id"]}
    for method in ("GET", "PUT", "DELETE"):  # another's rule is not there for her
        answer = await mona.request(
            method, f"/api/automation/rules/{admins['id']}", json=_body("Taken", {"kind": "add_tag", "tag": "y"})
        )
        assert answer.status_code == 404, answer.text
    fields = {e["entity"]: {f["name"] for f in e["fields"]} for e in (await mona.get("/api/automation/fields")).json()}
    assert {"territory", "status", "owner_id", "changed_by"} <= fields["lead"]

    north = await _lead(boss, people["sam"])
    south = await _lead(boss, people["sue"])
    assert north["team_id"] != south["team_id"]

    async def settled() -> list[dict[str, Any]] | None:
        runs = await _runs(boss, entity="lead")
        done = [r for r in runs if r["outcome"] != "queued" and r["entity_id"] in (north["id"], south["id"])]
        return done if len(done) == 3 else None

    runs = await _until(settled, "the admin's rule on both leads and hers on the north one")
    assert sorted((r["rule_id"], r["entity_id"]) for r in runs) == sorted(
        [(admins["id"], north["id"]), (admins["id"], south["id"]), (mine["id"], north["id"])]
    )
    assert all(r["outcome"] == "done" for r in runs), runs
    assert sorted((await boss.get(f"/api/leads/{north['id']}")).json()["tags"]) == ["all", "north"]
    assert (await boss.get(f"/api/leads/{south['id']}")).json()["tags"] == ["all"]
    assert {r["rule_id"] for r in await _runs(mona)} == {mine["id"]}  # her log: her team's rules only
    tried = await mona.post(f"/api/automation/rules/{mine['id']}/test", json={"entity_id": south["id"]})
    assert tried.status_code == 422 and tried.json()["field"] == "entity_id", tried.text


async def test_a_managers_rule_cannot_reach_outside_the_team(mona: httpx.AsyncClient, people: dict[str, int]) -> None:
    for action, field in (
        ({"kind": "call_webhook", "subscription_id": 1}, "actions.0.kind"),
        ({"kind": "notify", "role_id": 1, "title": "All admins"}, "actions.0.role_id"),
        ({"kind": "notify", "user_ids": [people["sue"]], "title": "Sue"}, "actions.0.user_ids.0"),
        ({"kind": "assign", "user_id": people["sue"]}, "actions.0.user_id"),
        ({"kind": "create_follow_up", "title": "Call", "user_id": people["ada"]}, "actions.0.user_id"),
    ):
        refused = await mona.post("/api/automation/rules", json=_body("Outside", action))
        assert refused.status_code == 422 and refused.json()["field"] == field, (action, refused.text)
    inside = await mona.post(
        "/api/automation/rules",
        json=_body(
            "Inside",
            {"kind": "assign", "user_id": people["sam"]},
            {"kind": "notify", "user_ids": [people["sam"]], "title": "Yours"},
        ),
    )
    assert inside.status_code == 201, inside.text


async def test_a_managers_desktop_hears_of_her_teams_rules_only(
    live: LiveServer, boss: httpx.AsyncClient, mona: httpx.AsyncClient
) -> None:
    token = mona.headers["Authorization"].split()[1]
    async with connect(live.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        admins = await boss.post("/api/automation/rules", json=_body("Admins' own", {"kind": "add_tag", "tag": "a"}))
        hers = await mona.post("/api/automation/rules", json=_body("Hers", {"kind": "add_tag", "tag": "h"}))
        assert admins.status_code == 201 and hers.status_code == 201
        while True:  # the admin's came first: had she been told of it, it would come before hers
            event = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if event.get("entity") == "automation_rule":
                break
        assert (event["module"], event["entity_id"]) == ("automation", hers.json()["id"])

"""Automation rules through HTTP with the real job worker: the seed's demo rule (a "Prepare for Demo"
follow-up for the owner a day before the demo), once per transition, conditions in AND/OR groups
with each one's result in the log, actions (set a field, tags, notify, round-robin), the depth limit
and the loop stop, a turned-off rule stopping at once, date rules planned again when the date
moves, and "test on a record" doing nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support import LiveServer, make_url


@pytest.fixture(scope="module")
def live(pg_cluster: Any, clones: Any) -> Iterator[LiveServer]:
    """One server with its job worker for the whole file (a rule's actions are jobs)."""
    name = clones.take()
    try:
        with LiveServer.run(make_url(pg_cluster.admin_url, name), worker=True) as server:
            yield server
    finally:
        clones.give_back(name)


_people: dict[str, int] = {}


@pytest.fixture
async def boss(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        if not _people:
            _people["ada"] = await live.create_user("ada@example.com", role="Admin", full_name="Ada Admin")
            _people["sam"] = await live.create_user("sam@example.com", full_name="Sam Sales", team="North")
            _people["sue"] = await live.create_user("sue@example.com", full_name="Sue Sales", team="North")
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


async def _rule(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post("/api/automation/rules", json={"name": "A rule", "entity": "lead", **body})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def _lead(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/leads", json={"person_name": "Lena Lead", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _edit(api: httpx.AsyncClient, lead_id: int, **fields: Any) -> dict[str, Any]:
    version = (await api.get(f"/api/leads/{lead_id}")).json()["version"]
    response = await api.patch(f"/api/leads/{lead_id}", json={"version": version, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _status(api: httpx.AsyncClient, name: str) -> dict[str, Any]:
    pipelines = (await api.get("/api/pipelines")).json()
    found: dict[str, Any] = next(s for p in pipelines if p["is_default"] for s in p["statuses"] if s["name"] == name)
    return found


async def _move(api: httpx.AsyncClient, lead_id: int, status: str) -> None:
    version = (await api.get(f"/api/leads/{lead_id}")).json()["version"]
    target = await _status(api, status)
    response = await api.post(f"/api/leads/{lead_id}/move", json={"status_id": target["id"], "version": version})
    assert response.status_code == 200, response.text


async def _runs(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await api.get("/api/automation/runs", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _settled(api: httpx.AsyncClient, rule_id: int, count: int = 1) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    async def done() -> list[dict[str, Any]] | None:
        seen[:] = runs = await _runs(api, rule_id=rule_id)
        return runs if len(runs) >= count and all(r["outcome"] != "queued" for r in runs) else None

    settled: list[dict[str, Any]] = await _until(done, f"{count} runs of rule {rule_id} settled: {seen}")
    return settled


async def _follow_ups(api: httpx.AsyncClient, lead_id: int) -> list[dict[str, Any]]:
    response = await api.get("/api/follow-ups", params={"lead_id": lead_id, "status": "open"})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


DEMO_RULE = {
    "name": "Prepare for the demo",
    "trigger": {"kind": "status_changed", "to_value": "Demo Scheduled"},
    "actions": [
        {
            "kind": "create_follow_up",
            "title": "Prepare for Demo",
            "follow_up_kind": "meeting",
            "offset_minutes": -1440,
            "relative_to": "next_meeting",
        }
    ],
}


async def test_the_demo_rule_fires_once_per_transition(boss: httpx.AsyncClient) -> None:
    seeded = [r for r in (await boss.get("/api/automation/rules")).json() if r["name"] == "Prepare for the demo"]
    assert seeded and not seeded[0]["active"]  # the seed's example ships turned off
    rule = await _rule(boss, **DEMO_RULE)
    lead = await _lead(boss, owner_id=_people["sam"])
    demo_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    meeting = await boss.post(
        "/api/follow-ups",
        json={"lead_id": lead["id"], "kind": "meeting", "due_at": demo_at.isoformat(), "notes": "The demo"},
    )
    assert meeting.status_code == 201, meeting.text
    await _move(boss, lead["id"], "Demo Scheduled")
    [run] = await _settled(boss, rule["id"])
    assert run["outcome"] == "done" and run["change"] == {"field": "status", "old": "Open", "new": "Demo Scheduled"}
    prepare = [f for f in await _follow_ups(boss, lead["id"]) if f["notes"] == "Prepare for Demo"]
    assert len(prepare) == 1
    assert datetime.fromisoformat(prepare[0]["due_at"]) == demo_at - timedelta(days=1)
    assert prepare[0]["owner_id"] == _people["sam"]
    # Saves that leave the status alone, and a move to the same status, are no transition.
    await _edit(boss, lead["id"], company="Acme")
    await _move(boss, lead["id"], "Demo Scheduled")
    await _edit(boss, lead["id"], company="Acme Ltd")
    assert len(await _runs(boss, rule_id=rule["id"])) == 1
    assert len([f for f in await _follow_ups(boss, lead["id"]) if f["notes"] == "Prepare for Demo"]) == 1
    off = await boss.post(f"/api/automation/rules/{rule['id']}/active", json={"active": False})
    assert off.status_code == 200 and not off.json()["active"]


async def test_conditions_are_logged_one_by_one(boss: httpx.AsyncClient) -> None:
    rule = await _rule(
        boss,
        trigger={"kind": "field_changed", "field": "territory", "to_value": "West"},
        conditions={
            "match": "all",
            "items": [
                {"field": "changed_by", "op": "eq", "value": "person"},
                {
                    "match": "any",
                    "items": [
                        {"field": "tags", "op": "contains", "value": "vip"},
                        {"field": "value", "op": "gt", "value": 1000},
                    ],
                },
            ],
        },
        actions=[
            {"kind": "add_tag", "tag": "west-big"},
            {"kind": "notify", "user_ids": [_people["sue"]], "title": "A big one in the West"},
        ],
    )
    small = await _lead(boss, value="10")
    big = await _lead(boss, value="5000")
    await _edit(boss, small["id"], territory="West")
    await _edit(boss, big["id"], territory="West")
    runs = {r["entity_id"]: r for r in await _settled(boss, rule["id"], 2)}
    missed = runs[small["id"]]
    assert missed["outcome"] == "not_matched" and not missed["matched"]
    assert [(c["field"], c["passed"]) for c in missed["conditions"]] == [
        ("changed_by", True),
        ("tags", False),
        ("value", False),
    ]
    assert runs[big["id"]]["outcome"] == "done", runs[big["id"]]
    assert "west-big" in (await boss.get(f"/api/leads/{big['id']}")).json()["tags"]
    assert "west-big" not in (await boss.get(f"/api/leads/{small['id']}")).json()["tags"]
    filtered = await _runs(boss, rule_id=rule["id"], outcome="not_matched")
    assert [r["entity_id"] for r in filtered] == [small["id"]]
    # Test on a record: what it would do now, and nothing done.
    dry = (await boss.post(f"/api/automation/rules/{rule['id']}/test", json={"entity_id": small["id"]})).json()
    assert dry["outcome"] == "not_matched" and len(dry["conditions"]) == 3
    dry = (await boss.post(f"/api/automation/rules/{rule['id']}/test", json={"entity_id": big["id"]})).json()
    assert dry["outcome"] == "would_run" and "west-big" in dry["actions"][0]["detail"]
    assert len(await _runs(boss, rule_id=rule["id"])) == 2
    await boss.post(f"/api/automation/rules/{rule['id']}/active", json={"active": False})


async def test_rules_triggering_rules_stop_at_depth_three_and_loops_stop(boss: httpx.AsyncClient) -> None:
    chain = []
    for old, new in [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")]:
        chain.append(
            await _rule(
                boss,
                name=f"{old} to {new}",
                trigger={"kind": "field_changed", "field": "product_interest", "to_value": old},
                actions=[{"kind": "set_field", "field": "product_interest", "value": new}],
            )
        )
    lead = await _lead(boss)
    await _edit(boss, lead["id"], product_interest="a")
    last = await _settled(boss, chain[3]["id"])
    assert last[0]["outcome"] == "stopped" and "depth of 3" in last[0]["detail"]
    assert [(await _settled(boss, r["id"]))[0]["depth"] for r in chain[:3]] == [0, 1, 2]
    assert (await boss.get(f"/api/leads/{lead['id']}")).json()["product_interest"] == "d"
    # A rule whose own action changes what triggers it: stopped with a log entry.
    loop = await _rule(
        boss,
        name="round and round",
        trigger={"kind": "field_changed", "field": "territory"},
        actions=[{"kind": "set_field", "field": "territory", "value": "Elsewhere"}],
    )
    await _edit(boss, lead["id"], territory="Here")
    runs = await _settled(boss, loop["id"], 2)
    assert [r["outcome"] for r in runs] == ["stopped", "done"]
    assert "Loop stopped" in runs[0]["detail"]
    for rule in [*chain, loop]:
        await boss.post(f"/api/automation/rules/{rule['id']}/active", json={"active": False})


async def test_round_robin_and_a_turned_off_rule_stops_at_once(live: LiveServer, boss: httpx.AsyncClient) -> None:
    team_id = (await boss.get(f"/api/users/{_people['sam']}")).json()["team_id"]
    rule = await _rule(
        boss,
        trigger={"kind": "created"},
        conditions={"match": "all", "items": [{"field": "company", "op": "eq", "value": "Round Co"}]},
        actions=[{"kind": "assign", "team_id": team_id}],
    )
    first = await _lead(boss, company="Round Co", person_name="Rita Round")
    second = await _lead(boss, company="Round Co", person_name="Rob Round")
    await _settled(boss, rule["id"], 2)
    owners = [(await boss.get(f"/api/leads/{lead['id']}")).json()["owner_id"] for lead in (first, second)]
    assert sorted(owners) == sorted([_people["sam"], _people["sue"]])
    # A run still waiting for its job when the rule is turned off does nothing.
    async with live.session() as s:
        await s.execute(
            text("INSERT INTO automation_runs (rule_id, entity, entity_id, outcome) VALUES (:r, 'lead', :l, 'queued')"),
            {"r": rule["id"], "l": first["id"]},
        )
    await boss.post(f"/api/automation/rules/{rule['id']}/active", json={"active": False})
    runs = await _runs(boss, rule_id=rule["id"], outcome="cancelled")
    assert len(runs) == 1 and "turned off" in runs[0]["detail"]
    await _lead(boss, company="Round Co", person_name="Rhea Round")
    assert len(await _runs(boss, rule_id=rule["id"])) == 3


async def test_a_date_rule_is_planned_again_when_the_date_moves(live: LiveServer, boss: httpx.AsyncClient) -> None:
    earlier = await _lead(boss, person_name="Early Ed", expected_close_date="2031-03-01")
    past = await _lead(boss, person_name="Past Pam", expected_close_date="2020-03-01")
    rule = await _rule(
        boss,
        name="Close date tomorrow",
        trigger={"kind": "date_reached", "field": "expected_close_date", "offset_minutes": -1440},
        actions=[{"kind": "add_tag", "tag": "closing"}],
    )
    lead = await _lead(boss, expected_close_date="2031-01-10")

    async def planned() -> list[Any]:
        async with live.session() as s:
            rows = await s.execute(
                text("SELECT fire_at FROM automation_planned WHERE rule_id = :r AND entity_id = :l"),
                {"r": rule["id"], "l": lead["id"]},
            )
            return [r[0] for r in rows]

    assert await planned() == [datetime(2031, 1, 9, 9, 0, tzinfo=UTC)]
    async with live.session() as s:  # records there before the rule: planned when it was made, if still ahead
        rows = await s.execute(
            text("SELECT entity_id, fire_at FROM automation_planned WHERE rule_id = :r AND entity_id <> :l"),
            {"r": rule["id"], "l": lead["id"]},
        )
        assert [tuple(r) for r in rows] == [(earlier["id"], datetime(2031, 2, 28, 9, 0, tzinfo=UTC))]
    assert past["id"] != earlier["id"]
    await _edit(boss, lead["id"], expected_close_date="2031-02-10")
    assert await planned() == [datetime(2031, 2, 9, 9, 0, tzinfo=UTC)]
    async with live.session() as s:  # the day comes
        await s.execute(
            text("UPDATE automation_planned SET fire_at = now() WHERE rule_id = :r AND entity_id = :l"),
            {"r": rule["id"], "l": lead["id"]},
        )
    ran = await boss.post("/api/admin/jobs/automation.due/run")
    assert ran.status_code == 202, ran.text
    [run] = await _settled(boss, rule["id"])
    assert run["outcome"] == "done"
    assert "closing" in (await boss.get(f"/api/leads/{lead['id']}")).json()["tags"]
    assert await planned() == []
    await boss.post(f"/api/automation/rules/{rule['id']}/active", json={"active": False})


async def test_rules_refuse_what_cannot_work(boss: httpx.AsyncClient) -> None:
    bad = [
        ({"trigger": {"kind": "field_changed", "field": "shoe_size"}}, "trigger.field"),
        ({"trigger": {"kind": "date_reached", "field": "company"}}, "trigger.field"),
        ({"actions": [{"kind": "set_field", "field": "owner_id", "value": 1}]}, "actions.0.field"),
        ({"entity": "invoice", "actions": [{"kind": "add_tag", "tag": "x"}]}, "actions.0.kind"),
    ]
    for change, field in bad:
        body = {
            "name": "x",
            "entity": "lead",
            "trigger": {"kind": "created"},
            "actions": [{"kind": "add_tag", "tag": "x"}],
        }
        response = await boss.post("/api/automation/rules", json={**body, **change})
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field, response.text


async def test_a_web_form_lead_opens_a_ticket_and_tells_the_admins(live: LiveServer, boss: httpx.AsyncClient) -> None:
    roles = (await boss.get("/api/roles")).json()
    admin_role = next(r["id"] for r in roles if r["name"] == "Admin")
    rule = await _rule(
        boss,
        name="Web leads",
        trigger={"kind": "inbound"},
        actions=[
            {"kind": "create_ticket", "title": "Call the new web lead", "body": "Within the hour."},
            {"kind": "notify", "role_id": admin_role, "title": "A web lead came in"},
        ],
    )
    await _lead(boss, person_name="Typed In")  # a person's lead is no inbound event
    site = "https://www.example.com"
    fields = [
        {"name": "name", "label": "Your name", "type": "text", "required": True, "maps_to": "person_name"},
        {"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"},
    ]
    form = await boss.post("/api/web-forms", json={"name": "Contact", "fields": fields, "allowed_origins": [site]})
    assert form.status_code == 201, form.text
    async with httpx.AsyncClient() as visitor:
        sent = await visitor.post(
            f"{live.base_url}/webhooks/forms/{form.json()['key']}",
            data={"name": "Wendy Web", "email": "wendy@example.com", "website": ""},
            headers={"Origin": site},
        )
    assert sent.status_code == 200, sent.text
    [run] = await _settled(boss, rule["id"])
    assert run["outcome"] == "done", run
    assert run["change"]["inbound"] is True
    tickets = (await boss.get("/api/tickets", params={"q": "Call the new web lead"})).json()["items"]
    assert [t["subject"] for t in tickets] == ["Call the new web lead"]
    bell = (await boss.get("/api/notifications")).json()["items"]
    assert any(n["kind"] == "automation" and n["title"] == "A web lead came in" for n in bell)
    await boss.post(f"/api/automation/rules/{rule['id']}/active", json={"active": False})

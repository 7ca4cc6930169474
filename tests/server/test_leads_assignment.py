"""Who gets new leads: ordered rules, round-robin that skips deactivated people (even under concurrent
arrivals), the owner's notification (unless switched off), and handing a leaver's work to an heir."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import select

from crm_server.admin.models import AuditEntry, Notification
from crm_server.auth.models import User
from crm_server.contract.leads import LeadIn
from crm_server.db import Database
from crm_server.leads import service
from tests.server.test_leads import make_lead
from tests.support import LiveServer


async def _user(server: LiveServer, user_id: int) -> User:
    async with server.session() as s:
        user = await s.get(User, user_id)
        assert user is not None
        return user


async def test_first_matching_rule_wins_and_the_owner_is_notified(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    ann = await server.create_user("ann@example.com", full_name="Ann", team="Facebook team")
    bob = await server.create_user("bob@example.com", full_name="Bob", team="North")
    rules = [
        {"name": "North ERP", "territory": "North", "product_interest": "ERP", "user_id": bob},
        {"name": "Facebook", "source": "facebook", "user_id": ann},
    ]
    for rule in rules:
        assert (await admin.post("/api/assignment-rules", json=rule)).status_code == 201
    by_source = await make_lead(admin, source="Facebook", territory="North")
    assert by_source["owner_id"] == ann and by_source["team_id"] == (await _user(server, ann)).team_id
    both = await make_lead(admin, source="Facebook", territory="north", product_interest="erp")
    assert both["owner_id"] == bob  # the first rule that matches
    unmatched = await make_lead(admin, source="Website form")
    admin_id = (await admin.get("/api/auth/me")).json()["id"]
    assert unmatched["owner_id"] == admin_id  # no rule: whoever typed it in keeps it
    explicit = await make_lead(admin, source="Facebook", owner_id=bob)
    assert explicit["owner_id"] == bob  # a chosen owner is not overruled
    # Reordering puts Facebook first.
    listed = (await admin.get("/api/assignment-rules")).json()
    order = [r["id"] for r in listed][::-1]
    assert [r["name"] for r in (await admin.put("/api/assignment-rules/order", json={"rule_ids": order})).json()] == [
        "Facebook",
        "North ERP",
    ]
    assert (await make_lead(admin, source="Facebook", territory="North", product_interest="ERP"))["owner_id"] == ann
    # A lead from a webhook or import (no signed-in actor) goes through the same rules.
    async with server.session() as s:
        made = await service.create_lead(s, None, LeadIn(person_name="From the web", source="Facebook"))
    assert made.owner_id == ann
    async with server.client() as api:
        await server.login(api, "ann@example.com")
        bell = (await api.get("/api/notifications")).json()["items"]
        assert [n["kind"] for n in bell] == ["lead_assigned"] * 3
        assert bell[0]["entity"] == "lead" and bell[0]["entity_id"] == made.id
        # Switched off: no more of that kind.
        prefs = await api.put("/api/me/notification-preferences", json={"enabled": {"lead_assigned": False}})
        assert {p["kind"]: p["enabled"] for p in prefs.json()}["lead_assigned"] is False
        await make_lead(admin, source="Facebook")
        assert (await api.get("/api/notifications")).json()["total"] == 3
        bad = await api.put("/api/me/notification-preferences", json={"enabled": {"nonsense": True}})
        assert bad.status_code == 422


async def test_round_robin_skips_deactivated_users_and_is_safe_under_concurrency(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    members = [await server.create_user(f"rr{i}@example.com", full_name=f"RR {i}", team="Inbound") for i in range(3)]
    await server.create_user("support@example.com", role="Support agent", team="Inbound")  # does not work leads
    team_id = (await _user(server, members[0])).team_id
    rule = await admin.post(
        "/api/assignment-rules", json={"name": "Inbound", "source": "Website form", "team_id": team_id}
    )
    assert rule.status_code == 201
    owners = [(await make_lead(admin, person_name=f"A{i}", source="Website form"))["owner_id"] for i in range(6)]
    assert owners == [*members, *members]
    # Deactivated: never receives leads again.
    version = (await admin.get(f"/api/users/{members[1]}")).json()["version"]
    assert (await admin.post(f"/api/users/{members[1]}/deactivate", json={"version": version})).status_code == 200
    owners = [(await make_lead(admin, person_name=f"B{i}", source="Website form"))["owner_id"] for i in range(4)]
    assert owners == [members[0], members[2], members[0], members[2]]
    # Leads arriving at the same moment are shared out evenly, each to one person.
    db = Database(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=10)

    async def arrive(i: int) -> int | None:
        async with db.transaction() as s:
            made = await service.create_lead(s, None, LeadIn(person_name=f"Burst {i}", source="Website form"))
            return made.owner_id

    try:
        burst = await asyncio.gather(*(arrive(i) for i in range(10)))
    finally:
        await db.dispose()
    assert Counter(burst) == {members[0]: 5, members[2]: 5}
    # With no active member left, the rule is passed over (and a system lead stays unassigned).
    for member in (members[0], members[2]):
        version = (await admin.get(f"/api/users/{member}")).json()["version"]
        await admin.post(f"/api/users/{member}/deactivate", json={"version": version})
    async with server.session() as s:
        orphan = await service.create_lead(s, None, LeadIn(person_name="Nobody home", source="Website form"))
    assert orphan.owner_id is None and orphan.team_id is None


async def test_default_team_shares_leads_no_rule_matches(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    a = await server.create_user("a@example.com", team="Pool")
    b = await server.create_user("b@example.com", team="Pool")
    team_id = (await _user(server, a)).team_id
    assert (await admin.patch("/api/settings", json={"values": {"leads.default_team_id": team_id}})).status_code == 200
    async with server.session() as s:
        owners = [(await service.create_lead(s, None, LeadIn(person_name=f"L{i}"))).owner_id for i in range(3)]
    assert owners == [a, b, a]


async def test_deactivation_hands_open_work_to_the_heir(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    leaver = await server.create_user("leaver@example.com", full_name="Leaver", team="East")
    heir = await server.create_user("heir@example.com", full_name="Heir", team="West")
    statuses = {s["name"]: s["id"] for p in (await admin.get("/api/pipelines")).json() for s in p["statuses"]}
    open_leads = [await make_lead(admin, person_name=f"Open {i}", owner_id=leaver) for i in range(2)]
    won = await make_lead(admin, person_name="Won", owner_id=leaver)
    await admin.post(f"/api/leads/{won['id']}/move", json={"version": won["version"], "status_id": statuses["Won"]})
    client = (await admin.post("/api/clients", json={"name": "Leaver's client", "owner_id": leaver})).json()
    follow_up = (
        await admin.post(
            "/api/follow-ups", json={"lead_id": open_leads[0]["id"], "kind": "call", "due_at": "2030-01-01T09:00:00Z"}
        )
    ).json()
    assert follow_up["owner_id"] == leaver  # a follow-up goes to the record's owner by default
    version = (await admin.get(f"/api/users/{leaver}")).json()["version"]
    moved = await admin.post(f"/api/users/{leaver}/deactivate", json={"version": version, "reassign_to": heir})
    assert moved.status_code == 200, moved.text
    assert moved.json()["leads"] == 4  # two open leads, one client, one follow-up
    heir_team = (await _user(server, heir)).team_id
    for lead in open_leads:
        now = (await admin.get(f"/api/leads/{lead['id']}")).json()
        assert (now["owner_id"], now["team_id"]) == (heir, heir_team)
    assert (await admin.get(f"/api/leads/{won['id']}")).json()["owner_id"] == leaver  # history stays as it was
    assert (await admin.get(f"/api/clients/{client['id']}")).json()["owner_id"] == heir
    assert (await admin.get(f"/api/follow-ups/{follow_up['id']}")).json()["owner_id"] == heir
    async with server.session() as s:
        audited = (
            await s.execute(select(AuditEntry.entity, AuditEntry.entity_id).where(AuditEntry.action == "reassigned"))
        ).all()
        told = (await s.scalars(select(Notification.title).where(Notification.user_id == heir))).all()
    assert sorted(audited) == sorted(
        [
            ("lead", open_leads[0]["id"]),
            ("lead", open_leads[1]["id"]),
            ("client", client["id"]),
            ("follow_up", follow_up["id"]),
        ]
    )
    assert told == ["4 records handed to you"]
    # A deactivated user cannot be given leads.
    refused = await admin.post("/api/leads", json={"person_name": "X", "owner_id": leaver})
    assert refused.status_code == 422 and refused.json()["code"] == "user_inactive"

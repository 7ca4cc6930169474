"""Follow-ups: complete with the next one in the same step, reschedule with a reason, my day in the
caller's time zone, the week calendar, scope, and reminders sent exactly once per stage even when
two workers run the reminder job at the same moment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from crm_server.activities import reminders
from crm_server.activities.models import FollowUp
from crm_server.admin.models import AuditEntry, Notification
from crm_server.db import Database, utcnow
from crm_server.jobs import registry
from tests.server.test_leads import make_lead
from tests.support import LiveServer


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


async def test_complete_with_next_and_reschedule_with_reason(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    lead = await make_lead(admin, company="Acme")
    due = utcnow() + timedelta(days=1)
    made = await admin.post(
        "/api/follow-ups",
        json={"lead_id": lead["id"], "kind": "call", "due_at": _iso(due), "notes": "Ask about the budget"},
    )
    assert made.status_code == 201, made.text
    follow_up = made.json()
    assert follow_up["subject"] == "Ana Pop (Acme)" and follow_up["status"] == "open"
    naive = await admin.post(
        "/api/follow-ups", json={"lead_id": lead["id"], "kind": "call", "due_at": "2030-01-01T10:00:00"}
    )
    assert naive.status_code == 422 and naive.json()["field"] == "due_at"
    both = await admin.post(
        "/api/follow-ups", json={"lead_id": lead["id"], "client_id": 1, "kind": "call", "due_at": _iso(due)}
    )
    assert both.status_code == 422

    no_reason = await admin.post(
        f"/api/follow-ups/{follow_up['id']}/reschedule",
        json={"version": follow_up["version"], "due_at": _iso(due + timedelta(days=2))},
    )
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    moved = await admin.post(
        f"/api/follow-ups/{follow_up['id']}/reschedule",
        json={"version": follow_up["version"], "due_at": _iso(due + timedelta(days=2)), "reason": "Client on holiday"},
    )
    assert moved.status_code == 200
    done = await admin.post(
        f"/api/follow-ups/{follow_up['id']}/complete",
        json={
            "version": moved.json()["version"],
            "outcome": "Interested, wants a demo",
            "next": {"kind": "meeting", "due_at": _iso(due + timedelta(days=7)), "notes": "Demo"},
        },
    )
    assert done.status_code == 200, done.text
    assert done.json()["done"]["status"] == "done" and done.json()["done"]["outcome"] == "Interested, wants a demo"
    following = done.json()["next"]
    assert (following["kind"], following["lead_id"], following["status"]) == ("meeting", lead["id"], "open")
    again = await admin.post(
        f"/api/follow-ups/{follow_up['id']}/complete", json={"version": done.json()["done"]["version"]}
    )
    assert again.status_code == 409 and again.json()["code"] == "not_open"
    async with server.session() as s:
        entry = (
            await s.scalars(
                select(AuditEntry).where(AuditEntry.entity == "follow_up", AuditEntry.action == "rescheduled")
            )
        ).one()
    assert {"field": "reason", "old": None, "new": "Client on holiday"} in entry.changes
    # The lead's timeline tells the story.
    kinds = [i["kind"] for i in (await admin.get(f"/api/leads/{lead['id']}/timeline")).json()["items"]]
    assert {"follow_up", "follow_up_rescheduled", "follow_up_completed"} <= set(kinds)
    listed = (await admin.get("/api/follow-ups", params={"lead_id": lead["id"], "status": "open"})).json()
    assert [f["id"] for f in listed["items"]] == [following["id"]]


async def test_my_day_in_the_callers_time_zone_and_the_week_calendar(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    await server.create_user("sam@example.com")
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: "today" there is often not today in UTC
    now = utcnow()
    local_midnight = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), datetime.min.time(), zone)
    async with server.client() as sam:
        await server.login(sam, "sam@example.com")
        lead = await make_lead(sam)
        times = {
            "overdue": now - timedelta(hours=3),
            "later today": local_midnight - timedelta(minutes=5),
            "tomorrow": local_midnight + timedelta(minutes=5),
        }
        ids = {}
        for name, due in times.items():
            ids[name] = (
                await sam.post(
                    "/api/follow-ups", json={"lead_id": lead["id"], "kind": "call", "due_at": _iso(due), "notes": name}
                )
            ).json()["id"]
        day = await sam.get("/api/follow-ups/my-day", params={"tz": "Pacific/Kiritimati"})
        assert day.status_code == 200, day.text
        assert [f["id"] for f in day.json()["overdue"]] == [ids["overdue"]]
        assert [f["id"] for f in day.json()["today"]] == [ids["later today"]]
        assert day.json()["date"] == now.astimezone(zone).date().isoformat()
        bad = await sam.get("/api/follow-ups/my-day", params={"tz": "Mars/Olympus"})
        assert bad.status_code == 422 and bad.json()["field"] == "tz"
        week = await sam.get(
            "/api/follow-ups/calendar",
            params={"start": _iso(now - timedelta(days=1)), "end": _iso(now + timedelta(days=6))},
        )
        assert [f["id"] for f in week.json()] == [ids["overdue"], ids["later today"], ids["tomorrow"]]
        too_long = await sam.get(
            "/api/follow-ups/calendar", params={"start": _iso(now), "end": _iso(now + timedelta(days=90))}
        )
        assert too_long.status_code == 422
    # Another salesperson sees none of them.
    await server.create_user("sue@example.com")
    async with server.client() as sue:
        await server.login(sue, "sue@example.com")
        week = await sue.get(
            "/api/follow-ups/calendar",
            params={"start": _iso(now - timedelta(days=1)), "end": _iso(now + timedelta(days=6))},
        )
        assert week.json() == []
        assert (await sue.get(f"/api/follow-ups/{ids['overdue']}")).status_code == 404
        refused = await sue.post("/api/follow-ups", json={"lead_id": lead["id"], "kind": "call", "due_at": _iso(now)})
        assert refused.status_code == 404  # she cannot see the lead


async def test_whose_follow_ups_a_filter_asks_for_and_scope_still_decides(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    """The per-person filter of the Activities screens: a manager looks at a teammate's day and week
    (each with its owner's name); a salesperson asking for a colleague's gets nothing, on every door."""
    sam = await server.create_user("sam@example.com", full_name="Sam Sales", team="North")
    await server.create_user("sue@example.com", full_name="Sue Sales", team="North")
    await server.create_user("max@example.com", role="Manager", full_name="Max Manager", team="North")
    olga = await server.create_user("olga@example.com", full_name="Olga South", team="South")
    now = utcnow()
    made = {}
    for who, owner in (("sam", sam), ("olga", olga)):
        lead = await make_lead(admin, company=f"{who} Ltd", owner_id=owner)
        answer = await admin.post(
            "/api/follow-ups",
            json={"lead_id": lead["id"], "kind": "call", "due_at": _iso(now - timedelta(hours=2))},
        )
        assert answer.status_code == 201, answer.text
        made[who] = answer.json()
    assert made["sam"]["owner_name"] == "Sam Sales"
    week = {"start": _iso(now - timedelta(days=1)), "end": _iso(now + timedelta(days=1))}

    async def ask(api, owner_id: int) -> tuple[list[int], list[int], list[int]]:  # type: ignore[no-untyped-def]
        day = await api.get("/api/follow-ups/my-day", params={"tz": "UTC", "owner_id": owner_id})
        calendar = await api.get("/api/follow-ups/calendar", params={**week, "owner_id": owner_id})
        listed = await api.get("/api/follow-ups", params={"owner_id": owner_id})
        assert day.status_code == calendar.status_code == listed.status_code == 200
        return (
            [f["id"] for f in day.json()["overdue"] + day.json()["today"]],
            [f["id"] for f in calendar.json()],
            [f["id"] for f in listed.json()["items"]],
        )

    async with server.client() as max_:
        await server.login(max_, "max@example.com")
        assert await ask(max_, sam) == ([made["sam"]["id"]],) * 3  # his team's
        assert await ask(max_, olga) == ([], [], [])  # another team's: not his to see
        everyone = await max_.get("/api/follow-ups/calendar", params=week)
        assert [(f["id"], f["owner_name"]) for f in everyone.json()] == [(made["sam"]["id"], "Sam Sales")]
        own = await max_.get("/api/follow-ups/my-day", params={"tz": "UTC"})
        assert own.json()["overdue"] == []  # his own day stays his own
    async with server.client() as sue:
        await server.login(sue, "sue@example.com")
        assert await ask(sue, sam) == ([], [], [])  # a colleague's, in her own scope: nothing
    async with server.client() as sam_api:
        await server.login(sam_api, "sam@example.com")
        assert await ask(sam_api, sam) == ([made["sam"]["id"]],) * 3
        mine = await sam_api.get("/api/follow-ups/my-day", params={"tz": "UTC"})
        assert [f["id"] for f in mine.json()["overdue"]] == [made["sam"]["id"]]
        huge = await sam_api.get("/api/follow-ups/my-day", params={"tz": "UTC", "owner_id": 2**70})
        assert huge.status_code == 422 and huge.json()["field"] == "owner_id"


async def test_reminders_are_sent_once_per_stage_even_with_two_workers(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    sam = await server.create_user("sam@example.com", full_name="Sam")
    muted = await server.create_user("mute@example.com", full_name="Mute")
    lead = await make_lead(admin, company="Acme", owner_id=sam)
    now = utcnow()
    due = {
        "soon": now + timedelta(minutes=30),
        "now": now - timedelta(minutes=1),
        "late": now - timedelta(days=1, minutes=5),
        "ancient": now - timedelta(days=30),
        "far": now + timedelta(hours=5),
    }
    ids = {}
    for name, at in due.items():
        ids[name] = (
            await admin.post(
                "/api/follow-ups", json={"lead_id": lead["id"], "kind": "call", "due_at": _iso(at), "notes": name}
            )
        ).json()["id"]
    muted_fu = (
        await admin.post(
            "/api/follow-ups",
            json={
                "lead_id": lead["id"],
                "kind": "email",
                "owner_id": muted,
                "due_at": _iso(now - timedelta(minutes=2)),
            },
        )
    ).json()
    async with server.client() as api:
        await server.login(api, "mute@example.com")
        await api.put("/api/me/notification-preferences", json={"enabled": {"follow_up_due": False}})
    done = (
        await admin.post(
            "/api/follow-ups", json={"lead_id": lead["id"], "kind": "call", "due_at": _iso(now - timedelta(minutes=3))}
        )
    ).json()
    await admin.post(f"/api/follow-ups/{done['id']}/complete", json={"version": done["version"]})

    db = Database(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=4)

    async def worker(at: datetime) -> dict[str, int]:
        async with db.transaction() as s:
            return await reminders.send_due(s, at)

    try:
        first = await asyncio.gather(worker(now), worker(now))  # two workers in the same minute
        assert sum(sum(r.values()) for r in first) == 3
        await worker(now)  # and once more: nothing new
        # An hour later "soon" is due now, and "now" is still only due (not yet a day late).
        later = await asyncio.gather(worker(now + timedelta(minutes=31)), worker(now + timedelta(minutes=31)))
        assert sum(sum(r.values()) for r in later) == 1
    finally:
        await db.dispose()
    async with server.session() as s:
        sent = (
            await s.execute(
                select(Notification.entity_id, Notification.kind, Notification.user_id).where(
                    Notification.entity == "follow_up"
                )
            )
        ).all()
    by_follow_up: dict[int | None, list[str]] = {}
    for entity_id, kind, _ in sent:
        by_follow_up.setdefault(entity_id, []).append(kind)
    assert sorted(by_follow_up[ids["soon"]]) == ["follow_up_due", "follow_up_soon"]
    assert by_follow_up[ids["now"]] == ["follow_up_due"]
    assert by_follow_up[ids["late"]] == ["follow_up_overdue"]
    assert ids["ancient"] not in by_follow_up and ids["far"] not in by_follow_up
    assert muted_fu["id"] not in by_follow_up and done["id"] not in by_follow_up
    assert {user for *_, user in sent} == {sam}
    # A reschedule starts the reminders over.
    async with server.session() as s:
        await s.execute(update(FollowUp).where(FollowUp.id == ids["now"]).values(reminders_sent=7))
    fu = (await admin.get(f"/api/follow-ups/{ids['now']}")).json()
    await admin.post(
        f"/api/follow-ups/{fu['id']}/reschedule",
        json={"version": fu["version"], "due_at": _iso(utcnow() + timedelta(minutes=10)), "reason": "later"},
    )
    async with server.session() as s:
        assert (await s.get(FollowUp, ids["now"])).reminders_sent == 0  # type: ignore[union-attr]
        assert (await reminders.send_due(s, utcnow()))["follow_up_soon"] == 1


def test_the_reminder_job_runs_every_minute() -> None:
    tasks = registry.registered()
    assert "crm:activities.send_reminders" in tasks
    assert registry.is_periodic("activities.send_reminders")

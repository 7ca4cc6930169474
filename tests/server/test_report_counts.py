"""The follow-ups' kept day counts (follow_up_day_counts, kept by triggers on follow_ups, migration
0040) answer what counting the follow-ups answers after every kind of write: create, reschedule,
complete, edit, a lead deleted with its follow-ups, a user removed (owner set to none), a COPY and a
TRUNCATE. Team activity and Home read them, so a change reaches both at once (no waiting for a
refresh): checked over HTTP with figures worked out here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, text

from crm_server.auth.models import User
from tests.server.test_leads import make_lead
from tests.support import LiveServer

DAY = timedelta(days=1)
RECOUNT = """
    SELECT CASE WHEN status = 'done' THEN (completed_at AT TIME ZONE 'UTC')::date
                ELSE (due_at AT TIME ZONE 'UTC')::date END, status, kind, owner_id, team_id, count(*)
      FROM follow_ups WHERE status IN ('open', 'done') GROUP BY 1, 2, 3, 4, 5"""
KEPT = "SELECT day, state, kind, owner_id, team_id, n FROM follow_up_day_counts WHERE n <> 0"


async def agree(server: LiveServer) -> set[tuple[Any, ...]]:
    async with server.session() as s:
        counted = {tuple(r) for r in (await s.execute(text(RECOUNT))).all()}
        kept = {tuple(r) for r in (await s.execute(text(KEPT))).all()}
    assert kept == counted
    return kept


async def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


async def test_kept_day_counts_follow_every_write_and_reach_reports(server: LiveServer, admin: Any) -> None:
    sam = await server.create_user("sam@example.com", role="Salesperson", team="East", full_name="Sam Seller")
    gone = await server.create_user("gone@example.com", role="Salesperson", team="West", full_name="Gone Seller")
    lead = await make_lead(admin, company="Acme")
    other = await make_lead(admin, company="Beta")
    now = datetime.now(UTC)
    today = now.date()

    async def follow_up(lead_id: int, kind: str, due: datetime, owner: int) -> dict[str, Any]:
        body = {"lead_id": lead_id, "kind": kind, "due_at": due.isoformat(), "owner_id": owner}
        return await _ok(await admin.post("/api/follow-ups", json=body), 201)

    late_call = await follow_up(lead["id"], "call", now - 3 * DAY, sam)
    late_mail = await follow_up(lead["id"], "email", now - 2 * DAY, sam)
    soon = await follow_up(lead["id"], "meeting", now + 2 * DAY, sam)
    await follow_up(other["id"], "call", now - DAY, gone)
    await agree(server)

    # Reschedule, complete (done today), an edit that changes nothing counted.
    moved = await _ok(
        await admin.post(
            f"/api/follow-ups/{late_mail['id']}/reschedule",
            json={"version": late_mail["version"], "due_at": (now + 5 * DAY).isoformat(), "reason": "Holiday"},
        )
    )
    await _ok(await admin.post(f"/api/follow-ups/{late_call['id']}/complete", json={"version": late_call["version"]}))
    await _ok(await admin.post(f"/api/follow-ups/{soon['id']}/complete", json={"version": soon["version"]}))
    await _ok(await admin.patch(f"/api/follow-ups/{moved['id']}", json={"version": moved["version"], "notes": "x"}))
    await agree(server)

    # What the reports and Home read now: done today, a call and a meeting (Sam's); overdue: the
    # departing colleague's call of yesterday.
    span = {"date_from": (today - 7 * DAY).isoformat(), "date_to": today.isoformat()}
    activity = await _ok(await admin.get("/api/reports/activity", params=span))
    figures = {f["label"]: f["value"] for f in activity["figures"]}
    assert (figures["Done"], figures["Overdue"]) == (2, 1)
    people = {row[0]: row for row in next(t for t in activity["tables"] if t["key"] == "people")["rows"]}
    assert people["Sam Seller"][1:5] == [1, 0, 1, 0]  # call, email, meeting, WhatsApp
    assert people["Gone Seller"][-1] == 1
    home = {w["key"]: w for w in (await _ok(await admin.get("/api/home")))["widgets"]}
    assert {f["key"]: f["value"] for f in home["follow_ups"]["figures"]}["overdue"] == 1

    # A lead deleted takes its follow-ups along; a user removed leaves theirs unowned.
    async with server.session() as s:
        await s.execute(delete(User).where(User.id == gone))
    await agree(server)
    home = {w["key"]: w for w in (await _ok(await admin.get("/api/home")))["widgets"]}
    assert home["follow_ups"]["table"]["rows"] == [["Unassigned", 1]]
    async with server.session() as s:
        await s.execute(text("DELETE FROM leads WHERE id = :i"), {"i": other["id"]})
    assert {row[3] for row in await agree(server)} == {sam}

    # A bulk load by COPY (as demo data is made), then everything truncated.
    async with server.session() as s:
        raw = await (await s.connection()).get_raw_connection()
        driver: Any = raw.driver_connection
        async with driver.cursor() as cursor:
            copy_sql = "COPY follow_ups (lead_id, kind, due_at, owner_id, status, completed_at) FROM STDIN"
            async with cursor.copy(copy_sql) as copy:
                for i in range(200):
                    at = now - i * DAY
                    await copy.write_row(
                        (lead["id"], "call", at, sam, "done" if i % 2 else "open", at if i % 2 else None)
                    )
    kept = await agree(server)
    assert sum(n for *_, n in kept) == 203  # the lead's three and the 200 copied
    assert date(2000, 1, 1) < min(day for day, *_ in kept)
    async with server.session() as s:
        await s.execute(text("TRUNCATE follow_ups CASCADE"))
    assert await agree(server) == set()

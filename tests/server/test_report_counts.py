"""The counts kept for reports (migration 0040) answer what counting the rows answers after every kind
of write, and a change reaches the reports at once (no waiting for a refresh), checked over HTTP with
figures worked out here:

- follow_up_day_counts (triggers on follow_ups): create, reschedule, complete, edit, a lead deleted
  with its follow-ups, a user removed (owner set to none), a COPY and a TRUNCATE; team activity and
  Home read them;
- leads.reached_status_ids (a row trigger) and lead_month_counts (triggers on leads): create, moves,
  edits, a backdated creation, archive, merge, a COPY; the sales funnel and lead sources read a
  range's whole months from them and its first and last days from the leads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, text

from crm_server.auth.models import User
from tests.server.test_leads import make_lead, move, status_ids
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


LEAD_RECOUNT = """
    SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date, pipeline_id, status_id, currency, owner_id,
           team_id, source, reached_status_ids, count(*), sum(coalesce(value, 0))
      FROM leads WHERE archived_at IS NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"""
LEAD_KEPT = """
    SELECT month, pipeline_id, status_id, currency, owner_id, team_id, source, reached, leads, value
      FROM lead_month_counts WHERE leads <> 0 OR value <> 0"""
CLOSED_RECOUNT = """
    SELECT date_trunc('month', closed_at AT TIME ZONE 'UTC')::date, pipeline_id, status_id, currency, owner_id,
           team_id, source, lost_reason_id, previous_status_id, count(*), sum(coalesce(value, 0))
      FROM leads WHERE archived_at IS NULL AND closed_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"""
CLOSED_KEPT = """
    SELECT month, pipeline_id, status_id, currency, owner_id, team_id, source, lost_reason_id, previous_status_id,
           leads, value
      FROM lead_closed_counts WHERE leads <> 0 OR value <> 0"""
PREVIOUS_FROM_HISTORY = """
    SELECT count(*) FROM leads l
     WHERE l.previous_status_id IS DISTINCT FROM (SELECT from_status_id FROM lead_status_history h
                                                  WHERE h.lead_id = l.id ORDER BY at DESC, id DESC LIMIT 1)"""
REACHED_FROM_HISTORY = """
    SELECT count(*) FROM leads l
     WHERE l.reached_status_ids <> ARRAY(SELECT DISTINCT to_status_id FROM lead_status_history h
                                          WHERE h.lead_id = l.id ORDER BY 1)"""


async def leads_agree(server: LiveServer) -> None:
    async with server.session() as s:

        def rows(found: Any) -> set[tuple[Any, ...]]:  # the reached statuses as a tuple: hashable
            return {(*r[:7], tuple(r[7]), *r[8:]) for r in found}

        counted = rows((await s.execute(text(LEAD_RECOUNT))).all())
        kept = rows((await s.execute(text(LEAD_KEPT))).all())
        assert kept == counted
        assert await s.scalar(text(REACHED_FROM_HISTORY)) == 0  # every status a lead was ever in
        assert await s.scalar(text(PREVIOUS_FROM_HISTORY)) == 0  # the one it left last
        closed = {tuple(r) for r in (await s.execute(text(CLOSED_RECOUNT))).all()}
        assert {tuple(r) for r in (await s.execute(text(CLOSED_KEPT))).all()} == closed
        dated = "SELECT count(*) FROM leads WHERE archived_at IS NULL AND expected_close_date IS NOT NULL"
        assert await s.scalar(text(dated)) == await s.scalar(text("SELECT sum(dated) FROM lead_board_counts"))


async def test_kept_month_counts_follow_leads_and_serve_funnel_and_sources(server: LiveServer, admin: Any) -> None:
    st = await status_ids(admin)
    sam = await server.create_user("sam@example.com", role="Salesperson", team="East", full_name="Sam Seller")
    web = [
        await make_lead(admin, person_name=f"Web {i}", source="Website", value="100", currency="EUR", owner_id=sam)
        for i in range(3)
    ]
    ads = [await make_lead(admin, person_name=f"Ad {i}", source="Ads", value="50", currency="EUR") for i in range(2)]
    # web[0]: Open -> Connected -> Won; web[1]: Open -> Connected; ads[0] straight to Won.
    first = (await _ok(await move(admin, web[0], st["Connected"])))["lead"]
    await _ok(await move(admin, first, st["Won"]))
    await _ok(await move(admin, web[1], st["Connected"]))
    await _ok(await move(admin, ads[0], st["Won"]))
    dated = await _ok(
        await admin.patch(
            f"/api/leads/{ads[1]['id']}", json={"version": ads[1]["version"], "expected_close_date": "2030-01-31"}
        )
    )
    await leads_agree(server)
    forecast = await _ok(
        await admin.get("/api/reports/forecast", params={"date_from": "2030-01-01", "date_to": "2030-03-31"})
    )
    undated = {f["label"]: f["value"] for f in forecast["figures"]}["Open, no close date"]
    assert undated == 2  # web[1] and web[2] (ads[1] has a date; web[0] and ads[0] are won)
    # Two leads made in last month's middle and one on its last day but one: whole-month counts.
    today = datetime.now(UTC).date()
    month_ago = today.replace(day=1) - DAY
    async with server.session() as s:
        for lead, day in (
            (web[0], month_ago.replace(day=15)),
            (ads[0], month_ago.replace(day=15)),
            (dated, month_ago),
        ):
            at = datetime.combine(day, datetime.min.time(), UTC)
            await s.execute(text("UPDATE leads SET created_at = :at WHERE id = :i"), {"at": at, "i": lead["id"]})
    await leads_agree(server)
    fresh = await _ok(await admin.get(f"/api/leads/{web[2]['id']}"))
    archived = await _ok(await admin.post(f"/api/leads/{fresh['id']}/archive", json={"version": fresh["version"]}))
    assert archived["archived_at"]
    await leads_agree(server)

    # From a few days before last month (part-month: counted lead by lead), last month whole (kept
    # counts), to today (part-month): the four live leads, two won.
    span = {"date_from": (month_ago.replace(day=1) - 3 * DAY).isoformat(), "date_to": today.isoformat()}
    funnel = await _ok(await admin.get("/api/reports/funnel", params=span))
    figures = {f["label"]: f["value"] for f in funnel["figures"]}
    assert (figures["Leads created"], figures["Won"]) == (4, 2)
    stages = {row[0]: row[1] for row in funnel["tables"][0]["rows"]}
    assert (stages["Open"], stages["Connected"], stages["Won"]) == (4, 3, 2)  # ads[0] jumped over Connected
    sources = await _ok(await admin.get("/api/reports/sources", params=span))
    by_source = {row[0]: row[1:5] for row in sources["tables"][0]["rows"]}
    assert by_source["Website"] == [2, 1, "50.0", "100.00"]
    assert by_source["Ads"] == [2, 1, "50.0", "50.00"]
    # Last month alone: only the kept counts; this month alone: only the leads counted one by one.
    whole = {"date_from": month_ago.replace(day=1).isoformat(), "date_to": month_ago.isoformat()}
    assert {
        f["label"]: f["value"] for f in (await _ok(await admin.get("/api/reports/funnel", params=whole)))["figures"]
    }["Leads created"] == 3
    this = {"date_from": today.replace(day=1).isoformat(), "date_to": today.isoformat()}
    assert {
        f["label"]: f["value"] for f in (await _ok(await admin.get("/api/reports/funnel", params=this)))["figures"]
    }["Leads created"] == 1

    # Lost last month from Connected, for a price: the lost deals report of last month (kept counts
    # only) names the reason and the stage; this month's (leads one by one) has none.
    reasons = {r["name"]: r["id"] for r in await _ok(await admin.get("/api/lost-reasons"))}
    connected = await _ok(await admin.get(f"/api/leads/{web[1]['id']}"))
    await _ok(await move(admin, connected, st["Lost"], lost_reason_id=reasons["Price too high"]))
    async with server.session() as s:
        at = datetime.combine(month_ago, datetime.min.time(), UTC)
        await s.execute(text("UPDATE leads SET closed_at = :at WHERE id = :i"), {"at": at, "i": web[1]["id"]})
    await leads_agree(server)
    lost = await _ok(await admin.get("/api/reports/lost", params=whole))
    tables = {t["key"]: t["rows"] for t in lost["tables"]}
    assert tables["reasons"] == [["Price too high", 1, "100.00"]]
    assert tables["stages"] == [["Connected", 1, "100.00"]]
    assert tables["owners"] == [["Sam Seller", 1, "100.00"]]
    assert (await _ok(await admin.get("/api/reports/lost", params=this)))["tables"][0]["rows"] == []

    # A bulk load by COPY: the row trigger fills what each lead reached.
    async with server.session() as s:
        raw = await (await s.connection()).get_raw_connection()
        driver: Any = raw.driver_connection
        pipeline = (await admin.get("/api/pipelines")).json()[0]["id"]
        async with driver.cursor() as cursor:
            async with cursor.copy("COPY leads (person_name, pipeline_id, status_id, source) FROM STDIN") as copy:
                for i in range(50):
                    await copy.write_row((f"Copied {i}", pipeline, st["Connected"], "Fair"))
    await leads_agree(server)

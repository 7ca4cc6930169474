"""Recurring invoices: the rule only on issued invoices (drafts never recur), month ends clamped,
the hour gate and the admin's "Run now" that ignores it, "only from paid invoices" skipping with its
reason on the invoice and in the job log, cycles that stop when done, forever, catching up missed
runs one per run, auto-send, numbering without gaps, one failure not stopping the rest, permissions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from crm_server.admin.models import AuditEntry
from crm_server.config import to_sqlalchemy_url
from crm_server.db import Database
from crm_server.invoices import recurring, scheduled
from crm_server.invoices.models import Invoice
from crm_server.jobs import registry
from tests.support import PASSWORD, LiveServer


async def _client(api: Any, name: str = "Acme", **fields: Any) -> dict[str, Any]:
    made = await api.post("/api/clients", json={"name": name, **fields})
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def _rate(api: Any) -> int:
    return int({r["name"]: r["id"] for r in (await api.get("/api/tax-rates")).json()}["Standard 19%"])


async def _draft(api: Any, client_id: int, issue_date: date | None = None) -> dict[str, Any]:
    body = {
        "client_id": client_id,
        "notes": "Monthly support",
        "issue_date": issue_date.isoformat() if issue_date else None,
        "lines": [
            {"description": "Support plan", "quantity": "1", "unit_price": "100.00", "tax_rate_id": await _rate(api)},
            {"description": "Hosting", "quantity": "2", "unit_price": "10.50", "tax_rate_id": await _rate(api)},
        ],
    }
    made = await api.post("/api/invoices", json=body)
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def _issued(api: Any, client_id: int, issue_date: date) -> dict[str, Any]:
    draft = await _draft(api, client_id, issue_date)
    issued = await api.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]})
    assert issued.status_code == 200, issued.text
    return issued.json()  # type: ignore[no-any-return]


async def _recur(
    api: Any,
    invoice: dict[str, Any],
    every: int = 1,
    unit: str = "month",
    cycles: int | None = None,
    stop: bool = False,
) -> Any:
    """PUT the rule; answers the raw response (the caller checks the status)."""
    current = (await api.get(f"/api/invoices/{invoice['id']}")).json()
    rule = None if stop else {"every": every, "unit": unit, "cycles": cycles}
    return await api.put(
        f"/api/invoices/{invoice['id']}/recurrence", json={"version": current["version"], "recurrence": rule}
    )


async def _get(api: Any, invoice_id: int) -> dict[str, Any]:
    answer = await api.get(f"/api/invoices/{invoice_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def _settings(api: Any, **values: Any) -> None:
    answer = await api.patch("/api/settings", json={"values": {f"invoices.{k}": v for k, v in values.items()}})
    assert answer.status_code == 200, answer.text


async def _copies(api: Any, source_id: int) -> list[dict[str, Any]]:
    items = (await api.get("/api/invoices", params={"sort": "number", "limit": 500})).json()["items"]
    return [i for i in items if i["recurred_from_id"] == source_id]


@asynccontextmanager
async def _db(server: LiveServer) -> AsyncIterator[Database]:
    db = Database(to_sqlalchemy_url(server.database_url), pool_size=2)
    try:
        yield db
    finally:
        await db.dispose()


async def _job(server: LiveServer, now: datetime, manual: bool = False) -> str:
    """The `invoices.recur` task itself, as a worker calls it at `now` (server local time)."""
    async with _db(server) as db:
        context = SimpleNamespace(additional_context={"db": db})
        result: str = await scheduled.recur.func(context, timestamp=int(now.timestamp()), manual=manual)
    return result


def at(day: date, hour: int = 6) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0)


def test_dates_are_counted_from_the_issue_date_with_month_ends_clamped() -> None:
    jan31 = date(2027, 1, 31)
    assert [recurring.occurrence(jan31, 1, "month", k) for k in (1, 2, 3, 13)] == [
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2028, 2, 29),
    ]
    assert recurring.add_units(date(2028, 2, 29), 1, "year") == date(2029, 2, 28)
    assert recurring.add_units(date(2027, 12, 15), 3, "month") == date(2028, 3, 15)
    assert recurring.add_units(date(2027, 1, 1), 2, "week") == date(2027, 1, 15)
    assert recurring.first_occurrence_from(jan31, 1, "month", date(2027, 3, 1)) == date(2027, 3, 31)
    assert recurring.first_occurrence_from(jan31, 1, "month", date(2027, 1, 1)) == date(2027, 2, 28)
    assert recurring.first_occurrence_from(jan31, 2, "month", date(2027, 6, 1)) == date(2027, 7, 31)
    assert recurring.first_occurrence_from(jan31, 1, "year", date(2030, 2, 1)) == date(2031, 1, 31)
    assert recurring.first_occurrence_from(date(2027, 1, 1), 10, "day", date(2027, 1, 21)) == date(2027, 1, 21)
    assert recurring.first_occurrence_from(date(2027, 1, 1), 1, "week", date(2027, 1, 9)) == date(2027, 1, 15)
    assert recurring.occurrence_after(jan31, 1, "month", date(2027, 2, 28)) == date(2027, 3, 31)


async def test_rule_only_on_issued_invoices_and_permissions(server: LiveServer, admin: Any) -> None:
    sales_id = await server.create_user("sam@example.com", role="Salesperson")
    await server.create_user("acc@example.com", role="Accountant")
    client = await _client(admin, owner_id=sales_id)
    today = date.today()

    draft = await _draft(admin, client["id"])
    refused = await _recur(admin, draft)
    assert refused.status_code == 409, refused.text
    assert refused.json()["field"] == "recurrence" and refused.json()["code"] == "draft_cannot_recur"
    assert "Drafts never recur" in refused.json()["message"]
    assert (await _get(admin, draft["id"]))["recurrence"] is None

    issued = await _issued(admin, client["id"], today)
    stale = await admin.put(
        f"/api/invoices/{issued['id']}/recurrence", json={"version": issued["version"] - 1, "recurrence": {"every": 1}}
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    zero = await admin.put(
        f"/api/invoices/{issued['id']}/recurrence", json={"version": issued["version"], "recurrence": {"every": 0}}
    )
    assert zero.status_code == 422 and zero.json()["field"] == "recurrence.every", zero.text
    answer = await _recur(admin, issued, 1, "month", cycles=3)
    assert answer.status_code == 200, answer.text
    rule = answer.json()["recurrence"]
    assert rule == {
        "every": 1,
        "unit": "month",
        "cycles": 3,
        "done": 0,
        "next_on": recurring.occurrence(today, 1, "month", 1).isoformat(),
        "last_skip": None,
    }
    assert answer.json()["version"] > issued["version"]
    listed = (await admin.get("/api/invoices")).json()["items"]
    assert next(i for i in listed if i["id"] == issued["id"])["recurrence"]["every"] == 1

    async with server.client() as sam:  # may see the invoice, may not change it
        await server.login(sam, "sam@example.com", PASSWORD)
        assert (await sam.get(f"/api/invoices/{issued['id']}")).json()["recurrence"]["cycles"] == 3
        assert (await _recur(sam, issued, stop=True)).status_code == 403
    async with server.client() as acc:
        await server.login(acc, "acc@example.com", PASSWORD)
        weekly = await _recur(acc, issued, 2, "week")
        assert weekly.status_code == 200, weekly.text
        assert weekly.json()["recurrence"]["next_on"] == (today + timedelta(weeks=2)).isoformat()
        stopped = await _recur(acc, issued, stop=True)
        assert stopped.status_code == 200 and stopped.json()["recurrence"] is None

    async with server.session() as s:
        audit = (
            await s.execute(
                select(AuditEntry.action, AuditEntry.changes)
                .where(
                    AuditEntry.entity == "invoice",
                    AuditEntry.entity_id == issued["id"],
                    AuditEntry.action == "recurrence",
                )
                .order_by(AuditEntry.id)
            )
        ).all()
    assert len(audit) == 3
    assert {"field": "recur_every", "old": None, "new": 1} in audit[0][1]
    assert {"field": "recur_unit", "old": "week", "new": None} in audit[2][1]

    cancelled = await _issued(admin, client["id"], today)
    credit = (
        await admin.post(f"/api/invoices/{cancelled['id']}/cancel", json={"version": cancelled["version"]})
    ).json()
    for invoice in (cancelled, credit):
        answer = await _recur(admin, invoice)
        assert answer.status_code == 409 and answer.json()["field"] == "recurrence", answer.text
        assert answer.json()["code"] == "not_recurrable"

    await server.create_user("max@example.com", role="Manager", team="North")
    async with server.client() as max_:  # may edit invoices, but not this one: not in Max's team
        await server.login(max_, "max@example.com", PASSWORD)
        hidden = await max_.put(
            f"/api/invoices/{issued['id']}/recurrence",
            json={"version": stopped.json()["version"], "recurrence": {"every": 1}},
        )
        assert hidden.status_code == 404, hidden.text


async def test_hour_gate_manual_run_and_gapless_copies(server: LiveServer, admin: Any) -> None:
    assert registry.is_periodic("invoices.recur")
    client = await _client(admin, email="billing@acme.example")
    today = date.today()
    source = await _issued(admin, client["id"], today - timedelta(days=1))
    assert (await _recur(admin, source, 1, "day")).json()["recurrence"]["next_on"] == today.isoformat()
    await _settings(admin, recurring_hour=6)

    assert await _job(server, at(today, 5)) == "not the hour: recurring invoices are made at 06:00 (server time)"
    assert await _copies(admin, source["id"]) == []
    year = today.year
    result = await _job(server, at(today, 5), manual=True)  # "Run now": the hour does not matter
    assert result == f"made 1: INV-{year}-000002 (from INV-{year}-000001)"
    assert await _job(server, at(today, 6)) == "no recurring invoice is due"

    (copy,) = await _copies(admin, source["id"])
    copy = await _get(admin, copy["id"])
    assert copy["number"] == f"INV-{year}-000002" and copy["status"] == "unpaid"
    assert (copy["issue_date"], copy["due_date"]) == (today.isoformat(), (today + timedelta(days=14)).isoformat())
    assert copy["recurrence"] is None and copy["notes"] == "Monthly support"
    assert [(ln["description"], ln["quantity"], ln["unit_price"], ln["gross"]) for ln in copy["lines"]] == [
        (ln["description"], ln["quantity"], ln["unit_price"], ln["gross"]) for ln in source["lines"]
    ]
    assert copy["gross_total"] == source["gross_total"] == "143.99"
    rule = (await _get(admin, source["id"]))["recurrence"]
    assert (rule["done"], rule["next_on"]) == (1, (today + timedelta(days=1)).isoformat())

    tomorrow = today + timedelta(days=1)
    assert await _job(server, at(tomorrow, 7)) == "not the hour: recurring invoices are made at 06:00 (server time)"
    assert await _job(server, at(tomorrow, 6)) == (
        f"made 1: INV-{tomorrow.year}-{2 if tomorrow.year != year else 3:06d} (from INV-{year}-000001)"
    )
    other = await _issued(admin, client["id"], today)  # a user's invoice takes the next number, no gap
    numbers = sorted(
        i["number"] for i in (await admin.get("/api/invoices")).json()["items"] if i["number"].startswith(f"INV-{year}")
    )
    assert numbers == [f"INV-{year}-{n:06d}" for n in range(1, len(numbers) + 1)]
    assert other["number"] == numbers[-1]

    async with server.session() as s:
        made = (
            await s.execute(
                select(AuditEntry.action, AuditEntry.actor_id)
                .where(AuditEntry.entity == "invoice", AuditEntry.entity_id == copy["id"])
                .order_by(AuditEntry.id)
            )
        ).all()
        recurred = (
            await s.scalars(
                select(AuditEntry.changes)
                .where(AuditEntry.entity_id == source["id"], AuditEntry.action == "recurred")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [tuple(r) for r in made] == [("created", None), ("issued", None)]  # the system acted
    assert {"field": "made", "old": None, "new": f"INV-{year}-000002"} in recurred[0]


async def test_month_end_clamping_and_cycles_stop_when_done(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    source = await _issued(admin, client["id"], date(2027, 1, 31))
    assert source["number"] == "INV-2027-000001"
    rule = (await _recur(admin, source, 1, "month", cycles=3)).json()["recurrence"]
    assert rule["next_on"] == "2027-02-28"

    assert await _job(server, at(date(2027, 2, 27))) == "no recurring invoice is due"
    assert await _job(server, at(date(2027, 2, 28))) == "made 1: INV-2027-000002 (from INV-2027-000001)"
    assert (await _get(admin, source["id"]))["recurrence"]["next_on"] == "2027-03-31"  # not the 28th
    assert await _job(server, at(date(2027, 3, 31))) == "made 1: INV-2027-000003 (from INV-2027-000001)"
    assert await _job(server, at(date(2027, 4, 30))) == (
        "made 1: INV-2027-000004 (from INV-2027-000001); stopped 1: INV-2027-000001 cycles done (3 of 3)"
    )
    rule = (await _get(admin, source["id"]))["recurrence"]
    assert (rule["done"], rule["cycles"], rule["next_on"]) == (3, 3, None)
    assert await _job(server, at(date(2027, 5, 31))) == "no recurring invoice is due"
    copies = await _copies(admin, source["id"])
    assert [(c["number"], c["issue_date"]) for c in copies] == [
        ("INV-2027-000002", "2027-02-28"),
        ("INV-2027-000003", "2027-03-31"),
        ("INV-2027-000004", "2027-04-30"),
    ]

    too_few = await _recur(admin, source, 1, "month", cycles=3)
    assert too_few.status_code == 422 and too_few.json()["field"] == "recurrence.cycles", too_few.text
    assert "3 invoice(s) were already made" in too_few.json()["message"]
    more = await _recur(admin, source, 1, "month", cycles=4)
    assert more.status_code == 200, more.text
    # The next date follows the last one made (30 April), counted from 31 January.
    assert more.json()["recurrence"] == {
        "every": 1,
        "unit": "month",
        "cycles": 4,
        "done": 3,
        "next_on": "2027-05-31",
        "last_skip": None,
    }


async def test_forever_and_missed_runs_catch_up_one_per_run(server: LiveServer, admin: Any) -> None:
    client = await _client(admin)
    source = await _issued(admin, client["id"], date(2027, 3, 10))
    assert (await _recur(admin, source, 1, "week")).json()["recurrence"]["next_on"] == "2027-03-17"
    late = at(date(2027, 4, 1))  # the server was down for two weeks
    # Two servers running at once: the source is locked by one, the other skips it or takes the next date.
    both = await asyncio.gather(_job(server, late), _job(server, late, manual=True))
    made = sorted(r for r in both if r != "no recurring invoice is due")
    assert made[0] == "made 1: INV-2027-000002 (from INV-2027-000001)" and len(made) in (1, 2), both
    while len(made) < 3:
        made.append(await _job(server, late))
    assert made[1:] == [f"made 1: INV-2027-00000{n} (from INV-2027-000001)" for n in (3, 4)]
    assert await _job(server, late) == "no recurring invoice is due"
    copies = await _copies(admin, source["id"])
    assert [c["issue_date"] for c in copies] == ["2027-03-17", "2027-03-24", "2027-03-31"]
    assert [c["due_date"] for c in copies] == ["2027-03-31", "2027-04-07", "2027-04-14"]
    rule = (await _get(admin, source["id"]))["recurrence"]
    assert (rule["cycles"], rule["done"], rule["next_on"]) == (None, 3, "2027-04-07")
    for week in range(1, 4):  # forever: it goes on
        assert (await _job(server, at(date(2027, 4, 7) + timedelta(weeks=week - 1)))).startswith("made 1")
    assert (await _get(admin, source["id"]))["recurrence"]["done"] == 6


async def test_only_paid_skips_with_the_reason_in_the_job_log(
    server: LiveServer, admin: Any, database_url: str
) -> None:
    client = await _client(admin)
    today = date.today()
    source = await _issued(admin, client["id"], today - timedelta(days=1))
    await _recur(admin, source, 1, "day")
    number = source["number"]
    hour = (datetime.now().hour + 12) % 24  # far from now: only "Run now" can act
    await _settings(admin, recurring_only_paid=True, recurring_hour=hour)

    queued = await admin.post("/api/admin/jobs/invoices.recur/run")
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["id"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        args = conn.execute("SELECT args FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()
    assert args is not None and args[0]["manual"] is True and "timestamp" in args[0]

    with LiveServer.run(database_url, worker=True):
        deadline = time.monotonic() + 30
        while True:
            run = next((r for r in (await admin.get("/api/admin/jobs")).json() if r["id"] == job_id), None)
            if run and run["status"] in ("succeeded", "failed"):
                break
            assert time.monotonic() < deadline, run
            await asyncio.sleep(0.1)
    assert run["status"] == "succeeded" and run["error"] is None, run
    assert run["result"] == (
        f"skipped 1: {number} is not paid (only from paid invoices), the invoice of {today.isoformat()} was not made"
    )
    assert await _copies(admin, source["id"]) == []
    rule = (await _get(admin, source["id"]))["recurrence"]
    assert rule["last_skip"] == f"{today.isoformat()}: {number} is not paid (only from paid invoices)"
    assert (rule["done"], rule["next_on"]) == (0, (today + timedelta(days=1)).isoformat())  # not retried hourly

    paid = await admin.post(f"/api/invoices/{source['id']}/payments", json={"amount": source["gross_total"]})
    assert paid.status_code == 201, paid.text
    tomorrow = today + timedelta(days=1)
    assert (await _job(server, at(tomorrow, hour))).startswith("made 1: INV-")
    rule = (await _get(admin, source["id"]))["recurrence"]
    assert (rule["done"], rule["last_skip"]) == (1, None)
    async with server.session() as s:
        skipped = (
            await s.scalars(
                select(AuditEntry.changes).where(
                    AuditEntry.entity_id == source["id"], AuditEntry.action == "recurrence_skipped"
                )
            )
        ).all()
    assert len(skipped) == 1 and any(c["field"] == "recur_last_skip" for c in skipped[0])


async def test_one_failure_does_not_stop_the_others_and_gives_no_number_back(server: LiveServer, admin: Any) -> None:
    gone = await _client(admin, "Gone Ltd")
    kept = await _client(admin, "Kept Ltd")
    first = await _issued(admin, gone["id"], date(2027, 1, 5))
    second = await _issued(admin, kept["id"], date(2027, 1, 5))
    await _recur(admin, first)
    await _recur(admin, second)
    current = (await admin.get(f"/api/clients/{gone['id']}")).json()
    assert (await admin.post(f"/api/clients/{gone['id']}/archive", json={"version": current["version"]})).is_success
    result = await _job(server, at(date(2027, 2, 5)))
    assert result == (
        "made 1: INV-2027-000003 (from INV-2027-000002); failed 1: INV-2027-000001: "
        "This client is archived; restore it first."
    )
    rule = (await _get(admin, first["id"]))["recurrence"]
    assert rule["next_on"] == "2027-02-05" and rule["done"] == 0  # tried again on the next run
    assert rule["last_skip"] == "2027-02-05: could not be made: This client is archived; restore it first."
    current = (await admin.get(f"/api/clients/{gone['id']}")).json()
    assert (await admin.post(f"/api/clients/{gone['id']}/restore", json={"version": current["version"]})).is_success
    assert await _job(server, at(date(2027, 2, 6))) == "made 1: INV-2027-000004 (from INV-2027-000001)"

    # A source cancelled after its rule was set stops recurring at its next date.
    current = await _get(admin, second["id"])
    assert (await admin.post(f"/api/invoices/{second['id']}/cancel", json={"version": current["version"]})).is_success
    assert await _job(server, at(date(2027, 3, 5))) == (
        "made 1: INV-2027-000005 (from INV-2027-000001); stopped 1: INV-2027-000002 is cancelled"
    )
    async with server.session() as s:
        row = await s.get(Invoice, second["id"])
        assert row is not None and row.recur_next_on is None and row.recur_every == 1


async def test_made_invoices_are_emailed_when_the_setting_says_so(server: LiveServer, admin: Any) -> None:
    pytest.importorskip("crm_server.invoices.sending", reason="the sending module (helper H1) is not there yet")
    with_email = await _client(admin, "Mailed", email="billing@mailed.example")
    without = await _client(admin, "Paper")
    a = await _issued(admin, with_email["id"], date(2027, 1, 5))
    b = await _issued(admin, without["id"], date(2027, 1, 5))
    await _recur(admin, a)
    await _recur(admin, b)
    assert await _job(server, at(date(2027, 2, 5))) == (
        "made 2: INV-2027-000003 (from INV-2027-000001), INV-2027-000004 (from INV-2027-000002)"
    )
    unsent = (await _copies(admin, a["id"]))[0]
    assert unsent["send_status"] == "unsent"  # the setting is off by default
    await _settings(admin, recurring_send=True)
    assert await _job(server, at(date(2027, 3, 5))) == (
        "made 2: INV-2027-000005 (from INV-2027-000001), INV-2027-000006 (from INV-2027-000002); "
        "not emailed 1: INV-2027-000006: the client has no email address"
    )
    mailed = (await _copies(admin, a["id"]))[-1]
    assert mailed["number"] == "INV-2027-000005" and mailed["send_status"] == "queued"
    emails = (await admin.get(f"/api/invoices/{mailed['id']}/emails")).json()
    assert [(e["recipient"], e["status"]) for e in emails] == [("billing@mailed.example", "queued")]
    assert (await _copies(admin, b["id"]))[-1]["send_status"] == "unsent"

"""Home over HTTP (issue #20): each figure against a small hand-made data set whose numbers are worked
out here, the widgets a role's permissions give, and scope (a salesperson's Home counts only their
own). Amounts in EUR, the base currency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tests.support import LiveServer

DAY = timedelta(days=1)


async def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def _widgets(home: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["key"]: w for w in home["widgets"]}


def _figures(widget: dict[str, Any]) -> dict[str, Any]:
    return {f["key"]: f["value"] for f in widget["figures"]}


async def test_home_figures_widgets_and_scope(server: LiveServer, admin: Any) -> None:
    sam = await server.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller")
    olga = await server.create_user("olga@example.com", role="Salesperson", full_name="Olga Other")
    pipelines = await _ok(await admin.get("/api/pipelines"))
    st = {s["name"]: s["id"] for s in next(p for p in pipelines if p["is_default"])["statuses"]}
    async with server.session() as s:  # win probabilities: Open 10 %, Connected 50 %
        await s.execute(text("UPDATE pipeline_statuses SET win_probability = 10 WHERE id = :i"), {"i": st["Open"]})
        await s.execute(text("UPDATE pipeline_statuses SET win_probability = 50 WHERE id = :i"), {"i": st["Connected"]})
    now = datetime.now(UTC)
    today = now.date().isoformat()

    async def lead(name: str, **fields: Any) -> dict[str, Any]:
        body = {"person_name": name, "currency": "EUR", **fields}
        return await _ok(await admin.post("/api/leads", json=body), 201)

    a = await lead("A", owner_id=sam, value="1000", expected_close_date=today, status_id=st["Open"])
    await lead("B", owner_id=sam, value="3000", status_id=st["Connected"])  # no close date
    await lead("C", owner_id=olga, value="500", expected_close_date=today, status_id=st["Connected"])
    d = await lead("D", value="200", status_id=st["Open"])  # unassigned, made two days ago
    e = await lead("E", owner_id=olga, value="700", status_id=st["Connected"])
    await _ok(await admin.post(f"/api/leads/{e['id']}/move", json={"status_id": st["Won"], "version": e["version"]}))
    async with server.session() as s:
        await s.execute(
            text("UPDATE leads SET owner_id = NULL, team_id = NULL, created_at = :at WHERE id = :i"),
            {"at": now - 2 * DAY, "i": d["id"]},
        )

    async def follow_up(kind: str, due: datetime, owner: int) -> dict[str, Any]:
        body = {"lead_id": a["id"], "kind": kind, "due_at": due.isoformat(), "owner_id": owner}
        return await _ok(await admin.post("/api/follow-ups", json=body), 201)

    await follow_up("call", now - DAY, sam)  # overdue
    await follow_up("email", now + timedelta(minutes=1), sam)  # due today
    await follow_up("call", now - 3 * DAY, olga)  # overdue
    done = await follow_up("meeting", now + DAY, olga)  # done today by Ada
    await _ok(await admin.post(f"/api/follow-ups/{done['id']}/complete", json={"version": done["version"]}))

    t1 = await _ok(await admin.post("/api/tickets", json={"subject": "Down", "priority": "high"}), 201)
    t2 = await _ok(await admin.post("/api/tickets", json={"subject": "Question"}), 201)
    me = await _ok(await admin.get("/api/auth/me"))
    await _ok(
        await admin.post(f"/api/tickets/{t2['id']}/assign", json={"assignee_id": me["id"], "version": t2["version"]})
    )
    async with server.session() as s:  # T1's first answer was due an hour ago; T2's tomorrow
        await s.execute(
            text("UPDATE tickets SET first_response_due_at = :at, assignee_id = NULL WHERE id = :i"),
            {"at": now - timedelta(hours=1), "i": t1["id"]},
        )
        await s.execute(
            text("UPDATE tickets SET first_response_due_at = :at WHERE id = :i"), {"at": now + DAY, "i": t2["id"]}
        )
    async with server.client() as stranger:  # one failed sign-in
        answer = await stranger.post("/api/auth/login", json={"email": "sam@example.com", "password": "wrong-one"})
        assert answer.status_code >= 400

    for _ in range(20):  # enough requests for a percentile
        assert (await admin.get("/api/version")).status_code == 200
    home = _widgets(await _ok(await admin.get("/api/home")))
    assert list(home)[:6] == ["security", "backups", "jobs", "integrations", "disk", "responses"]
    # The server's own request times: every request this test made so far was timed.
    (p95,) = home["responses"]["figures"]
    assert p95["value"].endswith(" ms") and float(p95["value"].removesuffix(" ms").replace(",", "")) > 0, p95
    assert int(p95["detail"].split()[0].replace(",", "")) >= 20, p95
    # Open: A 1000, B 3000, C 500, D 200 (E is won). Closing this month: A + C. Weighted: 1000 x 10 % + 500 x 50 %.
    assert _figures(home["pipeline"]) == {
        "open_value": "4700.00",
        "open_leads": 4,
        "closing_this_month": "1500.00",
        "forecast": "350.00",
    }
    assert _figures(home["new_leads"]) == {"new_24h": 4, "unassigned": 1}  # A, B, C, E; D
    assert _figures(home["follow_ups"]) == {"due_today": 1, "overdue": 2}
    assert home["follow_ups"]["table"]["rows"] == [["Olga Other", 1], ["Sam Seller", 1]]
    assert _figures(home["team_activity"]) == {"calls": 0, "emails": 0, "meetings": 1, "won": 1, "lost": 0}
    assert home["team_activity"]["table"]["rows"] == [["Ada Admin", 0, 0, 1, 0, 0], ["Olga Other", 0, 0, 0, 1, 0]]
    assert _figures(home["ticket_alerts"]) == {"high_priority": 1, "unassigned": 1, "sla_breaches": 1}
    assert _figures(home["my_tickets"]) == {"queue": 1, "breaching": 0, "waiting": 0}
    assert _figures(home["overdue_invoices"]) == {"count": 0, "amount": "0.00"}
    assert _figures(home["low_stock"]) == {"low": 0}
    assert _figures(home["security"]) == {"failed_logins": 1, "lockouts": 0}
    assert _figures(home["jobs"]) == {"failed": 0}
    assert home["disk"]["figures"][0]["kind"] == "bytes" and home["disk"]["figures"][0]["value"] > 0
    # Each figure names the list behind it, with the very filter its count used.
    breaches = next(f for f in home["ticket_alerts"]["figures"] if f["key"] == "sla_breaches")
    assert breaches["module"] == "tickets" and breaches["filter"] == {"breaching": True}
    listed = await _ok(await admin.get("/api/tickets", params={"breaching": True}))
    assert [t["id"] for t in listed["items"]] == [t1["id"]]
    queue = next(f for f in home["my_tickets"]["figures"] if f["key"] == "queue")
    listed = await _ok(await admin.get("/api/tickets", params=queue["filter"]))
    assert [t["id"] for t in listed["items"]] == [t2["id"]]

    async with server.client() as sam_api:
        await server.login(sam_api, "sam@example.com")
        mine = _widgets(await _ok(await sam_api.get("/api/home")))
    # A salesperson: no system health, no team activity, no tickets; only their own leads and follow-ups.
    assert set(mine) == {"pipeline", "targets", "new_leads", "follow_ups", "overdue_invoices", "low_stock"}
    assert mine["pipeline"]["title"] == "My pipeline"
    assert _figures(mine["pipeline"]) == {
        "open_value": "4000.00",
        "open_leads": 2,
        "closing_this_month": "1000.00",
        "forecast": "100.00",
    }
    assert _figures(mine["new_leads"]) == {"new_24h": 2, "unassigned": 0}
    assert _figures(mine["follow_ups"]) == {"due_today": 1, "overdue": 1}
    assert mine["follow_ups"]["table"] is None

    async with server.client() as anonymous:
        assert (await anonymous.get("/api/home")).status_code == 401

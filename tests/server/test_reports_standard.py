"""The standard reports of issue #20 over HTTP, each figure against a small hand-made data set whose
numbers are worked out here: sales funnel (from the status history the moves write), lost deals,
lead sources with costs and return, team activity beside the previous period, pipeline forecast
weighted by stage probabilities, support times and breaches, receivables ageing; each as an
administrator and as a salesperson who counts only their own; bad filters named."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tests.support import LiveServer

DAY = timedelta(days=1)


async def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


async def _report(api: Any, key: str, **params: Any) -> dict[str, Any]:
    return await _ok(await api.get(f"/api/reports/{key}", params=params))


def _table(report: dict[str, Any], key: str) -> list[list[Any]]:
    return next(t["rows"] for t in report["tables"] if t["key"] == key)


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    return {f["label"]: f["value"] for f in report["figures"]}


async def _statuses(api: Any) -> dict[str, int]:
    pipelines = await _ok(await api.get("/api/pipelines"))
    default = next(p for p in pipelines if p["is_default"])
    return {s["name"]: s["id"] for s in default["statuses"]}


async def _lead(api: Any, name: str, **fields: Any) -> dict[str, Any]:
    return await _ok(await api.post("/api/leads", json={"person_name": name, **fields}), 201)


async def _move(api: Any, lead: dict[str, Any], status_id: int, **fields: Any) -> dict[str, Any]:
    moved = await _ok(
        await api.post(
            f"/api/leads/{lead['id']}/move", json={"status_id": status_id, "version": lead["version"], **fields}
        )
    )
    return moved


async def _backdate_moves(server: LiveServer, lead_id: int, days_ago: list[float]) -> None:
    """Give a lead's history rows (oldest first) these times: so many days before now."""
    now = datetime.now(UTC)
    async with server.session() as s:
        ids = list(
            (
                await s.execute(
                    text("SELECT id FROM lead_status_history WHERE lead_id = :l ORDER BY id"), {"l": lead_id}
                )
            ).scalars()
        )
        assert len(ids) == len(days_ago), (lead_id, len(ids))
        for row_id, ago in zip(ids, days_ago, strict=True):
            await s.execute(
                text("UPDATE lead_status_history SET at = :at WHERE id = :id"),
                {"at": now - timedelta(days=ago), "id": row_id},
            )


async def test_funnel_lost_deals_and_sources(server: LiveServer, admin: Any) -> None:
    sam = await server.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller")
    olga = await server.create_user("olga@example.com", role="Salesperson", full_name="Olga Other")
    st = await _statuses(admin)
    reasons = {r["name"]: r["id"] for r in await _ok(await admin.get("/api/lost-reasons"))}
    fc, conn = st["First Contact"], st["Connected"]
    # L1 Open -> First Contact -> Connected -> Won (becomes a client); Website, 3000 EUR.
    l1 = await _lead(admin, "L1", source="Website", value="3000", currency="EUR", company="One Ltd")
    l1 = (await _move(admin, l1, fc))["lead"]
    l1 = (await _move(admin, l1, conn))["lead"]
    won = await _move(admin, l1, st["Won"], convert=True, client={"name": "One Ltd"})
    client_id = won["client"]["id"]
    # L2 New -> First Contact -> Lost (price); Website, 1000 EUR.
    l2 = await _lead(admin, "L2", source="Website", value="1000", currency="EUR")
    l2 = (await _move(admin, l2, fc))["lead"]
    await _move(admin, l2, st["Lost"], lost_reason_id=reasons["Price too high"])
    # L3 stays New; Referral.
    l3 = await _lead(admin, "L3", source="Referral")
    # L4 starts at Connected, Olga's, lost to a competitor; Referral, 500 EUR.
    l4 = await _lead(admin, "L4", source="Referral", status_id=conn, owner_id=olga, value="500", currency="EUR")
    await _move(admin, l4, st["Lost"], lost_reason_id=reasons["Went with competitor"])
    # L5 Sam's: New -> First Contact; Website.
    l5 = await _lead(admin, "L5", source="Website", owner_id=sam)
    await _move(admin, l5, fc)
    # L6 New -> Lost (price), 200 USD (counted, its value not: another currency); Cold call.
    l6 = await _lead(admin, "L6", source="Cold call", value="200", currency="USD")
    await _move(admin, l6, st["Lost"], lost_reason_id=reasons["Price too high"])
    # Time in stage: L1 New 2 days, First Contact 4, Connected 1; L2 New 4, First Contact 6;
    # L4 Connected 3; L5 New 1 (First Contact still open); L6 New 10; L3 New still open.
    await _backdate_moves(server, l1["id"], [7, 5, 1, 0])
    await _backdate_moves(server, l2["id"], [10, 6, 0])
    await _backdate_moves(server, l4["id"], [3, 0])
    await _backdate_moves(server, l5["id"], [1, 0])
    await _backdate_moves(server, l6["id"], [10, 0])
    assert l3["id"]
    today = datetime.now(UTC).date()
    span = {"date_from": today.replace(day=1).isoformat(), "date_to": today.isoformat()}

    funnel = await _report(admin, "funnel", **span)
    rows = {r[0]: r[1:] for r in _table(funnel, "stages")}
    names = list(rows)
    # Stages: the open ones in board order, then Won; Lost and Junk are not stages.
    assert names[0] == "Open" and names[-1] == "Won" and "Lost" not in names and "Junk" not in names
    assert rows["Open"] == [6, 4, "66.7", "3.0"]  # stays of 1, 2, 4, 10 days: median 3
    assert rows["First Contact"] == [4, 2, "50.0", "5.0"]  # L1 4 days, L2 6 days
    assert rows["Connected"] == [2, 1, "50.0", "2.0"]  # L1 1 day, L4 3 days
    for stage in names[3:-1]:  # L1 jumped from Connected to Won: passed each stage between
        assert rows[stage][0] == 1 and rows[stage][2] == "100.0" and rows[stage][3] is None
    assert rows["Won"] == [1, None, None, None]
    assert _figures(funnel) == {"Leads created": 6, "Won": 1, "Lead to won": "16.7"}

    lost = await _report(admin, "lost", **span)
    assert _table(lost, "reasons") == [["Price too high", 2, "1000.00"], ["Went with competitor", 1, "500.00"]]
    assert _table(lost, "stages") == [["Connected", 1, "500.00"], ["First Contact", 1, "1000.00"], ["Open", 1, "0.00"]]
    assert _table(lost, "owners") == [["Ada Admin", 2, "1000.00"], ["Olga Other", 1, "500.00"]]
    assert _table(lost, "months") == [[today.strftime("%Y-%m"), 3, "1500.00"]]
    assert _figures(lost) == {"Deals lost": 3, "Value lost": "1500.00"}

    # The won client's invoice: 1000 + 19% = 1190, of which 500 paid.
    rates = {r["name"]: r["id"] for r in await _ok(await admin.get("/api/tax-rates"))}
    draft = await _ok(
        await admin.post(
            "/api/invoices",
            json={
                "client_id": client_id,
                "issue_date": today.isoformat(),
                "lines": [
                    {"description": "Work", "quantity": "1", "unit_price": "1000", "tax_rate_id": rates["Standard 19%"]}
                ],
            },
        ),
        201,
    )
    issued = await _ok(await admin.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]}))
    await _ok(
        await admin.post(
            f"/api/invoices/{issued['id']}/payments", json={"amount": "500", "paid_on": today.isoformat()}
        ),
        201,
    )
    month = today.replace(day=1).isoformat()
    for source, amount, when, currency in (
        ("Website", "400", month, "EUR"),
        ("Referral", "100", month, "EUR"),
        ("Website", "999", date(today.year - 1, 1, 15).isoformat(), "EUR"),  # another month
        ("Website", "50", month, "USD"),  # another currency
    ):
        await _ok(
            await admin.put(
                "/api/reports/source-costs",
                json={"source": source, "month": when, "amount": amount, "currency": currency},
            )
        )
    sources = await _report(admin, "sources", **span)
    assert _table(sources, "sources") == [
        # source, leads, won, conversion, won value, paid, spent, return = (paid - spent) / spent
        ["Website", 3, 1, "33.3", "3000.00", "500.00", "400.00", "25.0"],
        ["Referral", 2, 0, "0.0", "0.00", "0.00", "100.00", "-100.0"],
        ["Cold call", 1, 0, "0.0", "0.00", "0.00", "0.00", None],
    ]
    assert _figures(sources) == {
        "Leads": 6,
        "Won": 1,
        "Paid by won clients": "500.00",
        "Spent": "500.00",
        "Return": "0.0",
    }
    only_web = await _report(admin, "sources", source="Website", **span)
    assert [r[0] for r in _table(only_web, "sources")] == ["Website"]

    # A salesperson counts only their own (L5): one lead at New and First Contact.
    async with server.client() as sam_api:
        await server.login(sam_api, "sam@example.com")
        mine = await _report(sam_api, "funnel", **span)
        rows = {r[0]: r[1:] for r in _table(mine, "stages")}
        assert rows["Open"] == [1, 1, "100.0", "1.0"]
        assert rows["First Contact"] == [1, 0, "0.0", None]
        assert rows["Connected"] == [0, 0, None, None]
        assert _figures(mine)["Leads created"] == 1
        assert _figures(await _report(sam_api, "lost", **span))["Deals lost"] == 0
        own_sources = await _report(sam_api, "sources", **span)
        assert _table(own_sources, "sources")[0][:3] == ["Website", 1, 0]
        assert _figures(own_sources)["Leads"] == 1
        # Costs are a manager's to enter.
        refused = await sam_api.put(
            "/api/reports/source-costs", json={"source": "Website", "month": month, "amount": "1"}
        )
        assert refused.status_code == 403, refused.text
    # The owner filter narrows the same way for a manager.
    by_olga = await _report(admin, "lost", owner_id=olga, **span)
    assert _figures(by_olga) == {"Deals lost": 1, "Value lost": "500.00"}


async def _follow_up(api: Any, lead_id: int, kind: str, done: bool = True) -> dict[str, Any]:
    due = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    made = await _ok(await api.post("/api/follow-ups", json={"lead_id": lead_id, "kind": kind, "due_at": due}), 201)
    if done:
        await _ok(await api.post(f"/api/follow-ups/{made['id']}/complete", json={"version": made["version"]}))
    return made


async def _set(server: LiveServer, table: str, row_id: int, **values: Any) -> None:
    columns = ", ".join(f"{k} = :{k}" for k in values)
    async with server.session() as s:
        await s.execute(text(f"UPDATE {table} SET {columns} WHERE id = :id"), {"id": row_id, **values})


async def test_team_activity_beside_the_previous_period(server: LiveServer, admin: Any) -> None:
    sam = await server.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller")
    mine = await _lead(admin, "Mine")
    sams = await _lead(admin, "Sam's", owner_id=sam)
    now = datetime.now(UTC)
    for kind in ("call", "call", "email", "meeting"):
        await _follow_up(admin, mine["id"], kind)
    for _ in range(4):  # four calls done ten days ago: the previous period
        earlier = await _follow_up(admin, mine["id"], "call")
        await _set(server, "follow_ups", earlier["id"], completed_at=now - timedelta(days=10))
    await _follow_up(admin, sams["id"], "whatsapp")
    late = await _follow_up(admin, sams["id"], "call", done=False)  # due yesterday, still open: overdue
    await _set(server, "follow_ups", late["id"], due_at=now - DAY)
    await _follow_up(admin, sams["id"], "call", done=False)  # due in an hour: not overdue
    old = await _follow_up(admin, sams["id"], "meeting", done=False)  # overdue, but due before the range
    await _set(server, "follow_ups", old["id"], due_at=now - timedelta(days=20))
    today = now.date()
    span = {"date_from": (today - 6 * DAY).isoformat(), "date_to": today.isoformat(), "group": "day"}

    report = await _report(admin, "activity", **span)
    # person: calls, emails, meetings, WhatsApp, done, previous period, change, overdue
    assert _table(report, "people") == [
        ["Ada Admin", 2, 1, 1, 0, 4, 4, "0.0", 0],
        ["Sam Seller", 0, 0, 0, 1, 1, 0, None, 1],
    ]
    assert _table(report, "kinds") == [
        ["Calls", 2, 4, "-50.0"],  # follow-up calls dropped by half
        ["Emails", 1, 0, None],
        ["Meetings and demos", 1, 0, None],
        ["WhatsApp", 1, 0, None],
    ]
    days = _table(report, "periods")
    assert [d[0] for d in days] == [(today - (6 - i) * DAY).isoformat() for i in range(7)]
    assert days[-1][1:] == [2, 1, 1, 1] and all(d[1:] == [0, 0, 0, 0] for d in days[:-1])
    assert _figures(report) == {"Done": 5, "Done in the previous period": 4, "Change": "25.0", "Overdue": 1}

    async with server.client() as sam_api:
        await server.login(sam_api, "sam@example.com")
        own = await _report(sam_api, "activity", **span)
        assert _table(own, "people") == [["Sam Seller", 0, 0, 0, 1, 1, 0, None, 1]]
        assert _figures(own)["Done"] == 1


async def test_forecast_support_and_receivables(server: LiveServer, admin: Any) -> None:
    sam = await server.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller")
    st = await _statuses(admin)
    pipeline = next(p for p in await _ok(await admin.get("/api/pipelines")) if p["is_default"])
    ladder = {
        s["name"]: s["win_probability"]
        for s in await _ok(await admin.get(f"/api/reports/stage-probabilities/{pipeline['id']}"))
    }
    # The migration's ladder: nine open stages at 1/10 ... 9/10, won 100, lost and junk 0.
    assert ladder["Open"] == "10.00" and ladder["Connected"] == "30.00" and ladder["Integration Approved"] == "90.00"
    assert (ladder["Won"], ladder["Lost"], ladder["Junk"]) == ("100.00", "0.00", "0.00")
    for name, chance in (("First Contact", "20"), ("Negotiation", "50")):
        await _ok(
            await admin.put(f"/api/reports/stage-probabilities/status/{st[name]}", json={"win_probability": chance})
        )
    today = datetime.now(UTC).date()
    next_month = (today.replace(day=1) + 32 * DAY).replace(day=1)
    after = (next_month + 32 * DAY).replace(day=1)
    end = (after + 32 * DAY).replace(day=1) - DAY
    n1, m2 = (next_month + 4 * DAY).isoformat(), (after + 4 * DAY).isoformat()
    fc, neg = st["First Contact"], st["Negotiation"]
    for name, status, value, currency, close, owner in (
        ("A", fc, "1000", "EUR", n1, None),
        ("B", neg, "2000", "EUR", n1, None),
        ("C", neg, "500", "EUR", m2, sam),
        ("D", fc, "300", "USD", n1, None),  # counted, its value not (another currency)
        ("E", fc, "700", "EUR", None, None),  # no expected date: a figure of its own
    ):
        await _lead(
            admin, name, status_id=status, value=value, currency=currency, expected_close_date=close, owner_id=owner
        )
    span = {"date_from": next_month.isoformat(), "date_to": end.isoformat()}
    forecast = await _report(admin, "forecast", **span)
    months = (next_month.strftime("%Y-%m"), after.strftime("%Y-%m"))
    # month, open leads, open value, weighted = value x probability / 100
    assert _table(forecast, "months") == [[months[0], 3, "3000.00", "1200.00"], [months[1], 1, "500.00", "250.00"]]
    assert _table(forecast, "stages") == [
        ["First Contact", 2, "1000.00", "200.00", "20.00"],
        ["Negotiation", 2, "2500.00", "1250.00", "50.00"],
    ]
    assert _table(forecast, "owners") == [["Ada Admin", 3, "3000.00", "1200.00"], ["Sam Seller", 1, "500.00", "250.00"]]
    assert _figures(forecast) == {
        "Open value": "3500.00",
        "Weighted forecast": "1450.00",
        "Open leads": 4,
        "Open, no close date": 1,
    }

    # Support: tickets opened two days ago; times set by hand.
    desk = await _ok(await admin.post("/api/teams", json={"name": "Desk"}), 201)
    categories = {c["name"]: c["id"] for c in await _ok(await admin.get("/api/ticket-categories"))}
    opened = datetime.now(UTC) - 2 * DAY
    hour = timedelta(hours=1)
    for subject, category, team, responded, resolved in (
        ("T1", "Product bug", desk["id"], 2, 10),  # answered in 2 h (due in 4): no breach
        ("T2", "Product bug", desk["id"], 6, 30),  # answered in 6 h: a breach
        ("T3", "General", None, None, None),  # unanswered and past due: a breach
    ):
        ticket = await _ok(
            await admin.post(
                "/api/tickets", json={"subject": subject, "category_id": categories[category], "team_id": team}
            ),
            201,
        )
        await _set(
            server,
            "tickets",
            ticket["id"],
            team_id=team,
            created_at=opened,
            first_response_due_at=opened + 4 * hour,
            first_responded_at=opened + responded * hour if responded else None,
            resolved_at=opened + resolved * hour if resolved else None,
        )
    week = {"date_from": (today - 6 * DAY).isoformat(), "date_to": today.isoformat()}
    support = await _report(admin, "support", **week)
    # tickets, median first response (h), median resolution (h), breaches
    assert _table(support, "teams") == [["Desk", 2, "4.0", "20.0", 1], ["No team", 1, None, None, 1]]
    assert _table(support, "categories") == [["Product bug", 2, "4.0", "20.0", 1], ["General", 1, None, None, 1]]
    by_month = {row[0]: row[1:] for row in _table(support, "months")}
    assert by_month[opened.strftime("%Y-%m")] == [3, "4.0", "20.0", 2]
    assert _figures(support) == {
        "Tickets": 3,
        "Median first response (h)": "4.0",
        "Median resolution (h)": "20.0",
        "SLA breaches": 2,
    }
    await server.create_user("mia@example.com", role="Manager", full_name="Mia Manager", team="Desk")
    async with server.client() as mia:
        await server.login(mia, "mia@example.com")
        assert _figures(await _report(mia, "support", **week))["Tickets"] == 2  # her team's

    # Receivables, aged on the range's last day (today).
    rate = {r["name"]: r["id"] for r in await _ok(await admin.get("/api/tax-rates"))}["Standard 19%"]
    acme = (await _ok(await admin.post("/api/clients", json={"name": "Acme"}), 201))["id"]
    sams = (await _ok(await admin.post("/api/clients", json={"name": "Sam's client", "owner_id": sam}), 201))["id"]
    for client, net, due_in, paid in (
        (acme, "100", 10, None),  # 119.00 not yet due
        (acme, "200", -10, "38"),  # 238.00 - 38 = 200.00, 10 days late
        (acme, "300", -45, None),  # 357.00, 45 days late
        (acme, "1000", -100, None),  # 1190.00, 100 days late
        (sams, "400", -75, None),  # 476.00, 75 days late
        (acme, "50", -5, "59.50"),  # paid in full: not owed
    ):
        due = today + due_in * DAY
        draft = await _ok(
            await admin.post(
                "/api/invoices",
                json={
                    "client_id": client,
                    "issue_date": (due - 14 * DAY).isoformat(),
                    "due_date": due.isoformat(),
                    "lines": [{"description": "Work", "quantity": "1", "unit_price": net, "tax_rate_id": rate}],
                },
            ),
            201,
        )
        issued = await _ok(await admin.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]}))
        if paid:
            await _ok(
                await admin.post(
                    f"/api/invoices/{issued['id']}/payments", json={"amount": paid, "paid_on": today.isoformat()}
                ),
                201,
            )
    receivables = await _report(admin, "receivables", date_to=today.isoformat())
    # client: not yet due, 0-30, 31-60, 61-90, over 90, total
    assert _table(receivables, "clients") == [
        ["Acme", "119.00", "200.00", "357.00", "0.00", "1190.00", "1866.00"],
        ["Sam's client", "0.00", "0.00", "0.00", "476.00", "0.00", "476.00"],
    ]
    assert _figures(receivables) == {"Owed": "2342.00", "Overdue": "2223.00", "Over 90 days": "1190.00"}

    async with server.client() as sam_api:
        await server.login(sam_api, "sam@example.com")
        own = await _report(sam_api, "forecast", **span)
        assert _table(own, "months") == [[months[0], 0, "0.00", "0.00"], [months[1], 1, "500.00", "250.00"]]
        assert _figures(own)["Open, no close date"] == 0
        assert _figures(await _report(sam_api, "receivables"))["Owed"] == "476.00"
        assert _figures(await _report(sam_api, "support", **week))["Tickets"] == 0  # no tickets in his role
        refused = await sam_api.put(f"/api/reports/stage-probabilities/status/{fc}", json={"win_probability": "90"})
        assert refused.status_code == 403


async def test_bad_filters_are_named(server: LiveServer, admin: Any) -> None:
    for params, field in (
        ({"date_from": "2026-05-02", "date_to": "2026-05-01"}, "date_from"),
        ({"owner_id": str(2**64)}, "owner_id"),
        ({"team_id": "0"}, "team_id"),
        ({"source": "Web\x00site"}, "source"),
        ({"pipeline_id": "987654"}, "pipeline_id"),
        ({"currency": "EURO"}, "currency"),
        ({"group": "year"}, "group"),
    ):
        for key in ("funnel", "sources", "activity"):
            answer = await admin.get(f"/api/reports/{key}", params=params)
            if key != "funnel" and field == "pipeline_id":
                continue  # only the funnel reads a pipeline's stages
            assert 400 <= answer.status_code < 500, (key, params, answer.text)
            assert field in answer.text, (key, params, answer.text)
    bad = await admin.put("/api/reports/stage-probabilities/status/1", json={"win_probability": "101"})
    assert bad.status_code == 422 and "win_probability" in bad.text
    bad = await admin.put("/api/reports/source-costs", json={"source": "Web", "month": "2026-01-01", "amount": "-1"})
    assert bad.status_code == 422 and "amount" in bad.text


async def test_daily_summary(server: LiveServer, admin: Any) -> None:
    sam = await server.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller")
    st = await _statuses(admin)
    reasons = {r["name"]: r["id"] for r in await _ok(await admin.get("/api/lost-reasons"))}
    won = await _lead(admin, "Won one")
    await _move(admin, won, st["Won"])
    lost = await _lead(admin, "Lost one")
    await _move(admin, lost, st["Lost"], lost_reason_id=reasons["Timing not right"])
    sams = await _lead(admin, "Sam's", owner_id=sam)
    await _follow_up(admin, sams["id"], "call")
    await _follow_up(admin, sams["id"], "email", done=False)  # not done: not counted
    client = (await _ok(await admin.post("/api/clients", json={"name": "Acme"}), 201))["id"]
    rate = {r["name"]: r["id"] for r in await _ok(await admin.get("/api/tax-rates"))}["Standard 19%"]
    today = datetime.now(UTC).date().isoformat()
    for issue in (True, False):  # 100 + 19% issued today; a draft counts nowhere
        draft = await _ok(
            await admin.post(
                "/api/invoices",
                json={
                    "client_id": client,
                    "issue_date": today,
                    "lines": [{"description": "Work", "quantity": "1", "unit_price": "100", "tax_rate_id": rate}],
                },
            ),
            201,
        )
        if issue:
            await _ok(await admin.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]}))
    span = {"date_from": today, "date_to": today}
    daily = await _report(admin, "daily", **span)
    assert _figures(daily) == {
        "Leads generated": 3,
        "Follow-ups done": 1,
        "Deals won": 1,
        "Deals lost": 1,
        "Revenue booked": "119.00",
    }
    # person: leads generated, follow-ups done, won, lost
    assert _table(daily, "people") == [["Ada Admin", 2, 0, 1, 1], ["Sam Seller", 1, 1, 0, 0]]
    async with server.client() as sam_api:
        await server.login(sam_api, "sam@example.com")
        own = await _report(sam_api, "daily", **span)
        assert _table(own, "people") == [["Sam Seller", 1, 1, 0, 0]]
        assert _figures(own)["Revenue booked"] == "0.00"  # Acme's invoice is not his

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
    return await _ok(await api.get(f"/api/reports/{key}", params=params))  # type: ignore[no-any-return]


def _table(report: dict[str, Any], key: str) -> list[list[Any]]:
    return next(t["rows"] for t in report["tables"] if t["key"] == key)


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    return {f["label"]: f["value"] for f in report["figures"]}


async def _statuses(api: Any) -> dict[str, int]:
    pipelines = await _ok(await api.get("/api/pipelines"))
    default = next(p for p in pipelines if p["is_default"])
    return {s["name"]: s["id"] for s in default["statuses"]}


async def _lead(api: Any, name: str, **fields: Any) -> dict[str, Any]:
    return await _ok(await api.post("/api/leads", json={"person_name": name, **fields}), 201)  # type: ignore[no-any-return]


async def _move(api: Any, lead: dict[str, Any], status_id: int, **fields: Any) -> dict[str, Any]:
    moved = await _ok(
        await api.post(
            f"/api/leads/{lead['id']}/move", json={"status_id": status_id, "version": lead["version"], **fields}
        )
    )
    return moved  # type: ignore[no-any-return]


async def _backdate_moves(server: LiveServer, lead_id: int, days_ago: list[float]) -> None:
    """Give a lead's history rows (oldest first) these times: so many days before now."""
    now = datetime.now(UTC)
    async with server.session() as s:
        ids = (
            await s.execute(text("SELECT id FROM lead_status_history WHERE lead_id = :l ORDER BY id"), {"l": lead_id})
        ).scalars()
        ids = list(ids)
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

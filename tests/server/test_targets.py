"""Sales targets over HTTP (issue #20): a manager sets, lists and removes targets per person and team
and month (audited, announced); a salesperson may not (403); hostile values are a 422 naming the
field; "won vs target" on Home and in the forecast report is worked out here from a hand-made set.
Also the leads list's "unassigned" filter behind Home's "Open and unassigned"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tests.support import LiveServer


async def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


async def test_targets_set_by_managers_and_won_vs_target(server: LiveServer, admin: Any) -> None:
    sam = await server.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller", team="North")
    olga = await server.create_user("olga@example.com", role="Salesperson", full_name="Olga Other", team="North")
    await server.create_user("max@example.com", role="Manager", full_name="Max Manager", team="North")
    pipelines = await _ok(await admin.get("/api/pipelines"))
    st = {s["name"]: s["id"] for s in next(p for p in pipelines if p["is_default"])["statuses"]}
    now = datetime.now(UTC)
    month = now.date().replace(day=1).isoformat()

    async def won(owner: int, value: str, closed: datetime | None = None, currency: str = "EUR") -> None:
        lead = await _ok(
            await admin.post(
                "/api/leads", json={"person_name": "L", "currency": currency, "value": value, "owner_id": owner}
            ),
            201,
        )
        await _ok(
            await admin.post(f"/api/leads/{lead['id']}/move", json={"status_id": st["Won"], "version": lead["version"]})
        )
        if closed is not None:
            async with server.session() as s:
                await s.execute(text("UPDATE leads SET closed_at = :at WHERE id = :i"), {"at": closed, "i": lead["id"]})

    await won(sam, "1200.50")
    await won(sam, "300")
    await won(sam, "999", closed=now.replace(day=1) - timedelta(days=1))  # last month: not counted
    await won(sam, "5000", currency="USD")  # not the base currency: not counted
    await won(olga, "400")

    async with server.client() as max_api, server.client() as sam_api:
        await server.login(max_api, "max@example.com")
        await server.login(sam_api, "sam@example.com")
        listed = await _ok(await max_api.get("/api/reports/targets", params={"month": month}))
        assert listed["can_edit"] is True and listed["currency"] == "EUR"
        north = next(r for r in listed["rows"] if r["kind"] == "team")
        assert north["name"] == "North" and north["target"] is None

        # a salesperson may read but not set or remove
        assert (await sam_api.get("/api/reports/targets", params={"month": month})).json()["can_edit"] is False
        refused = await sam_api.put("/api/reports/targets", json={"month": month, "user_id": sam, "amount": "100"})
        assert refused.status_code == 403, refused.text

        # hostile values: each a 422 naming its field
        hostile: list[tuple[dict[str, Any], str]] = [
            ({"month": month, "user_id": sam, "amount": "-1"}, "amount"),
            ({"month": month, "user_id": sam, "amount": "1\x00"}, "amount"),
            ({"month": month, "user_id": sam, "amount": "1.234"}, "amount"),
            ({"month": month, "user_id": 2**64, "amount": "1"}, "user_id"),
            ({"month": "2026-13-01", "user_id": sam, "amount": "1"}, "month"),
            ({"month": "2026-01\x00", "user_id": sam, "amount": "1"}, "month"),
            ({"month": "9999-12-01", "user_id": sam, "amount": "1"}, "month"),
            ({"month": month, "amount": "1"}, "user_id"),
            ({"month": month, "user_id": sam, "team_id": north["id"], "amount": "1"}, "user_id"),
            ({"month": month, "user_id": 987654, "amount": "1"}, "user_id"),
        ]
        for body, field in hostile:
            answer = await max_api.put("/api/reports/targets", json=body)
            assert answer.status_code == 422 and answer.json()["field"] == field, (body, answer.text)
        bad_month = await max_api.get("/api/reports/targets", params={"month": "2026-02-30"})
        assert bad_month.status_code == 422 and bad_month.json()["field"] == "month"

        # set (any day of the month means that month), replace, team target
        t_sam = await _ok(
            await max_api.put(
                "/api/reports/targets", json={"month": now.date().isoformat(), "user_id": sam, "amount": "1000"}
            )
        )
        assert t_sam["month"] == month and t_sam["amount"] == "1000.00"
        again = await _ok(
            await max_api.put("/api/reports/targets", json={"month": month, "user_id": sam, "amount": "2000"})
        )
        assert again["id"] == t_sam["id"]
        await _ok(await max_api.put("/api/reports/targets", json={"month": month, "user_id": olga, "amount": "800"}))
        t_team = await _ok(
            await max_api.put("/api/reports/targets", json={"month": month, "team_id": north["id"], "amount": "5000"})
        )
        rows = {
            (r["kind"], r["name"]): r
            for r in (await max_api.get("/api/reports/targets", params={"month": month})).json()["rows"]
        }
        # Sam won 1200.50 + 300 EUR this month (not last month's 999, not the USD lead); Olga 400
        assert rows[("user", "Sam Seller")]["target"] == "2000.00"
        assert rows[("user", "Sam Seller")]["won"] == "1500.50"
        assert rows[("user", "Olga Other")]["won"] == "400.00"
        assert rows[("team", "North")]["target"] == "5000.00" and rows[("team", "North")]["won"] == "1900.50"

        # Home: Sam sees his own; the manager sees the people (2000 + 800 = 2800 against 1900.50 won)
        sam_home = {w["key"]: w for w in (await sam_api.get("/api/home")).json()["widgets"]}
        mine = {f["key"]: f["value"] for f in sam_home["targets"]["figures"]}
        assert sam_home["targets"]["title"] == "My target"
        assert mine == {"won": "1500.50", "target": "2000.00", "share": "75%"}  # 1500.50 / 2000 = 75.0 %
        max_home = {w["key"]: w for w in (await max_api.get("/api/home")).json()["widgets"]}
        team = max_home["targets"]
        assert {f["key"]: f["value"] for f in team["figures"]} == {
            "won": "1900.50",
            "target": "2800.00",
            "share": "68%",
        }
        assert ["North (team)", "1900.50", "5000.00"] in team["table"]["rows"]
        assert ["Sam Seller", "1500.50", "2000.00"] in team["table"]["rows"]

        # the forecast report: won vs target per person this month
        forecast = await _ok(await max_api.get("/api/reports/forecast"))
        table = next(t for t in forecast["tables"] if t["key"] == "targets")
        assert ["Sam Seller", "1500.50", "2000.00", "75.0"] in table["rows"]
        assert ["Olga Other", "400.00", "800.00", "50.0"] in table["rows"]

        # remove: a salesperson may not; the manager may; then gone
        assert (await sam_api.delete(f"/api/reports/targets/{t_team['id']}")).status_code == 403
        assert (await max_api.delete(f"/api/reports/targets/{2**64}")).json()["field"] == "target_id"
        await _ok(await max_api.delete(f"/api/reports/targets/{t_team['id']}"), 204)
        assert (await max_api.delete(f"/api/reports/targets/{t_team['id']}")).status_code == 404
        rows = {
            (r["kind"], r["name"]): r
            for r in (await max_api.get("/api/reports/targets", params={"month": month})).json()["rows"]
        }
        assert rows[("team", "North")]["target"] is None

    audit = (await admin.get("/api/audit", params={"entity": "sales_target"})).json()["items"]
    assert sorted(e["action"] for e in audit) == ["created", "created", "created", "deleted", "updated"]
    async with server.session() as s:
        announced = (
            (await s.execute(text("SELECT action FROM events WHERE entity = 'sales_target' ORDER BY seq")))
            .scalars()
            .all()
        )
    assert list(announced) == ["created", "updated", "created", "created", "deleted"]


async def test_unassigned_filter_lists_exactly_the_open_unassigned_leads(server: LiveServer, admin: Any) -> None:
    sam = await server.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller")
    pipelines = await _ok(await admin.get("/api/pipelines"))
    st = {s["name"]: s["id"] for s in next(p for p in pipelines if p["is_default"])["statuses"]}
    made = {}
    for name, owner, status in (
        ("Free", None, "Open"),
        ("Owned", sam, "Open"),
        ("FreeWon", None, "Won"),
        ("Free2", None, "Connected"),
    ):
        lead = await _ok(await admin.post("/api/leads", json={"person_name": name, "owner_id": sam}), 201)
        made[name] = lead["id"]
        async with server.session() as s:
            await s.execute(
                text("UPDATE leads SET owner_id = :o, status_id = :st WHERE id = :i"),
                {"o": owner, "st": st[status], "i": lead["id"]},
            )
    home = {w["key"]: w for w in (await admin.get("/api/home")).json()["widgets"]}
    figure = next(f for f in home["new_leads"]["figures"] if f["key"] == "unassigned")
    assert figure["value"] == 2 and figure["filter"] == {"unassigned": True}
    listed = (await admin.get("/api/leads", params=figure["filter"])).json()
    assert sorted(i["person_name"] for i in listed["items"]) == ["Free", "Free2"]
    assert listed["total"] == figure["value"]
    assert (await admin.get("/api/leads", params={"unassigned": "\x00"})).json()["field"] == "unassigned"

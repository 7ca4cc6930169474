"""Custom reports (issue #20) over HTTP on a small hand-made data set whose figures are worked out
here: two group levels with count and sum, filters (contains, >, in, relative and absolute date
ranges), a salesperson counting only their own, saving and sharing with a team, export as .xlsx
with text kept as text, and hostile definitions refused with a 422 naming the field."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.support import ADMIN_EMAIL, LiveServer, Smtp, make_url


@pytest.fixture(scope="module")
def live(pg_cluster: Any, clones: Any) -> Iterator[LiveServer]:
    """One server with its job worker for the whole file (the tests read the same data set; the
    scheduled e-mail is a job)."""
    name = clones.take()
    try:
        with LiveServer.run(make_url(pg_cluster.admin_url, name), worker=True) as server:
            yield server
    finally:
        clones.give_back(name)


_people: dict[str, int] = {}


async def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


@pytest.fixture
async def boss(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """The administrator, with the data set made once: leads (owner, source, value)
    Sam (North): Website 100, Website 200, Referral 50; Sue (North): Website 300;
    Olga (South): Referral 70, Referral 30, and "=HYPERLINK(1)" (Partner, no value)."""
    async with live.client() as api:
        if _people:
            await live.login(api, ADMIN_EMAIL)
        else:
            await live.login_admin(api)
            _people["sam"] = await live.create_user("sam@example.com", full_name="Sam Seller", team="North")
            _people["sue"] = await live.create_user("sue@example.com", full_name="Sue Seller", team="North")
            _people["olga"] = await live.create_user("olga@example.com", full_name="Olga Other", team="South")
            teams = {t["name"]: t["id"] for t in await _ok(await api.get("/api/teams"))}
            _people["north"], _people["south"] = teams["North"], teams["South"]
            made = [
                ("sam", "north", "Website", "100"),
                ("sam", "north", "Website", "200"),
                ("sam", "north", "Referral", "50"),
                ("sue", "north", "Website", "300"),
                ("olga", "south", "Referral", "70"),
                ("olga", "south", "Referral", "30"),
            ]
            for i, (who, team, source, value) in enumerate(made):
                body = {
                    "person_name": f"Lead {i}",
                    "owner_id": _people[who],
                    "team_id": _people[team],
                    "source": source,
                    "value": value,
                    "currency": "EUR",
                }
                await _ok(await api.post("/api/leads", json=body), 201)
            hostile = {"person_name": "=HYPERLINK(1)", "owner_id": _people["olga"], "team_id": _people["south"]}
            await _ok(await api.post("/api/leads", json={**hostile, "source": "Partner"}), 201)
        yield api


@asynccontextmanager
async def _as(live: LiveServer, email: str) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        await live.login(api, email)
        yield api


def _grouped(result: dict[str, Any]) -> dict[tuple[Any, ...], Any]:
    assert result["grouped"] is True and result["truncated"] is False
    return {tuple(row[:-1]): row[-1] for row in result["rows"]}


async def _run(api: httpx.AsyncClient, **definition: Any) -> dict[str, Any]:
    return await _ok(await api.post("/api/reports/custom/run", json={"entity": "leads", **definition}))


async def test_two_levels_count_and_sum(boss: httpx.AsyncClient) -> None:
    by_person = await _run(boss, group_by=["owner", "source"], aggregate="sum", aggregate_field="value")
    assert [c["title"] for c in by_person["columns"]] == ["Owner", "Source", "Sum of value"]
    assert {k: float(v) for k, v in _grouped(by_person).items()} == {
        ("Sam Seller", "Referral"): 50.0,
        ("Sam Seller", "Website"): 300.0,  # 100 + 200
        ("Sue Seller", "Website"): 300.0,
        ("Olga Other", "Partner"): 0.0,  # a lead without a value sums to nothing
        ("Olga Other", "Referral"): 100.0,  # 70 + 30
    }
    by_team = await _run(boss, group_by=["team", "source"])
    assert _grouped(by_team) == {
        ("North", "Referral"): 1,
        ("North", "Website"): 3,
        ("South", "Partner"): 1,
        ("South", "Referral"): 2,
    }
    average = await _run(boss, group_by=["team"], aggregate="avg", aggregate_field="value")
    # North: (100 + 200 + 50 + 300) / 4 = 162.50; South: (70 + 30) / 2 = 50 (no value is not 0)
    assert {k: float(v) for k, v in _grouped(average).items()} == {("North",): 162.5, ("South",): 50.0}
    month = date.today().replace(day=1).isoformat()
    assert _grouped(await _run(boss, group_by=["created_at:month", "team"])) == {
        (month, "North"): 4,
        (month, "South"): 3,
    }


async def test_filters(boss: httpx.AsyncClient) -> None:
    def count(result: dict[str, Any]) -> int:
        return sum(row[-1] for row in result["rows"])

    web = [{"field": "source", "op": "contains", "value": "web"}]
    assert count(await _run(boss, group_by=["owner"], filters=web)) == 3
    over = [{"field": "value", "op": ">", "value": "60"}]  # 100, 200, 300, 70
    assert count(await _run(boss, group_by=["owner"], filters=over)) == 4
    among = [{"field": "owner", "op": "in", "value": [_people["sue"], _people["olga"]]}]
    assert count(await _run(boss, group_by=["owner"], filters=among)) == 4
    empty = [{"field": "value", "op": "is empty"}]
    assert count(await _run(boss, group_by=["owner"], filters=empty)) == 1
    recent = [{"field": "created_at", "op": "within", "value": "last_7_days"}]
    assert count(await _run(boss, group_by=["owner"], filters=recent)) == 7
    long_ago = [{"field": "created_at", "op": "between", "value": ["2001-01-01", "2001-12-31"]}]
    assert (await _run(boss, group_by=["owner"], filters=long_ago))["rows"] == []
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert (
        count(await _run(boss, group_by=["owner"], filters=[{"field": "created_at", "op": "<", "value": tomorrow}]))
        == 7
    )
    listed = await _run(boss, columns=["person_name", "owner", "value"], filters=web)
    assert listed["grouped"] is False and len(listed["rows"]) == 3
    assert {row[1] for row in listed["rows"]} == {"Sam Seller", "Sue Seller"}


async def test_a_result_cut_short_says_so(boss: httpx.AsyncClient) -> None:
    cut = await _run(boss, group_by=["owner", "source"], row_limit=2)
    assert len(cut["rows"]) == 2 and cut["truncated"] is True and "Cut short at 2 rows" in cut["note"]
    whole = await _run(boss, group_by=["owner", "source"], row_limit=5)
    assert len(whole["rows"]) == 5 and whole["truncated"] is False and whole["note"] == ""


async def test_a_salesperson_counts_only_their_own(live: LiveServer, boss: httpx.AsyncClient) -> None:
    async with _as(live, "sam@example.com") as sam:
        mine = await _run(sam, group_by=["owner", "source"])
        assert _grouped(mine) == {("Sam Seller", "Referral"): 1, ("Sam Seller", "Website"): 2}
        listed = await _run(sam, columns=["person_name"])
        assert len(listed["rows"]) == 3


async def test_save_share_with_a_team_and_export(live: LiveServer, boss: httpx.AsyncClient) -> None:
    definition = {"entity": "leads", "group_by": ["owner"], "chart": "pie"}
    body = {"name": "Leads per person", "definition": definition, "shared_team_ids": [_people["north"]]}
    async with _as(live, "sam@example.com") as sam:
        saved = await _ok(await sam.post("/api/reports/custom", json=body), 201)
        assert saved["mine"] is True and saved["definition"]["chart"] == "pie"
    async with _as(live, "sue@example.com") as sue:
        shared = await _ok(await sue.get("/api/reports/custom"))
        assert [r["name"] for r in shared] == ["Leads per person"] and shared[0]["mine"] is False
        # Sue runs Sam's report and counts only her own lead.
        assert _grouped(await _ok(await sue.get(f"/api/reports/custom/{saved['id']}/run"))) == {("Sue Seller",): 1}
        refused = await sue.delete(f"/api/reports/custom/{saved['id']}")
        assert refused.status_code == 403, refused.text
    junk = {"name": "Junk", "definition": {**definition, "columns": ["person_name", "salary"]}}
    refused = await boss.post("/api/reports/custom", json=junk)  # checked on save, grouped or not
    assert refused.status_code == 422 and refused.json()["field"] == "definition.columns.1", refused.text
    async with _as(live, "olga@example.com") as olga:
        assert await _ok(await olga.get("/api/reports/custom")) == []
        missing = await olga.get(f"/api/reports/custom/{saved['id']}/run")
        assert missing.status_code == 404, missing.text
    async with _as(live, "sam@example.com") as sam:
        renamed = await _ok(await sam.put(f"/api/reports/custom/{saved['id']}", json={**body, "name": "Per person"}))
        assert renamed["name"] == "Per person"
        gone = await sam.delete(f"/api/reports/custom/{saved['id']}")
        assert gone.status_code == 204, gone.text
        assert await _ok(await sam.get("/api/reports/custom")) == []

    from openpyxl import load_workbook

    export = {"name": "=Names", "definition": {"entity": "leads", "columns": ["person_name", "source"]}}
    answer = await boss.post("/api/reports/custom/export", json=export)
    assert answer.status_code == 200, answer.text
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0] == ["Name", "Source"]
    assert ["'=HYPERLINK(1)", "Partner"] in cells  # text as text: never a formula
    assert len(cells) == 1 + 7


async def test_a_saved_custom_report_is_emailed_on_a_schedule(
    live: LiveServer, boss: httpx.AsyncClient, smtp: Smtp
) -> None:
    """Each recipient gets Sam's saved report as they may see it: Sam his three leads, Sue her one."""
    from openpyxl import load_workbook

    await _ok(await boss.patch("/api/settings", json={"values": smtp.settings()}))
    body = {"name": "By source", "definition": {"entity": "leads", "group_by": ["source"]}}
    async with _as(live, "sam@example.com") as sam:
        saved = await _ok(await sam.post("/api/reports/custom", json=body), 201)
    base = {"name": "Sources weekly", "report": "custom", "period": "today", "frequency": "daily", "hour": 7}
    missing = await boss.post("/api/reports/schedules", json={**base, "user_ids": [_people["sam"]]})
    assert missing.status_code == 422 and missing.json()["field"] == "filters.custom_report_id", missing.text
    people = [_people["sam"], _people["sue"]]
    schedule = await _ok(
        await boss.post(
            "/api/reports/schedules",
            json={**base, "user_ids": people, "filters": {"custom_report_id": saved["id"]}},
        ),
        201,
    )
    await _ok(await boss.post("/api/admin/jobs/reports.send_scheduled/run"), 202)
    messages = await smtp.wait_for(2)
    for _ in range(200):
        done = next(s for s in await _ok(await boss.get("/api/reports/schedules")) if s["id"] == schedule["id"])
        if done["last_status"]:
            break
        await asyncio.sleep(0.05)
    assert done["last_status"] == "sent", done
    sheets: dict[str, list[list[Any]]] = {}
    for message in messages:
        (part,) = list(message.iter_attachments())
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        book = load_workbook(io.BytesIO(data))
        sheet = book["By source"]
        sheets[message["To"]] = [[c.value for c in row] for row in sheet.iter_rows()]
    assert sheets["sam@example.com"] == [["Source", "Count"], ["Referral", 1], ["Website", 2]]
    assert sheets["sue@example.com"] == [["Source", "Count"], ["Website", 1]]


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"columns": ["salary"]}, "columns.0"),
        ({"filters": [{"field": "gross_total", "op": "=", "value": "1"}]}, "filters.0.field"),  # an invoice's
        ({"filters": [{"field": "source", "op": "=", "value": "Web\u0000site"}]}, "filters.0.value"),
        ({"filters": [{"field": "source", "op": "LIKE", "value": "x"}]}, "filters.0.op"),
        ({"filters": [{"field": "value", "op": "contains", "value": "1"}]}, "filters.0.op"),
        ({"filters": [{"field": "value", "op": ">", "value": "lots"}]}, "filters.0.value"),
        ({"filters": [{"field": "owner", "op": "=", "value": str(2**64)}]}, "filters.0.value"),
        ({"filters": [{"field": "created_at", "op": "within", "value": "forever"}]}, "filters.0.value"),
        ({"group_by": ["owner", "source", "team"]}, "group_by"),
        ({"group_by": ["created_at:century"]}, "group_by.0"),
        ({"group_by": ["owner; DROP TABLE leads"]}, "group_by.0"),
        ({"aggregate": "sum", "aggregate_field": "source"}, "aggregate_field"),
        ({"aggregate": "sum"}, "aggregate_field"),
        ({"entity": "salaries"}, "entity"),
        ({"row_limit": 2**64}, "row_limit"),
    ],
)
async def test_hostile_definitions_are_named(boss: httpx.AsyncClient, definition: dict[str, Any], field: str) -> None:
    answer = await boss.post("/api/reports/custom/run", json={"entity": "leads", **definition})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field, answer.text

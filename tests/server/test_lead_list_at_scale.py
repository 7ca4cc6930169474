"""The lead list at scale, through HTTP: a capped total said as "more than", pages past the cap in
order, and a plan that cannot flip: a search matching a few leads collects them first (a
materialized CTE) instead of walking the newest-first index hoping to meet them, whatever the
statistics say. The SQL the server sent is captured and EXPLAINed on the same database."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from crm_server.leads.service import COUNT_CAP
from tests.support import LiveServer

LEADS = COUNT_CAP + 400


def fill(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO leads (person_name, company, email, pipeline_id, status_id, created_at, updated_at,
                               status_changed_at)
            SELECT 'Person ' || g, 'Company ' || (g %% 50) || ' SRL',
                   CASE WHEN g %% 250 = 0 THEN 'rare' || g || '@needle.ro' ELSE 'p' || g || '@example.ro' END,
                   p.id, s.id, now() - g * interval '1 minute', now(), now()
            FROM generate_series(1, %(n)s) g, (SELECT id FROM pipelines WHERE is_default) p,
                 LATERAL (SELECT id FROM pipeline_statuses WHERE pipeline_id = p.id ORDER BY position LIMIT 1) s
            """,
            {"n": LEADS},
        )
        conn.execute("ANALYZE leads")


def plan(url: str, statement: str, params: Any) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("EXPLAIN (FORMAT JSON) " + statement, params).fetchone()
    assert row is not None
    return json.dumps(row[0])


async def test_a_large_list_says_more_than_and_pages_in_order(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    fill(server.database_url)
    first = (await admin.get("/api/leads", params={"limit": 100})).json()
    assert first["total_exact"] is False and first["total"] == COUNT_CAP + 100 + 1  # "more than 1,100"
    second = (await admin.get("/api/leads", params={"limit": 100, "offset": 100})).json()
    names = [i["person_name"] for i in first["items"] + second["items"]]
    assert names == [f"Person {n}" for n in range(1, 201)]  # newest first, no gap, no repeat
    few = (await admin.get("/api/leads", params={"q": "needle", "limit": 2, "offset": 1})).json()
    assert few["total_exact"] is True and few["total"] == LEADS // 250
    assert [i["person_name"] for i in few["items"]] == ["Person 500", "Person 750"]


async def test_a_rare_search_term_collects_its_matches_first_whatever_the_estimates(  # type: ignore[no-untyped-def]
    server: LiveServer, admin, statements
) -> None:
    fill(server.database_url)
    statements.clear()
    answer = await admin.get("/api/leads", params={"q": "needle", "sort": "-created_at"})
    assert answer.status_code == 200 and answer.json()["total"] == LEADS // 250
    page = [(s, p) for s, p in statements if "FROM leads" in s and "ORDER BY" in s]
    assert len(page) == 1, [s for s, _ in statements]
    shape = plan(server.database_url, *page[0])
    assert '"CTE Name": "matches"' in shape
    assert "ix_leads_created_at" not in shape  # no walk of the newest-first index over every lead
    # Many matches: the page walks the sort's index and stops at a page.
    statements.clear()
    common = await admin.get("/api/leads", params={"q": "example", "sort": "-created_at"})
    assert common.json()["total_exact"] is False
    page = [(s, p) for s, p in statements if "FROM leads" in s and "ORDER BY" in s]
    assert '"CTE Name": "matches"' not in plan(server.database_url, *page[0])


async def walk(admin: Any, **params: Any) -> list[dict[str, Any]]:
    """Every lead of the list, page after page by the cursor each page gives."""
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        answer = await admin.get("/api/leads", params={**params, "limit": 500, **({"after": after} if after else {})})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += page["items"]
        after = page["next"]
        if after is None:
            assert page["total_exact"] is True
            return seen


async def test_pages_after_a_cursor_cover_the_list_once_empties_last(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    fill(server.database_url)
    with psycopg.connect(server.database_url, autocommit=True) as conn:  # some without a company or value
        conn.execute("UPDATE leads SET company = NULL WHERE id % 7 = 0")
        conn.execute("UPDATE leads SET value = (id % 13) * 100, currency = 'EUR' WHERE id % 3 = 0")
    newest = await walk(admin)
    assert [lead["person_name"] for lead in newest] == [f"Person {n}" for n in range(1, LEADS + 1)]
    for sort, key in (("company", "company"), ("-company", "company"), ("-value", "value"), ("value", "value")):
        listed = await walk(admin, sort=sort)
        assert len({lead["id"] for lead in listed}) == len(listed) == LEADS, sort
        filled = [lead for lead in listed if lead[key] is not None]
        assert listed[: len(filled)] == filled, f"{sort}: the empty ones come last"
        values = [(lead[key] if key == "company" else float(lead[key]), lead["id"]) for lead in filled]
        assert values == sorted(values, reverse=sort.startswith("-")), sort


async def test_a_bad_cursor_is_refused_naming_after(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    import base64

    def cursor(values: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")

    for bad in ("not base64!", "AAAA", cursor([1]), cursor(["2026-01-01T00:00:00+00:00", 2**70]), cursor(["x", 1])):
        answer = await admin.get("/api/leads", params={"after": bad})
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["field"] == "after"
    naive = await admin.get("/api/leads", params={"after": cursor(["2026-01-01T00:00:00", 5])})
    assert naive.status_code == 422 and naive.json()["field"] == "after"
    good = await admin.get("/api/leads", params={"after": cursor(["2026-01-01T00:00:00+00:00", 5])})
    assert good.status_code == 200 and good.json()["items"] == []

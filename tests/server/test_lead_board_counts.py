"""The board's kept counts (lead_board_counts, kept by triggers on leads) answer what counting the
leads answers, after every kind of write: create, edit of value and currency, a move, a bulk
reassign, archive and restore, a merge, a user removed (owner set to none), a COPY and a TRUNCATE.

An unfiltered board reads the kept counts; the same board with a filter that keeps every lead
("created since 2000") counts the leads themselves: the two must agree, for an admin, a team's
manager and a salesperson, with and without the closed stages."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import delete, text

from crm_server.auth.models import User
from tests.server.test_leads import make_lead, move, reason_ids, status_ids
from tests.support import PASSWORD, LiveServer

EVERY_LEAD = {"created_from": "2000-01-01"}  # a filter that keeps every lead but is counted


async def board(api: httpx.AsyncClient, **params: Any) -> list[tuple[str, int, list[dict[str, str]]]]:
    response = await api.get("/api/leads/board", params=params)
    assert response.status_code == 200, response.text
    return [(c["status"]["name"], c["count"], c["totals"]) for c in response.json()["columns"]]


async def agree(api: httpx.AsyncClient, **params: Any) -> list[tuple[str, int, list[dict[str, str]]]]:
    kept = await board(api, **params)
    assert kept == await board(api, **params, **EVERY_LEAD)
    return kept


async def all_agree(apis: list[httpx.AsyncClient]) -> None:
    for api in apis:
        await agree(api)
        await agree(api, include_closed=True)


async def test_kept_counts_follow_every_write(server: LiveServer, admin, statements) -> None:  # type: ignore[no-untyped-def]
    statuses, reasons = await status_ids(admin), await reason_ids(admin)
    sam_id = await server.create_user("sam@example.com", role="Salesperson", team="East")
    await server.create_user("maria@example.com", role="Manager", team="East")
    gone_id = await server.create_user("gone@example.com", role="Salesperson", team="West")
    apis = [admin]
    for email in ("sam@example.com", "maria@example.com"):
        api = server.client()
        await server.login(api, email, PASSWORD)
        apis.append(api)

    leads = [
        await make_lead(admin, person_name=f"Lead {i}", value=f"{100 * i}.50", currency=currency, owner_id=owner)
        for i, (currency, owner) in enumerate(
            [("RON", sam_id), ("EUR", sam_id), ("RON", gone_id), (None, None), ("RON", sam_id)]
        )
    ]
    await make_lead(admin, person_name="No value", owner_id=sam_id)
    statements.clear()
    first = await agree(admin)
    assert any("lead_board_counts" in s for s, _ in statements)  # the unfiltered board read the kept counts
    assert dict((name, count) for name, count, _ in first)["Open"] == 6
    await all_agree(apis)

    # Edits of the counted columns; a save that changes none of them.
    edited = await admin.patch(
        f"/api/leads/{leads[0]['id']}", json={"version": leads[0]["version"], "value": "999.99", "currency": "EUR"}
    )
    assert edited.status_code == 200, edited.text
    renamed = await admin.patch(
        f"/api/leads/{leads[1]['id']}", json={"version": leads[1]["version"], "person_name": "Renamed"}
    )
    assert renamed.status_code == 200, renamed.text
    moved = await move(admin, renamed.json(), statuses["Connected"])
    assert moved.status_code == 200, moved.text
    lost = await move(admin, leads[2], statuses["Lost"], lost_reason_id=reasons["Price too high"])
    assert lost.status_code == 200, lost.text
    await all_agree(apis)

    # Bulk reassign, archive and restore, a merge.
    ids = [lead["id"] for lead in leads]
    bulk = await admin.post("/api/leads/bulk", json={"ids": ids[3:], "action": "reassign", "owner_id": sam_id})
    assert bulk.status_code == 200, bulk.text
    fresh = (await admin.get(f"/api/leads/{ids[4]}")).json()
    archived = await admin.post(f"/api/leads/{ids[4]}/archive", json={"version": fresh["version"]})
    assert archived.status_code == 200, archived.text
    await all_agree(apis)
    restored = await admin.post(f"/api/leads/{ids[4]}/restore", json={"version": archived.json()["version"]})
    assert restored.status_code == 200, restored.text
    keep, other = (await admin.get(f"/api/leads/{ids[3]}")).json(), restored.json()
    merged = await admin.post(
        f"/api/leads/{keep['id']}/merge",
        json={"version": keep["version"], "other_id": other["id"], "other_version": other["version"], "take": {}},
    )
    assert merged.status_code == 200, merged.text
    await all_agree(apis)

    # A user removed: the database sets their leads' owner to none.
    async with server.session() as s:
        await s.execute(delete(User).where(User.id == gone_id))
    await all_agree(apis)

    # A bulk load by COPY (as the demo data is made), then everything truncated.
    async with server.session() as s:
        raw = await (await s.connection()).get_raw_connection()
        driver: Any = raw.driver_connection
        pipeline = (await admin.get("/api/pipelines")).json()[0]["id"]
        async with driver.cursor() as cursor:
            copy_sql = "COPY leads (person_name, pipeline_id, status_id, owner_id, value, currency) FROM STDIN"
            async with cursor.copy(copy_sql) as copy:
                for i in range(300):
                    await copy.write_row((f"Copied {i}", pipeline, statuses["Open"], sam_id, i, "RON"))
    copied = await agree(admin)
    assert dict((name, count) for name, count, _ in copied)["Open"] >= 300
    await all_agree(apis)
    async with server.session() as s:
        await s.execute(text("TRUNCATE leads CASCADE"))
    assert all(count == 0 for _, count, _ in await agree(admin))
    for api in apis[1:]:
        await api.aclose()

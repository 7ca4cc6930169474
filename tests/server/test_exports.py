"""Exports as jobs, through HTTP with the real job worker: the file holds exactly the rows the
list's filter shows, in the asker's scope; only its owner reads it; cancel stops it; an expired one
answers 410 in words; .csv and .xlsx both open and a formula-looking cell comes back as text."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from crm_server.auth.models import Role
from crm_server.db import utcnow
from crm_server.exports.models import Export, ExportChunk
from tests.support import ADMIN_EMAIL, LiveServer, make_url

FORMULA = '=HYPERLINK("http://x","y")'


@pytest.fixture(scope="module")
def live(pg_cluster: Any, clones: Any) -> Iterator[LiveServer]:
    """One app with its job worker on for the file (exports are jobs): its tests pick their own tags,
    users and lists, so they share its database."""
    name = clones.take()
    try:
        with LiveServer.run(make_url(pg_cluster.admin_url, name), worker=True) as server:
            yield server
    finally:
        clones.give_back(name)


_ready: list[bool] = []


@pytest.fixture
async def boss(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        if _ready:
            await live.login(api, ADMIN_EMAIL)
        else:
            await live.login_admin(api)
            _ready.append(True)
        yield api


async def _exporter_role(live: LiveServer, name: str = "Exporter", scope: str = "own") -> None:
    """A salesperson who may export their leads (the built-in Salesperson may not export)."""
    async with live.session() as s:
        s.add(
            Role(
                name=name,
                description="",
                permissions={"leads": {"actions": ["view", "create", "edit", "export"], "scope": scope}},
            )
        )


async def _lead(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/leads", json={"person_name": "Ana Pop", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _export(api: httpx.AsyncClient, fmt: str = "csv", entity: str = "leads", **filters: Any) -> dict[str, Any]:
    response = await api.post("/api/exports", json={"entity": entity, "format": fmt, "filter": filters})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _settled(api: httpx.AsyncClient, export_id: int) -> dict[str, Any]:
    """Waits for the worker to finish the export (the deadline only keeps a broken worker from hanging)."""
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = (await api.get(f"/api/exports/{export_id}")).json()
        if body["state"] not in ("pending", "running"):
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.1)


def _csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _xlsx_rows(content: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return [list(r) for r in sheet.iter_rows(values_only=True)]


async def test_a_filtered_export_holds_exactly_the_filtered_rows_as_csv_and_xlsx(
    live: LiveServer, boss: httpx.AsyncClient
) -> None:
    tagged = [await _lead(boss, person_name=f"Tagged {i}", tags=["fair"]) for i in range(3)]
    formula = await _lead(
        boss, person_name=FORMULA, company="-1+1", tags=["fair", "vip"], value="1250.50", product_interest="+40 sale"
    )
    for i in range(4):
        await _lead(boss, person_name=f"Other {i}", company="=1+2")
    expected = {str(t["id"]) for t in tagged} | {str(formula["id"])}

    csv_export = await _export(boss, "csv", tag="fair")
    xlsx_export = await _export(boss, "xlsx", tag="fair")
    for started in (csv_export, xlsx_export):
        done = await _settled(boss, started["id"])
        assert done["state"] == "done", done
        assert (done["rows_done"], done["rows_total"]) == (4, 4)
        assert done["size_bytes"] > 0 and done["expires_at"] is not None

    got = await boss.get(f"/api/exports/{csv_export['id']}/file")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = _csv_rows(got.content)
    assert rows[0][:3] == ["ID", "Name", "Company"]
    assert {r[0] for r in rows[1:]} == expected and len(rows) == 5
    formula_row = next(r for r in rows[1:] if "HYPERLINK" in r[1])
    assert formula_row[1] == "'" + FORMULA and formula_row[2] == "'-1+1"  # quoted: shown, never run

    got = await boss.get(f"/api/exports/{xlsx_export['id']}/file")
    assert got.status_code == 200
    assert 'filename="leads-' in got.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(got.content)).active
    assert sheet is not None
    cells = [list(r) for r in sheet.iter_rows()]
    assert [c.value for c in cells[0][:2]] == ["ID", "Name"]
    assert len(cells) == 5
    formula_cell = next(r[1] for r in cells[1:] if "HYPERLINK" in str(r[1].value))
    assert formula_cell.data_type == "s" and formula_cell.value == "'" + FORMULA  # text, not a formula
    assert {str(r[0].value) for r in cells[1:]} == expected
    # PostgreSQL writes the .csv (COPY), Python the .xlsx: the same cells either way.
    by_id = {str(r[0].value): r for r in cells[1:]}
    for row in rows[1:]:
        sheet_row = by_id[row[0]]
        for title, text, got_cell in zip(rows[0], row, sheet_row, strict=True):
            value = got_cell.value
            if title.endswith("(UTC)"):
                value = value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None
            elif title == "Value":
                value = f"{value:.2f}" if value is not None else None
            assert text == ("" if value is None else str(value)), (title, text, value)
    assert by_id[str(formula["id"])][15].value == "fair, vip"


async def test_a_salespersons_export_holds_only_their_own_leads_and_no_one_else_downloads_it(
    live: LiveServer, boss: httpx.AsyncClient
) -> None:
    await _exporter_role(live)
    seller = await live.create_user("seller@example.com", role="Exporter", full_name="Sam Seller")
    await live.create_user("other@example.com", role="Exporter", full_name="Olga Other")
    mine = {(await _lead(boss, person_name=f"Mine {i}", owner_id=seller))["id"] for i in range(2)}
    for i in range(3):
        await _lead(boss, person_name=f"Not mine {i}")

    async with live.client() as sam, live.client() as olga:
        await live.login(sam, "seller@example.com")
        await live.login(olga, "other@example.com")
        started = await _export(sam, "xlsx")  # no filter: everything their list shows
        done = await _settled(sam, started["id"])
        assert done["state"] == "done" and done["rows_done"] == 2, done
        rows = _xlsx_rows((await sam.get(f"/api/exports/{started['id']}/file")).content)
        assert {r[0] for r in rows[1:]} == mine

        # Someone else's export does not exist for them: not its state, not its file, not in their list.
        for path in (f"/api/exports/{started['id']}", f"/api/exports/{started['id']}/file"):
            denied = await olga.get(path)
            assert denied.status_code == 404 and denied.json()["code"] == "not_found", denied.text
        assert (await olga.post(f"/api/exports/{started['id']}/cancel")).status_code == 404
        assert (await olga.get("/api/exports")).json()["items"] == []
        assert [e["id"] for e in (await sam.get("/api/exports")).json()["items"]] == [started["id"]]


async def test_the_export_permission_of_the_lists_module_is_required(live: LiveServer, boss: httpx.AsyncClient) -> None:
    await live.create_user("plain@example.com", role="Salesperson")  # may view leads, not export them
    async with live.client() as plain:
        await live.login(plain, "plain@example.com")
        refused = await plain.post("/api/exports", json={"entity": "leads", "format": "csv", "filter": {}})
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "permission_denied"
        assert "export" in refused.json()["message"]


async def test_a_bad_filter_is_refused_naming_its_field(live: LiveServer, boss: httpx.AsyncClient) -> None:
    bad = await boss.post("/api/exports", json={"entity": "leads", "format": "csv", "filter": {"sort": "nonsense"}})
    assert bad.status_code == 422 and bad.json()["field"] == "filter.sort", bad.text
    unknown = await boss.post("/api/exports", json={"entity": "spaceships", "format": "csv", "filter": {}})
    assert unknown.status_code == 422 and unknown.json()["field"] == "entity", unknown.text
    wrong = await boss.post("/api/exports", json={"entity": "leads", "format": "pdf", "filter": {}})
    assert wrong.status_code == 422 and wrong.json()["field"] == "format", wrong.text


async def test_an_expired_export_answers_410_in_words_and_the_sweep_removes_its_file(
    live: LiveServer, boss: httpx.AsyncClient
) -> None:
    await _lead(boss)
    started = await _export(boss, "csv")
    assert (await _settled(boss, started["id"]))["state"] == "done"
    async with live.session() as s:  # its keeping time (exports.keep_days) has passed
        await s.execute(
            update(Export).where(Export.id == started["id"]).values(expires_at=utcnow() - timedelta(hours=1))
        )

    gone = await boss.get(f"/api/exports/{started['id']}/file")
    assert gone.status_code == 410, gone.text
    assert gone.json()["code"] == "export_expired"
    assert "expired" in gone.json()["message"] and "export the list again" in gone.json()["message"].lower()
    assert "7 days" in gone.json()["message"]
    assert (await boss.get(f"/api/exports/{started['id']}")).json()["state"] == "expired"

    ran = await boss.post("/api/admin/jobs/exports.expire/run")
    assert ran.status_code == 202, ran.text
    deadline = time.monotonic() + 60
    while True:
        async with live.session() as s:
            state = await s.scalar(select(Export.state).where(Export.id == started["id"]))
            chunks = (await s.scalars(select(ExportChunk.seq).where(ExportChunk.export_id == started["id"]))).all()
        if state == "expired":
            break
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.2)
    assert chunks == []  # expired and removed in one transaction
    assert (await boss.get(f"/api/exports/{started['id']}/file")).status_code == 410


async def test_cancel_stops_a_waiting_export_and_its_job_then_does_nothing(
    database_url: str, server: LiveServer, admin: httpx.AsyncClient
) -> None:
    await _lead(admin)
    started = await _export(admin, "csv")  # this server runs no worker: the export waits
    assert started["state"] == "pending"
    cancelled = await admin.post(f"/api/exports/{started['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    again = await admin.post(f"/api/exports/{started['id']}/cancel")
    assert again.status_code == 200 and again.json()["state"] == "cancelled"
    refused = await admin.get(f"/api/exports/{started['id']}/file")
    assert refused.status_code == 409 and "cancelled" in refused.json()["message"], refused.text

    with LiveServer.run(database_url, worker=True):  # a worker now takes the queued job
        deadline = time.monotonic() + 60
        while True:
            runs = (await admin.get("/api/admin/jobs", params={"task": "exports.run"})).json()
            if runs and runs[0]["status"] in ("succeeded", "failed"):
                break
            assert time.monotonic() < deadline, runs
            await asyncio.sleep(0.1)
    assert runs[0]["status"] == "succeeded" and runs[0]["result"] == "nothing to do", runs
    assert (await admin.get(f"/api/exports/{started['id']}")).json()["state"] == "cancelled"
    async with server.session() as s:
        assert (await s.scalars(select(ExportChunk.seq).where(ExportChunk.export_id == started["id"]))).all() == []


async def test_other_lists_export_through_their_own_list_query(live: LiveServer, boss: httpx.AsyncClient) -> None:
    people = {"Alpha SRL": ["Ana Pop", "Dan Ion"], "Beta SRL": ["Eva Lup"], "=cmd|' /C calc'!A0": ["Ion Rus"]}
    for name, contacts in people.items():
        made = await boss.post("/api/clients", json={"name": name, "contacts": [{"name": c} for c in contacts]})
        assert made.status_code == 201, made.text
    started = await _export(boss, "csv", entity="clients", q="SRL")
    done = await _settled(boss, started["id"])
    assert done["state"] == "done" and done["rows_done"] == 2, done
    rows = _csv_rows((await boss.get(f"/api/exports/{started['id']}/file")).content)
    assert rows[0][:2] == ["ID", "Name"] and sorted(r[1] for r in rows[1:]) == ["Alpha SRL", "Beta SRL"]

    started = await _export(boss, "xlsx", entity="clients")
    done = await _settled(boss, started["id"])
    rows = _xlsx_rows((await boss.get(f"/api/exports/{started['id']}/file")).content)
    assert "'=cmd|' /C calc'!A0" in [r[1] for r in rows[1:]]

    # Contacts: those of the clients the client list shows for the same filter, by client.
    started = await _export(boss, "csv", entity="contacts", q="SRL")
    assert (await _settled(boss, started["id"]))["rows_done"] == 3
    rows = _csv_rows((await boss.get(f"/api/exports/{started['id']}/file")).content)
    assert rows[0][:3] == ["Client", "Name", "Position"]
    assert [r[:2] for r in rows[1:]] == [["Alpha SRL", "Ana Pop"], ["Alpha SRL", "Dan Ion"], ["Beta SRL", "Eva Lup"]]

    ticket = await boss.post("/api/tickets", json={"subject": "Printer jammed"})
    assert ticket.status_code == 201, ticket.text
    started = await _export(boss, "csv", entity="tickets")
    assert (await _settled(boss, started["id"]))["state"] == "done"
    rows = _csv_rows((await boss.get(f"/api/exports/{started['id']}/file")).content)
    status = rows[0].index("Status")
    assert [r[status] for r in rows[1:]] == ["New"]  # a choice in words, not its code

    for entity in ("invoices", "payments", "proposals", "products", "stock_levels"):
        started = await _export(boss, "csv", entity=entity)
        done = await _settled(boss, started["id"])
        assert done["state"] == "done", (entity, done)
    for entity in ("purchase_orders", "sales_orders", "activities", "audit_log"):
        started = await _export(boss, "xlsx", entity=entity)
        done = await _settled(boss, started["id"])
        assert done["state"] == "done", (entity, done)
        rows = _xlsx_rows((await boss.get(f"/api/exports/{started['id']}/file")).content)
        assert rows[0][0] is not None
    audit = _xlsx_rows((await boss.get(f"/api/exports/{started['id']}/file")).content)
    assert any(r[3] == "client" for r in audit[1:])  # the three clients made above were audited


async def test_no_more_than_three_exports_wait_at_once_per_person(server: LiveServer, admin: httpx.AsyncClient) -> None:
    for _ in range(3):  # no worker: they wait
        await _export(admin, "csv")
    refused = await admin.post("/api/exports", json={"entity": "leads", "format": "csv", "filter": {}})
    assert refused.status_code == 409 and "3 exports" in refused.json()["message"], refused.text


async def test_cancel_stops_a_running_export_and_keeps_no_file(live: LiveServer, boss: httpx.AsyncClient) -> None:
    for i in range(3):
        await _lead(boss, person_name=f"Lead {i}")
    with psycopg.connect(live.database_url) as hold:  # the job starts, then waits to read the leads
        hold.execute("LOCK TABLE leads IN ACCESS EXCLUSIVE MODE")
        started = await _export(boss, "csv")
        deadline = time.monotonic() + 60
        while (await boss.get(f"/api/exports/{started['id']}")).json()["state"] != "running":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        cancelled = await boss.post(f"/api/exports/{started['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled", cancelled.text
    deadline = time.monotonic() + 60
    while True:  # the job reads, writes, finds the export cancelled at its next step and stops
        runs = (await boss.get("/api/admin/jobs", params={"task": "exports.run"})).json()
        if runs and runs[0]["status"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, runs
        await asyncio.sleep(0.1)
    assert runs[0]["status"] == "succeeded" and runs[0]["result"] == "cancelled", runs
    assert (await boss.get(f"/api/exports/{started['id']}")).json()["state"] == "cancelled"
    async with live.session() as s:
        assert (await s.scalars(select(ExportChunk.seq).where(ExportChunk.export_id == started["id"]))).all() == []


@pytest.mark.parametrize(
    ("filters", "field"),
    [({"q": "a\x00b"}, "q"), ({"owner_id": 2**70}, "owner_id"), ({"tag": "x" * 51}, "tag")],
    ids=["nul", "past-64-bits", "too-long"],
)
async def test_hostile_filters_are_refused_at_the_door(
    server: LiveServer, admin: httpx.AsyncClient, filters: dict[str, Any], field: str
) -> None:
    refused = await admin.post("/api/exports", json={"entity": "leads", "format": "csv", "filter": filters})
    assert refused.status_code == 422, refused.text
    assert field in (refused.json().get("field") or ""), refused.text


async def _waiting_export(server: LiveServer, admin: httpx.AsyncClient, scope: str) -> tuple[int, int]:
    """A salesperson's export asked while no worker runs: (the export's id, the seller's lead's id)."""
    await _exporter_role(server, scope=scope)
    seller = await server.create_user("seller@example.com", role="Exporter", team="North")
    mine = await _lead(admin, person_name="Mine", owner_id=seller)
    await _lead(admin, person_name="Not mine")
    async with server.client() as sam:
        await server.login(sam, "seller@example.com")
        started = await _export(sam, "csv")
    return started["id"], mine["id"]


async def _run_jobs(database_url: str, admin: httpx.AsyncClient, export_id: int) -> dict[str, Any]:
    with LiveServer.run(database_url, worker=True):
        deadline = time.monotonic() + 60
        while True:
            async with LiveServer(database_url, "").session() as s:
                state = await s.scalar(select(Export.state).where(Export.id == export_id))
            if state not in ("pending", "running"):
                break
            assert time.monotonic() < deadline, state
            await asyncio.sleep(0.1)
    async with LiveServer(database_url, "").session() as s:
        export = await s.get(Export, export_id)
        assert export is not None
        return {"state": export.state, "error": export.error, "rows_done": export.rows_done}


async def test_a_role_that_lost_the_export_permission_meanwhile_fails_the_export_in_words(
    database_url: str, server: LiveServer, admin: httpx.AsyncClient
) -> None:
    export_id, _ = await _waiting_export(server, admin, "own")
    async with server.session() as s:
        await s.execute(
            update(Role)
            .where(Role.name == "Exporter")
            .values(permissions={"leads": {"actions": ["view"], "scope": "own"}})
        )
    done = await _run_jobs(database_url, admin, export_id)
    assert done["state"] == "failed"
    assert done["error"] == "you no longer have the permission to export leads"


async def test_a_scope_widened_meanwhile_never_widens_the_export(
    database_url: str, server: LiveServer, admin: httpx.AsyncClient
) -> None:
    export_id, mine = await _waiting_export(server, admin, "own")
    async with server.session() as s:  # the role now sees every lead; the export was asked with "own"
        await s.execute(
            update(Role)
            .where(Role.name == "Exporter")
            .values(permissions={"leads": {"actions": ["view", "export"], "scope": "all"}})
        )
    done = await _run_jobs(database_url, admin, export_id)
    assert done["state"] == "done" and done["rows_done"] == 1, done
    async with server.session() as s:
        data = b"".join(
            (
                await s.scalars(
                    select(ExportChunk.data).where(ExportChunk.export_id == export_id).order_by(ExportChunk.seq)
                )
            ).all()
        )
    rows = _csv_rows(data)
    assert [r[0] for r in rows[1:]] == [str(mine)]

"""Spreadsheet injection: text from outside is written as text by every export. A website form
whose name is a formula (=HYPERLINK...) becomes a lead, and so does a Facebook lead (webhook -> job
-> Graph) whose name holds a character an .xlsx cannot store (BEL: the web doors refuse control
characters with a 422, but a provider's API is read by the job); the leads export job then writes
string cells in .xlsx and .csv alike (a formula-like one starting with a quote), never a formula,
and never a 500. audit.csv quotes a formula-like value the same way."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import select

from crm_server.integrations import inbox
from crm_server.integrations.models import InboxEvent
from tests.server.test_facebook import LEADGEN_ID, configure, fixture, signed
from tests.standins.graph import GraphStandIn
from tests.support import LiveServer

FORMULA = '=HYPERLINK("http://x","y")'
BELL = "Bell\x07 Ringer"


async def _work_pending(server: LiveServer) -> None:
    """What the job does with each stored form post (these tests run no worker)."""
    async with server.session() as s:
        ids = (await s.scalars(select(InboxEvent.id).where(InboxEvent.status == "pending"))).all()
    for event_id in ids:
        async with server.session() as s:
            assert "processed" in await inbox.work(s, event_id)


async def test_a_formula_from_a_website_form_is_text_in_the_leads_export(
    server: LiveServer, admin: httpx.AsyncClient
) -> None:
    form = await admin.post(
        "/api/web-forms",
        json={
            "name": "Contact",
            "fields": [
                {"name": "name", "label": "Name", "required": True, "maps_to": "person_name"},
                {"name": "company", "label": "Company", "maps_to": "company"},
            ],
        },
    )
    assert form.status_code == 201, form.text
    door = f"{server.base_url}/webhooks/forms/{form.json()['key']}"
    async with httpx.AsyncClient() as visitor:
        for name, company in ((FORMULA, "+40 call me"), ("Plain Person", "-1+1")):
            posted = await visitor.post(door, json={"name": name, "company": company})
            assert posted.status_code == 200, posted.text
    with GraphStandIn.run() as graph:
        graph.add_lead(LEADGEN_ID, {"full_name": BELL, "company_name": "@SUM(A1)"})
        await configure(server, graph)
        body = fixture("leadgen.json")
        hook = await admin.post("/webhooks/facebook", content=body, headers=signed(body))
        assert hook.status_code == 200, hook.text
        await _work_pending(server)

    csv_rows, book = await _export_both(server, admin)
    header = csv_rows[0]
    name_at, company_at = header.index("Name"), header.index("Company")
    expected = {"'" + FORMULA: "'+40 call me", "Bell\ufffd Ringer": "'@SUM(A1)", "Plain Person": "'-1+1"}
    # The .csv (PostgreSQL writes it) quotes the same cells the same way.
    assert {r[name_at]: r[company_at] for r in csv_rows[1:]} == expected
    sheet = load_workbook(io.BytesIO(book)).active
    assert sheet is not None
    rows = {row[name_at].value: row for row in sheet.iter_rows(min_row=2)}
    assert {name: row[company_at].value for name, row in rows.items()} == expected
    for row in rows.values():
        for cell in (row[name_at], row[company_at]):
            assert cell.data_type == "s", (cell.value, cell.data_type)  # a string, never a formula ("f")
    # Nothing in the file is a formula: no <f> element in any sheet.
    from zipfile import ZipFile

    with ZipFile(io.BytesIO(book)) as opened:
        sheets = [n for n in opened.namelist() if n.startswith("xl/worksheets/")]
        assert sheets and all(b"<f>" not in opened.read(n) and b"<f " not in opened.read(n) for n in sheets)


async def _export_both(server: LiveServer, admin: httpx.AsyncClient) -> tuple[list[list[str]], bytes]:
    """The leads list exported as .csv and .xlsx by the export job (a server with its worker on)."""
    started = []
    for fmt in ("csv", "xlsx"):
        r = await admin.post("/api/exports", json={"entity": "leads", "format": fmt, "filter": {}})
        assert r.status_code == 201, r.text
        started.append(r.json()["id"])
    with LiveServer.run(server.database_url, worker=True):
        deadline = time.monotonic() + 60
        while states := {(await admin.get(f"/api/exports/{i}")).json()["state"] for i in started} & {
            "pending",
            "running",
        }:
            assert time.monotonic() < deadline, states
            await asyncio.sleep(0.1)
    files = [await admin.get(f"/api/exports/{i}/file") for i in started]
    assert all(f.status_code == 200 for f in files), [f.text for f in files]
    return list(csv.reader(io.StringIO(files[0].content.decode("utf-8-sig")))), files[1].content


async def test_audit_csv_writes_a_formula_as_text(server: LiveServer, admin: httpx.AsyncClient) -> None:
    team = (await admin.post("/api/teams", json={"name": "Sales"})).json()
    renamed = await admin.put(f"/api/teams/{team['id']}", json={"name": "=1+2", "version": team["version"]})
    assert renamed.status_code == 200, renamed.text
    answer = await admin.get("/api/audit.csv", params={"entity": "team"})
    assert answer.status_code == 200
    rows: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(answer.text)))
    [change] = [r for r in rows if r["action"] == "updated" and r["field"] == "name"]
    assert (change["old"], change["new"]) == ("Sales", "'=1+2")
    assert (change["actor"], change["record"]) == ("Ada Admin", "'=1+2")  # names in words, quoted too
    assert all(not value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values() if value)

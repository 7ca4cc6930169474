"""Imports through HTTP with the real job worker: upload, mapping, dry run, the error names and the
error report, duplicates in each mode, a Windows-1250 csv with semicolons, a messy sheet, resume
after the server process is killed mid-import, revert with a record edited since, permissions."""

from __future__ import annotations

import asyncio
import io
import os
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from crm_server.auth.models import Role
from crm_server.contract.spreadsheet import safe_text
from crm_server.leads.models import Lead, LeadSource
from tests.support import ADMIN_EMAIL, PASSWORD, LiveServer, free_port, server_process


@pytest.fixture
def live(database_url: str) -> Iterator[LiveServer]:
    """The app with its job worker on: imports commit as jobs."""
    with LiveServer.run(database_url, worker=True) as server:
        yield server


@pytest.fixture
async def boss(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        await live.login_admin(api)
        async with live.session() as s:
            for i, name in enumerate(("Website", "Expo")):
                if await s.scalar(select(LeadSource.id).where(func.lower(LeadSource.name) == name.lower())) is None:
                    s.add(LeadSource(name=name, position=i))
        yield api


def xlsx(rows: list[list[Any]], title: str = "Leads") -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def upload(
    api: httpx.AsyncClient, data: bytes, name: str = "leads.xlsx", entity: str = "leads", status: int = 201
) -> dict[str, Any]:
    response = await api.post(
        "/api/imports",
        params={"entity": entity, "file_name": name},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def mapped(api: httpx.AsyncClient, answer: dict[str, Any], mode: str = "skip", **extra: Any) -> dict[str, Any]:
    body = {"mapping": answer["mapping"], "duplicate_mode": mode, **extra}
    response = await api.put(f"/api/imports/{answer['item']['id']}/mapping", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def dry(api: httpx.AsyncClient, import_id: int) -> dict[str, Any]:
    response = await api.post(f"/api/imports/{import_id}/dry-run")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def run(api: httpx.AsyncClient, import_id: int, **body: Any) -> dict[str, Any]:
    response = await api.post(f"/api/imports/{import_id}/start", json=body)
    assert response.status_code == 200, response.text
    return await settled(api, import_id)


async def settled(api: httpx.AsyncClient, import_id: int, timeout: float = 90) -> dict[str, Any]:
    """Waits for the worker to finish the import (the deadline only keeps a broken worker from hanging)."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = (await api.get(f"/api/imports/{import_id}")).json()
        if body["status"] not in ("running", "mapped", "dry_run_done", "uploaded"):
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.1)


async def leads(live: LiveServer) -> list[Lead]:
    async with live.session() as s:
        return list((await s.scalars(select(Lead).order_by(Lead.id))).all())


async def new_lead(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/leads", json={"person_name": "Ana Pop", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def safe(value: Any) -> Any:
    return safe_text(value) if isinstance(value, str) else value


HEADER = ["Full Name", "Company Name", "E-mail", "Phone Number", "Source", "Value"]


async def test_template_has_required_marks_dropdowns_and_help(boss: httpx.AsyncClient) -> None:
    response = await boss.get("/api/imports/entities/leads/template")
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    headers = [c.value for c in sheet[1]]
    assert headers[0] == "Full Name *" and "Email" in headers and "Owner Email" in headers
    lists = [dv.formula1 for dv in sheet.data_validations.dataValidation]
    assert any("Lists!" in (f or "") for f in lists), lists
    values = [c.value for c in book["Lists"]["A"]]
    assert "Website" in [c.value for col in book["Lists"].iter_cols() for c in col], values
    help_rows = list(book["Help"].iter_rows(values_only=True))
    assert help_rows[0][0] == "Column" and any(r[0] == "Full Name *" and r[1] == "Yes" and r[4] for r in help_rows)
    # The template, filled in and uploaded, maps itself.
    sheet.append(["Ion Popescu", None, "ion@example.com"])
    buffer = io.BytesIO()
    book.save(buffer)
    answer = await upload(boss, buffer.getvalue(), "template.xlsx")
    assert answer["sheets"] == ["Leads", "Lists", "Help"] and answer["sheet"] is None  # several sheets: ask
    chosen = await boss.post(f"/api/imports/{answer['item']['id']}/sheet", json={"sheet": "Leads"})
    assert chosen.status_code == 200 and chosen.json()["rows"] == 1, chosen.text
    mapping = chosen.json()["mapping"]
    assert mapping["Full Name *"] == "person_name" and mapping["Email"] == "email", mapping


async def test_import_with_dry_run_then_commit(boss: httpx.AsyncClient, live: LiveServer) -> None:
    data = xlsx(
        [
            HEADER,
            ["Ana Pop", "Acme SRL", "ana@example.com", "+40722123456", "Website", 1200],
            ["Ion Ionescu", "Beta SA", "ion@example.com", None, "Expo", "1.500,50"],
        ]
    )
    answer = await upload(boss, data)
    assert answer["mapping"] == {
        "Full Name": "person_name",
        "Company Name": "company",
        "E-mail": "email",
        "Phone Number": "phone",
        "Source": "source",
        "Value": "value",
    }
    import_id = answer["item"]["id"]
    await mapped(boss, answer)
    plan = await dry(boss, import_id)
    assert (plan["to_create"], plan["to_update"], plan["to_skip"], plan["in_error"]) == (2, 0, 0, 0), plan
    assert plan["preview"][1]["value"] == "1500.50" and plan["preview"][1]["_action"] == "create"
    assert await leads(live) == []  # the dry run wrote nothing
    done = await run(boss, import_id)
    assert (done["status"], done["created"], done["errors"], done["progress"]) == ("done", 2, 0, 1.0), done
    saved = await leads(live)
    assert [(lead.person_name, lead.email, lead.import_batch_id) for lead in saved] == [
        ("Ana Pop", "ana@example.com", import_id),
        ("Ion Ionescu", "ion@example.com", import_id),
    ]
    history = (await boss.get("/api/imports")).json()
    assert history["items"][0]["id"] == import_id and history["items"][0]["created_by_name"] == "Ada Admin"
    # The same file again: warned, with the day and the person.
    again = await upload(boss, data)
    await mapped(boss, again)
    refused = await boss.post(f"/api/imports/{again['item']['id']}/start", json={})
    assert refused.status_code == 409 and "was imported on" in refused.json()["message"], refused.text
    assert "by Ada Admin" in refused.json()["message"]
    # One summary notification, not one per lead.
    async with live.session() as s:
        from crm_server.admin.models import Notification

        notes = (await s.scalars(select(Notification).where(Notification.kind == "import_done"))).all()
    assert len(notes) == 1 and "2 created" in notes[0].body


async def test_every_error_name_with_column_and_reason_and_the_error_report(
    boss: httpx.AsyncClient, live: LiveServer
) -> None:
    await new_lead(boss, email="taken@example.com")
    await new_lead(boss, person_name="Other", phone="+40722000001")
    rows: list[list[Any]] = [
        ["Full Name", "E-mail", "Phone Number", "Source", "Value"],
        ["Good Row", "good@example.com", None, "Website", 10],  # 2
        [None, "noname@example.com", None, None, None],  # 3: Required Field Missing
        ["Bad Mail", "bad@@example", None, None, None],  # 4: Invalid Email Format
        ["Bad Value", "v@example.com", None, None, "lots"],  # 5: Incorrect Data Type
        ["Bad Source", "s@example.com", None, "Carrier pigeon", None],  # 6: Unknown Value
        ["Twin", "good@example.com", None, None, None],  # 7: Duplicate Record (in the file)
        ["Two Records", "taken@example.com", "+40722000001", None, None],  # 8: Duplicate Record (two matches)
        ["@SUM(A1:A9)", "bad", None, None, None],  # 9: formula-like text, kept as text in the report
    ]
    answer = await upload(boss, xlsx(rows))
    import_id = answer["item"]["id"]
    # Two columns on one field: "Duplicate Header" unless told which wins.
    both = {**answer["mapping"], "Phone Number": "email"}
    refused = await boss.put(f"/api/imports/{import_id}/mapping", json={"mapping": both})
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "duplicate_header" and refused.json()["message"].startswith("Duplicate Header")
    wins = await boss.put(f"/api/imports/{import_id}/mapping", json={"mapping": both, "winners": {"email": "E-mail"}})
    assert wins.status_code == 200, wins.text
    await mapped(boss, answer)
    plan = await dry(boss, import_id)
    by_row = {e["row"]: e for e in plan["errors"]}
    assert by_row[3]["error"] == "Required Field Missing" and by_row[3]["column"] == "Full Name"
    assert by_row[4]["error"] == "Invalid Email Format" and by_row[4]["column"] == "E-mail"
    assert "bad@@example" in by_row[4]["reason"]
    assert by_row[5]["error"] == "Incorrect Data Type" and by_row[5]["column"] == "Value"
    assert by_row[6]["error"] == "Unknown Value" and "Carrier pigeon" in by_row[6]["reason"]
    assert by_row[7]["error"] == "Duplicate Record" and "row 2" in by_row[7]["reason"]
    assert by_row[7]["column"] == "E-mail"
    assert by_row[8]["error"] == "Duplicate Record" and "2 records" in by_row[8]["reason"]
    assert by_row[8]["column"] == "E-mail, Phone Number"
    assert (plan["to_create"], plan["in_error"]) == (1, 7), plan
    done = await run(boss, import_id)
    assert (done["created"], done["errors"]) == (1, 7), done
    report = await boss.get(f"/api/imports/{import_id}/error-report")
    assert report.status_code == 200, report.text
    sheet = load_workbook(io.BytesIO(report.content)).worksheets[0]
    got = [[c.value for c in r] for r in sheet.iter_rows()]
    assert got[0] == [*rows[0], "Error"]
    # The failed rows exactly as they were (text that a spreadsheet would run is quoted, and typed as text).
    assert [r[:-1] for r in got[1:]] == [[safe(c) for c in r] for r in rows[2:]]
    assert got[3][-1].startswith("Incorrect Data Type (Value)")
    formula = sheet.cell(row=8, column=1)
    assert formula.data_type == "s" and formula.value == "'" + rows[8][0]
    # Fixed in the report and uploaded again, the rows import (the quotes do not come back in).
    sheet_book = load_workbook(io.BytesIO(report.content))
    fixed = sheet_book.worksheets[0]
    for row in fixed.iter_rows(min_row=2):
        row[0].value = row[0].value or "Named Now"
        row[1].value = f"fixed{row[0].row}@example.com"
        row[2].value, row[3].value, row[4].value = None, None, None
    buffer = io.BytesIO()
    sheet_book.save(buffer)
    second = await upload(boss, buffer.getvalue(), "leads-errors.xlsx")
    assert second["mapping"]["Error"] is None
    await mapped(boss, second)
    redone = await run(boss, second["item"]["id"])
    assert (redone["created"], redone["errors"]) == (7, 0), redone
    names = {x.person_name for x in await leads(live)}
    assert rows[8][0] in names and "Named Now" in names
    errors = (await boss.get(f"/api/imports/{import_id}/errors")).json()
    assert errors["total"] == 7 and {e["error"] for e in errors["items"]} == {
        "Required Field Missing",
        "Invalid Email Format",
        "Incorrect Data Type",
        "Unknown Value",
        "Duplicate Record",
    }


@pytest.mark.parametrize("mode", ["skip", "fill_empty", "overwrite", "create"])
async def test_duplicate_modes(boss: httpx.AsyncClient, live: LiveServer, mode: str) -> None:
    old = await new_lead(boss, person_name="Old Name", email="ana@example.com")
    rows = [["Full Name", "E-mail", "Company Name"], ["New Name", "ANA@example.com", "Acme"]]
    answer = await upload(boss, xlsx(rows))
    await mapped(boss, answer, mode=mode)
    plan = await dry(boss, answer["item"]["id"])
    expected = {"skip": (0, 0, 1), "fill_empty": (0, 1, 0), "overwrite": (0, 1, 0), "create": (1, 0, 0)}[mode]
    assert (plan["to_create"], plan["to_update"], plan["to_skip"]) == expected, plan
    done = await run(boss, answer["item"]["id"])
    assert (done["created"], done["updated"], done["skipped"]) == expected, done
    saved = await leads(live)
    first = next(lead for lead in saved if lead.id == old["id"])
    if mode == "skip":
        assert (len(saved), first.person_name, first.company) == (1, "Old Name", None)
    elif mode == "fill_empty":
        assert (len(saved), first.person_name, first.company) == (1, "Old Name", "Acme")
    elif mode == "overwrite":
        assert (len(saved), first.person_name, first.company) == (1, "New Name", "Acme")
    else:
        assert len(saved) == 2 and saved[1].person_name == "New Name"


async def test_windows_1250_csv_with_semicolons(boss: httpx.AsyncClient, live: LiveServer) -> None:
    text = "Imię i nazwisko;Firma;Email;Telefon\r\nŁukasz Żółć;Łódź Sp. z o.o.;lukasz@example.pl;+48 601 234 567\r\n"
    text += "Zofia Wąsik;Gdańsk;zofia@example.pl;\r\n"
    answer = await upload(boss, text.encode("cp1250"), "leady.csv")
    assert answer["sheets"] == ["CSV"] and answer["headers"] == ["Imię i nazwisko", "Firma", "Email", "Telefon"]
    mapping = {"Imię i nazwisko": "person_name", "Firma": "company", "Email": "email", "Telefon": "phone"}
    response = await boss.put(f"/api/imports/{answer['item']['id']}/mapping", json={"mapping": mapping})
    assert response.status_code == 200, response.text
    done = await run(boss, answer["item"]["id"])
    assert (done["created"], done["errors"]) == (2, 0), done
    saved = await leads(live)
    assert [(x.person_name, x.company, x.phone) for x in saved] == [
        ("Łukasz Żółć", "Łódź Sp. z o.o.", "+48601234567"),
        ("Zofia Wąsik", "Gdańsk", None),
    ]


async def test_messy_sheet(boss: httpx.AsyncClient, live: LiveServer) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Leads from the autumn fair"])
    sheet.merge_cells("A1:D1")
    sheet.append(["Full Name", "Contact", None, "Value"])
    sheet.merge_cells("B2:C2")
    sheet.append([None, "E-mail", "Phone", None])
    sheet.append(["Ana Pop  ", "ANA.POP@EXAMPLE.COM", "0722 123 456", 100])
    sheet.append(["Ion Ionescu", "Ion@Example.com", None, "about a thousand"])
    sheet.append(["Maria Radu", "maria@example.com", None, "2 500"])
    sheet.append([None, None, None, None])
    sheet.append(["   ", None, None, None])
    sheet.append(["Total", None, None, 2600])
    buffer = io.BytesIO()
    book.save(buffer)
    answer = await upload(boss, buffer.getvalue(), "fair.xlsx")
    assert answer["headers"] == ["Full Name", "E-mail", "Phone", "Value"] and answer["rows"] == 3, answer
    await mapped(boss, answer)
    plan = await dry(boss, answer["item"]["id"])
    assert (plan["to_create"], plan["in_error"]) == (2, 1), plan
    (error,) = plan["errors"]
    assert (error["row"], error["column"], error["error"]) == (5, "Value", "Incorrect Data Type")
    done = await run(boss, answer["item"]["id"])
    assert (done["created"], done["errors"], done["rows_total"]) == (2, 1, 3), done
    saved = await leads(live)
    assert [(x.person_name, x.email, x.phone, str(x.value)) for x in saved] == [
        ("Ana Pop", "ana.pop@example.com", "+40722123456", "100.00"),
        ("Maria Radu", "maria@example.com", None, "2500.00"),
    ]


async def test_revert_leaves_a_record_edited_since(boss: httpx.AsyncClient, live: LiveServer) -> None:
    old = await new_lead(boss, person_name="Kept Name", email="kept@example.com")
    rows: list[list[Any]] = [
        ["Full Name", "E-mail", "Company Name"],
        ["Kept Name", "kept@example.com", "Filled By Import"],
        ["New One", "new1@example.com", None],
        ["New Two", "new2@example.com", None],
    ]
    answer = await upload(boss, xlsx(rows))
    await mapped(boss, answer, mode="fill_empty")
    done = await run(boss, answer["item"]["id"])
    assert (done["created"], done["updated"]) == (2, 1), done
    saved = await leads(live)
    edited = next(x for x in saved if x.person_name == "New Two")
    response = await boss.patch(f"/api/leads/{edited.id}", json={"version": edited.version, "territory": "North"})
    assert response.status_code == 200, response.text
    reverted = await boss.post(f"/api/imports/{answer['item']['id']}/revert")
    assert reverted.status_code == 200, reverted.text
    body = reverted.json()
    assert (body["archived"], body["restored"], body["item"]["status"]) == (1, 1, "reverted"), body
    (left,) = body["left_alone"]
    assert left["record_id"] == edited.id and "Ada Admin" in left["reason"], left
    after = {x.person_name: x for x in await leads(live)}
    assert after["New One"].archived_at is not None
    assert after["New Two"].archived_at is None and after["New Two"].territory == "North"
    assert after["Kept Name"].company is None and after["Kept Name"].id == old["id"]
    again = await boss.post(f"/api/imports/{answer['item']['id']}/revert")
    assert again.status_code == 409


async def test_a_role_without_import_gets_403(boss: httpx.AsyncClient, live: LiveServer) -> None:
    await live.create_user("sales@example.com", role="Salesperson")
    answer = await upload(boss, xlsx([HEADER, ["Ana Pop"]]))
    async with live.client() as api:
        await live.login(api, "sales@example.com")
        assert (await api.get("/api/imports/entities/leads/template")).status_code == 403
        refused = await api.post(
            "/api/imports",
            params={"entity": "leads", "file_name": "x.xlsx"},
            content=xlsx([HEADER]),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert refused.status_code == 403, refused.text
        assert (await api.get(f"/api/imports/{answer['item']['id']}")).status_code == 403
        assert (await api.post(f"/api/imports/{answer['item']['id']}/revert")).status_code == 403
        assert (await api.get("/api/imports")).json()["items"] == []
    # A role given `import` on leads may import leads, not products.
    async with live.session() as s:
        s.add(
            Role(
                name="Importer",
                description="",
                permissions={"leads": {"actions": ["view", "create", "edit", "import"], "scope": "own"}},
            )
        )
    me = await live.create_user("importer@example.com", role="Importer")
    theirs = await new_lead(boss, person_name="Not Mine", email="theirs@example.com")
    async with live.client() as api:
        await live.login(api, "importer@example.com")
        await upload(api, xlsx([["SKU", "Name"]]), entity="products", status=403)
        # Scope own: no owner outside it, no update of a lead outside it.
        rows: list[list[Any]] = [
            ["Full Name", "Email", "Owner Email"],
            ["Given Away", "away@example.com", "sales@example.com"],
            ["Not Mine", "theirs@example.com", None],
            ["Mine", "mine@example.com", "importer@example.com"],
        ]
        answer = await upload(api, xlsx(rows))
        await mapped(api, answer, mode="overwrite")
        plan = await dry(api, answer["item"]["id"])
        by_row = {e["row"]: e for e in plan["errors"]}
        assert by_row[2]["error"] == "Unknown Value" and by_row[2]["column"] == "Owner Email", by_row
        assert by_row[3]["error"] == "Duplicate Record" and "outside" in by_row[3]["reason"], by_row
        assert (plan["to_create"], plan["in_error"]) == (1, 2), plan
        sales = next(u for u in (await boss.get("/api/users")).json()["items"] if u["email"] == "sales@example.com")
        refused = await api.put(
            f"/api/imports/{answer['item']['id']}/mapping", json={"mapping": answer["mapping"], "owner_id": sales["id"]}
        )
        assert refused.status_code == 422 and refused.json()["field"] == "owner_id", refused.text
    assert theirs["owner_id"] != me


async def test_resume_after_the_server_is_killed(database_url: str, server: LiveServer) -> None:
    """kill -9 of the process running the import; a new server resumes it: every row exactly once.
    (`server` has no worker: the only worker is the process that gets killed.)"""
    total = 400
    rows: list[list[Any]] = [["Full Name", "E-mail"]] + [[f"Person {i}", f"p{i}@example.com"] for i in range(total)]
    async with server.client() as api:
        await server.login_admin(api)
    port = free_port()
    os.environ["CRM_IMPORT_CHUNK_ROWS"] = "10"
    try:
        with server_process(database_url, port) as process:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as api:
                token = (await api.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})).json()
                api.headers["Authorization"] = f"Bearer {token['token']}"
                answer = await upload(api, xlsx(rows))
                import_id = answer["item"]["id"]
                await mapped(api, answer)
                assert (await api.post(f"/api/imports/{import_id}/start", json={})).status_code == 200
                deadline = time.monotonic() + 60
                while True:
                    body = (await api.get(f"/api/imports/{import_id}")).json()
                    if body["rows_done"] >= 30:
                        break
                    assert time.monotonic() < deadline and body["status"] == "running", body
                    await asyncio.sleep(0.02)
                process.kill()  # SIGKILL: no goodbye, a chunk may be half written
                process.wait(timeout=10)
    finally:
        os.environ.pop("CRM_IMPORT_CHUNK_ROWS", None)
    with psycopg.connect(database_url, autocommit=True) as conn:
        done_before = conn.execute("SELECT rows_done FROM imports WHERE id = %s", (import_id,)).fetchone()
        assert done_before is not None and 30 <= done_before[0] < total, done_before
        # The dead worker's heartbeat is a minute old, as it would be by the time anyone noticed.
        conn.execute("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '10 minutes'")
    with LiveServer.run(database_url, worker=True) as again:  # its worker retries the dead worker's job
        async with again.client() as api:
            await again.login(api, ADMIN_EMAIL)
            # What the every-minute maintenance job does (test servers run no job at its time).
            retry = await api.post("/api/admin/jobs/maintenance.retry_stalled/run")
            assert retry.status_code == 202, retry.text
            done = await settled(api, import_id)
    assert (done["status"], done["created"], done["errors"]) == ("done", total, 0), done
    with psycopg.connect(database_url, autocommit=True) as conn:
        counts = conn.execute(
            "SELECT count(*), count(DISTINCT lower(email)) FROM leads WHERE import_batch_id = %s", (import_id,)
        ).fetchone()
        outcomes = conn.execute("SELECT count(*) FROM import_rows WHERE import_id = %s", (import_id,)).fetchone()
    assert counts == (total, total) and outcomes == (total,)


async def test_clients_with_contacts_contacts_and_products_with_opening_stock(
    boss: httpx.AsyncClient, live: LiveServer
) -> None:
    clients = xlsx(
        [
            ["Company Name", "VAT Number", "Email", "Contact Name", "Contact Email"],
            ["Acme SRL", "RO 123 456 78", "office@acme.example", "Ana Pop", "ana@acme.example"],
            ["Acme Twin", "12345678", None, None, None],  # the same VAT number
        ]
    )
    answer = await upload(boss, clients, entity="clients")
    await mapped(boss, answer)
    done = await run(boss, answer["item"]["id"])
    assert (done["created"], done["errors"]) == (1, 1), done
    errors = (await boss.get(f"/api/imports/{answer['item']['id']}/errors")).json()["items"]
    assert errors[0]["error"] == "Duplicate Record" and "VAT" in errors[0]["reason"]
    assert errors[0]["column"] == "VAT Number"
    contacts = xlsx([["Client", "Full Name", "Email"], ["RO12345678", "Ion Pop", "ion@acme.example"],
                     ["No Such Co", "X", None]])  # fmt: skip
    answer = await upload(boss, contacts, entity="contacts")
    await mapped(boss, answer)
    done = await run(boss, answer["item"]["id"])
    assert (done["created"], done["errors"]) == (1, 1), done
    with psycopg.connect(live.database_url, autocommit=True) as conn:
        names = conn.execute("SELECT name FROM contacts ORDER BY id").fetchall()
        assert names == [("Ana Pop",), ("Ion Pop",)]
        conn.execute("INSERT INTO warehouses (name) VALUES ('Main')")
    # The same client again, filling its empty fields: its row's new contact joins it (a second row
    # for the same client in the file is a Duplicate Record); revert takes the new contact away again.
    again = xlsx([["Company Name", "VAT Number", "Phone", "Contact Name", "Contact Email"],
                  ["Acme SRL", "RO12345678", "+40722123456", "Dana Lup", "dana@acme.example"],
                  ["Acme SRL", "RO12345678", None, "ANA POP", None]])  # fmt: skip
    answer = await upload(boss, again, entity="clients")
    await mapped(boss, answer, mode="fill_empty")
    done = await run(boss, answer["item"]["id"])
    assert (done["updated"], done["created"], done["errors"]) == (1, 0, 1), done  # two rows, one client
    with psycopg.connect(live.database_url, autocommit=True) as conn:
        names = conn.execute("SELECT name FROM contacts ORDER BY id").fetchall()
        assert names == [("Ana Pop",), ("Ion Pop",), ("Dana Lup",)]
    reverted = await boss.post(f"/api/imports/{answer['item']['id']}/revert")
    assert reverted.status_code == 200 and reverted.json()["restored"] == 1, reverted.text
    with psycopg.connect(live.database_url, autocommit=True) as conn:
        names = conn.execute("SELECT name FROM contacts ORDER BY id").fetchall()
        assert names == [("Ana Pop",), ("Ion Pop",)]
        assert conn.execute("SELECT phone FROM clients WHERE name = 'Acme SRL'").fetchone() == (None,)
    products = xlsx(
        [["SKU", "Name", "Unit Price", "VAT Rate", "Stock: Main"], ["PNL-400", "Panel", "199,90", "19", 25]]
    )
    answer = await upload(boss, products, entity="products")
    await mapped(boss, answer)
    done = await run(boss, answer["item"]["id"])
    assert (done["created"], done["errors"]) == (1, 0), done
    with psycopg.connect(live.database_url, autocommit=True) as conn:
        level = conn.execute(
            "SELECT p.unit_price, p.stock_tracked, sum(m.quantity) FROM products p"
            " JOIN stock_moves m ON m.product_id = p.id WHERE p.sku = 'PNL-400' GROUP BY p.id"
        ).fetchone()
    assert level is not None and (str(level[0]), level[1], int(level[2])) == ("199.90", True, 25), level
    reverted = await boss.post(f"/api/imports/{answer['item']['id']}/revert")
    assert reverted.status_code == 200 and reverted.json()["archived"] == 1, reverted.text
    with psycopg.connect(live.database_url, autocommit=True) as conn:
        after = conn.execute(
            "SELECT p.active, sum(m.quantity) FROM products p"
            " JOIN stock_moves m ON m.product_id = p.id WHERE p.sku = 'PNL-400' GROUP BY p.id"
        ).fetchone()
    assert after is not None and (after[0], int(after[1])) == (False, 0), after  # archived, its stock taken back


async def test_cancel_stops_after_the_current_chunk_with_live_progress(
    boss: httpx.AsyncClient, live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_IMPORT_CHUNK_ROWS", "5")  # read by the in-process worker when the job starts
    total = 3000
    rows: list[list[Any]] = [["Full Name", "E-mail"]] + [[f"Person {i}", f"c{i}@example.com"] for i in range(total)]
    answer = await upload(boss, xlsx(rows))
    import_id = answer["item"]["id"]
    await mapped(boss, answer)
    assert (await boss.post(f"/api/imports/{import_id}/start", json={})).status_code == 200
    deadline = time.monotonic() + 60
    while (body := (await boss.get(f"/api/imports/{import_id}")).json())["rows_done"] < 10:
        assert time.monotonic() < deadline and body["status"] == "running", body
        await asyncio.sleep(0.02)
    cancelled = await boss.post(f"/api/imports/{import_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    await asyncio.sleep(1)  # the job notices at its next chunk
    with psycopg.connect(live.database_url, autocommit=True) as conn:
        made = conn.execute("SELECT count(*) FROM leads WHERE import_batch_id = %s", (import_id,)).fetchone()
        outcomes = conn.execute("SELECT count(*) FROM import_rows WHERE import_id = %s", (import_id,)).fetchone()
        progress = conn.execute(
            "SELECT count(*), max((data->>'rows_done')::int) FROM events"
            " WHERE module = 'imports' AND entity_id = %s AND action = 'progress'",
            (import_id,),
        ).fetchone()
        imported = conn.execute(
            "SELECT count(*) FROM events WHERE module = 'leads' AND entity = 'import' AND entity_id = %s", (import_id,)
        ).fetchone()
    final = (await boss.get(f"/api/imports/{import_id}")).json()
    assert final["status"] == "cancelled" and 10 <= final["rows_done"] < total, final
    assert made is not None and outcomes is not None and made[0] == outcomes[0] == final["rows_done"]
    assert progress is not None and progress[0] >= 1 and 0 < progress[1] <= final["rows_done"], progress
    assert imported is not None and imported[0] >= 1  # the lead lists were told to reload
    # What was written before the cancel can be reverted.
    reverted = await boss.post(f"/api/imports/{import_id}/revert")
    assert reverted.status_code == 200 and reverted.json()["archived"] == final["rows_done"], reverted.text


async def test_mapping_is_remembered_for_the_same_headers(boss: httpx.AsyncClient) -> None:
    answer = await upload(boss, xlsx([["Name", "Mail", "Notes"], ["Ana Pop", "ana@example.com", "x"]]))
    assert answer["mapping"] == {"Name": "person_name", "Mail": "email", "Notes": None}
    assert answer["mapping_remembered"] is False
    chosen = {"Name": "person_name", "Mail": None, "Notes": "company"}
    response = await boss.put(f"/api/imports/{answer['item']['id']}/mapping", json={"mapping": chosen})
    assert response.status_code == 200, response.text
    later = await upload(boss, xlsx([["name", "MAIL", "Notes"], ["Ion Pop", "ion@example.com", "y"]]))
    assert later["mapping_remembered"] is True and later["mapping"] == {
        "name": "person_name",
        "MAIL": None,
        "Notes": "company",
    }, later
    other = await upload(boss, xlsx([["Name", "Mail"], ["Ion Pop", "ion@example.com"]]))
    assert other["mapping_remembered"] is False


async def test_assignment_rules_or_a_chosen_owner(boss: httpx.AsyncClient, live: LiveServer) -> None:
    rosa = await live.create_user("rosa@example.com", full_name="Rosa Rule")
    chosen = await live.create_user("cora@example.com", full_name="Cora Chosen")
    rule = await boss.post("/api/assignment-rules", json={"name": "Expo leads", "source": "Expo", "user_id": rosa})
    assert rule.status_code == 201, rule.text
    data = xlsx([["Full Name", "Source"], ["By Rule", "Expo"], ["Nobody's", "Website"]])
    answer = await upload(boss, data)
    await mapped(boss, answer)
    await run(boss, answer["item"]["id"])
    owners = {x.person_name: x.owner_id for x in await leads(live)}
    assert owners["By Rule"] == rosa and owners["Nobody's"] != rosa
    answer = await upload(boss, xlsx([["Full Name", "Source"], ["Chosen", "Expo"]]))
    await mapped(boss, answer, owner_id=chosen)
    await run(boss, answer["item"]["id"])
    owners = {x.person_name: x.owner_id for x in await leads(live)}
    assert owners["Chosen"] == chosen
    async with live.session() as s:
        from crm_server.admin.models import Notification

        notes = (await s.scalars(select(Notification).where(Notification.user_id == rosa))).all()
    assert [n.title for n in notes] == ["1 new leads from an import"]


async def test_bad_files_are_refused_in_words(boss: httpx.AsyncClient) -> None:
    garbage = await upload(boss, b"PK\x03\x04 not really a workbook", "leads.xlsx", status=422)
    assert garbage["field"] == "file" and garbage["code"] == "unreadable_file"
    kind = await upload(boss, b"%PDF-1.7", "leads.pdf", status=422)
    assert kind["field"] == "file_name"
    empty = await upload(boss, b"", "leads.csv", status=422)
    assert empty["field"] == "file"
    answer = await upload(boss, b"Full Name,Email\nAna\x00 Pop,ana@example.com\n", "nul.csv")
    assert answer["sample"] == [["Ana Pop", "ana@example.com"]]
    bad_field = await boss.put(
        f"/api/imports/{answer['item']['id']}/mapping", json={"mapping": {"Full Name": "password_hash"}}
    )
    assert bad_field.status_code == 422 and bad_field.json()["field"] == "mapping.Full Name", bad_field.text
    no_column = await boss.put(f"/api/imports/{answer['item']['id']}/mapping", json={"mapping": {"Email": "email"}})
    assert no_column.status_code == 422 and no_column.json()["code"] == "required_field_missing", no_column.text
    assert (await boss.get("/api/imports/99999999")).status_code == 404
    assert (await boss.get(f"/api/imports/{2**70}")).status_code == 422


def ods(rows: list[list[str]]) -> bytes:
    """A minimal OpenDocument spreadsheet (what LibreOffice saves, reduced to its content)."""

    def cells(row: list[str]) -> str:
        return "".join(
            f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>' for v in row
        )

    body = "".join(f"<table:table-row>{cells(r)}</table:table-row>" for r in rows)
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="{office}"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Leads">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest'
        ' xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/"'
        ' manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", manifest)
        z.writestr("content.xml", content)
    return buffer.getvalue()


async def test_ods_xls_and_utf8_bom_csv(boss: httpx.AsyncClient, live: LiveServer) -> None:
    answer = await upload(boss, ods([["Full Name", "Email address"], ["Ana Pop", "ana@example.com"]]), "leads.ods")
    assert answer["mapping"] == {"Full Name": "person_name", "Email address": "email"}
    await mapped(boss, answer)
    assert (await run(boss, answer["item"]["id"]))["created"] == 1
    text = "\ufeffFull Name,E-mail\r\nȘtefan Țurcan,stefan@example.ro\r\n"
    answer = await upload(boss, text.encode("utf-8"), "leads.csv")
    assert answer["headers"] == ["Full Name", "E-mail"]
    await mapped(boss, answer)
    assert (await run(boss, answer["item"]["id"]))["created"] == 1
    assert [x.person_name for x in await leads(live)] == ["Ana Pop", "Ștefan Țurcan"]
    # Excel 97-2003 (.xls): dates, numbers and text as the workbook holds them.
    answer = await upload(boss, (Path(__file__).parent / "fixtures" / "imports" / "leads.xls").read_bytes(), "old.xls")
    assert answer["headers"] == ["Full Name", "Company Name", "E-mail", "Value", "Expected Close"]
    await mapped(boss, answer)
    done = await run(boss, answer["item"]["id"])
    assert (done["created"], done["skipped"]) == (2, 1), done  # ANA@EXAMPLE.COM: the .ods import's Ana Pop
    old = {x.person_name: x for x in await leads(live)}
    assert (old["Maria Lungu"].email, str(old["Maria Lungu"].value)) == ("maria@example.com", "1250.50")
    assert str(old["Maria Lungu"].expected_close_date) == "2027-01-15"
    assert (str(old["Ion Ionescu"].value), old["Ion Ionescu"].expected_close_date) == ("99.00", None)


async def test_two_jobs_of_one_import_write_each_row_once(database_url: str, server: LiveServer) -> None:
    """A job queued again while the first still runs (its worker only looked dead): both run at once
    and every row is still written exactly once."""
    total = 300
    rows: list[list[Any]] = [["Full Name", "E-mail"]] + [[f"Person {i}", f"p{i}@example.com"] for i in range(total)]
    async with server.client() as api:
        await server.login_admin(api)
        answer = await upload(api, xlsx(rows))
        import_id = answer["item"]["id"]
        await mapped(api, answer)
        assert (await api.post(f"/api/imports/{import_id}/start", json={})).status_code == 200
    with psycopg.connect(database_url, autocommit=True) as conn:  # the same job, queued twice
        conn.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, scheduled_at, attempts)"
            " SELECT queue_name, task_name, args, scheduled_at, attempts FROM procrastinate_jobs"
            " WHERE task_name LIKE '%%imports.run'"
        )
        assert conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'").fetchone() == (2,)
    os.environ["CRM_IMPORT_CHUNK_ROWS"] = "5"
    try:
        with LiveServer.run(database_url, worker=True) as working:  # runs both jobs side by side
            async with working.client() as api:
                await working.login(api, ADMIN_EMAIL)
                done = await settled(api, import_id)
                deadline = time.monotonic() + 60
                while (await api.get("/api/admin/jobs", params={"task": "imports.run"})).json()[1:2] == []:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.1)
    finally:
        os.environ.pop("CRM_IMPORT_CHUNK_ROWS", None)
    assert (done["status"], done["created"], done["errors"]) == ("done", total, 0), done
    with psycopg.connect(database_url, autocommit=True) as conn:
        leads = conn.execute("SELECT count(*) FROM leads WHERE import_batch_id = %s", (import_id,)).fetchone()
    assert leads == (total,)


async def test_old_uploads_are_removed_but_the_history_stays(boss: httpx.AsyncClient, live: LiveServer) -> None:
    rows: list[list[Any]] = [["Full Name", "E-mail"], ["Ana Pop", "ana@example.com"], ["Broken", "not-an-email"]]
    # Whoever switched "An import I started is done" off is not told.
    off = await boss.put("/api/me/notification-preferences", json={"enabled": {"import_done": False}})
    assert off.status_code == 200, off.text
    answer = await upload(boss, xlsx(rows))
    done_id = answer["item"]["id"]
    await mapped(boss, answer)
    assert (await run(boss, done_id))["status"] == "done"
    async with live.session() as s:
        from crm_server.admin.models import Notification

        assert (await s.scalars(select(Notification).where(Notification.kind == "import_done"))).all() == []
    draft = (await upload(boss, xlsx([["Full Name"], ["Never Started"]])))["item"]["id"]
    fresh = (await upload(boss, xlsx([["Full Name"], ["Started Today"]])))["item"]["id"]
    with psycopg.connect(live.database_url, autocommit=True) as conn:  # 31 days ago; 30 are kept
        conn.execute(
            "UPDATE imports SET created_at = now() - interval '31 days', finished_at = now() - interval '31 days'"
            " WHERE id IN (%s, %s)",
            (done_id, draft),
        )
    r = await boss.post("/api/admin/jobs/imports.remove_old_files/run")
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 30
    while (await boss.get(f"/api/imports/{draft}")).status_code != 404:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    report = await boss.get(f"/api/imports/{done_id}/error-report")
    assert report.status_code == 410 and "imports.keep_days" in report.json()["message"], report.text
    kept = (await boss.get(f"/api/imports/{done_id}")).json()
    assert (kept["status"], kept["created"], kept["errors"]) == ("done", 1, 1)
    errors = (await boss.get(f"/api/imports/{done_id}/errors")).json()
    assert [e["error"] for e in errors["items"]] == ["Invalid Email Format"]
    assert (await boss.get(f"/api/imports/{fresh}")).status_code == 200  # uploaded today: kept


async def test_the_commit_takes_the_dry_runs_rows_or_converts_the_file_again(
    boss: httpx.AsyncClient, live: LiveServer
) -> None:
    """One pass (issue #19): the job writes the rows the dry run converted (kept in the staging, here
    marked to show where they came from), and converts the file again when they are gone (emptied
    by a crash of PostgreSQL: UNLOGGED tables) or were converted for another mapping."""
    await new_lead(boss, person_name="Already Here", email="here@example.com")

    def sheet(tag: str) -> bytes:
        return xlsx(
            [
                ["Full Name", "E-mail", "Company Name"],
                ["Ana Pop", f"ana{tag}@example.com", "Acme"],
                ["Twin", f"ana{tag}@example.com", None],  # a duplicate within the file, found by the dry run
                ["Here Again", "HERE@example.com", None],  # matched against the CRM again at commit
                ["Ion Pop", f"ion{tag}@example.com", "Beta"],
            ]
        )

    async def planned(data: bytes) -> int:
        answer = await upload(boss, data)
        await mapped(boss, answer)
        plan = await dry(boss, answer["item"]["id"])
        assert (plan["to_create"], plan["to_skip"], plan["in_error"]) == (2, 1, 1), plan
        return int(answer["item"]["id"])

    def sql(query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(live.database_url, autocommit=True) as conn:
            cursor = conn.execute(query, args)
            return cursor.fetchall() if cursor.description else []

    kept = await planned(sheet(""))
    assert sql("SELECT rows FROM import_staging WHERE import_id = %s", kept) == [(4,)]
    sql('UPDATE import_staged_rows SET data = data || \'{"company": "From The Dry Run"}\' WHERE import_id = %s', kept)
    # Someone creates a lead with Ion's e-mail after the dry run: the commit skips Ion's row.
    await new_lead(boss, person_name="Ion Earlier", email="ion@example.com")
    done = await run(boss, kept)
    assert (done["status"], done["created"], done["skipped"], done["errors"]) == ("done", 1, 2, 1), done
    made = [lead for lead in await leads(live) if lead.import_batch_id == kept]
    assert [(x.person_name, x.company) for x in made] == [("Ana Pop", "From The Dry Run")]
    errors = (await boss.get(f"/api/imports/{kept}/errors")).json()["items"]
    assert [(e["row"], e["error"]) for e in errors] == [(3, "Duplicate Record")], errors
    assert sql("SELECT count(*) FROM import_staged_rows WHERE import_id = %s", kept) == [(0,)]  # removed at the end

    gone = await planned(sheet("2"))
    sql('UPDATE import_staged_rows SET data = data || \'{"company": "Stale"}\' WHERE import_id = %s', gone)
    sql("DELETE FROM import_staging WHERE import_id = %s", gone)  # as a crash of PostgreSQL leaves it
    done = await run(boss, gone)
    assert (done["status"], done["created"], done["skipped"], done["errors"]) == ("done", 2, 1, 1), done
    made = [lead for lead in await leads(live) if lead.import_batch_id == gone]
    assert [(x.person_name, x.company) for x in made] == [("Ana Pop", "Acme"), ("Ion Pop", "Beta")]

    remapped = await planned(sheet("3"))
    sql('UPDATE import_staged_rows SET data = data || \'{"company": "Stale"}\' WHERE import_id = %s', remapped)
    answer = {
        "item": {"id": remapped},
        "mapping": {"Full Name": "person_name", "E-mail": "email", "Company Name": None},
    }
    await mapped(boss, answer)  # mapped again after the dry run: its rows are not used
    done = await run(boss, remapped)
    made = [lead for lead in await leads(live) if lead.import_batch_id == remapped]
    assert [(x.person_name, x.company) for x in made] == [("Ana Pop", None), ("Ion Pop", None)], done


async def test_rules_share_an_imports_leads_round_robin(boss: httpx.AsyncClient, live: LiveServer) -> None:
    """The chunk's new leads get their owners at once, with the outcome of one rule run per lead:
    a team rule takes turns among its members, a user rule gives to its user, the rest stay with
    the importer."""
    first = await live.create_user("first@example.com", team="Fair")
    second = await live.create_user("second@example.com", team="Fair")
    solo = await live.create_user("solo@example.com", full_name="Solo")
    async with live.session() as s:
        from crm_server.auth.models import Team

        team = await s.scalar(select(Team.id).where(Team.name == "Fair"))
    for body in ({"name": "Expo to Fair", "source": "Expo", "team_id": team},
                 {"name": "North to Solo", "territory": "North", "user_id": solo}):  # fmt: skip
        assert (await boss.post("/api/assignment-rules", json=body)).status_code == 201
    rows: list[list[Any]] = [["Full Name", "Source", "Territory"]]
    rows += [[f"Expo {i}", "Expo", None] for i in range(3)] + [["Northern", "Website", "north"], ["Mine", None, None]]
    answer = await upload(boss, xlsx(rows))
    await mapped(boss, answer, mapping={**answer["mapping"], "Territory": "territory"})
    done = await run(boss, answer["item"]["id"])
    assert done["created"] == 5, done
    owners = {x.person_name: x.owner_id for x in await leads(live)}
    me = (await boss.get("/api/auth/me")).json()["id"]
    assert [owners[f"Expo {i}"] for i in range(3)] == [first, second, first]
    assert (owners["Northern"], owners["Mine"]) == (solo, me)
    # The team's turn goes on from where the import left it.
    lead = await new_lead(boss, person_name="After", source="Expo")
    assert lead["owner_id"] == second


async def test_a_table_that_starts_away_from_a1_keeps_its_row_numbers(boss: httpx.AsyncClient) -> None:
    """The sheet is read as a stream of rows (no grid held): a table whose header sits at C3 below
    a title still has the headers, the count and the row numbers a spreadsheet shows."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["B1"] = "Leads from the fair"
    for row, values in {
        3: ["Full Name", "E-mail"],
        4: ["Ana Pop", "ana@example.com"],
        6: ["Ion Pop", "not-mail"],
    }.items():
        for column, value in zip("CD", values, strict=True):
            sheet[f"{column}{row}"] = value
    sheet["C8"] = "Total"
    buffer = io.BytesIO()
    book.save(buffer)
    answer = await upload(boss, buffer.getvalue())
    assert (answer["headers"], answer["rows"]) == (["Column A", "Column B", "Full Name", "E-mail"], 2), answer
    assert answer["sample"][1][2:] == ["Ion Pop", "not-mail"]
    await mapped(boss, answer)
    plan = await dry(boss, answer["item"]["id"])
    assert [(e["row"], e["column"], e["error"]) for e in plan["errors"]] == [(6, "E-mail", "Invalid Email Format")]
    assert plan["preview"][0]["_row"] == "4" and plan["to_create"] == 1

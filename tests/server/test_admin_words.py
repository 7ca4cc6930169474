"""The admin pages speak in words: the audit log names each record (the lead's name, the invoice's
number), one query for a whole page, and every job task has a title that says what it does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from crm_server.admin import service
from crm_server.jobs import registry
from tests.support import LiveServer


async def test_audit_entries_name_their_record(server: LiveServer, admin: Any) -> None:
    lead = (await admin.post("/api/leads", json={"person_name": "Ana Pop", "company": "Acme"})).json()
    client = (await admin.post("/api/clients", json={"name": "Fabrikam SRL", "email": "ap@fabrikam.example"})).json()
    rate = next(r["id"] for r in (await admin.get("/api/tax-rates")).json() if r["name"] == "Standard 19%")
    line = {"description": "Support", "quantity": "1", "unit_price": "80.00", "tax_rate_id": rate}
    draft = (await admin.post("/api/invoices", json={"client_id": client["id"], "lines": [line]})).json()
    issued = (await admin.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]})).json()
    other = (await admin.post("/api/invoices", json={"client_id": client["id"], "lines": [line]})).json()
    ticket = (await admin.post("/api/tickets", json={"subject": "Printer jams", "client_id": client["id"]})).json()
    job = await admin.post("/api/admin/jobs/invoices.recur/run")
    assert job.status_code == 202, job.text
    contact = await admin.post(f"/api/clients/{client['id']}/contacts", json={"name": "Gone Contact"})
    assert contact.status_code == 201, contact.text
    assert (await admin.delete(f"/api/contacts/{contact.json()['id']}")).status_code == 200

    page = (await admin.get("/api/audit", params={"limit": 100})).json()
    by_record = {(e["entity"], e["entity_id"]): e["label"] for e in page["items"]}
    assert by_record[("lead", lead["id"])] == "Ana Pop"
    assert by_record[("client", client["id"])] == "Fabrikam SRL"
    assert issued["number"] and by_record[("invoice", issued["id"])] == issued["number"]
    assert by_record[("invoice", other["id"])] == "Draft for Fabrikam SRL"
    assert by_record[("ticket", ticket["id"])] == f"#{ticket['number']} Printer jams"
    assert by_record[("job", job.json()["id"])] == "Make the recurring invoices"
    # A deleted record keeps its entries; they have no name to show any more.
    assert by_record[("contact", contact.json()["id"])] is None

    # However many entries and record types a page holds: the count, the page, and one for the names.
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    async with server.session() as s:
        engine = s.sync_session.get_bind()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            listed = await service.audit_log(s, None, None, None, None, None, 0, 100)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert len({e.entity for e in listed.items}) >= 5 and len(listed.items) >= 8
    assert len(statements) == 3, statements
    assert {(e.entity, e.entity_id): e.label for e in listed.items} == by_record


async def test_job_runs_say_what_the_task_does(server: LiveServer, admin: Any) -> None:
    started = (await admin.post("/api/admin/jobs/activities.send_reminders/run")).json()
    assert started["title"] == "Send due follow-up reminders"
    runs = (await admin.get("/api/admin/jobs")).json()
    assert [r["title"] for r in runs if r["id"] == started["id"]] == ["Send due follow-up reminders"]


def test_every_registered_task_has_a_title() -> None:
    tasks = set(registry.registered())
    assert tasks - set(registry.TITLES) == set(), "a task the admin panel would show by its code name"
    assert set(registry.TITLES) - tasks == set(), "a title for a task that no longer exists"
    assert all(title[:1].isupper() and "_" not in title for title in registry.TITLES.values())

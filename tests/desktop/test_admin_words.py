"""The admin pages speak in words, as a person reads them: the role matrix names modules and
actions, the audit log names the record, the health page says what each job does."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget
from pytestqt.qtbot import QtBot

from crm_desktop.views.admin.audit import AuditPage
from crm_desktop.views.admin.health import HealthPage
from crm_desktop.views.admin.roles import RolesPage
from crm_server.contract.auth import ACTIONS, MODULES
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import open_panel, settle

CODES = {*MODULES, *ACTIONS}


def shown_texts(root: QWidget) -> list[str]:
    """Every text a person sees or hears on the widget: labels, buttons, tooltips, accessible names."""
    texts: list[str] = []
    for widget in root.findChildren(QWidget):
        if isinstance(widget, QLabel | QAbstractButton) and widget.text():
            texts.append(widget.text())
        texts += [t for t in (widget.toolTip(), widget.accessibleName()) if t]
    return texts


def test_role_matrix_names_modules_and_actions_in_words(desk: Desk, qtbot: QtBot) -> None:
    _api, _panel, page = open_panel(desk, qtbot, "roles")
    assert isinstance(page, RolesPage)
    texts = shown_texts(page.matrix)
    assert "Sales orders" in texts and "Purchase orders" in texts and "Follow-ups" in texts and "View" in texts
    raw = [t for t in texts if t in CODES or "_" in t or any(f"“{code}”" in t for code in CODES)]
    assert raw == [], raw


def test_audit_log_names_the_record(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    lead = desk.run(api.post("/api/leads", {"person_name": "Ana Pop", "company": "Acme"}))
    client = desk.run(api.post("/api/clients", {"name": "Fabrikam SRL"}))
    rita = desk.create_user("rita@example.com", full_name="Rita Receiver")
    desk.run(api.patch(f"/api/leads/{lead['id']}", {"version": lead["version"], "owner_id": rita}))
    roles = {r["name"]: r["id"] for r in desk.run(api.get("/api/roles"))}
    version = desk.run(api.get(f"/api/users/{rita}"))["version"]
    desk.run(api.patch(f"/api/users/{rita}", {"version": version, "role_id": roles["Manager"]}))
    _api, _panel, page = open_panel(desk, qtbot, "audit", api)
    assert isinstance(page, AuditPage)
    model = page.model
    records = [model.index(row, 2).data() for row in range(model.rowCount())]
    assert "Lead: Ana Pop" in records and "Client: Fabrikam SRL" in records
    assert not any(f"#{lead['id']}" in r or f"#{client['id']}" in r for r in records), records
    changes = [model.index(row, 4).data() for row in range(model.rowCount())]
    assert any(c.endswith("→ Rita Receiver") and c.startswith("Owner: ") for c in changes), changes  # not her id
    assert "Role: Salesperson → Manager" in changes  # roles by name, not their ids
    actions = {model.index(row, 3).data() for row in range(model.rowCount())}
    assert actions and not any("_" in a for a in actions), actions
    kinds = [page.entity.itemText(i) for i in range(page.entity.count())]
    assert "Sales order" in kinds and not any("_" in k for k in kinds), kinds


def test_health_page_says_what_each_job_does(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    job = desk.run(api.post("/api/admin/jobs/invoices.recur/run"))
    _api, panel, page = open_panel(desk, qtbot, "health", api)
    assert isinstance(page, HealthPage)
    settle(desk, panel)
    header, row = page.jobs.horizontalHeaderItem(0), next(i for i, run in enumerate(page.runs) if run.id == job["id"])
    cell = page.jobs.item(row, 0)
    assert header is not None and header.text() == "Job"
    assert cell is not None and cell.text() == "Make the recurring invoices"
    status = page.jobs.item(row, 1)
    assert status is not None and status.text() == "Waiting"  # no worker in this test: it waits
    page.jobs.selectRow(row)
    assert page.job_detail.text() == "Make the recurring invoices waits for a job worker to run it."
    audit = panel.show_page("audit")
    assert isinstance(audit, AuditPage)
    settle(desk, panel)
    entry = next(i for i, e in enumerate(audit.model.rows()) if e.entity == "job" and e.entity_id == job["id"])
    assert audit.model.index(entry, 2).data() == "Job: Make the recurring invoices"
    assert "crm:" not in audit.model.index(entry, 4).data()

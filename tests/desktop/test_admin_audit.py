"""Admin panel, audit page: filters go to the server, and "Export CSV" saves exactly the filtered
entries (header row first) through the save dialog."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from crm_desktop.views.admin.audit import AuditPage
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import (
    open_panel,
    settle,
    the_dialog,
)


def test_filter_and_export_csv(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api = desk.signed_in_api()
    north = desk.run(api.post("/api/teams", {"name": "North"}))
    desk.run(api.put(f"/api/teams/{north['id']}", {"name": "North East", "version": north["version"]}))
    desk.run(api.post("/api/roles", {"name": "Temp"}))
    _, panel, page = open_panel(desk, qtbot, "audit", api=api)
    assert isinstance(page, AuditPage)
    everything = page.model.total
    assert everything is not None and everything >= 3

    page.entity.setCurrentIndex(page.entity.findData("team"))
    settle(desk, panel)
    assert page.model.total == 2
    assert [page.model.index(i, 3).data() for i in range(2)] == ["Changed", "Created"]  # newest first
    assert page.model.index(0, 1).data() == "Admin"  # the actor's name, not an id
    page.table.view.selectRow(0)
    cells = [[page.details.item(i, j) for j in (0, 2)] for i in range(page.details.rowCount())]
    fields = {name.text(): new.text() for name, new in cells if name is not None and new is not None}
    assert fields["Name"] == "North East"  # the field in words, not its code

    page.export_button.click()
    dialog = the_dialog(QFileDialog)
    target = tmp_path / "team-audit.csv"
    dialog.selectFile(str(target))
    dialog.accept()
    settle(desk, panel)

    assert target.exists() and not (tmp_path / "team-audit.csv.part").exists()
    with target.open(newline="") as f:
        rows = list(csv.reader(f))
    header = ["id", "at", "actor_id", "actor", "entity", "entity_id", "record", "action", "field", "old", "new"]
    assert rows[0] == header
    assert {r[4] for r in rows[1:]} == {"team"}  # the filter went with the export
    assert {r[7] for r in rows[1:]} == {"created", "updated"}
    assert all(r[3] and r[6] for r in rows[1:])  # who and which record, in words
    assert f"Exported the audit log to {target}" in page.notice_text.text()
    assert page.export_button.isEnabled() and page.progress is None

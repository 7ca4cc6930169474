"""Exports write text as text (crm_server/contract/spreadsheet.py): a client named like a formula,
exported from the invoices list with Ctrl+E (an export job, views/exports.py), is a string cell
starting with a quote in the workbook, never a formula."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.views.invoices.list import InvoicesPage
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus
from tests.desktop.test_invoices import issued_invoice, make_client, rate_id, signed_in
from tests.support import LiveServer

FORMULA = '=HYPERLINK("http://x","y")'


def test_a_formula_like_client_is_text_in_the_invoices_export(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api, session = signed_in(desk, live=False)
    standard = rate_id(desk, api, "Standard 19%")
    for name in (FORMULA, "@Beta", "Plain SRL"):
        issued_invoice(desk, api, make_client(desk, api, name)["id"], standard, "10.00")
    page = InvoicesPage(session)
    qtbot.addWidget(page)
    page.show()
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 3, message="the list did not load")
    target = tmp_path / "invoices.xlsx"
    with LiveServer.run(desk.server.database_url, worker=True):  # an export is a job: a worker writes it
        focus(desk, page.table.view)
        qtbot.keyClick(page.table.view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
        desk.wait_until(lambda: getattr(page, "export_dialog", None) is not None, message="no export dialog")
        dialog = page.export_dialog
        desk.wait_until(lambda: dialog.export.state.value == "done", timeout=60, message=dialog.status.text())
    desk.run(dialog.save_to(str(target)))
    sheet = load_workbook(target).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    client = header.index("Client name")
    cells = {row[client].value: row[client] for row in sheet.iter_rows(min_row=2)}
    assert set(cells) == {"'" + FORMULA, "'@Beta", "Plain SRL"}
    assert all(cell.data_type == "s" for cell in cells.values())  # strings, never formulas ("f")

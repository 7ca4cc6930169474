"""The desktop's exports write text as text (crm_server/contract/spreadsheet.py, through
widgets/excel_export.py): a client named like a formula, exported from the invoices list with
Ctrl+E's dialog, is a string cell starting with a quote in the workbook, never a formula."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook
from pytestqt.qtbot import QtBot

from crm_desktop.views.invoices.list import InvoicesPage
from tests.desktop.conftest import Desk
from tests.desktop.test_invoices import issued_invoice, make_client, rate_id, signed_in

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
    dialog = page.export()
    assert dialog is not None
    dialog.selectFile(str(target))
    dialog.accept()
    desk.wait_until(lambda: "Exported 3 invoices" in page.notice.text(), message=page.notice.text())
    sheet = load_workbook(target).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    client = header.index("Client")
    cells = {row[client].value: row[client] for row in sheet.iter_rows(min_row=2)}
    assert set(cells) == {"'" + FORMULA, "'@Beta", "Plain SRL"}
    assert all(cell.data_type == "s" for cell in cells.values())  # strings, never formulas ("f")

"""Exports as jobs, as a person meets them: the lead list's Export starts a job for what the filter
shows, the dialog's progress bar follows it live, "Save as…" writes the file, which openpyxl opens
with exactly the filtered leads; the Exports page (user menu > My exports…) lists it, downloads it,
and says "expired, export again" once its file is gone, with "Export again" one click away."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import shiboken6
from openpyxl import load_workbook
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot
from sqlalchemy import update

from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.exports import ExportProgressDialog, ExportsPage, ExportsWindow, NewExportDialog
from crm_desktop.views.leads.list import LeadList
from crm_server.auth.models import Role
from crm_server.contract.exports import ENTITIES, ExportState
from crm_server.db import utcnow
from crm_server.exports.models import Export
from tests.desktop.conftest import Desk
from tests.desktop.test_leads_list import make_leads, names
from tests.desktop.test_main_window import open_main
from tests.support import LiveServer


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The desk's server with its job worker on: exports are jobs."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


def _save_dialog() -> QFileDialog:
    dialogs = [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QFileDialog) and w.isVisible() and w.objectName() == "exportSaveDialog"
    ]
    assert len(dialogs) == 1, dialogs
    return dialogs[0]


def _expire_all(desk: Desk) -> None:
    async def expire() -> None:
        async with desk.server.session() as s:
            await s.execute(update(Export).values(expires_at=utcnow() - timedelta(minutes=1)))

    desk.on_server(expire())


def _first_state(page: ExportsPage) -> ExportState | None:
    return page.model.row(0).state if page.model.rowCount() and not page.model.loading else None


def test_export_from_the_lead_list_shows_progress_and_saves_the_filtered_leads(
    desk: Desk, qtbot: QtBot, tmp_path: Path
) -> None:
    api = desk.signed_in_api()
    people = [{"person_name": f"Fair {i:02}", "company": "Acme", "tags": ["fair"]} for i in range(12)]
    people += [{"person_name": "=HYPERLINK(1)", "company": "Acme", "tags": ["fair"]}]
    people += [{"person_name": f"Other {i}", "company": "Beta"} for i in range(5)]
    make_leads(desk, api, people)
    session = Session(api, desk.run(auth.me(api)))
    session.start()  # live events: the progress bar follows the job
    leads = LeadList(session, page_size=100)
    qtbot.addWidget(leads)
    leads.resize(1200, 600)
    leads.show()
    desk.wait_until(lambda: leads.model.total is not None and not leads.model.loading, message="list not loaded")
    leads.set_filters({"tag": "fair", "owner_id": None})
    desk.wait_until(lambda: len(names(leads)) == 13, message=f"filter not applied: {names(leads)}")
    shown = sorted(names(leads))

    qtbot.mouseClick(leads.export_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: getattr(leads, "export_dialog", None) is not None, message="no export dialog")
    dialog: ExportProgressDialog = leads.export_dialog
    assert dialog.isVisible()
    desk.wait_until(lambda: dialog.export.state is ExportState.done, timeout=60, message=dialog.status.text())
    assert (dialog.bar.maximum(), dialog.bar.value()) == (13, 13)
    assert dialog.status.text().startswith("Done: 13 of 13 rows")
    assert dialog.save_button.isVisible() and not dialog.cancel_button.isVisible()

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    target = tmp_path / "fair leads.xlsx"
    save = _save_dialog()
    save.selectFile(str(target))
    save.accept()
    desk.wait_until(lambda: dialog.saved_to == str(target), message=dialog.status.text())
    assert "Saved to" in dialog.status.text()
    sheet = load_workbook(target).active
    assert sheet is not None
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0][:3]] == ["ID", "Name", "Company"]
    saved = sorted(str(r[1].value) for r in rows[1:])
    assert saved == sorted("'" + n if n.startswith("=") else n for n in shown)  # exactly what the filter showed
    formula = next(r[1] for r in rows[1:] if "HYPERLINK" in str(r[1].value))
    assert formula.data_type == "s"  # text, never a formula
    desk.run(session.close())


def test_a_salesperson_is_offered_only_the_lists_their_role_may_export(desk: Desk, qtbot: QtBot) -> None:
    async def role() -> None:
        async with desk.server.session() as s:
            s.add(
                Role(
                    name="Exporter",
                    description="",
                    permissions={
                        "leads": {"actions": ["view", "export"], "scope": "own"},
                        "clients": {"actions": ["view"], "scope": "own"},
                    },
                )
            )

    desk.on_server(role())
    api = desk.signed_in_api("sam@example.com", role="Exporter")
    session = Session(api, desk.run(auth.me(api)))
    page = ExportsPage(session)
    qtbot.addWidget(page)
    dialog = page.new_export()
    assert [dialog.entity.itemData(i) for i in range(dialog.entity.count())] == ["leads"]
    dialog.reject()


def test_the_exports_page_downloads_and_says_expired_export_again(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    window = open_main(desk, qtbot)
    make_leads(desk, window.api, [{"person_name": "Ana Pop"}, {"person_name": "Dan Ionescu"}])
    window.exports_action.trigger()  # user menu > My exports…
    pages = [w for w in QApplication.topLevelWidgets() if isinstance(w, ExportsWindow) and w.isVisible()]
    assert len(pages) == 1
    page = pages[0].page
    desk.wait_until(lambda: page.model.total == 0, message="the list did not load")

    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)  # New export…: a whole list, a format
    new = next(w for w in QApplication.topLevelWidgets() if isinstance(w, NewExportDialog) and w.isVisible())
    assert new.entity.count() == len(ENTITIES)  # an admin may export every list
    new.entity.setCurrentIndex(new.entity.findData("leads"))
    new.format.setCurrentIndex(new.format.findData("csv"))
    qtbot.mouseClick(new.ok_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.model.rowCount() == 1, message="the new export did not show up")
    desk.wait_until(lambda: _first_state(page) is ExportState.done, timeout=60, message=str(page.model.rows()))
    for dialog in [w for w in QApplication.topLevelWidgets() if isinstance(w, ExportProgressDialog)]:
        dialog.close()
    page.table.view.selectRow(0)
    assert page.download_button.isEnabled() and not page.cancel_button.isEnabled()
    assert page.model.data(page.model.index(0, 2)) == "Done"
    assert page.model.data(page.model.index(0, 3)) == "2 of 2 rows"

    qtbot.mouseClick(page.download_button, Qt.MouseButton.LeftButton)
    target = tmp_path / "leads.csv"
    save = _save_dialog()
    save.selectFile(str(target))
    save.accept()
    desk.wait_until(lambda: "Saved to" in page.notice.text(), message=page.notice.text())
    content = target.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf") and b"Ana Pop" in content and b"Dan Ionescu" in content

    _expire_all(desk)  # its keeping time passed while the page was open
    qtbot.mouseClick(page.download_button, Qt.MouseButton.LeftButton)
    save = _save_dialog()
    save.selectFile(str(tmp_path / "again.csv"))
    save.accept()
    desk.wait_until(lambda: "expired" in page.notice.text(), message=page.notice.text())
    assert "Export the list again" in page.notice.text()
    assert not (tmp_path / "again.csv").exists()
    desk.wait_until(
        lambda: page.model.rowCount() == 1 and _first_state(page) is ExportState.expired,
        message="the list did not show it expired",
    )
    assert page.model.data(page.model.index(0, 2)) == "Expired, export again"
    page.table.view.selectRow(0)
    assert not page.download_button.isEnabled() and page.again_button.isEnabled()

    qtbot.mouseClick(page.again_button, Qt.MouseButton.LeftButton)  # the same list, filter and format
    desk.wait_until(lambda: page.model.rowCount() == 2 and not page.model.loading, message="no new export")
    desk.wait_until(lambda: _first_state(page) is ExportState.done, timeout=60, message=str(page.model.rows()))
    assert page.model.row(0).format == "csv" and page.model.row(0).rows_done == 2
    dialogs = [
        w for w in QApplication.topLevelWidgets() if isinstance(w, ExportProgressDialog) and shiboken6.isValid(w)
    ]
    assert dialogs, "Export again opens the progress dialog"


def test_export_from_the_ticket_queue_holds_what_its_filters_show(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    from crm_desktop.views.tickets import TicketsPage

    api = desk.signed_in_api()
    for subject in ("Printer jammed", "Printer offline", "Email down"):
        desk.run(api.post("/api/tickets", {"subject": subject}))
    session = Session(api, desk.run(auth.me(api)))
    page = TicketsPage(session)
    qtbot.addWidget(page)
    page.resize(1280, 700)
    page.show()
    page.queue.set_filters({"status": "open", "q": "Printer"}, narrowed=True)
    desk.wait_until(
        lambda: page.queue.model.rowCount() == 2 and not page.queue.model.loading, message="filter not applied"
    )
    shown = sorted(t.subject for t in page.queue.model.rows())
    assert page.export_button.isVisible()

    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: getattr(page, "export_dialog", None) is not None, message="no export dialog")
    dialog: ExportProgressDialog = page.export_dialog
    desk.wait_until(lambda: dialog.export.state is ExportState.done, timeout=60, message=dialog.status.text())
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    target = tmp_path / "tickets.xlsx"
    save = _save_dialog()
    save.selectFile(str(target))
    save.accept()
    desk.wait_until(lambda: dialog.saved_to == str(target), message=dialog.status.text())
    sheet = load_workbook(target).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    column = rows[0].index("Subject")
    assert sorted(r[column] for r in rows[1:]) == shown == ["Printer jammed", "Printer offline"]


def test_the_client_list_exports_as_csv_what_its_search_shows(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    from tests.desktop.test_clients import create, names, open_clients

    api, _session, page = open_clients(desk, qtbot)
    for name in ("Alpha SRL", "Beta SRL", "Gamma GmbH"):
        create(desk, api, name=name)
    qtbot.keyClicks(page.search, "SRL")
    desk.wait_until(lambda: sorted(names(page)) == ["Alpha SRL", "Beta SRL"], message=f"search: {names(page)}")
    assert page.export_button.isVisible()

    page.export_button.format_action("csv").trigger()  # the Export button's arrow: "CSV, UTF-8 (.csv)"
    desk.wait_until(lambda: getattr(page, "export_dialog", None) is not None, message="no export dialog")
    dialog: ExportProgressDialog = page.export_dialog
    desk.wait_until(lambda: dialog.export.state is ExportState.done, timeout=60, message=dialog.status.text())
    assert dialog.export.rows_done == 2 and dialog.export.format == "csv"
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    target = tmp_path / "clients.csv"
    save = _save_dialog()
    save.selectFile(str(target))
    save.accept()
    desk.wait_until(lambda: dialog.saved_to == str(target), message=dialog.status.text())
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert sorted(r[rows[0].index("Name")] for r in rows[1:]) == ["Alpha SRL", "Beta SRL"]

    # The arrow's "Their contacts": the contacts of the clients the search shows.
    desk.run(api.post("/api/clients", {"name": "Delta SRL", "contacts": [{"name": "Eva Lup"}]}))
    desk.run(api.post("/api/clients", {"name": "Omega GmbH", "contacts": [{"name": "Otto Berg"}]}))
    page.export_dialog = None
    page.export_button.menu().findChild(QAction, "exportContactsXlsx").trigger()
    desk.wait_until(lambda: getattr(page, "export_dialog", None) is not None, message="no export dialog")
    contacts: ExportProgressDialog = page.export_dialog
    desk.wait_until(lambda: contacts.export.state is ExportState.done, timeout=60, message=contacts.status.text())
    assert contacts.export.entity == "contacts" and contacts.export.rows_done == 1


def test_export_from_the_payments_page_holds_what_its_search_shows(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    from crm_desktop.views.payments.list import PaymentsPage
    from tests.desktop.test_invoices import issued_invoice, make_client, rate_id, signed_in

    api, session = signed_in(desk, live=False)
    standard = rate_id(desk, api, "Standard 19%")
    numbers = []
    for name in ("Alpha SRL", "Beta GmbH"):
        invoice = issued_invoice(desk, api, make_client(desk, api, name)["id"], standard, "100.00")
        desk.run(api.post(f"/api/invoices/{invoice['id']}/payments", {"amount": "10.00", "reference": name}))
        numbers.append(invoice["number"])
    page = PaymentsPage(session)
    qtbot.addWidget(page)
    page.resize(1200, 600)
    page.show()
    qtbot.keyClicks(page.search, "Beta")
    desk.wait_until(
        lambda: [r.client_name for r in page.model.rows()] == ["Beta GmbH"] and not page.model.loading,
        message="search not applied",
    )
    assert page.export_button.isVisible()
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.export_button.dialog is not None, message="no export dialog")
    dialog = page.export_button.dialog
    assert dialog is not None
    desk.wait_until(lambda: dialog.export.state is ExportState.done, timeout=60, message=dialog.status.text())
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    target = tmp_path / "payments.xlsx"
    save = _save_dialog()
    save.selectFile(str(target))
    save.accept()
    desk.wait_until(lambda: dialog.saved_to == str(target), message=dialog.status.text())
    sheet = load_workbook(target).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert [r[rows[0].index("Invoice number")] for r in rows[1:]] == [numbers[1]]


def test_the_sales_orders_page_exports_as_a_job_too(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    """Orders come only from the shop's webhook: the empty list exports its header row."""
    from crm_desktop.views.orders.list import OrdersPage

    api = desk.signed_in_api()
    session = Session(api, desk.run(auth.me(api)))
    page = OrdersPage(session)
    qtbot.addWidget(page)
    page.show()
    assert page.export_button.isVisible()
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.export_button.dialog is not None, message="no export dialog")
    dialog = page.export_button.dialog
    assert dialog is not None
    desk.wait_until(lambda: dialog.export.state is ExportState.done, timeout=60, message=dialog.status.text())
    assert dialog.export.entity == "sales_orders" and dialog.export.rows_done == 0
    target = tmp_path / "orders.xlsx"
    desk.run(dialog.save_to(str(target)))
    sheet = load_workbook(target).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert len(rows) == 1 and "Number" in rows[0]


def test_export_from_the_product_list_holds_what_its_search_shows(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    from tests.desktop.test_products import create, open_products, skus

    api, page = open_products(desk, qtbot)
    for sku, name in (("CHAIR-1", "Office chair"), ("CHAIR-2", "Guest chair"), ("DESK-1", "Standing desk")):
        create(desk, api, page, sku=sku, name=name)
    qtbot.keyClicks(page.search, "chair")
    desk.wait_until(lambda: sorted(skus(page)) == ["CHAIR-1", "CHAIR-2"] and not page.is_busy(), message="search")
    assert page.export_button.isVisible()
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.export_button.dialog is not None, message="no export dialog")
    dialog = page.export_button.dialog
    assert dialog is not None
    desk.wait_until(lambda: dialog.export.state is ExportState.done, timeout=60, message=dialog.status.text())
    target = tmp_path / "products.xlsx"
    desk.run(dialog.save_to(str(target)))
    sheet = load_workbook(target).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert sorted(r[rows[0].index("SKU")] for r in rows[1:]) == ["CHAIR-1", "CHAIR-2"]


def test_an_admin_sets_how_long_export_files_are_kept(desk: Desk, qtbot: QtBot) -> None:
    from crm_desktop.views.admin.settings import SettingsPage
    from tests.desktop.test_admin_panel import open_panel, settle

    api, panel, page = open_panel(desk, qtbot, "settings")
    assert isinstance(page, SettingsPage)
    assert page.export_days.value() == 7  # the default
    page.export_days.setValue(3)
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    assert desk.run(api.get("/api/settings"))["values"]["exports.keep_days"] == 3
    assert page.pending() == {}

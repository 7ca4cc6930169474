"""The import wizard, driven as a person would against the real server with its job worker on:
Admin > Data Management > New import…, download the leads template, fill it with openpyxl (good
rows, one with a bad e-mail, one that duplicates an existing lead), upload it, read the suggested
mapping, dry run and read the counts and the error as the server names it, download the error
report (exactly the failed row plus an Error column), fix the file and import it watching the
progress bar to the end, see the leads in the list, revert from the history and see them gone.
Also: two columns on one field ("Duplicate Header") until one is ticked as the winner, a workbook
with several sheets, the same file again, "Back up first" before a large import, and the lists'
"Import…" door for roles with the `import` permission only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from openpyxl import Workbook, load_workbook
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from crm_desktop import operations, tasks
from crm_desktop.api import admin as admin_api
from crm_desktop.api import auth
from crm_desktop.api import imports as imports_api
from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views.admin.data_management import DataManagementPage
from crm_desktop.views.imports.wizard import ImportWizard
from crm_desktop.views.leads.list import LeadList
from crm_server.contract.imports import ImportStatus
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import open_panel, settle
from tests.desktop.test_leads_list import make_leads, names
from tests.support import LiveServer


@pytest.fixture
def server(database_url: str, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """The app with its job worker on: imports (and backups) are jobs. A test parametrized with
    `server=False` (indirect) gets it without a worker: a started import then waits, running."""
    with LiveServer.run(database_url, worker=getattr(request, "param", True)) as live:
        yield live


# --- helpers a person's hands stand for ------------------------------------------------------------


def visible(kind: type[Any], name: str | None = None) -> Any:
    found = [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, kind) and w.isVisible() and (name is None or w.objectName() == name)
    ]
    assert len(found) == 1, found
    return found[0]


def click(qtbot: QtBot, button: Any) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def choose_file(qtbot: QtBot, name: str, path: Path) -> None:
    """The file dialog that just opened: type the path, press Enter (Open / Save)."""
    dialog = visible(QFileDialog, name)
    dialog.selectFile(str(path))
    dialog.accept()


def answer(qtbot: QtBot, name: str, words: str) -> None:
    box = visible(QMessageBox, name)
    button = next(b for b in box.buttons() if b.text() == words)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def quiet(desk: Desk, wizard: ImportWizard) -> None:
    until(
        desk,
        lambda: operations.pending() == 0 and tasks.running() == 0 and not wizard.is_busy(),
        "the wizard did not settle",
        timeout=30,
    )


def gone(desk: Desk, wizard: ImportWizard) -> None:
    desk.wait_until(lambda: not shiboken6.isValid(wizard) or not wizard.isVisible(), message="the wizard stayed open")


def said() -> str:
    """What message boxes say (a failure shows in one): for assertion messages."""
    return " | ".join(w.text() for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())


def until(desk: Desk, predicate: Any, what: str, timeout: float = 15) -> None:
    """desk.wait_until, saying what the message boxes on screen say when it fails."""
    try:
        desk.wait_until(predicate, timeout=timeout, message=what)
    except AssertionError:
        raise AssertionError(f"{what}; on screen: {said() or 'no message'}") from None


def header_of(label: str) -> str:
    return label.removesuffix("*").strip()


def template_columns(path: Path) -> list[str]:
    sheet = load_workbook(path).worksheets[0]
    return [str(c.value) for c in next(sheet.iter_rows(min_row=1, max_row=1)) if c.value is not None]


def fill(template: Path, target: Path, rows: list[dict[str, str]], fields: dict[str, str]) -> list[str]:
    """Write `rows` (field name -> value) under the template's header row; returns the header row.
    `fields` maps each field's name to its label (the header, the required ones marked *)."""
    book = load_workbook(template)
    sheet = book.worksheets[0]
    headers = template_columns(template)
    by_label = {header_of(h): i for i, h in enumerate(headers)}
    for r, row in enumerate(rows, start=2):
        for name, value in row.items():
            sheet.cell(row=r, column=by_label[header_of(fields[name])] + 1, value=value)
    book.save(target)
    return headers


def lead_fields(desk: Desk, api: ApiClient) -> dict[str, str]:
    entities = desk.run(imports_api.entities(api))
    leads = next(e for e in entities if e.entity == "leads")
    return {f.name: f.label for f in leads.fields}


def open_history(desk: Desk, qtbot: QtBot) -> tuple[ApiClient, Any, DataManagementPage]:
    api, panel, page = open_panel(desk, qtbot, "data_management")
    assert isinstance(page, DataManagementPage) and page is panel.data_management_page
    return api, panel, page


GOOD = [
    {"person_name": "Ioana Radu", "email": "ioana.radu@example.com", "company": "Radu Design"},
    {"person_name": "Mihai Stan", "email": "mihai.stan@example.com", "company": "Stan Logistics"},
    {"person_name": "Elena Pop", "email": "elena.pop@example.com", "company": "Pop & Co"},
]
BAD = {"person_name": "Dan Bad", "email": "dan.bad@@example", "company": "Bad Mail"}
DUPLICATE = {"person_name": "Ana Again", "email": "ANA.EXISTING@example.com", "company": "Known"}


def test_template_fill_upload_dry_run_error_report_import_and_revert(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api, panel, page = open_history(desk, qtbot)
    make_leads(desk, api, [{"person_name": "Ana Existing", "email": "ana.existing@example.com"}])
    assert page.table.empty.title.text() == "No imports yet"

    # New import…: the wizard opens on its first step; leads come first.
    click(qtbot, page.new_button)
    wizard = visible(ImportWizard)
    assert wizard.stack.currentWidget() is wizard.file_step
    assert wizard.steps.text() == "<b>1. File</b> › 2. Columns › 3. Dry run › 4. Import"
    assert wizard.entity() == "leads"
    quiet(desk, wizard)
    assert "required" in wizard.fields_note.text()

    # Download template…: saved where the person says; a header row, the required marked *.
    click(qtbot, wizard.template_button)
    template = tmp_path / "leads-template.xlsx"
    choose_file(qtbot, "importSaveDialog", template)
    quiet(desk, wizard)
    assert wizard.saved_to == str(template) and template.exists()
    headers = template_columns(template)
    fields = lead_fields(desk, api)
    assert any(h.endswith("*") for h in headers), headers
    assert len(load_workbook(template).worksheets) >= 2  # the Help sheet

    # Fill it: three good rows, one with a bad e-mail, one duplicate of an existing lead.
    upload = tmp_path / "fair.xlsx"
    fill(template, upload, [*GOOD, BAD, DUPLICATE], fields)

    # Choose file…: uploaded; the columns step shows each column mapped to its field.
    click(qtbot, wizard.file_button)
    choose_file(qtbot, "importOpenDialog", upload)
    until(desk, lambda: wizard.stack.currentWidget() is wizard.columns_step, "no columns step")
    assert "5 rows" in wizard.columns_title.text()
    mapping = wizard.mapping()
    assert set(mapping) == set(headers)
    for header in headers:
        assert mapping[header] is not None and header_of(fields[str(mapping[header])]) == header_of(header), (
            header,
            mapping[header],
        )
    assert wizard.mapping_table.rowCount() == len(headers)
    assert not any(note.text() for note in wizard._notes)  # no Duplicate Header
    assert wizard.duplicate_mode.currentData() == "skip"

    # Dry run: the counts, the first rows as they will be saved, the error named as the server names it.
    click(qtbot, wizard.dry_run_button)
    until(desk, lambda: wizard.stack.currentWidget() is wizard.check_step, "no dry run")
    check = wizard.check
    assert check is not None
    assert (check.to_create, check.to_update, check.to_skip, check.in_error) == (3, 0, 1, 1)
    assert wizard.counts_label.text() == "To create: 3 · To update: 0 · To skip: 1 · In error: 1"
    assert "<b>3. Dry run</b>" in wizard.steps.text()
    assert wizard.preview_table.rowCount() >= 3
    shown = [
        wizard.preview_table.item(r, c).text()
        for r in range(wizard.preview_table.rowCount())
        for c in range(wizard.preview_table.columnCount())
    ]
    assert "Ioana Radu" in shown and "ioana.radu@example.com" in shown
    assert wizard.errors_table.rowCount() == 1
    error = [wizard.errors_table.item(0, c).text() for c in range(4)]
    assert error[0] == "5"  # the sheet's row: the header is row 1, BAD is the 4th data row
    assert error[1] == header_of(fields["email"]) or header_of(error[1]) == header_of(fields["email"]), error
    assert error[2] == "Invalid Email Format"
    assert "dan.bad@@example" in error[3]
    # Nothing was written by the dry run.
    leads = LeadList(Session(api, desk.run(auth.me(api))), page_size=100)
    qtbot.addWidget(leads)
    leads.resize(1100, 500)
    leads.show()
    desk.wait_until(lambda: leads.model.total is not None and not leads.model.loading)
    assert names(leads) == ["Ana Existing"]

    # Download error report…: exactly the failed row as it was, plus an Error column.
    click(qtbot, wizard.report_button)
    report = tmp_path / "fair-errors.xlsx"
    choose_file(qtbot, "importSaveDialog", report)
    quiet(desk, wizard)
    assert report.exists()
    rows = [[c for c in row] for row in load_workbook(report).worksheets[0].iter_rows(values_only=True)]
    assert len(rows) == 2, rows  # the header and the one failed row
    assert [header_of(str(h)) for h in rows[0][: len(headers)]] == [header_of(h) for h in headers]
    assert str(rows[0][len(headers)]).startswith("Error"), rows[0]
    failed = dict(zip((header_of(h) for h in headers), rows[1][: len(headers)], strict=True))
    for name, value in BAD.items():
        assert failed[header_of(fields[name])] == value
    assert "Invalid Email Format" in str(rows[1][len(headers)])

    # Fix the file (the e-mail), upload it again, dry run: no error left.
    fixed = tmp_path / "fair-fixed.xlsx"
    fill(template, fixed, [*GOOD, {**BAD, "email": "dan.bad@example.com"}, DUPLICATE], fields)
    click(qtbot, wizard.back_to_columns)
    click(qtbot, wizard.back_to_file)
    click(qtbot, wizard.file_button)
    choose_file(qtbot, "importOpenDialog", fixed)
    desk.wait_until(
        lambda: wizard.stack.currentWidget() is wizard.columns_step and "fair-fixed" in wizard.columns_title.text(),
        message="the fixed file was not read",
    )
    click(qtbot, wizard.dry_run_button)
    desk.wait_until(
        lambda: (
            wizard.stack.currentWidget() is wizard.check_step
            and wizard.check is not None
            and wizard.check.item.file_name == "fair-fixed.xlsx"
        ),
        message="no dry run of the fixed file",
    )
    assert wizard.counts_label.text() == "To create: 4 · To update: 0 · To skip: 1 · In error: 0"
    assert wizard.errors_table.rowCount() == 0
    assert not wizard.report_button.isEnabled()
    assert not wizard.same_file.isVisible()

    # Import: the progress bar moves to the end; the counts are said.
    seen: list[int] = []
    wizard.bar.valueChanged.connect(seen.append)
    click(qtbot, wizard.import_button)
    until(desk, lambda: wizard.stack.currentWidget() is wizard.run_step, "the import did not start")
    until(
        desk,
        lambda: wizard.item is not None and wizard.item.status is ImportStatus.done,
        "the import did not finish",
        timeout=60,
    )
    assert wizard.bar.value() == wizard.bar.maximum() == 5
    assert seen and seen[-1] == 5
    assert wizard.run_status.text() == "Done: 4 created, 0 updated, 1 skipped, 0 in error."
    assert not wizard.cancel_button.isVisible()

    # The new leads are in the list (it reloads on the import's end).
    expected = sorted(["Ana Existing", *(g["person_name"] for g in GOOD), "Dan Bad"])
    desk.wait_until(lambda: sorted(names(leads)) == expected, message=f"the list shows {names(leads)}")

    # The history: who, what, the counts, Done.
    click(qtbot, wizard.close_button)
    page.reload()
    settle(desk, panel)
    item = page.model.rows()[0]
    assert item.file_name == "fair-fixed.xlsx" and item.status is ImportStatus.done
    cells = [page.model.index(0, c).data() for c in range(page.model.columnCount())]
    assert cells[2] == "fair-fixed.xlsx"
    assert cells[3] == "Leads"
    assert cells[4:6] == ["5", "4 created, 1 skipped"]
    assert cells[6] == "Done"

    # Revert import…: asked first; the leads it created are gone from the list.
    page.table.view.selectRow(0)
    click(qtbot, page.revert_button)
    answer(qtbot, "importRevertQuestion", "Revert import")
    until(desk, lambda: "reverted" in page.notice_text.text(), "no word of the revert", timeout=30)
    assert "4 records it created archived" in page.notice_text.text()
    desk.wait_until(lambda: names(leads) == ["Ana Existing"], message=f"the list still shows {names(leads)}")
    settle(desk, panel)
    assert page.model.rows()[0].status is ImportStatus.reverted
    assert page.model.index(0, 6).data() == "Reverted"
    assert not page.revert_button.isEnabled()


def start_wizard(desk: Desk, qtbot: QtBot, page: DataManagementPage, path: Path) -> ImportWizard:
    """New import… on leads, the file chosen; waits for the columns step (or the sheet question)."""
    click(qtbot, page.new_button)
    wizard = visible(ImportWizard)
    quiet(desk, wizard)
    click(qtbot, wizard.file_button)
    choose_file(qtbot, "importOpenDialog", path)
    desk.wait_until(
        lambda: wizard.stack.currentWidget() is wizard.columns_step or wizard.sheet_box.isVisible(),
        message="the file was not read",
    )
    return wizard


def test_two_columns_on_one_field_say_duplicate_header_until_one_wins(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    _api, _panel, page = open_history(desk, qtbot)
    path = tmp_path / "two-mails.csv"
    path.write_text(
        "Full Name,E-mail,Email address\nIoana Radu,ioana@example.com,ioana.radu@example.com\n", encoding="utf-8"
    )
    wizard = start_wizard(desk, qtbot, page, path)
    assert wizard.stack.currentWidget() is wizard.columns_step
    # One e-mail column is suggested for the e-mail field; the person puts the other there too:
    # both say "Duplicate Header".
    assert wizard.mapping()["E-mail"] == "email"
    assert [note.text() for note in wizard._notes] == ["", "", ""]
    second = wizard._field_boxes[2]
    second.setCurrentIndex(second.findData("email"))
    assert wizard.mapping()["Email address"] == "email"
    notes = [note.text() for note in wizard._notes]
    assert notes[0] == ""
    assert notes[1].startswith("Duplicate Header") and "“Email address”" in notes[1]
    assert notes[2].startswith("Duplicate Header") and "“E-mail”" in notes[2]
    assert wizard._wins[1].isEnabled() and wizard._wins[2].isEnabled() and not wizard._wins[0].isEnabled()
    # Dry run is refused until one wins.
    click(qtbot, wizard.dry_run_button)
    assert wizard.notice.isVisible() and wizard.notice_text.text().startswith("Duplicate Header")
    assert wizard.stack.currentWidget() is wizard.columns_step
    # Tick "Email address" as the winner: the other is ignored; the dry run saves that one.
    tick = wizard._wins[2]
    qtbot.mouseClick(tick, Qt.MouseButton.LeftButton, pos=QPoint(8, tick.height() // 2))  # on its box
    assert wizard.winners() == {"email": "Email address"}
    assert wizard._notes[1].text() == "Duplicate Header: ignored, “Email address” wins."
    assert wizard._notes[2].text().startswith("Duplicate Header: this column wins")
    click(qtbot, wizard.dry_run_button)
    until(desk, lambda: wizard.stack.currentWidget() is wizard.check_step, "no dry run")
    assert wizard.check is not None and wizard.check.to_create == 1 and wizard.check.in_error == 0
    assert wizard.check.preview[0].get("email") == "ioana.radu@example.com"
    # Or skip one of the two instead: the notes go away.
    click(qtbot, wizard.back_to_columns)
    wizard._field_boxes[1].setCurrentIndex(0)  # "— Skip this column —"
    assert [note.text() for note in wizard._notes] == ["", "", ""]
    assert wizard.mapping()["E-mail"] is None


def test_a_workbook_with_several_sheets_asks_which(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    _api, _panel, page = open_history(desk, qtbot)
    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "Notes"
    notes.append(["Collected at the spring fair"])
    people = book.create_sheet("People")
    people.append(["Full Name", "E-mail", "Company Name"])
    people.append(["Ioana Radu", "ioana@example.com", "Radu Design"])
    people.append(["Mihai Stan", "mihai@example.com", "Stan Logistics"])
    path = tmp_path / "fair.xlsx"
    book.save(path)
    wizard = start_wizard(desk, qtbot, page, path)
    assert wizard.sheet_box.isVisible()
    assert [wizard.sheet_choice.itemText(i) for i in range(wizard.sheet_choice.count())] == ["Notes", "People"]
    wizard.sheet_choice.setCurrentIndex(1)
    click(qtbot, wizard.sheet_button)
    until(desk, lambda: wizard.stack.currentWidget() is wizard.columns_step, "the sheet was not read")
    assert "sheet People" in wizard.columns_title.text() and "2 rows" in wizard.columns_title.text()
    assert wizard.mapping() == {"Full Name": "person_name", "E-mail": "email", "Company Name": "company"}


def csv_of(rows: int, start: int = 0) -> str:
    lines = ["Full Name,E-mail"]
    lines += [f"Person {i:05},person{i:05}@example.com" for i in range(start, start + rows)]
    return "\n".join(lines) + "\n"


def import_through(desk: Desk, qtbot: QtBot, wizard: ImportWizard) -> None:
    click(qtbot, wizard.dry_run_button)
    until(desk, lambda: wizard.stack.currentWidget() is wizard.check_step, "no dry run", timeout=30)
    click(qtbot, wizard.import_button)


def test_the_same_file_again_warns_and_asks(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    _api, panel, page = open_history(desk, qtbot)
    path = tmp_path / "again.csv"
    path.write_text(csv_of(3), encoding="utf-8")
    wizard = start_wizard(desk, qtbot, page, path)
    import_through(desk, qtbot, wizard)
    until(
        desk,
        lambda: wizard.item is not None and wizard.item.status is ImportStatus.done,
        "the first import did not finish",
        timeout=60,
    )
    click(qtbot, wizard.close_button)
    gone(desk, wizard)

    # The same file again: the check step says when and by whom it was imported; Import asks first.
    again = start_wizard(desk, qtbot, page, path)
    assert "as you mapped these headers last time" in again.columns_title.text()  # remembered
    again.duplicate_mode.setCurrentIndex(again.duplicate_mode.findData("create"))  # "Create anyway"
    click(qtbot, again.dry_run_button)
    until(desk, lambda: again.stack.currentWidget() is again.check_step, "no dry run")
    assert again.same_file.isVisible()
    assert again.same_file_text.text().startswith("This file was imported on "), again.same_file_text.text()
    click(qtbot, again.import_button)
    box = visible(QMessageBox, "importSameFileQuestion")
    assert "This file was imported on " in box.text()
    answer(qtbot, "importSameFileQuestion", "Cancel")
    assert again.stack.currentWidget() is again.check_step  # nothing started
    click(qtbot, again.import_button)
    answer(qtbot, "importSameFileQuestion", "Import again")
    until(
        desk,
        lambda: again.item is not None and again.item.status is ImportStatus.done,
        "the second import did not finish",
        timeout=60,
    )
    page.reload()
    settle(desk, panel)
    assert [i.status for i in page.model.rows()[:2]] == [ImportStatus.done, ImportStatus.done]


def test_over_a_thousand_rows_offers_a_backup_first(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api, _panel, page = open_history(desk, qtbot)
    folder = tmp_path / "backups"
    folder.mkdir()
    desk.run(admin_api.save_settings(api, {"backup.folder": str(folder)}))
    path = tmp_path / "big.csv"
    path.write_text(csv_of(1001), encoding="utf-8")
    wizard = start_wizard(desk, qtbot, page, path)
    import_through(desk, qtbot, wizard)
    box = visible(QMessageBox, "importBackupQuestion")
    assert "1,001 rows" in box.text()
    answer(qtbot, "importBackupQuestion", "Back up first")
    until(
        desk,
        lambda: wizard.backup is not None and wizard.backup.status != "running",
        "the backup did not end",
        timeout=120,
    )
    assert wizard.backup is not None and wizard.backup.status == "succeeded", wizard.backup
    assert any(folder.iterdir())  # the backup's file
    until(
        desk,
        lambda: wizard.item is not None and wizard.item.status is ImportStatus.done,
        "the import after the backup did not finish",
        timeout=120,
    )
    assert wizard.item is not None and wizard.item.created == 1001


def test_the_lists_offer_import_to_roles_that_may(desk: Desk, qtbot: QtBot) -> None:
    from crm_desktop.views.clients.list import ClientsPage
    from crm_desktop.views.products.list import ProductsPage

    admin = desk.signed_in_api()
    session = Session(admin, desk.run(auth.me(admin)))
    leads = LeadList(session, page_size=50)
    qtbot.addWidget(leads)
    leads.show()
    assert leads.import_button.isVisible()
    click(qtbot, leads.import_button)
    wizard = visible(ImportWizard)
    assert wizard.entity() == "leads"
    wizard.close()
    for page_class, entity in ((ClientsPage, "clients"), (ProductsPage, "products")):
        page = page_class(session)
        qtbot.addWidget(page)
        page.show()
        assert page.import_button.isVisible(), entity
        click(qtbot, page.import_button)
        wizard = visible(ImportWizard)
        assert wizard.entity() == entity
        wizard.close()
        gone(desk, wizard)
        page.close()

    # A salesperson's role has no `import`: no door.
    seller = desk.signed_in_api("sam@example.com", role="Salesperson")
    theirs = LeadList(Session(seller, desk.run(auth.me(seller))), page_size=50)
    qtbot.addWidget(theirs)
    theirs.show()
    assert not theirs.import_button.isVisible()
    assert theirs.import_file() is None


@pytest.mark.parametrize("server", [False], indirect=True)
def test_close_while_running_come_back_from_the_history_and_cancel(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    """No job worker: the import stays running at 0 %, as a long one would between two chunks."""
    _api, panel, page = open_history(desk, qtbot)
    path = tmp_path / "long.csv"
    path.write_text(csv_of(20), encoding="utf-8")
    wizard = start_wizard(desk, qtbot, page, path)
    import_through(desk, qtbot, wizard)
    until(desk, lambda: wizard.stack.currentWidget() is wizard.run_step, "the import did not start")
    assert wizard.run_status.text().startswith("Importing… 0 of 20 rows")
    assert wizard.cancel_button.isVisible()
    # Close the window: the import goes on; the history shows it running.
    click(qtbot, wizard.close_button)
    gone(desk, wizard)
    page.reload()
    settle(desk, panel)
    assert page.model.index(0, 6).data() == "Importing… 0%"
    assert page.poll.isActive()  # followed while it runs
    # Show progress: the wizard again, on that import; Cancel stops it.
    page.table.view.selectRow(0)
    click(qtbot, page.follow_button)
    again = visible(ImportWizard)
    assert again.stack.currentWidget() is again.run_step
    assert again.run_status.text().startswith("Importing… 0 of 20 rows")
    click(qtbot, again.cancel_button)
    until(
        desk,
        lambda: again.item is not None and again.item.status is ImportStatus.cancelled,
        "the import was not cancelled",
    )
    assert again.run_status.text().startswith("Cancelled after 0 of 20 rows")
    assert not again.cancel_button.isVisible()
    until(desk, lambda: page.model.index(0, 6).data() == "Cancelled", "the history does not say Cancelled")


def test_fill_empty_fields_of_a_match_and_a_chosen_owner(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api, _panel, page = open_history(desk, qtbot)
    sam = desk.create_user("sam@example.com", full_name="Sam Seller")
    [known] = make_leads(desk, api, [{"person_name": "Ana Existing", "email": "ana@example.com"}])
    path = tmp_path / "update.csv"
    path.write_text(
        "Full Name,E-mail,Company Name\nAna Existing,ANA@example.com,Known Co\nNew Person,new@example.com,New Co\n",
        encoding="utf-8",
    )
    wizard = start_wizard(desk, qtbot, page, path)
    # A matching row fills the record's empty fields; new records go to Sam, not to the rules.
    wizard.duplicate_mode.setCurrentIndex(wizard.duplicate_mode.findData("fill_empty"))
    assert wizard.duplicate_mode.currentText() == "Update: fill empty fields only"
    wizard.owner_mode.setCurrentIndex(wizard.owner_mode.findData("person"))
    assert wizard.owner.isEnabled()
    click(qtbot, wizard.dry_run_button)  # no person chosen yet: said, nothing sent
    assert wizard.notice_text.text().startswith("Choose the person who owns the new records")
    qtbot.keyClicks(wizard.owner, "Sam")
    until(desk, lambda: wizard.owner.matches.rowCount() == 1, "no suggestion for Sam")
    wizard.owner.choose(0)
    click(qtbot, wizard.dry_run_button)
    until(desk, lambda: wizard.stack.currentWidget() is wizard.check_step, "no dry run")
    assert wizard.counts_label.text() == "To create: 1 · To update: 1 · To skip: 0 · In error: 0"
    click(qtbot, wizard.import_button)
    until(
        desk,
        lambda: wizard.item is not None and wizard.item.status is ImportStatus.done,
        "the import did not finish",
        timeout=60,
    )
    assert wizard.item is not None and wizard.item.owner_id == sam
    assert wizard.run_status.text() == "Done: 1 created, 1 updated, 0 skipped, 0 in error."
    assert desk.run(api.get(f"/api/leads/{known['id']}"))["company"] == "Known Co"
    found = desk.run(api.get("/api/leads", q="new@example.com"))["items"]
    assert [(lead["person_name"], lead["owner_id"]) for lead in found] == [("New Person", sam)]


def test_history_error_report_and_revert_leaves_a_lead_edited_since(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api, panel, page = open_history(desk, qtbot)
    path = tmp_path / "mixed.csv"
    path.write_text(
        "Full Name,E-mail\nKeep Me,keep@example.com\nGo Away,go@example.com\n,nobody@example.com\n", encoding="utf-8"
    )
    wizard = start_wizard(desk, qtbot, page, path)
    import_through(desk, qtbot, wizard)  # the row without a name is in error; the others go in
    until(
        desk,
        lambda: wizard.item is not None and wizard.item.status is ImportStatus.done,
        "the import did not finish",
        timeout=60,
    )
    assert wizard.run_status.text() == "Done: 2 created, 0 updated, 0 skipped, 1 in error."
    assert wizard.run_report_button.isVisible()
    click(qtbot, wizard.close_button)
    gone(desk, wizard)

    # The history's error report: the one failed row, as it was, with its error.
    page.reload()
    settle(desk, panel)
    page.table.view.selectRow(0)
    click(qtbot, page.report_button)
    report = tmp_path / "mixed-errors.xlsx"
    choose_file(qtbot, "importSaveDialog", report)
    until(desk, lambda: page.notice_text.text() == f"Error report saved to {report}.", "the report was not saved")
    rows = list(load_workbook(report).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][1] == "nobody@example.com", rows
    assert "Required Field Missing" in str(rows[1][2])

    # Someone edits one of the new leads; the revert archives the other and says it left this one.
    found = desk.run(api.get("/api/leads", q="keep@example.com"))["items"]
    [keep] = found
    desk.run(api.patch(f"/api/leads/{keep['id']}", {"company": "Edited Since", "version": keep["version"]}))
    page.table.view.selectRow(0)
    click(qtbot, page.revert_button)
    answer(qtbot, "importRevertQuestion", "Revert import")
    until(desk, lambda: "reverted" in page.notice_text.text(), "no word of the revert", timeout=30)
    said_text = page.notice_text.text()
    assert "1 record it created archived" in said_text, said_text
    assert "Left alone, because they changed since: Keep Me (" in said_text, said_text
    left = desk.run(api.get("/api/leads", q="example.com"))["items"]
    assert [lead["person_name"] for lead in left] == ["Keep Me"]


def test_a_file_that_is_not_a_spreadsheet_is_refused_before_it_is_sent(
    desk: Desk, qtbot: QtBot, tmp_path: Path
) -> None:
    _api, panel, page = open_history(desk, qtbot)
    notes = tmp_path / "notes.txt"
    notes.write_text("Full Name\nIoana Radu\n", encoding="utf-8")
    click(qtbot, page.new_button)
    wizard = visible(ImportWizard)
    quiet(desk, wizard)
    click(qtbot, wizard.file_button)
    choose_file(qtbot, "importOpenDialog", notes)
    quiet(desk, wizard)
    assert wizard.notice.isVisible()
    assert wizard.notice_text.text() == (
        "notes.txt is not a spreadsheet the import reads: choose an .xlsx, .xls, .ods or .csv file."
    )
    assert wizard.stack.currentWidget() is wizard.file_step and wizard.item is None
    page.reload()
    settle(desk, panel)
    assert page.model.rows() == []  # nothing was sent


def test_each_entity_has_its_template(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api, _panel, page = open_history(desk, qtbot)
    entities = {e.entity: e for e in desk.run(imports_api.entities(api))}
    click(qtbot, page.new_button)
    wizard = visible(ImportWizard)
    quiet(desk, wizard)
    offered = [wizard.entity_box.itemData(i) for i in range(wizard.entity_box.count())]
    assert offered == ["leads", "clients", "contacts", "products"]  # an admin may import them all
    for entity in offered[1:]:
        wizard.entity_box.setCurrentIndex(offered.index(entity))
        quiet(desk, wizard)
        required = [f.label for f in entities[entity].fields if f.required]
        assert wizard.fields_note.text().startswith(f"{len(entities[entity].fields)} columns; required: ")
        assert all(label in wizard.fields_note.text() for label in required)
        click(qtbot, wizard.template_button)
        target = tmp_path / f"{entity}.xlsx"
        choose_file(qtbot, "importSaveDialog", target)
        quiet(desk, wizard)
        assert wizard.saved_to == str(target)
        headers = [header_of(h) for h in template_columns(target)]
        assert headers == [f.label for f in entities[entity].fields], entity

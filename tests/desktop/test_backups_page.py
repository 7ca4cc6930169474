"""Admin > Backup & Restore, driven as an admin would: run a backup and watch it go, download it
(its SHA-256 checked against the row), change the retention settings, test-restore it, open
Restore… (in place refused until the company's name is typed), and the red banner of a failed
backup. Against the real server with its job worker on; the backups really run with the embedded
build's pg_dump and pg_restore."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import shiboken6
from psycopg import sql
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog, QRadioButton
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from crm_desktop import operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.admin import AdminPanel
from crm_desktop.views.admin.backups import BackupsPage, RestoreDialog
from crm_desktop.views.main_window import MainWindow
from crm_desktop.views.restoring import RESTORED_TEXT
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import open_panel, settle, the_dialog
from tests.support import LiveServer


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The app with its job worker on: backups and test restores run as jobs."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


def open_page(desk: Desk, qtbot: QtBot, folder: Path) -> tuple[Session, BackupsPage]:
    """An admin's panel on Backup & Restore, with live events flowing as in the app, and the
    backup folder set to `folder` through the page's own settings form."""
    api = desk.signed_in_api()
    session = Session(api, desk.run(auth.me(api)))
    session.start()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    _, panel, page = open_panel(desk, qtbot, "backups", api=api)
    assert isinstance(page, BackupsPage) and page is panel.backups_page
    page.folder.clear()
    qtbot.keyClicks(page.folder, str(folder))
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    assert page.stored["backup.folder"] == str(folder)
    return session, page


def click_choice(qtbot: QtBot, choice: QRadioButton) -> None:
    """Click a choice on its round button (the widget is wider than its words)."""
    qtbot.mouseClick(choice, Qt.MouseButton.LeftButton, pos=QPoint(8, choice.height() // 2))


def run_one(desk: Desk, qtbot: QtBot, page: BackupsPage) -> list[int]:
    """Click Run backup now; the progress shows, then the finished row. Returns the progress seen."""
    seen: list[int] = []
    page.progress_shown.connect(seen.append)
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: bool(seen), message="the backup did not start")
    desk.wait_until(
        lambda: not page.watching and operations.pending() == 0 and not page.is_busy(),
        timeout=120,
        message="the backup did not end",
    )
    return seen


def test_run_download_settings_test_restore_and_restore_dialog(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    _session, page = open_page(desk, qtbot, folder)

    # Nothing yet: a clear empty state, and nothing to download or restore.
    assert page.table.empty.title.text() == "No backups yet"
    assert page.table.empty.isVisible()
    assert not page.download_button.isEnabled() and not page.restore_button.isEnabled()

    # Run backup now: the progress box shows while it runs, then the row says it is good.
    assert page.run_button.isEnabled()
    seen = run_one(desk, qtbot, page)
    assert seen, "the progress bar never moved"
    assert not page.run_box.isVisible() and page.run_button.isEnabled()
    assert "Backup done" in page.notice_text.text()
    rows = page.model.rows()
    assert len(rows) == 1
    backup = rows[0]
    assert backup.status == "succeeded" and backup.verify_ok and backup.sha256 and backup.size_bytes
    cells = [page.model.index(0, c).data() for c in range(page.model.columnCount())]
    assert cells[1] == "Manual"
    assert cells[2].endswith(("KB", "MB")), cells[2]
    assert cells[3] == "Yes"  # read back whole
    assert cells[4] == "Not yet"
    assert cells[6] == "Good"
    assert not page.alert.isVisible()
    assert (folder / str(backup.file_name)).exists()

    # Download…: save it where the admin says; the file is the backup, byte for byte.
    page.table.view.selectRow(0)
    assert page.download_button.isEnabled()
    qtbot.mouseClick(page.download_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(QFileDialog)
    target = tmp_path / "copy.dump"
    dialog.selectFile(str(target))
    dialog.accept()
    desk.wait_until(lambda: page.progress_dialog is None and not page.is_busy(), message="the download did not end")
    assert target.exists() and not (tmp_path / "copy.dump.part").exists()
    assert hashlib.sha256(target.read_bytes()).hexdigest() == backup.sha256
    assert "SHA-256 matches" in page.notice_text.text()

    # The retention settings: typed and saved, the server keeps them.
    for spin, value in ((page.keep_daily, 3), (page.keep_weekly, 2), (page.keep_monthly, 1)):
        spin.selectAll()
        qtbot.keyClicks(spin.lineEdit(), str(value))
    page.hour.setCurrentIndex(page.hour.findData(4))  # "at 04:00"
    assert page.dirty_note.text() == "4 unsaved changes"
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: not page.pending() and not page.is_busy(), message="the settings did not save")
    stored = desk.run(admin_api.get_settings(page.api)).values
    assert (stored["backup.keep_daily"], stored["backup.keep_weekly"], stored["backup.keep_monthly"]) == (3, 2, 1)
    assert stored["backup.hour"] == 4

    # Test restore: loaded into a scratch database, row counts compared; the result is shown.
    page.table.view.selectRow(0)
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    desk.wait_until(
        lambda: "Test restore of the backup" in page.notice_text.text(),
        timeout=120,
        message="the test restore did not report",
    )
    assert "passed" in page.notice_text.text(), page.notice_text.text()
    page.table.view.selectRow(0)
    assert page.model.index(0, 4).data().startswith("Yes, ")

    # Restore…: in place is refused until the company's name is typed exactly.
    page.table.view.selectRow(0)
    qtbot.mouseClick(page.restore_button, Qt.MouseButton.LeftButton)
    restore = the_dialog(RestoreDialog)
    assert restore.new_choice.isChecked() and restore.restore_button.isEnabled()
    click_choice(qtbot, restore.in_place_choice)
    assert restore.mode == "in_place"
    assert not restore.restore_button.isEnabled()
    assert "My Company" in restore.confirm_label.text()
    qtbot.keyClicks(restore.confirm, "My Compan")
    assert not restore.restore_button.isEnabled()
    qtbot.keyClicks(restore.confirm, "y")
    assert restore.restore_button.isEnabled() and restore.restore_button.text() == "Replace the live database"
    click_choice(qtbot, restore.new_choice)
    assert restore.restore_button.text() == "Restore" and restore.restore_button.isEnabled()
    restore.new_name.clear()
    assert not restore.restore_button.isEnabled()
    restore.reject()


def test_a_failed_backup_shows_red_with_its_reason(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    """The folder is a file, not a folder: the backup fails, the row says why, the page goes red."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    _session, page = open_page(desk, qtbot, blocker / "backups")
    run_one(desk, qtbot, page)
    rows = page.model.rows()
    assert rows and rows[0].status == "failed"
    status = page.model.index(0, 6).data()
    assert status.startswith("Failed: ") and len(status) > len("Failed: ") + 5, status
    assert "The backup failed" in page.notice_text.text()
    desk.wait_until(lambda: page.alert.isVisible(), message="no red banner after a failed backup")
    assert page.alert_text.text()


def test_restore_into_a_new_database(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    _session, page = open_page(desk, qtbot, folder)
    run_one(desk, qtbot, page)
    page.table.view.selectRow(0)
    qtbot.mouseClick(page.restore_button, Qt.MouseButton.LeftButton)
    restore = the_dialog(RestoreDialog)
    name = f"look_{tmp_path.name.lower().replace('-', '_')}"[:60]
    restore.new_name.clear()
    qtbot.keyClicks(restore.new_name, name)
    try:
        qtbot.mouseClick(restore.restore_button, Qt.MouseButton.LeftButton)
        desk.wait_until(lambda: gone(restore), timeout=120, message="the restore did not finish")
        said = page.notice_text.text()
        assert said.startswith(f"Restored into the new database {name} ("), said
        assert "The row counts equal those recorded at backup time." in said
        assert "The live data were not touched." in said
    finally:
        drop_database(desk, name)


def gone(dialog: RestoreDialog) -> bool:
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


def drop_database(desk: Desk, name: str) -> None:
    url = desk.server.database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_in_place_restore_while_connected_shows_the_restored_data(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    """A user added after the backup is gone from the open Users page once the backup is restored
    in place; the desktop saw the server restoring and reloaded by itself."""
    folder = tmp_path / "backups"
    folder.mkdir()
    api = desk.signed_in_api()
    session = Session(api, desk.run(auth.me(api)))
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    session.start()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    window.open_module("admin")
    panel = window.findChild(AdminPanel)
    assert panel is not None
    page = panel.show_page("backups")
    assert isinstance(page, BackupsPage)
    settle(desk, panel)
    qtbot.keyClicks(page.folder, str(folder))
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    run_one(desk, qtbot, page)
    assert page.model.rows()[0].status == "succeeded"

    desk.create_user("late@example.com", full_name="Late Comer")  # after the backup
    users = panel.users_page
    panel.show_page("users")
    users.reload()
    settle(desk, panel)
    assert "late@example.com" in [u.email for u in users.model.rows()]

    restoring: list[bool] = []
    window.restore_watcher.restoring_changed.connect(restoring.append)
    panel.show_page("backups")
    page.table.view.selectRow(0)
    qtbot.mouseClick(page.restore_button, Qt.MouseButton.LeftButton)
    restore = the_dialog(RestoreDialog)
    click_choice(qtbot, restore.in_place_choice)
    qtbot.keyClicks(restore.confirm, "my company")  # spaces and case aside, as the server compares
    qtbot.mouseClick(restore.restore_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: gone(restore), timeout=180, message="the restore did not finish")
    assert page.notice_text.text().startswith("Restored in place of the live data"), page.notice_text.text()
    desk.wait_until(lambda: restoring == [True, False], message=f"the banner did not come and go: {restoring}")
    assert not window.restoring_banner.isVisible()
    desk.wait_until(lambda: window.notice.label.text() == RESTORED_TEXT, message="no word that it reloaded")

    panel.show_page("users")
    desk.wait_until(
        lambda: not users.model.loading and "late@example.com" not in [u.email for u in users.model.rows()],
        timeout=30,
        message="the Users page still shows a user the restored data do not have",
    )
    assert "admin@example.com" in [u.email for u in users.model.rows()]


def test_an_old_backup_goes_red_and_a_damaged_download_is_not_kept(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    _session, page = open_page(desk, qtbot, folder)
    run_one(desk, qtbot, page)
    assert not page.alert.isVisible()
    backup = page.model.rows()[0]

    async def age() -> None:  # the last good backup was made 30 hours ago
        async with desk.server.session() as session:
            await session.execute(
                text(
                    "UPDATE backups SET started_at = started_at - interval '30 hours',"
                    " finished_at = finished_at - interval '30 hours'"
                )
            )

    desk.on_server(age())
    page.reload()  # F5
    desk.wait_until(lambda: page.alert.isVisible(), message="no red banner for a backup older than 26 hours")
    assert page.alert_text.text() == "The last good backup is 30 hours old."

    # The file on the server no longer matches what was verified: the download says so, keeps nothing.
    with (folder / str(backup.file_name)).open("ab") as file:
        file.write(b"tampered")
    page.table.view.selectRow(0)
    qtbot.mouseClick(page.download_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(QFileDialog)
    target = tmp_path / "copy.dump"
    dialog.selectFile(str(target))
    dialog.accept()
    desk.wait_until(lambda: page.progress_dialog is None and not page.is_busy(), message="the download did not end")
    assert not target.exists() and not (tmp_path / "copy.dump.part").exists()
    assert page.notice_text.text().startswith("The downloaded file (")
    assert "does not match the backup's SHA-256" in page.notice_text.text(), page.notice_text.text()

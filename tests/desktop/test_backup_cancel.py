"""Run backup now, then Cancel: the page says it is cancelling until the job that makes the backup
stops, then the row says Cancelled. The server starts without its job worker, so the backup stays
running until the test starts one (a second server on the same database, as another process)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import Desk
from tests.desktop.test_backups_page import open_page
from tests.support import LiveServer


def test_cancel_a_running_backup(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    _session, page = open_page(desk, qtbot, folder)
    shown: list[int] = []
    page.progress_shown.connect(shown.append)

    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.run_box.isVisible(), message="no progress bar for the running backup")
    assert shown and shown[0] == 0 and page.progress.value() == 0
    assert page.run_label.text().endswith("backing up…")
    assert not page.run_button.isEnabled() and page.cancel_button.isEnabled()
    desk.wait_until(lambda: page.model.rowCount() == 1, message="the running backup is not listed")
    assert page.model.index(0, 6).data() == "Running… 0%"

    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.run_label.text() == "Cancelling…", message="no word that it is cancelling")
    assert not page.cancel_button.isEnabled()

    with LiveServer.run(desk.server.database_url, worker=True):  # the job runs, sees the request, stops
        desk.wait_until(lambda: not page.run_box.isVisible(), timeout=60, message="the backup did not stop")
    assert page.notice_text.text() == "The backup was cancelled; nothing was kept."
    desk.wait_until(lambda: page.model.rowCount() == 1 and page.model.index(0, 6).data() == "Cancelled")
    assert page.run_button.isEnabled()
    assert not list(folder.iterdir())  # no file left behind

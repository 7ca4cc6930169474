"""Backup & Restore: every backup with when, what kind, its size, whether it was read back whole
(verified) and test-restored, how long it is kept and its status in words (a failure with its
cause: "Insufficient storage", "Permission denied"...). "Run backup now" shows a progress bar fed
by the server's live events, with Cancel; the selected backup can be downloaded (its SHA-256
checked against the server's as it arrives), test-restored, or restored: into a new database to
look at, or in place of the live one once the admin types the company's name.

A red banner says so when the last backup failed or the last good one is older than 26 hours.
The backup settings (folder, hour, on/off, how many daily, weekly and monthly backups to keep) are
ordinary server settings (keys ``backup.*``) on the same form base as the Settings page.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import shiboken6
from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api import backups as backups_api
from crm_desktop.api.client import ApiClient, ApiError, Offline
from crm_desktop.operations import handle_error
from crm_desktop.views.admin.common import (
    AdminPage,
    Event,
    ScreenshotState,
    SettingsForm,
    can,
    field,
    in_row,
    plural,
    set_danger,
    size_words,
    title_label,
    tone,
)
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_server.contract.auth import Me
from crm_server.contract.backups import BackupOut, BackupSettings, BackupStatusOut, RestoreIn, RestoreOut

STALE_AFTER = timedelta(hours=26)
POLL_MS = 1000  # while a backup or test restore runs: its row is read again (live events also do)
COMPANY_KEY = "company.name"
KIND_WORDS = {"nightly": "Nightly", "manual": "Manual", "safety": "Safety (before a restore)"}
# Live events (as change-bus areas) that say a backup changed: module "admin", entity "backup".
LIVE_AREAS = backups_api.CHANGED


# --- words ----------------------------------------------------------------------------------------


def status_words(backup: BackupOut) -> str:
    """ "Running… 42%", "Good", "Failed: Insufficient storage (12 MB free, 40 MB needed)"."""
    if backup.status == "running":
        return f"Running… {int(backup.progress * 100)}%"
    if backup.status == "cancelled":
        return "Cancelled"
    if backup.status == "failed":
        return f"Failed: {failure_words(backup)}"
    if backup.removed:
        return "Removed by the retention rules"
    if backup.verify_ok is False:
        return "Damaged: it could not be read back whole"
    if backup.test_restore_ok is False:
        return "Test restore failed"
    return "Good"


def failure_words(backup: BackupOut) -> str:
    """Why a backup failed: "Insufficient storage: …", "Permission denied: …", "Not a directory"."""
    reason = backup.error_message or format.label(backup.error_code or "failed")
    plain = reason.removeprefix("The backup failed: ")  # "failed" says nothing "Failed:" does not
    return plain[:1].upper() + plain[1:]


def status_tone(backup: BackupOut) -> str:
    if backup.status == "running":
        return "accent"
    if backup.status == "failed" or backup.verify_ok is False or backup.test_restore_ok is False:
        return "danger"
    if backup.status == "cancelled" or backup.removed:
        return "muted"
    return "success"


def verified_words(backup: BackupOut) -> str:
    if backup.verify_ok is True:
        return "Yes"
    if backup.verify_ok is False:
        return "Failed"
    return "Checking…" if backup.status == "running" else format.EMPTY


def test_restore_words(backup: BackupOut) -> str:
    if backup.test_restore_ok is True:
        return f"Yes, {format.day(backup.test_restored_at)}"
    if backup.test_restore_ok is False:
        return f"Failed, {format.day(backup.test_restored_at)}"
    return "Not yet" if backup.status == "succeeded" and not backup.removed else format.EMPTY


def kept_words(backup: BackupOut) -> str:
    if backup.removed:
        return "Removed"
    if backup.status != "succeeded":
        return format.EMPTY
    return format.day(backup.kept_until) if backup.kept_until else "For now"


def usable(backup: BackupOut | None) -> bool:
    """A file that is there and was read back whole: it can be downloaded and restored."""
    return (
        backup is not None
        and backup.status == "succeeded"
        and not backup.removed
        and backup.verify_ok is not False
        and bool(backup.file_name)
    )


def describe(backup: BackupOut) -> str:
    """One backup in a sentence, for dialogs: "Manual backup of 05 Dec 2026, 18:13 (12.3 MB)"."""
    size = f" ({size_words(backup.size_bytes)})" if backup.size_bytes is not None else ""
    return (
        f"{KIND_WORDS.get(backup.kind, format.label(backup.kind))} backup of {format.moment(backup.started_at)}{size}"
    )


def test_restore_result(backup: BackupOut) -> str:
    if backup.test_restore_ok:
        detail = f" {backup.test_restore_detail}" if backup.test_restore_detail else ""
        return f"Test restore of the backup of {format.moment(backup.started_at)} passed.{detail}"
    detail = backup.test_restore_detail or "the row counts did not match"
    return f"Test restore of the backup of {format.moment(backup.started_at)} failed: {detail}"


def same_name(typed: str, company: str) -> bool:
    """The company's name as typed, spaces and case aside (as the server compares it)."""
    return " ".join(typed.split()).casefold() == " ".join(company.split()).casefold()


def restore_words(result: RestoreOut) -> str:
    """What a finished restore did, in a sentence or two."""
    counts = f"{plural(result.tables, 'table')}, {result.rows:,} rows"
    match = (
        " The row counts equal those recorded at backup time."
        if result.counts_match
        else " The row counts differ from those recorded at backup time."
        if result.counts_match is False
        else ""
    )
    if result.mode == "new":
        return f"Restored into the new database {result.database} ({counts}).{match} The live data were not touched."
    safety = " A safety backup of the replaced data is in the list." if result.safety_backup_id else ""
    return f"Restored in place of the live data ({counts}).{match}{safety}"


def alert_words(status: BackupStatusOut | None, rows: list[BackupOut], now: datetime | None = None) -> str:
    """The red banner's words, or "" when all is well (or backups are turned off)."""
    now = now or datetime.now(UTC)
    if status is not None:
        if status.state in ("failed", "stale"):
            return status.message
        if status.state != "never":
            return ""
    finished = [b for b in rows if b.status in ("succeeded", "failed")]
    if finished and finished[0].status == "failed":
        last = finished[0]
        return f"The last backup failed ({format.moment(last.started_at)}): {failure_words(last)}"
    good = [b for b in rows if b.status == "succeeded" and b.verify_ok is not False]
    last_good = (good[0].finished_at or good[0].started_at) if good else None
    if last_good is not None and now - last_good > STALE_AFTER:
        return f"The last good backup is from {format.moment(last_good)}, over 26 hours ago."
    return ""


# --- the restore dialog -----------------------------------------------------------------------------


class RestoreDialog(QDialog):
    """Into a new database (a name), or in place of the live one (the company's name, typed)."""

    def __init__(self, page: BackupsPage, backup: BackupOut, company: str) -> None:
        super().__init__(page)
        self.page = page
        self.backup = backup
        self.company = company
        self.setObjectName("restoreDialog")
        self.setWindowTitle("Restore a backup")
        self.setMinimumWidth(520)
        what = QLabel(f"{describe(backup)}.")
        what.setWordWrap(True)
        what.setProperty("role", "heading")

        self.new_choice = QRadioButton("Into a new database, to look at it")
        self.new_choice.setObjectName("restoreNew")
        self.new_choice.setChecked(True)
        stamp = backup.started_at.astimezone(UTC).strftime("%Y%m%d_%H%M")
        self.new_name = QLineEdit(f"crm_restored_{stamp}")
        self.new_name.setObjectName("restoreName")
        self.new_name.setAccessibleName("Name of the new database")
        self.new_name.setMaxLength(63)
        self.new_name.setValidator(QRegularExpressionValidator(QRegularExpression("[a-z_][a-z0-9_]*"), self.new_name))
        new_hint = QLabel("The live database is not touched. Point a test server at the new one to look at it.")
        new_hint.setWordWrap(True)
        new_hint.setProperty("role", "caption")

        self.in_place_choice = QRadioButton("In place of the live database")
        self.in_place_choice.setObjectName("restoreInPlace")
        self.warning = QFrame()
        self.warning.setObjectName("restoreWarning")
        self.warning.setProperty("role", "alert")
        warning_text = QLabel(
            "Everything entered since this backup will be lost: the live data are replaced by the "
            "backup's. A safety backup of the live data is taken first. Everyone connected sees that "
            "the server is restoring; their desktops reconnect and reload when it is done."
        )
        warning_text.setWordWrap(True)
        warning_layout = QVBoxLayout(self.warning)
        warning_layout.setContentsMargins(12, 8, 12, 8)
        warning_layout.addWidget(warning_text)
        self.confirm_label = QLabel(f"To confirm, type the company's name: <b>{company}</b>")
        self.confirm_label.setWordWrap(True)
        self.confirm = QLineEdit()
        self.confirm.setObjectName("restoreConfirm")
        self.confirm.setAccessibleName("The company's name, to confirm")

        choices = QButtonGroup(self)
        choices.addButton(self.new_choice)
        choices.addButton(self.in_place_choice)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.restore_button = QPushButton("Restore")
        self.restore_button.setObjectName("restoreGo")
        self.buttons.addButton(self.restore_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.rejected.connect(self.reject)
        self.restore_button.clicked.connect(self.submit)

        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(what)
        layout.addSpacing(4)
        layout.addWidget(self.new_choice)
        layout.addWidget(field(self.new_name, ""))
        layout.addWidget(new_hint)
        layout.addSpacing(6)
        layout.addWidget(self.in_place_choice)
        layout.addWidget(self.warning)
        layout.addWidget(self.confirm_label)
        layout.addWidget(field(self.confirm, ""))
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        for signal in (self.new_choice.toggled, self.in_place_choice.toggled):
            signal.connect(self._update)
        self.new_name.textChanged.connect(self._update)
        self.confirm.textChanged.connect(self._update)
        self._update()

    @property
    def mode(self) -> str:
        return "in_place" if self.in_place_choice.isChecked() else "new"

    def ready(self) -> bool:
        if self.mode == "new":
            return bool(self.new_name.text().strip())
        return bool(self.company) and same_name(self.confirm.text(), self.company)

    def _update(self, *_: Any) -> None:
        in_place = self.mode == "in_place"
        self.new_name.setEnabled(not in_place)
        for widget in (self.warning, self.confirm_label, self.confirm):
            widget.setEnabled(in_place)
        self.restore_button.setText("Replace the live database" if in_place else "Restore")
        if in_place:
            set_danger(self.restore_button, self.ready())
        else:
            set_danger(self.restore_button, False)
            self.restore_button.setEnabled(self.ready())

    def submit(self) -> None:
        if not self.ready():
            return
        if self.mode == "new":
            body = RestoreIn(mode="new", database=self.new_name.text().strip())
        else:
            body = RestoreIn(mode="in_place", confirm=self.confirm.text().strip())
        self.page.say("Restoring into a new database…" if body.mode == "new" else "The server is restoring the backup…")
        operations.run(
            self,
            backups_api.restore(self.page.api, self.backup.id, body),
            success=self._done,
            changed=backups_api.CHANGED,
            fields={"database": self.new_name, "confirm": self.confirm},
            busy=self.restore_button,
        )

    def _done(self, result: RestoreOut) -> None:
        self.page.say(restore_words(result))
        self.accept()


# --- the page -------------------------------------------------------------------------------------


class BackupsPage(AdminPage, SettingsForm):
    """The status banner, Run backup now with its progress, the backups, the settings below."""

    title = "Backup & Restore"
    areas = LIVE_AREAS | admin_api.SETTINGS
    progress_shown = Signal(int)  # the running backup's percentage, each time the bar shows it

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.init_form(self)
        self.status: BackupStatusOut | None = None
        self.running: BackupOut | None = None
        # Backups being watched until a predicate holds (a run finishing, a test restore's result).
        self.watching: dict[int, tuple[str, datetime | None]] = {}
        self.progress_dialog: QProgressDialog | None = None
        self.cancelling: set[int] = set()  # backups asked to stop, still running
        self.download_task: asyncio.Task[None] | None = None

        self.run_button = QPushButton("Run backup now")
        self.run_button.setObjectName("runBackup")
        self.run_button.setProperty("role", "primary")
        self.run_button.clicked.connect(self.run_now)

        # --- the red banner
        self.alert = QFrame()
        self.alert.setObjectName("backupAlert")
        self.alert.setProperty("role", "alert")
        self.alert_text = QLabel("")
        self.alert_text.setObjectName("backupAlertText")
        self.alert_text.setWordWrap(True)
        self.alert_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        alert_layout = QHBoxLayout(self.alert)
        alert_layout.setContentsMargins(12, 8, 12, 8)
        alert_layout.addWidget(self.alert_text, 1)
        self.alert.setVisible(False)

        # --- the running backup
        self.run_box = QFrame()
        self.run_box.setObjectName("backupRunning")
        self.run_box.setProperty("role", "info")
        self.run_label = QLabel("")
        self.run_label.setObjectName("backupRunningText")
        self.progress = QProgressBar()
        self.progress.setObjectName("backupProgress")
        self.progress.setRange(0, 100)
        self.progress.setAccessibleName("Backup progress")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelBackup")
        self.cancel_button.clicked.connect(self.cancel_run)
        run_layout = QHBoxLayout(self.run_box)
        run_layout.setContentsMargins(12, 8, 12, 8)
        run_layout.addWidget(self.run_label)
        run_layout.addWidget(self.progress, 1)
        run_layout.addWidget(self.cancel_button)
        self.run_box.setVisible(False)

        # --- the list
        self.download_button = QPushButton("Download…")
        self.download_button.setObjectName("downloadBackup")
        self.download_button.clicked.connect(self.ask_download)
        self.test_button = QPushButton("Test restore")
        self.test_button.setObjectName("testRestore")
        self.test_button.setToolTip("Load it into a scratch database, compare the row counts of every table, drop it.")
        self.test_button.clicked.connect(self.test_restore)
        self.restore_button = QPushButton("Restore…")
        self.restore_button.setObjectName("restoreBackup")
        self.restore_button.clicked.connect(self.ask_restore)
        columns: list[Column[BackupOut]] = [
            Column("When", lambda b: format.moment(b.started_at)),
            Column("Kind", lambda b: KIND_WORDS.get(b.kind, format.label(b.kind))),
            Column(
                "Size",
                lambda b: size_words(b.size_bytes) if b.size_bytes is not None else format.EMPTY,
                align_right=True,
            ),
            Column(
                "Verified",
                verified_words,
                color=lambda b: tone("danger") if b.verify_ok is False else None,
                tooltip=lambda b: f"Read back whole {format.moment(b.verified_at)}" if b.verified_at else None,
            ),
            Column(
                "Test-restored",
                test_restore_words,
                color=lambda b: tone("danger") if b.test_restore_ok is False else None,
                tooltip=lambda b: b.test_restore_detail,
            ),
            Column("Kept until", kept_words),
            Column(
                "Status",
                status_words,
                color=lambda b: tone(status_tone(b)),
                tooltip=lambda b: b.error_message or None,
            ),
        ]
        self.model: PagedTableModel[BackupOut] = PagedTableModel(columns, self._fetch, page_size=50)
        self.table = PagedTable(
            self.model,
            "Run backup now makes the first one; the nightly backup runs at the hour set below.",
            icon="server",
            empty_title="No backups yet",
        )
        self.table.setObjectName("backupList")
        self.table.set_noun("backup", "backups")
        for column, width in enumerate((136, 80, 76, 72, 112, 96)):
            self.table.view.setColumnWidth(column, width)
        self.table.view.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        self.model.modelReset.connect(self._selected)
        self.model.rowsInserted.connect(self._rows_arrived)
        self.detail = QLabel("")
        self.detail.setObjectName("backupDetail")
        self.detail.setProperty("role", "caption")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        # --- settings
        self.enabled = self.check_input("backup.enabled", "Back up every night")
        self.enabled.setObjectName("backupEnabled")
        self.hour = QComboBox()
        self.hour.setObjectName("backupHour")
        self.hour.setAccessibleName("Hour of the nightly backup")
        for hour in range(24):
            self.hour.addItem(f"at {hour:02d}:00", hour)
        self.bind("backup.hour", self.hour)
        server_time = QLabel("server time")
        server_time.setProperty("role", "caption")
        self.folder = self.text_input("backup.folder", "Backup folder")
        self.folder.setObjectName("backupFolder")
        self.folder.setPlaceholderText("Empty: the backups folder in the server's data folder")
        self.keep_daily = self.spin_input("backup.keep_daily", 1, 365, " daily", "Daily backups to keep", width=110)
        self.keep_weekly = self.spin_input("backup.keep_weekly", 0, 520, " weekly", "Weekly backups to keep", width=110)
        self.keep_monthly = self.spin_input(
            "backup.keep_monthly", 0, 240, " monthly", "Monthly backups to keep", width=120
        )
        for spin in (self.keep_daily, self.keep_weekly, self.keep_monthly):
            spin.setObjectName(spin.accessibleName().replace(" ", "_"))
        self.encryption_note = QLabel("")
        self.encryption_note.setProperty("role", "caption")
        self.encryption_note.setWordWrap(True)
        buttons = QWidget()
        row = self.form_buttons(self.encryption_note)
        row.setStretchFactor(self.encryption_note, 2)
        buttons.setLayout(row)
        settings = self.group(
            "Settings",
            [
                ("Nightly", in_row(self.enabled, self.hour, server_time, stretch=True)),
                (
                    "Folder",
                    field(self.folder, "On the server: a local path or a mounted share the server can write to."),
                ),
                (
                    "Keep",
                    field(
                        in_row(self.keep_daily, self.keep_weekly, self.keep_monthly, stretch=True),
                        "Older files are removed only after a newer backup has been verified.",
                    ),
                ),
                ("", buttons),
            ],
        )
        settings.setObjectName("backupSettings")

        actions = QHBoxLayout()
        actions.setSpacing(8)
        for button in (self.download_button, self.test_button, self.restore_button):
            actions.addWidget(button)
        actions.addStretch(1)

        self.root.addWidget(
            title_label(
                "Backup & Restore",
                "Every backup is read back whole, and a test restore proves it loads.",
                self.run_button,
            )
        )
        self.root.addWidget(self.alert)
        self.root.addWidget(self.notice)
        self.root.addWidget(self.run_box)
        self.root.addLayout(actions)
        self.root.addWidget(self.table, 1)
        self.root.addWidget(self.detail)
        self.root.addWidget(settings)

        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self._poll)
        self._refresh_soon = QTimer(self)
        self._refresh_soon.setSingleShot(True)
        self._refresh_soon.setInterval(150)
        self._refresh_soon.timeout.connect(self._refresh)
        self._selected()
        self.update_actions()

    # --- loading -------------------------------------------------------------------------------

    def _fetch(self, offset: int, limit: int, after: str | None) -> Any:
        return backups_api.list_backups(self.api, offset, limit, after)

    def reload(self) -> None:
        self.model.reload()
        self._load_status()
        self._load_settings()

    def _load_status(self) -> None:
        self.load(backups_api.status(self.api), self._status_arrived)

    def _status_arrived(self, status: BackupStatusOut | None) -> None:
        self.status = status
        self._show_alert()

    def _show_alert(self) -> None:
        words = alert_words(self.status, self.model.rows())
        self.alert_text.setText(words)
        self.alert.setVisible(bool(words))

    def _rows_arrived(self, *_: Any) -> None:
        self._show_alert()
        running = next((b for b in self.model.rows() if b.status == "running"), None)
        if running is not None and running.id not in self.watching:
            self.watching[running.id] = ("run", None)
        self._show_running(running)
        if self.watching and not self.poll.isActive():
            self.poll.start()
        self._selected()

    def is_busy(self) -> bool:
        return super().is_busy() or self.model.loading

    def on_reset(self) -> None:
        if self.loaded:
            self.reload()

    def on_changed(self, areas: frozenset[str]) -> None:
        if not self.loaded:
            return
        if areas & LIVE_AREAS:
            self._refresh_soon.start()  # a burst of progress events makes one refresh
        if areas & admin_api.SETTINGS:
            self._load_settings()

    def on_live_event(self, event: Event) -> None:
        if self.loaded and event.entity == "backup":
            self._refresh_soon.start()

    def _refresh(self) -> None:
        """A backup changed: while some are watched, read those rows again; else the whole list."""
        if self.watching:
            self._poll()
        else:
            self.model.reload()
            self._load_status()

    def _poll(self) -> None:
        for backup_id in list(self.watching):
            self.load(backups_api.get_backup(self.api, backup_id), self._row_arrived)

    def _row_arrived(self, backup: BackupOut) -> None:
        if not self.model.replace_row(backup) and backup.id in self.watching:
            self.model.reload()  # not listed yet (a run started elsewhere)
        watch = self.watching.get(backup.id)
        if backup.status == "running":
            self._show_running(backup)
        elif watch is not None and watch[0] == "run":
            self.watching.pop(backup.id, None)
            self._show_running(None)
            self._run_finished(backup)
        if watch is not None and watch[0] == "test" and backup.test_restored_at not in (None, watch[1]):
            self.watching.pop(backup.id, None)
            self.say(test_restore_result(backup), error=not backup.test_restore_ok)
            self._load_status()
        if not self.watching:
            self.poll.stop()
        self._selected()

    def _run_finished(self, backup: BackupOut) -> None:
        if backup.status == "succeeded":
            self.say(f"Backup done: {size_words(backup.size_bytes or 0)}, read back whole and verified.")
        elif backup.status == "cancelled":
            self.say("The backup was cancelled; nothing was kept.")
        else:
            self.say(f"The backup failed: {failure_words(backup)}", error=True)
        self.model.reload()
        self._load_status()

    def _show_running(self, backup: BackupOut | None) -> None:
        self.running = backup
        if backup is None:
            self.run_box.setVisible(False)
            self.run_button.setEnabled(can(self.me, "edit"))
            return
        percent = int(backup.progress * 100)
        self.progress.setValue(percent)
        self.progress_shown.emit(percent)
        cancelling = backup.id in self.cancelling
        self.run_label.setText("Cancelling…" if cancelling else f"{describe(backup)}: backing up…")
        self.run_box.setVisible(True)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(can(self.me, "edit") and not cancelling)

    # --- the selected backup -------------------------------------------------------------------

    def selected(self) -> BackupOut | None:
        return self.table.current_row()

    def _selected(self, *_: Any) -> None:
        backup = self.selected()
        editable = can(self.me, "edit")
        downloading = self.progress_dialog is not None  # one at a time (the dialog is not modal)
        self.download_button.setEnabled(editable and usable(backup) and not downloading)  # the whole database
        self.test_button.setEnabled(editable and usable(backup) and (backup is None or backup.id not in self.watching))
        self.restore_button.setEnabled(editable and usable(backup))
        if backup is None:
            count = len(self.model.rows())
            self.detail.setText("Select a backup to download, test-restore or restore it." if count else "")
            return
        parts = [describe(backup)]
        if backup.file_name:
            parts.append(f"file {backup.file_name}" + (" (encrypted)" if backup.encrypted else ""))
        if backup.sha256:
            parts.append(f"SHA-256 {backup.sha256}")
        if backup.test_restore_detail:
            parts.append(f"test restore: {backup.test_restore_detail}")
        if backup.error_message:
            parts.append(backup.error_message)
        self.detail.setText(" · ".join(parts))

    # --- actions -------------------------------------------------------------------------------

    def run_now(self) -> asyncio.Task[Any]:
        def started(backup: BackupOut) -> None:
            self.watching[backup.id] = ("run", None)
            self._show_running(backup)
            self.say("")
            self.poll.start()
            self.model.reload()

        return operations.run(self, backups_api.run_now(self.api), success=started, busy=self.run_button)

    def cancel_run(self) -> asyncio.Task[Any] | None:
        if self.running is None:
            return None

        def asked(backup: BackupOut) -> None:
            self.cancelling.add(backup.id)  # pg_dump is stopped by its job, which says when it is
            self._row_arrived(backup)

        return operations.run(
            self, backups_api.cancel(self.api, self.running.id), success=asked, busy=self.cancel_button
        )

    def test_restore(self) -> asyncio.Task[Any] | None:
        backup = self.selected()
        if not usable(backup):
            return None
        assert backup is not None
        self.watching[backup.id] = ("test", backup.test_restored_at)
        self.say("Test restore running: loading the backup into a scratch database…")
        self._selected()

        def answered(row: BackupOut) -> None:
            self._row_arrived(row)
            if row.id in self.watching and not self.poll.isActive():
                self.poll.start()

        task = operations.run(self, backups_api.test_restore(self.api, backup.id), success=answered)
        task.add_done_callback(lambda t: self._test_refused(backup.id) if t.result() is None else None)
        return task

    def _test_refused(self, backup_id: int) -> None:
        if shiboken6.isValid(self):
            self.watching.pop(backup_id, None)
            self.say("")
            self._selected()

    def company(self) -> str:
        return str(self.stored.get(COMPANY_KEY) or "")

    def ask_restore(self) -> RestoreDialog | None:
        backup = self.selected()
        if not usable(backup):
            return None
        assert backup is not None
        dialog = RestoreDialog(self, backup, self.company())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.open()
        return dialog

    # --- download ------------------------------------------------------------------------------

    def ask_download(self) -> QFileDialog | None:
        """The save dialog, opened without a nested event loop; its choice starts the download."""
        backup = self.selected()
        if not usable(backup):
            return None
        assert backup is not None
        dialog = QFileDialog(self, "Save the backup as")
        dialog.setObjectName("backupSaveDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.selectFile(backup.file_name or f"crm-backup-{backup.id}.dump")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.fileSelected.connect(lambda path: self.download_to(backup, path))
        dialog.open()
        return dialog

    def download_to(self, backup: BackupOut, path: str) -> asyncio.Task[None]:
        progress = QProgressDialog("Downloading the backup…", "Cancel", 0, 0, self)
        progress.setObjectName("backupDownloadProgress")
        progress.setWindowTitle("Download the backup")
        progress.setMinimumDuration(0)
        # Not modal: a modal QProgressDialog's setValue() runs processEvents() inside the asyncio task,
        # re-entering the qasync loop (timers were lost and the loop stalled).
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        self.progress_dialog = progress
        self.download_button.setEnabled(False)
        task = asyncio.ensure_future(self._download(backup, Path(path), progress))
        self.download_task = task
        progress.canceled.connect(task.cancel)
        progress.show()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _download(self, backup: BackupOut, target: Path, progress: QProgressDialog) -> None:
        # Written beside the target and renamed at the end: a cut or cancelled download leaves no
        # half file under the chosen name; the SHA-256 is checked against the server's as it arrives.
        partial = target.with_name(target.name + ".part")
        digest = hashlib.sha256()
        received = 0
        total = backup.size_bytes or 0
        try:
            async with backups_api.download(self.api, backup.id) as response:
                total = int(response.headers.get("content-length") or total)
                if total:
                    progress.setMaximum(max(total // 1024, 1))
                with partial.open("wb") as out:
                    async for chunk in response.aiter_bytes():
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        progress.setLabelText(f"Downloading the backup… {size_words(received)}")
                        if total:
                            progress.setValue(min(received // 1024, progress.maximum()))
            if backup.sha256 and digest.hexdigest() != backup.sha256:
                partial.unlink(missing_ok=True)
                self.say(
                    f"The downloaded file ({size_words(received)}) does not match the backup's SHA-256: it was "
                    "damaged on the way or on the server. Nothing was saved; try again, or use another backup.",
                    error=True,
                )
                return
            os.replace(partial, target)
            checked = " Its SHA-256 matches the backup's." if backup.sha256 else ""
            self.say(f"Saved the backup to {target} ({size_words(received)}).{checked}")
        except asyncio.CancelledError:
            partial.unlink(missing_ok=True)
            self.say("The download was cancelled.")
        except httpx.TransportError as exc:
            partial.unlink(missing_ok=True)
            handle_error(self, Offline(type(exc).__name__))
        except OSError as exc:
            partial.unlink(missing_ok=True)
            self.say(f"Could not write {target}: {exc}", error=True)
        except ApiError as exc:
            partial.unlink(missing_ok=True)
            handle_error(self, exc)
        finally:
            progress.close()
            self.progress_dialog = None
            if shiboken6.isValid(self):
                self._selected()

    # --- settings ------------------------------------------------------------------------------

    def _load_settings(self) -> None:
        if not self.keep_edits():
            self.load(admin_api.get_settings(self.api), lambda s: self.show_values(s.values))
        self.load(backups_api.settings(self.api), self._encryption_arrived)

    def _encryption_arrived(self, settings: BackupSettings) -> None:
        self.encryption_note.setText(
            "Encrypted with the server's passphrase (CRM_BACKUP_PASSPHRASE)."
            if settings.encryption
            else "Not encrypted: set CRM_BACKUP_PASSPHRASE on the server to encrypt."
        )

    def check(self, changes: dict[str, Any]) -> bool:
        folder = changes.get("backup.folder")
        if folder is not None and folder and not (folder.startswith(("/", "\\\\")) or folder[1:3] in (":\\", ":/")):
            self.say("The backup folder must be a full path on the server, e.g. /var/backups/crm.", error=True)
            return False
        return True

    def screenshot_states(self) -> list[ScreenshotState]:
        def restore_dialog() -> QWidget | None:
            rows = self.model.rows()
            good = next((b for b in rows if usable(b)), None)
            if good is None:  # no backup yet (the demo data): the dialog over a sample one
                now = datetime.now(UTC)
                good = BackupOut(
                    id=0,
                    kind="nightly",
                    status="succeeded",
                    started_at=now,
                    finished_at=now,
                    file_name="crm-sample.dump",
                    size_bytes=48_000_000,
                    verify_ok=True,
                )
            dialog = RestoreDialog(self, good, self.company())
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
            dialog.in_place_choice.setChecked(True)
            dialog.open()
            return dialog

        return [("admin-backup-and-restore", lambda: None), ("admin-backup-restore-dialog", restore_dialog)]


__all__ = ["BackupsPage", "RestoreDialog", "alert_words", "status_words"]

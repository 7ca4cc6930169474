"""Admin > Data Management: the import history (who, when, which file, what, the counts, the status,
the error report, Revert) and "New import…", which opens the import wizard (views/imports/).

An import that is running shows its progress here, read again every second and on its live events:
the person may have closed the wizard, and "Show progress" opens it again on that import.
"""

from __future__ import annotations

import asyncio
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QMessageBox, QPushButton, QWidget

from crm_desktop import format, operations
from crm_desktop.api import imports as imports_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import AdminPage, Event, ScreenshotState, plural, set_danger, title_label, tone
from crm_desktop.views.imports.wizard import (
    ImportWizard,
    can_import,
    counts_text,
    importable,
    open_wizard,
    status_text,
)
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_server.contract.auth import Me
from crm_server.contract.common import Page
from crm_server.contract.imports import ENTITIES, FINISHED, ImportOut, ImportStatus, RevertOut

POLL_MS = 1000  # while an import runs


def status_tone(item: ImportOut) -> str | None:
    if item.status is ImportStatus.running:
        return tone("accent")
    if item.status is ImportStatus.failed:
        return tone("danger")
    if item.status in (ImportStatus.cancelled, ImportStatus.reverted):
        return tone("muted")
    if item.status is ImportStatus.done:
        return tone("success")
    return None


def result_text(item: ImportOut) -> str:
    """What the import did, the counts that are not zero: "4 created, 1 skipped"."""
    parts = [
        f"{format.number(n)} {words}"
        for n, words in (
            (item.created, "created"),
            (item.updated, "updated"),
            (item.skipped, "skipped"),
            (item.errors, "in error"),
        )
        if n
    ]
    return ", ".join(parts) or format.EMPTY


def revertable(item: ImportOut | None) -> bool:
    return item is not None and item.status in (ImportStatus.done, ImportStatus.cancelled) and item.reverted_at is None


def revert_words(result: RevertOut) -> str:
    """What a revert did, in a sentence or two."""
    text = (
        f"Import of {result.item.file_name} reverted: {plural(result.archived, 'record')} it created archived, "
        f"{plural(result.restored, 'record')} it updated put back."
    )
    if result.left_alone:
        names = "; ".join(f"{one.label} ({one.reason})" for one in result.left_alone[:5])
        more = f" and {len(result.left_alone) - 5} more" if len(result.left_alone) > 5 else ""
        text += f" Left alone, because they changed since: {names}{more}."
    return text


class DataManagementPage(AdminPage):
    """The history of imports, newest first, with its actions."""

    title = "Data Management"
    areas = imports_api.CHANGED

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.events: Any = None  # the session's live stream, when the shell hands it over
        self.wizard: ImportWizard | None = None
        columns: list[Column[ImportOut]] = [
            Column("When", lambda i: format.moment(i.created_at)),
            Column("Who", lambda i: i.created_by_name or format.EMPTY),
            Column("File", lambda i: i.file_name, tooltip=lambda i: f"Sheet {i.sheet}" if i.sheet else None),
            Column("What", lambda i: ENTITIES.get(i.entity, i.entity)),
            Column("Rows", lambda i: format.number(i.rows_total), align_right=True),
            Column("Result", result_text, tooltip=counts_text),
            Column("Status", status_text, color=status_tone, tooltip=lambda i: i.error),
        ]
        self.model = PagedTableModel[ImportOut](columns, self._fetch, page_size=50, parent=self)
        self.table = PagedTable(
            self.model,
            "Spreadsheets of leads, clients, contacts and products you import appear here.",
            self,
            icon="inbox",
            empty_title="No imports yet",
        )
        self.table.set_noun("import", "imports")
        for column, width in enumerate((130, 110, 160, 70, 56, 190)):
            self.table.view.setColumnWidth(column, width)
        self.new_button = QPushButton("New import…", self)
        self.new_button.setObjectName("newImport")
        self.new_button.setProperty("role", "primary")
        self.new_button.clicked.connect(self.new_import)
        self.new_button.setEnabled(bool(importable(me)))
        self.follow_button = QPushButton("Show progress", self)
        self.follow_button.setObjectName("importFollow")
        self.follow_button.clicked.connect(self.follow)
        self.report_button = QPushButton("Download error report…", self)
        self.report_button.setObjectName("importHistoryReport")
        self.report_button.clicked.connect(self.ask_error_report)
        self.revert_button = QPushButton("Revert import…", self)
        self.revert_button.setObjectName("importRevert")
        self.revert_button.clicked.connect(self.ask_revert)
        actions = QHBoxLayout()
        actions.setSpacing(8)
        for button in (self.follow_button, self.report_button, self.revert_button):
            actions.addWidget(button)
        actions.addStretch(1)
        self.root.addWidget(
            title_label(
                "Data Management",
                "Imports from Excel and CSV: check them with a dry run, follow them, revert them.",
                self.new_button,
            )
        )
        self.root.addWidget(self.notice)
        self.root.addLayout(actions)
        self.root.addWidget(self.table, 1)

        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self._poll)
        self.table.view.selectionModel().selectionChanged.connect(self._selected)
        self.model.modelReset.connect(self._rows_arrived)
        self.model.loading_changed.connect(lambda loading: None if loading else self._rows_arrived())
        self.model.dataChanged.connect(self._selected)
        self._selected()

    # --- loading -----------------------------------------------------------------------------------

    async def _fetch(self, offset: int, limit: int, after: str | None) -> Page[ImportOut]:
        return await imports_api.history(self.api, offset, limit)

    def reload(self) -> None:
        self.model.reload()

    def is_busy(self) -> bool:
        return super().is_busy() or self.model.loading

    def _rows_arrived(self, *_: Any) -> None:
        running = any(i.status is ImportStatus.running for i in self.model.rows())
        if running and not self.poll.isActive():
            self.poll.start()
        elif not running:
            self.poll.stop()
        self._selected()

    def _poll(self) -> None:
        for item in self.model.rows():
            if item.status not in FINISHED:
                self.load(imports_api.get_import(self.api, item.id), self._row_arrived)

    def _row_arrived(self, item: ImportOut) -> None:
        if not self.model.replace_row(item):
            self.model.reload()
            return
        if not any(i.status is ImportStatus.running for i in self.model.rows()):
            self.poll.stop()
        self._selected()

    def on_live_event(self, event: Event) -> None:
        if event.module != imports_api.MODULE:
            return
        wizard = self.wizard
        if wizard is not None and shiboken6.isValid(wizard) and wizard.item is not None:
            if wizard.item.id == event.entity_id and wizard.isVisible():
                wizard.refresh()  # its progress bar moves now, not at its next poll
        if not self.loaded:
            return
        if event.entity_id is not None and self.model.find(event.entity_id) is not None:
            self.load(imports_api.get_import(self.api, event.entity_id), self._row_arrived)
        else:
            self.reload_soon()

    # --- the selected import -----------------------------------------------------------------------

    def selected(self) -> ImportOut | None:
        return self.table.current_row()

    def _selected(self, *_: Any) -> None:
        item = self.selected()
        allowed = item is not None and can_import(self.me, item.entity)
        self.follow_button.setEnabled(item is not None and item.status in (ImportStatus.running, *FINISHED))
        self.report_button.setEnabled(allowed and item is not None and item.errors > 0)
        set_danger(self.revert_button, allowed and revertable(item))

    # --- actions -----------------------------------------------------------------------------------

    def new_import(self, entity: str | None = None) -> ImportWizard:
        self.wizard = open_wizard(self, self.api, self.me, entity, events=self.events)
        return self.wizard

    def follow(self) -> ImportWizard | None:
        """The wizard again on the selected import's progress (or its result)."""
        item = self.selected()
        if item is None:
            return None
        wizard = ImportWizard(self.api, self.me, item.entity, self, events=self.events, follow=item)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        wizard.open()
        self.wizard = wizard
        return wizard

    def ask_error_report(self) -> QFileDialog | None:
        item = self.selected()
        if item is None:
            return None
        dialog = QFileDialog(self, "Save the error report as", f"{item.file_name.rsplit('.', 1)[0]}-errors.xlsx")
        dialog.setObjectName("importSaveDialog")
        dialog.setNameFilter("Excel workbook (*.xlsx)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("xlsx")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.fileSelected.connect(lambda path: self.save_error_report_to(item, path))
        dialog.open()
        return dialog

    def save_error_report_to(self, item: ImportOut, path: str) -> asyncio.Task[int | None]:
        return operations.run(
            self,
            imports_api.save_error_report(self.api, item.id, path),
            success=lambda _size: self.say(f"Error report saved to {path}."),
            busy=self.report_button,
        )

    def ask_revert(self) -> QMessageBox | None:
        item = self.selected()
        if not revertable(item):
            return None
        assert item is not None
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Revert the import?",
            f"Revert the import of {item.file_name} ({format.moment(item.created_at)})? The "
            f"{plural(item.created, 'record')} it created are archived and the {plural(item.updated, 'record')} "
            "it updated get their previous values back. Records someone changed since are left alone.",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setObjectName("importRevertQuestion")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        yes = box.addButton("Revert import", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.buttonClicked.connect(lambda button: self.revert(item) if button is yes else None)
        box.open()
        return box

    def revert(self, item: ImportOut) -> asyncio.Task[RevertOut | None]:
        def reverted(result: RevertOut) -> None:
            self.model.replace_row(result.item)
            self.say(revert_words(result))
            self._selected()

        return operations.run(
            self,
            imports_api.revert(self.api, item.id),
            success=reverted,
            changed=imports_api.changed_by(item.entity),
            busy=self.revert_button,
        )

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-data-management", lambda: None)]


__all__ = ["DataManagementPage", "result_text", "revert_words"]

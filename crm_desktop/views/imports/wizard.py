"""The import wizard, step by step as a person meets it:

1. **File**: what to import (leads, clients with their contacts, contacts, products), "Download
   template…" (saved where the person says), "Choose file…" (.xlsx .xls .ods .csv); a workbook with
   several sheets asks which one.
2. **Columns**: each column of the file beside its first values and the field it fills, as the
   server suggests (or remembers from a file with the same headers); the person changes or skips
   any. Two columns on one field say "Duplicate Header" beside both, until one is marked as the one
   that wins. Below: what a row matching an existing record does (skip, fill empty fields,
   overwrite, create anyway) and who owns the new records (the assignment rules, or a chosen person).
3. **Check** ("Dry run"): the counts to create, update, skip and in error, the first rows as they
   will be saved, the errors as the server names them ("Invalid Email Format" ...) with their row
   and column, "Download error report…" (the failed rows as they were, plus an Error column), and
   "Import". The same file imported before asks first; over 1,000 rows an admin is offered "Back up
   first" (a backup runs and is waited for).
4. **Import**: a live progress bar with Cancel. The window can be closed: the import goes on, and
   Admin > Data Management shows it running ("Show progress" opens this step again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks, theme
from crm_desktop.api import backups as backups_api
from crm_desktop.api import imports as imports_api
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.operations import change_bus, handle_error
from crm_desktop.widgets.user_picker import UserPicker
from crm_server.contract.auth import Me
from crm_server.contract.backups import BackupOut
from crm_server.contract.events import LiveEvent
from crm_server.contract.imports import (
    DUPLICATE_MODE_WORDS,
    ENTITIES,
    FILE_TYPES,
    FINISHED,
    MAX_FILE_BYTES,
    STATUS_WORDS,
    DryRunOut,
    DuplicateMode,
    ImportOut,
    ImportStatus,
    MappingIn,
    StartIn,
    TemplateField,
    UploadOut,
)

POLL_MS = 1000  # while an import or a backup runs (live events also move the bar)
BACKUP_OFFER_ROWS = 1000  # more rows than this: "Back up first"
SKIP = "— Skip this column —"
OWNED = ("leads", "clients")
STEP_NAMES = ("File", "Columns", "Dry run", "Import")
TEMPLATE_SHEETS = frozenset(
    {"Lists", "Help"}
)  # the template's sheets beside the one with the rows  # entities whose new records get an owner
FILE_FILTER = "Spreadsheets (" + " ".join(f"*{ext}" for ext in FILE_TYPES) + ")"
# Columns of the mapping table.
COL_HEADER, COL_SAMPLE, COL_FIELD, COL_NOTE, COL_WINS = range(5)


def can_import(me: Me, entity: str) -> bool:
    grant = me.permissions.get(imports_api.module_of(entity))
    return grant is not None and "import" in grant.actions


def importable(me: Me) -> list[str]:
    """The entities this person may import, in the order of the contract."""
    return [entity for entity in ENTITIES if can_import(me, entity)]


def counts_text(item: ImportOut) -> str:
    """ "3 created, 1 updated, 1 skipped, 1 in error"."""
    return (
        f"{format.number(item.created)} created, {format.number(item.updated)} updated, "
        f"{format.number(item.skipped)} skipped, {format.number(item.errors)} in error"
    )


def status_text(item: ImportOut) -> str:
    """The history's status column: "Importing… 40%", "Failed: the file …", "Done"."""
    words = STATUS_WORDS[item.status]
    if item.status is ImportStatus.running:
        return f"{words}… {int(item.progress * 100)}%"
    if item.status is ImportStatus.failed and item.error:
        return f"{words}: {item.error}"
    return words


def progress_text(item: ImportOut) -> str:
    return f"{format.number(item.rows_done)} of {format.number(item.rows_total)} rows"


def file_refusal(path: Path) -> str:
    """Why a file cannot be imported, before it is sent ("" when it can be)."""
    if path.suffix.lower() not in FILE_TYPES:
        return f"{path.name} is not a spreadsheet the import reads: choose an .xlsx, .xls, .ods or .csv file."
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"{path.name} cannot be read: {exc.strerror or exc}."
    if size > MAX_FILE_BYTES:
        return (
            f"{path.name} is {size / 1024 / 1024:,.1f} MB; the import takes files up to "
            f"{MAX_FILE_BYTES // 1024 // 1024} MB. Split it, or save it as .csv (smaller)."
        )
    return ""


def _save_dialog(parent: QWidget, title: str, name: str, on_path: Callable[[str], object]) -> QFileDialog:
    """Where to save a file ("Save as…"), opened without a nested event loop."""
    dialog = QFileDialog(parent, title, name, "Excel workbook (*.xlsx)")
    dialog.setObjectName("importSaveDialog")
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setDefaultSuffix("xlsx")
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    dialog.fileSelected.connect(on_path)
    dialog.open()
    return dialog


def _table(parent: QWidget, name: str) -> QTableWidget:
    table = QTableWidget(parent)
    table.setObjectName(name)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _cell(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setToolTip(text)
    return item


def _banner(parent: QWidget, name: str, role: str) -> tuple[QFrame, QLabel]:
    frame = QFrame(parent)
    frame.setObjectName(name)
    frame.setProperty("role", role)
    label = QLabel(frame)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    row = QHBoxLayout(frame)
    row.setContentsMargins(12, 8, 12, 8)
    row.addWidget(label, 1)
    frame.setVisible(False)
    return frame, label


class ImportWizard(QDialog):
    """One import from its file to its end. `entity` preselects what is imported (a list's door);
    `follow` opens on the progress of an import already started (from the history)."""

    def __init__(
        self,
        api: ApiClient,
        me: Me,
        entity: str | None = None,
        parent: QWidget | None = None,
        *,
        events: Any = None,
        follow: ImportOut | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("importWizard")
        self.setWindowTitle("Import from a spreadsheet")
        self.setMinimumSize(760, 560)
        self.api = api
        self.me = me
        self.upload: UploadOut | None = None
        self.item: ImportOut | None = follow
        self.check: DryRunOut | None = None
        self.fields: list[TemplateField] = []
        self.saved_to: str | None = None  # the last file saved (template or error report)
        self.backup: BackupOut | None = None
        self._field_boxes: list[QComboBox] = []
        self._wins: list[QCheckBox] = []
        self._notes: list[QLabel] = []
        self._announced = False

        self.stack = QStackedWidget(self)
        self.steps = QLabel(self)
        self.steps.setObjectName("importSteps")
        self.steps.setProperty("role", "muted")
        self.notice, self.notice_text = _banner(self, "importNotice", "info")
        self._build_file_step()
        self._build_columns_step()
        self._build_check_step()
        self._build_run_step()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(10)
        layout.addWidget(self.steps)
        layout.addWidget(self.notice)
        layout.addWidget(self.stack, 1)
        self.stack.currentChanged.connect(self._show_steps)

        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self._poll)
        if events is not None:
            events.event.connect(self._on_event)

        choices = importable(me)
        for key in choices:
            self.entity_box.addItem(ENTITIES[key], key)
        if entity is not None and entity in choices:
            self.entity_box.setCurrentIndex(choices.index(entity))
        self.entity_box.setEnabled(follow is None and len(choices) > 1)
        self._entity_changed()
        self._show_steps()
        if follow is not None:
            self._show_run(follow)
            self.stack.setCurrentWidget(self.run_step)
            if follow.status not in FINISHED:
                self.poll.start()

    # --- building ----------------------------------------------------------------------------------

    def _build_file_step(self) -> None:
        step = QWidget(self.stack)
        step.setObjectName("importFileStep")
        title = QLabel("What do you import?", step)
        title.setProperty("role", "heading")
        self.entity_box = QComboBox(step)
        self.entity_box.setObjectName("importEntity")
        self.entity_box.setAccessibleName("What to import")
        self.entity_box.currentIndexChanged.connect(self._entity_changed)
        self.template_button = QPushButton("Download template…", step)
        self.template_button.setObjectName("importTemplate")
        self.template_button.setToolTip("An Excel file with the columns, the required ones marked *, and a Help sheet")
        self.template_button.clicked.connect(self.ask_template)
        self.fields_note = QLabel(step)
        self.fields_note.setObjectName("importFieldsNote")
        self.fields_note.setWordWrap(True)
        self.fields_note.setProperty("role", "muted")
        self.file_button = QPushButton("Choose file…", step)
        self.file_button.setObjectName("importChooseFile")
        self.file_button.setProperty("role", "primary")
        self.file_button.clicked.connect(self.ask_file)
        self.file_label = QLabel("Excel (.xlsx, .xls), OpenDocument (.ods) or CSV.", step)
        self.file_label.setObjectName("importFileLabel")
        self.file_label.setWordWrap(True)
        self.sheet_box = QFrame(step)
        self.sheet_box.setObjectName("importSheetBox")
        self.sheet_label = QLabel("This workbook has several sheets. Which one holds the rows?", self.sheet_box)
        self.sheet_label.setWordWrap(True)
        self.sheet_choice = QComboBox(self.sheet_box)
        self.sheet_choice.setObjectName("importSheet")
        self.sheet_button = QPushButton("Read this sheet", self.sheet_box)
        self.sheet_button.setObjectName("importReadSheet")
        self.sheet_button.clicked.connect(self.read_sheet)
        sheet_row = QHBoxLayout(self.sheet_box)
        sheet_row.setContentsMargins(0, 0, 0, 0)
        sheet_row.addWidget(self.sheet_label, 1)
        sheet_row.addWidget(self.sheet_choice)
        sheet_row.addWidget(self.sheet_button)
        self.sheet_box.setVisible(False)

        what = QHBoxLayout()
        what.addWidget(self.entity_box, 1)
        what.addWidget(self.template_button)
        pick = QHBoxLayout()
        pick.addWidget(self.file_button)
        pick.addWidget(self.file_label, 1)
        layout = QVBoxLayout(step)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addLayout(what)
        layout.addWidget(self.fields_note)
        layout.addSpacing(8)
        layout.addLayout(pick)
        layout.addWidget(self.sheet_box)
        layout.addStretch(1)
        self.file_step = step
        self.stack.addWidget(step)

    def _build_columns_step(self) -> None:
        step = QWidget(self.stack)
        step.setObjectName("importColumnsStep")
        self.columns_title = QLabel(step)
        self.columns_title.setProperty("role", "heading")
        self.columns_title.setWordWrap(True)
        self.mapping_table = _table(step, "importMapping")
        self.mapping_table.setColumnCount(5)
        self.mapping_table.setHorizontalHeaderLabels(
            ["Column in the file", "First value", "Fills the field", "", "Wins"]
        )
        header = self.mapping_table.horizontalHeader()
        header.setSectionResizeMode(COL_HEADER, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_FIELD, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_NOTE, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.mapping_table.setColumnWidth(COL_SAMPLE, 160)
        self.mapping_table.setColumnWidth(COL_WINS, 64)
        self.mapping_table.verticalHeader().setDefaultSectionSize(38)  # room for the field's drop-down

        self.duplicate_mode = QComboBox(step)
        self.duplicate_mode.setObjectName("importDuplicateMode")
        self.duplicate_mode.setAccessibleName("When a row matches an existing record")
        for mode in DuplicateMode:
            self.duplicate_mode.addItem(DUPLICATE_MODE_WORDS[mode], mode.value)
        self.owner_mode = QComboBox(step)
        self.owner_mode.setObjectName("importOwnerMode")
        self.owner_mode.addItem("By the assignment rules", "rules")
        self.owner_mode.addItem("This person:", "person")
        self.owner = UserPicker(self.api, parent=step)
        self.owner.setObjectName("importOwner")
        self.owner.setAccessibleName("Owner of the new records")
        self.owner.setEnabled(False)
        self.owner_mode.currentIndexChanged.connect(
            lambda *_: self.owner.setEnabled(self.owner_mode.currentData() == "person")
        )
        self.owner_row = QWidget(step)
        owner_layout = QHBoxLayout(self.owner_row)
        owner_layout.setContentsMargins(0, 0, 0, 0)
        owner_layout.addWidget(self.owner_mode)
        owner_layout.addWidget(self.owner, 1)
        form = QFormLayout()
        form.addRow("When a row matches an existing record", self.duplicate_mode)
        form.addRow("Owner of new records", self.owner_row)

        self.back_to_file = QPushButton("Back", step)
        self.back_to_file.clicked.connect(lambda: self.stack.setCurrentWidget(self.file_step))
        self.dry_run_button = QPushButton("Dry run", step)
        self.dry_run_button.setObjectName("importDryRun")
        self.dry_run_button.setProperty("role", "primary")
        self.dry_run_button.setToolTip("Check every row by the same rules as the import; nothing is saved")
        self.dry_run_button.clicked.connect(self.dry_run)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_to_file)
        buttons.addStretch(1)
        buttons.addWidget(self.dry_run_button)

        layout = QVBoxLayout(step)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.columns_title)
        layout.addWidget(self.mapping_table, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)
        self.columns_step = step
        self.stack.addWidget(step)

    def _build_check_step(self) -> None:
        step = QWidget(self.stack)
        step.setObjectName("importCheckStep")
        self.counts_label = QLabel(step)
        self.counts_label.setObjectName("importCounts")
        self.counts_label.setProperty("role", "heading")
        self.counts_label.setWordWrap(True)
        self.same_file, self.same_file_text = _banner(step, "importSameFile", "alert")
        preview_title = QLabel("The first rows, as they will be saved", step)
        preview_title.setProperty("role", "muted")
        self.preview_table = _table(step, "importPreview")
        errors_title = QLabel("Rows in error", step)
        errors_title.setProperty("role", "muted")
        self.errors_table = _table(step, "importErrors")
        self.errors_table.setColumnCount(4)
        self.errors_table.setHorizontalHeaderLabels(["Row", "Column", "Error", "Why"])
        self.errors_table.setColumnWidth(0, 56)
        self.errors_table.setColumnWidth(1, 140)
        self.errors_table.setColumnWidth(2, 180)
        self.report_button = QPushButton("Download error report…", step)
        self.report_button.setObjectName("importErrorReport")
        self.report_button.setToolTip("The rows in error as they were in your file, plus an Error column")
        self.report_button.clicked.connect(self.ask_error_report)
        self.back_to_columns = QPushButton("Back", step)
        self.back_to_columns.clicked.connect(lambda: self.stack.setCurrentWidget(self.columns_step))
        self.import_button = QPushButton("Import", step)
        self.import_button.setObjectName("importGo")
        self.import_button.setProperty("role", "primary")
        self.import_button.clicked.connect(self.begin_import)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_to_columns)
        buttons.addWidget(self.report_button)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        layout = QVBoxLayout(step)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.counts_label)
        layout.addWidget(self.same_file)
        layout.addWidget(preview_title)
        layout.addWidget(self.preview_table, 3)
        layout.addWidget(errors_title)
        layout.addWidget(self.errors_table, 2)
        layout.addLayout(buttons)
        self.check_step = step
        self.stack.addWidget(step)

    def _build_run_step(self) -> None:
        step = QWidget(self.stack)
        step.setObjectName("importRunStep")
        self.run_title = QLabel(step)
        self.run_title.setObjectName("importRunTitle")
        self.run_title.setProperty("role", "heading")
        self.run_title.setWordWrap(True)
        self.bar = QProgressBar(step)
        self.bar.setObjectName("importProgress")
        self.run_status = QLabel(step)
        self.run_status.setObjectName("importRunStatus")
        self.run_status.setWordWrap(True)
        hint = QLabel(
            "You can close this window: the import goes on, and Admin > Data Management shows how far it is.", step
        )
        hint.setWordWrap(True)
        hint.setProperty("role", "muted")
        self.cancel_button = QPushButton("Cancel import", step)
        self.cancel_button.setObjectName("importCancel")
        self.cancel_button.clicked.connect(self.cancel_import)
        self.run_report_button = QPushButton("Download error report…", step)
        self.run_report_button.clicked.connect(self.ask_error_report)
        self.close_button = QPushButton("Close", step)
        self.close_button.setObjectName("importClose")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.run_report_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(step)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.run_title)
        layout.addWidget(self.bar)
        layout.addWidget(self.run_status)
        layout.addWidget(hint)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.run_step = step
        self.stack.addWidget(step)

    # --- helpers -----------------------------------------------------------------------------------

    def _show_steps(self, *_: Any) -> None:
        """ "1 File › 2 Columns › 3 Dry run › 4 Import", the current step in bold."""
        current = self.stack.currentIndex()
        self.steps.setText(
            " › ".join(
                f"<b>{n}. {name}</b>" if i == current else f"{n}. {name}"
                for i, (n, name) in enumerate(enumerate(STEP_NAMES, start=1))
            )
        )

    def entity(self) -> str:
        return str(self.entity_box.currentData() or "")

    def say(self, text: str, error: bool = False) -> None:
        self.notice_text.setText(text)
        self.notice.setProperty("role", "alert" if error else "info")
        self.notice.style().unpolish(self.notice)
        self.notice.style().polish(self.notice)
        self.notice.setVisible(bool(text))

    def _read(self, coro: Any, done: Callable[[Any], None]) -> asyncio.Task[None]:
        """A read in the background (no data change); a failure goes to the one error handler."""

        async def body() -> None:
            try:
                result = await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if shiboken6.isValid(self):
                    handle_error(self, exc)
                return
            if shiboken6.isValid(self):
                done(result)

        return tasks.spawn(body())

    def _entity_changed(self, *_: Any) -> None:
        entity = self.entity()
        self.template_button.setEnabled(bool(entity))
        self.file_button.setEnabled(bool(entity))
        self.owner_row.setEnabled(entity in OWNED)
        if not entity:
            self.fields_note.setText("Your role may not import anything. Ask an administrator.")
            return
        self.fields_note.setText("")

        def arrived(items: list[Any]) -> None:
            for one in items:
                if one.entity == self.entity():
                    required = [f.label for f in one.fields if f.required]
                    self.fields_note.setText(
                        f"{len(one.fields)} columns; required: {', '.join(required) or 'none'}. "
                        "The template has a Help sheet with an example of each."
                    )

        self._read(imports_api.entities(self.api), arrived)

    # --- step 1: the file --------------------------------------------------------------------------

    def ask_template(self) -> QFileDialog:
        entity = self.entity()
        return _save_dialog(self, "Save the template as", f"{entity}-import-template.xlsx", self.save_template_to)

    def save_template_to(self, path: str) -> asyncio.Task[int | None]:
        def saved(_size: int) -> None:
            self.saved_to = path
            self.say(f"Template saved to {path}. Fill it in, then choose it with “Choose file…”.")

        return operations.run(
            self, imports_api.save_template(self.api, self.entity(), path), success=saved, busy=self.template_button
        )

    def ask_file(self) -> QFileDialog:
        dialog = QFileDialog(self, "Choose the file to import", "", FILE_FILTER)
        dialog.setObjectName("importOpenDialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.fileSelected.connect(self.upload_file)
        dialog.open()
        return dialog

    def upload_file(self, path: str) -> asyncio.Task[UploadOut | None] | None:
        refusal = file_refusal(Path(path))
        if refusal:
            self.say(refusal, error=True)
            return None
        self.say("")
        self.file_label.setText(f"Reading {Path(path).name}…")
        self.sheet_box.setVisible(False)
        task = operations.run(
            self,
            imports_api.upload(self.api, self.entity(), path),
            success=self._uploaded,
            changed=imports_api.CHANGED,
            busy=self.file_button,
        )
        task.add_done_callback(lambda t: self._upload_failed(path) if t.result() is None else None)
        return task

    def _upload_failed(self, path: str) -> None:
        if shiboken6.isValid(self):
            self.file_label.setText(f"{Path(path).name} could not be read.")

    def _uploaded(self, upload: UploadOut) -> None:
        self.upload = upload
        self.item = upload.item
        self.fields = upload.fields
        self.file_label.setText(f"{upload.item.file_name}: {format.number(upload.rows)} rows")
        if upload.sheet is None:
            self.sheet_choice.clear()
            self.sheet_choice.addItems(upload.sheets)
            if set(upload.sheets[1:]) <= TEMPLATE_SHEETS:  # our own template: its first sheet holds the rows
                self.read_sheet()
                return
            self.sheet_box.setVisible(True)
            return
        self.sheet_box.setVisible(False)
        self._fill_mapping(upload)
        self.stack.setCurrentWidget(self.columns_step)

    def read_sheet(self) -> asyncio.Task[UploadOut | None] | None:
        if self.item is None or not self.sheet_choice.currentText():
            return None
        return operations.run(
            self,
            imports_api.choose_sheet(self.api, self.item.id, self.sheet_choice.currentText()),
            success=self._uploaded,
            busy=self.sheet_button,
        )

    # --- step 2: the columns -----------------------------------------------------------------------

    def _fill_mapping(self, upload: UploadOut) -> None:
        table = self.mapping_table
        table.setRowCount(len(upload.headers))
        self._field_boxes, self._wins, self._notes = [], [], []
        first = upload.sample[0] if upload.sample else []
        for row, header in enumerate(upload.headers):
            table.setItem(row, COL_HEADER, _cell(header))
            table.setItem(row, COL_SAMPLE, _cell(first[row] if row < len(first) else ""))
            box = QComboBox(table)
            box.setObjectName(f"importField{row}")
            box.setAccessibleName(f"Field for the column {header}")
            box.addItem(SKIP, None)
            for spec in upload.fields:
                box.addItem(f"{spec.label} *" if spec.required else spec.label, spec.name)
            chosen = upload.mapping.get(header)
            box.setCurrentIndex(max(box.findData(chosen), 0) if chosen else 0)
            box.currentIndexChanged.connect(self._mapping_changed)
            table.setCellWidget(row, COL_FIELD, box)
            note = QLabel(table)
            note.setWordWrap(True)
            note.setContentsMargins(6, 0, 6, 0)
            table.setCellWidget(row, COL_NOTE, note)
            wins = QCheckBox(table)
            wins.setObjectName(f"importWins{row}")
            wins.setAccessibleName(f"The column {header} wins")
            wins.toggled.connect(lambda on, r=row: self._wins_toggled(r, on))
            table.setCellWidget(row, COL_WINS, wins)
            self._field_boxes.append(box)
            self._notes.append(note)
            self._wins.append(wins)
        remembered = " (as you mapped these headers last time)" if upload.mapping_remembered else ""
        self.columns_title.setText(
            f"{upload.item.file_name}"
            + (f", sheet {upload.sheet}" if upload.sheet and upload.sheet != "CSV" else "")
            + f": {format.number(upload.rows)} rows. Check which field each column fills{remembered}."
        )
        self.duplicate_mode.setCurrentIndex(max(self.duplicate_mode.findData(upload.item.duplicate_mode.value), 0))
        self._mapping_changed()

    def mapping(self) -> dict[str, str | None]:
        """Column header -> field (None: skipped), as the table shows it now."""
        headers = self.upload.headers if self.upload is not None else []
        return {h: box.currentData() for h, box in zip(headers, self._field_boxes, strict=False)}

    def field_label(self, name: str) -> str:
        return next((f.label for f in self.fields if f.name == name), name)

    def duplicates(self) -> dict[str, list[int]]:
        """Fields filled by more than one column: field -> the rows of those columns."""
        by_field: dict[str, list[int]] = {}
        for row, box in enumerate(self._field_boxes):
            name = box.currentData()
            if name:
                by_field.setdefault(str(name), []).append(row)
        return {name: rows for name, rows in by_field.items() if len(rows) > 1}

    def winners(self) -> dict[str, str]:
        """field -> the column that wins, for each field two columns fill and one is marked."""
        headers = self.upload.headers if self.upload is not None else []
        chosen: dict[str, str] = {}
        for name, rows in self.duplicates().items():
            marked = [r for r in rows if self._wins[r].isChecked()]
            if len(marked) == 1:
                chosen[name] = headers[marked[0]]
        return chosen

    def unresolved(self) -> list[str]:
        """Fields two columns fill with no winner marked ("Duplicate Header")."""
        won = self.winners()
        return [name for name in self.duplicates() if name not in won]

    def _wins_toggled(self, row: int, on: bool) -> None:
        if on:  # one winner per field
            name = self._field_boxes[row].currentData()
            for other in self.duplicates().get(str(name), []):
                if other != row and self._wins[other].isChecked():
                    self._wins[other].setChecked(False)
        self._mapping_changed()

    def _mapping_changed(self, *_: Any) -> None:
        headers = self.upload.headers if self.upload is not None else []
        duplicates = self.duplicates()
        won = self.winners()
        for row, note in enumerate(self._notes):
            name = self._field_boxes[row].currentData()
            wins = self._wins[row]
            rows = duplicates.get(str(name)) if name else None
            wins.setEnabled(rows is not None)
            if rows is None:
                if wins.isChecked():
                    wins.blockSignals(True)
                    wins.setChecked(False)
                    wins.blockSignals(False)
                note.setText("")
                note.setStyleSheet("")
                continue
            others = ", ".join(f"“{headers[r]}”" for r in rows if r != row)
            winner = won.get(str(name))
            if winner is None:
                text = (
                    f"Duplicate Header: {self.field_label(str(name))} also comes from {others}. Tick the one that wins."
                )
                color = "danger"
            elif winner == headers[row]:
                text = f"Duplicate Header: this column wins over {others}."
                color = "success"
            else:
                text = f"Duplicate Header: ignored, “{winner}” wins."
                color = "muted"
            note.setText(text)
            note.setToolTip(text)
            note.setStyleSheet(f"color: {theme.current().token(color)};")
        missing = self.missing_required()
        problems = []
        if self.unresolved():
            problems.append("Duplicate Header: tick which column wins")
        if missing:
            problems.append("Required Field Missing: no column fills " + ", ".join(missing))
        self.dry_run_button.setToolTip(
            "; ".join(problems) if problems else "Check every row by the same rules as the import; nothing is saved"
        )

    def missing_required(self) -> list[str]:
        """Required fields no column fills (the dry run then names every row's error too)."""
        filled = {v for v in self.mapping().values() if v}
        return [f.label for f in self.fields if f.required and f.name not in filled]

    def mapping_in(self) -> MappingIn:
        owner = self.owner.value() if self.owner_mode.currentData() == "person" and self.entity() in OWNED else None
        return MappingIn(
            mapping=self.mapping(),
            winners=self.winners(),
            duplicate_mode=DuplicateMode(self.duplicate_mode.currentData()),
            owner_id=owner,
        )

    # --- step 3: the dry run -----------------------------------------------------------------------

    def dry_run(self) -> asyncio.Task[DryRunOut | None] | None:
        if self.item is None:
            return None
        unresolved = self.unresolved()
        if unresolved:
            labels = ", ".join(self.field_label(n) for n in unresolved)
            self.say(
                f"Duplicate Header: two columns fill {labels}. Tick the column that wins, or skip one.", error=True
            )
            return None
        if self.owner_mode.currentData() == "person" and self.entity() in OWNED and self.owner.value() is None:
            self.say("Choose the person who owns the new records, or let the assignment rules decide.", error=True)
            return None
        self.say("")
        return operations.run(
            self,
            imports_api.map_and_dry_run(self.api, self.item.id, self.mapping_in()),
            success=self._checked,
            busy=self.dry_run_button,
        )

    def _checked(self, result: DryRunOut) -> None:
        self.check = result
        self.item = result.item
        self.counts_label.setText(
            f"To create: {format.number(result.to_create)} · To update: {format.number(result.to_update)} · "
            f"To skip: {format.number(result.to_skip)} · In error: {format.number(result.in_error)}"
        )
        self._show_same_file(result.item)
        # The preview: the row number and what happens to it, then the fields as they will be saved.
        keys = [k for k in (result.preview[0] if result.preview else {}) if k not in ("_row", "_action")]
        table = self.preview_table
        table.clear()
        table.setColumnCount(2 + len(keys))
        table.setHorizontalHeaderLabels(["Row", "Will be", *[self.field_label(k) for k in keys]])
        table.setRowCount(len(result.preview))
        for r, row in enumerate(result.preview):
            table.setItem(r, 0, _cell(row.get("_row") or ""))
            table.setItem(r, 1, _cell(format.label(row.get("_action") or "")))
            for c, key in enumerate(keys, start=2):
                table.setItem(r, c, _cell(row.get(key) or ""))
        table.resizeColumnsToContents()
        errors = self.errors_table
        errors.setRowCount(len(result.errors))
        for r, error in enumerate(result.errors):
            errors.setItem(r, 0, _cell(str(error.row)))
            errors.setItem(r, 1, _cell(error.column or "(the whole row)"))
            errors.setItem(r, 2, _cell(str(error.error)))
            errors.setItem(r, 3, _cell(error.reason))
        self.report_button.setEnabled(result.in_error > 0)
        nothing = result.to_create + result.to_update == 0
        self.import_button.setEnabled(not nothing)
        self.import_button.setToolTip("Nothing to create or update" if nothing else "")
        self.stack.setCurrentWidget(self.check_step)

    def _show_same_file(self, item: ImportOut) -> None:
        warning = item.same_file_warning
        self.same_file_text.setText(f"{warning} Importing it again may add the same rows twice." if warning else "")
        self.same_file.setVisible(bool(warning))

    def ask_error_report(self) -> QFileDialog | None:
        if self.item is None:
            return None
        stem = Path(self.item.file_name).stem
        return _save_dialog(self, "Save the error report as", f"{stem}-errors.xlsx", self.save_error_report_to)

    def save_error_report_to(self, path: str) -> asyncio.Task[int | None] | None:
        if self.item is None:
            return None

        def saved(_size: int) -> None:
            self.saved_to = path
            self.say(f"Error report saved to {path}. Fix the rows there and import that file.")

        return operations.run(
            self, imports_api.save_error_report(self.api, self.item.id, path), success=saved, busy=self.report_button
        )

    # --- step 4: the import ------------------------------------------------------------------------

    def begin_import(self) -> QMessageBox | asyncio.Task[Any] | None:
        """Import: the same file asks first; a large one offers a backup first; then it starts."""
        if self.item is None:
            return None
        if self.item.same_file_warning:
            return self._ask(
                "importSameFileQuestion",
                "The same file again?",
                f"{self.item.same_file_warning} Import it again?",
                [("Import again", lambda: self._offer_backup(confirm_same_file=True))],
            )
        return self._offer_backup(confirm_same_file=False)

    def _offer_backup(self, confirm_same_file: bool) -> QMessageBox | asyncio.Task[Any] | None:
        assert self.item is not None
        grant = self.me.permissions.get("admin")
        may_back_up = grant is not None and "edit" in grant.actions
        if self.item.rows_total > BACKUP_OFFER_ROWS and may_back_up:
            return self._ask(
                "importBackupQuestion",
                "Back up first?",
                f"This import has {format.number(self.item.rows_total)} rows. A backup of the database taken "
                "now lets you go back to this moment whatever happens.",
                [
                    ("Back up first", lambda: self.back_up_then_start(confirm_same_file)),
                    ("Import without a backup", lambda: self.start(confirm_same_file)),
                ],
            )
        return self.start(confirm_same_file)

    def _ask(self, name: str, title: str, text: str, choices: list[tuple[str, Callable[[], object]]]) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, self)
        box.setObjectName(name)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        actions = {box.addButton(words, QMessageBox.ButtonRole.AcceptRole): then for words, then in choices}
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setEscapeButton(cancel)
        box.buttonClicked.connect(lambda button: actions[button]() if button in actions else None)
        box.open()
        return box

    def back_up_then_start(self, confirm_same_file: bool) -> asyncio.Task[Any]:
        def started(backup: BackupOut) -> None:
            self.backup = backup
            self.say("Backing up the database before the import…")
            self._wait_for_backup(confirm_same_file)

        return operations.run(
            self, backups_api.run_now(self.api), success=started, changed=backups_api.CHANGED, busy=self.import_button
        )

    def _wait_for_backup(self, confirm_same_file: bool) -> None:
        async def follow() -> None:
            assert self.backup is not None
            self.import_button.setEnabled(False)
            backup = self.backup
            while backup.status == "running":
                await asyncio.sleep(POLL_MS / 1000)
                try:
                    backup = await backups_api.get_backup(self.api, backup.id)
                except ApiError as exc:
                    if shiboken6.isValid(self):
                        handle_error(self, exc)
                        self.import_button.setEnabled(True)
                    return
                if not shiboken6.isValid(self):
                    return
                self.say(f"Backing up the database before the import… {int(backup.progress * 100)}%")
            self.backup = backup
            self.import_button.setEnabled(True)
            if backup.status != "succeeded":
                reason = backup.error_message or format.label(backup.status)
                self.say(f"The backup did not finish ({reason}); nothing was imported.", error=True)
                return
            self.say("Backup done. Importing…")
            self.start(confirm_same_file)

        tasks.spawn(follow())

    def start(self, confirm_same_file: bool = False) -> asyncio.Task[ImportOut | None] | None:
        if self.item is None:
            return None

        def started(item: ImportOut) -> None:
            self._announced = False
            self._show_run(item)
            self.stack.setCurrentWidget(self.run_step)
            self.poll.start()

        return operations.run(
            self,
            imports_api.start(self.api, self.item.id, StartIn(confirm_same_file=confirm_same_file)),
            success=started,
            changed=imports_api.CHANGED,
            busy=self.import_button,
        )

    def cancel_import(self) -> asyncio.Task[ImportOut | None] | None:
        if self.item is None:
            return None
        return operations.run(
            self,
            imports_api.cancel(self.api, self.item.id),
            success=self._show_run,
            changed=imports_api.CHANGED,
            busy=self.cancel_button,
        )

    def _on_event(self, event: LiveEvent) -> None:
        if (
            event.module != imports_api.MODULE
            or self.item is None
            or event.entity_id != self.item.id
            or not shiboken6.isValid(self)
        ):
            return
        update = {
            k: event.data[k]
            for k in ("rows_done", "rows_total", "created", "updated", "skipped", "errors")
            if isinstance(event.data.get(k), int)
        }
        if "status" in event.data:
            try:
                update["status"] = ImportStatus(event.data["status"])
            except ValueError:
                pass
        if update:
            total = update.get("rows_total", self.item.rows_total)
            done = update.get("rows_done", self.item.rows_done)
            update["progress"] = done / total if total else 0.0
            self._show_run(self.item.model_copy(update=update))
        if self.item.status in FINISHED:
            self._poll()  # the whole import (its finish time, its reason) once it ends

    def refresh(self) -> None:
        """Read the import again now (a live event said it moved)."""
        self._poll()

    def _poll(self) -> None:
        if self.item is None:
            return
        self._read(imports_api.get_import(self.api, self.item.id), self._show_run)

    def _show_run(self, item: ImportOut) -> None:
        self.item = item
        what = ENTITIES.get(item.entity, item.entity)
        self.run_title.setText(f"{what} from {item.file_name}")
        if item.rows_total:
            self.bar.setRange(0, item.rows_total)
            self.bar.setValue(min(item.rows_done, item.rows_total))
        else:
            self.bar.setRange(0, 0 if item.status not in FINISHED else 1)
        running = item.status not in FINISHED
        if running:
            self.run_status.setText(f"{STATUS_WORDS[item.status]}… {progress_text(item)}: {counts_text(item)}.")
        elif item.status is ImportStatus.done:
            self.run_status.setText(f"Done: {counts_text(item)}.")
        elif item.status is ImportStatus.cancelled:
            self.run_status.setText(
                f"Cancelled after {progress_text(item)}: {counts_text(item)}. "
                "What was imported stays; Admin > Data Management can revert it."
            )
        else:
            self.run_status.setText(status_text(item))
        self.cancel_button.setVisible(running)
        self.run_report_button.setVisible(not running and item.errors > 0)
        if not running:
            self.poll.stop()
            if not self._announced:  # the lists showing the entity reload once
                self._announced = True
                change_bus().announce(imports_api.changed_by(item.entity))

    def done(self, result: int) -> None:  # closed: stop following (the import goes on on the server)
        self.poll.stop()
        super().done(result)

    # --- screenshots -------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return self.owner.is_busy()


def open_wizard(
    parent: QWidget, api: ApiClient, me: Me, entity: str | None = None, *, events: Any = None
) -> ImportWizard:
    """A list's "Import…" (or the history's "New import…"): the wizard on that entity."""
    wizard = ImportWizard(api, me, entity, parent, events=events)
    wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    wizard.open()
    return wizard


SAMPLE_CSV = (
    "Full Name,E-mail,Company Name,Phone Number\n"
    "Ioana Radu,ioana.radu@example.com,Radu Design,+40 721 000 111\n"
    "Mihai Stan,mihai.stan@@example,Stan Logistics,+40 722 000 222\n"
    "Elena Pop,elena.pop@example.com,Pop & Co,+40 723 000 333\n"
)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """Hook of ``python -m crm_desktop.screenshots``: the wizard's steps on a small leads file."""
    import tempfile

    wizard = ImportWizard(ctx.api, ctx.me, "leads", ctx.main, events=getattr(ctx.session, "events", None))
    wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    wizard.resize(900, 640)
    wizard.show()
    shown: QWidget = ctx.main if ctx.main is not None else wizard  # the dialog over its window
    yield "import-wizard-file", shown
    folder = Path(tempfile.mkdtemp(prefix="crm-import-shot-"))
    sample = folder / "trade-fair-leads.csv"
    sample.write_text(SAMPLE_CSV, encoding="utf-8")
    wizard.upload_file(str(sample))
    yield "import-wizard-columns", shown
    if wizard.stack.currentWidget() is wizard.columns_step:
        wizard.dry_run()
        yield "import-wizard-dry-run", shown
    wizard.close()


__all__ = ["ImportWizard", "can_import", "counts_text", "importable", "open_wizard", "status_text"]

"""Exports as jobs on the desktop: a list page's "Export" asks the server for an export of what its
filter shows and opens the progress dialog (a live progress bar, Cancel, then "Save as…"); the
Exports page (user menu > "My exports…") lists the person's exports with their state, progress,
size and expiry, to download, cancel, or export again once expired.

    begin_export(self, self.session, "leads", LeadQuery.model_validate(self.query()))
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from typing import Any

import shiboken6
from pydantic import BaseModel
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import exports as exports_api
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_server.contract.common import Page
from crm_server.contract.events import LiveEvent
from crm_server.contract.exports import ENTITIES, ENTITY_MODULES, FINISHED, STATE_WORDS, ExportOut, ExportState

POLL_MS = 1000  # when no live event came for a while (the stream may be down), ask
FILTERS = {"xlsx": "Excel workbook (*.xlsx)", "csv": "CSV, UTF-8 (*.csv)"}
FORMATS = {"xlsx": "Excel workbook (.xlsx)", "csv": "CSV, UTF-8 (.csv)"}


def size_text(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{format.number(round(size / 1024, 1))} KB"
    return f"{format.number(round(size / (1024 * 1024), 1))} MB"


def progress_text(export: ExportOut) -> str:
    if export.rows_total is not None:
        return f"{format.number(export.rows_done)} of {format.number(export.rows_total)} rows"
    return f"{format.number(export.rows_done)} rows"


def state_text(export: ExportOut) -> str:
    words = STATE_WORDS[export.state]
    if export.state is ExportState.failed and export.error:
        return f"{words}: {export.error}"
    if export.state is ExportState.expired:
        return "Expired, export again"
    return words


def ask_file(parent: QWidget, export: ExportOut, on_path: Callable[[str], object]) -> QFileDialog:
    """Where to save the export's file ("Save as…")."""
    dialog = QFileDialog(parent, "Save the export as", export.file_name, FILTERS.get(export.format, ""))
    dialog.setObjectName("exportSaveDialog")
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setDefaultSuffix(export.format)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    dialog.fileSelected.connect(on_path)
    dialog.open()
    return dialog


class ExportProgressDialog(QDialog):
    """One export followed live: a progress bar, Cancel while it runs, "Save as…" once done."""

    def __init__(self, session: Session, export: ExportOut, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportProgressDialog")
        self.session = session
        self.api = session.api
        self.export = export
        self.saved_to: str | None = None
        self._asking = False
        self.setWindowTitle(f"Exporting {ENTITIES.get(export.entity, export.entity).lower()}")
        layout = QVBoxLayout(self)
        self.title = QLabel(self)
        self.title.setObjectName("exportTitle")
        self.bar = QProgressBar(self)
        self.bar.setObjectName("exportProgress")
        self.bar.setMinimumWidth(360)
        self.status = QLabel(self)
        self.status.setObjectName("exportStatus")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(self)
        self.cancel_button = QPushButton("Cancel export", buttons)
        self.save_button = QPushButton("Save as…", buttons)
        self.close_button = QPushButton("Close", buttons)
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button.clicked.connect(self.save)
        self.close_button.clicked.connect(self.close)
        for widget in (self.title, self.bar, self.status, buttons):
            layout.addWidget(widget)
        session.events.event.connect(self._on_event)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._timer.start()
        self._show(export)

    # --- following ---------------------------------------------------------------------------

    def _on_event(self, event: LiveEvent) -> None:
        if event.module != exports_api.MODULE or event.entity_id != self.export.id or not shiboken6.isValid(self):
            return
        update: dict[str, Any] = {k: event.data[k] for k in ("state", "rows_done", "rows_total") if k in event.data}
        self._show(self.export.model_copy(update={**update, "state": ExportState(update.get("state", "pending"))}))
        if self.export.state in FINISHED:
            self._poll()  # the size, the expiry and the reason come with the whole export

    def _poll(self) -> None:
        async def fetch() -> None:
            try:
                export = await exports_api.get_export(self.api, self.export.id)
            except ApiError as exc:
                self.status.setText(exc.message)
                return
            if shiboken6.isValid(self):
                self._show(export)

        tasks.spawn(fetch())

    def _show(self, export: ExportOut) -> None:
        self.export = export
        what = ENTITIES.get(export.entity, export.entity)
        self.title.setText(f"{what} as .{export.format}")
        if export.rows_total:
            self.bar.setRange(0, export.rows_total)
            self.bar.setValue(min(export.rows_done, export.rows_total))
        elif export.state in FINISHED:
            self.bar.setRange(0, 1)
            self.bar.setValue(1 if export.state is ExportState.done else 0)
        else:
            self.bar.setRange(0, 0)  # busy: the count is not known yet
        words = state_text(export)
        if export.state is ExportState.done:
            words = f"Done: {progress_text(export)}, {size_text(export.size_bytes)}."
            if self.saved_to:
                words += f" Saved to {self.saved_to}."
        elif export.state in (ExportState.pending, ExportState.running):
            words = f"{words}… {progress_text(export)}"
        self.status.setText(words)
        running = export.state not in FINISHED
        self.cancel_button.setVisible(running)
        self.save_button.setVisible(export.state is ExportState.done)
        if not running:
            self._timer.stop()

    # --- actions ---------------------------------------------------------------------------------

    def cancel(self) -> asyncio.Task[ExportOut | None]:
        return operations.run(
            self,
            exports_api.cancel_export(self.api, self.export.id),
            success=self._show,
            changed=exports_api.CHANGED,
            busy=self.cancel_button,
        )

    def save(self) -> QFileDialog:
        return ask_file(self, self.export, self.save_to)

    def save_to(self, path: str) -> asyncio.Task[int | None]:
        def saved(_size: int) -> None:
            self.saved_to = path
            self._show(self.export)

        return operations.run(
            self, exports_api.save_export(self.api, self.export.id, path), success=saved, busy=self.save_button
        )

    def done(self, result: int) -> None:  # closed: stop following (the export goes on on the server)
        self._timer.stop()
        super().done(result)


def begin_export(
    parent: QWidget,
    session: Session,
    entity: str,
    query: BaseModel | dict[str, Any],
    fmt: str = "xlsx",
    opened: Callable[[ExportProgressDialog], None] | None = None,
) -> asyncio.Task[ExportOut | None]:
    """A list page's Export: ask the server for the export of what its filter shows, then follow it."""

    def started(export: ExportOut) -> None:
        dialog = ExportProgressDialog(session, export, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.open()
        if opened is not None:
            opened(dialog)

    return operations.run(
        parent,
        exports_api.start_export(session.api, entity, fmt, query),
        success=started,
        changed=exports_api.CHANGED,
    )


def exportable(session: Session) -> list[str]:
    """The lists this person may export (their role's export permission on the list's module)."""
    return [e for e in ENTITIES if session.can(ENTITY_MODULES[e], "export") and session.can(ENTITY_MODULES[e])]


class ExportButton(QToolButton):
    """A list page's "Export…": a click exports .xlsx, its arrow offers .csv too; `dialog` is the
    progress dialog of the last export it started."""

    dialog: ExportProgressDialog | None = None

    def __init__(self, parent: QWidget, entity: str, start: Callable[[str], object]) -> None:
        super().__init__(parent)
        self.setText("Export…")
        self.setObjectName(f"{entity}Export")
        self.setToolTip(f"Export the {ENTITIES[entity].lower()} these filters show (Ctrl+E); the arrow offers .csv")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.setProperty("role", "split")
        menu = QMenu(self)
        for fmt, words in FORMATS.items():
            action = menu.addAction(words)
            action.setObjectName(f"exportAs{fmt.title()}")
            action.triggered.connect(functools.partial(start, fmt))
        self.setMenu(menu)
        self.clicked.connect(lambda: start("xlsx"))

    def add_choice(self, name: str, words: str, start: Callable[[], object]) -> QAction:
        """One more entry in the arrow's menu (the client list's "Their contacts")."""
        if not any(a.isSeparator() for a in self.menu().actions()):
            self.menu().addSeparator()
        action = self.menu().addAction(words)
        action.setObjectName(name)
        action.triggered.connect(lambda: start())
        return action

    def format_action(self, fmt: str) -> QAction:
        """The menu's "as .csv" (or .xlsx) entry."""
        return next(a for a in self.menu().actions() if a.objectName() == f"exportAs{fmt.title()}")


def export_action(
    page: QWidget, session: Session, entity: str, query: Callable[[], BaseModel | dict[str, Any]]
) -> ExportButton:
    """A list page's "Export…" button (and Ctrl+E) for what its filters show: place the button (a
    filter bar's add_trailing); it is shown only to roles with the list module's export permission."""
    allowed = session.can(ENTITY_MODULES[entity], "export")

    def opened(dialog: ExportProgressDialog) -> None:
        button.dialog = dialog

    def start(fmt: str = "xlsx") -> None:
        if session.can(ENTITY_MODULES[entity], "export"):
            begin_export(page, session, entity, query(), fmt, opened=opened)

    button = ExportButton(page, entity, start)
    button.setVisible(allowed)
    if allowed:
        shortcut = QShortcut(QKeySequence("Ctrl+E"), page)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(start)
    return button


class NewExportDialog(QDialog):
    """A whole list (as far as one's scope reaches) as .xlsx or .csv; a list page's Export button
    exports what its filter shows instead."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("newExportDialog")
        self.setWindowTitle("New export")
        form = QFormLayout(self)
        self.entity = QComboBox(self)
        for entity in exportable(session):
            self.entity.addItem(ENTITIES[entity], entity)
        self.format = QComboBox(self)
        for fmt, words in FORMATS.items():
            self.format.addItem(words, fmt)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Export")
        self.ok_button.setEnabled(self.entity.count() > 0)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow("List", self.entity)
        form.addRow("Format", self.format)
        form.addRow(buttons)


class ExportsPage(QWidget):
    """The person's exports, newest first, kept up to date live."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportsPage")
        self.session = session
        self.api = session.api
        columns: list[Column[ExportOut]] = [
            Column("List", lambda e: ENTITIES.get(e.entity, e.entity)),
            Column("Format", lambda e: f".{e.format}"),
            Column("State", state_text, tooltip=lambda e: e.error),
            Column("Progress", progress_text, align_right=True),
            Column("Size", lambda e: size_text(e.size_bytes), align_right=True),
            Column("Asked", lambda e: format.moment(e.created_at)),
            Column("Expires", lambda e: format.moment(e.expires_at) if e.state is ExportState.done else ""),
        ]
        self.model = PagedTableModel[ExportOut](columns, self._fetch, page_size=50, parent=self)
        self.table = PagedTable(
            self.model,
            "Exports you start from a list's Export button appear here.",
            self,
            icon="inbox",
            empty_title="No exports yet",
        )
        self.table.set_noun("export", "exports")
        self.download_button = QPushButton("Save as…", self)
        self.download_button.setObjectName("exportDownload")
        self.cancel_button = QPushButton("Cancel", self)
        self.again_button = QPushButton("Export again", self)
        self.new_button = QPushButton("New export…", self)
        self.new_button.setEnabled(bool(exportable(session)))
        self.refresh_button = QPushButton("Refresh", self)
        self.notice = QLabel(self)
        self.notice.setObjectName("exportsNotice")
        self.notice.setWordWrap(True)
        self.download_button.clicked.connect(self.download)
        self.cancel_button.clicked.connect(self.cancel)
        self.again_button.clicked.connect(self.export_again)
        self.new_button.clicked.connect(self.new_export)
        self.refresh_button.clicked.connect(self.model.reload)
        bar = QHBoxLayout()
        for button in (self.new_button, self.download_button, self.cancel_button, self.again_button):
            bar.addWidget(button)
        bar.addStretch(1)
        bar.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.notice)
        layout.addWidget(self.table, 1)
        self.table.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.modelReset.connect(self._update_buttons)
        self.model.dataChanged.connect(self._update_buttons)
        session.events.event.connect(self._on_event)
        self._update_buttons()
        self.model.reload()

    async def _fetch(self, offset: int, limit: int, after: str | None) -> Page[ExportOut]:
        return await exports_api.list_exports(self.api, offset, limit)

    def _on_event(self, event: LiveEvent) -> None:
        if event.module != exports_api.MODULE or not shiboken6.isValid(self):
            return
        row = self.model.find(event.entity_id)
        if row is None or event.action != "progress":
            self.model.reload()  # a new export, or one that ended: its size and expiry come whole
            return
        current = self.model.row(row)
        update: dict[str, Any] = {k: event.data[k] for k in ("rows_done", "rows_total") if k in event.data}
        self.model.replace_row(current.model_copy(update={**update, "state": ExportState.running}))

    def current(self) -> ExportOut | None:
        return self.table.current_row()

    def _update_buttons(self, *_: Any) -> None:
        export = self.current()
        self.download_button.setEnabled(export is not None and export.state is ExportState.done)
        self.cancel_button.setEnabled(export is not None and export.state not in FINISHED)
        self.again_button.setEnabled(export is not None and export.state in FINISHED)

    def download(self) -> QFileDialog | None:
        export = self.current()
        if export is None:
            return None
        return ask_file(self, export, lambda path: self.download_to(export, path))

    def download_to(self, export: ExportOut, path: str) -> asyncio.Task[None]:
        async def save() -> None:
            try:
                await exports_api.save_export(self.api, export.id, path)
            except ApiError as exc:
                if exc.status == 410:  # expired: say so in place, and offer "Export again"
                    self.notice.setText(exc.message)
                    self.model.reload()
                    return
                raise
            self.notice.setText(f"Saved to {path}.")

        return operations.run(self, save(), busy=self.download_button)

    def cancel(self) -> asyncio.Task[ExportOut | None] | None:
        export = self.current()
        if export is None:
            return None

        def cancelled(done: ExportOut) -> None:
            self.model.replace_row(done)
            self._update_buttons()

        return operations.run(
            self,
            exports_api.cancel_export(self.api, export.id),
            success=cancelled,
            changed=exports_api.CHANGED,
            busy=self.cancel_button,
        )

    def new_export(self) -> NewExportDialog:
        dialog = NewExportDialog(self.session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)

        def chosen() -> None:
            begin_export(self, self.session, str(dialog.entity.currentData()), {}, str(dialog.format.currentData()))

        dialog.accepted.connect(chosen)
        dialog.open()
        return dialog

    def export_again(self) -> asyncio.Task[ExportOut | None] | None:
        """The same list, filter and format as a new export."""
        export = self.current()
        if export is None:
            return None
        return begin_export(self, self.session, export.entity, export.filter, export.format)


class ExportsWindow(QDialog):
    """The Exports page in a window of its own, from the user menu ("My exports…")."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportsWindow")
        self.setWindowTitle("My exports")
        self.resize(1100, 480)
        layout = QVBoxLayout(self)
        self.page = ExportsPage(session, self)
        layout.addWidget(self.page)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """Hook of ``python -m crm_desktop.screenshots``: the Exports window (user menu > My exports…)
    with an export of the demo's leads starting over it (its progress dialog), then the list alone."""
    window = ctx.main.show_exports()
    begin_export(window.page, ctx.session, "leads", {}, "xlsx")
    yield "exports-progress", window
    for dialog in window.findChildren(ExportProgressDialog):
        dialog.close()
    window.page.model.reload()
    yield "exports", window

"""The lead list: a server-paged, server-sorted table with bulk actions and the Excel export.

A million leads scroll as smoothly as ten: rows arrive a page at a time (PagedTableModel), a click
on a header asks the server for the other order, and live events patch the rows they name. Bulk
work (reassign, change status, add or remove a tag) is one leads.bulk_change for the selected
rows; what the server skipped, and why, is said in the notice above the table.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import shiboken6
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import leads as leads_api
from crm_desktop.api.imports import IMPORTED
from crm_desktop.views.admin.common import UserNames, field
from crm_desktop.views.exports import ExportButton, ExportProgressDialog, begin_export
from crm_desktop.views.imports import ImportWizard, open_wizard
from crm_desktop.views.leads.lookups import sales_lookups
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.user_picker import UserPicker
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.common import Page
from crm_server.contract.events import LiveEvent
from crm_server.contract.leads import BulkRequest, BulkResult, LeadOut, LeadQuery, StatusKind

log = logging.getLogger(__name__)

PAGE_SIZE = 100
RELOAD_DELAY_MS = 400


def money(row: LeadOut) -> str:
    return "" if row.value is None else format.money(row.value, row.currency)


class LeadList(QWidget):
    """Leads matching the filters, newest first unless a header says otherwise."""

    open_requested = Signal(int)  # a lead id (Enter / double-click); the list opens it too
    selection_changed = Signal(int)  # how many rows are selected

    def __init__(self, session: Any, parent: QWidget | None = None, page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent)
        self.setObjectName("leadList")
        self.session = session
        self.api = session.api
        self.lookups = sales_lookups(session)
        self.names = UserNames(self.api)
        self.filters: dict[str, Any] = {}
        self.sort = "-created_at"

        # (column, its key in LeadSort or None when the server cannot sort by it, width)
        columns: list[tuple[Column[LeadOut], str | None, int]] = [
            (Column("Name", lambda r: r.person_name), "person_name", 170),
            (Column("Company", lambda r: r.company or ""), "company", 170),
            (Column("Status", lambda r: self.lookups.status_name(r.status_id)), None, 110),
            (Column("Owner", lambda r: self.names.name(r.owner_id, "Unassigned")), None, 130),
            (Column("Value", money, align_right=True), "value", 110),
            (
                Column(
                    "Expected close",
                    lambda r: format.day(r.expected_close_date) if r.expected_close_date else "",
                ),
                "expected_close_date",
                110,
            ),
            (Column("Email", lambda r: r.email or ""), None, 190),
            (Column("Phone", lambda r: r.phone or ""), None, 130),
            (Column("Tags", lambda r: ", ".join(r.tags)), None, 120),
            (Column("Created", lambda r: format.moment(r.created_at)), "created_at", 130),
        ]
        self.sort_keys = [key for _, key, _ in columns]
        self.model = PagedTableModel([c for c, _, _ in columns], self._fetch, page_size=page_size, parent=self)
        self.table = PagedTable(
            self.model, "Try another search, or clear the filters.", icon="leads", empty_title="No leads match"
        )
        self.table.set_noun("lead", "leads")
        view = self.table.view
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        for i, (_, _, width) in enumerate(columns):
            view.setColumnWidth(i, width)
        header = view.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(self.sort_keys.index("created_at"), Qt.SortOrder.DescendingOrder)
        header.sortIndicatorChanged.connect(self._sort_clicked)
        view.activated.connect(self._activated)
        view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        self.model.modelReset.connect(self._update_actions)

        self._build_toolbar()
        self.notice = QFrame()
        self.notice.setObjectName("leadListNotice")
        self.notice.setProperty("role", "info")
        self.notice_text = QLabel("")
        self.notice_text.setWordWrap(True)
        notice_row = QHBoxLayout(self.notice)
        notice_row.setContentsMargins(12, 8, 12, 8)
        notice_row.addWidget(self.notice_text, 1)
        self.notice.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(self.toolbar)
        layout.addWidget(self.notice)
        layout.addWidget(self.table, 1)

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.reload)
        self.lookups.changed.connect(self._repaint)
        operations.change_bus().changed.connect(self._on_changed)
        session.events.event.connect(self._on_event)
        self._shortcut(QKeySequence("Ctrl+E"), self.export)
        self._shortcut(QKeySequence(Qt.Key.Key_F5), self.reload)
        self._update_actions()
        self.model.reload()

    # --- building --------------------------------------------------------------------------------

    def _build_toolbar(self) -> None:
        self.selected_label = QLabel("")
        self.selected_label.setObjectName("leadSelection")
        self.selected_label.setProperty("role", "muted")
        self.reassign_button = self._button("Reassign…", "Give the selected leads to a colleague", self.reassign)
        self.status_button = self._button(
            "Change status…", "Move the selected leads to another status", self.change_status
        )
        self.tag_add_button = self._button("Add tag…", "Add a tag to the selected leads", self.add_tag)
        self.tag_remove_button = self._button("Remove tag…", "Remove a tag from the selected leads", self.remove_tag)
        self.export_button = ExportButton(self, "leads", self.export)
        self.import_button = self._button("Import…", "Import leads from Excel or CSV", self.import_file)
        self.import_button.setObjectName("leadsImport")
        self.toolbar = QHBoxLayout()
        self.toolbar.setSpacing(8)
        for button in (self.reassign_button, self.status_button, self.tag_add_button, self.tag_remove_button):
            self.toolbar.addWidget(button)
        self.toolbar.addWidget(self.selected_label)
        self.toolbar.addStretch(1)
        self.toolbar.addWidget(self.import_button)
        self.toolbar.addWidget(self.export_button)

    def _button(self, text: str, tip: str, handler: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda: handler())
        return button

    def _shortcut(self, key: QKeySequence, handler: Callable[[], object]) -> QShortcut:
        shortcut = QShortcut(key, self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(lambda: handler())
        return shortcut

    # --- loading ---------------------------------------------------------------------------------

    def query(self) -> dict[str, Any]:
        """The current filters and order, as the list's query (and the export's)."""
        return {**self.filters, "sort": self.sort}

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[LeadOut]:
        query = LeadQuery.model_validate({**self.query(), "offset": offset, "limit": limit, "after": after})
        page = await leads_api.list_leads(self.api, query)
        await self.names.ensure(lead.owner_id for lead in page.items)  # names before rows show
        if not self.lookups.loaded:
            await self.lookups.ready()
        return page

    def set_filters(self, params: dict[str, Any]) -> None:
        """New filters from the filter bar (LeadFilters' query parameters); None means "any"."""
        filters = {k: v for k, v in params.items() if v is not None and v != ""}
        if filters != self.filters:
            self.filters = filters
            self.reload()

    def reload(self) -> None:
        self._reload_timer.stop()
        self.model.reload()

    def is_busy(self) -> bool:
        return self.model.loading

    def _repaint(self) -> None:
        if self.model.rowCount():
            self.model.dataChanged.emit(
                self.model.index(0, 0), self.model.index(self.model.rowCount() - 1, self.model.columnCount() - 1)
            )

    def _sort_clicked(self, section: int, order: Qt.SortOrder) -> None:
        key = self.sort_keys[section] if 0 <= section < len(self.sort_keys) else None
        header = self.table.view.horizontalHeader()
        if key is None:  # not sortable on the server: put the arrow back where the order is
            current = self.sort.lstrip("-")
            header.blockSignals(True)
            header.setSortIndicator(
                self.sort_keys.index(current),
                Qt.SortOrder.DescendingOrder if self.sort.startswith("-") else Qt.SortOrder.AscendingOrder,
            )
            header.blockSignals(False)
            return
        self.sort = ("-" if order == Qt.SortOrder.DescendingOrder else "") + key
        self.reload()

    # --- live ------------------------------------------------------------------------------------

    def _on_changed(self, areas: frozenset[str]) -> None:
        if ("*" in areas or IMPORTED in areas) and shiboken6.isValid(self):
            self.reload()  # an import (or its revert) ended: many rows came or went at once

    def _on_event(self, event: LiveEvent) -> None:
        """Another desktop (or our own save) changed a lead: patch its row, or reload soon."""
        if not shiboken6.isValid(self) or event.module != "leads" or event.entity != "lead":
            return
        if event.action == "created" or self.model.find(event.entity_id) is None:
            if event.action == "created":
                self._reload_timer.start()  # a burst of imports reloads once
            return
        tasks.spawn(self._patch(event.entity_id))

    async def _patch(self, lead_id: int) -> None:
        lead: LeadOut | None
        try:
            lead = await leads_api.get_lead(self.api, lead_id)
        except Exception as exc:  # gone or no longer visible to me: drop the row
            log.info("lead %s not patched: %s", lead_id, exc)
            lead = None
        if not shiboken6.isValid(self):
            return
        if lead is None or (lead.archived_at is not None) != bool(self.filters.get("archived")):
            self.model.remove_row(lead_id)
            return
        await self.names.ensure([lead.owner_id])
        if shiboken6.isValid(self):
            self.model.replace_row(lead)

    # --- selection -------------------------------------------------------------------------------

    def selected_rows(self) -> list[LeadOut]:
        rows = sorted(i.row() for i in self.table.view.selectionModel().selectedRows())
        return [self.model.row(i) for i in rows if i < self.model.rowCount()]

    def selected_ids(self) -> list[int]:
        return [lead.id for lead in self.selected_rows()]

    def _update_actions(self) -> None:
        count = len(self.table.view.selectionModel().selectedRows())
        can_edit = self.session.can("leads", "edit")
        for button in (self.reassign_button, self.status_button, self.tag_add_button, self.tag_remove_button):
            shown_if(button, can_edit)
            button.setEnabled(count > 0)
        shown_if(self.export_button, self.session.can("leads", "export"))
        shown_if(self.import_button, self.session.can("leads", "import"))
        self.selected_label.setText(f"{count} selected" if count > 1 else "")
        self.selection_changed.emit(count)

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_lead(self.model.row(index.row()).id)

    def open_lead(self, lead_id: int) -> QWidget:
        from crm_desktop.views.leads.detail import open_lead

        self.open_requested.emit(lead_id)
        return open_lead(self, self.session, lead_id)

    def say(self, text: str) -> None:
        self.notice_text.setText(text)
        self.notice.setVisible(bool(text))

    # --- bulk actions ----------------------------------------------------------------------------

    def bulk(
        self,
        body: dict[str, Any],
        done_text: str,
        parent: QWidget | None = None,
        fields: dict[str, QWidget] | None = None,
        finish: Callable[[], None] | None = None,
    ) -> None:
        """One bulk change for the selected rows; says what was done and what was skipped."""
        ids = self.selected_ids()
        if not ids:
            return

        def done(result: BulkResult) -> None:
            if finish is not None:
                finish()
            if not shiboken6.isValid(self):
                return
            updated, skipped = result.updated, result.skipped
            text = f"{len(updated)} {'lead' if len(updated) == 1 else 'leads'} {done_text}."
            if skipped:
                reasons = sorted({s.message for s in skipped})
                text += f" {len(skipped)} skipped: {' '.join(reasons)}"
            self.say(text)
            self.reload()

        operations.run(
            parent or self,
            leads_api.bulk_change(self.api, BulkRequest.model_construct(ids=ids, **body)),
            success=done,
            changed=leads_api.CHANGED,
            fields=fields,
        )

    def reassign(self) -> QDialog | None:
        if not self.selected_ids():
            return None
        dialog = BulkDialog(self, "Reassign leads", f"Give {self._count()} to:")
        picker = UserPicker(self.api, active_only=True)
        picker.setAccessibleName("New owner")
        dialog.add("Owner", picker)
        picker.user_changed.connect(lambda uid: dialog.ok.setEnabled(uid is not None))
        dialog.ok.setEnabled(False)
        dialog.submit = lambda: self.bulk(
            {"action": "reassign", "owner_id": picker.user_id},
            "reassigned",
            dialog,
            {"owner_id": picker},
            dialog.accept,
        )
        dialog.picker = picker
        dialog.open()
        return dialog

    def change_status(self) -> QDialog | None:
        rows = self.selected_rows()
        if not rows:
            return None
        dialog = BulkDialog(self, "Change status", f"Move {self._count()} to:")
        combo = QComboBox()
        combo.setAccessibleName("Status")
        pipelines = {lead.pipeline_id for lead in rows}
        for pipeline in self.lookups.pipelines:
            if pipeline.id not in pipelines:
                continue
            for status in pipeline.statuses:
                label = status.name if len(pipelines) == 1 else f"{pipeline.name} — {status.name}"
                combo.addItem(label, status.id)
        dialog.add("Status", combo)
        dialog.combo = combo

        def submit() -> None:
            status_id = combo.currentData()
            if status_id is None:
                return
            if self.lookups.is_kind(status_id, StatusKind.lost):
                dialog.accept()
                self._ask_lost_reason(status_id)
                return
            self.bulk(
                {"action": "status", "status_id": status_id}, "moved", dialog, {"status_id": combo}, dialog.accept
            )

        dialog.submit = submit
        dialog.open()
        return dialog

    def _ask_lost_reason(self, status_id: int) -> QDialog:
        from crm_desktop.views.leads.move_dialogs import LostReasonDialog

        dialog = LostReasonDialog(self.lookups.lost_reasons, self._count(), self)
        dialog.submitted.connect(
            lambda extra: self.bulk(
                {"action": "status", "status_id": status_id, **extra},
                "marked as lost",
                dialog,
                dialog.fields(),
                dialog.finish,
            )
        )
        dialog.open()
        return dialog

    def add_tag(self) -> QDialog | None:
        return self._tag_dialog("tag_add", "Add a tag", "Tag {n} with:", "tagged")

    def remove_tag(self) -> QDialog | None:
        return self._tag_dialog("tag_remove", "Remove a tag", "Remove from {n}:", "untagged")

    def _tag_dialog(self, action: str, title: str, text: str, done: str) -> QDialog | None:
        rows = self.selected_rows()
        if not rows:
            return None
        dialog = BulkDialog(self, title, text.format(n=self._count()))
        tag = QComboBox()
        tag.setEditable(True)
        tag.setAccessibleName("Tag")
        if action == "tag_remove":
            tag.addItems(sorted({t for lead in rows for t in lead.tags}))
        tag.setCurrentText("")
        dialog.add("Tag", tag)
        dialog.tag = tag
        edit = tag.lineEdit()
        assert edit is not None  # an editable combo box always has its line edit
        edit.setPlaceholderText("e.g. hot")
        dialog.ok.setEnabled(False)
        edit.textChanged.connect(lambda t: dialog.ok.setEnabled(bool(t.strip())))
        dialog.submit = lambda: self.bulk(
            {"action": action, "tag": tag.currentText().strip()}, done, dialog, {"tag": tag}, dialog.accept
        )
        dialog.open()
        return dialog

    def _count(self) -> str:
        n = len(self.selected_ids())
        if n == 1:
            return self.selected_rows()[0].person_name
        return f"{n} leads"

    # --- export ----------------------------------------------------------------------------------

    def export(self, fmt: str = "xlsx") -> asyncio.Task[Any] | None:
        """Ctrl+E: export the leads of the current filters as a job (views/exports.py): its dialog
        shows the progress and Cancel, then "Save as…"."""
        if not self.session.can("leads", "export"):
            return None
        query = LeadQuery.model_validate(self.query())
        return begin_export(self, self.session, "leads", query, fmt, opened=self._export_opened)

    def _export_opened(self, dialog: ExportProgressDialog) -> None:
        self.export_dialog = dialog

    def import_file(self) -> ImportWizard | None:
        """Import…: the import wizard on leads (views/imports/); the list reloads when it ends."""
        if not self.session.can("leads", "import"):
            return None
        return open_wizard(self, self.session.api, self.session.me, "leads", events=self.session.events)

    # --- screenshots -----------------------------------------------------------------------------

    def select_first(self, count: int) -> None:
        view = self.table.view
        view.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for i in range(min(count, self.model.rowCount())):
            view.selectionModel().select(self.model.index(i, 0), flags)


class BulkDialog(QDialog):
    """A small question before a bulk change (who, which status, which tag); `submit` sends it."""

    def __init__(self, parent: QWidget, title: str, text: str) -> None:
        super().__init__(parent)
        self.setObjectName("leadBulkDialog")
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(400)
        self.submit: Callable[[], None] = lambda: None
        # The question's field, set by the action that opened the dialog (tests and screenshots use it).
        self.picker: UserPicker | None = None
        self.combo: QComboBox | None = None
        self.tag: QComboBox | None = None
        heading = QLabel(text)
        heading.setProperty("role", "heading")
        self.form = QFormLayout()
        self.form.setSpacing(10)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Apply")
        self.ok.setProperty("role", "primary")
        self.buttons.accepted.connect(lambda: self.submit())
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(12)
        layout.addWidget(heading)
        layout.addLayout(self.form)
        layout.addWidget(self.buttons)

    def add(self, label: str, widget: QWidget) -> QWidget:
        self.form.addRow(label, field(widget))
        return widget


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The lead list on the demo data, and with rows selected for a bulk change."""
    page = QWidget()
    page.setObjectName("content")
    layout = QVBoxLayout(page)
    layout.setContentsMargins(20, 16, 20, 16)
    title = QLabel("Leads")
    title.setProperty("role", "title")
    layout.addWidget(title)
    leads = LeadList(ctx.session, page)
    layout.addWidget(leads, 1)
    yield "leads-list", page
    leads.select_first(3)
    yield "leads-list-selected", page
    dialog = leads.reassign()
    yield "leads-list-bulk-reassign", page
    if dialog is not None:
        dialog.close()
    page.close()

"""The audit log: who changed what and when, filtered by user, record type, record and period, with
the changed fields of the selected entry and "Export CSV" of exactly what the filters select."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QIntValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHeaderView,
    QLineEdit,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from crm_desktop import format
from crm_desktop.api import admin as admin_api
from crm_desktop.api.client import ApiClient, ApiError, Offline
from crm_desktop.operations import handle_error
from crm_desktop.views.admin.common import AdminPage, Event, ScreenshotState, UserNames, can, title_label
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.user_picker import UserPicker
from crm_server.contract.admin import AuditEntryOut
from crm_server.contract.auth import Me
from crm_server.contract.common import Page

# Record types the server audits (crm_server: audit.record(entity=...)); the server has no list of them.
RECORD_TYPES = (
    "assignment_rule",
    "automation_rule",
    "client",
    "contact",
    "email_pipe_log",
    "follow_up",
    "integration_event",
    "invoice",
    "job",
    "lead",
    "lead_source",
    "lost_reason",
    "note",
    "notification",
    "payment",
    "pipeline",
    "pipeline_status",
    "product",
    "proposal",
    "purchase_order",
    "role",
    "sales_order",
    "settings",
    "stock_document",
    "stock_product_settings",
    "stock_reservation",
    "tax_rate",
    "team",
    "ticket",
    "ticket_category",
    "ticket_comment",
    "user",
    "warehouse",
    "web_form",
    "webhook_delivery",
    "webhook_subscription",
)
PAGE_SIZE = 100


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return format.value(value)


def record_name(row: AuditEntryOut) -> str:
    """Which record, in words: "Lead: Ana Pop", "Invoice: INV-2026-0007"; a deleted one by its number."""
    entity, name = row.entity, row.label
    if entity == "settings":
        return "Settings"
    return f"{format.label(entity)}: {name}" if name else f"{format.label(entity)} #{row.entity_id}"


# Fields whose values are user ids: shown by the person's name.
USER_FIELDS = frozenset({"owner_id", "assignee_id", "records_reassigned_to", "completed_by", "created_by", "user_id"})


def _user_ids(entries: Iterable[AuditEntryOut]) -> Iterator[int]:
    for entry in entries:
        yield from (entry.actor_id,) if entry.actor_id is not None else ()
        for change in entry.changes:
            if change.field in USER_FIELDS:
                yield from (v for v in (change.old, change.new) if isinstance(v, int) and not isinstance(v, bool))


class AuditPage(AdminPage):
    """Audit entries newest first; details of the selected one below."""

    title = "Audit log"

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.names = UserNames(api)
        self.groups: dict[str, dict[int, str]] = {}  # "role_id"/"team_id" -> id -> name, read when one is missing
        self.export_task: asyncio.Task[None] | None = None
        self.progress: QProgressDialog | None = None

        self.filters = FilterBar()
        self.user = UserPicker(api, active_only=False)
        self.user.setPlaceholderText("Anyone")
        self.user.setMinimumWidth(150)
        self.filters.add_widget("actor_id", self.user, self.user.value, "User")
        self.user.user_changed.connect(lambda _: self.filters.changed.emit())
        self.entity = self.filters.add_choice(
            "entity", "Record type", sorted((format.label(k), k) for k in RECORD_TYPES)
        )
        self.entity_id = QLineEdit()
        self.entity_id.setPlaceholderText("Any")
        self.entity_id.setValidator(QIntValidator(1, 2_000_000_000, self))
        self.entity_id.setFixedWidth(80)
        self.entity_id.setAccessibleName("Record number")
        self.entity_id.textChanged.connect(lambda _: self.filters.changed.emit())
        self.filters.add_widget(
            "entity_id",
            self.entity_id,
            lambda: int(self.entity_id.text()) if self.entity_id.text() else None,
            "Record #",
        )
        self.period = self.filters.add_period()
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save the entries these filters select as a CSV file")
        self.export_button.setEnabled(can(me, "export"))
        self.export_button.clicked.connect(self.ask_export)
        self.filters.add_stretch()

        n = self.names
        columns: list[Column[AuditEntryOut]] = [
            Column("When", lambda r: format.moment(r.at)),
            Column("User", lambda r: n.name(r.actor_id, "system")),
            Column("Record", record_name, tooltip=record_name),
            Column("Action", lambda r: format.label(r.action)),
            Column("Changes", self._summary, tooltip=self._summary),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model,
            "Changes appear here as people work. Try a wider period.",
            icon="inbox",
            empty_title="No audit entries match",
        )
        self.table.set_noun("entry", "entries")
        self.table.view.setColumnWidth(0, 150)
        self.table.view.setColumnWidth(1, 160)
        self.table.view.setColumnWidth(2, 220)
        self.table.view.setColumnWidth(3, 110)
        self.table.view.selectionModel().selectionChanged.connect(lambda *_: self._show_details())
        self.filters.changed.connect(self.model.reload)
        self._live_reload = QTimer(self)
        self._live_reload.setSingleShot(True)
        self._live_reload.setInterval(1000)
        self._live_reload.timeout.connect(self._reload_if_at_top)

        self.details = QTableWidget(0, 3)
        self.details.setObjectName("auditDetails")
        self.details.setHorizontalHeaderLabels(["Field", "Before", "After"])
        self.details.verticalHeader().setVisible(False)
        self.details.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.details.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.details.setAccessibleName("Changed fields")

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        self.root.addWidget(
            title_label("Audit log", "Every change: who, when, and each field's old and new value.", self.export_button)
        )
        self.root.addWidget(self.filters)
        self.root.addWidget(self.notice)
        self.root.addWidget(splitter, 1)

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[AuditEntryOut]:
        page = await admin_api.audit(self.api, offset, limit, after=after, **self.filters.values())
        await self.names.ensure(_user_ids(page.items))
        wanted = {
            (c.field, v)
            for entry in page.items
            for c in entry.changes
            if c.field in ("role_id", "team_id")
            for v in (c.old, c.new)
            if isinstance(v, int)
        }
        if any(v not in self.groups.get(f, {}) for f, v in wanted if f == "role_id"):
            self.groups["role_id"] = {r.id: r.name for r in await admin_api.list_roles(self.api)}
        if any(v not in self.groups.get(f, {}) for f, v in wanted if f == "team_id"):
            self.groups["team_id"] = {t.id: t.name for t in await admin_api.list_teams(self.api)}
        return page

    def _value(self, field: str, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            if field in USER_FIELDS:
                return self.names.name(value)
            if field in self.groups:
                return self.groups[field].get(value, f"#{value}")
        return _value(value)

    def _summary(self, row: AuditEntryOut) -> str:
        # A job's entry names its task in the Record column already ("Job: Make the recurring invoices").
        changes = [c for c in row.changes if not (row.entity == "job" and c.field == "task")]
        parts = [
            f"{format.label(c.field)}: {self._value(c.field, c.old)} → {self._value(c.field, c.new)}" for c in changes
        ]
        text = "; ".join(parts)
        return text if len(text) < 200 else text[:197] + "…"

    def reload(self) -> None:
        self.model.reload()

    def on_live_event(self, event: Event) -> None:
        """Every audited change also sends an event; new entries go on top, so start over (at
        most once a second, however busy the office) only while the person looks at the top."""
        if self.loaded and not self._live_reload.isActive():
            self._live_reload.start()

    def _reload_if_at_top(self) -> None:
        if self.table.view.verticalScrollBar().value() == 0 and not self.model.loading:
            self.model.reload()

    def is_busy(self) -> bool:
        return super().is_busy() or self.model.loading or (self.export_task is not None and not self.export_task.done())

    def _show_details(self) -> None:
        row = self.table.current_row()
        changes = row.changes if row else []
        self.details.setRowCount(len(changes))
        for i, change in enumerate(changes):
            cells = (
                format.label(change.field),
                self._value(change.field, change.old),
                self._value(change.field, change.new),
            )
            for j, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.details.setItem(i, j, item)

    # --- export --------------------------------------------------------------------------------

    def ask_export(self) -> None:
        """The save dialog, opened without a nested event loop; its choice starts the download."""
        dialog = QFileDialog(self, "Export the audit log")
        dialog.setObjectName("auditExportDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("CSV files (*.csv)")
        dialog.setDefaultSuffix("csv")
        dialog.selectFile(f"audit-log-{date.today().isoformat()}.csv")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.fileSelected.connect(self.export_to)
        dialog.open()

    def export_to(self, path: str) -> asyncio.Task[None]:
        """Download the audit log as CSV with the current filters into `path`, with a progress dialog."""
        progress = QProgressDialog("Downloading the audit log…", "Cancel", 0, 0, self)
        progress.setObjectName("auditExportProgress")
        progress.setWindowTitle("Export CSV")
        progress.setMinimumDuration(0)
        # Not modal: a modal QProgressDialog's setValue() runs processEvents() inside the asyncio task,
        # re-entering the qasync loop (timers were lost and the loop stalled).
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        self.progress = progress
        self.export_button.setEnabled(False)
        task = asyncio.ensure_future(self._download(Path(path), self.filters.values(), progress))
        self.export_task = task
        progress.canceled.connect(task.cancel)
        progress.show()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _download(self, target: Path, params: dict[str, Any], progress: QProgressDialog) -> None:
        # Written next to the target and renamed at the end: a failed or cancelled export leaves
        # no half file behind under the chosen name.
        partial = target.with_name(target.name + ".part")
        received = 0
        try:
            async with admin_api.audit_csv(self.api, params) as response:
                length = int(response.headers.get("content-length") or 0)
                if length:
                    progress.setMaximum(length)
                with partial.open("wb") as out:
                    async for chunk in response.aiter_bytes():
                        out.write(chunk)
                        received += len(chunk)
                        progress.setLabelText(f"Downloading the audit log… {received / 1024:,.0f} KB")
                        if length:
                            progress.setValue(received)
            os.replace(partial, target)
            self.say(f"Exported the audit log to {target} ({received / 1024:,.0f} KB).")
        except asyncio.CancelledError:
            partial.unlink(missing_ok=True)
            self.say("The export was cancelled.")
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
            self.progress = None
            self.export_button.setEnabled(can(self.me, "export"))

    def screenshot_states(self) -> list[ScreenshotState]:
        def details() -> None:
            if self.model.rowCount():
                self.table.view.selectRow(0)

        return [("admin-audit", lambda: None), ("admin-audit-details", details)]

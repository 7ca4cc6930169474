"""The clients page: search and filters, the server-paged list, New client (Ctrl+N), Enter opens.

The list stays current without losing the reader's place: when clients change (our own save, or
another desktop's, announced on the change bus) the rows held are fetched again in one request and
patched in place; only when rows came or went is the list loaded from the top.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, tasks
from crm_desktop.api import clients as clients_api
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.views.clients.dialogs import ClientDialog, owner_names, warning_text
from crm_desktop.views.exports import FORMATS, ExportButton, ExportProgressDialog, begin_export
from crm_desktop.views.imports import ImportWizard, open_wizard
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.list_page import (
    HeaderSort,
    KeepSelected,
    LiveReload,
    show_empty_state,
    title_bar,
)
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.user_picker import UserPicker
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.clients import ClientOut, ClientQuery
from crm_server.contract.common import Page

log = logging.getLogger(__name__)

PAGE_SIZE = 100
REFRESH_AREAS = clients_api.CHANGED
SORTABLE = {0: "name", 5: "created_at"}  # column -> the server's sort key (the others are not sortable)


class ClientsPage(QWidget):
    """Everything of the Clients module but the detail windows (see detail.open_client)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.names = owner_names(session)
        self.sort = "name"
        self._refresh_task: asyncio.Task[None] | None = None

        self.filters = FilterBar()
        self.search = self.filters.add_search("q", "Search name, VAT, phone, email…")
        self.owner = UserPicker(self.api, active_only=False)
        self.owner.setPlaceholderText("Anyone")
        self.owner.setMinimumWidth(200)
        self.owner.user_changed.connect(lambda _: self.filters.changed.emit())
        self.filters.add_widget("owner_id", self.owner, self.owner.value, "Owner")
        self.archived = QCheckBox("Show archived")
        self.archived.setToolTip("List the archived clients instead")
        self.archived.toggled.connect(lambda _: self.filters.changed.emit())
        self.filters.add_widget("archived", self.archived, lambda: True if self.archived.isChecked() else None)
        self.filters.changed.connect(self.reload)

        columns: list[Column[ClientOut]] = [
            Column("Name", lambda c: c.name),
            Column("VAT", lambda c: c.vat_number or "—"),
            Column("Phone", lambda c: c.phone or "—"),
            Column("Email", lambda c: c.email or "—"),
            Column("Owner", lambda c: self.names.name(c.owner_id)),
            Column("Created", lambda c: format.day(c.created_at)),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model, "Press Ctrl+N to add your first client.", icon="clients", empty_title="No clients yet"
        )
        self.table.set_noun("client", "clients")
        view = self.table.view
        view.setAccessibleName("Clients")
        for column, width in enumerate((240, 130, 140, 220, 150, 100)):
            view.setColumnWidth(column, width)
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.header_sort = HeaderSort(self, SORTABLE)
        view.activated.connect(lambda _: self.open_selected())
        self.keep = KeepSelected(self.table, self._update_actions)
        self.names.changed.connect(self._repaint)

        self.new_button = QPushButton("New client")
        self.new_button.setProperty("role", "primary")
        self.new_button.setToolTip("New client (Ctrl+N)")
        self.new_button.clicked.connect(self.new_client)
        shown_if(self.new_button, session.can("clients", "create"))
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open the selected client (Enter)")
        self.open_button.clicked.connect(self.open_selected)
        self.export_button = ExportButton(self, "clients", self.export)
        for fmt, words in FORMATS.items():
            self.export_button.add_choice(
                f"exportContacts{fmt.title()}",
                f"Their contacts: {words}",
                functools.partial(self.export, fmt, "contacts"),
            )
        self.import_button = QPushButton("Import…")
        self.import_button.setObjectName("clientsImport")
        self.import_button.setToolTip("Import clients with their contacts from Excel or CSV")
        self.import_button.clicked.connect(lambda: self.import_file())
        shown_if(self.import_button, session.can("clients", "import"))
        view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        self.model.modelReset.connect(self._update_actions)

        self.notice = QFrame()
        self.notice.setObjectName("pageNotice")
        self.notice.setProperty("role", "info")
        self.notice.setVisible(False)
        self.notice_text = QLabel()
        self.notice_text.setWordWrap(True)
        self.notice_link = QPushButton()
        self.notice_link.setProperty("role", "link")
        self.notice_link.setVisible(False)
        self._notice_client: int | None = None
        self.notice_link.clicked.connect(lambda: self._notice_client and self.open_client(self._notice_client))
        notice_row = QHBoxLayout(self.notice)
        notice_row.setContentsMargins(12, 8, 12, 8)
        notice_row.addWidget(self.notice_text, 1)
        notice_row.addWidget(self.notice_link)

        root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 16)
        root.setSpacing(12)
        root.addWidget(
            title_bar(
                "Clients", "Companies and people you work with. Enter opens one; Ctrl+N adds one.", self.new_button
            )
        )
        self.filters.add_trailing(self.import_button)
        self.filters.add_trailing(self.export_button)
        self.filters.add_trailing(self.open_button)
        self.export_button.setVisible(session.can("clients", "export"))  # placed: no window of its own
        root.addWidget(self.filters)
        root.addWidget(self.notice)
        root.addWidget(self.table, 1)

        new = QShortcut(QKeySequence.StandardKey.New, self)
        new.activated.connect(self.new_client)
        new.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        export = QShortcut(QKeySequence("Ctrl+E"), self)
        export.activated.connect(self.export)
        export.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        reload = QShortcut(QKeySequence(Qt.Key.Key_F5), view)
        reload.activated.connect(self.reload)
        reload.setContext(Qt.ShortcutContext.WidgetShortcut)
        self.live = LiveReload(self, (), self.refresh, on_change=self._on_changed)  # "*" reloads at once
        self._update_actions()
        self.reload()

    # --- loading ---------------------------------------------------------------------------------

    def query(self) -> dict[str, Any]:
        return {**self.filters.values(), "sort": self.sort}

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[ClientOut]:
        query = ClientQuery.model_validate({**self.query(), "offset": offset, "limit": limit, "after": after})
        return await clients_api.list_clients(self.api, query)

    def reload(self) -> None:
        """From the top, with the filters as they are now (F5, a new filter)."""
        if self.archived.isChecked() and len(self.filters.values()) == 1:
            self.table.empty_title, self.table.empty_text = "No archived clients", "Archived clients show here."
        else:
            show_empty_state(
                self.table, self.query(), "No clients yet", "Press Ctrl+N to add your first client.", "No clients match"
            )
        self.keep.remember()
        self.model.reload()

    def sort_by_column(self, column: int) -> None:
        self.header_sort.click(column)

    def _on_changed(self, areas: frozenset[str]) -> None:
        if "*" in areas:
            self.names.reload()
            self.reload()
        elif areas & REFRESH_AREAS:
            self.live.later()

    def refresh(self) -> None:
        """Fetch the rows held again; patch them in place, or start over if rows came or went."""
        if self.model.loading or (self._refresh_task is not None and not self._refresh_task.done()):
            self.live.later()  # after the page in flight
            return
        self._refresh_task = tasks.spawn(self._refresh())

    async def _refresh(self) -> None:
        held = self.model.rows()
        limit = min(max(len(held), PAGE_SIZE), 500)
        try:
            page = await self._fetch(0, limit)
        except ApiError as exc:
            log.info("client list refresh failed: %s", exc.message)
            return
        if not shiboken6.isValid(self):
            return
        fresh = page.items[: len(held)]
        same_rows = [r.id for r in fresh] == [r.id for r in held] and page.total == self.model.total
        if not same_rows or len(held) > 500 or self.model.rows() != held:
            self.reload()
            return
        for old, new in zip(held, fresh, strict=True):
            if old != new:
                self.model.replace_row(new)

    def _repaint(self) -> None:
        rows = self.model.rowCount()
        if rows:
            self.model.dataChanged.emit(self.model.index(0, 0), self.model.index(rows - 1, 4))

    def _update_actions(self) -> None:
        self.open_button.setEnabled(self.table.current_row() is not None)

    # --- actions ---------------------------------------------------------------------------------

    def say(self, text: str, link_to: ClientOut | None = None) -> None:
        """One calm line over the list ("Acme SRL is created."), with an Open link when useful."""
        self.notice_text.setText(text)
        self.notice.setVisible(bool(text))
        self._notice_client = link_to.id if link_to else None
        self.notice_link.setVisible(link_to is not None)
        if link_to is not None:
            self.notice_link.setText(f"Open {link_to.name}")

    def new_client(self) -> ClientDialog | None:
        if not self.session.can("clients", "create"):
            return None
        dialog = ClientDialog(self.session, self, open_client=self.open_client)
        dialog.created.connect(self._created)
        dialog.open()
        return dialog

    def _created(self, client: ClientOut) -> None:
        self.keep.select(client.id)
        warning = warning_text(client)
        text = f"{client.name} is created."
        self.say(f"{text} {warning}" if warning else text, link_to=client)
        self.reload()

    def import_file(self, entity: str = "clients") -> ImportWizard | None:
        """Import…: the import wizard on clients (views/imports/)."""
        if not self.session.can("clients", "import"):
            return None
        return open_wizard(self, self.session.api, self.session.me, entity, events=self.session.events)

    def export(self, fmt: str = "xlsx", entity: str = "clients") -> asyncio.Task[Any] | None:
        """Export…: the clients these filters show (or, `entity` "contacts", their contacts), as a
        job (views/exports.py: progress, Cancel, then "Save as…")."""
        if not self.session.can("clients", "export"):
            return None
        query = ClientQuery.model_construct(**self.query())
        return begin_export(self, self.session, entity, query, fmt, opened=self._export_opened)

    def _export_opened(self, dialog: ExportProgressDialog) -> None:
        self.export_dialog = dialog

    def open_selected(self) -> QWidget | None:
        row = self.table.current_row()
        return self.open_client(row.id) if row is not None else None

    def open_client(self, client_id: int, contact_id: int | None = None) -> QWidget:
        from crm_desktop.views.clients.detail import open_client

        return open_client(self, self.session, client_id, contact_id=contact_id)

    def open_record(self, record_type: str, record_id: int, parent_id: int | None = None) -> QWidget | None:
        """A global-search hit: a client opens its window; a contact opens its client's, on the contact."""
        if record_type == "client":
            return self.open_client(record_id)
        if record_type == "contact" and parent_id is not None:
            return self.open_client(parent_id, contact_id=record_id)
        return None

    def is_busy(self) -> bool:
        return self.model.loading or (self._refresh_task is not None and not self._refresh_task.done())

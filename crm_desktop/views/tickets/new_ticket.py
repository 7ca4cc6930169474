"""The dialog that opens a support ticket, from the Tickets page or from a client's window.

    dialog = NewTicketDialog(session, client_id=7, contact_id=3, parent=window)
    dialog.created.connect(...)      # the TicketOut the server made
    dialog.open()

The category decides the team (the server routes it; the dialog says where it will go before the
ticket is made). Once made, the dialog offers to open the ticket.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import shiboken6
from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import admin, clients, tickets
from crm_desktop.api.client import ApiClient
from crm_desktop.operations.errors import mark_field
from crm_desktop.views.admin.common import field
from crm_server.contract.clients import ClientOut, ClientQuery
from crm_server.contract.tickets import CategoryOut, Priority, TicketIn, TicketOut

log = logging.getLogger(__name__)

ID_ROLE = Qt.ItemDataRole.UserRole + 1


class Lookups:
    """Ticket categories and teams, read once per form (short lists the admin edits)."""

    def __init__(self) -> None:
        self.categories: list[CategoryOut] = []
        self.teams: dict[int, str] = {}

    async def load(self, api: ApiClient) -> Lookups:
        categories, teams = await asyncio.gather(tickets.list_categories(api), admin.list_teams(api))
        self.categories = categories
        self.teams = {t.id: t.name for t in teams}
        return self

    def team_name(self, team_id: int | None, empty: str = "No team") -> str:
        return empty if team_id is None else self.teams.get(team_id, f"team #{team_id}")

    def category(self, category_id: int | None) -> CategoryOut | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def route_text(self, category_id: int | None) -> str:
        category = self.category(category_id)
        if category is None:
            return ""
        if category.team_id is None:
            return "This category has no team: the ticket stays with the creator's team."
        return f"Routed to the {self.team_name(category.team_id)} team."


def fill_categories(combo: QComboBox, lookups: Lookups, current: int | None) -> None:
    combo.blockSignals(True)
    combo.clear()
    for category in lookups.categories:
        team = lookups.team_name(category.team_id, "")
        combo.addItem(f"{category.name}  →  {team}" if team else category.name, category.id)
    index = combo.findData(current)
    if index < 0 and current is None:
        index = next((i for i in range(combo.count()) if lookups.categories[i].name.lower() == "general"), 0)
    combo.setCurrentIndex(max(index, 0))
    combo.blockSignals(False)


def fill_priorities(combo: QComboBox) -> None:
    for priority in Priority:
        combo.addItem(format.label(priority), priority.value)


def tag_list(text: str) -> list[str]:
    return [t.strip().lower() for t in text.split(",") if t.strip()]


class ClientPicker(QLineEdit):
    """Choose a client by typing part of its name; matches come from the client list's search."""

    client_changed = Signal(object)  # the client (with its contacts) or None

    def __init__(self, api: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.client: ClientOut | None = None
        self._seq = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.setPlaceholderText("Type a client's name…")
        self.setClearButtonEnabled(True)
        self.matches = QStandardItemModel(self)
        completer = QCompleter(self.matches, self)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.activated[QModelIndex].connect(  # type: ignore[index]
            lambda index: self.choose_id(int(index.data(ID_ROLE)))
        )
        self.setCompleter(completer)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.search_now)
        self.textEdited.connect(self._edited)

    @property
    def client_id(self) -> int | None:
        return None if self.client is None else self.client.id

    @property
    def busy(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def _spawn(self, coro: Any) -> None:
        task = tasks.spawn(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _edited(self, text: str) -> None:
        if self.client is not None and text != self.client.name:
            self.client = None
            self.client_changed.emit(None)
        self._debounce.start()

    def search_now(self) -> None:
        self._seq += 1
        self._spawn(self._search(self.text().strip(), self._seq))

    async def _search(self, text: str, seq: int) -> None:
        try:
            page = await clients.list_clients(self.api, ClientQuery(q=text or None, limit=20))
        except Exception as exc:  # a failed suggestion list is not worth a dialog
            log.info("client search failed: %s", exc)
            return
        if seq != self._seq or not shiboken6.isValid(self):
            return
        self.matches.clear()
        for client in page.items:
            item = QStandardItem(client.name)
            item.setData(client.id, ID_ROLE)
            self.matches.appendRow(item)
        if self.hasFocus() and self.matches.rowCount():
            self.completer().complete()

    def choose(self, row: int) -> None:
        """Take the row-th match (what Enter in the popup does)."""
        self.choose_id(int(self.matches.item(row).data(ID_ROLE)))

    def choose_id(self, client_id: int) -> None:
        self._spawn(self._fetch(client_id))

    async def _fetch(self, client_id: int) -> None:
        try:
            client = await clients.get_client(self.api, client_id)
        except Exception as exc:
            log.info("client %s did not load: %s", client_id, exc)
            return
        if shiboken6.isValid(self):
            self.set_client(client)

    def set_client(self, client: ClientOut | None) -> None:
        self.client = client
        self.setText(client.name if client else "")
        self.client_changed.emit(client)


class NewTicketDialog(QDialog):
    """Subject, description, client and contact, priority, category (its team shown), tags."""

    created = Signal(object)  # the TicketOut made (the client window reads it)

    def __init__(
        self, session: Any, client_id: int | None = None, contact_id: int | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("newTicketDialog")
        self.setWindowTitle("New ticket")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(560)
        self.session = session
        self.api = session.api
        self.ticket: TicketOut | None = None
        self.lookups = Lookups()
        self._contact_wanted = contact_id
        self._tasks: set[asyncio.Task[Any]] = set()

        self.subject = QLineEdit()
        self.subject.setPlaceholderText("What is wrong, in a few words")
        self.client = ClientPicker(self.api)
        self.client.client_changed.connect(self._client_chosen)
        self.contact = QComboBox()
        self.contact.addItem("No contact", None)
        self.requester_email = QLineEdit()
        self.requester_email.setPlaceholderText("customer@example.com (when there is no contact)")
        self.priority = QComboBox()
        fill_priorities(self.priority)
        self.category = QComboBox()
        self.category.currentIndexChanged.connect(self._show_route)
        self.route = QLabel("")
        self.route.setObjectName("routeHint")
        self.route.setProperty("role", "caption")
        self.route.setWordWrap(True)
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("login, urgent")
        self.description = QPlainTextEdit()
        self.description.setPlaceholderText("What happened, what the customer expected, steps to see it")
        self.description.setFixedHeight(110)

        category_box = field(self.category)
        box = category_box.layout()
        assert box is not None
        box.addWidget(self.route)
        form = QFormLayout()
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(10)
        for label, widget in (
            ("&Subject", field(self.subject)),
            ("C&lient", field(self.client)),
            ("C&ontact", field(self.contact)),
            ("Requester &email", field(self.requester_email)),
            ("&Priority", field(self.priority)),
            ("Ca&tegory", category_box),
            ("Ta&gs", field(self.tags, "Separate tags with commas.")),
            ("&Description", field(self.description)),
        ):
            form.addRow(label, widget)
        self.fields: dict[str, QWidget] = {
            "subject": self.subject,
            "client_id": self.client,
            "contact_id": self.contact,
            "requester_email": self.requester_email,
            "priority": self.priority,
            "category_id": self.category,
            "tags": self.tags,
            "description": self.description,
        }

        self.done_note = QFrame()
        self.done_note.setObjectName("ticketCreatedNote")
        self.done_note.setProperty("role", "info")
        self.done_text = QLabel("")
        self.done_text.setWordWrap(True)
        self.open_button = QPushButton("Open ticket")
        self.open_button.setProperty("role", "primary")
        self.open_button.clicked.connect(self.open_created)
        note_row = QHBoxLayout(self.done_note)
        note_row.setContentsMargins(12, 10, 12, 10)
        note_row.addWidget(self.done_text, 1)
        note_row.addWidget(self.open_button)
        self.done_note.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Create ticket")
        self.ok.setProperty("role", "primary")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        heading = QLabel("New ticket")
        heading.setProperty("role", "heading")
        self.form_box = QWidget()
        self.form_box.setLayout(form)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(12)
        layout.addWidget(heading)
        layout.addWidget(self.form_box)
        layout.addWidget(self.done_note)
        layout.addWidget(self.buttons)
        self.subject.setFocus()
        self._spawn(self._load(client_id))

    def _spawn(self, coro: Any) -> None:
        task = tasks.spawn(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def is_busy(self) -> bool:
        return any(not t.done() for t in self._tasks) or self.client.busy

    async def _load(self, client_id: int | None) -> None:
        try:
            await self.lookups.load(self.api)
            client = await clients.get_client(self.api, client_id) if client_id is not None else None
        except Exception as exc:
            log.info("new ticket lookups did not load: %s", exc)
            if shiboken6.isValid(self):
                operations.handle_error(self, exc)
            return
        if not shiboken6.isValid(self):
            return
        fill_categories(self.category, self.lookups, None)
        self._show_route()
        if client is not None:
            self.client.set_client(client)

    def _client_chosen(self, client: ClientOut | None) -> None:
        self.contact.clear()
        self.contact.addItem("No contact", None)
        for contact in client.contacts if client is not None else []:
            label = contact.name + (f" <{contact.email}>" if contact.email else "")
            self.contact.addItem(label, contact.id)
        if self._contact_wanted is not None:
            self.contact.setCurrentIndex(max(self.contact.findData(self._contact_wanted), 0))
            self._contact_wanted = None

    def _show_route(self, *_: object) -> None:
        self.route.setText(self.lookups.route_text(self.category.currentData()))

    def values(self) -> TicketIn:
        body: dict[str, Any] = {
            "subject": self.subject.text().strip(),
            "description": self.description.toPlainText().strip(),
            "client_id": self.client.client_id,
            "contact_id": self.contact.currentData(),
            "requester_email": self.requester_email.text().strip() or None,
            "priority": self.priority.currentData(),
            "category_id": self.category.currentData(),
            "tags": tag_list(self.tags.text()),
        }
        # Not checked here: the server judges the values, and its words land next to the field.
        return TicketIn.model_construct(**{k: v for k, v in body.items() if v is not None and v != []})

    def submit(self) -> None:
        if self.ticket is not None:  # made already: the button now says "Done"
            self.accept()
            return
        if self.client.text().strip() and self.client.client is None:
            mark_field(self.client, "Pick a client from the list, or clear the box.")
            return
        operations.run(
            self,
            tickets.create_ticket(self.api, self.values()),
            success=self._created,
            changed=tickets.CHANGED,
            fields=self.fields,
            busy=self.ok,
        )

    def _created(self, ticket: TicketOut) -> None:
        self.ticket = ticket
        self.created.emit(ticket)
        self.form_box.setEnabled(False)
        team = self.lookups.team_name(ticket.team_id, "")
        where = f" and routed to the {team} team" if team else ""
        self.done_text.setText(f"Ticket #{ticket.number} is created{where}.")
        self.done_note.show()
        self.ok.setText("Done")
        self.ok.setProperty("role", "")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).hide()
        self.open_button.setFocus()

    def open_created(self) -> QWidget | None:
        if self.ticket is None:
            return None
        from crm_desktop.views.tickets.detail import open_ticket

        window = open_ticket(self.parentWidget(), self.session, self.ticket.id)
        self.accept()
        return window

"""One client in its own window: details to edit (Ctrl+S saves), contacts, a note box, the open
follow-ups and the timeline; Archive / Restore. One window per client: opening it again raises it.

Live events that name this client (its record, a contact, a note, a follow-up) refresh the window.
Edits typed but not yet saved are never overwritten: the form keeps them and the version it was
loaded at, so saving over someone else's change gets the usual "Changed elsewhere - Reload".
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, icons, operations
from crm_desktop.api import activities as activities_api
from crm_desktop.api import campaigns as campaigns_api
from crm_desktop.api import clients as clients_api
from crm_desktop.api.client import ApiError
from crm_desktop.operations import change_bus, handle_error
from crm_desktop.session import Session
from crm_desktop.views.clients.dialogs import ClientForm, ContactDialog, warning_text
from crm_desktop.views.clients.summary import AREAS, AreaTab, open_balance, sections
from crm_desktop.widgets.record_window import WindowRegistry, ask_unsaved, closing_anyway, lazy, show_window, spawn_into
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.activities import FollowUpOut, FollowUpStatus, NoteIn
from crm_server.contract.campaigns import CampaignEntity
from crm_server.contract.client_summary import ClientSummaryOut
from crm_server.contract.clients import ClientOut, ClientUpdate, ContactOut
from crm_server.contract.events import LiveEvent
from crm_server.contract.tickets import TicketOut

log = logging.getLogger(__name__)

ID_ROLE = Qt.ItemDataRole.UserRole
# The permission module whose "view" shows each summary area (its tab).
MODULE_OF_AREA = {
    "deals": "leads",
    "proposals": "proposals",
    "invoices": "invoices",
    "payments": "payments",
    "tickets": "tickets",
    "orders": "orders",
}
_open: WindowRegistry[ClientWindow] = WindowRegistry()  # client id -> its window


def open_client(
    parent: QWidget | None, session: Session, client_id: int, contact_id: int | None = None
) -> ClientWindow:
    """The client's window (made, or raised when it is open already), optionally on one contact."""
    window = _open.live(client_id, session)
    if window is not None:
        if contact_id is not None:
            window.select_contact(contact_id)
    else:
        window = ClientWindow(
            session, client_id, parent.window() if parent is not None else None, contact_id=contact_id
        )
        _open[client_id] = window
    return show_window(window)


def card(title: str, *actions: QWidget) -> tuple[QFrame, QVBoxLayout]:
    """A rounded section with a small heading and buttons on its right."""
    frame = QFrame()
    frame.setProperty("role", "card")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(16, 12, 16, 14)
    layout.setSpacing(10)
    head = QHBoxLayout()
    label = QLabel(title.upper())
    label.setProperty("role", "section")
    head.addWidget(label)
    head.addStretch(1)
    for action in actions:
        head.addWidget(action)
    layout.addLayout(head)
    return frame, layout


class ClientWindow(QWidget):
    """The detail window of one client."""

    def __init__(
        self, session: Session, client_id: int, parent: QWidget | None = None, contact_id: int | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.session = session
        self.api = session.api
        self.client_id = client_id
        self.client: ClientOut | None = None
        self._select_contact = contact_id
        self._tasks: set[asyncio.Task[Any]] = set()
        self.setObjectName("clientWindow")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setWindowTitle("Client - CRM")
        self.setWindowIcon(icons.app_icon())
        self.resize(1120, 760)
        can_edit = session.can("clients", "edit")

        # --- header ------------------------------------------------------------------------------
        self.title = QLabel("Loading…")
        self.title.setProperty("role", "title")
        self.state = QLabel("")
        self.state.setProperty("role", "muted")
        self.schedule_button = QPushButton("Schedule follow-up…")
        self.schedule_button.setToolTip("Plan the next call or meeting (Ctrl+Shift+F)")
        self.schedule_button.clicked.connect(self.schedule_follow_up)
        shown_if(self.schedule_button, self._schedule_dialog() is not None and session.can("activities", "create"))
        self.email_button = QPushButton("E-mail…")
        self.email_button.setObjectName("clientEmailButton")
        self.email_button.setToolTip("Write an e-mail to the client, from a template")
        self.email_button.clicked.connect(self.compose_email)
        shown_if(self.email_button, session.can("activities", "create"))
        self.whatsapp_button = QPushButton("WhatsApp…")
        self.whatsapp_button.setObjectName("clientWhatsAppButton")
        self.whatsapp_button.setToolTip("Message the client on WhatsApp (opt-in, the 24-hour window)")
        self.whatsapp_button.clicked.connect(self.open_whatsapp)
        shown_if(self.whatsapp_button, session.can("clients", "edit"))
        self.ticket_button = QPushButton("New ticket…")
        self.ticket_button.setObjectName("newTicketButton")
        self.ticket_button.setToolTip("Open a support ticket for this client (Ctrl+Shift+T)")
        self.ticket_button.clicked.connect(self.new_ticket)
        shown_if(self.ticket_button, session.can("tickets", "create") and self._ticket_dialog() is not None)
        self.archive_button = QPushButton("Archive")
        self.archive_button.setToolTip("Hide this client from the lists; Restore brings it back")
        self.archive_button.clicked.connect(self.archive)
        self.restore_button = QPushButton("Restore")
        self.restore_button.clicked.connect(self.restore)
        self.save_button = QPushButton("Save")
        self.save_button.setProperty("role", "primary")
        self.save_button.setToolTip("Save the details (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        for button in (self.archive_button, self.restore_button, self.save_button):
            shown_if(button, can_edit)
        head = QHBoxLayout()
        head.setSpacing(8)
        words = QVBoxLayout()
        words.setSpacing(2)
        words.addWidget(self.title)
        words.addWidget(self.state)
        head.addLayout(words, 1)
        for button in (
            self.schedule_button,
            self.email_button,
            self.whatsapp_button,
            self.ticket_button,
            self.archive_button,
            self.restore_button,
            self.save_button,
        ):
            head.addWidget(button, 0, Qt.AlignmentFlag.AlignBottom)

        self.notice = QLabel("")
        self.notice.setObjectName("clientNotice")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)

        # --- left: details and contacts ----------------------------------------------------------
        self.form = ClientForm(session)
        self.form.open_client.connect(lambda other: open_client(self, session, other))
        self.form.edited.connect(self._update_actions)
        self.form.setEnabled(can_edit)
        details, details_layout = card("Details")
        details_layout.addWidget(self.form)

        self.add_contact_button = QPushButton("Add contact…")
        self.add_contact_button.clicked.connect(self.add_contact)
        self.edit_contact_button = QPushButton("Edit…")
        self.edit_contact_button.clicked.connect(self.edit_contact)
        self.remove_contact_button = QPushButton("Remove")
        self.remove_contact_button.clicked.connect(self.remove_contact)
        for button in (self.add_contact_button, self.edit_contact_button, self.remove_contact_button):
            shown_if(button, can_edit)
        contacts, contacts_layout = card(
            "Contacts", self.add_contact_button, self.edit_contact_button, self.remove_contact_button
        )
        self.contacts = QTableWidget(0, 4)
        self.contacts.setObjectName("contactsTable")
        self.contacts.setAccessibleName("Contacts")
        self.contacts.setHorizontalHeaderLabels(["Name", "Position", "Email", "Phone"])
        self.contacts.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.contacts.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.contacts.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.contacts.verticalHeader().setVisible(False)
        self.contacts.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.contacts.itemActivated.connect(lambda _: self.edit_contact())
        self.contacts.itemSelectionChanged.connect(self._update_actions)
        self.contacts.itemSelectionChanged.connect(self._show_contact_engagement)
        self.contact_engagement = QLabel("")  # the chosen contact's campaign engagement (issue #22)
        self.contact_engagement.setObjectName("contactEngagement")
        self.contact_engagement.setProperty("role", "muted")
        self.no_contacts = QLabel("No contacts yet. Add the people you talk to at this client.")
        self.no_contacts.setProperty("role", "muted")
        contacts_layout.addWidget(self.contacts, 1)
        contacts_layout.addWidget(self.no_contacts)
        contacts_layout.addWidget(self.contact_engagement)
        self.contact_engagement.hide()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(12)
        left_layout.addWidget(details)
        left_layout.addWidget(contacts, 1)

        # --- right: note, follow-ups, timeline ---------------------------------------------------
        self.note = QPlainTextEdit()
        self.note.setObjectName("noteBox")
        self.note.setPlaceholderText("Write a note… (Ctrl+Enter adds it)")
        self.note.setFixedHeight(72)
        self.note.setAccessibleName("Note")
        self.add_note_button = QPushButton("Add note")
        self.add_note_button.clicked.connect(self.add_note)
        note_card, note_layout = card("Add note", self.add_note_button)
        note_layout.addWidget(self.note)
        shown_if(note_card, can_edit)
        QShortcut(QKeySequence("Ctrl+Return"), self.note, context=Qt.ShortcutContext.WidgetShortcut).activated.connect(
            self.add_note
        )

        self.follow_ups = QListWidget()
        self.follow_ups.setObjectName("followUpList")
        self.follow_ups.setAccessibleName("Open follow-ups")
        self.follow_ups.setMaximumHeight(120)
        self.follow_ups.setWordWrap(True)
        self.follow_ups.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.no_follow_ups = QLabel("Nothing planned. Schedule the next call or meeting.")
        self.no_follow_ups.setProperty("role", "muted")
        self.no_follow_ups.setWordWrap(True)
        follow_card, follow_layout = card("Open follow-ups")
        follow_layout.addWidget(self.follow_ups)
        follow_layout.addWidget(self.no_follow_ups)
        self.follow_ups.setVisible(False)
        shown_if(follow_card, session.can("activities", "view"))

        timeline_card, timeline_layout = card("Timeline")
        timeline_class = lazy("crm_desktop.widgets.timeline", "TimelineView")
        self.timeline: Any = None
        if timeline_class is not None:
            self.timeline = timeline_class(self.api, partial(clients_api.timeline, self.api, client_id))
            timeline_layout.addWidget(self.timeline, 1)
        else:
            waiting = QLabel("The history of this client shows here.")
            waiting.setProperty("role", "muted")
            timeline_layout.addWidget(waiting)
            timeline_layout.addStretch(1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(12)
        right_layout.addWidget(note_card)
        right_layout.addWidget(follow_card)
        right_layout.addWidget(timeline_card, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        # --- the whole picture: a tab per area the role may view (clients.summary) ------------------
        self.tabs = QTabWidget()
        self.tabs.setObjectName("clientTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(split, "Details")
        self.area_tabs: dict[str, AreaTab] = {}
        for area in AREAS:
            if session.can(MODULE_OF_AREA[area.key], "view"):
                tab = AreaTab(session, area)
                self.area_tabs[area.key] = tab
                self.tabs.addTab(tab, area.title)
        self.summary: ClientSummaryOut | None = None
        self.balance = QLabel("")
        self.balance.setObjectName("openBalance")
        self.balance.setVisible(False)
        words.addWidget(self.balance)

        root = QVBoxLayout(self)
        root.setContentsMargins(24, 18, 24, 18)
        root.setSpacing(12)
        root.addLayout(head)
        root.addWidget(self.notice)
        root.addWidget(self.tabs, 1)

        QShortcut(QKeySequence.StandardKey.Save, self).activated.connect(self.save)
        QShortcut(QKeySequence(Qt.Key.Key_F5), self).activated.connect(self.reload)
        QShortcut(QKeySequence("Ctrl+Shift+F"), self).activated.connect(self.schedule_follow_up)
        QShortcut(QKeySequence("Ctrl+Shift+T"), self).activated.connect(self.new_ticket)
        QShortcut(
            QKeySequence(Qt.Key.Key_Delete), self.contacts, context=Qt.ShortcutContext.WidgetShortcut
        ).activated.connect(self.remove_contact)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self).activated.connect(self.close)
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(150)
        self._live_timer.timeout.connect(self.reload)
        self._summary_timer = QTimer(self)
        self._summary_timer.setSingleShot(True)
        self._summary_timer.setInterval(300)
        self._summary_timer.timeout.connect(self.reload_summary)
        session.events.event.connect(self._on_event)
        change_bus().changed.connect(self._on_changed)
        self._update_actions()
        self.reload()

    # --- loading ---------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        return spawn_into(self._tasks, coro)

    def is_busy(self) -> bool:
        return any(not t.done() for t in self._tasks) or bool(self.timeline is not None and self.timeline.loading)

    def reload(self) -> None:
        """The client, its follow-ups and its timeline, fetched again (F5, a live change)."""
        self._spawn(self._load())
        self.reload_follow_ups()
        self.reload_summary()
        if self.timeline is not None:
            self.timeline.reload()

    async def _load(self) -> None:
        try:
            client = await clients_api.get_client(self.api, self.client_id)
        except ApiError as exc:
            if shiboken6.isValid(self):
                if exc.status == 404:
                    self.title.setText("This client cannot be opened")
                    self.say("It does not exist, or your role does not let you see it.", error=True)
                    self.form.setEnabled(False)
                else:
                    handle_error(self, exc)
            return
        if shiboken6.isValid(self):
            self.show_client(client)

    def show_client(self, client: ClientOut, *, force: bool = False) -> None:
        """Show what the server has; typed but unsaved details stay (unless ``force``)."""
        keep_edits = self.client is not None and self.form.dirty and not force
        if keep_edits and self.client is not None:
            client = client.model_copy(update={"version": self.client.version})  # a save over newer changes: 409
        self.client = client
        if not keep_edits:
            self.form.set_values(client)
        self.title.setText(client.name)
        self.setWindowTitle(f"{client.name} - CRM")
        archived = client.archived_at is not None
        parts = [f"Owner: {self.form.names.name(client.owner_id)}"]
        if archived:
            parts.insert(0, "Archived - restore it to work with it again")
        self.state.setText("  ·  ".join(parts))
        self._fill_contacts(client.contacts)
        self._update_actions()

    def _fill_contacts(self, contacts: list[ContactOut]) -> None:
        selected = self.selected_contact()
        keep = self._select_contact or (selected.id if selected else None)
        self.contacts.setRowCount(len(contacts))
        for row, contact in enumerate(contacts):
            for column, key in enumerate(("name", "position", "email", "phone")):
                item = QTableWidgetItem(getattr(contact, key) or "")
                item.setData(ID_ROLE, contact)
                self.contacts.setItem(row, column, item)
        self.contacts.setVisible(bool(contacts))
        self.no_contacts.setVisible(not contacts)
        if keep is not None:
            self.select_contact(keep)

    def select_contact(self, contact_id: int) -> bool:
        """Select a contact (a search hit on a person opens their client on them)."""
        for row in range(self.contacts.rowCount()):
            item = self.contacts.item(row, 0)
            if item is not None and item.data(ID_ROLE).id == contact_id:
                self.contacts.selectRow(row)
                self.contacts.scrollToItem(item)
                self.contacts.setFocus()
                self._select_contact = None
                return True
        self._select_contact = contact_id  # the client is still loading
        return False

    def selected_contact(self) -> ContactOut | None:
        rows = self.contacts.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.contacts.item(rows[0].row(), 0)
        contact = item.data(ID_ROLE) if item is not None else None
        return contact if isinstance(contact, ContactOut) else None

    def _show_contact_engagement(self) -> None:
        contact = self.selected_contact()
        self.contact_engagement.hide()
        if contact is None:
            return

        async def load() -> None:
            try:
                score = await campaigns_api.engagement(self.api, CampaignEntity.contact, contact.id)
            except ApiError:
                return
            chosen = self.selected_contact()
            if shiboken6.isValid(self) and chosen is not None and chosen.id == contact.id:
                self.contact_engagement.setText(f"{contact.name}: {campaigns_api.engagement_text(score)}")
                self.contact_engagement.show()

        self._spawn(load())

    def reload_follow_ups(self) -> None:
        if self.session.can("activities", "view"):
            self._spawn(self._load_follow_ups())

    async def _load_follow_ups(self) -> None:
        try:
            page = await activities_api.list_follow_ups(
                self.api, client_id=self.client_id, status=FollowUpStatus.open, limit=20
            )
        except ApiError as exc:
            log.info("follow-ups of client %s did not load: %s", self.client_id, exc.message)
            return
        if not shiboken6.isValid(self):
            return
        self.follow_ups.clear()
        for follow_up in page.items:
            self.follow_ups.addItem(self._follow_up_item(follow_up))
        self.follow_ups.setVisible(bool(page.items))
        self.no_follow_ups.setVisible(not page.items)

    def reload_summary(self) -> None:
        if self.area_tabs:
            self._spawn(self._load_summary())

    async def _load_summary(self) -> None:
        try:
            summary = await clients_api.summary(self.api, self.client_id)
        except ApiError as exc:
            log.info("summary of client %s did not load: %s", self.client_id, exc.message)
            return
        if shiboken6.isValid(self):
            self.show_summary(summary)

    def show_summary(self, summary: ClientSummaryOut) -> None:
        """Each area's tab with its count in the title; the open balance under the client's name."""
        self.summary = summary
        for area, section in sections(summary):
            tab = self.area_tabs.get(area.key)
            if tab is not None:
                tab.show_section(section, summary)
                self.tabs.setTabText(self.tabs.indexOf(tab), tab.tab_title())
        invoices = summary.invoices
        totals = invoices.totals if invoices is not None else []
        if invoices is not None and totals:
            self.balance.setText(f"Open balance: {open_balance(invoices)}")
        # Owed: in the text's colour; part of it overdue: in the error colour; nothing owed: muted.
        owed, late = any(t.open for t in totals), any(t.overdue for t in totals)
        self.balance.setProperty("role", "error" if late else "" if owed else "muted")
        self.balance.style().unpolish(self.balance)
        self.balance.style().polish(self.balance)
        self.balance.setVisible(bool(totals))

    @staticmethod
    def _follow_up_item(follow_up: FollowUpOut) -> QListWidgetItem:
        text = f"{format.moment(follow_up.due_at)}  ·  {format.label(follow_up.kind)}"
        if follow_up.notes:
            text += f"  ·  {follow_up.notes}"
        item = QListWidgetItem(text)
        item.setData(ID_ROLE, follow_up)
        return item

    # --- live ------------------------------------------------------------------------------------

    def _names_me(self, event: LiveEvent) -> bool:
        if event.entity == "client":
            return event.module == "clients" and event.entity_id == self.client_id
        return event.data.get("client_id") == self.client_id

    def _on_event(self, event: LiveEvent) -> None:
        if shiboken6.isValid(self) and self._names_me(event):
            self._live_timer.start()

    def _on_changed(self, areas: frozenset[str]) -> None:
        if "*" in areas:
            self._live_timer.start()
        elif areas & clients_api.SUMMARY_AREAS and shiboken6.isValid(self):
            self._summary_timer.start()  # an invoice, payment, ticket... changed: maybe one of mine

    # --- actions ---------------------------------------------------------------------------------

    def say(self, text: str, error: bool = False) -> None:
        self.notice.setText(text)
        self.notice.setProperty("role", "error" if error else "muted")
        self.notice.style().unpolish(self.notice)
        self.notice.style().polish(self.notice)
        self.notice.setVisible(bool(text))

    def _update_actions(self) -> None:
        loaded = self.client is not None
        archived = loaded and self.client is not None and self.client.archived_at is not None
        can_edit = self.session.can("clients", "edit")
        self.save_button.setEnabled(loaded and not archived)
        self.form.setEnabled(can_edit and loaded and not archived)
        self.archive_button.setVisible(can_edit and not archived)
        self.restore_button.setVisible(can_edit and archived)
        self.archive_button.setEnabled(loaded)
        has_contact = self.selected_contact() is not None
        self.add_contact_button.setEnabled(loaded and not archived)
        self.edit_contact_button.setEnabled(has_contact and not archived)
        self.remove_contact_button.setEnabled(has_contact and not archived)
        self.add_note_button.setEnabled(loaded)

    def save(self) -> None:
        if self.client is None or not self.save_button.isEnabled() or not self.form.check():
            return
        changes = self.form.changes()
        if not changes:
            self.say("Nothing to save: the details are as stored.")
            return
        # As typed: the server judges it, and its refusal lands next to the field.
        update = ClientUpdate.model_construct(**changes, version=self.client.version)
        call = clients_api.update_client(self.api, self.client_id, update)
        operations.run(
            self,
            self.form.watch_twin(call),
            success=self._saved,
            changed=clients_api.CHANGED,
            fields=self.form.fields,
            reload=self._reload_over_edits,
            busy=self.save_button,
        )

    def _saved(self, client: ClientOut) -> None:
        self.show_client(client, force=True)
        warning = warning_text(client)
        self.say(f"Saved. {warning}" if warning else "Saved.")
        if self.timeline is not None:
            self.timeline.reload()

    def _reload_over_edits(self) -> None:
        """After "Changed elsewhere": show their version (my edits are dropped, as I asked)."""
        self.client = None
        self.reload()

    def _set_archived(self, archived: bool) -> None:
        if self.client is None:
            return
        send = clients_api.archive_client if archived else clients_api.restore_client
        call = send(self.api, self.client_id, self.client.version)
        operations.run(
            self,
            call,
            success=lambda c: self._archived(c, archived),
            changed=clients_api.CHANGED,
            reload=self._reload_over_edits,
            busy=self.archive_button if archived else self.restore_button,
        )

    def _archived(self, client: ClientOut, archived: bool) -> None:
        self.show_client(client, force=True)
        self.say(f"{client.name} is archived." if archived else f"{client.name} is restored.")
        if self.timeline is not None:
            self.timeline.reload()

    def archive(self) -> None:
        self._set_archived(True)

    def restore(self) -> None:
        self._set_archived(False)

    def add_contact(self) -> ContactDialog | None:
        if self.client is None or not self.add_contact_button.isEnabled():
            return None
        dialog = ContactDialog(self.session, self.client_id, parent=self)
        dialog.saved.connect(self._contact_saved)
        dialog.open()
        return dialog

    def edit_contact(self) -> ContactDialog | None:
        contact = self.selected_contact()
        if contact is None or not self.edit_contact_button.isEnabled():
            return None
        dialog = ContactDialog(self.session, self.client_id, contact, parent=self)
        dialog.saved.connect(self._contact_saved)
        dialog.open()
        return dialog

    def _contact_saved(self, contact: ContactOut) -> None:
        self._select_contact = contact.id
        self.say(f"{contact.name} is saved.")
        self.reload()

    def remove_contact(self) -> QMessageBox | None:
        contact = self.selected_contact()
        if contact is None or not self.remove_contact_button.isEnabled():
            return None
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Remove contact",
            f"Remove {contact.name} from this client? The history keeps what they were.",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setObjectName("removeContactBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        yes = box.addButton("Remove", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)

        def clicked(button: object) -> None:
            if button is yes:
                operations.run(
                    self,
                    clients_api.delete_contact(self.api, contact.id),
                    success=lambda _: self._contact_removed(contact),
                    changed=clients_api.CONTACTS_CHANGED,
                )

        box.buttonClicked.connect(clicked)
        box.open()
        return box

    def _contact_removed(self, contact: ContactOut) -> None:
        self.say(f"{contact.name} is removed.")
        self.reload()

    def add_note(self) -> None:
        text = self.note.toPlainText().strip()
        if not text or self.client is None:
            return
        operations.run(
            self,
            clients_api.add_note(self.api, self.client_id, NoteIn.model_construct(body=text)),
            success=self._note_added,
            changed=clients_api.NOTES_CHANGED,
            fields={"body": self.note},
            busy=self.add_note_button,
        )

    def _note_added(self, _: object) -> None:
        self.note.clear()
        self.say("Note added.")
        if self.timeline is not None:
            self.timeline.reload()

    @staticmethod
    def _schedule_dialog() -> Any:
        return lazy("crm_desktop.views.activities.schedule", "ScheduleFollowUpDialog")

    def schedule_follow_up(self) -> QWidget | None:
        dialog_class = self._schedule_dialog()
        if dialog_class is None or self.client is None or not self.schedule_button.isVisible():
            return None
        dialog = dialog_class(self.api, client_id=self.client_id, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.accepted.connect(self._follow_up_scheduled)
        dialog.open()
        return dialog  # type: ignore[no-any-return]

    def open_whatsapp(self) -> QWidget:
        """The WhatsApp composer (crm_desktop.views.whatsapp); its live events reload the timeline."""
        from crm_desktop.views.whatsapp.composer import WhatsAppDialog

        dialog = WhatsAppDialog(self.api, "clients", self.client_id, self)
        dialog.open()
        return dialog

    def compose_email(self) -> QWidget:
        """The e-mail composer (crm_desktop.views.emails); a send shows on the timeline."""
        from crm_desktop.views.emails.compose import ComposeDialog
        from crm_server.contract.emails import EmailEntity

        to = self.client.email if self.client is not None else None
        dialog = ComposeDialog(self.api, EmailEntity.client, self.client_id, to, self)
        dialog.sent.connect(lambda _: self.timeline.reload() if self.timeline is not None else None)
        dialog.open()
        return dialog

    def _follow_up_scheduled(self) -> None:
        if shiboken6.isValid(self):
            self.say("Follow-up scheduled.")
            self.reload_follow_ups()
            if self.timeline is not None:
                self.timeline.reload()

    @staticmethod
    def _ticket_dialog() -> Any:
        return lazy("crm_desktop.views.tickets.new_ticket", "NewTicketDialog")

    def new_ticket(self) -> QWidget | None:
        """A ticket for this client (on the selected contact, if one is selected)."""
        dialog_class = self._ticket_dialog()
        if dialog_class is None or self.client is None or not self.ticket_button.isVisible():
            return None
        contact = self.selected_contact()
        dialog = dialog_class(
            self.session, client_id=self.client_id, contact_id=contact.id if contact else None, parent=self
        )
        dialog.created.connect(self._ticket_created)
        dialog.open()
        return dialog  # type: ignore[no-any-return]

    def _ticket_created(self, ticket: TicketOut) -> None:
        """The new ticket dialog hands over the TicketOut it made."""
        if shiboken6.isValid(self):
            self.say(f"Ticket #{ticket.number} is created.")
            if self.timeline is not None:
                self.timeline.reload()

    def closeEvent(self, event: QCloseEvent) -> None:
        with_edits = self.form.dirty and self.client is not None
        if with_edits and not closing_anyway(self):
            ask_unsaved(self, "The details have changes that are not saved.", self.save)
            event.ignore()
            return
        for task in list(self._tasks):
            task.cancel()
        _open.forget(self.client_id, self)
        super().closeEvent(event)

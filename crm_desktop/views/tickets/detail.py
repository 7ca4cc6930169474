"""One ticket in its own window: header with status, priority and the first-response clock; the
fields (Ctrl+S saves what changed, with the version that was read); the status moves the graph
allows from where the ticket is; Assign…; the conversation, the files and the history.

    open_ticket(parent, session, ticket_id)   # one window per ticket; a second call raises it

The server decides every move: buttons only offer what TRANSITIONS allows, and a refusal (no
resolution note, no assignee, someone moved it meanwhile) shows the server's own words. Live events
naming the ticket refresh the window without dropping edits typed but not yet saved.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import auth, clients, tickets
from crm_desktop.api.client import ApiError
from crm_desktop.operations.errors import mark_field
from crm_desktop.session import Session
from crm_desktop.views.admin.common import UserNames, field
from crm_desktop.views.tickets.conversation import AttachmentList, ConversationView
from crm_desktop.views.tickets.new_ticket import (
    Lookups,
    NewTicketDialog,
    fill_categories,
    fill_priorities,
    tag_list,
)
from crm_desktop.widgets.document_window import Action, DocumentWindow, sources
from crm_desktop.widgets.edit_buffer import EditBuffer, Values
from crm_desktop.widgets.field_conflict import Conflicted, ask_which, shown
from crm_desktop.widgets.record_window import WindowRegistry, set_tone, show_window
from crm_desktop.widgets.timeline import TimelineView
from crm_desktop.widgets.user_picker import UserPicker
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.tickets import (
    OPEN_STATUSES,
    TRANSITIONS,
    AssignIn,
    CommentOut,
    MoveIn,
    TicketOut,
    TicketQuery,
    TicketStatus,
    TicketUpdate,
)

log = logging.getLogger(__name__)

ORDER = list(TicketStatus)
STATUS_TONES = {
    "new": "accent",
    "assigned": "accent",
    "in_process": "accent",
    "pending_customer": "warning",
    "resolved": "success",
    "deployed": "success",
    "closed": "muted",
}
PRIORITY_TONES = {"normal": "muted", "high": "warning", "critical": "danger"}
MOVE_LABELS = {
    "assigned": "Mark assigned",
    "in_process": "Start work",
    "pending_customer": "Wait for customer",
    "resolved": "Resolve…",
    "deployed": "Mark deployed",
    "closed": "Close",
}
REOPEN_LABELS = {"in_process": "Reopen", "assigned": "Reopen to assignee"}
MOVE_TARGETS = [target for target in ORDER if sources(TRANSITIONS, target)]  # every status a move reaches
SLA_STYLE = """
QLabel#slaClock[tone="danger"] {{ color: {danger}; font-weight: 600; }}
QLabel#slaClock[tone="warning"] {{ color: {warning_text}; font-weight: 600; }}
QLabel#slaClock[tone="success"] {{ color: {success}; }}
QLabel#slaClock[tone="muted"] {{ color: {muted}; }}
"""

_open: WindowRegistry[TicketWindow] = WindowRegistry()  # (session, ticket) -> its window


def open_ticket(parent: QWidget | None, session: Session, ticket_id: int) -> TicketWindow:
    """Show the ticket's window (one per ticket: a second call raises the open one)."""
    key = (id(session), ticket_id)
    window = _open.live(key)
    if window is None:
        window = TicketWindow(session, ticket_id, parent.window() if parent is not None else None)
        _open.keep(key, window)
    return show_window(window)


# --- small pieces --------------------------------------------------------------------------------


def sla_text(ticket: TicketOut, now: datetime) -> tuple[str, str]:
    """The first-response clock and its tone: answered in…, due in…, or overdue by…."""
    answered, due = ticket.first_responded_at, ticket.first_response_due_at
    if answered is not None:
        return f"Answered in {format.duration(answered - ticket.created_at)}", "success"
    if ticket.status not in OPEN_STATUSES or due is None:
        return "No first response", "muted"
    if due <= now:
        return f"First response overdue by {format.duration(now - due)}", "danger"
    left = due - now
    return f"First response due in {format.duration(left)}", "warning" if left <= timedelta(minutes=30) else "muted"


def move_label(current: TicketStatus, target: TicketStatus) -> str:
    if current in ("resolved", "closed") and target in REOPEN_LABELS:
        return REOPEN_LABELS[target]
    if current == "pending_customer" and target == "in_process":
        return "Customer replied"
    return MOVE_LABELS.get(target, format.label(target))


def field_with(widget: QWidget, under: QWidget, hint: str = "") -> QWidget:
    """A form field (admin.common.field) with `under` below it in the same box."""
    box = field(widget, hint)
    layout = box.layout()
    assert layout is not None
    layout.addWidget(under)
    return box


class TeamUsers:
    """The colleague search narrowed to one team: the picker's user search gets a team_id."""

    def __init__(self, api: Any, team_id: int | None = None) -> None:
        self.api = api
        self.team_id = team_id

    async def get(self, path: str, **params: Any) -> Any:
        if self.team_id is not None:
            params["team_id"] = self.team_id
        return await self.api.get(path, **params)


def assignee_picker(session: Any) -> tuple[UserPicker, TeamUsers, QCheckBox]:
    """A user picker limited to the ticket's team; "Everyone" widens it for who may assign anyone."""
    search = TeamUsers(session.api)
    picker = UserPicker(search, active_only=True)
    picker.setPlaceholderText("Unassigned: type a colleague's name")
    everyone = QCheckBox("Every team")
    everyone.setToolTip("Show people of every team, not only the ticket's team")
    grant = session.me.permissions.get("tickets")
    shown_if(everyone, grant is not None and str(getattr(grant.scope, "value", grant.scope)) == "all")
    return picker, search, everyone


# --- the form ------------------------------------------------------------------------------------

FIELD_LABELS = {
    "subject": "Subject",
    "priority": "Priority",
    "category_id": "Category",
    "team_id": "Team",
    "tags": "Tags",
    "description": "Description",
}


class TicketForm(QWidget):
    """Subject, priority, category (with where it routes), team, assignee, tags, description."""

    def __init__(self, session: Any, lookups: Lookups, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lookups = lookups
        self.subject = QLineEdit()
        self.priority = QComboBox()
        fill_priorities(self.priority)
        self.category = QComboBox()
        self.category.currentIndexChanged.connect(self._show_route)
        self.route = QLabel("")
        self.route.setProperty("role", "caption")
        self.route.setWordWrap(True)
        self.team = QComboBox()
        self.assignee, self.search, self.everyone = assignee_picker(session)
        self.everyone.toggled.connect(lambda on: self._limit(None if on else self.team.currentData()))
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("login, urgent")
        self.description = QPlainTextEdit()
        self.description.setFixedHeight(100)
        category_box = field_with(self.category, self.route)
        assignee_box = field_with(self.assignee, self.everyone)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(10)
        for label, widget in (
            ("&Subject", field(self.subject)),
            ("&Priority", field(self.priority)),
            ("Ca&tegory", category_box),
            ("T&eam", field(self.team)),
            ("Assi&gnee", assignee_box),
            ("Ta&gs", field(self.tags, "Separate tags with commas.")),
            ("&Description", field(self.description)),
        ):
            form.addRow(label, widget)
        self.fields: dict[str, QWidget] = {
            "subject": self.subject,
            "priority": self.priority,
            "category_id": self.category,
            "team_id": self.team,
            "assignee_id": self.assignee,
            "tags": self.tags,
            "description": self.description,
        }
        self.team.currentIndexChanged.connect(lambda _i: self._limit(self.team.currentData()))

    def _limit(self, team_id: int | None) -> None:
        self.search.team_id = None if self.everyone.isChecked() else team_id

    def _show_route(self, *_: object) -> None:
        self.route.setText(self.lookups.route_text(self.category.currentData()))

    def fill(self, ticket: TicketOut, assignee_name: str) -> None:
        self.subject.setText(ticket.subject)
        self.priority.setCurrentIndex(max(self.priority.findData(ticket.priority.value), 0))
        fill_categories(self.category, self.lookups, ticket.category_id)
        self._show_route()
        self.team.blockSignals(True)
        self.team.clear()
        self.team.addItem("No team", None)
        for team_id, name in sorted(self.lookups.teams.items(), key=lambda t: t[1].lower()):
            self.team.addItem(name, team_id)
        self.team.setCurrentIndex(max(self.team.findData(ticket.team_id), 0))
        self.team.blockSignals(False)
        self._limit(ticket.team_id)
        self.assignee.set_user(ticket.assignee_id, assignee_name if ticket.assignee_id else "")
        self.tags.setText(", ".join(ticket.tags))
        self.description.setPlainText(ticket.description)

    def changes(self, ticket: Values) -> dict[str, Any]:
        """The PATCH body (without the version): only what differs from the stored ticket. The
        EditBuffer compares in the wire's shape (DocumentWindow.wire): a dict here only."""
        values = {
            "subject": " ".join(self.subject.text().split()),
            "priority": self.priority.currentData(),
            "category_id": self.category.currentData(),
            "team_id": self.team.currentData(),
            "tags": tag_list(self.tags.text()),
            "description": self.description.toPlainText().strip(),
        }
        changed = {}
        for name, value in values.items():
            stored = ticket.get(name)
            same = sorted(value) == sorted(stored or []) if name == "tags" else (value or None) == (stored or None)
            if not same:
                changed[name] = value
        if changed.get("category_id") is not None and "team_id" not in changed:
            changed.pop("team_id", None)  # the server routes a re-classified ticket to its category's team
        return changed

    def assignee_change(self, ticket: TicketOut) -> tuple[bool, int | None]:
        """(whether to assign, to whom). Typed text that is nobody yet is no change."""
        chosen = self.assignee.user_id
        if chosen is None and self.assignee.text().strip():
            return False, None
        return chosen != ticket.assignee_id, chosen


# --- dialogs -------------------------------------------------------------------------------------


class ResolveDialog(QDialog):
    """Ask how the ticket was resolved (the customer reads it); the server insists on a note."""

    def __init__(self, window: TicketWindow) -> None:
        super().__init__(window)
        self.window_ = window
        self.setObjectName("resolveDialog")
        self.setWindowTitle("Resolve ticket")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(460)
        self.note = QPlainTextEdit()
        self.note.setAccessibleName("Resolution")
        self.note.setPlaceholderText("What was wrong and what fixed it (the customer receives this)")
        self.note.setFixedHeight(120)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Resolve")
        self.ok.setProperty("role", "primary")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.addWidget(QLabel("How was it resolved?"))
        layout.addWidget(field(self.note))
        layout.addWidget(self.buttons)
        QShortcut(QKeySequence("Ctrl+Return"), self).activated.connect(self.submit)
        self.note.setFocus()

    def submit(self) -> None:
        self.window_.move_to(
            "resolved",
            resolution=self.note.toPlainText(),
            fields={"resolution": self.note},
            done=self.accept,
            busy=self.ok,
        )


class AssignDialog(QDialog):
    """Pick who works on the ticket: people of its team first; "Assign to me" in one click."""

    def __init__(self, window: TicketWindow) -> None:
        super().__init__(window)
        self.window_ = window
        self.setObjectName("assignDialog")
        self.setWindowTitle("Assign ticket")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(440)
        self.picker, self.search, self.everyone = assignee_picker(window.session)
        team_id = window.ticket.team_id if window.ticket is not None else None
        self.search.team_id = team_id
        self.everyone.toggled.connect(lambda on: setattr(self.search, "team_id", None if on else team_id))
        team = window.lookups.team_name(team_id, "")
        hint = f"People of the {team} team." if team else "Anyone active."
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Assign")
        self.ok.setProperty("role", "primary")
        self.me_button = self.buttons.addButton("Assign to me", QDialogButtonBox.ButtonRole.ActionRole)
        self.me_button.clicked.connect(lambda: self.submit(window.session.me.id))
        self.buttons.accepted.connect(lambda: self.submit(self.picker.user_id))
        self.buttons.rejected.connect(self.reject)
        box = field_with(self.picker, self.everyone, hint=hint)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.addWidget(QLabel(f"Assign #{window.ticket.number if window.ticket else ''} to"))
        layout.addWidget(box)
        layout.addWidget(self.buttons)
        self.picker.setFocus()
        self.picker.search_now()

    def submit(self, user_id: int | None) -> None:
        if user_id is None:
            mark_field(self.picker, "Pick someone from the list.")
            return
        self.window_.assign(user_id, fields={"assignee_id": self.picker}, done=self.accept, busy=self.ok)


# --- the window ----------------------------------------------------------------------------------


def _card(title: str, body: QWidget) -> QFrame:
    frame = QFrame()
    frame.setProperty("role", "card")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(16, 12, 16, 14)
    layout.setSpacing(10)
    label = QLabel(title.upper())
    label.setProperty("role", "section")
    layout.addWidget(label)
    layout.addWidget(body)
    return frame


class TicketWindow(DocumentWindow[TicketOut]):
    """The detail window of one ticket, on the document window: the status badge with the priority
    and the first-response clock beside it; the moves TRANSITIONS allows, Assign… and Save in the
    data-built action bar."""

    module, entity, noun = "tickets", "ticket", "ticket"
    ACTIONS = (
        *(
            Action(
                f"move_{target.value}",
                MOVE_LABELS.get(target, format.label(target)),
                f"Move to {format.label(target)}",
                "ask_move",
                (target,),
                statuses=sources(TRANSITIONS, target),
                object_name=f"move_{target.value}",
            )
            for target in MOVE_TARGETS
        ),
        Action(
            "assign",
            "Assign…",
            "Hand the ticket to a colleague (Ctrl+Shift+A)",
            "ask_assign",
            shortcut="Ctrl+Shift+A",
            right=True,
        ),
        Action("email", "E-mail…", "Write an e-mail from a template", "compose_email", right=True),
        Action("save", "Save", "Save the changes (Ctrl+S)", "save", role="primary", right=True),
    )
    assign_button: QPushButton
    email_button: QPushButton
    save_button: QPushButton
    form: TicketForm

    def __init__(self, session: Session, ticket_id: int, parent: QWidget | None = None) -> None:
        self.ticket_id = ticket_id
        self.ticket: TicketOut | None = None
        self.client_text = ""
        self.lookups = Lookups()
        super().__init__(session, parent, name="ticketWindow", title="Loading…", size=(1180, 780))
        self.setWindowTitle("Ticket - CRM")
        self.names = UserNames(self.api)

        # --- header: the priority and the clock beside the status; the client under the title ------
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_badge = self.badge
        self.priority_badge = self.make_badge("Priority")
        self.sla = QLabel("")
        self.sla.setObjectName("slaClock")
        self.add_badge(self.priority_badge)
        self.add_badge(self.sla)
        self.open_client_button = QPushButton("Open client")
        self.open_client_button.setProperty("role", "link")
        self.open_client_button.clicked.connect(self.open_client)
        self.open_client_button.hide()
        at = self.root.indexOf(self.subtitle)
        self.root.removeWidget(self.subtitle)
        client_row = QHBoxLayout()
        client_row.addWidget(self.subtitle)
        client_row.addWidget(self.open_client_button)
        client_row.addStretch(1)
        self.root.insertLayout(at, client_row)
        self._show_moves()

        # --- left: fields, resolution, files -----------------------------------------------------
        self.form = TicketForm(session, self.lookups)
        self.buffer = EditBuffer(self.form.changes)
        self.form.setEnabled(False)
        self.resolution = QLabel("")
        self.resolution.setObjectName("resolutionText")
        self.resolution.setWordWrap(True)
        self.resolution.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.resolution_card = _card("Resolution", self.resolution)
        self.resolution_card.hide()
        self.files = AttachmentList(session, ticket_id)
        self.files.attached.connect(lambda _a: self._files_attached())
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 10, 0)
        left_column.setSpacing(12)
        left_column.addWidget(_card("Details", self.form))
        left_column.addWidget(self.resolution_card)
        left_column.addWidget(_card("Files", self.files))
        left_column.addStretch(1)
        left_scroll = QScrollArea()
        left_scroll.setWidgetResizable(True)
        left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left_scroll.setFrameShape(QFrame.Shape.NoFrame)
        left_scroll.setWidget(left)

        # --- right: conversation and history -----------------------------------------------------
        self.conversation = ConversationView(session, ticket_id, self.names)
        self.conversation.sent.connect(self._commented)
        self.timeline = TimelineView(self.api, tickets.timeline_path(ticket_id))
        self.tabs = QTabWidget()
        self.tabs.addTab(self.conversation, "Conversation")
        self.tabs.addTab(self.timeline, "History")

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        split.addWidget(left_scroll)
        split.addWidget(self.tabs)
        split.setSizes([500, 680])
        self.root.addWidget(split, 1)

        self._clock = QTimer(self)
        self._clock.setInterval(30_000)
        self._clock.timeout.connect(self._show_clock)
        self._clock.start()
        self.reload()

    def extra_style(self) -> str:
        return SLA_STYLE

    def _files_attached(self) -> None:
        self.timeline.reload()

    # --- loading (the document window's live refresh; the conversation, files and history come along)

    def current_id(self) -> int | None:
        return self.ticket_id

    def parts_busy(self) -> bool:
        return self.conversation.loading or self.files.loading or self.timeline.loading

    def reload(self) -> None:
        """Everything again (F5, "Reload" after a conflict): unsaved edits are replaced."""
        super().reload()
        self._reload_parts()

    def refresh_from_server(self) -> None:
        """Someone changed the ticket: keep my unsaved edits, update the rest."""
        if shiboken6.isValid(self):
            super().refresh_from_server()
            self._reload_parts()

    def _reload_parts(self) -> None:
        self.conversation.reload()
        self.files.reload()
        self.timeline.reload()

    async def fetch(self) -> TicketOut:
        if not self.lookups.categories:
            await self.lookups.load(self.api)
        ticket = await tickets.get_ticket(self.api, self.ticket_id)
        await self._learn_names(ticket)
        self.client_text = await self._client_text(ticket)
        return ticket

    async def show_loaded(self, record: TicketOut, replace_edits: bool) -> None:
        self.show_ticket(record, replace_edits)

    async def _learn_names(self, ticket: TicketOut) -> None:
        """The assignee's name: the team's list (anyone may read it), else the admin lookup."""
        if ticket.team_id is not None:
            try:
                page = await auth.colleagues(self.api, team_id=ticket.team_id, limit=200)
                for user in page.items:
                    self.names.remember(user.id, user.full_name)
            except ApiError as exc:
                log.info("team members did not load: %s", exc.message)
        await self.names.ensure([ticket.assignee_id])

    async def _client_text(self, ticket: TicketOut) -> str:
        if ticket.client_id is None:
            return f"From {ticket.requester_email}" if ticket.requester_email else "No client"
        try:
            client = await clients.get_client(self.api, ticket.client_id)
        except ApiError:
            return f"Client #{ticket.client_id}"
        contact = next((c for c in client.contacts if c.id == ticket.contact_id), None)
        parts = [f"Client: {client.name}"]
        if contact is not None:
            parts.append(f"Contact: {contact.name}" + (f" <{contact.email}>" if contact.email else ""))
        return "  ·  ".join(parts)

    def show_ticket(self, ticket: TicketOut, replace_edits: bool = True) -> None:
        """The server's ticket; unless `replace_edits`, the fields I am editing keep my values."""
        keep_assignee = not replace_edits and self.ticket is not None and self.form.assignee_change(self.ticket)[0]
        mine = self.form.assignee.user_id, self.form.assignee.text()
        shown = self.load_edited(ticket, keep_edits=not replace_edits)
        if shown is None:  # an answer older than what is shown
            return
        self._show(ticket, shown)
        if keep_assignee:
            self.form.assignee.set_user(*mine)

    def _show(self, ticket: TicketOut, shown: Values) -> None:
        """`ticket` as stored; `shown`, the buffer's record with my edits over it (a dict of the wire)."""
        self.ticket = ticket
        with_edits = TicketOut.model_validate(shown)
        self.form.fill(with_edits, self._assignee_label(with_edits))
        archived = ticket.archived_at is not None
        can_edit = self.session.can("tickets", "edit")
        self.form.setEnabled(can_edit and not archived)
        self.save_button.setEnabled(can_edit and not archived)
        self.assign_button.setEnabled(can_edit and not archived)
        self._show_header()
        self._show_moves()

    def _assignee_label(self, ticket: TicketOut) -> str:
        return "" if ticket.assignee_id is None else self.names.name(ticket.assignee_id)

    def _show_header(self) -> None:
        ticket = self.ticket
        if ticket is None:
            return
        self.setWindowTitle(f"#{ticket.number} {ticket.subject} - CRM")
        self.title.setText(f"#{ticket.number} {ticket.subject}")
        self.show_status(format.label(ticket.status), STATUS_TONES.get(ticket.status, "muted"))
        self.priority_badge.setText(f"{format.label(ticket.priority)} priority")
        set_tone(self.priority_badge, PRIORITY_TONES.get(ticket.priority, "muted"))
        assignee = self.names.name(ticket.assignee_id, "Unassigned")
        team = self.lookups.team_name(ticket.team_id)
        opened = format.moment(ticket.created_at)
        self.set_subtitle(f"{self.client_text}  ·  {team}  ·  {assignee}  ·  opened {opened}")
        self.open_client_button.setVisible(ticket.client_id is not None)
        self.resolution.setText(ticket.resolution or "")
        self.resolution_card.setVisible(bool(ticket.resolution))
        if ticket.archived_at is not None:
            self.say(f"Archived {format.moment(ticket.archived_at)}. Reopen it to work on it again.")
        self._show_clock()

    def _show_clock(self) -> None:
        if self.ticket is not None and shiboken6.isValid(self):
            text, tone = sla_text(self.ticket, datetime.now().astimezone())
            self.sla.setText(text)
            set_tone(self.sla, tone)

    @property
    def move_buttons(self) -> dict[str, QPushButton]:
        """The move buttons shown now, by the status they move to."""
        buttons = {target.value: self.buttons[f"move_{target.value}"] for target in MOVE_TARGETS}
        return {name: button for name, button in buttons.items() if not button.isHidden()}

    def _show_moves(self) -> None:
        """The action bar for where the ticket is: the moves TRANSITIONS allows from its status (an
        archived ticket: only the reopening ones), each worded for the move it makes."""
        ticket = self.ticket
        can_edit = self.session.can("tickets", "edit")
        self.show_actions(ticket.status.value if ticket is not None else "")
        self.save_button.setVisible(can_edit)
        self.assign_button.setVisible(can_edit)
        if ticket is None:
            return
        current = ticket.status
        archived = ticket.archived_at is not None
        for name, button in self.move_buttons.items():
            target = TicketStatus(name)
            if not can_edit or (archived and target not in REOPEN_LABELS):
                button.setVisible(False)
                continue
            button.setText(move_label(current, target))
            reopen = current in ("resolved", "closed") and target == "in_process"
            role = "primary" if target in ("resolved", "closed") or reopen else ""
            if (button.property("role") or "") != role:
                button.setProperty("role", role)
                button.style().unpolish(button)
                button.style().polish(button)

    # --- actions ---------------------------------------------------------------------------------

    def has_edits(self) -> bool:
        ticket = self.ticket
        return ticket is not None and (self.buffer.has_edits() or self.form.assignee_change(ticket)[0])

    def changes(self) -> Values:
        return self.buffer.edits()

    def can_save(self) -> bool:
        return not self.save_button.isHidden() and self.save_button.isEnabled()

    def save(self, then: Callable[[], object] | None = None) -> None:
        """Ctrl+S: the changed fields (PATCH), then the assignee when it changed (/assign); `then`
        runs once saved (the close prompt's Save)."""
        ticket = self.ticket
        if ticket is None or not self.can_save():
            return
        changes = self.buffer.edits()
        assign, assignee = self.form.assignee_change(ticket)
        if self.form.assignee.text().strip() and self.form.assignee.user_id is None:
            mark_field(self.form.assignee, "Pick someone from the list, or clear the box to unassign.")
            return
        if not changes and not assign:
            self.say("Nothing to save: the ticket is as stored.")
            if then is not None:
                then()
            return

        async def call() -> TicketOut | Conflicted:
            saved = ticket
            if changes:
                # The buffer's body is what the person typed: sent unchecked, the server judges it.
                body = TicketUpdate.model_construct(**self.buffer.body())
                try:
                    saved = await tickets.update_ticket(self.api, self.ticket_id, body)
                except ApiError as exc:
                    if exc.code != "field_changed":
                        raise
                    newest = await tickets.get_ticket(self.api, self.ticket_id)
                    return Conflicted(self.wire(newest), list(exc.extra.get("conflicts") or []))
            if assign:
                body_ = AssignIn(version=saved.version, assignee_id=assignee)
                saved = await tickets.assign_ticket(self.api, self.ticket_id, body_)
            return saved

        operations.run(
            self,
            call(),
            success=lambda answer: self._saved(answer, then),
            changed=tickets.CHANGED,
            fields=self.form.fields,
            reload=self.reload,
            busy=self.save_button,
        )

    def _saved(self, answer: TicketOut | Conflicted, then: Callable[[], object] | None = None) -> None:
        if isinstance(answer, Conflicted):
            ask_which(
                self,
                answer,
                self.buffer,
                FIELD_LABELS,
                lambda newest, shown: self._settled(newest, shown, then),
                self._describe,
            )
            return
        self._changed(answer, "Saved.")
        if then is not None:
            then()

    def _describe(self, name: str, value: Any) -> str:
        if name == "team_id":
            return self.lookups.team_name(value)
        if name == "category_id":
            category = self.lookups.category(value) if value is not None else None
            return category.name if category else "No category"
        if name == "priority" and value:
            return f"{format.label(str(value))} priority"
        return shown(value)

    def _settled(self, newest: Values, shown: Values, then: Callable[[], object] | None = None) -> None:
        mine = self.form.assignee.user_id, self.form.assignee.text()
        ticket = TicketOut.model_validate(newest)
        self.buffer.take(ticket)
        self._show(ticket, shown)
        self.form.assignee.set_user(*mine)
        self.save(then)

    def _changed(self, ticket: TicketOut, message: str) -> None:
        self.spawn(self._after_change(ticket, message))

    async def _after_change(self, ticket: TicketOut, message: str) -> None:
        await self._learn_names(ticket)
        if shiboken6.isValid(self):
            self.show_ticket(ticket)
            self.say(message)
            self.timeline.reload()

    def ask_move(self, target: TicketStatus | str) -> QDialog | None:
        target = TicketStatus(target)
        if target is TicketStatus.assigned and self.ticket is not None and self.ticket.assignee_id is None:
            return self.ask_assign()  # assigning someone is what moves a new ticket on
        if target is TicketStatus.resolved:
            dialog = ResolveDialog(self)
            dialog.open()
            return dialog
        self.move_to(target)
        return None

    def move_to(
        self,
        target: TicketStatus | str,
        resolution: str | None = None,
        fields: dict[str, QWidget] | None = None,
        done: Callable[[], object] | None = None,
        busy: QWidget | None = None,
    ) -> asyncio.Task[Any] | None:
        """Ask the server for a move; its refusal (graph, missing note or assignee) is shown as said."""
        if self.ticket is None:
            return None
        target = TicketStatus(target)
        body = MoveIn(version=self.ticket.version, status=target, resolution=resolution)

        def moved(ticket: TicketOut) -> None:
            if done is not None:
                done()
            self._changed(ticket, f"Moved to {format.label(ticket.status)}.")

        return operations.run(
            self,
            tickets.move_ticket(self.api, self.ticket_id, body),
            success=moved,
            changed=tickets.CHANGED,
            fields=fields,
            reload=self.reload,
            busy=busy or self.buttons[f"move_{target.value}"],
        )

    def compose_email(self) -> QWidget:
        """The e-mail composer (crm_desktop.views.emails); a send shows on the ticket's timeline."""
        from crm_desktop.views.emails.compose import ComposeDialog
        from crm_server.contract.emails import EmailEntity

        to = self.ticket.requester_email if self.ticket is not None else None
        dialog = ComposeDialog(self.api, EmailEntity.ticket, self.ticket_id, to, self)
        dialog.sent.connect(lambda _: self.timeline.reload())
        dialog.open()
        return dialog

    def ask_assign(self) -> AssignDialog | None:
        if self.ticket is None or self.assign_button.isHidden() or not self.assign_button.isEnabled():
            return None
        dialog = AssignDialog(self)
        dialog.open()
        return dialog

    def assign(
        self,
        user_id: int | None,
        fields: dict[str, QWidget] | None = None,
        done: Callable[[], object] | None = None,
        busy: QWidget | None = None,
    ) -> asyncio.Task[Any] | None:
        if self.ticket is None:
            return None
        body = AssignIn(version=self.ticket.version, assignee_id=user_id)

        def assigned(ticket: TicketOut) -> None:
            if done is not None:
                done()
            self._changed(ticket, f"Assigned to {self.names.name(ticket.assignee_id, 'nobody')}.")

        return operations.run(
            self,
            tickets.assign_ticket(self.api, self.ticket_id, body),
            success=assigned,
            changed=tickets.CHANGED,
            fields=fields,
            reload=self.reload,
            busy=busy or self.assign_button,
        )

    def _commented(self, comment: CommentOut) -> None:
        self.say("Reply sent to the customer." if comment.public else "Internal note added.")
        self.refresh_from_server()  # the first reply stops the clock; the version moved

    def open_client(self) -> None:
        if self.ticket is None or self.ticket.client_id is None:
            return
        from crm_desktop.views.clients.detail import open_client

        open_client(self, self.session, self.ticket.client_id)

    def closed(self) -> None:
        self._clock.stop()
        for task in list(self._tasks):
            task.cancel()
        _open.forget((id(self.session), self.ticket_id), self)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The new-ticket dialog, then the demo ticket with the longest conversation among recent ones."""
    found: dict[str, int] = {}

    async def pick() -> None:
        page = await tickets.list_tickets(ctx.api, TicketQuery(limit=20, sort="-updated_at"))
        most = -1
        for ticket in page.items:
            comments = len(await tickets.list_comments(ctx.api, ticket.id))
            if comments > most:
                found["id"], most = ticket.id, comments

    tasks.spawn(pick())  # the runner settles (waits for it) while the first picture is taken
    host = QWidget()
    host.resize(ctx.size)
    host.show()
    dialog = NewTicketDialog(ctx.session, parent=host)
    dialog.open()
    yield "ticket-new", host
    dialog.close()
    host.close()
    if "id" in found:
        window = open_ticket(None, ctx.session, found["id"])
        window.resize(ctx.size)
        yield "ticket-detail", window
        window.close()

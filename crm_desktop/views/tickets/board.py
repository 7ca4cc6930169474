"""The tickets board: a column per status (Closed only when asked), a card per ticket, drag to move.

The board is the shared Kanban (widgets/kanban.py). One request (api.tickets.board) fills the
columns; a column asks the list endpoint for more when scrolled to its end, in the board's order
(priority, then oldest).
The server owns the status graph: a move it refuses goes back with its message. Resolved first
asks for the resolution note.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format
from crm_desktop.api import tickets
from crm_desktop.session import Session
from crm_desktop.views.tickets.filters import OPEN, TicketLookups
from crm_desktop.views.tickets.queue import filters_of, open_ticket, sla
from crm_desktop.widgets.empty_state import EmptyState
from crm_desktop.widgets.kanban import KanbanBoard, KanbanCard, KanbanColumn, Key, repolish
from crm_server.contract.tickets import BoardCard, MoveIn, TicketFilters, TicketOut, TicketQuery, TicketStatus

log = logging.getLogger(__name__)

PAGE = 50
MAX_PAGE = 200  # the board endpoint's per_column limit


class TicketCard(KanbanCard):
    """One ticket: number and priority, subject, assignee and the first-response clock."""

    card: BoardCard

    def build(self, card: BoardCard) -> None:
        board = self.board
        assert isinstance(board, TicketBoard)
        self.setAccessibleName(f"#{card.number} {card.subject}")
        top = QHBoxLayout()
        top.setSpacing(6)
        number = QLabel(f"#{card.number}")
        number.setObjectName("cardNumber")
        self.priority = QLabel(format.label(card.priority))
        self.priority.setObjectName("priorityBadge")
        self.priority.setProperty("priority", card.priority.value)
        top.addWidget(number)
        top.addStretch(1)
        top.addWidget(self.priority)
        self.content.addLayout(top)
        self.subject = QLabel(card.subject)
        self.subject.setObjectName("cardTitle")
        self.subject.setWordWrap(True)
        self.subject.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.content.addWidget(self.subject)
        if card.client_name:
            client = QLabel(card.client_name)
            client.setProperty("role", "muted")
            self.content.addWidget(client)
        bottom = QHBoxLayout()
        bottom.setSpacing(6)
        team = board.lookups.team(card.team_id)
        self.assignee = QLabel(card.assignee_name or "Unassigned")
        self.assignee.setProperty("role", "caption")
        self.assignee.setToolTip(f"Team: {team}" if team else "No team")
        self.assignee.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # long names clip
        self.clock = QLabel()
        self.clock.setObjectName("cardSla")
        bottom.addWidget(self.assignee, 1)
        bottom.addWidget(self.clock)
        self.content.addSpacing(2)
        self.content.addLayout(bottom)
        self.tick()

    def tick(self) -> None:
        """The SLA clock's words and tone (the board calls this as time passes)."""
        text, tone = sla(self.card, TicketStatus(str(self.column.key)))
        self.clock.setText("" if text == format.EMPTY else text)
        self.clock.setToolTip("First response due" if text != "Answered" else "First response given")
        if self.clock.property("tone") != (tone or ""):
            self.clock.setProperty("tone", tone or "")
            repolish(self.clock)


class ResolutionDialog(QDialog):
    """How was it resolved? The note the server requires before a ticket is Resolved."""

    def __init__(self, card: BoardCard, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("resolutionDialog")
        self.setWindowTitle("Resolve ticket")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(440)
        self.submitted: list[Any] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(10)
        head = QLabel(f"Resolve #{card.number}")
        head.setProperty("role", "heading")
        intro = QLabel(f"{card.subject}\nSay how it was resolved; the customer and your colleagues will see it.")
        intro.setWordWrap(True)
        intro.setProperty("role", "muted")
        self.text = QPlainTextEdit()
        self.text.setAccessibleName("Resolution")
        self.text.setPlaceholderText("What was done…")
        self.text.setMinimumHeight(110)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok: QPushButton = self.buttons.addButton("Resolve", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setProperty("role", "primary")
        self.ok.setEnabled(False)
        self.text.textChanged.connect(lambda: self.ok.setEnabled(bool(self.resolution())))
        self.buttons.rejected.connect(self.reject)
        for widget in (head, intro, self.text, self.buttons):
            layout.addWidget(widget)
        self.text.setFocus()

    def resolution(self) -> str:
        return self.text.toPlainText().strip()

    def fields(self) -> dict[str, QWidget]:
        return {"resolution": self.text}

    def finish(self) -> None:
        self.accept()


class TicketBoard(KanbanBoard):
    """The tickets of the filters by status; Closed shows when the status filter is not "open"."""

    MIME_TYPE = "application/x-crm-ticket"
    NOUNS = ("ticket", "tickets")
    AREAS = frozenset({"*", *tickets.CHANGED})
    card_class = TicketCard

    def __init__(self, session: Session, lookups: TicketLookups, parent: QWidget | None = None) -> None:
        self.session = session
        self.lookups = lookups
        super().__init__(parent)
        self.setObjectName("ticketBoard")
        self.filters = {"status": OPEN}

    @property
    def can_move(self) -> bool:
        return self.session.can("tickets", "edit")

    def empty_states(self) -> tuple[EmptyState, EmptyState]:
        return (
            EmptyState(
                "tickets",
                "No open tickets",
                "Support requests from email, the website and your "
                "colleagues line up here. Add one yourself with New ticket (Ctrl+N).",
                action="New ticket",
            ),
            EmptyState(
                "search",
                "No tickets match these filters",
                "Try fewer filters, or clear them.",
                action="Clear all filters",
            ),
        )

    def tick(self) -> None:
        for column in self.columns:
            for widget in column.card_widgets:
                if isinstance(widget, TicketCard):
                    widget.tick()

    # --- loading ---------------------------------------------------------------------------------

    def _query(self) -> TicketFilters:
        """The board shows every status as a column, so "open" only hides Closed."""
        return filters_of({k: v for k, v in self.filters.items() if not (k == "status" and v == OPEN)})

    async def load(self) -> list[tuple[Key, str, str, int, list[BoardCard]]]:
        per_column = self.page_size(PAGE, MAX_PAGE)
        board = await tickets.board(self.session.api, self._query(), per_column)
        await self.lookups.know_teams(card.team_id for c in board.columns for card in c.cards)  # from the first paint
        hide_closed = self.filters.get("status") == OPEN
        return [
            (c.status.value, format.label(c.status), c.status.value, c.count, c.cards)
            for c in board.columns
            if not (hide_closed and c.status is TicketStatus.closed)
        ]

    def apply(self, data: list[tuple[Key, str, str, int, list[BoardCard]]]) -> None:
        self.show_columns(data)

    async def load_more(self, column: KanbanColumn) -> list[BoardCard]:
        """The list endpoint in the board's order (priority, then oldest) for the column's status."""
        filters = self._query().model_dump() | {"status": TicketStatus(str(column.key))}
        query = TicketQuery(**filters, sort="priority", offset=len(column.cards), limit=PAGE)
        page = await tickets.list_tickets(self.session.api, query)
        return [BoardCard.model_validate(t, from_attributes=True) for t in page.items]

    # --- opening and moving ----------------------------------------------------------------------

    def open(self, card_id: int) -> None:
        super().open(card_id)
        open_ticket(self, self.session, card_id)

    def move_card(self, card_id: int, key: Key) -> QWidget | None:
        """Resolved asks for the note first; every other move goes straight to the server."""
        source, target = self.column_of(card_id), self.column(key)
        if source is None or target is None or source is target or not self.can_move:
            return None
        card: BoardCard = next(c for c in source.cards if c.id == card_id)
        if key != TicketStatus.resolved.value:
            self._send(card_id, key, None, None)
            return None
        dialog = ResolutionDialog(card, self)
        dialog.buttons.accepted.connect(
            lambda: self._send(card_id, key, dialog.resolution(), dialog) if dialog.ok.isEnabled() else None
        )
        dialog.rejected.connect(lambda: self.focus_card(card_id))
        dialog.open()
        return dialog

    def _send(self, card_id: int, key: Key, resolution: str | None, dialog: ResolutionDialog | None) -> None:
        def call(card: BoardCard) -> Awaitable[TicketOut]:
            move = MoveIn(version=card.version, status=TicketStatus(str(key)), resolution=resolution)
            return tickets.move_ticket(self.session.api, card.id, move)

        self.send(card_id, key, call, changed=tickets.CHANGED, dialog=dialog)

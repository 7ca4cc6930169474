"""The pipeline as a Kanban board: one column per status, a card per lead, drag to move.

One request (crm_desktop.api.leads.board) fills every column with its count, totals and first cards;
a column asks for more (leads.board_column) when scrolled to its end. A move is
optimistic: the card jumps at once and goes back if the server refuses (operations.run shows why).
Lost asks for a reason and Won offers to make a client first; a cancelled question moves nothing.
After a move, "Ana Pop moved to Lost." offers Undo for a few seconds and Ctrl+Z moves the lead back
through the same move (back to Lost asks the reason again); a win that made a client is not undone
here (the client stays; the lead's window changes its stage deliberately).
Every change to leads, from this desktop or any other, reloads the board (debounced: one request).
The board itself (columns, drag and drop, keys, rollback) is widgets/kanban.py, shared with tickets.
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QWidget

from crm_desktop import format
from crm_desktop.api import leads as leads_api
from crm_desktop.session import Session
from crm_desktop.views.leads.lookups import sales_lookups
from crm_desktop.views.leads.move_dialogs import _MoveDialog, ask_move, move_call
from crm_desktop.widgets import kanban
from crm_desktop.widgets.empty_state import EmptyState
from crm_desktop.widgets.kanban import KanbanBoard, KanbanCard, KanbanColumn, Key, repolish
from crm_server.contract.leads import (
    Board,
    BoardCard,
    LeadFilters,
    MoneyTotal,
    MoveResult,
    StatusOut,
)

log = logging.getLogger(__name__)

__all__ = ["ColumnWidget", "LeadBoard", "LeadCard", "open_lead", "repolish", "show_notice"]

MIME_TYPE = "application/x-crm-lead"
PAGE = 50
MAX_PAGE = 200  # the board endpoint's per_column limit
AREAS = leads_api.WATCHED


# --- small helpers -------------------------------------------------------------------------------


def totals_text(totals: list[MoneyTotal]) -> str:
    shown = [format.money(t.amount, t.currency) for t in totals if t.amount]
    return " · ".join(shown) if shown else "No value yet"


def _add_total(totals: list[MoneyTotal], card: BoardCard, sign: int) -> list[MoneyTotal]:
    """Totals after a card arrives (+1) or leaves (-1): the optimistic move keeps headers right."""
    if card.value is None:
        return totals
    out = [t.model_copy() for t in totals]
    match = next((t for t in out if t.currency == card.currency), None)
    if match is None:
        out.append(MoneyTotal(currency=card.currency, amount=Decimal(0)))
        match = out[-1]
    match.amount += card.value * sign
    return sorted(out, key=lambda t: t.currency or "")


def follow_up_text(moment: datetime | None) -> tuple[str, bool]:
    """("Follow-up 05 May", overdue?) in the user's local time; nothing when none is planned."""
    if moment is None:
        return "", False
    local = moment.astimezone()
    overdue = local < datetime.now().astimezone()
    return f"Follow-up {format.short_day(local)}", overdue


def show_notice(widget: QWidget, text: str) -> None:
    kanban.show_notice(widget, text, "Leads")


def open_lead(parent: QWidget, session: Session, lead_id: int) -> QWidget | None:
    """Open the lead's detail (crm_desktop.views.leads.detail), or say calmly that it cannot open yet."""
    try:
        detail = importlib.import_module("crm_desktop.views.leads.detail")
    except ModuleNotFoundError as exc:
        if exc.name != "crm_desktop.views.leads.detail":
            raise
        show_notice(parent, "The lead's page is not part of this build yet.")
        return None
    opened: QWidget | None = detail.open_lead(parent, session, lead_id)
    return opened


# --- a card --------------------------------------------------------------------------------------


class LeadCard(KanbanCard):
    """One lead: name, company, value and age, owner and the next follow-up."""

    card: BoardCard

    def build(self, card: BoardCard) -> None:
        self.setAccessibleName(f"{card.person_name}{', ' + card.company if card.company else ''}")
        layout = self.content
        self.name = QLabel(card.person_name)
        self.name.setObjectName("cardTitle")
        layout.addWidget(self.name)
        if card.company:
            company = QLabel(card.company)
            company.setProperty("role", "muted")
            layout.addWidget(company)
        top = QHBoxLayout()
        top.setSpacing(6)
        value = QLabel(format.money(card.value, card.currency) if card.value is not None else "No value")
        value.setObjectName("cardValue")
        value.setProperty("empty", card.value is None)
        age = QLabel("today" if card.age_days == 0 else f"{card.age_days} d")
        age.setProperty("role", "caption")
        age.setToolTip(f"Created {card.age_days} days ago")
        top.addWidget(value, 1)
        top.addWidget(age)
        layout.addSpacing(2)
        layout.addLayout(top)
        bottom = QHBoxLayout()
        bottom.setSpacing(6)
        owner = QLabel(card.owner_name or "Unassigned")
        owner.setProperty("role", "caption")
        due_text, overdue = follow_up_text(card.next_follow_up_at)
        due = QLabel(due_text)
        due.setObjectName("cardFollowUp")
        due.setProperty("overdue", overdue)
        bottom.addWidget(owner, 1)
        bottom.addWidget(due)
        layout.addLayout(bottom)

    def mime(self) -> QMimeData:
        mime = super().mime()
        mime.setText(self.card.person_name)
        return mime


# --- a column ------------------------------------------------------------------------------------


class ColumnWidget(KanbanColumn):
    """One status, with the money in it under the title."""

    board: LeadBoard

    def __init__(self, board: KanbanBoard, key: Key, title: str, kind: str = "") -> None:
        self.totals: list[MoneyTotal] = []
        self.status: StatusOut = board.statuses[key]  # type: ignore[attr-defined]
        super().__init__(board, key, title, kind)
        self.totals_label = self.caption

    def caption_text(self) -> str:
        return totals_text(self.totals)


# --- the board -----------------------------------------------------------------------------------


class LeadBoard(KanbanBoard):
    """The Kanban of one pipeline, filtered like the list (``set_filters``)."""

    MIME_TYPE = MIME_TYPE
    NOUNS = ("lead", "leads")
    AREAS = AREAS
    card_class = LeadCard
    column_class = ColumnWidget

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        self.session = session
        self.lookups = sales_lookups(session)
        self.pipeline_id: int | None = None
        self.statuses: dict[Key, StatusOut] = {}
        self._totals: dict[Key, list[MoneyTotal]] = {}
        self._undoing: set[int] = set()  # leads whose move in flight is an undo (no undo of the undo)
        super().__init__(parent)
        self.setObjectName("leadBoard")
        self.no_leads = self.no_cards

    # The leads page and its tests know these by their lead names.
    @property
    def lead_opened(self) -> Any:
        return self.opened

    @property
    def new_lead_requested(self) -> Any:
        return self.new_requested

    @property
    def can_move(self) -> bool:
        return self.session.can("leads", "edit")

    def empty_states(self) -> tuple[EmptyState, EmptyState]:
        return (
            EmptyState(
                "leads",
                "No open leads",
                "New enquiries from web forms, Facebook Lead Ads and "
                "your colleagues appear here. Add one yourself with New lead (Ctrl+N).",
                action="New lead",
            ),
            EmptyState(
                "search",
                "No leads match these filters",
                "Try fewer filters, or clear them to see the whole pipeline.",
                action="Clear all filters",
            ),
        )

    # --- loading ---------------------------------------------------------------------------------

    async def load(self) -> Board:
        return await leads_api.board(self.session.api, self.lead_filters(), self.page_size(PAGE, MAX_PAGE))

    def lead_filters(self) -> LeadFilters:
        """The filter bar's query parameters as the contract's filters."""
        return LeadFilters.model_validate(self.filters)

    def apply(self, data: Board) -> None:
        self.pipeline_id = data.pipeline_id
        self.statuses = {c.status.id: c.status for c in data.columns}
        self._totals = {c.status.id: c.totals for c in data.columns}
        self.show_columns([(c.status.id, c.status.name, c.status.kind.value, c.count, c.cards) for c in data.columns])

    def is_narrowed(self) -> bool:
        if self._narrowed is not None:
            return self._narrowed
        return any(k not in ("pipeline_id", "include_closed") for k in self.filters)

    def column_loaded(self, column: KanbanColumn) -> None:
        assert isinstance(column, ColumnWidget)
        column.status = self.statuses[column.key]
        column.totals = self._totals.get(column.key, [])

    async def load_more(self, column: KanbanColumn) -> list[BoardCard]:
        assert isinstance(column, ColumnWidget)
        page = await leads_api.board_column(
            self.session.api, column.status.id, self.lead_filters(), offset=len(column.cards), limit=PAGE
        )
        return page.cards

    # --- finding ---------------------------------------------------------------------------------

    def column_named(self, name: str) -> ColumnWidget | None:
        return next((c for c in self.columns if isinstance(c, ColumnWidget) and c.status.name == name), None)

    def focused_lead(self) -> int | None:
        return self.focused_card()

    def focus_lead(self, lead_id: int) -> None:
        self.focus_card(lead_id)

    # --- opening and moving ----------------------------------------------------------------------

    def open(self, card_id: int) -> None:
        super().open(card_id)
        open_lead(self, self.session, card_id)

    def move_card(self, card_id: int, key: Key, undo: bool = False) -> QWidget | None:
        """Ask what Lost and Won need, then move. Returns the dialog asked, if any. An undo back to
        Won does not convert again (the lead was won already); back to Lost asks the reason again."""
        source, target = self.column_of(card_id), self.column(key)
        if source is None or not isinstance(target, ColumnWidget) or source is target or not self.can_move:
            return None
        card: BoardCard = next(c for c in source.cards if c.id == card_id)
        dialog = ask_move(
            self,
            self.lookups,
            card,
            target.status,
            lambda extra, asked: self._send(card_id, key, extra, asked, undo),
            undo=undo,
        )
        if dialog is not None:
            dialog.rejected.connect(lambda: self.focus_lead(card_id))
        return dialog

    def _send(
        self, card_id: int, key: Key, extra: dict[str, Any], dialog: _MoveDialog | None, undo: bool = False
    ) -> None:
        if undo:
            self._undoing.add(card_id)
        else:
            self._undoing.discard(card_id)

        def call(card: BoardCard) -> Any:
            return move_call(self.session.api, card, cast(int, key), extra)  # a status id

        self.send(card_id, key, call, changed=leads_api.CHANGED, dialog=dialog)

    def shift(self, card: Any, source: KanbanColumn, target: KanbanColumn, index: int = 0) -> None:
        """Totals travel with the card, so the headers stay right before the server answers."""
        if isinstance(source, ColumnWidget) and isinstance(target, ColumnWidget):
            source.totals = _add_total(source.totals, card, -1)
            target.totals = _add_total(target.totals, card, +1)
        super().shift(card, source, target, index)

    def moved(self, result: MoveResult) -> None:
        """The server agreed: say where the lead went, with Undo (Ctrl+Z) for a few seconds. A win that
        made a client is not undone here: the client is a record of its own (colleagues may already
        work on it), so Ctrl+Z says so and points to the lead's window instead of deleting it."""
        lead = result.lead
        self._keep_version(lead.id, lead.version)
        status = self.statuses.get(lead.status_id)
        where = status.name if status is not None else "its new stage"
        undoing = lead.id in self._undoing
        self._undoing.discard(lead.id)
        if result.client is not None:
            self.show_notice(f"{lead.person_name} is won, and {result.client.name} is now a client.")
            refusal = (
                f"{lead.person_name} became the client {result.client.name} when it was won, so the board "
                "does not undo that move: the client stays. Open the lead to change its stage."
            )
            self.set_undo(lambda: self.show_notice(refusal))
        elif undoing:
            self.show_notice(f"{lead.person_name} is back in {where}.")
            self.set_undo(None)
        elif self.last_move is not None and self.last_move[0] == lead.id:
            back = self.last_move[1]
            self.offer_undo(f"{lead.person_name} moved to {where}.", lambda: self.undo_move(lead.id, back))
        if QApplication.focusWidget() is None:
            self.focus_card(lead.id)  # after a question dialog: the arrows work on at once

    def undo_move(self, lead_id: int, key: Key) -> QWidget | None:
        """Move the lead back where it was, through the same move (and questions) as a drag."""
        card = self.card(lead_id)
        if card is None or self.column(key) is None:
            self.show_notice(
                "That lead is no longer on the board here (a filter or a colleague moved it); "
                "open it to change its stage."
            )
            return None
        dialog = self.move_card(lead_id, key, undo=True)
        if isinstance(dialog, _MoveDialog):  # a cancelled question (the lost reason) keeps the undo
            dialog.rejected.connect(lambda: self.set_undo(lambda: self.undo_move(lead_id, key)))
        return dialog

    def _keep_version(self, lead_id: int, version: int) -> None:
        """The card carries the version the server answered, so the next move (an undo) is not refused
        as changed elsewhere before the board reloads."""
        column = self.column_of(lead_id)
        if column is None:
            return
        for index, card in enumerate(column.cards):
            if card.id == lead_id:
                column.cards[index] = card.model_copy(update={"version": version})
                widget = column.widget_of(lead_id)
                if widget is not None:
                    widget.card = column.cards[index]

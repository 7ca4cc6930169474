"""The ticket queue: a server-paged, server-sorted table, with tickets near or past their first
response deadline tinted in the theme's warning and danger tones.

Rows come a page at a time (PagedTableModel), filtered and sorted on the server, with the client's
and assignee's names in each row. Live events patch the rows they name and reload for tickets not
shown yet, so a colleague's new ticket appears in every open queue within a second.
"""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import shiboken6
from pydantic import ValidationError
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import QHeaderView, QVBoxLayout, QWidget

from crm_desktop import format, operations, tasks, theme
from crm_desktop.api import tickets
from crm_desktop.session import Session
from crm_desktop.views.tickets.filters import TicketLookups
from crm_desktop.widgets import kanban
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_server.contract.common import Page
from crm_server.contract.events import LiveEvent
from crm_server.contract.tickets import (
    OPEN_STATUSES,
    BoardCard,
    Priority,
    TicketFilters,
    TicketOut,
    TicketQuery,
    TicketSort,
    TicketStatus,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_LIMIT = 500  # the list endpoint's limit
RELOAD_DELAY_MS = 150
TICK_MS = 30_000  # the SLA clock's words ("in 25 min") are refreshed this often
WARNING = timedelta(minutes=30)  # as the server's "breaching": due within 30 minutes
Index = QModelIndex | QPersistentModelIndex


# --- words and tones -----------------------------------------------------------------------------


def sla(
    ticket: TicketOut | BoardCard, status: TicketStatus | None = None, now: datetime | None = None
) -> tuple[str, str | None]:
    """("in 25 min" / "overdue 2 h" / "Answered", tone): the first-response clock of an open ticket
    (a board card's status is its column's); tone is "danger" when late, "warning" within 30 minutes,
    else None."""
    if ticket.first_responded_at is not None:
        return "Answered", None
    due = ticket.first_response_due_at
    status = status if status is not None else getattr(ticket, "status", None)
    if due is None or (status is not None and status not in OPEN_STATUSES):
        return format.EMPTY, None
    left = due - (now or datetime.now(UTC))
    if left <= timedelta(0):
        return f"overdue {format.duration(-left, parts=1)}", "danger"
    shown = format.duration(max(left, timedelta(minutes=1)), parts=1)
    return f"in {shown}", "warning" if left <= WARNING else None


def tone_color(tone: str | None, soft: bool) -> QColor | None:
    if tone is None:
        return None
    key = {
        ("danger", True): "danger_soft",
        ("danger", False): "danger",
        ("warning", True): "warning_bg",
        ("warning", False): "warning_text",
    }[(tone, soft)]
    return QColor(theme.current().token(key))


def priority_tone(priority: Priority) -> str | None:
    return {Priority.critical: "danger", Priority.high: "warning"}.get(priority)


def filters_of(values: dict[str, Any]) -> TicketFilters:
    """The filter bar's choices as the server's TicketFilters. Ones it would refuse (a search past 200
    characters) are kept as typed: asking the server then fails, and the list says it could not load."""
    try:
        return TicketFilters.model_validate(values)
    except ValidationError:
        return TicketFilters.model_construct(**values)


def open_ticket(parent: QWidget, session: Session, ticket_id: int) -> QWidget | None:
    """The ticket's own window (views/tickets/detail.py), or a calm word while it is not built."""
    try:
        detail = importlib.import_module("crm_desktop.views.tickets.detail")
    except ModuleNotFoundError as exc:
        if exc.name != "crm_desktop.views.tickets.detail":
            raise
        kanban.show_notice(parent, "The ticket's page is not part of this build yet.", "Tickets")
        return None
    opened: QWidget | None = detail.open_ticket(parent, session, ticket_id)
    return opened


# --- the table -----------------------------------------------------------------------------------


class QueueModel(PagedTableModel[TicketOut]):
    """Rows tinted by their SLA clock (data() only reads the held row and the clock)."""

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.BackgroundRole and index.isValid() and index.row() < self.rowCount():
            return tone_color(sla(self.row(index.row()))[1], soft=True)
        return super().data(index, role)


def matches(ticket: TicketOut, filters: TicketFilters, me: int) -> bool:
    """Does a patched ticket still belong to the queue's filters (the fields a row shows plainly)?"""
    status = filters.status
    if status == "open" and ticket.status not in OPEN_STATUSES:
        return False
    if status not in (None, "open") and ticket.status != status:
        return False
    if filters.urgent and ticket.priority is Priority.normal and sla(ticket)[1] is None:
        return False
    if filters.mine and ticket.assignee_id != me:
        return False
    if (ticket.archived_at is not None) != filters.archived:
        return False
    pairs = (
        (filters.priority, ticket.priority),
        (filters.team_id, ticket.team_id),
        (filters.assignee_id, ticket.assignee_id),
        (filters.category_id, ticket.category_id),
    )
    return all(wanted in (None, value) for wanted, value in pairs)


class TicketQueue(QWidget):
    """Tickets matching the filters, newest first unless a header says otherwise."""

    open_requested = Signal(int)  # a ticket id (Enter / double click); the queue opens it too

    def __init__(
        self, session: Session, lookups: TicketLookups, parent: QWidget | None = None, page_size: int = PAGE_SIZE
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ticketQueue")
        self.session = session
        self.api = session.api
        self.lookups = lookups
        self.values: dict[str, Any] = {"status": "open"}  # the filter bar's choices (saved views keep these)
        self.filters = filters_of(self.values)
        self.narrowed = False
        self.sort: TicketSort = "-number"
        names = self.lookups

        def sla_tone(ticket: TicketOut) -> str | None:
            color = tone_color(sla(ticket)[1], soft=False)
            return color.name() if color is not None else None

        def priority_color(ticket: TicketOut) -> str | None:
            color = tone_color(priority_tone(ticket.priority), soft=False)
            return color.name() if color is not None else None

        # (column, its TicketSort key or None when the server cannot sort by it, width)
        columns: list[tuple[Column[TicketOut], str | None, int]] = [
            (Column("#", lambda t: f"#{t.number}"), "number", 62),
            (Column("Subject", lambda t: t.subject, tooltip=lambda t: t.subject), None, 210),
            (Column("Client", lambda t: t.client_name or t.requester_email or ""), None, 140),
            (Column("Priority", lambda t: format.label(t.priority), color=priority_color), "priority", 72),
            (Column("Status", lambda t: format.label(t.status)), None, 124),
            (Column("Team", lambda t: names.team(t.team_id)), None, 100),
            (Column("Assignee", lambda t: t.assignee_name or format.EMPTY), None, 116),
            (
                Column(
                    "SLA due",
                    lambda t: sla(t)[0],
                    color=sla_tone,
                    tooltip=lambda t: f"First response due {format.moment(t.first_response_due_at)}",
                ),
                "first_response_due_at",
                96,
            ),
            (
                Column(
                    "Updated",
                    lambda t: format.ago(t.updated_at),
                    tooltip=lambda t: format.moment(t.updated_at),
                ),
                "updated_at",
                110,
            ),
        ]
        self.sort_keys = [key for _, key, _ in columns]
        self.model = QueueModel([c for c, _, _ in columns], self._fetch, page_size=page_size, parent=self)
        self.table = PagedTable(
            self.model, "Try another search, or clear the filters.", icon="tickets", empty_title="No tickets match"
        )
        self.table.set_noun("ticket", "tickets")
        view = self.table.view
        for i, (_, _, width) in enumerate(columns):
            view.setColumnWidth(i, width)
        header = view.horizontalHeader()
        header.setStretchLastSection(False)  # the subject takes the room left (1280x800 shows every column)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(self.sort_keys.index("number"), Qt.SortOrder.DescendingOrder)
        header.sortIndicatorChanged.connect(self._sort_clicked)
        view.activated.connect(self._activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.reload)
        self._clock = QTimer(self)
        self._clock.setInterval(TICK_MS)
        self._clock.timeout.connect(self._repaint)
        self._clock.start()
        operations.change_bus().changed.connect(self._on_changed)
        session.events.event.connect(self._on_event)
        shortcut = QShortcut(QKeySequence(Qt.Key.Key_F5), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self.reload)
        self.model.reload()

    # --- loading ---------------------------------------------------------------------------------

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[TicketOut]:
        query = TicketQuery(**self.filters.model_dump(), sort=self.sort, offset=offset, limit=limit, after=after)
        page = await tickets.list_tickets(self.api, query)
        await self.lookups.know_teams(t.team_id for t in page.items)  # names from the first paint, not "team #9"
        return page

    def set_filters(self, values: dict[str, Any], narrowed: bool | None = None) -> None:
        """New filters from the filter bar (TicketFilterBar.values())."""
        self.narrowed = bool(narrowed)
        self.table.empty_title = "No tickets match" if self.narrowed else "No tickets here"
        self.table.empty_text = (
            "Try another search, or clear the filters."
            if self.narrowed
            else "New tickets from email, the website and colleagues line up here."
        )
        if values != self.values:
            self.values = dict(values)
            self.filters = filters_of(values)
            self.reload()

    def reload(self) -> None:
        self._reload_timer.stop()
        self.model.reload()

    def is_busy(self) -> bool:
        return self.model.loading

    def shown_ids(self) -> list[int]:
        return [t.id for t in self.model.rows()]

    def _repaint(self) -> None:
        if self.model.rowCount():
            self.model.dataChanged.emit(
                self.model.index(0, 0), self.model.index(self.model.rowCount() - 1, self.model.columnCount() - 1)
            )

    def _sort_clicked(self, section: int, order: Qt.SortOrder) -> None:
        key = self.sort_keys[section] if 0 <= section < len(self.sort_keys) else None
        header = self.table.view.horizontalHeader()
        if key is None:  # not sortable on the server: put the arrow back where the order is
            header.blockSignals(True)
            header.setSortIndicator(
                self.sort_keys.index(self.sort.lstrip("-")),
                Qt.SortOrder.DescendingOrder if self.sort.startswith("-") else Qt.SortOrder.AscendingOrder,
            )
            header.blockSignals(False)
            return
        self.sort = cast(TicketSort, ("-" if order == Qt.SortOrder.DescendingOrder else "") + key)
        self.reload()

    # --- live ------------------------------------------------------------------------------------

    def _on_changed(self, areas: frozenset[str]) -> None:
        if "*" in areas and shiboken6.isValid(self):
            self._reload_timer.start()

    def _on_event(self, event: LiveEvent) -> None:
        """A ticket changed (here or on another desktop): patch its row, or reload to find it."""
        if not shiboken6.isValid(self) or event.module != "tickets" or event.entity != "ticket":
            return
        if event.entity_id is None or self.model.find(event.entity_id) is None:
            self._reload_timer.start()  # new, or now matching: a burst reloads once
            return
        tasks.spawn(self._patch(event.entity_id))

    async def _patch(self, ticket_id: int) -> None:
        ticket: TicketOut | None
        try:
            ticket = await tickets.get_ticket(self.api, ticket_id)
        except Exception as exc:  # gone or out of my scope: drop the row
            log.info("ticket %s not patched: %s", ticket_id, exc)
            ticket = None
        if not shiboken6.isValid(self):
            return
        if ticket is None or not matches(ticket, self.filters, self.session.me.id):
            self.model.remove_row(ticket_id)
            return
        self.model.replace_row(ticket)

    # --- opening ---------------------------------------------------------------------------------

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open(self.model.row(index.row()).id)

    def open(self, ticket_id: int) -> QWidget | None:
        self.open_requested.emit(ticket_id)
        return open_ticket(self, self.session, ticket_id)

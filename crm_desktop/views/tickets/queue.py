"""The ticket queue: a server-paged, server-sorted table, with tickets near or past their first
response deadline tinted in the theme's warning and danger tones.

Rows come a page at a time (PagedTableModel), filtered and sorted on the server, with the client's
and assignee's names in each row. Live events patch the rows they name and reload for tickets not
shown yet, so a colleague's new ticket appears in every open queue within a second.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import total_ordering
from typing import Any

import shiboken6
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import QVBoxLayout, QWidget

from crm_desktop import operations, tasks, theme
from crm_desktop.session import Session
from crm_desktop.views.tickets.filters import (
    OPEN_ORDER,
    PRIORITY_NAMES,
    STATUS_NAMES,
    TicketLookups,
)
from crm_desktop.widgets import kanban
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel, Row
from crm_server.contract.events import LiveEvent

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_LIMIT = 500  # the list endpoint's limit
RELOAD_DELAY_MS = 150
TICK_MS = 30_000  # the SLA clock's words ("in 25 min") are refreshed this often
WARNING = timedelta(minutes=30)  # as the server's "breaching": due within 30 minutes
PRIORITY_RANK = {"critical": 0, "high": 1, "normal": 2}
Fetch = Callable[[dict[str, Any], int, int], Awaitable[dict[str, Any]]]
Index = QModelIndex | QPersistentModelIndex


# --- words and tones -----------------------------------------------------------------------------


def when(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def span(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def sla(ticket: Any, now: datetime | None = None) -> tuple[str, str | None]:
    """("in 25 min" / "overdue 2 h" / "Answered", tone): the first-response clock of an open ticket;
    tone is "danger" when late, "warning" within 30 minutes, else None."""
    get = ticket.get if isinstance(ticket, dict) else lambda name: getattr(ticket, name, None)
    if get("first_responded_at"):
        return "Answered", None
    due = when(get("first_response_due_at"))
    status = get("status")
    if due is None or (status is not None and str(getattr(status, "value", status)) not in OPEN_ORDER):
        return "—", None
    left = due - (now or datetime.now(UTC))
    if left <= timedelta(0):
        return f"overdue {span(-left)}", "danger"
    return f"in {span(left)}", "warning" if left <= WARNING else None


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


def priority_tone(priority: str) -> str | None:
    return {"critical": "danger", "high": "warning"}.get(priority)


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


# --- several queries as one list -----------------------------------------------------------------


@total_ordering
class Reverse:
    """Wraps a value so that sorting ascending orders it descending."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reverse) and self.value == other.value

    def __lt__(self, other: Reverse) -> bool:
        return bool(other.value < self.value)


def sort_key(sort: str) -> Callable[[Row], tuple[Any, ...]]:
    """The server's order (crm_server/tickets/queries.order_by) as a Python key: merged pages keep it."""
    name, descending = sort.lstrip("-"), sort.startswith("-")

    def key(row: Row) -> tuple[Any, ...]:
        value: Any = row.get(name)
        if name == "priority":
            value = PRIORITY_RANK.get(str(value), 2)
        elif name.endswith("_at"):
            value = when(value)
        if descending:
            return (value is None, Reverse(value), Reverse(row["id"]))
        return (value is None, value, row["id"])

    return key


# --- the table -----------------------------------------------------------------------------------


class QueueModel(PagedTableModel):
    """Rows tinted by their SLA clock (data() only reads the held row and the clock)."""

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.BackgroundRole and index.isValid() and index.row() < self.rowCount():
            return tone_color(sla(self.row(index.row()))[1], soft=True)
        return super().data(index, role)


def matches(row: Row, values: dict[str, Any], me: int) -> bool:
    """Does a patched row still belong to the queue's filters (the fields a row shows plainly)?"""
    status = values.get("status")
    if status == "open" and row["status"] not in OPEN_ORDER:
        return False
    if status not in (None, "open") and row["status"] != status:
        return False
    if values.get("urgent") and row["priority"] == "normal" and sla(row)[1] is None:
        return False
    if values.get("mine") and row.get("assignee_id") != me:
        return False
    if bool(row.get("archived_at")) != bool(values.get("archived")):
        return False
    fields = ("priority", "team_id", "assignee_id", "category_id")
    return all(values.get(name) in (None, row.get(name)) for name in fields)


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
        self.values: dict[str, Any] = {"status": "open"}
        self.narrowed = False
        self.sort = "-number"
        names = self.lookups

        def sla_tone(row: Row) -> str | None:
            color = tone_color(sla(row)[1], soft=False)
            return color.name() if color is not None else None

        def priority_color(row: Row) -> str | None:
            color = tone_color(priority_tone(row["priority"]), soft=False)
            return color.name() if color is not None else None

        # (column, its TicketSort key or None when the server cannot sort by it, width)
        columns: list[tuple[Column, str | None, int]] = [
            (Column("#", lambda r: f"#{r['number']}"), "number", 62),
            (Column("Subject", lambda r: r["subject"], tooltip=lambda r: r["subject"]), None, 210),
            (Column("Client", lambda r: r.get("client_name") or r.get("requester_email") or ""), None, 140),
            (
                Column("Priority", lambda r: PRIORITY_NAMES.get(r["priority"], r["priority"]), color=priority_color),
                "priority",
                72,
            ),
            (Column("Status", lambda r: STATUS_NAMES.get(r["status"], r["status"])), None, 124),
            (Column("Team", lambda r: names.team(r.get("team_id"))), None, 100),
            (Column("Assignee", lambda r: r.get("assignee_name") or "—"), None, 116),
            (
                Column(
                    "SLA due",
                    lambda r: sla(r)[0],
                    color=sla_tone,
                    tooltip=lambda r: f"First response due {local(r.get('first_response_due_at'))}",
                ),
                "first_response_due_at",
                96,
            ),
            (
                Column("Updated", lambda r: ago(r.get("updated_at")), tooltip=lambda r: local(r.get("updated_at"))),
                "updated_at",
                80,
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

    async def _fetch(self, offset: int, limit: int) -> dict[str, Any]:
        page: dict[str, Any] = await self.api.get(
            "/api/tickets", **self.values, sort=self.sort, offset=offset, limit=limit
        )
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
            self.reload()

    def reload(self) -> None:
        self._reload_timer.stop()
        self.model.reload()

    def is_busy(self) -> bool:
        return self.model.loading

    def shown_ids(self) -> list[int]:
        return [int(r["id"]) for r in self.model.rows()]

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
        self.sort = ("-" if order == Qt.SortOrder.DescendingOrder else "") + key
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
        try:
            row: Row | None = await self.api.get(f"/api/tickets/{ticket_id}")
        except Exception as exc:  # gone or out of my scope: drop the row
            log.info("ticket %s not patched: %s", ticket_id, exc)
            row = None
        if not shiboken6.isValid(self):
            return
        if row is None or not matches(row, self.values, self.session.me.id):
            self.model.remove_row(ticket_id)
            return
        self.model.replace_row(row)

    # --- opening ---------------------------------------------------------------------------------

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open(int(self.model.row(index.row())["id"]))

    def open(self, ticket_id: int) -> QWidget | None:
        self.open_requested.emit(ticket_id)
        return open_ticket(self, self.session, ticket_id)


def ago(value: str | datetime | None) -> str:
    """ "5 min ago", "3 h ago", "2 d ago": the Updated column stays narrow (the tooltip has the time)."""
    moment = when(value)
    if moment is None:
        return "—"
    passed = datetime.now(UTC) - moment
    return "just now" if passed < timedelta(minutes=1) else f"{span(passed)} ago"


def local(value: str | datetime | None) -> str:
    moment = when(value)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment is not None else "—"

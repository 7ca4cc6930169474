"""The Tickets page: the support queue as a list or a board, under one filter bar.

    create_page(session) -> TicketsPage      # the sidebar's "Tickets" (see views/modules.py)

Queue and board share the filters, so switching (Ctrl+Shift+L / Ctrl+Shift+B) keeps them. The
new-ticket dialog (views/tickets/new_ticket.py) and the ticket's window (views/tickets/detail.py)
are imported when first used; until they are part of the build the page says so calmly.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QStackedWidget, QVBoxLayout, QWidget

from crm_desktop.session import Session
from crm_desktop.views.exports import ExportButton, ExportProgressDialog, begin_export
from crm_desktop.views.tickets.board import TicketBoard
from crm_desktop.views.tickets.filters import TicketFilterBar, TicketLookups
from crm_desktop.views.tickets.queue import TICK_MS, TicketQueue, open_ticket
from crm_desktop.widgets import kanban
from crm_desktop.widgets.page_header import PageHeader
from crm_server.contract.tickets import TicketQuery

log = logging.getLogger(__name__)

__all__ = ["TicketsPage", "create_page", "screenshot_states"]


class TicketsPage(QWidget):
    QUEUE, BOARD = 0, 1

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ticketsPage")
        self.session = session
        self.lookups = TicketLookups(session.api)
        root = QVBoxLayout(self)
        root.setContentsMargins(32, 26, 32, 16)
        root.setSpacing(14)
        root.addWidget(self._header())
        self.filters = TicketFilterBar(session, self.lookups)
        root.addWidget(self.filters)
        self.queue = TicketQueue(session, self.lookups)
        self.board = TicketBoard(session, self.lookups)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.queue)
        self.stack.addWidget(self.board)
        root.addWidget(self.stack, 1)

        self.filters.changed.connect(self._filters_changed)
        self.board.new_requested.connect(self.new_ticket)
        self.board.clear_filters_requested.connect(self.filters.clear_all)
        self._filters_changed()
        self._clock = QTimer(self)
        self._clock.setInterval(TICK_MS)
        self._clock.timeout.connect(self.board.tick)
        self._clock.start()
        here = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in (("Ctrl+Shift+L", self.show_queue), ("Ctrl+Shift+B", self.show_board)):
            QShortcut(QKeySequence(keys), self, context=here).activated.connect(slot)
        if session.can("tickets", "create"):
            QShortcut(QKeySequence.StandardKey.New, self, context=here).activated.connect(self.new_ticket)
        if session.can("tickets", "export"):
            QShortcut(QKeySequence("Ctrl+E"), self, context=here).activated.connect(self.export)

    def _header(self) -> QWidget:
        header = PageHeader(
            "Tickets",
            "Support requests and who is on them",
            [("Queue", "Ctrl+Shift+L"), ("Board", "Ctrl+Shift+B")],
            "New ticket",
            self.session.can("tickets", "create"),
        )
        self.views = header.views
        self.queue_button, self.board_button = header.buttons
        self.new_button = header.new_button
        self.new_button.clicked.connect(self.new_ticket)
        self.views.idClicked.connect(self.show_view)
        self.export_button = ExportButton(header, "tickets", self.export)
        self.export_button.setVisible(self.session.can("tickets", "export"))
        row = header.layout()
        if isinstance(row, QHBoxLayout):  # beside "New ticket"
            row.insertWidget(row.count() - 1, self.export_button, 0, Qt.AlignmentFlag.AlignBottom)
        return header

    # --- views -----------------------------------------------------------------------------------

    def show_view(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        button = self.views.button(index)
        if button is not None and not button.isChecked():
            button.setChecked(True)

    def show_queue(self) -> None:
        self.show_view(self.QUEUE)

    def show_board(self) -> None:
        self.show_view(self.BOARD)

    @property
    def current_view(self) -> str:
        return "board" if self.stack.currentIndex() == self.BOARD else "queue"

    def _filters_changed(self) -> None:
        values, narrowed = self.filters.values(), self.filters.is_narrowed()
        self.queue.set_filters(values, narrowed)
        self.board.set_filters(values, narrowed)

    # --- export ----------------------------------------------------------------------------------

    def export(self, fmt: str = "xlsx") -> asyncio.Task[Any] | None:
        """Ctrl+E: export the tickets these filters show, as a job (views/exports.py: progress,
        Cancel, then "Save as…")."""
        if not self.session.can("tickets", "export"):
            return None
        query = TicketQuery.model_construct(**self.queue.filters.model_dump(), sort=self.queue.sort)
        return begin_export(self, self.session, "tickets", query, fmt, opened=self._export_opened)

    def _export_opened(self, dialog: ExportProgressDialog) -> None:
        self.export_dialog = dialog

    # --- records ---------------------------------------------------------------------------------

    def new_ticket(self) -> QWidget | None:
        if not self.session.can("tickets", "create"):
            return None
        try:
            module = importlib.import_module("crm_desktop.views.tickets.new_ticket")
        except ModuleNotFoundError as exc:
            if exc.name != "crm_desktop.views.tickets.new_ticket":
                raise
            kanban.show_notice(self, "Adding a ticket from the desktop is not part of this build yet.", "Tickets")
            return None
        dialog: QWidget = module.NewTicketDialog(self.session, client_id=None, contact_id=None, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        getattr(dialog, "open", dialog.show)()
        return dialog

    def open_record(self, type_: str, record_id: int, parent_id: int | None = None) -> None:
        """A search hit (main window): a ticket opens in its own window."""
        if type_ == "ticket":
            open_ticket(self, self.session, record_id)


def create_page(session: Session) -> TicketsPage:
    return TicketsPage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The queue and the board with the demo data (python -m crm_desktop.screenshots), then the window
    of an open demo ticket whose conversation has a reply, an internal note and the customer's words."""
    from crm_desktop import tasks
    from crm_desktop.api import tickets
    from crm_server.contract.tickets import TicketQuery, TicketStatus

    found: dict[str, int] = {}

    async def pick() -> None:
        page = await tickets.list_tickets(ctx.api, TicketQuery(status=TicketStatus.in_process, limit=30))
        for ticket in page.items:
            thread = await tickets.list_comments(ctx.api, ticket.id)
            kinds = {(c.public, c.author_id is None) for c in thread}
            if {(True, False), (False, False), (True, True)} <= kinds:
                found["id"] = ticket.id
                return

    tasks.spawn(pick())  # the runner settles (waits for it) while the queue's picture is taken
    ctx.main.open_module("tickets")
    page = ctx.main.pages["tickets"].content
    if not isinstance(page, TicketsPage):
        page = TicketsPage(ctx.session)
    page.show_queue()
    yield "tickets-queue", page
    page.show_board()
    yield "tickets-board", page
    if "id" in found:
        window = open_ticket(ctx.main, ctx.session, found["id"])
        if window is not None:
            yield "ticket-window", window
            window.close()

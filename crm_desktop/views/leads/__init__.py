"""The Leads page: the pipeline as a board or a list, under one filter bar.

    create_page(session) -> LeadsPage      # the sidebar's "Leads" (see views/modules.py)

Board and list share the filters, so switching views (Ctrl+Shift+B / Ctrl+Shift+L) keeps them.
The list (views/leads/list.py) and the lead's own window and new-lead dialog (views/leads/detail.py)
are imported when first used; until they are part of the build the page says so calmly.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QStackedWidget, QVBoxLayout, QWidget

from crm_desktop.session import Session
from crm_desktop.views.leads.board import LeadBoard, open_lead, show_notice
from crm_desktop.views.leads.filters import LeadFilterBar
from crm_desktop.widgets.empty_state import EmptyState
from crm_desktop.widgets.page_header import PageHeader

log = logging.getLogger(__name__)

__all__ = ["LeadsPage", "create_page", "screenshot_states"]


def _optional(name: str) -> ModuleType | None:
    """A sibling module another part of the build provides, or None while it is missing."""
    try:
        return importlib.import_module(f"crm_desktop.views.leads.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"crm_desktop.views.leads.{name}":
            raise
        return None


class LeadsPage(QWidget):
    BOARD, LIST = 0, 1

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("leadsPage")
        self.session = session
        self.list: QWidget | None = None
        root = QVBoxLayout(self)
        root.setContentsMargins(32, 26, 32, 16)
        root.setSpacing(14)
        root.addWidget(self._header())
        self.filters = LeadFilterBar(session)
        root.addWidget(self.filters)
        self.board = LeadBoard(session)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.board)
        self.list_slot = QWidget()
        QVBoxLayout(self.list_slot).setContentsMargins(0, 0, 0, 0)
        self.stack.addWidget(self.list_slot)
        root.addWidget(self.stack, 1)

        self.filters.changed.connect(self._filters_changed)
        self.board.new_lead_requested.connect(self.new_lead)
        self.board.clear_filters_requested.connect(self.filters.clear_all)
        self._filters_changed()
        here = Qt.ShortcutContext.WidgetWithChildrenShortcut
        QShortcut(QKeySequence("Ctrl+Shift+B"), self, context=here).activated.connect(self.show_board)
        QShortcut(QKeySequence("Ctrl+Shift+L"), self, context=here).activated.connect(self.show_list)
        if session.can("leads", "create"):
            QShortcut(QKeySequence.StandardKey.New, self, context=here).activated.connect(self.new_lead)

    def _header(self) -> QWidget:
        header = PageHeader(
            "Leads",
            "New enquiries and where they stand",
            [("Board", "Ctrl+Shift+B"), ("List", "Ctrl+Shift+L")],
            "New lead",
            self.session.can("leads", "create"),
        )
        self.views = header.views
        self.board_button, self.list_button = header.buttons
        self.new_button = header.new_button
        self.new_button.clicked.connect(self.new_lead)
        self.views.idClicked.connect(self.show_view)
        return header

    # --- views -----------------------------------------------------------------------------------

    def show_view(self, index: int) -> None:
        if index == self.LIST:
            self._ensure_list()
        self.stack.setCurrentIndex(index)
        button = self.views.button(index)
        if button is not None and not button.isChecked():
            button.setChecked(True)

    def show_board(self) -> None:
        self.show_view(self.BOARD)

    def show_list(self) -> None:
        self.show_view(self.LIST)

    @property
    def current_view(self) -> str:
        return "list" if self.stack.currentIndex() == self.LIST else "board"

    def _ensure_list(self) -> None:
        if self.list is not None:
            return
        module = _optional("list")
        if module is None:
            self.list = EmptyState(
                "leads",
                "The list is on its way",
                "The board shows every lead of the pipeline meanwhile (Ctrl+Shift+B).",
            )
        else:
            self.list = module.LeadList(self.session)
            self._send_filters(self.list)
        layout = self.list_slot.layout()
        assert layout is not None
        layout.addWidget(self.list)

    def _send_filters(self, view: Any) -> None:
        setter = getattr(view, "set_filters", None)
        if callable(setter):
            setter(self.filters.values())

    def _filters_changed(self) -> None:
        self.board.set_filters(self.filters.values(), narrowed=self.filters.is_narrowed())
        if self.list is not None:
            self._send_filters(self.list)

    # --- records ---------------------------------------------------------------------------------

    def new_lead(self) -> QWidget | None:
        if not self.session.can("leads", "create"):
            return None
        module = _optional("detail")
        if module is None:
            show_notice(self, "Adding a lead from the desktop is not part of this build yet.")
            return None
        dialog: QWidget = module.NewLeadDialog(self.session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        created = getattr(dialog, "created", None)
        if created is not None:
            created.connect(lambda _lead: self.board.schedule_reload())
        opener = getattr(dialog, "open", dialog.show)
        opener()
        return dialog

    def open_record(self, type_: str, record_id: int, parent_id: int | None = None) -> None:
        """A search hit (main window): a lead opens in its own window."""
        if type_ == "lead":
            open_lead(self, self.session, record_id)


def create_page(session: Session) -> LeadsPage:
    return LeadsPage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The board with the demo data (python -m crm_desktop.screenshots)."""
    ctx.main.open_module("leads")
    page = ctx.main.pages["leads"].content
    if not isinstance(page, LeadsPage):
        page = LeadsPage(ctx.session)
    yield "leads-board", page
    board = page.board
    if board.columns and board.columns[0].cards:  # the notice after a move (drawn, nothing moved)
        first = board.columns[0].cards[0]
        board.offer_undo(f"{first.person_name} moved to Lost.", lambda: None)
        yield "leads-board-undo", page
        board.notice.hide()

"""The pipeline as a Kanban board: one column per status, a card per lead, drag to move.

One request (GET /api/leads/board) fills every column with its count, totals and first cards; a
column asks for more (GET /api/leads/board/columns/{id}) when scrolled to its end. A move is
optimistic: the card jumps at once and goes back if the server refuses (operations.run shows why).
Lost asks for a reason and Won offers to make a client first; a cancelled question moves nothing.
Every change to leads, from this desktop or any other, reloads the board (debounced: one request).
"""

from __future__ import annotations

import importlib
import json
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

import shiboken6
from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import (
    QDrag,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import icons, operations, tasks
from crm_desktop.api.client import ApiError
from crm_desktop.operations import change_bus
from crm_desktop.session import Session
from crm_desktop.views.leads.lookups import sales_lookups
from crm_desktop.views.leads.move_dialogs import LostReasonDialog, WonDialog, _MoveDialog
from crm_desktop.widgets.empty_state import EmptyState
from crm_server.contract.leads import Board, BoardCard, ColumnPage, MoneyTotal, StatusKind, StatusOut

log = logging.getLogger(__name__)

MIME_TYPE = "application/x-crm-lead"
PAGE = 50
MAX_PAGE = 200  # the board endpoint's per_column limit
RELOAD_MS = 150
COLUMN_WIDTH = 276
AREAS = frozenset({"*", "leads", "leads.lead", "activities"})


# --- small helpers -------------------------------------------------------------------------------

def money(amount: Decimal, currency: str | None) -> str:
    text = f"{amount:,.2f}".removesuffix(".00")
    return f"{text} {currency}" if currency else text


def totals_text(totals: list[MoneyTotal]) -> str:
    shown = [money(t.amount, t.currency) for t in totals if t.amount]
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
    return f"Follow-up {local.strftime('%d %b')}", overdue


def repolish(widget: QWidget) -> None:
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def lead_mime(card: BoardCard, status_id: int) -> QMimeData:
    """What a dragged card carries: its id and the column it leaves."""
    mime = QMimeData()
    mime.setData(MIME_TYPE, json.dumps({"id": card.id, "status_id": status_id}).encode())
    mime.setText(card.person_name)
    return mime


def read_mime(mime: QMimeData) -> dict[str, int] | None:
    if not mime.hasFormat(MIME_TYPE):
        return None
    try:
        data = json.loads(bytes(mime.data(MIME_TYPE).data()).decode())
        return {"id": int(data["id"]), "status_id": int(data["status_id"])}
    except (ValueError, KeyError, TypeError):
        return None


def show_notice(widget: QWidget, text: str) -> None:
    """A calm line in the window's notice banner (or a small box when there is none)."""
    notice = getattr(widget.window(), "show_notice", None)
    if callable(notice):
        notice(text)
        return
    box = QMessageBox(QMessageBox.Icon.Information, "Leads", text, QMessageBox.StandardButton.Ok, widget)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.open()


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

class LeadCard(QFrame):
    """One lead: focusable, draggable; Ctrl+Left/Right moves it, Enter or a double click opens it."""

    def __init__(self, card: BoardCard, column: ColumnWidget) -> None:
        super().__init__()
        self.card = card
        self.column = column
        self._press: QPoint | None = None
        self.setObjectName("leadCard")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.OpenHandCursor if column.board.can_move else Qt.CursorShape.PointingHandCursor)
        self.setAccessibleName(f"{card.person_name}{', ' + card.company if card.company else ''}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(3)
        self.name = QLabel(card.person_name)
        self.name.setObjectName("cardTitle")
        layout.addWidget(self.name)
        if card.company:
            company = QLabel(card.company)
            company.setProperty("role", "muted")
            layout.addWidget(company)
        top = QHBoxLayout()
        top.setSpacing(6)
        value = QLabel(money(card.value, card.currency) if card.value is not None else "No value")
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

    @property
    def board(self) -> LeadBoard:
        return self.column.board

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
            self.setFocus(Qt.FocusReason.MouseFocusReason)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if (self._press is not None and event.buttons() & Qt.MouseButton.LeftButton and self.board.can_move
                and (event.position().toPoint() - self._press).manhattanLength()
                >= QApplication.startDragDistance()):
            self._drag(self._press)
            self._press = None
            return
        super().mouseMoveEvent(event)

    def mime(self) -> QMimeData:
        return lead_mime(self.card, self.column.status.id)

    def _drag(self, hot_spot: QPoint) -> None:
        drag = QDrag(self)
        drag.setMimeData(self.mime())
        drag.setPixmap(self.grab())
        drag.setHotSpot(hot_spot)
        drag.exec(Qt.DropAction.MoveAction)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.board.open(self.card.id)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, ctrl = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if ctrl and key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.board.move_by(self.card.id, -1 if key == Qt.Key.Key_Left else 1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.board.open(self.card.id)
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.board.focus_step(self, rows=-1 if key == Qt.Key.Key_Up else 1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.board.focus_step(self, columns=-1 if key == Qt.Key.Key_Left else 1)
        else:
            super().keyPressEvent(event)


# --- a column ------------------------------------------------------------------------------------

class ColumnWidget(QFrame):
    """One status: header (name, count, totals) over its cards; a drop target."""

    def __init__(self, board: LeadBoard, status: StatusOut) -> None:
        super().__init__()
        self.board = board
        self.status = status
        self.count = 0
        self.totals: list[MoneyTotal] = []
        self.cards: list[BoardCard] = []
        self.card_widgets: list[LeadCard] = []
        self.fetching = False
        self.setObjectName("boardColumn")
        self.setProperty("kind", status.kind.value)
        self.setProperty("dropTarget", False)
        self.setFixedWidth(COLUMN_WIDTH)
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 12, 10, 8)
        layout.setSpacing(8)
        head = QHBoxLayout()
        head.setSpacing(8)
        self.title = QLabel(status.name)
        self.title.setObjectName("columnTitle")
        self.count_label = QLabel("0")
        self.count_label.setObjectName("columnCount")
        head.addWidget(self.title, 1)
        head.addWidget(self.count_label)
        layout.addLayout(head)
        self.totals_label = QLabel()
        self.totals_label.setObjectName("columnTotals")
        layout.addWidget(self.totals_label)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("columnScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        body.setObjectName("columnBody")
        self.body = QVBoxLayout(body)
        self.body.setContentsMargins(0, 2, 4, 2)
        self.body.setSpacing(8)
        self.empty = QLabel("No leads here")
        self.empty.setObjectName("columnEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.more = QLabel("Loading more…")
        self.more.setProperty("role", "caption")
        self.more.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.more.setVisible(False)
        self.body.addWidget(self.empty)
        self.body.addWidget(self.more)
        self.body.addStretch(1)
        self.scroll.setWidget(body)
        layout.addWidget(self.scroll, 1)
        self.scroll.verticalScrollBar().valueChanged.connect(self._scrolled)

    # --- data ------------------------------------------------------------------------------------

    def set_data(self, count: int, totals: list[MoneyTotal], cards: list[BoardCard]) -> None:
        self.count, self.totals = count, totals
        self.set_cards(cards)

    def set_cards(self, cards: list[BoardCard]) -> None:
        for widget in self.card_widgets:
            widget.hide()
            widget.deleteLater()
        self.cards = list(cards)
        self.card_widgets = []
        for index, card in enumerate(self.cards):
            widget = LeadCard(card, self)
            self.card_widgets.append(widget)
            self.body.insertWidget(index, widget)
            widget.show()  # at once (a layout shows new children later), so focus can land on it
        self._update_header()

    def append(self, cards: list[BoardCard]) -> None:
        known = {c.id for c in self.cards}
        for card in cards:
            if card.id in known:
                continue
            widget = LeadCard(card, self)
            self.cards.append(card)
            self.card_widgets.append(widget)
            self.body.insertWidget(len(self.card_widgets) - 1, widget)
            widget.show()
        self._update_header()

    def _update_header(self) -> None:
        self.count_label.setText(str(self.count))
        self.count_label.setAccessibleName(f"{self.count} leads")
        self.totals_label.setText(totals_text(self.totals))
        self.empty.setVisible(not self.cards)
        self.more.setVisible(self.fetching)

    def has_more(self) -> bool:
        return len(self.cards) < self.count

    def widget_of(self, lead_id: int) -> LeadCard | None:
        return next((w for w in self.card_widgets if w.card.id == lead_id), None)

    def _scrolled(self, value: int) -> None:
        bar = self.scroll.verticalScrollBar()
        if value >= bar.maximum() - 80 and self.has_more() and not self.fetching:
            self.board.fetch_more(self)

    # --- drop target -----------------------------------------------------------------------------

    def _wants(self, mime: QMimeData) -> dict[str, int] | None:
        data = read_mime(mime)
        if data is None or data["status_id"] == self.status.id or not self.board.can_move:
            return None
        return data

    def _set_target(self, on: bool) -> None:
        if self.property("dropTarget") != on:
            self.setProperty("dropTarget", on)
            repolish(self)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._wants(event.mimeData()):
            event.acceptProposedAction()
            self._set_target(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._wants(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_target(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_target(False)
        data = self._wants(event.mimeData())
        if data is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.MoveAction)
        event.accept()
        self.board.move_card(data["id"], self.status.id)


# --- the board -----------------------------------------------------------------------------------

class LeadBoard(QWidget):
    """The Kanban of one pipeline, filtered like the list (``set_filters``)."""

    lead_opened = Signal(int)
    new_lead_requested = Signal()
    clear_filters_requested = Signal()
    loaded = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("leadBoard")
        self.session = session
        self.lookups = sales_lookups(session)
        self.filters: dict[str, Any] = {}
        self.columns: list[ColumnWidget] = []
        self.pipeline_id: int | None = None
        self.has_loaded = False
        self._narrowed: bool | None = None
        self._seq = 0
        self._moving = 0
        self._build()
        self._stale = True  # nothing loaded yet, or changes came while hidden
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_MS)
        self._reload_timer.timeout.connect(self.reload)
        change_bus().changed.connect(self._on_changed)
        self.schedule_reload()

    @property
    def can_move(self) -> bool:
        return self.session.can("leads", "edit")

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.notice = QFrame()
        self.notice.setObjectName("boardNotice")
        self.notice.setProperty("role", "info")
        self.notice_text = QLabel()
        self.notice_text.setWordWrap(True)
        close = QToolButton()
        close.setIcon(icons.icon("close"))
        close.setAccessibleName("Dismiss")
        close.clicked.connect(self.notice.hide)
        row = QHBoxLayout(self.notice)
        row.setContentsMargins(12, 6, 6, 6)
        row.addWidget(self.notice_text, 1)
        row.addWidget(close)
        self.notice.hide()
        layout.addWidget(self.notice)

        self.stack = QStackedWidget()
        self.scroll = QScrollArea()
        self.scroll.setObjectName("boardScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        strip = QWidget()
        strip.setObjectName("boardStrip")
        self.strip = QHBoxLayout(strip)
        self.strip.setContentsMargins(0, 0, 0, 4)
        self.strip.setSpacing(12)
        self.strip.addStretch(1)
        self.scroll.setWidget(strip)
        self.stack.addWidget(self.scroll)
        self.no_leads = EmptyState("leads", "No open leads", "New enquiries from web forms, Facebook Lead Ads and "
                                   "your colleagues appear here. Add one yourself with New lead (Ctrl+N).",
                                   action="New lead")
        assert self.no_leads.button is not None
        self.no_leads.button.clicked.connect(self.new_lead_requested)
        self.no_match = EmptyState("search", "No leads match these filters",
                                   "Try fewer filters, or clear them to see the whole pipeline.",
                                   action="Clear all filters")
        assert self.no_match.button is not None
        self.no_match.button.clicked.connect(self.clear_filters_requested)
        self.stack.addWidget(self.no_leads)
        self.stack.addWidget(self.no_match)
        layout.addWidget(self.stack, 1)

    def show_notice(self, text: str) -> None:
        self.notice_text.setText(text)
        self.notice.show()

    # --- loading ---------------------------------------------------------------------------------

    def set_filters(self, params: dict[str, Any], narrowed: bool | None = None) -> None:
        self.filters = dict(params)
        self._narrowed = narrowed
        self.schedule_reload()

    def schedule_reload(self) -> None:
        self._reload_timer.start()

    def reload_pending(self) -> bool:
        return self._reload_timer.isActive() or self._moving > 0

    def reload(self) -> None:
        self._reload_timer.stop()
        if not self.isVisible():
            # A hidden board (the List tab, a closed window) asks the server nothing; it loads when shown.
            self._stale = True
            return
        self._stale = False
        self._seq += 1
        tasks.spawn(self._load(self._seq))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & AREAS:
            self.schedule_reload()

    def _page_size(self) -> int:
        return min(MAX_PAGE, max([PAGE, *(len(c.cards) for c in self.columns)]))

    async def _load(self, seq: int) -> None:
        try:
            raw = await self.session.api.get("/api/leads/board", per_column=self._page_size(), **self.filters)
        except ApiError as exc:
            log.info("the board did not load: %s", exc.message)
            return
        if not shiboken6.isValid(self) or seq != self._seq:
            return  # gone, or a newer load is on its way
        if self._moving:
            return  # a move is in flight: its end reloads (this answer may predate it)
        self.apply(Board.model_validate(raw))

    def apply(self, board: Board) -> None:
        focused = self.focused_lead()
        self.pipeline_id = board.pipeline_id
        if [c.status.id for c in self.columns] != [c.status.id for c in board.columns]:
            for column in self.columns:
                column.hide()
                column.deleteLater()
            self.columns = []
            for index, data in enumerate(board.columns):
                column = ColumnWidget(self, data.status)
                self.columns.append(column)
                self.strip.insertWidget(index, column)
        for column, data in zip(self.columns, board.columns, strict=True):
            column.status = data.status
            column.title.setText(data.status.name)
            column.set_data(data.count, data.totals, data.cards)
        total = sum(c.count for c in board.columns)
        narrowed = self._narrowed
        if narrowed is None:
            narrowed = any(k not in ("pipeline_id", "include_closed") for k in self.filters)
        self.stack.setCurrentWidget(self.scroll if total else (self.no_match if narrowed else self.no_leads))
        if focused is not None:
            self.focus_lead(focused)
        self.has_loaded = True
        self.loaded.emit()

    def fetch_more(self, column: ColumnWidget) -> None:
        column.fetching = True
        column.more.setVisible(True)
        tasks.spawn(self._fetch_more(column, self._seq))

    async def _fetch_more(self, column: ColumnWidget, seq: int) -> None:
        try:
            raw = await self.session.api.get(f"/api/leads/board/columns/{column.status.id}", offset=len(column.cards),
                                             limit=PAGE, **self.filters)
        except ApiError as exc:
            log.info("more cards did not load: %s", exc.message)
            raw = None
        if not shiboken6.isValid(column):
            return
        column.fetching = False
        column.more.setVisible(False)
        if raw is not None and seq == self._seq:
            column.append(ColumnPage.model_validate(raw).cards)

    # --- finding ---------------------------------------------------------------------------------

    def column(self, status_id: int) -> ColumnWidget | None:
        return next((c for c in self.columns if c.status.id == status_id), None)

    def column_named(self, name: str) -> ColumnWidget | None:
        return next((c for c in self.columns if c.status.name == name), None)

    def column_of(self, lead_id: int) -> ColumnWidget | None:
        return next((c for c in self.columns if any(card.id == lead_id for card in c.cards)), None)

    def card_widget(self, lead_id: int) -> LeadCard | None:
        column = self.column_of(lead_id)
        return column.widget_of(lead_id) if column is not None else None

    def focused_lead(self) -> int | None:
        widget = QApplication.focusWidget()
        return widget.card.id if isinstance(widget, LeadCard) and widget.column.board is self else None

    def focus_lead(self, lead_id: int) -> None:
        widget = self.card_widget(lead_id)
        if widget is not None:
            widget.setFocus(Qt.FocusReason.OtherFocusReason)
            widget.column.scroll.ensureWidgetVisible(widget)
            self.scroll.ensureWidgetVisible(widget.column)

    def focus_step(self, card: LeadCard, rows: int = 0, columns: int = 0) -> None:
        """Arrow keys: the card above/below, or the nearest card in the next column that has one."""
        column = card.column
        row = column.card_widgets.index(card) if card in column.card_widgets else 0
        if rows:
            target = row + rows
            if 0 <= target < len(column.card_widgets):
                self.focus_lead(column.card_widgets[target].card.id)
            return
        index = self.columns.index(column) + columns
        while 0 <= index < len(self.columns):
            widgets = self.columns[index].card_widgets
            if widgets:
                self.focus_lead(widgets[min(row, len(widgets) - 1)].card.id)
                return
            index += columns

    # --- opening ---------------------------------------------------------------------------------

    def open(self, lead_id: int) -> None:
        self.lead_opened.emit(lead_id)
        open_lead(self, self.session, lead_id)

    # --- moving ----------------------------------------------------------------------------------

    def move_by(self, lead_id: int, step: int) -> None:
        """Ctrl+Left / Ctrl+Right: to the neighbouring column."""
        source = self.column_of(lead_id)
        if source is None:
            return
        index = self.columns.index(source) + step
        if 0 <= index < len(self.columns):
            self.move_card(lead_id, self.columns[index].status.id)

    def move_card(self, lead_id: int, status_id: int) -> QWidget | None:
        """Where a drop (or a key) lands: ask what Lost and Won need, then move. Returns the dialog
        asked, if any."""
        source, target = self.column_of(lead_id), self.column(status_id)
        if source is None or target is None or source is target or not self.can_move:
            return None
        card = next(c for c in source.cards if c.id == lead_id)
        dialog: _MoveDialog | None = None
        if target.status.kind == StatusKind.lost:
            dialog = LostReasonDialog(self.lookups.lost_reasons, card.person_name, self)
            dialog.follow(self.lookups)
        elif target.status.kind == StatusKind.won:
            dialog = WonDialog(card, self)
        if dialog is None:
            self._send(card, status_id, {}, None)
            return None
        asked = dialog
        dialog.submitted.connect(lambda extra: self._send(card, status_id, extra, asked))
        dialog.rejected.connect(lambda: self.focus_lead(card.id))
        dialog.open()
        return dialog

    def _shift(self, card: BoardCard, source: ColumnWidget, target: ColumnWidget, index: int = 0) -> None:
        """Move a card between columns on screen, counts and totals included."""
        source.count, source.totals = source.count - 1, _add_total(source.totals, card, -1)
        target.count, target.totals = target.count + 1, _add_total(target.totals, card, +1)
        source.set_cards([c for c in source.cards if c.id != card.id])
        cards = list(target.cards)
        cards.insert(min(index, len(cards)), card)
        target.set_cards(cards)
        self.stack.setCurrentWidget(self.scroll)

    def _send(self, card: BoardCard, status_id: int, extra: dict[str, Any], dialog: _MoveDialog | None) -> None:
        source, target = self.column_of(card.id), self.column(status_id)
        if source is None or target is None or source is target:
            return
        had_focus = self.focused_lead() == card.id
        card = next(c for c in source.cards if c.id == card.id)  # the newest version (a reload may have come)
        index = source.cards.index(card)
        self._shift(card, source, target)
        if had_focus:
            self.focus_lead(card.id)
        self._moving += 1
        body = {"version": card.version, "status_id": status_id, **extra}
        task = operations.run(dialog or self, self.session.api.post(f"/api/leads/{card.id}/move", json=body),
                              changed=frozenset({"leads", "leads.lead"}),
                              fields=dialog.fields() if dialog is not None else None,
                              busy=dialog.ok if dialog is not None else None)

        def done(finished: Any) -> None:
            self._moving -= 1
            result = None if finished.cancelled() else finished.result()
            if not shiboken6.isValid(self):
                return
            if result is None:  # refused: back where it was (the handler told the user why)
                back, here = self.column(source.status.id), self.column_of(card.id)
                if back is not None and here is not None and here is not back:
                    self._shift(card, here, back, index)
            else:
                self._moved(result, dialog)
            self.schedule_reload()

        task.add_done_callback(done)

    def _moved(self, result: dict[str, Any], dialog: _MoveDialog | None) -> None:
        if dialog is not None and shiboken6.isValid(dialog):
            dialog.finish()
        client = result.get("client")
        lead = result.get("lead") or {}
        if client:
            self.show_notice(f"{lead.get('person_name', 'The lead')} is won, and {client['name']} is now a client.")

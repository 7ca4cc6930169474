"""A Kanban board: columns with a header (title, count, a caption), scrollable card lists that ask
for more at their end, drag and drop between columns, keyboard moves, optimistic moves that go back
when the server refuses, an Undo notice after a move (Ctrl+Z; what undoing means is the subclass's:
``offer_undo``/``set_undo``), columns that keep their scroll position, and calm empty states.

The leads pipeline (views/leads/board.py) and the tickets board (views/tickets/board.py) are thin
subclasses: they say how a card looks (``KanbanCard.build``), where the data comes from
(``KanbanBoard.load``/``load_more``) and what a move asks and sends (``KanbanBoard.move_card``,
``send``). Everything a person touches (focus, arrows, Ctrl+Left/Right, drag, rollback) lives here,
once, so both boards behave the same.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol

import shiboken6
from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import (
    QDrag,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import icons, operations, tasks
from crm_desktop.operations import change_bus
from crm_desktop.widgets.empty_state import EmptyState

log = logging.getLogger(__name__)

COLUMN_WIDTH = 276
RELOAD_MS = 150
UNDO_MS = 8000  # how long "Moved to Lost · Undo" stays; Ctrl+Z undoes the last move after that too
Key = Hashable  # what names a column: a status id (leads), a status value (tickets)


class MoveQuestion(Protocol):
    """A dialog asked before a move (why lost, the resolution note): the move is sent with it as the
    operation's parent, so a refusal lands next to its field; ``finish`` closes it once agreed."""

    ok: QPushButton

    def fields(self) -> dict[str, QWidget]: ...

    def finish(self) -> None: ...


def repolish(widget: QWidget) -> None:
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def show_notice(widget: QWidget, text: str, title: str = "Notice") -> None:
    """A calm line in the window's notice banner (or a small box when there is none)."""
    notice = getattr(widget.window(), "show_notice", None)
    if callable(notice):
        notice(text)
        return
    box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, widget)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.open()


def card_mime(mime_type: str, card_id: int, column: Key, text: str) -> QMimeData:
    """What a dragged card carries: its id and the column it leaves."""
    mime = QMimeData()
    mime.setData(mime_type, json.dumps({"id": card_id, "column": column}).encode())
    mime.setText(text)
    return mime


def read_card_mime(mime: QMimeData, mime_type: str) -> tuple[int, Key] | None:
    if not mime.hasFormat(mime_type):
        return None
    try:
        data = json.loads(bytes(mime.data(mime_type).data()).decode())
        return int(data["id"]), data["column"]
    except (ValueError, KeyError, TypeError):
        return None


# --- a card --------------------------------------------------------------------------------------


class KanbanCard(QFrame):
    """One record: focusable, draggable; Ctrl+Left/Right moves it, Enter or a double click opens it.
    Subclasses fill the frame in ``build``."""

    def __init__(self, card: Any, column: KanbanColumn) -> None:
        super().__init__()
        self.card = card
        self.column = column
        self._press: QPoint | None = None
        self.setObjectName("kanbanCard")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.OpenHandCursor if column.board.can_move else Qt.CursorShape.PointingHandCursor)
        self.content = QVBoxLayout(self)
        self.content.setContentsMargins(12, 10, 12, 10)
        self.content.setSpacing(3)
        self.build(card)

    def build(self, card: Any) -> None:
        raise NotImplementedError

    @property
    def board(self) -> KanbanBoard:
        return self.column.board

    def mime(self) -> QMimeData:
        return card_mime(self.board.MIME_TYPE, self.card.id, self.column.key, self.accessibleName())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
            self.setFocus(Qt.FocusReason.MouseFocusReason)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if (
            self._press is not None
            and event.buttons() & Qt.MouseButton.LeftButton
            and self.board.can_move
            and (event.position().toPoint() - self._press).manhattanLength() >= QApplication.startDragDistance()
        ):
            self._drag(self._press)
            self._press = None
            return
        super().mouseMoveEvent(event)

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


class KanbanColumn(QFrame):
    """One column: header (title, count, caption) over its cards; a drop target."""

    def __init__(self, board: KanbanBoard, key: Key, title: str, kind: str = "") -> None:
        super().__init__()
        self.board = board
        self.key = key
        self.count = 0
        self.cards: list[Any] = []
        self.card_widgets: list[KanbanCard] = []
        self.fetching = False
        self.setObjectName("boardColumn")
        self.setProperty("kind", kind)
        self.setProperty("dropTarget", False)
        self.setFixedWidth(COLUMN_WIDTH)
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 12, 10, 8)
        layout.setSpacing(8)
        head = QHBoxLayout()
        head.setSpacing(8)
        self.title = QLabel(title)
        self.title.setObjectName("columnTitle")
        self.count_label = QLabel("0")
        self.count_label.setObjectName("columnCount")
        head.addWidget(self.title, 1)
        head.addWidget(self.count_label)
        layout.addLayout(head)
        self.caption = QLabel()
        self.caption.setObjectName("columnTotals")
        layout.addWidget(self.caption)
        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("columnScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        body.setObjectName("columnBody")
        self.body = QVBoxLayout(body)
        self.body.setContentsMargins(0, 2, 4, 2)
        self.body.setSpacing(8)
        self.empty = QLabel(f"No {board.NOUNS[1]} here")
        self.empty.setObjectName("columnEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.more = QLabel("Loading more…")
        self.more.setProperty("role", "caption")
        self.more.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.more.setVisible(False)
        self.body.addWidget(self.empty)
        self.body.addWidget(self.more)
        self.body.addStretch(1)
        self.scroll_area.setWidget(body)
        layout.addWidget(self.scroll_area, 1)
        self.scroll_area.verticalScrollBar().valueChanged.connect(self._scrolled)

    # --- data ------------------------------------------------------------------------------------

    def set_data(self, count: int, cards: list[Any]) -> None:
        self.count = count
        self.set_cards(cards)

    def set_cards(self, cards: list[Any]) -> None:
        kept = self.scroll_area.verticalScrollBar().value()
        for widget in self.card_widgets:
            if widget.hasFocus():
                widget.clearFocus()  # hiding a focused card hands focus on, and the scroll area jumps to it
            widget.hide()
            widget.deleteLater()
        self.cards = list(cards)
        self.card_widgets = []
        for index, card in enumerate(self.cards):
            widget = self.board.card_class(card, self)
            self.card_widgets.append(widget)
            self.body.insertWidget(index, widget)
            widget.show()  # at once (a layout shows new children later), so focus can land on it
        self.update_header()
        self.keep_scroll(kept)

    def keep_scroll(self, value: int) -> None:
        """Stay where the person scrolled the column when its cards are rebuilt (a card left, a reload)."""
        bar = self.scroll_area.verticalScrollBar()
        body = self.scroll_area.widget()
        layout = body.layout() if body is not None else None
        if layout is not None:
            layout.activate()
        bar.setValue(value)

    def append(self, cards: list[Any]) -> None:
        known = {c.id for c in self.cards}
        for card in cards:
            if card.id in known:
                continue
            widget = self.board.card_class(card, self)
            self.cards.append(card)
            self.card_widgets.append(widget)
            self.body.insertWidget(len(self.card_widgets) - 1, widget)
            widget.show()
        self.update_header()

    def caption_text(self) -> str:
        """The line under the title (leads: the money in the column)."""
        return ""

    def update_header(self) -> None:
        one, many = self.board.NOUNS
        self.count_label.setText(str(self.count))
        self.count_label.setAccessibleName(f"{self.count} {one if self.count == 1 else many}")
        caption = self.caption_text()
        self.caption.setText(caption)
        self.caption.setVisible(bool(caption))
        self.empty.setVisible(not self.cards)
        self.more.setVisible(self.fetching)

    def has_more(self) -> bool:
        return len(self.cards) < self.count

    def widget_of(self, card_id: int) -> KanbanCard | None:
        return next((w for w in self.card_widgets if w.card.id == card_id), None)

    def _scrolled(self, value: int) -> None:
        bar = self.scroll_area.verticalScrollBar()
        if value >= bar.maximum() - 80 and self.has_more() and not self.fetching:
            self.board.fetch_more(self)

    # --- drop target -----------------------------------------------------------------------------

    def _wants(self, mime: QMimeData) -> int | None:
        data = read_card_mime(mime, self.board.MIME_TYPE)
        if data is None or data[1] == self.key or not self.board.can_move:
            return None
        return data[0]

    def _set_target(self, on: bool) -> None:
        if self.property("dropTarget") != on:
            self.setProperty("dropTarget", on)
            repolish(self)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._wants(event.mimeData()) is not None:
            event.acceptProposedAction()
            self._set_target(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._wants(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_target(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_target(False)
        card_id = self._wants(event.mimeData())
        if card_id is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.MoveAction)
        event.accept()
        self.board.move_card(card_id, self.key)


# --- the board -----------------------------------------------------------------------------------


class KanbanBoard(QWidget):
    """Columns side by side under a notice line, or an empty state when nothing shows.

    Subclasses set MIME_TYPE, NOUNS, AREAS, card_class/column_class and implement ``load`` (one
    request for the whole board, then ``show_columns``), ``load_more`` and ``move_card``."""

    MIME_TYPE = "application/x-crm-card"
    NOUNS = ("card", "cards")
    AREAS: frozenset[str] = frozenset({"*"})
    card_class: type[KanbanCard] = KanbanCard
    column_class: type[KanbanColumn] = KanbanColumn

    opened = Signal(int)  # a card's id (Enter / double click)
    new_requested = Signal()
    clear_filters_requested = Signal()
    loaded = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filters: dict[str, Any] = {}
        self.columns: list[KanbanColumn] = []
        self.has_loaded = False
        self._narrowed: bool | None = None
        self._seq = 0
        self._moving = 0
        self.last_move: tuple[int, Key, Key] | None = None  # (card, from, to) of the last move agreed
        self._undo: Callable[[], object] | None = None
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
        return False

    # --- building --------------------------------------------------------------------------------

    def empty_states(self) -> tuple[EmptyState, EmptyState]:
        """(nothing at all, nothing matches the filters); the buttons emit new/clear requests."""
        many = self.NOUNS[1]
        return (
            EmptyState("search", f"No {many} yet", f"New {many} appear here.", action="New"),
            EmptyState(
                "search",
                f"No {many} match these filters",
                "Try fewer filters, or clear them.",
                action="Clear all filters",
            ),
        )

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.notice = QFrame()
        self.notice.setObjectName("boardNotice")
        self.notice.setProperty("role", "info")
        self.notice_text = QLabel()
        self.notice_text.setWordWrap(True)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setObjectName("boardUndo")
        self.undo_button.setToolTip("Move it back (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undo_last)
        self.undo_button.hide()
        close = QToolButton()
        close.setIcon(icons.icon("close"))
        close.setAccessibleName("Dismiss")
        close.clicked.connect(self.notice.hide)
        row = QHBoxLayout(self.notice)
        row.setContentsMargins(12, 6, 6, 6)
        row.addWidget(self.notice_text, 1)
        row.addWidget(self.undo_button)
        row.addWidget(close)
        self.notice.hide()
        layout.addWidget(self.notice)
        self.undo_timer = QTimer(self)
        self.undo_timer.setSingleShot(True)
        self.undo_timer.setInterval(UNDO_MS)
        self.undo_timer.timeout.connect(self._undo_expired)
        # Ctrl+Z anywhere in the window while the board shows (a text field's own undo comes first).
        undo = QShortcut(QKeySequence(QKeySequence.StandardKey.Undo), self)
        undo.setContext(Qt.ShortcutContext.WindowShortcut)
        undo.activated.connect(self.undo_last)

        self.stack = QStackedWidget()
        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("boardScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        strip = QWidget()
        strip.setObjectName("boardStrip")
        self.strip = QHBoxLayout(strip)
        self.strip.setContentsMargins(0, 0, 0, 4)
        self.strip.setSpacing(12)
        self.strip.addStretch(1)
        self.scroll_area.setWidget(strip)
        self.stack.addWidget(self.scroll_area)
        self.no_cards, self.no_match = self.empty_states()
        if self.no_cards.button is not None:
            self.no_cards.button.clicked.connect(self.new_requested)
        if self.no_match.button is not None:
            self.no_match.button.clicked.connect(self.clear_filters_requested)
        self.stack.addWidget(self.no_cards)
        self.stack.addWidget(self.no_match)
        layout.addWidget(self.stack, 1)

    def show_notice(self, text: str) -> None:
        self.undo_timer.stop()
        self.undo_button.hide()
        self.notice_text.setText(text)
        self.notice.show()

    # --- undo ------------------------------------------------------------------------------------

    def offer_undo(self, text: str, undo: Callable[[], object]) -> None:
        """A notice with an Undo button for a few seconds; Ctrl+Z runs ``undo`` (once) until the next move."""
        self.show_notice(text)
        self._undo = undo
        self.undo_button.show()
        self.undo_timer.start()

    def set_undo(self, undo: Callable[[], object] | None) -> None:
        """What Ctrl+Z does now (None: nothing), without a notice."""
        self._undo = undo

    def undo_last(self) -> bool:
        """Ctrl+Z / Undo: undo the last move made here; False when there is nothing to undo."""
        undo, self._undo = self._undo, None
        if self.undo_button.isVisible() or self.undo_timer.isActive():
            self.undo_timer.stop()
            self.undo_button.hide()
            self.notice.hide()
        if undo is None:
            return False
        undo()
        return True

    def _undo_expired(self) -> None:
        if shiboken6.isValid(self) and not self.undo_button.isHidden():
            self.undo_button.hide()
            self.notice.hide()

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
            # A hidden board (another tab, a closed window) asks the server nothing; it loads when shown.
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
        if areas & self.AREAS and shiboken6.isValid(self):
            self.schedule_reload()

    async def _load(self, seq: int) -> None:
        try:
            data = await self.load()
        except Exception as exc:  # an ApiError or a lost connection: the next change reloads
            log.info("the board did not load: %s", getattr(exc, "message", exc))
            return
        if not shiboken6.isValid(self) or seq != self._seq:
            return  # gone, or a newer load is on its way
        if self._moving:
            return  # a move is in flight: its end reloads (this answer may predate it)
        self.apply(data)

    async def load(self) -> Any:
        """The whole board from the server (runs in the background); ``apply`` shows it."""
        raise NotImplementedError

    def apply(self, data: Any) -> None:
        raise NotImplementedError

    def page_size(self, page: int, most: int) -> int:
        """Cards per column to ask for: a reload keeps what was scrolled into view."""
        return min(most, max([page, *(len(c.cards) for c in self.columns)]))

    def show_columns(self, columns: list[tuple[Key, str, str, int, list[Any]]]) -> None:
        """(key, title, kind, count, first cards) per column: rebuild only when the columns changed."""
        focused = self.focused_card()
        if [c.key for c in self.columns] != [key for key, *_ in columns]:
            for column in self.columns:
                column.hide()
                column.deleteLater()
            self.columns = []
            for index, (key, title, kind, _count, _cards) in enumerate(columns):
                column = self.column_class(self, key, title, kind)
                self.columns.append(column)
                self.strip.insertWidget(index, column)
        for column, (_key, title, kind, count, cards) in zip(self.columns, columns, strict=True):
            column.title.setText(title)
            if column.property("kind") != kind:
                column.setProperty("kind", kind)
                repolish(column)
            self.column_loaded(column)
            column.set_data(count, cards)
        total = sum(c.count for c in self.columns)
        self.stack.setCurrentWidget(
            self.scroll_area if total else (self.no_match if self.is_narrowed() else self.no_cards)
        )
        if focused is not None:
            self.focus_card(focused)
        self.has_loaded = True
        self.loaded.emit()

    def is_narrowed(self) -> bool:
        """Do the filters hide cards (so an empty board says "nothing matches", not "nothing yet")?"""
        return self._narrowed if self._narrowed is not None else bool(self.filters)

    def column_loaded(self, column: KanbanColumn) -> None:
        """Hook: fresh data for ``column`` is about to be shown (leads keep the status and totals)."""

    def fetch_more(self, column: KanbanColumn) -> None:
        column.fetching = True
        column.more.setVisible(True)
        tasks.spawn(self._fetch_more(column, self._seq))

    async def _fetch_more(self, column: KanbanColumn, seq: int) -> None:
        try:
            cards: list[Any] | None = await self.load_more(column)
        except Exception as exc:
            log.info("more cards did not load: %s", getattr(exc, "message", exc))
            cards = None
        if not shiboken6.isValid(column):
            return
        column.fetching = False
        column.more.setVisible(False)
        if cards is not None and seq == self._seq:
            column.append(cards)

    async def load_more(self, column: KanbanColumn) -> list[Any]:
        """The next cards of ``column`` (after ``len(column.cards)``)."""
        raise NotImplementedError

    # --- finding ---------------------------------------------------------------------------------

    def column(self, key: Key) -> KanbanColumn | None:
        return next((c for c in self.columns if c.key == key), None)

    def column_of(self, card_id: int) -> KanbanColumn | None:
        return next((c for c in self.columns if any(card.id == card_id for card in c.cards)), None)

    def card_widget(self, card_id: int) -> KanbanCard | None:
        column = self.column_of(card_id)
        return column.widget_of(card_id) if column is not None else None

    def card(self, card_id: int) -> Any | None:
        column = self.column_of(card_id)
        return next((c for c in column.cards if c.id == card_id), None) if column is not None else None

    def focused_card(self) -> int | None:
        widget = QApplication.focusWidget()
        if isinstance(widget, KanbanCard) and widget.column.board is self:
            return int(widget.card.id)
        return None

    def focus_card(self, card_id: int) -> None:
        widget = self.card_widget(card_id)
        if widget is not None:
            widget.setFocus(Qt.FocusReason.OtherFocusReason)
            widget.column.scroll_area.ensureWidgetVisible(widget)
            self.scroll_area.ensureWidgetVisible(widget.column)

    def focus_step(self, card: KanbanCard, rows: int = 0, columns: int = 0) -> None:
        """Arrow keys: the card above/below, or the nearest card in the next column that has one."""
        column = card.column
        row = column.card_widgets.index(card) if card in column.card_widgets else 0
        if rows:
            target = row + rows
            if 0 <= target < len(column.card_widgets):
                self.focus_card(column.card_widgets[target].card.id)
            return
        index = self.columns.index(column) + columns
        while 0 <= index < len(self.columns):
            widgets = self.columns[index].card_widgets
            if widgets:
                self.focus_card(widgets[min(row, len(widgets) - 1)].card.id)
                return
            index += columns

    # --- opening ---------------------------------------------------------------------------------

    def open(self, card_id: int) -> None:
        self.opened.emit(card_id)

    # --- moving ----------------------------------------------------------------------------------

    def move_by(self, card_id: int, step: int) -> None:
        """Ctrl+Left / Ctrl+Right: to the neighbouring column."""
        source = self.column_of(card_id)
        if source is None:
            return
        index = self.columns.index(source) + step
        if 0 <= index < len(self.columns):
            self.move_card(card_id, self.columns[index].key)

    def move_card(self, card_id: int, key: Key) -> QWidget | None:
        """Where a drop (or a key) lands. Subclasses ask their questions first, then ``send``; returns
        the dialog asked, if any."""
        raise NotImplementedError

    def shift(self, card: Any, source: KanbanColumn, target: KanbanColumn, index: int = 0) -> None:
        """Move a card between columns on screen, counts included."""
        source.count, target.count = source.count - 1, target.count + 1
        source.set_cards([c for c in source.cards if c.id != card.id])
        cards = list(target.cards)
        cards.insert(min(index, len(cards)), card)
        target.set_cards(cards)
        self.stack.setCurrentWidget(self.scroll_area)

    def send(
        self,
        card_id: int,
        key: Key,
        call: Callable[[Any], Awaitable[Any]],
        *,
        changed: frozenset[str],
        dialog: MoveQuestion | None = None,
    ) -> None:
        """The optimistic move: the card jumps at once, ``call(card)`` asks the server, and a refusal
        (explained by operations' one error handler) puts the card back where it was."""
        source, target = self.column_of(card_id), self.column(key)
        if source is None or target is None or source is target:
            return
        had_focus = self.focused_card() == card_id
        card = next(c for c in source.cards if c.id == card_id)  # the newest version (a reload may have come)
        index = source.cards.index(card)
        self.shift(card, source, target)
        if had_focus:
            self.focus_card(card_id)
        self._moving += 1
        task = operations.run(
            dialog if isinstance(dialog, QWidget) else self,
            call(card),
            changed=changed,
            fields=dialog.fields() if dialog is not None else None,
            busy=dialog.ok if dialog is not None else None,
        )
        source_key = source.key

        def done(finished: Any) -> None:
            self._moving -= 1
            result = None if finished.cancelled() else finished.result()
            if not shiboken6.isValid(self):
                return
            if result is None:  # refused: back where it was (the handler told the user why)
                back, here = self.column(source_key), self.column_of(card.id)
                if back is not None and here is not None and here is not back:
                    self.shift(card, here, back, index)
            else:
                if dialog is not None and shiboken6.isValid(dialog):
                    dialog.finish()
                self.last_move = (card.id, source_key, key)
                self.moved(result)
            self.schedule_reload()

        task.add_done_callback(done)

    def moved(self, result: Any) -> None:
        """Hook: the server agreed to a move (``result`` is its answer)."""

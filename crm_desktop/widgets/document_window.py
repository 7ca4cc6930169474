"""The window of one document (invoice, proposal, stock document, purchase order): what they share.

- A header: the title, the status badge (toned with `record_window.set_tone`), room for more badges
  and figures, and a muted subtitle line.
- One notice line (`say`), with a Reload link when someone else's change is not shown.
- An action bar built from data: `ACTIONS`, a tuple of `Action` (label, tip, the method it runs, its
  shortcut, the statuses that show it). Those statuses come from the contract's tables
  (`sources(ALLOWED_MOVES, target)`, `sources(INVOICE_ACTIONS, InvoiceAction.pay)`), so a button
  appears where the server allows the move or action.
- Live refresh: an event naming the document (or "*" on the change bus) reloads it after a short
  pause; unsaved edits are kept, and an answer older than what is shown is ignored (`EditBuffer`).
- F5 reloads, Ctrl+S saves, Esc closes; closing with unsaved edits asks Save / Discard / Cancel.

A subclass gives `current_id`, `fetch` (the contract model: InvoiceOut, LeadOut…), `show_loaded`
and `saved` (which take it), `values` (the form, compared with the snapshot taken when a record is
shown) and `save(then=...)`, and adds its form under `self.root`. The window holds the model; only
the form's values and the bodies it sends are dicts. A window edited field by field (lead, ticket)
hands the model to `load_edited`, the one place it is put in the wire's shape for the buffer's compare.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from crm_desktop import icons, operations, theme
from crm_desktop.api.client import ApiError
from crm_desktop.operations import change_bus
from crm_desktop.operations.errors import handle_error
from crm_desktop.session import Session
from crm_desktop.widgets.edit_buffer import EditBuffer, Values, Versioned
from crm_desktop.widgets.form import field
from crm_desktop.widgets.record_window import (
    ask_unsaved,
    close_anyway,
    closing_anyway,
    fit_to_screen,
    set_tone,
    spawn_into,
)
from crm_server.contract.events import LiveEvent

NEW = "new"  # the status of a document that is not saved yet
LIVE_DELAY_MS = 150  # events come in bursts (a save and its lines): one reload for the burst


class Record(Versioned, Protocol):
    """The contract model a document window shows (InvoiceOut, ProposalOut, LeadOut, TicketOut…)."""

    def model_dump(self, *, mode: str = ...) -> dict[str, Any]: ...


R = TypeVar("R", bound=Record)

STYLE = """
QLabel#statusBadge {{ border-radius: 9px; padding: 2px 10px; font-weight: 600; }}
QLabel#statusBadge[tone="accent"], QLabel#statusBadge[tone="info"] {{
    background: {accent_soft}; color: {accent_text}; }}
QLabel#statusBadge[tone="warning"] {{ background: {warning_bg}; color: {warning_text}; }}
QLabel#statusBadge[tone="danger"] {{ background: {danger_soft}; color: {danger}; }}
QLabel#statusBadge[tone="success"] {{ background: {alt_row}; color: {success}; border: 1px solid {border}; }}
QLabel#statusBadge[tone="muted"] {{ background: {hover}; color: {muted}; }}
QFrame#documentNotice {{ background: {accent_soft}; border-radius: 6px; }}
QFrame#documentNotice[role="error"] {{ background: {danger_soft}; }}
QFrame#documentNotice[role="error"] QLabel {{ color: {danger}; }}
"""


@dataclass(frozen=True)
class Action:
    """A button of the action bar; the window has it as `<name>_button`."""

    name: str
    label: str
    tip: str
    run: str  # the window's method the button (and its shortcut) calls
    args: tuple[Any, ...] = ()
    statuses: frozenset[str] | None = None  # the statuses that show it (NEW: not saved yet); None: all
    shortcut: str | None = None
    role: str = ""  # "primary", "danger"
    right: bool = False  # after the bar's stretch
    object_name: str = ""


def sources(table: Mapping[Any, Iterable[Any]], target: Any) -> frozenset[str]:
    """The statuses (as their text) a contract table allows `target` in: a transition table's
    status -> next statuses, or an action table's status -> actions."""
    return frozenset(str(source) for source, targets in table.items() if target in targets)


def form_columns(columns: Sequence[tuple[int, Sequence[tuple[str, QWidget]]]]) -> QHBoxLayout:
    """The form's fields side by side: each column a stretch and its (label, widget) pairs."""
    row = QHBoxLayout()
    row.setSpacing(14)
    for stretch, fields in columns:
        column = QVBoxLayout()
        column.setSpacing(8)
        for text, widget in fields:
            field(column, text, widget)
        column.addStretch(1)
        row.addLayout(column, stretch)
    return row


def section(title: str) -> QLabel:
    """A section's caption in capitals ("LINES", "RECEIPTS")."""
    label = QLabel(title.upper())
    label.setProperty("role", "section")
    return label


class Notice(QFrame):
    """The window's one notice line: text, info or error, and a Reload link when asked for."""

    def __init__(self, reload: Callable[[], object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("documentNotice")
        self.setProperty("role", "info")
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reload_link = QPushButton("Reload")
        self.reload_link.setProperty("role", "link")
        self.reload_link.clicked.connect(reload)
        self.reload_link.setVisible(False)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 8, 12, 8)
        row.addWidget(self.label, 1)
        row.addWidget(self.reload_link)
        self.setVisible(False)

    def text(self) -> str:
        return self.label.text()

    def show_text(self, text: str, *, error: bool = False, reload: bool = False) -> None:
        self.label.setText(text)
        role = "error" if error else "info"
        if self.property("role") != role:
            self.setProperty("role", role)
            for widget in (self, self.label):
                widget.style().unpolish(widget)
                widget.style().polish(widget)
        self.reload_link.setVisible(reload)
        self.setVisible(bool(text))


class DocumentWindow(QWidget, Generic[R]):
    """One document in its own window (see the module's docstring); R is the contract model shown."""

    ACTIONS: tuple[Action, ...] = ()
    module = ""  # the live events' module naming this kind of document
    entity: str | None = None  # and their entity, when the module has several
    noun = "document"  # "This <noun> has changes that are not saved."

    def __init__(
        self, session: Session, parent: QWidget | None, *, name: str, title: str, size: tuple[int, int]
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.session = session
        self.api = session.api
        self.buffer = EditBuffer()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._after_save: Callable[[], object] | None = None
        self.setObjectName(name)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setWindowIcon(icons.app_icon())
        self.setWindowTitle(f"{title} - CRM")
        fit_to_screen(self, *size)  # no taller or wider than the screen
        self._apply_style()
        theme.current().changed.connect(self._apply_style)

        # --- header ------------------------------------------------------------------------------
        self.title = QLabel(title)
        self.title.setProperty("role", "title")
        self.badge = self.make_badge("Status")
        self.badges = QHBoxLayout()
        self.badges.setSpacing(8)
        self.badges.addWidget(self.title)
        self.badges.addSpacing(4)
        self.badges.addWidget(self.badge)
        self.badges.addStretch(1)
        self.subtitle = QLabel("")
        self.subtitle.setProperty("role", "muted")
        self.subtitle.setVisible(False)
        self.notice = Notice(self.reload_now)
        self.notice_text = self.notice.label
        self.notice_reload = self.notice.reload_link

        # --- actions -----------------------------------------------------------------------------
        self.buttons: dict[str, QPushButton] = {}
        self.action_bar = QHBoxLayout()
        self.action_bar.setSpacing(6)
        self._build_actions()

        self.root = QVBoxLayout(self)
        self.root.setContentsMargins(24, 18, 24, 16)
        self.root.setSpacing(10)
        self.root.addLayout(self.badges)
        self.root.addWidget(self.subtitle)
        self.root.addLayout(self.action_bar)
        self.root.addWidget(self.notice)

        for keys, slot in (
            (QKeySequence(QKeySequence.StandardKey.Save), lambda: self.save()),
            (QKeySequence(Qt.Key.Key_F5), self.reload_now),
            (QKeySequence(Qt.Key.Key_Escape), self.close),
        ):
            QShortcut(keys, self, context=Qt.ShortcutContext.WindowShortcut).activated.connect(slot)

        self._live = QTimer(self)
        self._live.setSingleShot(True)
        self._live.setInterval(LIVE_DELAY_MS)
        self._live.timeout.connect(self.refresh_from_server)
        session.events.event.connect(self._on_event)
        session.outbox.landed.connect(self._outbox_landed)
        change_bus().changed.connect(self._on_changed)

    # --- building --------------------------------------------------------------------------------

    def _apply_style(self, *_: object) -> None:
        if shiboken6.isValid(self):
            self.setStyleSheet((STYLE + self.extra_style()).format(**theme.TOKENS[theme.current().name]))

    def extra_style(self) -> str:
        """More of the window's style sheet (theme tokens in {braces}, literal braces doubled)."""
        return ""

    @staticmethod
    def make_badge(name: str, tone: str = "muted") -> QLabel:
        badge = QLabel("")
        badge.setObjectName("statusBadge")
        badge.setAccessibleName(name)
        set_tone(badge, tone)
        return badge

    def add_badge(self, widget: QWidget) -> None:
        """Beside the status badge (before the header's stretch)."""
        self.badges.insertWidget(self.badges.count() - 1, widget)

    def add_figure(self, widget: QWidget) -> None:
        """At the header's right end (amounts, the last send)."""
        self.badges.addWidget(widget)

    def add_form(
        self,
        columns: Sequence[tuple[int, Sequence[tuple[str, QWidget]]]],
        lines: QWidget,
        lines_stretch: int = 1,
    ) -> QVBoxLayout:
        """The form under the header (`self.form`): fields in columns, then the LINES section.
        Answers its layout, for more sections under the lines."""
        self.form = QWidget()
        layout = QVBoxLayout(self.form)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addLayout(form_columns(columns))
        layout.addWidget(section("Lines"))
        layout.addWidget(lines, lines_stretch)
        self.root.addWidget(self.form, 1)
        return layout

    def add_to_action_bar(self, widget: QWidget, at: int | None = None) -> None:
        """After the left-hand buttons (a link, a note), or at place `at` among them (0: first)."""
        self.action_bar.insertWidget(self._stretch_at if at is None else at, widget)
        self._stretch_at += 1

    def _build_actions(self) -> None:
        right: list[QPushButton] = []
        left = 0
        for action in self.ACTIONS:
            button = QPushButton(action.label)
            button.setToolTip(action.tip)
            if action.object_name:
                button.setObjectName(action.object_name)
            if action.role:
                button.setProperty("role", action.role)
            button.clicked.connect(lambda _=False, a=action: self.run_action(a))
            if action.shortcut:
                shortcut = QShortcut(QKeySequence(action.shortcut), self, context=Qt.ShortcutContext.WindowShortcut)
                shortcut.activated.connect(lambda a=action: self.run_action(a))
            self.buttons[action.name] = button
            setattr(self, f"{action.name}_button", button)
            if action.right:
                right.append(button)
            else:
                self.action_bar.addWidget(button)
                left += 1
        self._stretch_at = left
        self.action_bar.addStretch(1)
        for button in right:
            self.action_bar.addWidget(button)

    def run_action(self, action: Action) -> object:
        return getattr(self, action.run)(*action.args)

    def show_actions(self, status: str) -> None:
        """Each button shown when `status` is one of its statuses; a subclass then adds its own
        conditions (the role's permissions, money still open…)."""
        for action in self.ACTIONS:
            self.buttons[action.name].setVisible(action.statuses is None or status in action.statuses)

    def show_status(self, text: str, tone: str) -> None:
        self.badge.setText(text)
        set_tone(self.badge, tone)

    def set_subtitle(self, text: str) -> None:
        self.subtitle.setText(text)
        self.subtitle.setVisible(bool(text))

    def say(self, text: str, error: bool = False, reload: bool = False) -> None:
        """The window's one notice line ("" hides it); `reload` offers the Reload link."""
        self.notice.show_text(text, error=error, reload=reload)

    def show_notice(self, text: str) -> None:
        """What the app's error handler calls on a window (offline, a calm message)."""
        self.say(text)

    # --- edits -----------------------------------------------------------------------------------

    def values(self) -> Values:
        """The form's fields as the server names them (a part compared by a flag is `touch`ed)."""
        return {}

    def has_edits(self) -> bool:
        return self.buffer.has_changes(self.values())

    def changes(self) -> Values:
        return self.buffer.changes(self.values())

    def snapshot(self) -> None:
        """The form shows what the server has: no unsaved edits."""
        self.buffer.snapshot(self.values())

    def touch(self, part: str = "form") -> None:
        self.buffer.touch(part)

    @property
    def dirty(self) -> bool:
        return self.has_edits()

    @dirty.setter
    def dirty(self, value: bool) -> None:
        if value:
            self.touch()
        else:
            self.snapshot()

    def can_save(self) -> bool:
        """Whether edits here can be saved at all (the close prompt asks only then)."""
        return True

    def save(self, then: Callable[[], object] | None = None) -> object:
        raise NotImplementedError

    def send_save(
        self,
        call: Awaitable[R] | None,
        *,
        changed: frozenset[str],
        fields: Mapping[str, QWidget],
        then: Callable[[], object] | None,
    ) -> bool:
        """Run a save (`call`; None when nothing changed: `then` runs at once); the answer goes to
        `saved`, then `then` runs (a move, a preview or the close that needed the edits saved)."""
        self.say("")
        if call is None:
            self.buffer.touched.clear()
            if then is not None:
                then()
            return True
        self._after_save = then
        operations.run(
            self,
            call,
            success=self._saved_then,
            changed=changed,
            fields=fields,
            reload=self.reload,
            busy=self.buttons.get("save"),
        )
        return True

    def _saved_then(self, record: R) -> None:
        self.saved(record)
        then, self._after_save = self._after_save, None
        if then is not None:
            then()

    def saved(self, record: R) -> None:
        """What a save answered (`send_save`)."""

    # --- loading ---------------------------------------------------------------------------------

    def current_id(self) -> int | None:
        raise NotImplementedError

    async def fetch(self) -> R:
        raise NotImplementedError

    async def show_loaded(self, record: R, replace_edits: bool) -> None:
        raise NotImplementedError

    def load_edited(self, record: R, *, keep_edits: bool) -> Values | None:
        """A record edited field by field (lead, ticket) into the buffer: what the form should show
        (theirs with my edits over it, in the wire's shape), or None for an answer older than shown."""
        return self.buffer.load(record, self.wire(record), keep_edits=keep_edits)

    def wire(self, record: R) -> Values:
        """The one place a record is put in the wire's shape: the buffer compares field-by-field
        edits (PATCH bodies) with it."""
        return record.model_dump(mode="json")

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        return spawn_into(self._tasks, coro)

    def parts_busy(self) -> bool:
        """Parts of the form still reading (a line grid, a picker)."""
        return False

    def is_busy(self) -> bool:
        return (
            any(not t.done() for t in self._tasks)
            or self._live.isActive()
            or operations.pending() > 0
            or self.parts_busy()
        )

    def reload_now(self) -> None:
        """F5, Reload: everything again from the server; unsaved edits are replaced."""
        self.say("")
        self.reload()

    def reload(self) -> None:
        if self.current_id() is not None:
            self.spawn(self._load(replace_edits=True))

    def refresh_from_server(self) -> None:
        """Someone changed it: keep my unsaved edits, take the rest."""
        if shiboken6.isValid(self) and self.current_id() is not None:
            self.spawn(self._load(replace_edits=not self.has_edits()))

    async def _load(self, replace_edits: bool) -> None:
        try:
            record = await self.fetch()
        except asyncio.CancelledError:
            raise
        except ApiError as exc:
            if shiboken6.isValid(self):
                self.show_unopenable(exc)
            return
        if shiboken6.isValid(self) and not self.buffer.is_older(record):
            await self.show_loaded(record, replace_edits)

    def show_unopenable(self, exc: ApiError) -> None:
        if exc.status == 404:
            self.title.setText(f"This {self.noun} cannot be opened")
            self.say("It does not exist, or your role does not let you see it.", error=True)
        else:
            handle_error(self, exc)

    # --- live ------------------------------------------------------------------------------------

    def record_path(self) -> str | None:
        """The record's API path, for a window whose edits the outbox may keep (crm_desktop.outbox)."""
        return None

    def _outbox_landed(self, entry: Any, answer: Any) -> None:
        path = self.record_path()
        if path is not None and entry.path == path and shiboken6.isValid(self):
            self.landed(answer)

    def landed(self, answer: Any) -> None:
        """An edit of this record kept while the server was away has been saved: `answer` is what
        the server answered it (the window shows it as after a save)."""

    def is_about(self, event: LiveEvent) -> bool:
        return (
            event.module == self.module
            and (self.entity is None or event.entity == self.entity)
            and self.current_id() is not None
            and event.entity_id == self.current_id()
        )

    def _on_event(self, event: LiveEvent) -> None:
        if not shiboken6.isValid(self):
            return
        if self.is_about(event):
            shown = self.buffer.latest
            if shown is not None and event.data.get("version") == shown.version:
                return  # our own change, shown already
            self._live.start()
        else:
            self.on_other_event(event)

    def on_other_event(self, event: LiveEvent) -> None:
        """An event about something else (the document's invoice, its receipts)."""

    def _on_changed(self, areas: frozenset[str]) -> None:
        if not shiboken6.isValid(self):
            return
        if "*" in areas:
            self._live.start()
        else:
            self.on_changed(areas)

    def on_changed(self, areas: frozenset[str]) -> None:
        """This desktop changed `areas` (not "*")."""

    # --- closing ---------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Unsaved edits are not lost by a stray click or Esc: ask once."""
        if self.isVisible() and not closing_anyway(self) and self.can_save() and self.has_edits():
            ask_unsaved(
                self,
                f"This {self.noun} has changes that are not saved.",
                lambda: self.save(then=lambda: close_anyway(self)),
            )
            event.ignore()
            return
        self._live.stop()
        self.closed()
        super().closeEvent(event)

    def closed(self) -> None:
        """The window is closing (forget it in the registry, stop timers)."""


__all__ = ["NEW", "Action", "DocumentWindow", "Notice", "Record", "sources"]

"""What every admin page shares: the page base class, form helpers, a name cache, the settings form.

Pages load lazily (the first time they are shown), reload on F5 and on the change bus, and take
live events through `on_live_event`. Changes go through `crm_desktop.operations.run` only; reads go
straight to the ApiClient, and a failed read goes to the same one error handler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import shiboken6
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QBoxLayout,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations, tasks, theme
from crm_desktop.api import admin as admin_api
from crm_desktop.api.client import ApiClient
from crm_desktop.operations import handle_error
from crm_server.contract.admin import SettingsOut
from crm_server.contract.auth import Me
from crm_server.contract.events import LiveEvent

log = logging.getLogger(__name__)
T = TypeVar("T")
W = TypeVar("W", bound=QWidget)


@dataclass(frozen=True)
class Event:
    """What an admin page is told of a change: one of the server's live events (`of`), or, with no
    id, a change-bus area ("admin.user") the session announced before the shell wired live events."""

    module: str
    entity: str
    action: str
    entity_id: int | None = None

    @classmethod
    def of(cls, event: LiveEvent) -> Event:
        return cls(module=event.module, entity=event.entity, action=event.action, entity_id=event.entity_id)


# A named state for screenshots: the setter puts the page in that state and returns a dialog it
# opened (closed again after the picture), or None.
ScreenshotState = tuple[str, Callable[[], QWidget | None]]


def can(me: Me, action: str, module: str = "admin") -> bool:
    """Hide what the role cannot use (the server still decides)."""
    grant = me.permissions.get(module)
    return grant is not None and action in grant.actions


def size_words(size: int) -> str:
    """Bytes in words: "512 bytes", "12.3 KB", "4.0 MB"."""
    if size < 1024:
        return "1 byte" if size == 1 else f"{size:,} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:,.1f} {unit}"


def tone(token: str) -> str:
    """A colour of the current theme ("danger", "success", "muted", "accent"), for status text."""
    return theme.current().token(token)


def in_future(value: str | datetime | None) -> bool:
    if not value:
        return False
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment > datetime.now().astimezone()


def set_danger(button: QWidget, enabled: bool) -> None:
    """Enable a destructive button; it is drawn red only while it can be pressed (the theme's
    danger colour would otherwise hide that it is disabled)."""
    button.setEnabled(enabled)
    role = "danger" if enabled else ""
    if button.property("role") != role:
        button.setProperty("role", role)
        button.style().unpolish(button)
        button.style().polish(button)


def busy_while(button: QWidget, task: asyncio.Task[Any]) -> None:
    """Disable a button until the operation finishes (no double submit); the dialog may be gone by then."""
    button.setEnabled(False)
    task.add_done_callback(lambda _: button.setEnabled(True) if shiboken6.isValid(button) else None)


def field(widget: QWidget, hint: str = "") -> QWidget:
    """Wrap a form field in its own column, so the error handler can put the server's message
    right under it (it inserts a label into the field's box layout)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(widget)
    if hint:
        note = QLabel(hint)
        note.setWordWrap(True)
        note.setProperty("role", "caption")
        layout.addWidget(note)
    return box


def in_row(*widgets: QWidget, grow: QWidget | None = None, stretch: bool = False) -> QWidget:
    """Widgets side by side in one form cell; `grow` takes the spare width, or `stretch` leaves it."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        row.addWidget(widget, 1 if widget is grow else 0)
    if stretch:
        row.addStretch(1)
    return box


class Columns(QWidget):
    """Parts side by side while the page is wide enough for their minimum widths, one above the other
    when it is not (a 1280x800 screen), so a page never scrolls sideways; `parts` are (widget, stretch)."""

    def __init__(self, *parts: tuple[QWidget, int], spacing: int = 24) -> None:
        super().__init__()
        self.parts = [widget for widget, _ in parts]
        self.box = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.setSpacing(spacing)
        for widget, stretch in parts:
            self.box.addWidget(widget, stretch)

    def _side_by_side_width(self) -> int:
        widths = [p.minimumSizeHint().expandedTo(p.minimumSize()).width() for p in self.parts if not p.isHidden()]
        return sum(widths) + self.box.spacing() * max(len(widths) - 1, 0)

    def minimumSizeHint(self) -> QSize:
        """As narrow as its widest part (stacked), as tall as the parts need in the current direction."""
        shown = [p for p in self.parts if not p.isHidden()]
        sizes = [p.minimumSizeHint().expandedTo(p.minimumSize()) for p in shown]
        width = max((s.width() for s in sizes), default=0)
        if self.box.direction() == QBoxLayout.Direction.LeftToRight:
            return QSize(width, max((s.height() for s in sizes), default=0))
        return QSize(width, sum(s.height() for s in sizes) + self.box.spacing() * max(len(sizes) - 1, 0))

    def resizeEvent(self, event: QResizeEvent) -> None:
        side = event.size().width() >= self._side_by_side_width()
        direction = QBoxLayout.Direction.LeftToRight if side else QBoxLayout.Direction.TopToBottom
        if self.box.direction() != direction:
            self.box.setDirection(direction)
            self.updateGeometry()
        super().resizeEvent(event)


def scrolled(*parts: QWidget | QLayout, spacing: int = 14) -> tuple[QScrollArea, QWidget]:
    """A frameless scroll area over `parts` stacked from the top; also the inner widget."""
    body = QWidget()
    layout = QVBoxLayout(body)
    layout.setContentsMargins(0, 0, 8, 0)
    layout.setSpacing(spacing)
    for part in parts:
        if isinstance(part, QLayout):
            layout.addLayout(part)
        else:
            layout.addWidget(part)
    layout.addStretch(1)
    scroll = _DownOnly()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setWidget(body)
    return scroll, body


class _DownOnly(QScrollArea):
    """Scrolls down, never sideways: at least as wide as its content's narrowest layout (and room for
    its scroll bar), so the page beside it gives way instead."""

    def __init__(self) -> None:
        super().__init__()
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        body = self.widget()
        if body is None:
            return hint
        bar = self.verticalScrollBar().sizeHint().width()
        return QSize(max(hint.width(), body.minimumSizeHint().width() + bar + 2 * self.frameWidth()), hint.height())


def title_label(text: str, subtitle: str = "", *actions: QWidget) -> QWidget:
    """The page's title and one line on what it is for; page-wide buttons sit on the right."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 4)
    row.setSpacing(8)
    words = QVBoxLayout()
    words.setSpacing(2)
    title = QLabel(text)
    title.setObjectName("pageTitle")
    title.setProperty("role", "title")
    words.addWidget(title)
    if subtitle:
        sub = QLabel(subtitle)
        sub.setWordWrap(True)
        sub.setProperty("role", "muted")
        words.addWidget(sub)
    row.addLayout(words, 1)
    for action in actions:
        row.addWidget(action, 0, Qt.AlignmentFlag.AlignBottom)
    return box


LIST_STYLE = """
QListWidget#{name} {{ padding: 4px; }}
QListWidget#{name}::item {{ padding: 6px 8px; margin: 1px 0; border-radius: 6px; }}
QListWidget#{name}::item:hover {{ background: {hover}; }}
QListWidget#{name}::item:selected {{ background: {accent_soft}; color: {text}; }}
"""


def style_list(widget: QWidget) -> None:
    """Roomy, rounded rows for the admin's side lists (roles, teams, members), in theme colours
    (and again when the system switches between light and dark)."""

    def apply(*_: object) -> None:
        if shiboken6.isValid(widget):
            widget.setStyleSheet(LIST_STYLE.format(name=widget.objectName(), **theme.TOKENS[theme.current().name]))

    apply()
    theme.current().changed.connect(apply)


class HasId(Protocol):
    @property
    def id(self) -> int: ...


Listed = TypeVar("Listed", bound=HasId)


class TemplatesBeside:
    """A page's templates listed on the left ("Templates", the list, "New template" under it) beside
    their editor (`form` in `editor`, for the page to fill): the e-mail and WhatsApp template pages.
    `pick(row)` when a row is chosen, `new()` for "New template"; `columns` goes on the page."""

    def __init__(self, page: QWidget, list_name: str, pick: Callable[[int], None], new: Callable[[], None]) -> None:
        self.list = QListWidget(page)
        self.list.setObjectName(list_name)
        self.list.setAccessibleName("Templates")
        style_list(self.list)
        self.list.currentRowChanged.connect(pick)
        self.new_button = QPushButton("New template", page)
        self.new_button.clicked.connect(new)
        left = QWidget(page)
        left_col = QVBoxLayout(left)
        left_col.setContentsMargins(0, 0, 0, 0)
        left_col.addWidget(QLabel("Templates", left))
        left_col.addWidget(self.list, 1)
        left_col.addWidget(self.new_button)
        self.editor = QWidget(page)
        self.form = QFormLayout(self.editor)
        self.columns = Columns((left, 1), (self.editor, 2))

    def show(
        self, templates: Sequence[Listed], current_id: int | None, item: Callable[[Listed], QListWidgetItem]
    ) -> int:
        """The list refilled, the template `current_id` chosen again; its row (-1: not listed)."""
        self.list.blockSignals(True)
        self.list.clear()
        for template in templates:
            self.list.addItem(item(template))
        self.list.blockSignals(False)
        row = next((i for i, t in enumerate(templates) if t.id == current_id), -1)
        if row >= 0:
            self.list.setCurrentRow(row)
        return row


def confirm(
    parent: QWidget, title: str, text: str, yes: str, on_yes: Callable[[], None], destructive: bool = True
) -> QMessageBox:
    """A non-blocking question (open(), never exec(): a nested loop would stall the qasync tasks)."""
    box = QMessageBox(
        QMessageBox.Icon.Warning if destructive else QMessageBox.Icon.Question,
        title,
        text,
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    box.setObjectName("adminConfirm")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    ok = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel if destructive else ok)
    box.setEscapeButton(cancel)
    box.buttonClicked.connect(lambda button: on_yes() if button is ok else None)
    box.open()
    return box


class NameDialog(QDialog):
    """Ask for one name (new role, copy of a role, new team, rename); `submit` does the saving."""

    def __init__(
        self, parent: QWidget, title: str, label: str, text: str, submit: Callable[[NameDialog, str], None]
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("nameDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.name = QLineEdit(text)
        self.name.selectAll()
        self.name.setMinimumWidth(320)
        form = QFormLayout()
        form.addRow(label, field(self.name))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(lambda: submit(self, self.name.text().strip()))
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        layout.addLayout(form)
        layout.addWidget(self.buttons)


class UserNames:
    """Names of users by id, for log and audit rows that carry only ids. Filled by the page
    fetchers before rows reach the model, so data() never waits for the network."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self._names: dict[int, str] = {}

    def name(self, user_id: int | None, empty: str = "—") -> str:
        if user_id is None:
            return empty
        return self._names.get(user_id, f"user #{user_id}")

    def remember(self, user_id: int, full_name: str) -> None:
        self._names[user_id] = full_name

    async def ensure(self, ids: Iterable[int | None]) -> None:
        missing = {i for i in ids if i is not None and i not in self._names}
        if not missing:
            return

        async def one(user_id: int) -> None:
            try:
                user = await admin_api.get_user(self.api, user_id)
                self.remember(user.id, user.full_name)
            except Exception as exc:  # a deleted user stays "user #id"
                log.info("no name for user %s: %s", user_id, exc)
                self._names[user_id] = f"user #{user_id}"

        await asyncio.gather(*(one(i) for i in sorted(missing)))


class AdminPage(QWidget):
    """One page of the admin panel."""

    title = ""
    areas: frozenset[str] = frozenset()  # change-bus areas that make this page reload
    live_entities: frozenset[str] = frozenset()  # admin live events (by entity) that make it reload

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.me = me
        self.loaded = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # One reload however many announcements arrive together (a save's own event and its echo).
        self._reload_soon = QTimer(self)
        self._reload_soon.setSingleShot(True)
        self._reload_soon.setInterval(0)
        self._reload_soon.timeout.connect(self.reload)
        self.root = QVBoxLayout(self)
        self.root.setContentsMargins(20, 16, 20, 16)
        self.root.setSpacing(12)
        self.notice = QFrame()
        self.notice.setObjectName("pageNotice")
        self.notice.setProperty("role", "info")
        self.notice.setVisible(False)
        self.notice_text = QLabel("")
        self.notice_text.setWordWrap(True)
        self.notice_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        notice_layout = QHBoxLayout(self.notice)
        notice_layout.setContentsMargins(12, 8, 12, 8)
        notice_layout.addWidget(self.notice_text, 1)

    # --- life cycle ----------------------------------------------------------------------------

    def activate(self) -> None:
        """Shown for the first time: load."""
        if not self.loaded:
            self.loaded = True
            self.reload()

    def reload(self) -> None:
        """Ask the server again (F5: the main window's F5 announces "*", which lands here)."""

    def on_reset(self) -> None:
        """Everything may have changed (F5 in the main window, or the event stream started over)."""
        if self.loaded:
            self.reload()

    def reload_soon(self) -> None:
        if self.loaded:
            self._reload_soon.start()

    def on_live_event(self, event: Event) -> None:
        """An admin event from the server (another desktop's change, or ours coming back)."""
        if event.entity in self.live_entities:
            self.reload_soon()

    def on_changed(self, areas: frozenset[str]) -> None:
        if areas & self.areas:
            self.reload_soon()

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-" + self.title.lower().replace(" ", "-").replace("&", "and"), lambda: None)]

    def is_busy(self) -> bool:
        return any(not t.done() for t in self._tasks)

    # --- helpers -------------------------------------------------------------------------------

    def shortcut(
        self,
        key: QKeySequence | QKeySequence.StandardKey | str,
        handler: Callable[[], Any],
        widget: QWidget | None = None,
    ) -> QShortcut:
        """A key for this page only (or only for `widget`, e.g. Del on the table)."""
        target = widget or self
        sc = QShortcut(QKeySequence(key), target)
        sc.setContext(
            Qt.ShortcutContext.WidgetShortcut if widget is not None else Qt.ShortcutContext.WidgetWithChildrenShortcut
        )
        sc.activated.connect(handler)
        return sc

    def load(self, coro: Awaitable[T], done: Callable[[T], None]) -> asyncio.Task[None]:
        """Read something in the background; `done` runs with the answer if the page still exists."""

        async def body() -> None:
            try:
                result = await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the app's one error handler shows it
                if shiboken6.isValid(self):
                    handle_error(self, exc)
                return
            if shiboken6.isValid(self):
                done(result)

        task = tasks.spawn(body())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        close = getattr(coro, "close", None)
        if close is not None:  # cancelled before it started (page closed): no "never awaited" warning
            task.add_done_callback(lambda t: close() if t.cancelled() else None)
        return task

    def say(self, text: str, error: bool = False) -> None:
        """A calm one-line result ("Reset email sent"), shown at the top of the page."""
        self.notice_text.setText(text)
        self.notice.setProperty("role", "alert" if error else "info")
        self.notice.style().unpolish(self.notice)
        self.notice.style().polish(self.notice)
        self.notice.setVisible(bool(text))


def toolbar(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setSpacing(8)
    for w in widgets:
        row.addWidget(w)
    row.addStretch(1)
    return row


# --- a form over server settings ------------------------------------------------------------------

SET_PLACEHOLDER = "••• set"
STALE_SETTINGS = "Settings may have changed elsewhere; save or revert your edits, then press F5."


@dataclass(frozen=True)
class Input:
    """One setting on a form: the widget a server error points at, and how to read and fill it.
    A secret is write-only: sent only when something is typed in, never compared."""

    widget: QWidget
    get: Callable[[], Any]
    put: Callable[[Any], None]
    secret: bool = False


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


class SettingsForm:
    """Stored vs changed values of a form over the server's settings (api.admin.get_settings / save_settings):
    only changed keys are sent (two admins editing different settings do not overwrite each
    other), Save (Ctrl+S) and Revert, "N unsaved changes", and `keep_edits` so that a reload never
    throws away what the admin typed. The Settings, Support and Integrations pages stand on it.

    Mixed into a QWidget: call `init_form(page)` first in its __init__, then bind the inputs
    (`text_input`, `spin_input`, `check_input`, `secret_input`, or `bind` for anything else).
    Hooks: `check` (refuse nonsense before saving), `form_filled`, `form_actions`, `form_saved`."""

    saved_what = "setting"  # "Saved 3 settings."

    def init_form(self, page: AdminPage) -> None:
        self.form_page = page
        self.stored: dict[str, Any] = {}
        self.inputs: dict[str, Input] = {}
        self._loading = False
        self.save_button = QPushButton("Save")
        self.save_button.setProperty("role", "primary")
        self.save_button.setToolTip("Save the changed settings (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(self.revert)
        self.dirty_note = QLabel("")
        self.dirty_note.setProperty("role", "muted")
        page.shortcut(QKeySequence.StandardKey.Save, self.save)

    def _form_widget(self) -> QWidget:
        assert isinstance(self, QWidget)
        return self

    # --- building ------------------------------------------------------------------------------

    def bind(
        self,
        key: str,
        widget: W,
        get: Callable[[], Any] | None = None,
        put: Callable[[Any], None] | None = None,
        secret: bool = False,
    ) -> W:
        """Put `widget` on the form as setting `key`; reading and filling follow its kind unless given."""
        if isinstance(widget, QLineEdit):
            widget.textEdited.connect(self._changed)
            get = get or (widget.text if secret else lambda: widget.text().strip())
            put = put or (lambda v: widget.setText("" if v is None else str(v)))
        elif isinstance(widget, QSpinBox):
            widget.valueChanged.connect(self._changed)
            get, put = get or widget.value, put or (lambda v: widget.setValue(int(v or 0)))
        elif isinstance(widget, QComboBox):
            widget.currentIndexChanged.connect(self._changed)
            get = get or widget.currentData
            put = put or (lambda v: widget.setCurrentIndex(max(widget.findData(v), 0)))
        elif isinstance(widget, QCheckBox):
            widget.toggled.connect(self._changed)
            get, put = get or widget.isChecked, put or (lambda v: widget.setChecked(bool(v)))
        assert get is not None and put is not None, f"say how to read and fill {key}"
        self.inputs[key] = Input(widget, get, put, secret)
        return widget

    def text_input(self, key: str, name: str = "") -> QLineEdit:
        edit = QLineEdit()
        edit.setAccessibleName(name or key)
        return self.bind(key, edit)

    def spin_input(self, key: str, low: int, high: int, suffix: str = "", name: str = "", width: int = 160) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        spin.setMaximumWidth(width)
        spin.setAccessibleName(name or key)
        return self.bind(key, spin)

    def check_input(self, key: str, text: str) -> QCheckBox:
        return self.bind(key, QCheckBox(text))

    def secret_input(self, key: str, name: str = "", put: Callable[[Any], None] | None = None) -> QLineEdit:
        """A write-only setting: the server says whether one is set; typing a new one replaces it."""
        edit = QLineEdit()
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.setAccessibleName(name or key)

        def show_set(is_set: Any) -> None:
            edit.clear()
            edit.setPlaceholderText(SET_PLACEHOLDER if is_set else "not set")

        return self.bind(key, edit, put=put or show_set, secret=True)

    def form_buttons(self, *before: QWidget) -> QHBoxLayout:
        """The form's bottom row: `before` (a test button, its result), the unsaved count, Revert, Save."""
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for widget in before:
            row.addWidget(widget)
        row.addWidget(self.dirty_note)
        row.addStretch(1)
        row.addWidget(self.revert_button)
        row.addWidget(self.save_button)
        return row

    @staticmethod
    def group(title: str, rows: list[tuple[str, QWidget]]) -> QGroupBox:
        """A titled box of labelled rows."""
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setSpacing(10)
        form.setContentsMargins(14, 14, 14, 14)
        for label, widget in rows:
            form.addRow(label, widget)
        return box

    # --- showing -------------------------------------------------------------------------------

    def can_edit(self) -> bool:
        return can(self.form_page.me, "edit")

    def show_values(self, values: dict[str, Any]) -> None:
        """What the server says now: remembered as stored and shown."""
        self.stored = dict(values)
        self.fill(self.stored)

    def fill(self, values: dict[str, Any]) -> None:
        self._loading = True
        try:
            for key, one in self.inputs.items():
                one.put(values.get(key))
            self.form_filled(values)
        finally:
            self._loading = False
        self._form_widget().setEnabled(True)
        editable = self.can_edit()
        for one in self.inputs.values():
            one.widget.setEnabled(editable)
        self.update_actions()

    def revert(self) -> None:
        self.fill(self.stored)

    def keep_edits(self, text: str = STALE_SETTINGS) -> bool:
        """Settings changed elsewhere: True (and a word to the admin) when reading them again now
        would throw away unsaved edits."""
        if self.pending():
            self.form_page.say(text)
            return True
        return False

    # --- editing -------------------------------------------------------------------------------

    def _changed(self, *_: Any) -> None:
        if not self._loading:
            self.update_actions()

    def pending(self) -> dict[str, Any]:
        """The settings that differ from what the server last said (none before its first answer)."""
        if not self.stored:
            return {}
        out: dict[str, Any] = {}
        for key, one in self.inputs.items():
            value = one.get()
            if one.secret:
                if value:
                    out[key] = value
            elif value != self.stored.get(key):
                out[key] = value
        return out

    def update_actions(self) -> None:
        changes = self.pending()
        self.save_button.setEnabled(self.can_edit() and bool(changes))
        self.revert_button.setEnabled(bool(changes))
        self.dirty_note.setText(f"{plural(len(changes), 'unsaved change')}" if changes else "")
        self.form_actions(changes)

    def save(self) -> asyncio.Task[Any] | None:
        """Send the changed keys; the answer holds every setting again (secrets as set / not set)."""
        changes = self.pending()
        if not changes or not self.can_edit() or not self.check(changes):
            return None
        self.save_button.setEnabled(False)
        widget = self._form_widget()
        task = operations.run(
            widget,
            admin_api.save_settings(self.form_page.api, changes),
            success=lambda result: self.form_saved(result, changes),
            changed=admin_api.SETTINGS,
            fields={key: one.widget for key, one in self.inputs.items()},
        )
        task.add_done_callback(lambda _: self.update_actions() if shiboken6.isValid(widget) else None)
        return task

    async def save_pending(self) -> bool:
        """Save what is pending before something that uses the stored settings (a test send);
        False when the save was refused (the error handler has said why)."""
        if not self.pending():
            return True
        save = self.save()
        return save is None or await save is not None

    def save_now(self, values: dict[str, Any], busy: QWidget, done: Callable[[SettingsOut], None]) -> None:
        """Save `values` at once, apart from the form's edits (a freshly generated token)."""
        operations.run(
            self._form_widget(),
            admin_api.save_settings(self.form_page.api, values),
            success=done,
            changed=admin_api.SETTINGS,
            busy=busy,
        )

    # --- hooks ---------------------------------------------------------------------------------

    def check(self, changes: dict[str, Any]) -> bool:
        """Refuse what cannot be right before sending (mark the field); True to save."""
        return True

    def form_filled(self, values: dict[str, Any]) -> None:
        """The inputs show `values`: fill what is not an input (a logo, a token's state)."""

    def form_actions(self, changes: dict[str, Any]) -> None:
        """The buttons beside Save follow `changes` and the rights."""

    def form_saved(self, result: SettingsOut, changes: dict[str, Any]) -> None:
        self.show_values(result.values)
        self.form_page.say(f"Saved {plural(len(changes), self.saved_what)}.")

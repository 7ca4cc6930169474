"""What every record window (editor or detail) shares: one window per record, the "Unsaved changes"
prompt on close, and optional imports of parts another build may lack."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton, QWidget

from crm_desktop import tasks

W = TypeVar("W", bound=QWidget)


def lazy(module: str, name: str) -> Any:
    """A function or class another part of the app provides, or None while it is not in this build.

    Looked up when asked, so modules that build on each other do not import each other at load."""
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None
        raise  # a module it needs is missing: a real bug, not an optional part
    except AttributeError:
        return None


def spawn_into(running: set[asyncio.Task[Any]], coro: Any) -> asyncio.Task[Any]:
    """Start a read in the background (tasks.spawn) and keep it in the window's `running` set until it
    ends, so the window can tell it is busy and cancel what is left when it closes."""
    task = tasks.spawn(coro)
    running.add(task)
    task.add_done_callback(running.discard)
    return task


def action_button(text: str, tip: str, slot: Any, primary: bool = False) -> QPushButton:
    """A button of a record window's action row (the primary one is styled as such)."""
    button = QPushButton(text)
    button.setToolTip(tip)
    if primary:
        button.setProperty("role", "primary")
    button.clicked.connect(slot)
    return button


def set_tone(label: QLabel, tone: str) -> None:
    """Colour a status badge by tone (muted, info, success, warning, danger: see the theme's QSS);
    the style is re-applied only when the tone changes."""
    if label.property("tone") != tone:
        label.setProperty("tone", tone)
        label.style().unpolish(label)
        label.style().polish(label)


FRAME_ROOM = (16, 48)  # what a window manager's frame and title bar take around a window, at most


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Resize `window` to width x height, or less where its screen's available geometry (the screen
    without task bars) is smaller, leaving room for the window's frame: a 1280x800 laptop shows the
    whole window, with its buttons, without moving it."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    # The offscreen platform's stand-in screen (800x800, nameless unless configured as the screenshots
    # module does) is no one's screen: the tests keep windows at their own size there.
    stand_in = screen is not None and QGuiApplication.platformName() == "offscreen" and not screen.name()
    if screen is not None and not stand_in:
        room = screen.availableGeometry()
        if width > room.width():
            width = max(room.width() - FRAME_ROOM[0], 320)
        if height > room.height() - FRAME_ROOM[1]:
            height = max(room.height() - FRAME_ROOM[1], 240)
    window.resize(width, height)


def show_window(window: W) -> W:
    """Bring a record window to the front (shown, raised and focused)."""
    window.show()
    window.raise_()
    window.activateWindow()
    return window


class WindowRegistry(dict[Hashable, W]):
    """The open windows by record key, so opening a record twice raises its window instead of a twin."""

    def live(self, key: Hashable | None, session: object | None = None) -> W | None:
        """The open window for `key` (of `session` when given), or None when there is none any more."""
        window = self.get(key) if key is not None else None
        if window is None or not shiboken6.isValid(window):
            return None
        if session is not None and getattr(window, "session", None) is not session:
            return None
        return window

    def keep(self, key: Hashable, window: W) -> None:
        """Remember `window` for `key` until it is destroyed."""
        self[key] = window
        window.destroyed.connect(lambda *_: self.pop(key, None))

    def forget(self, key: Hashable | None, window: W) -> None:
        """Drop `key` if it still names `window` (another window may have taken the key since)."""
        if key is not None and self.get(key) is window:
            del self[key]


def close_anyway(window: QWidget) -> None:
    """Close `window` without asking again about its unsaved edits (see `closing_anyway`)."""
    window.setProperty("closingAnyway", True)
    window.close()


def closing_anyway(window: QWidget) -> bool:
    """True once the user chose to close without saving: closeEvent must not ask a second time."""
    return bool(window.property("closingAnyway"))


def ask_unsaved(
    window: QWidget, text: str, save: Callable[[], object], discard: Callable[[], object] | None = None
) -> QMessageBox:
    """Ask "Save / Discard / Cancel" for edits that are not saved, without blocking (the box is
    window-modal and deletes itself); `save` runs on Save, `discard` (by default: close the window
    anyway) on Discard."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Unsaved changes",
        text,
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        window,
    )
    box.setObjectName("unsavedBox")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)

    def answered(button: Any) -> None:
        role = box.standardButton(button)
        if role == QMessageBox.StandardButton.Save:
            save()
        elif role == QMessageBox.StandardButton.Discard:
            (discard or (lambda: close_anyway(window)))()

    box.buttonClicked.connect(answered)
    box.open()
    return box


__all__ = [
    "WindowRegistry",
    "action_button",
    "ask_unsaved",
    "close_anyway",
    "closing_anyway",
    "fit_to_screen",
    "lazy",
    "set_tone",
    "show_window",
    "spawn_into",
]

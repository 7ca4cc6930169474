"""Layout checks on windows as a person sees them: ``python -m crm_desktop.screenshots OUT --check``.

Each check looks at one window (and the dialogs and popups drawn over it) after it has been laid out
and painted, and reports what a person would call broken:

- ``overlap``: two visible neighbours of a row (a filter bar, a title bar, an action bar: any
  horizontal box or flow layout) cover each other;
- ``header_elided``: a column header is narrower than its title, its sort arrow and its margins
  (``QHeaderView.sectionSizeFromContents``), so the title is cut to "Da…" or "lien";
- ``too_big``: a window or dialog is wider or taller than the screen's available geometry, when shown
  at its own size or now, or its layout cannot shrink to the screen.

Other checks join through `register` (a popup that paints no background, text contrast): each is a
function of (window, overlays) yielding `Problem`s. `Xvfb` starts a private X server of one size for
a real-window run (tests/desktop/test_screens_fit.py, screenshots --size under xcb).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractButton,
    QBoxLayout,
    QComboBox,
    QHeaderView,
    QLabel,
    QLayout,
    QLineEdit,
    QWidget,
)

OVERLAP_TOLERANCE = 1  # pixels two neighbours may share (anti-aliased borders)


@dataclass(frozen=True)
class Problem:
    """One thing a check found: which check, where (a readable widget path) and what."""

    check: str
    where: str
    detail: str


@dataclass(frozen=True)
class Finding:
    """A `Problem` with the picture it was seen in: one JSON line of ``--check``."""

    check: str
    where: str
    detail: str
    shot: str
    theme: str
    size: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


Check = Callable[[QWidget, list[QWidget]], Iterable[Problem]]


# --- naming widgets ---------------------------------------------------------------------------------


def describe(widget: QWidget) -> str:
    """A short name a person can find on screen: the object name or class, with its text."""
    name = widget.objectName() or type(widget).__name__
    text = ""
    if isinstance(widget, (QLabel, QAbstractButton)):
        text = widget.text()
    elif isinstance(widget, QLineEdit):
        text = widget.text() or widget.placeholderText()
    elif isinstance(widget, QComboBox):
        text = widget.currentText()
    text = text or widget.accessibleName()
    text = " ".join(text.split())
    if len(text) > 40:
        text = text[:39] + "…"
    return f'{name} "{text}"' if text else name


def path_of(widget: QWidget, stop: QWidget | None = None) -> str:
    """The widget's ancestors that carry an object name or a class of this app, outermost first."""
    parts: list[str] = []
    current: QWidget | None = widget
    while current is not None:
        if current.objectName() or type(current).__module__.startswith("crm_desktop"):
            parts.append(current.objectName() or type(current).__name__)
        if current is stop or current.isWindow():
            break
        current = current.parentWidget()
    return " > ".join(reversed(parts)) or type(widget).__name__


# --- the checks -------------------------------------------------------------------------------------


def _is_row(layout: QLayout) -> bool:
    if isinstance(layout, QBoxLayout):
        return layout.direction() in (QBoxLayout.Direction.LeftToRight, QBoxLayout.Direction.RightToLeft)
    return bool(layout.property("flowLayout"))


def _shown(widget: QWidget, window: QWidget) -> bool:
    return widget.isVisibleTo(window) and widget.width() > 0 and widget.height() > 0


def _row_items(layout: QLayout, window: QWidget) -> Iterator[tuple[str, QRect]]:
    for index in range(layout.count()):
        item = layout.itemAt(index)
        if item is None:
            continue
        widget = item.widget()
        if widget is not None:
            if _shown(widget, window):
                yield describe(widget), widget.geometry()
            continue
        inner = item.layout()
        if inner is not None:
            rects = [w.geometry() for w in _layout_widgets(inner) if _shown(w, window)]
            if rects:
                united = rects[0]
                for rect in rects[1:]:
                    united = united.united(rect)
                names = [describe(w) for w in _layout_widgets(inner) if _shown(w, window)]
                yield " + ".join(names[:2]) + (" …" if len(names) > 2 else ""), united


def _layout_widgets(layout: QLayout) -> Iterator[QWidget]:
    for index in range(layout.count()):
        item = layout.itemAt(index)
        if item is None:
            continue
        widget = item.widget()
        if widget is not None:
            yield widget
        elif (inner := item.layout()) is not None:
            yield from _layout_widgets(inner)


def overlapping_neighbours(window: QWidget, overlays: list[QWidget]) -> Iterator[Problem]:
    """Two visible items of one row (filter bar, title bar, action bar) that cover each other."""
    for top in [window, *overlays]:
        if not top.isVisible():
            continue
        for layout in top.findChildren(QLayout):
            owner = layout.parentWidget()
            if owner is None or not _is_row(layout) or (not _shown(owner, top) and owner is not top):
                continue
            items = list(_row_items(layout, top))
            for i, (name_a, rect_a) in enumerate(items):
                for name_b, rect_b in items[i + 1 :]:
                    both = rect_a.intersected(rect_b)
                    if both.width() > OVERLAP_TOLERANCE and both.height() > OVERLAP_TOLERANCE:
                        yield Problem(
                            "overlap",
                            path_of(owner, top),
                            f"{name_a} and {name_b} overlap by {both.width()}x{both.height()} px",
                        )


def elided_headers(window: QWidget, overlays: list[QWidget]) -> Iterator[Problem]:
    """A column header narrower than its title + sort arrow + margins at the width it has now."""
    for top in [window, *overlays]:
        if not top.isVisible():
            continue
        for header in top.findChildren(QHeaderView):
            if header.orientation() != Qt.Orientation.Horizontal or not _shown(header, top):
                continue
            model = header.model()
            if model is None:
                continue
            for logical in range(header.count()):
                if header.isSectionHidden(logical):
                    continue
                title = model.headerData(logical, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
                if not title:
                    continue
                need = header.sectionSizeFromContents(logical).width()
                have = header.sectionSize(logical)
                if have < need:
                    yield Problem(
                        "header_elided",
                        path_of(header, top),
                        f'column "{title}" is {have} px wide, its title needs {need} px',
                    )


def available(widget: QWidget) -> QRect:
    screen = widget.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1 << 15, 1 << 15)


def too_big_now(window: QWidget, overlays: list[QWidget]) -> Iterator[Problem]:
    """A window or dialog wider or taller than the screen, or whose layout cannot shrink to it."""
    for top in [window, *overlays]:
        if top.isVisible() and top.isWindow():
            yield from size_problems(top)


def size_problems(top: QWidget, when: str = "") -> Iterator[Problem]:
    screen = available(top)
    frame = top.frameGeometry().size()
    if frame.width() > screen.width() or frame.height() > screen.height():
        yield Problem(
            "too_big",
            path_of(top),
            f"{frame.width()}x{frame.height()}{when} on a screen of {screen.width()}x{screen.height()}",
        )
    least = top.minimumSizeHint().expandedTo(top.minimumSize())
    layout = top.layout()
    if layout is not None and layout.sizeConstraint() == QLayout.SizeConstraint.SetNoConstraint:
        least = top.minimumSize()
    if least.width() > screen.width() or least.height() > screen.height():
        wide = least.width() > screen.width()
        yield Problem(
            "too_big",
            path_of(top),
            f"cannot shrink below {least.width()}x{least.height()} on a screen of {screen.width()}x{screen.height()}"
            f" (the {'widest' if wide else 'tallest'} part: {_stiffest(top, wide)})",
        )


def _stiffest(top: QWidget, wide: bool) -> str:
    """The deepest widget that holds the window's minimum width (or height) up, to name the culprit."""

    def least(widget: QWidget) -> int:
        size = widget.minimumSizeHint().expandedTo(widget.minimumSize())
        return size.width() if wide else size.height()

    current = top
    while True:
        children = [c for c in current.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)]
        shown = [c for c in children if c.isVisibleTo(top) and not c.isWindow()]
        if not shown:
            break
        biggest = max(shown, key=least)
        if least(biggest) < least(current) * 0.6:
            break
        current = biggest
    return f"{path_of(current, top)} / {describe(current)} needs {least(current)} px"


CHECKS: list[Check] = [overlapping_neighbours, elided_headers, too_big_now]


def register(check: Check) -> Check:
    """Add a check (a popup that paints no background, text contrast); usable as a decorator."""
    if check not in CHECKS:
        CHECKS.append(check)
    return check


def check_window(window: QWidget, overlays: list[QWidget]) -> list[Problem]:
    found: list[Problem] = []
    for check in CHECKS:
        found.extend(check(window, overlays))
    return found


class ShownAtOwnSize(QObject):
    """Remembers each window or dialog too big for the screen at the moment it is shown, before
    anything (a screenshot hook) resizes it; `take()` hands the problems over once."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._seen: set[int] = set()
        self._problems: list[Problem] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Show
            and isinstance(watched, QWidget)
            and watched.isWindow()
            and watched.windowType() in (Qt.WindowType.Window, Qt.WindowType.Dialog)
            and id(watched) not in self._seen
        ):
            self._seen.add(id(watched))
            self._problems.extend(size_problems(watched, " when shown"))
        return False

    def take(self) -> list[Problem]:
        problems, self._problems = self._problems, []
        return problems


# --- a private X server -----------------------------------------------------------------------------


def parse_size(text: str) -> QSize:
    width, _, height = text.lower().partition("x")
    size = QSize(int(width), int(height))
    if size.width() < 320 or size.height() < 240:
        raise ValueError(f"{text}: a screen of at least 320x240, as WxH")
    return size


class Xvfb:
    """``Xvfb :N -screen 0 WxHx24`` on the first free display number; `display` is its DISPLAY."""

    def __init__(self, size: QSize) -> None:
        self.size = size
        self.display = ""
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("Xvfb") is not None

    def start(self, timeout: float = 20) -> str:
        for number in range(90, 190):
            if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
                continue
            process = subprocess.Popen(
                [
                    "Xvfb",
                    f":{number}",
                    "-screen",
                    "0",
                    f"{self.size.width()}x{self.size.height()}x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and process.poll() is None:
                if Path(f"/tmp/.X11-unix/X{number}").exists():
                    self._process = process
                    self.display = f":{number}"
                    time.sleep(0.2)
                    return self.display
                time.sleep(0.05)
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=5)
        raise RuntimeError("no free X display for Xvfb")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display, "QT_QPA_PLATFORM": "xcb"}


from crm_desktop import popup_check  # noqa: E402, F401  (registers popup_background; needs register above)

__all__ = [
    "CHECKS",
    "Finding",
    "Problem",
    "ShownAtOwnSize",
    "Xvfb",
    "check_window",
    "parse_size",
    "register",
]

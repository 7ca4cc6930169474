"""The layout check's ``popup_background``: a popup over a window (the global search results, the
notifications, a menu, a combo's list) paints its theme's surface colour on the screen, not black or the
window behind it (a translucent window where no compositor blends it). Real windows only (xcb): the
offscreen platform composes every window the same way whatever it paints.

Registered with crm_desktop.layout_check when that module loads."""

from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import QWidget

from crm_desktop.layout_check import Problem, describe, register

MIN_SHARE = 0.6  # of a popup's inner area in its background colour; its text and lines take the rest


@register
def popup_background(window: QWidget, overlays: list[QWidget]) -> Iterator[Problem]:
    from crm_desktop import theme
    from crm_desktop.widgets.popup_frame import background_share

    if QGuiApplication.platformName() != "xcb":
        return
    popups = [
        w
        for w in overlays
        if w.isVisible() and w.windowType() in (Qt.WindowType.Popup, Qt.WindowType.ToolTip) and w.width() > 40
    ]
    if not popups:
        return
    screen = (window.screen() or QGuiApplication.primaryScreen()).grabWindow(0).toImage()
    expected = QColor(theme.color("surface"))
    for popup in popups:
        share, mostly = background_share(screen, popup, expected)
        if share < MIN_SHARE:
            yield Problem(
                "popup_background",
                describe(popup),
                f"{share:.0%} of it is its background {expected.name()} on screen; mostly {mostly}",
            )

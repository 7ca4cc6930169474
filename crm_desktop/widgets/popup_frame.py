"""A popup window that paints its own background on every window system.

A translucent top-level window (``WA_TranslucentBackground``, for round corners) shows black, or
whatever lies behind it, where no compositor blends it (plain X11, remote desktops): the search results
and the notifications were text over the board. This frame is opaque instead: the theme's
``#popupFrame`` style fills it with the surface colour, and a mask rounds its corners.
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainterPath, QRegion, QResizeEvent
from PySide6.QtWidgets import QFrame, QWidget

RADIUS = 10  # px; matches #popupFrame's border-radius in resources/theme/_template.qss.in
INSET = 14  # px inside a popup's edge where only its background and content are: past border and corners
TOLERANCE = 3  # per colour channel, for the screen's rounding


class PopupFrame(QFrame):
    def __init__(self, parent: QWidget | None, kind: Qt.WindowType) -> None:
        super().__init__(parent, kind)
        self.setObjectName("popupFrame")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground, False)
        self.setAutoFillBackground(True)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        path = QPainterPath()
        path.addRoundedRect(QRectF(self.rect()), RADIUS, RADIUS)
        self.setMask(QRegion(path.toFillPolygon().toPolygon()))


def background_share(screen: QImage, popup: QWidget, expected: QColor) -> tuple[float, str]:
    """How much of the popup's inner area on ``screen`` (a grab of the whole screen) is ``expected``
    (0..1; its text and row lines take the rest), and the colour seen most there."""
    area = QRect(popup.mapToGlobal(QPoint(0, 0)), popup.size()).adjusted(INSET, INSET, -INSET, -INSET)
    area = area.intersected(screen.rect())
    counts: Counter[str] = Counter()
    matching = 0
    for y in range(area.top(), area.bottom() + 1, 2):
        for x in range(area.left(), area.right() + 1, 2):
            pixel = screen.pixelColor(x, y)
            counts[pixel.name()] += 1
            if (
                abs(pixel.red() - expected.red()) <= TOLERANCE
                and abs(pixel.green() - expected.green()) <= TOLERANCE
                and abs(pixel.blue() - expected.blue()) <= TOLERANCE
            ):
                matching += 1
    total = sum(counts.values())
    return (matching / total if total else 0.0), (counts.most_common(1)[0][0] if counts else "nothing")

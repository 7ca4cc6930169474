"""A popup window that paints its own background on every window system.

A translucent top-level window (``WA_TranslucentBackground``, for round corners) shows black, or
whatever lies behind it, where no compositor blends it (plain X11, remote desktops): the search results
and the notifications were text over the board. This frame is opaque instead: the theme's
``#popupFrame`` style fills it with the surface colour, and a mask rounds its corners.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPainterPath, QRegion, QResizeEvent
from PySide6.QtWidgets import QFrame, QWidget

RADIUS = 10  # px; matches #popupFrame's border-radius in resources/theme/_template.qss.in


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

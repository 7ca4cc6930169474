"""The bell in the top bar with its unread-count badge."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
from PySide6.QtWidgets import QToolButton, QWidget

from crm_desktop import icons, theme


class NotificationBell(QToolButton):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notificationBell")
        self.setIcon(icons.icon("bell"))
        self.setIconSize(QSize(20, 20))
        self.setFixedSize(38, 38)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.count = 0
        self.set_count(0)

    def set_count(self, count: int) -> None:
        self.count = max(0, count)
        text = (
            "No unread notifications"
            if not self.count
            else f"{self.count} unread notification" + ("s" if self.count != 1 else "")
        )
        self.setToolTip(text)
        self.setAccessibleName(f"Notifications: {text.lower()}")
        self.update()

    @property
    def badge_text(self) -> str:
        if not self.count:
            return ""
        return "99+" if self.count > 99 else str(self.count)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        text = self.badge_text
        if not text:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setPointSizeF(7.5)
        font.setBold(True)
        painter.setFont(font)
        width = max(16.0, painter.fontMetrics().horizontalAdvance(text) + 8.0)
        rect = QRectF(self.width() - width - 2, 3, width, 16)
        painter.setPen(QColor(theme.current().token("surface")))
        painter.setBrush(QColor(theme.current().token("danger")))
        painter.drawRoundedRect(rect, 8, 8)
        painter.setPen(QColor(theme.current().token("on_danger")))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.end()

"""A round avatar with the person's initials (no pictures are stored on the server)."""

from __future__ import annotations

import hashlib

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPixmap

from crm_desktop.theme import AVATAR_COLORS, AVATAR_TEXT

PALETTE = AVATAR_COLORS


def initials(name: str) -> str:
    parts = [p for p in name.replace("@", " ").split() if p[:1].isalnum()]
    if not parts:
        return "?"
    return (parts[0][0] + (parts[-1][0] if len(parts) > 1 else "")).upper()


def avatar_icon(name: str, size: int = 28, scale: float = 2.0) -> QIcon:
    color = PALETTE[int(hashlib.md5(name.encode()).hexdigest(), 16) % len(PALETTE)]
    image = QImage(int(size * scale), int(size * scale), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    rect = QRectF(0, 0, image.width(), image.height())
    painter.drawEllipse(rect)
    font = QFont()
    font.setPixelSize(int(size * scale * 0.4))
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor(AVATAR_TEXT))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, initials(name))
    painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(scale)
    return QIcon(pixmap)

"""A QR code from the server's SVG (TotpSetup.qr_svg), drawn by QtSvg on a white card."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import QFrame, QVBoxLayout, QWidget


class QrView(QFrame):
    def __init__(self, size: int = 184, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "qr")
        self.setFixedSize(size + 24, size + 24)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        self.svg = QSvgWidget()
        self.svg.setFixedSize(size, size)
        self.svg.setAccessibleName("QR code for your authenticator app")
        layout.addWidget(self.svg)

    def set_svg(self, svg: str) -> None:
        self.svg.load(QByteArray(svg.encode()))
        self.svg.renderer().setAspectRatioMode(Qt.AspectRatioMode.KeepAspectRatio)

    @property
    def loaded(self) -> bool:
        return self.svg.renderer().isValid()

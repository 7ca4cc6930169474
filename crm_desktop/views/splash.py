"""A small window shown while the demo server starts (and where its failure is told)."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from crm_desktop import icons


class Splash(QWidget):
    def __init__(self, title: str, text: str) -> None:
        super().__init__(None, Qt.WindowType.Dialog)
        self.setWindowTitle("CRM")
        self.closed_event = asyncio.Event()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 28, 32, 26)
        layout.setSpacing(12)
        logo = QLabel()
        logo.setPixmap(icons.app_icon().pixmap(QSize(44, 44)))
        layout.addWidget(logo, 0, Qt.AlignmentFlag.AlignHCenter)
        self.title = QLabel(title)
        self.title.setProperty("role", "heading")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.title)
        self.text = QLabel(text)
        self.text.setProperty("role", "muted")
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.text)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(6)
        layout.addWidget(self.progress)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        self.close_button.hide()
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignHCenter)
        self.setFixedWidth(400)

    def fail(self, message: str) -> None:
        self.title.setText("Something went wrong")
        self.text.setText(message)
        self.progress.hide()
        self.close_button.show()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed_event.set()
        super().closeEvent(event)

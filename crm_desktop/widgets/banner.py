"""Thin bars across the top of the content: the offline banner and short notices."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

from crm_desktop import icons, theme

OFFLINE_TEXT = "Offline - reconnecting..."


class OfflineBanner(QFrame):
    """Shown while the server cannot be reached; edits on screen are kept meanwhile."""

    retry = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("offlineBanner")
        self.setAccessibleName("Connection status")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 7, 12, 7)
        layout.setSpacing(10)
        self.icon = QLabel()
        self.icon.setPixmap(icons.icon("offline", theme.color("warning_text")).pixmap(QSize(18, 18)))
        self.label = QLabel(OFFLINE_TEXT)
        self.detail = QLabel("Your changes stay on screen and nothing is lost.")
        self.detail.setProperty("role", "muted")
        self.retry_button = QPushButton("Try now")
        self.retry_button.setProperty("role", "link")
        self.retry_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.retry_button.clicked.connect(self.retry)
        layout.addWidget(self.icon)
        layout.addWidget(self.label)
        layout.addWidget(self.detail, 1)
        layout.addWidget(self.retry_button)
        self.hide()

    @property
    def text(self) -> str:
        return self.label.text()


class NoticeBanner(QFrame):
    """A short message that goes away by itself (or with its close button)."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("noticeBanner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 7, 8, 7)
        self.icon = QLabel()
        self.label = QLabel()
        self.label.setWordWrap(True)
        close = QToolButton()
        close.setIcon(icons.icon("close"))
        close.setAccessibleName("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(self.icon)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_message(self, text: str, seconds: float = 8) -> None:
        from crm_desktop import theme

        self.icon.setPixmap(icons.icon("info", theme.current().token("accent_text")).pixmap(QSize(18, 18)))
        self.label.setText(text)
        self.show()
        self._timer.start(int(seconds * 1000))

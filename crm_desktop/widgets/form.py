"""Small building blocks for forms: a labelled field column, a password field with show/hide and
the date conversion date edits need."""

from __future__ import annotations

from datetime import date
from typing import TypeVar

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

from crm_desktop import icons

W = TypeVar("W", bound=QWidget)


def field(layout: QVBoxLayout, label: str, widget: W, hint: str | None = None) -> W:
    """Add ``label`` over ``widget`` (and an optional hint) in a column; returns the widget (its own type).

    Field errors from operations appear right under the widget (see operations.errors)."""
    column = QWidget()
    inner = QVBoxLayout(column)
    inner.setContentsMargins(0, 0, 0, 0)
    inner.setSpacing(5)
    caption = QLabel(label)
    caption.setBuddy(widget)
    caption.setProperty("role", "fieldLabel")
    inner.addWidget(caption)
    inner.addWidget(widget)
    if hint:
        note = QLabel(hint)
        note.setProperty("role", "caption")
        note.setWordWrap(True)
        inner.addWidget(note)
    widget.setAccessibleName(label.replace("&", ""))
    layout.addWidget(column)
    return widget


class PasswordEdit(QLineEdit):
    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEchoMode(QLineEdit.EchoMode.Password)
        self.setPlaceholderText(placeholder)
        self._toggle = self.addAction(icons.icon("eye"), QLineEdit.ActionPosition.TrailingPosition)
        self._toggle.setToolTip("Show password")
        self._toggle.triggered.connect(self._flip)

    def _flip(self) -> None:
        hidden = self.echoMode() == QLineEdit.EchoMode.Password
        self.setEchoMode(QLineEdit.EchoMode.Normal if hidden else QLineEdit.EchoMode.Password)
        self._toggle.setToolTip("Hide password" if hidden else "Show password")


class CodeEdit(QLineEdit):
    """A one-time code: digits (or a recovery code), large and spaced."""

    def __init__(self, placeholder: str = "123 456", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "code")
        self.setPlaceholderText(placeholder)
        self.setMaxLength(32)

    def code(self) -> str:
        return self.text().replace(" ", "").strip()


def qdate(day: date) -> QDate:
    """A Python date as the QDate that date edits take."""
    return QDate(day.year, day.month, day.day)

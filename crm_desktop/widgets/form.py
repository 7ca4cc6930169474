"""Small building blocks for forms: a labelled field column, a password field with show/hide and
the date conversion date edits need."""

from __future__ import annotations

import re
from datetime import date
from typing import TypeVar

from PySide6.QtCore import QDate, QDateTime, QLocale
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDateEdit, QLabel, QLineEdit, QVBoxLayout, QWidget

from crm_desktop import format, icons

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


# What a person may also type into a date field, whole: ISO, and the day first with dots, slashes or dashes.
_ISO = re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})")
_DAY_FIRST = re.compile(r"(?P<d>\d{1,2})[./-](?P<m>\d{1,2})[./-](?P<y>\d{4})")
_PARTIAL = re.compile(r"[0-9][0-9./\- ]*")
_ENGLISH = QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom)


def _typed(text: str) -> QDate | None:
    found = _ISO.fullmatch(text.strip()) or _DAY_FIRST.fullmatch(text.strip())
    if found is None:
        return None
    day = QDate(int(found["y"]), int(found["m"]), int(found["d"]))
    return day if day.isValid() else None


class DateEdit(QDateEdit):
    """A date field that shows a day as every list does (format.day: "05 Dec 2026") and still takes one
    typed whole, as "2026-12-05" or "05.12.2026", besides the usual section-by-section keys."""

    def __init__(self, day: QDate | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setLocale(_ENGLISH)  # the month names format.day writes, whatever the system's language
        self.setDisplayFormat(format.DAY_EDIT_FORMAT)
        self.setCalendarPopup(True)
        if day is not None:
            self.setDate(day)

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        if _typed(text) is not None:
            return QValidator.State.Acceptable, text, pos
        state = super().validate(text, pos)
        if state[0] == QValidator.State.Invalid and _PARTIAL.fullmatch(text.strip()):
            return QValidator.State.Intermediate, text, pos  # on the way to "2026-12-05" or "05.12.2026"
        return state

    def dateTimeFromText(self, text: str) -> QDateTime:
        typed = _typed(text)
        if typed is not None:
            return QDateTime(typed, self.time())
        return super().dateTimeFromText(text)

    def fixup(self, text: str) -> str:
        typed = _typed(text)
        return _ENGLISH.toString(typed, format.DAY_EDIT_FORMAT) if typed is not None else super().fixup(text)

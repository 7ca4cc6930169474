"""The user menu's dialogs: profile, change password, two-factor set-up."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QDialog, QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from crm_desktop.api.client import ApiClient
from crm_desktop.views.account.password_form import PasswordChangeForm
from crm_desktop.views.account.totp_form import TotpSetupForm
from crm_desktop.widgets.avatar import avatar_icon
from crm_server.contract.auth import Me


def _frame(dialog: QDialog, title: str, subtitle: str) -> QVBoxLayout:
    dialog.setWindowTitle(title)
    layout = QVBoxLayout(dialog)
    layout.setContentsMargins(28, 24, 28, 22)
    layout.setSpacing(14)
    heading = QLabel(title)
    heading.setProperty("role", "heading")
    layout.addWidget(heading)
    if subtitle:
        sub = QLabel(subtitle)
        sub.setProperty("role", "muted")
        sub.setWordWrap(True)
        layout.addWidget(sub)
    return layout


class ChangePasswordDialog(QDialog):
    def __init__(self, api: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = _frame(self, "Change password", "Other computers you are signed in on will be signed out.")
        self.form = PasswordChangeForm(api)
        self.form.changed.connect(lambda _pw: self.accept())
        self.form.cancelled.connect(self.reject)
        layout.addWidget(self.form)
        self.setMinimumWidth(440)
        self.form.focus_first()


class TotpSetupDialog(QDialog):
    def __init__(self, api: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = _frame(self, "Two-factor sign-in", "")
        self.form = TotpSetupForm(api)
        self.form.finished.connect(self.accept)
        self.form.cancelled.connect(self.reject)
        layout.addWidget(self.form)
        self.setMinimumWidth(560)

    def showEvent(self, event: object) -> None:  # type: ignore[override]
        super().showEvent(event)  # type: ignore[arg-type]
        if self.form.setup is None:
            self.form.begin()


class ProfileDialog(QDialog):
    def __init__(self, me: Me, team_name: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Profile")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 22)
        layout.setSpacing(16)
        head = QHBoxLayout()
        head.setSpacing(14)
        picture = QLabel()
        picture.setPixmap(avatar_icon(me.full_name, 56).pixmap(QSize(56, 56)))
        head.addWidget(picture)
        names = QVBoxLayout()
        names.setSpacing(2)
        names.addStretch(1)
        name = QLabel(me.full_name)
        name.setProperty("role", "heading")
        role = QLabel(me.role_name)
        role.setProperty("role", "muted")
        names.addWidget(name)
        names.addWidget(role)
        names.addStretch(1)
        head.addLayout(names, 1)
        layout.addLayout(head)
        form = QFormLayout()
        form.setHorizontalSpacing(24)
        form.setVerticalSpacing(10)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        for label, value in (("Email", me.email), ("Phone", me.phone or "—"), ("Team", team_name or "—"),
                             ("Two-factor sign-in", "On" if me.totp_enabled else "Off")):
            caption = QLabel(label)
            caption.setProperty("role", "muted")
            shown = QLabel(value)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(caption, shown)
        layout.addLayout(form)
        note = QLabel("Your name, email and team are managed by an administrator.")
        note.setProperty("role", "caption")
        layout.addWidget(note)
        close = QPushButton("Close")
        close.setDefault(True)
        close.clicked.connect(self.accept)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(close)
        layout.addLayout(row)
        self.setMinimumWidth(420)

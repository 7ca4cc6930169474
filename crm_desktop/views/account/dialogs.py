"""The user menu's dialogs: profile, change password, two-factor set-up and management."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.operations.errors import mark_field
from crm_desktop.views.account.password_form import PasswordChangeForm
from crm_desktop.views.account.totp_form import RecoveryCodesPanel, TotpSetupForm
from crm_desktop.widgets.avatar import avatar_icon
from crm_desktop.widgets.form import PasswordEdit, field
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.auth import Me, RecoveryCodes


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


class TotpManageDialog(QDialog):
    """Two-factor sign-in is on: make new recovery codes, or turn it off (unless the role requires
    it). Both ask for the password again, so an unlocked computer is not enough to do either."""

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        layout = _frame(self, "Two-factor sign-in", "Two-factor sign-in is on for your account.")
        self.stack = QStackedWidget()
        layout.addWidget(self.stack)
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(12)
        self.password = field(
            column,
            "Your password",
            PasswordEdit(),
            "Asked again for these changes. New recovery codes replace all the old ones.",
        )
        assert isinstance(self.password, PasswordEdit)
        self.password.returnPressed.connect(self.new_codes)
        if me.totp_required:
            required = QLabel("Your role requires two-factor sign-in, so it cannot be turned off.")
            required.setProperty("role", "caption")
            required.setWordWrap(True)
            column.addWidget(required)
        buttons = QHBoxLayout()
        self.turn_off_button = QPushButton("Turn off two-factor sign-in")
        self.turn_off_button.setAutoDefault(False)  # Enter makes new codes, never turns it off
        shown_if(self.turn_off_button, not me.totp_required)
        self.turn_off_button.clicked.connect(self.turn_off)
        buttons.addWidget(self.turn_off_button)
        buttons.addStretch(1)
        close = QPushButton("Close")
        close.setAutoDefault(False)
        close.clicked.connect(self.reject)
        self.codes_button = QPushButton("New recovery codes")
        self.codes_button.setProperty("role", "primary")
        self.codes_button.setDefault(True)
        self.codes_button.clicked.connect(self.new_codes)
        buttons.addWidget(close)
        buttons.addWidget(self.codes_button)
        column.addSpacing(4)
        column.addLayout(buttons)
        self.stack.addWidget(page)
        self.codes_panel = RecoveryCodesPanel("New recovery codes")
        self.codes_panel.finished.connect(self.accept)
        self.stack.addWidget(self.codes_panel)
        self.setMinimumWidth(520)

    def showEvent(self, event: object) -> None:  # type: ignore[override]
        super().showEvent(event)  # type: ignore[arg-type]
        self.password.setFocus()

    def _typed_password(self) -> str | None:
        password = self.password.text()
        if not password:
            mark_field(self.password, "Enter your password.")
            return None
        return password

    def new_codes(self) -> None:
        password = self._typed_password()
        if password is None:
            return
        operations.run(
            self,
            auth.regenerate_recovery_codes(self.api, password),
            success=self._show_codes,
            fields={"password": self.password},
            busy=self.codes_button,
        )

    def _show_codes(self, codes: RecoveryCodes) -> None:
        self.password.clear()
        self.codes_panel.show_codes(codes)
        self.stack.setCurrentIndex(1)
        self.codes_panel.done_button.setFocus()

    def turn_off(self) -> None:
        password = self._typed_password()
        if password is None:
            return
        operations.run(
            self,
            auth.disable_totp(self.api, password),
            success=lambda _: self.accept(),
            changed=frozenset({"me"}),
            fields={"password": self.password},
            busy=self.turn_off_button,
        )


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
        for label, value in (
            ("Email", me.email),
            ("Phone", format.value(me.phone)),
            ("Team", format.value(team_name)),
            (format.label("totp_enabled"), "On" if me.totp_enabled else "Off"),
        ):
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

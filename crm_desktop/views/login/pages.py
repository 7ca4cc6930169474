"""The steps of the login window, each a small page with one job."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop.api.client import ApiClient
from crm_desktop.views.account.password_form import PasswordChangeForm
from crm_desktop.views.account.totp_form import TotpSetupForm
from crm_desktop.widgets.form import CodeEdit, PasswordEdit, field
from crm_desktop.widgets.visibility import shown_if


class Message(QFrame):
    """An inline alert ("alert") or note ("info") at the top of a page."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.setProperty("role", kind)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 9, 12, 9)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label)
        if kind == "alert":
            self.setAccessibleName("Error")
        self.hide()

    def say(self, text: str) -> None:
        self.label.setText(text)
        self.setVisible(bool(text))

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


def link(text: str) -> QPushButton:
    button = QPushButton(text)
    button.setProperty("role", "link")
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    return button


def primary(text: str) -> QPushButton:
    button = QPushButton(text)
    button.setProperty("role", "primary")
    button.setDefault(True)
    button.setAutoDefault(True)
    button.setMinimumHeight(36)
    return button


class Page(QWidget):
    def __init__(self, title: str, subtitle: str = "") -> None:
        super().__init__()
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.setSpacing(12)
        heading = QLabel(title)
        heading.setProperty("role", "title")
        self.box.addWidget(heading)
        self.subtitle = QLabel(subtitle)
        self.subtitle.setProperty("role", "muted")
        self.subtitle.setWordWrap(True)
        shown_if(self.subtitle, bool(subtitle))
        self.box.addWidget(self.subtitle)
        self.box.addSpacing(4)
        self.info = Message("info")
        self.alert = Message("alert")
        self.box.addWidget(self.info)
        self.box.addWidget(self.alert)

    def finish(self) -> None:
        self.box.addStretch(1)

    def first_field(self) -> QWidget | None:
        return None


class SignInPage(Page):
    submitted = Signal()
    forgot = Signal()
    demo = Signal()

    def __init__(self) -> None:
        super().__init__("Sign in", "Welcome back. Sign in to your CRM.")
        self.server = field(self.box, "Server address", QLineEdit())
        self.email = field(self.box, "Email", QLineEdit())
        self.password = field(self.box, "Password", PasswordEdit())
        assert isinstance(self.server, QLineEdit) and isinstance(self.email, QLineEdit)
        assert isinstance(self.password, PasswordEdit)
        self.server.setPlaceholderText("https://crm.example.com")
        self.email.setPlaceholderText("you@company.com")
        for edit in (self.server, self.email, self.password):
            edit.returnPressed.connect(self.submitted)
        row = QHBoxLayout()
        row.addStretch(1)
        self.forgot_link = link("Forgot password?")
        self.forgot_link.clicked.connect(self.forgot)
        row.addWidget(self.forgot_link)
        self.box.addLayout(row)
        self.button = primary("Sign in")
        self.button.clicked.connect(self.submitted)
        self.box.addWidget(self.button)
        # First run, no server yet: the whole product on this computer with sample data.
        self.demo_link = link("No server yet? Try the demo")
        self.demo_link.setToolTip("Starts a local server with sample data on this computer")
        self.demo_link.clicked.connect(self.demo)
        self.box.addWidget(self.demo_link, 0, Qt.AlignmentFlag.AlignHCenter)
        self.demo_accounts: QComboBox | None = None  # in the demo: its accounts by role (offer_demo_accounts)
        self.demo_note: QLabel | None = None
        self.finish()

    def first_field(self) -> QWidget:
        if self.demo_accounts is not None and not self.email.text():
            return self.demo_accounts
        if not self.server.text():
            return self.server
        return self.password if self.email.text() else self.email

    def busy(self, on: bool) -> None:
        self.button.setEnabled(not on)
        self.button.setText("Signing in…" if on else "Sign in")

    def offer_demo_accounts(self, accounts: Sequence[tuple[str, str, str]], password: str) -> QComboBox:
        """In the demo: pick who to be, by role ("Salesperson · Sam Okafor"); the pick fills the email
        and the demo password, which is also written here (it is written nowhere else a person sees)."""
        combo = QComboBox()
        combo.setObjectName("demoAccounts")
        combo.setPlaceholderText("Pick a role to try…")
        for email, name, role in accounts:
            combo.addItem(f"{role} · {name}", email)
            combo.setItemData(combo.count() - 1, email, Qt.ItemDataRole.ToolTipRole)
        combo.setCurrentIndex(max(combo.findData(self.email.text().strip().lower()), -1))

        def chosen(index: int) -> None:
            if index >= 0:
                self.email.setText(str(combo.itemData(index)))
                self.password.setText(password)
                self.button.setFocus()

        combo.currentIndexChanged.connect(chosen)
        column = QWidget()
        inner = QVBoxLayout(column)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.setSpacing(5)
        caption = QLabel("Demo: sign in as")
        caption.setBuddy(combo)
        caption.setProperty("role", "fieldLabel")
        # One line: a wrapped label in the fixed-width stack is not given its second line's height.
        note = QLabel(f"Password of every account: <b>{html.escape(password)}</b>")
        note.setObjectName("demoPassword")
        note.setProperty("role", "caption")
        note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.demo_note = note
        for widget in (caption, combo, note):
            inner.addWidget(widget)
        combo.setAccessibleName("Demo: sign in as")
        self.box.insertWidget(self.box.indexOf(self.alert) + 1, column)
        self.demo_link.hide()  # this is the demo already
        self.forgot_link.hide()  # its accounts' password is right here, and its email goes nowhere
        self.subtitle.setText("This is the demo: try the CRM as any role.")
        self.demo_accounts = combo
        return combo


class OtpPage(Page):
    submitted = Signal()
    back = Signal()

    def __init__(self) -> None:
        super().__init__(
            "Two-step verification",
            "Open your authenticator app and type the 6-digit code for this account. A recovery code works too.",
        )
        self.code = field(self.box, "Code", CodeEdit())
        assert isinstance(self.code, CodeEdit)
        self.code.returnPressed.connect(self.submitted)
        self.button = primary("Verify")
        self.button.clicked.connect(self.submitted)
        self.box.addWidget(self.button)
        back = link("Back to sign in")
        back.clicked.connect(self.back)
        self.box.addWidget(back, 0, Qt.AlignmentFlag.AlignLeft)
        self.finish()

    def first_field(self) -> QWidget:
        return self.code

    def busy(self, on: bool) -> None:
        self.button.setEnabled(not on)
        self.button.setText("Checking…" if on else "Verify")


class ForgotPage(Page):
    submitted = Signal()
    have_code = Signal()
    back = Signal()

    def __init__(self) -> None:
        super().__init__("Reset your password", "Enter the email you sign in with. We'll send you a reset code.")
        self.email = field(self.box, "Email", QLineEdit())
        assert isinstance(self.email, QLineEdit)
        self.email.returnPressed.connect(self.submitted)
        self.button = primary("Send reset code")
        self.button.clicked.connect(self.submitted)
        self.box.addWidget(self.button)
        row = QHBoxLayout()
        back = link("Back to sign in")
        back.clicked.connect(self.back)
        code = link("I have a code")
        code.clicked.connect(self.have_code)
        row.addWidget(back)
        row.addStretch(1)
        row.addWidget(code)
        self.box.addLayout(row)
        self.finish()

    def first_field(self) -> QWidget:
        return self.email


class ResetPage(Page):
    submitted = Signal()
    back = Signal()

    def __init__(self) -> None:
        super().__init__("Choose a new password", "Type the code from the email and your new password.")
        self.token = field(self.box, "Reset code", QLineEdit())
        self.new = field(
            self.box,
            "New password",
            PasswordEdit(),
            "At least 12 characters. A few unrelated words make a strong password.",
        )
        self.repeat = field(self.box, "Repeat new password", PasswordEdit())
        assert isinstance(self.token, QLineEdit) and isinstance(self.repeat, PasswordEdit)
        assert isinstance(self.new, PasswordEdit)
        self.repeat.returnPressed.connect(self.submitted)
        self.button = primary("Set new password")
        self.button.clicked.connect(self.submitted)
        self.box.addWidget(self.button)
        back = link("Back to sign in")
        back.clicked.connect(self.back)
        self.box.addWidget(back, 0, Qt.AlignmentFlag.AlignLeft)
        self.finish()

    def first_field(self) -> QWidget:
        return self.token


class MustChangePage(Page):
    def __init__(self, api: ApiClient, current: str) -> None:
        super().__init__(
            "Choose your own password", "You signed in with a temporary password. Choose a new one only you know."
        )
        self.form = PasswordChangeForm(api, current=current, cancellable=False, submit_text="Save and continue")
        self.box.addWidget(self.form)
        self.finish()

    def first_field(self) -> QWidget:
        return self.form.new


class TotpSetupPage(Page):
    def __init__(self, api: ApiClient) -> None:
        super().__init__("Protect your account", "Your role requires two-factor sign-in. It takes a minute.")
        self.form = TotpSetupForm(api, cancellable=False)
        self.box.addWidget(self.form)
        self.finish()

    def first_field(self) -> QWidget:
        return self.form.code

"""Set up two-factor sign-in: scan the QR code, confirm one code, keep the recovery codes."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import icons, operations
from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.operations.errors import mark_field
from crm_desktop.widgets.form import CodeEdit, field
from crm_desktop.widgets.qr_view import QrView
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.auth import RecoveryCodes, TotpSetup


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


class TotpSetupForm(QWidget):
    finished = Signal()
    cancelled = Signal()

    def __init__(self, api: ApiClient, cancellable: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.setup: TotpSetup | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack)
        self.stack.addWidget(self._scan_page(cancellable))
        self.stack.addWidget(self._codes_page())

    # --- step 1: scan and confirm ----------------------------------------------------------------

    def _scan_page(self, cancellable: bool) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        intro = QLabel(
            "Scan this code with an authenticator app (Google Authenticator, Microsoft "
            "Authenticator, 1Password, Aegis…), then type the 6-digit code it shows."
        )
        intro.setWordWrap(True)
        intro.setProperty("role", "muted")
        layout.addWidget(intro)
        row = QHBoxLayout()
        row.setSpacing(18)
        self.qr = QrView()
        row.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignTop)
        right = QVBoxLayout()
        right.setSpacing(6)
        caption = QLabel("Can't scan? Enter this key instead:")
        caption.setProperty("role", "caption")
        caption.setWordWrap(True)
        self.secret = QLabel("…")
        self.secret.setProperty("role", "code")
        self.secret.setWordWrap(True)
        self.secret.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right.addWidget(caption)
        right.addWidget(self.secret)
        right.addSpacing(10)
        code_box = QVBoxLayout()
        self.code = field(code_box, "Code from the app", CodeEdit("123456"))
        assert isinstance(self.code, CodeEdit)
        self.code.returnPressed.connect(self.confirm)
        right.addLayout(code_box)
        right.addStretch(1)
        row.addLayout(right, 1)
        layout.addLayout(row)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        cancel = QPushButton("Not now")
        cancel.setAutoDefault(False)  # Enter confirms the code, never cancels
        shown_if(cancel, cancellable)
        cancel.clicked.connect(self.cancelled)
        self.confirm_button = QPushButton("Turn on two-factor sign-in")
        self.confirm_button.setProperty("role", "primary")
        self.confirm_button.setDefault(True)
        self.confirm_button.setEnabled(False)
        self.confirm_button.clicked.connect(self.confirm)
        buttons.addWidget(cancel)
        buttons.addWidget(self.confirm_button)
        layout.addLayout(buttons)
        return page

    def begin(self) -> None:
        """Ask the server for a new secret and its QR code."""
        operations.run(self, auth.begin_totp(self.api), success=self._show_setup)

    def _show_setup(self, setup: TotpSetup) -> None:
        self.setup = setup
        self.qr.set_svg(setup.qr_svg)
        self.secret.setText(_grouped(setup.secret))
        self.confirm_button.setEnabled(True)
        self.code.setFocus()

    def confirm(self) -> None:
        code = self.code.code()
        if len(code) < 6:
            mark_field(self.code, "Type the 6-digit code from your app.")
            return
        operations.run(
            self,
            auth.confirm_totp(self.api, code),
            success=self._show_codes,
            changed=frozenset({"me"}),
            fields={"code": self.code},
            busy=self.confirm_button,
        )

    # --- step 2: recovery codes ------------------------------------------------------------------

    def _codes_page(self) -> QWidget:
        self.codes_panel = RecoveryCodesPanel("Two-factor sign-in is on.")
        self.codes_panel.finished.connect(self.finished)
        self.done_button = self.codes_panel.done_button
        return self.codes_panel

    @property
    def codes(self) -> list[str]:
        return self.codes_panel.codes

    def _show_codes(self, codes: RecoveryCodes) -> None:
        self.codes_panel.show_codes(codes)
        self.stack.setCurrentIndex(1)
        self.done_button.setFocus()


class RecoveryCodesPanel(QWidget):
    """Recovery codes shown once, to copy or write down (after set-up, or when made anew)."""

    finished = Signal()

    def __init__(self, heading: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.codes: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        done = QLabel(heading)
        done.setProperty("role", "heading")
        layout.addWidget(done)
        text = QLabel(
            "Keep these recovery codes somewhere safe. Each one signs you in once if your "
            "phone is not at hand. They are shown only now."
        )
        text.setWordWrap(True)
        text.setProperty("role", "muted")
        layout.addWidget(text)
        self.codes_frame = QFrame()
        self.codes_frame.setProperty("role", "codes")
        self.codes_grid = QGridLayout(self.codes_frame)
        self.codes_grid.setContentsMargins(18, 14, 18, 14)
        self.codes_grid.setHorizontalSpacing(28)
        self.codes_grid.setVerticalSpacing(6)
        layout.addWidget(self.codes_frame)
        buttons = QHBoxLayout()
        copy = QPushButton("Copy codes")
        copy.setAutoDefault(False)
        copy.setIcon(icons.icon("copy"))
        copy.clicked.connect(self.copy_codes)
        buttons.addWidget(copy)
        buttons.addStretch(1)
        self.done_button = QPushButton("I have saved them")
        self.done_button.setProperty("role", "primary")
        self.done_button.clicked.connect(self.finished)
        buttons.addWidget(self.done_button)
        layout.addStretch(1)
        layout.addLayout(buttons)

    def show_codes(self, codes: RecoveryCodes) -> None:
        self.codes = list(codes.codes)
        for index, code in enumerate(self.codes):
            label = QLabel(code)
            label.setProperty("role", "code")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.codes_grid.addWidget(label, index // 2, index % 2)

    def copy_codes(self) -> None:
        QGuiApplication.clipboard().setText("\n".join(self.codes))

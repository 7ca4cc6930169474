"""Sign-in history and the security log, each filtered by user, result or kind, and period, paged
on the server. Rows carry user ids; their names are looked up (and cached) before a page is shown.

As the daily check goes ("Reviewing Security Logs"): sign-ins from a new address or device stand
out in the security events, repeated failures from one address are grouped (how many, first and
last, which emails), "Block address…" blocks the address of the selected entry (or a range around
it) and the blocked addresses are listed with "Lift"."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import (
    AdminPage,
    Event,
    ScreenshotState,
    UserNames,
    busy_while,
    can,
    field,
    title_label,
    tone,
)
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.user_picker import UserPicker
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.auth import (
    BlockedAddressOut,
    FailureGroup,
    LoginRecord,
    LoginResult,
    Me,
    SecurityEventOut,
)
from crm_server.contract.common import Page

T = TypeVar("T", bound=BaseModel)

# Sign-in results in words of their own ("locked" alone would not say whose): kept here, as the
# same codes mean other things elsewhere (format.LABELS is one table for every screen).
RESULT_LABELS = {
    LoginResult.success.value: "Signed in",
    LoginResult.bad_credentials.value: "Wrong email or password",
    LoginResult.locked.value: "Account locked",
    LoginResult.inactive.value: "Account deactivated",
    LoginResult.otp_required.value: "Asked for 2FA code",
    LoginResult.bad_otp.value: "Wrong 2FA code",
    LoginResult.throttled.value: "Too many attempts",
    LoginResult.blocked.value: "Blocked address",
    LoginResult.error.value: "Did not finish",
    LoginResult.unlocked.value: "Unlocked",
    LoginResult.reset_requested.value: "Password reset asked",
    LoginResult.reset_limited.value: "Reset asked too often",
}
# The kinds the server writes today (crm_server/auth: sessions.log_security calls), in words;
# a code not listed here reads as format.label makes it ("account_locked" -> "Account locked").
SECURITY_KINDS = {
    code: {
        "login_failed": "Failed sign-in",
        "password_check_failed": "Wrong password when asked again",
        "password_reset_requested": "Password reset asked",
        "password_reset_mail_failed": "Reset email failed",
        "password_set_by_admin": "Password set by admin",
        "totp_enabled": "2FA turned on",
        "totp_reset": "2FA reset by admin",
        "new_device_sign_in": "Sign-in from a new address or device",
        "address_unblocked": "Address block lifted",
        "password_reset_limited": "Reset asked too often",
        "locked_mail_failed": "Lock email failed",
        "new_device_mail_failed": "New sign-in email failed",
    }.get(code)
    or format.label(code)
    for code in (
        "login_failed",
        "password_check_failed",
        "account_locked",
        "account_unlocked",
        "password_changed",
        "password_reset_requested",
        "password_reset",
        "password_reset_mail_failed",
        "password_set_by_admin",
        "permission_denied",
        "recovery_code_used",
        "totp_enabled",
        "totp_reset",
        "new_device_sign_in",
        "address_blocked",
        "address_unblocked",
        "password_reset_limited",
        "locked_mail_failed",
        "new_device_mail_failed",
    )
}
# Security events an admin should look at first.
FLAGGED = {"new_device_sign_in", "account_locked", "password_reset_limited"}
PAGE_SIZE = 100


def _detail(row: SecurityEventOut) -> str:
    detail = row.detail or {}
    return ", ".join(
        f"{format.label(k)}: {json.dumps(v) if isinstance(v, dict) else format.value(v)}" for k, v in detail.items()
    )


class _LogTab(QWidget, Generic[T]):
    """One filtered, paged log."""

    def __init__(
        self,
        api: ApiClient,
        names: UserNames,
        read: Callable[..., Awaitable[Page[T]]],
        choice_key: str,
        choice_label: str,
        choices: dict[str, str],
        columns: list[Column[T]],
        empty: str,
        noun: tuple[str, str],
        user_ids: Callable[[T], Iterable[int | None]],
    ) -> None:
        super().__init__()
        self.api = api
        self.names = names
        self.read = read
        self.user_ids = user_ids
        self.filters = FilterBar()
        self.user = UserPicker(api, active_only=False)
        self.user.setMinimumWidth(180)
        self.user.setPlaceholderText("Any user")
        self.filters.add_widget("user_id", self.user, self.user.value, "User")
        self.user.user_changed.connect(lambda _: self.filters.changed.emit())
        self.choice = self.filters.add_choice(choice_key, choice_label, [(v, k) for k, v in choices.items()])
        self.period = self.filters.add_period()
        self.filters.add_stretch()
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(self.model, "Try a wider period or clear the filters.", icon="lock", empty_title=empty)
        self.table.set_noun(*noun)
        self.table.view.setColumnWidth(0, 150)
        self.filters.changed.connect(self.model.reload)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 8)
        layout.setSpacing(10)
        layout.addWidget(self.filters)
        layout.addWidget(self.table, 1)

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[T]:
        page = await self.read(self.api, offset, limit, after=after, **self.filters.values())
        await self.names.ensure(i for row in page.items for i in self.user_ids(row))
        return page


class _FailuresTab(QWidget):
    """Failed sign-ins grouped by address over a period: the address trying many passwords or
    many emails stands out at the top."""

    def __init__(self, api: ApiClient, names: UserNames) -> None:
        super().__init__()
        self.api = api
        self.names = names
        self.filters = FilterBar()
        self.period = self.filters.add_period()
        self.filters.add_stretch()
        columns: list[Column[FailureGroup]] = [
            Column(
                "Address",
                lambda r: r.address or "—",
                color=lambda r: tone("danger") if r.count >= 10 else None,
            ),
            Column("Failures", lambda r: f"{r.count:,}", align_right=True),
            Column("First", lambda r: format.moment(r.first_at)),
            Column("Last", lambda r: format.moment(r.last_at)),
            Column("Emails tried", _emails, tooltip=lambda r: "\n".join(r.emails)),
            Column("Accounts", lambda r: ", ".join(names.name(u) for u in r.user_ids) or "none exist"),
            Column(
                "Blocked",
                lambda r: "Blocked" if r.blocked else "—",
                color=lambda r: tone("danger") if r.blocked else None,
            ),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, key="address", parent=self)
        self.table = PagedTable(
            self.model,
            "No address failed more than once in this period.",
            icon="lock",
            empty_title="No repeated failures",
        )
        self.table.set_noun("address", "addresses")
        self.filters.changed.connect(self.model.reload)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 8)
        layout.setSpacing(10)
        layout.addWidget(self.filters)
        layout.addWidget(self.table, 1)

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[FailureGroup]:
        page = await admin_api.security_failures(self.api, offset, limit, **self.filters.values())
        await self.names.ensure(u for row in page.items for u in row.user_ids)
        return page


def _emails(row: FailureGroup) -> str:
    shown = ", ".join(row.emails[:3])
    more = row.email_count - min(3, len(row.emails))
    return f"{shown} and {more} more" if more > 0 else shown


class _BlockedTab(QWidget):
    """The addresses and ranges blocked now, each liftable."""

    def __init__(self, api: ApiClient, names: UserNames) -> None:
        super().__init__()
        self.api = api
        self.names = names
        columns: list[Column[BlockedAddressOut]] = [
            Column("Address or range", lambda r: _network(r.network)),
            Column("Reason", lambda r: r.reason or "—", tooltip=lambda r: r.reason or None),
            Column("Blocked by", lambda r: names.name(r.created_by)),
            Column("Since", lambda r: format.moment(r.created_at)),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model,
            'Block an address from a sign-in, a security event or a failure group with "Block address…".',
            icon="lock",
            empty_title="No blocked addresses",
        )
        self.table.set_noun("blocked address", "blocked addresses")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 8)
        layout.setSpacing(10)
        layout.addWidget(self.table, 1)

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[BlockedAddressOut]:
        page = await admin_api.blocked_addresses(self.api, offset, limit, after)
        await self.names.ensure(row.created_by for row in page.items)
        return page


def _network(network: str) -> str:
    """203.0.113.7/32 reads as the address it is; a range keeps its prefix."""
    address, _, prefix = network.partition("/")
    return address if prefix in ("32", "128") else network


class BlockDialog(QDialog):
    """Block an address, or the range around it (CIDR), with a reason."""

    def __init__(self, page: LogsPage, address: str) -> None:
        super().__init__(page)
        self.page = page
        self.setWindowTitle("Block address")
        self.setObjectName("blockDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.address = QLineEdit(address)
        self.address.setMinimumWidth(300)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("e.g. many failed sign-ins to different accounts")
        intro = QLabel(
            "Sign-in and password reset from this address are refused before any password is "
            "checked, until you lift the block. Add /24 (or another prefix) to block a range."
        )
        intro.setWordWrap(True)
        form = QFormLayout()
        self.fields = {
            "address": field(self.address, "An address (203.0.113.7) or a range (203.0.113.0/24)"),
            "reason": field(self.reason),
        }
        form.addRow("Address or range", self.fields["address"])
        form.addRow("Reason", self.fields["reason"])
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Block")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def submit(self) -> None:
        body = {"address": self.address.text().strip(), "reason": self.reason.text().strip()}

        def done(row: BlockedAddressOut) -> None:
            self.page.say(f"{_network(row.network)} is blocked.")
            self.page.blocked_changed()
            self.accept()

        busy_while(
            self.ok,
            operations.run(self, admin_api.block_address(self.page.api, body), success=done, fields=self.fields),
        )


class LogsPage(AdminPage):
    """Sign-ins, security events, failures by address and blocked addresses, in tabs."""

    title = "Sign-ins & security"

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.names = UserNames(api)
        n = self.names
        login_columns: list[Column[LoginRecord]] = [
            Column("When", lambda r: format.moment(r.at)),
            Column("Email", lambda r: r.email),
            Column("User", lambda r: n.name(r.user_id, "unknown email")),
            Column(
                "Result",
                lambda r: RESULT_LABELS.get(r.result) or format.label(r.result),
                color=lambda r: None if r.result == "success" else tone("danger"),
            ),
            Column("Address", lambda r: r.address or "—"),
            Column("Client", lambda r: r.client or "—"),
        ]
        self.logins = _LogTab(
            api,
            n,
            admin_api.login_history,
            "result",
            "Result",
            RESULT_LABELS,
            login_columns,
            "No sign-ins match",
            ("sign-in", "sign-ins"),
            lambda r: [r.user_id],
        )
        security_columns: list[Column[SecurityEventOut]] = [
            Column("When", lambda r: format.moment(r.at)),
            Column(
                "Event",
                lambda r: SECURITY_KINDS.get(r.kind) or format.label(r.kind),
                color=lambda r: tone("danger") if r.kind in FLAGGED else None,
            ),
            Column("By", lambda r: n.name(r.actor_id)),
            Column("Concerning", lambda r: n.name(r.target_user_id)),
            Column("Address", lambda r: r.address or "—"),
            Column("Details", _detail, tooltip=_detail),
        ]
        self.security = _LogTab(
            api,
            n,
            admin_api.security_log,
            "kind",
            "Kind",
            SECURITY_KINDS,
            security_columns,
            "No security events match",
            ("event", "events"),
            lambda r: [r.actor_id, r.target_user_id],
        )
        self.failures = _FailuresTab(api, n)
        self.blocked = _BlockedTab(api, n)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.logins, "Sign-ins")
        self.tabs.addTab(self.security, "Security events")
        self.tabs.addTab(self.failures, "Failures by address")
        self.tabs.addTab(self.blocked, "Blocked addresses")

        editing = can(me, "edit")
        self.block_button = QPushButton("Block address…")
        self.block_button.setToolTip("Block the address of the selected entry (or a range around it)")
        self.block_button.clicked.connect(self.block_selected)
        shown_if(self.block_button, editing)
        self.lift_button = QPushButton("Lift")
        self.lift_button.setToolTip("Allow sign-in from the selected address again")
        self.lift_button.clicked.connect(self.lift_selected)
        shown_if(self.lift_button, editing)
        for view in (
            self.logins.table.view,
            self.security.table.view,
            self.failures.table.view,
            self.blocked.table.view,
        ):
            view.selectionModel().selectionChanged.connect(self._update_actions)
        self.tabs.currentChanged.connect(self._update_actions)
        actions = QWidget()
        row = QHBoxLayout(actions)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.block_button)
        row.addWidget(self.lift_button)
        self.root.addWidget(
            title_label(
                "Sign-ins & security", "Who signed in from where, and what happened to accounts and passwords.", actions
            )
        )
        self.root.addWidget(self.notice)
        self.root.addWidget(self.tabs, 1)
        self._update_actions()

    def _selected_address(self) -> str | None:
        tab = self.tabs.currentWidget()
        if tab is self.blocked or not hasattr(tab, "table"):
            return None
        row = tab.table.current_row()
        address: str | None = getattr(row, "address", None) if row is not None else None
        return address or None

    def _update_actions(self, *_: Any) -> None:
        on_blocked = self.tabs.currentWidget() is self.blocked
        self.block_button.setEnabled(not on_blocked and self._selected_address() is not None)
        self.lift_button.setEnabled(on_blocked and self.blocked.table.current_row() is not None)

    def block_selected(self) -> None:
        address = self._selected_address()
        if address is not None:
            dialog = BlockDialog(self, address)
            dialog.open()

    def lift_selected(self) -> None:
        row = self.blocked.table.current_row()
        if row is None:
            return

        def done(lifted: BlockedAddressOut) -> None:
            self.say(f"{_network(lifted.network)} may sign in again.")
            self.blocked_changed()

        busy_while(
            self.lift_button,
            operations.run(self, admin_api.lift_block(self.api, row.id), success=done),
        )

    def blocked_changed(self) -> None:
        self.blocked.model.reload()
        self.failures.model.reload()
        self.security.model.reload()

    def reload(self) -> None:
        self.logins.model.reload()
        self.security.model.reload()
        self.failures.model.reload()
        self.blocked.model.reload()

    def on_live_event(self, event: Event) -> None:
        """Logs have no live events of their own; an account change is worth a fresh look."""
        if self.loaded and event.entity == "user" and event.action != "created":
            self.security.model.reload()

    def is_busy(self) -> bool:
        return super().is_busy() or any(
            t.model.loading for t in (self.logins, self.security, self.failures, self.blocked)
        )

    def screenshot_states(self) -> list[ScreenshotState]:
        def security() -> None:
            self.tabs.setCurrentIndex(1)

        def failures() -> None:
            self.tabs.setCurrentIndex(2)

        return [
            ("admin-sign-ins", lambda: None),
            ("admin-security-log", security),
            ("admin-failures-by-address", failures),
        ]

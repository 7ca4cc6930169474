"""Sign-in history and the security log, each filtered by user, result or kind, and period, paged
on the server. Rows carry user ids; their names are looked up (and cached) before a page is shown."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import (
    AdminPage,
    Event,
    ScreenshotState,
    UserNames,
    local_time,
    title_label,
    tone,
)
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.user_picker import UserPicker
from crm_server.contract.auth import LoginResult

RESULT_LABELS = {
    LoginResult.success.value: "Signed in",
    LoginResult.bad_credentials.value: "Wrong email or password",
    LoginResult.locked.value: "Account locked",
    LoginResult.inactive.value: "Account deactivated",
    LoginResult.otp_required.value: "Asked for 2FA code",
    LoginResult.bad_otp.value: "Wrong 2FA code",
    LoginResult.throttled.value: "Too many attempts",
}
# The kinds the server writes today (crm_server/auth: sessions.log_security calls).
SECURITY_KINDS = {
    "login_failed": "Failed sign-in",
    "account_locked": "Account locked",
    "account_unlocked": "Account unlocked",
    "password_changed": "Password changed",
    "password_reset_requested": "Password reset asked",
    "password_reset": "Password reset",
    "password_reset_mail_failed": "Reset email failed",
    "password_set_by_admin": "Password set by admin",
    "permission_denied": "Permission denied",
    "recovery_code_used": "Recovery code used",
    "totp_enabled": "2FA turned on",
    "totp_reset": "2FA reset by admin",
}
PAGE_SIZE = 100


def _detail(row: dict[str, Any]) -> str:
    detail = row.get("detail") or {}
    return ", ".join(f"{k}: {v if isinstance(v, str) else json.dumps(v)}" for k, v in detail.items())


class _LogTab(QWidget):
    """One filtered, paged log."""

    def __init__(self, api: ApiClient, names: UserNames, path: str, choice_key: str, choice_label: str,
                 choices: dict[str, str], columns: list[Column], empty: str, noun: tuple[str, str],
                 user_ids: Any) -> None:
        super().__init__()
        self.api = api
        self.names = names
        self.path = path
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
        self.table = PagedTable(self.model, "Try a wider period or clear the filters.", icon="lock",
                                empty_title=empty)
        self.table.set_noun(*noun)
        self.table.view.setColumnWidth(0, 150)
        self.filters.changed.connect(self.model.reload)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 8)
        layout.setSpacing(10)
        layout.addWidget(self.filters)
        layout.addWidget(self.table, 1)

    async def _fetch(self, offset: int, limit: int) -> dict[str, Any]:
        page = dict(await self.api.get(self.path, offset=offset, limit=limit, **self.filters.values()))
        await self.names.ensure(i for row in page["items"] for i in self.user_ids(row))
        return page


class LogsPage(AdminPage):
    """Sign-ins and security events, in two tabs."""

    title = "Sign-ins & security"

    def __init__(self, api: ApiClient, me: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.names = UserNames(api)
        n = self.names
        self.logins = _LogTab(
            api, n, "/api/login-history", "result", "Result", RESULT_LABELS,
            [Column("When", lambda r: local_time(r["at"], with_seconds=True)),
             Column("Email", lambda r: r["email"]),
             Column("User", lambda r: n.name(r["user_id"], "unknown email")),
             Column("Result", lambda r: str(RESULT_LABELS.get(r["result"], r["result"])),
                    color=lambda r: None if r["result"] == "success" else tone("danger")),
             Column("Address", lambda r: r.get("address") or "—"),
             Column("Client", lambda r: r.get("client") or "—")],
            "No sign-ins match", ("sign-in", "sign-ins"), lambda r: [r["user_id"]])
        self.security = _LogTab(
            api, n, "/api/security-log", "kind", "Kind", SECURITY_KINDS,
            [Column("When", lambda r: local_time(r["at"], with_seconds=True)),
             Column("Event", lambda r: str(SECURITY_KINDS.get(r["kind"], r["kind"]))),
             Column("By", lambda r: n.name(r["actor_id"])),
             Column("Concerning", lambda r: n.name(r["target_user_id"])),
             Column("Address", lambda r: r.get("address") or "—"),
             Column("Details", _detail, tooltip=_detail)],
            "No security events match", ("event", "events"),
            lambda r: [r["actor_id"], r["target_user_id"]])
        self.tabs = QTabWidget()
        self.tabs.addTab(self.logins, "Sign-ins")
        self.tabs.addTab(self.security, "Security events")
        self.root.addWidget(title_label("Sign-ins & security", "Who signed in from where, and what happened "
                                                              "to accounts and passwords."))
        self.root.addWidget(self.tabs, 1)

    def reload(self) -> None:
        self.logins.model.reload()
        self.security.model.reload()

    def on_live_event(self, event: Event) -> None:
        """Logs have no live events of their own; an account change is worth a fresh look."""
        if self.loaded and event.get("entity") == "user" and event.get("action") != "created":
            self.security.model.reload()

    def is_busy(self) -> bool:
        return super().is_busy() or self.logins.model.loading or self.security.model.loading

    def screenshot_states(self) -> list[ScreenshotState]:
        def security() -> None:
            self.tabs.setCurrentIndex(1)

        return [("admin-sign-ins", lambda: None), ("admin-security-log", security)]

"""The main window: sidebar of permitted modules, top bar (search, bell, user menu), offline banner,
pages, and a status bar with the connection state.

Shortcuts: Ctrl+K search, Ctrl+1..9 the n-th module, F5 reload, Ctrl+Shift+N notifications.
"""

from __future__ import annotations

import time
from functools import partial

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from crm_desktop import icons, theme
from crm_desktop.api import admin
from crm_desktop.operations import change_bus
from crm_desktop.session import Session
from crm_desktop.tasks import spawn
from crm_desktop.views.account.dialogs import ChangePasswordDialog, ProfileDialog, TotpManageDialog, TotpSetupDialog
from crm_desktop.views.modules import BY_KEY, ModuleInfo, ModulePage, create_page, visible_modules
from crm_desktop.views.notifications import NotificationCenter, NotificationsPopup
from crm_desktop.views.outbox_dialog import OutboxButton, OutboxDialog
from crm_desktop.views.restoring import RestoreWatcher, RestoringBanner
from crm_desktop.views.search import SearchController
from crm_desktop.widgets.avatar import avatar_icon
from crm_desktop.widgets.banner import NoticeBanner, OfflineBanner
from crm_desktop.widgets.notification_bell import NotificationBell
from crm_desktop.widgets.record_window import fit_to_screen
from crm_desktop.widgets.search_box import SearchBox
from crm_server.contract.auth import Me
from crm_server.contract.search import SearchHit

MODULE_ROLE = Qt.ItemDataRole.UserRole
ME_RECHECK_SECONDS = 60
STATE_TEXT = {"online": "Connected", "reconnecting": "Reconnecting…", "offline": "Offline"}


class Sidebar(QFrame):
    """Brand on top, then the permitted modules in groups; arrow keys move, Enter opens."""

    selected = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("sidebar")
        self.setFixedWidth(228)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 16, 12, 12)
        layout.setSpacing(12)
        brand = QHBoxLayout()
        brand.setContentsMargins(6, 0, 0, 0)
        brand.setSpacing(10)
        logo = QLabel()
        logo.setPixmap(icons.app_icon().pixmap(QSize(28, 28)))
        name = QLabel("CRM")
        name.setObjectName("sidebarBrand")
        brand.addWidget(logo)
        brand.addWidget(name, 1)
        layout.addLayout(brand)
        self.list = QListWidget()
        self.list.setObjectName("sidebarList")
        self.list.setIconSize(QSize(18, 18))
        self.list.setAccessibleName("Modules")
        self.list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.currentItemChanged.connect(self._current_changed)
        layout.addWidget(self.list, 1)
        self.modules: list[ModuleInfo] = []

    def set_modules(self, modules: list[ModuleInfo]) -> None:
        current = self.current_key()
        self.list.blockSignals(True)
        self.list.clear()
        self.modules = modules
        group = None
        accent = theme.current().token("accent_text")
        for index, module in enumerate(modules):
            if module.group != group:
                group = module.group
                if module.key != "home":  # Home stands alone on top, without a section title
                    header = QListWidgetItem(group.upper())
                    header.setFlags(Qt.ItemFlag.NoItemFlags)
                    header.setFont(self._section_font())
                    self.list.addItem(header)
            item = QListWidgetItem(icons.icon(module.icon, active=accent), module.title)
            item.setData(MODULE_ROLE, module.key)
            if index < 9:
                item.setToolTip(f"{module.title}  (Ctrl+{index + 1})")
            self.list.addItem(item)
        self.list.blockSignals(False)
        keys = [m.key for m in modules]
        if current in keys:
            self.select(current)
        elif keys:
            self.select(keys[0])

    def _section_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
        font.setWeight(QFont.Weight.DemiBold)
        font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 0.6)
        return font

    def keys(self) -> list[str]:
        return [m.key for m in self.modules]

    def current_key(self) -> str | None:
        item = self.list.currentItem()
        return item.data(MODULE_ROLE) if item is not None else None

    def select(self, key: str) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(MODULE_ROLE) == key:
                self.list.setCurrentItem(item)
                return

    def _current_changed(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is not None and item.data(MODULE_ROLE):
            self.selected.emit(item.data(MODULE_ROLE))


def _menu_header(me: Me, menu: QMenu) -> QWidgetAction:
    """Who is signed in, at the top of the user menu."""
    box = QWidget()
    box.setObjectName("menuHeader")
    layout = QHBoxLayout(box)
    layout.setContentsMargins(10, 8, 18, 8)
    layout.setSpacing(12)
    picture = QLabel()
    picture.setPixmap(avatar_icon(me.full_name, 36).pixmap(QSize(36, 36)))
    layout.addWidget(picture)
    text = QVBoxLayout()
    text.setSpacing(1)
    name = QLabel(me.full_name)
    name.setProperty("role", "heading")
    detail = QLabel(f"{me.email} · {me.role_name}")
    detail.setProperty("role", "caption")
    text.addWidget(name)
    text.addWidget(detail)
    layout.addLayout(text, 1)
    box.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    action = QWidgetAction(menu)
    action.setDefaultWidget(box)
    return action


class MainWindow(QMainWindow):
    sign_out_requested = Signal()
    closed = Signal()

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.api = session.api
        self.setWindowTitle("CRM")
        self.setWindowIcon(icons.app_icon())
        self.pages: dict[str, ModulePage] = {}
        self.notifications = NotificationCenter(self.api, self)

        central = QWidget()
        root = QHBoxLayout(central)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        self.sidebar = Sidebar()
        self.sidebar.selected.connect(self.open_module)
        root.addWidget(self.sidebar)
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.setSpacing(0)
        right.addWidget(self._top_bar())
        self.offline_banner = OfflineBanner()
        self.offline_banner.retry.connect(self._retry_now)
        self.notice = NoticeBanner()
        # The server restoring a backup: a banner meanwhile, then a reconnect and a reload of everything.
        self.restoring_banner = RestoringBanner()
        self.restore_watcher = RestoreWatcher(session, self.restoring_banner, self)
        self.restore_watcher.reloaded.connect(self.show_notice)
        right.addWidget(self.offline_banner)
        right.addWidget(self.restoring_banner)
        right.addWidget(self.notice)
        self.stack = QStackedWidget()
        self.stack.setObjectName("content")
        right.addWidget(self.stack, 1)
        root.addLayout(right, 1)
        self.setCentralWidget(central)
        self._status_bar()
        self._shortcuts()

        self.api.state_changed.connect(self._connection_changed)
        session.me_changed.connect(self._me_changed)
        self.notifications.count_changed.connect(self.bell.set_count)
        session.events.connected.connect(self.notifications.refresh)
        self._me_changed(session.me)
        self._connection_changed(self.api.state)
        self.notifications.refresh()
        self._team_name: str | None = None
        self._me_checked_at = time.monotonic()
        spawn(self._load_team_name())
        fit_to_screen(self, 1280, 800)
        self.setMinimumSize(960, 600)

    # --- building --------------------------------------------------------------------------------

    def _top_bar(self) -> QWidget:
        bar = QFrame()
        bar.setObjectName("topBar")
        layout = QHBoxLayout(bar)
        layout.setContentsMargins(20, 10, 16, 10)
        layout.setSpacing(8)
        self.search = SearchBox()
        self.search_controller = SearchController(self.api, self.search)
        self.search_controller.opened.connect(self.open_record)
        layout.addWidget(self.search, 1)
        layout.addStretch(0)
        self.bell = NotificationBell()
        self.bell.clicked.connect(self.show_notifications)
        self.popup: NotificationsPopup | None = None
        layout.addWidget(self.bell)
        self.user_button = QToolButton()
        self.user_button.setObjectName("userButton")
        self.user_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.user_button.setIconSize(QSize(28, 28))
        self.user_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.user_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.user_menu = QMenu(self.user_button)
        self.user_button.setMenu(self.user_menu)
        layout.addWidget(self.user_button)
        return bar

    def _status_bar(self) -> None:
        status = self.statusBar()
        status.setSizeGripEnabled(False)
        self.connection_label = QLabel()
        self.connection_label.setAccessibleName("Connection")
        self.server_label = QLabel(self.api.base_url)
        self.user_label = QLabel()
        status.addWidget(self.connection_label)
        # Edits kept while the server was away: how many wait; a click lists them (discard one).
        self.outbox_button = OutboxButton(self.session.outbox, status)
        self.outbox_button.clicked.connect(self.show_outbox)
        status.addWidget(self.outbox_button)
        status.addPermanentWidget(self.user_label)
        status.addPermanentWidget(self.server_label)

    def _shortcuts(self) -> None:
        QShortcut(QKeySequence("Ctrl+K"), self).activated.connect(self.search.focus_and_select)
        QShortcut(QKeySequence(Qt.Key.Key_F5), self).activated.connect(self.reload)
        QShortcut(QKeySequence("Ctrl+Shift+N"), self).activated.connect(self.show_notifications)
        for n in range(1, 10):
            QShortcut(QKeySequence(f"Ctrl+{n}"), self).activated.connect(partial(self.open_nth_module, n))

    def _build_user_menu(self, me: Me) -> None:
        self.user_button.setText(f" {me.full_name}")
        self.user_button.setIcon(avatar_icon(me.full_name, 28))
        self.user_button.setAccessibleName(f"Account menu for {me.full_name}")
        menu = self.user_menu
        menu.clear()
        menu.addAction(_menu_header(me, menu))
        menu.addSeparator()
        self.profile_action = menu.addAction(icons.icon("user"), "Profile", self.show_profile)
        self.password_action = menu.addAction(icons.icon("key"), "Change password…", self.show_change_password)
        totp_text = "Two-factor sign-in: on" if me.totp_enabled else "Set up two-factor sign-in…"
        self.totp_action = menu.addAction(icons.icon("shield-check"), totp_text, self.show_totp_setup)
        self.totp_action.setEnabled(not me.totp_enabled)
        self.totp_manage_action = menu.addAction(
            icons.icon("key"), "Recovery codes, turn off two-factor…", self.show_totp_manage
        )
        self.totp_manage_action.setVisible(me.totp_enabled)
        self.notification_prefs_action = menu.addAction(
            icons.icon("bell"), "Notification settings…", self.show_notification_preferences
        )
        self.exports_action = menu.addAction(icons.icon("inbox"), "My exports…", self.show_exports)
        menu.addSeparator()
        self.logout_action: QAction = menu.addAction(icons.icon("logout"), "Sign out", self.sign_out_requested.emit)

    # --- modules ---------------------------------------------------------------------------------

    def _me_changed(self, me: Me) -> None:
        modules = visible_modules(self.session)
        allowed = {m.key for m in modules}
        for key in [k for k in self.pages if k not in allowed]:
            page = self.pages.pop(key)
            self.stack.removeWidget(page)
            page.deleteLater()
        self.sidebar.set_modules(modules)
        if not modules:
            self._show_nothing_permitted()
        self._build_user_menu(me)
        self.user_label.setText(f"{me.full_name} · {me.role_name}")

    def _show_nothing_permitted(self) -> None:
        from crm_desktop.widgets.empty_state import EmptyState

        if "" not in self.pages:
            info = ModuleInfo("", "Welcome", "user", "", "", "", "")
            page = ModulePage(
                info,
                EmptyState(
                    "lock",
                    "Nothing to show yet",
                    "Your role does not include any module yet. An administrator can give your role access.",
                ),
            )
            self.pages[""] = page
            self.stack.addWidget(page)
        self.stack.setCurrentWidget(self.pages[""])

    def open_module(self, key: str) -> None:
        if key not in self.sidebar.keys():
            return
        if key not in self.pages:
            page = create_page(BY_KEY[key], self.session)
            self.pages[key] = page
            self.stack.addWidget(page)
        self.stack.setCurrentWidget(self.pages[key])
        if self.sidebar.current_key() != key:
            self.sidebar.select(key)
        self.setWindowTitle(f"{BY_KEY[key].title} - CRM")

    def open_record(self, module: str, hit: SearchHit) -> None:
        """A search hit chosen: open its module, then the record itself where the page can
        (a module view offers ``open_record(type, id, parent_id)``)."""
        if not module:
            return
        self.open_module(module)
        page = self.pages.get(module)
        opener = getattr(page.content, "open_record", None) if page is not None else None
        if callable(opener):
            opener(hit.type, hit.id, hit.parent_id)

    def open_nth_module(self, n: int) -> None:
        keys = self.sidebar.keys()
        if 0 < n <= len(keys):
            self.open_module(keys[n - 1])

    @property
    def current_module(self) -> str | None:
        page = self.stack.currentWidget()
        return page.module.key if isinstance(page, ModulePage) and page.module.key else None

    def reload(self) -> None:
        """F5: fetch everything on screen again."""
        self.session.reload_me()
        change_bus().announce(frozenset({"*"}))

    # --- connection ------------------------------------------------------------------------------

    def _connection_changed(self, state: str) -> None:
        online = state == "online"
        self.offline_banner.setVisible(not online)
        color = theme.current().token("success" if online else "warning_text")
        self.connection_label.setText(f"<span style='color:{color}'>●</span>&nbsp; {STATE_TEXT.get(state, state)}")

    def _retry_now(self) -> None:
        self.session.events.wake()
        spawn(self._probe())

    async def _probe(self) -> None:
        from crm_desktop.api.client import ApiError

        try:
            await self.api.request("GET", "/health", retry=False)
        except ApiError:
            return

    async def _load_team_name(self) -> None:
        from crm_desktop.api.client import ApiError

        if self.session.me.team_id is None:
            return
        try:
            teams = await admin.list_teams(self.api)
        except ApiError:
            return
        self._team_name = next((t.name for t in teams if t.id == self.session.me.team_id), None)

    def show_notice(self, text: str) -> None:
        self.notice.show_message(text)

    # --- top bar actions -------------------------------------------------------------------------

    def show_notifications(self) -> None:
        if self.popup is None:
            self.popup = NotificationsPopup(self.notifications, self)
        self.popup.show_under(self.bell)

    def show_outbox(self) -> OutboxDialog:
        dialog = OutboxDialog(self.session.outbox, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_profile(self) -> ProfileDialog:
        dialog = ProfileDialog(self.session.me, self._team_name, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_change_password(self) -> ChangePasswordDialog:
        dialog = ChangePasswordDialog(self.api, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.show_notice("Your password is changed."))
        dialog.open()
        return dialog

    def show_totp_setup(self) -> TotpSetupDialog:
        dialog = TotpSetupDialog(self.api, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_totp_manage(self) -> TotpManageDialog:
        dialog = TotpManageDialog(self.api, self.session.me, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_notification_preferences(self) -> QDialog:
        from crm_desktop.views.account.notification_prefs import NotificationPrefsDialog

        dialog = NotificationPrefsDialog(self.api, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_exports(self) -> QDialog:
        """The person's exports (views/exports.py): state, progress, download, cancel, export again."""
        from crm_desktop.views.exports import ExportsWindow

        dialog = ExportsWindow(self.session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def changeEvent(self, event: QEvent) -> None:
        """Back to the window after a while: check my role once more (the server sends role changes
        only to users who may view the admin module), at most once a minute."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            now = time.monotonic()
            if now - self._me_checked_at > ME_RECHECK_SECONDS:
                self._me_checked_at = now
                self.session.reload_me()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit()
        super().closeEvent(event)

"""The admin panel: one page per job (users, roles, teams, the sales setup: pipelines, sales lists
and assignment rules, the support setup, the email log and the invoices sent by email, then logs,
audit, settings, health), picked from a list on the left. Pages load the first time they are
shown, reload on F5, refresh when an operation announces their area on the change bus, and take
live events through `on_live_event`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import shiboken6
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QScrollArea, QStackedWidget, QWidget

from crm_desktop import icons, theme
from crm_desktop.api.client import ApiClient
from crm_desktop.operations import change_bus
from crm_desktop.views.admin.assignment import AssignmentPage
from crm_desktop.views.admin.audit import AuditPage
from crm_desktop.views.admin.automation import AutomationPage
from crm_desktop.views.admin.backups import BackupsPage
from crm_desktop.views.admin.common import AdminPage, Event, can
from crm_desktop.views.admin.data_management import DataManagementPage
from crm_desktop.views.admin.email_dns import EmailDnsPage
from crm_desktop.views.admin.email_log import EmailLogPage, InvoiceEmailsPage
from crm_desktop.views.admin.emails import EmailsPage
from crm_desktop.views.admin.health import HealthPage
from crm_desktop.views.admin.integrations import IntegrationsPage
from crm_desktop.views.admin.logs import LogsPage
from crm_desktop.views.admin.partners import PartnersPage
from crm_desktop.views.admin.pipelines import PipelinesPage
from crm_desktop.views.admin.roles import RolesPage
from crm_desktop.views.admin.sales_lists import SalesListsPage
from crm_desktop.views.admin.settings import SettingsPage
from crm_desktop.views.admin.support import SupportPage
from crm_desktop.views.admin.tax_rates import TaxRatesPage
from crm_desktop.views.admin.teams import TeamsPage
from crm_desktop.views.admin.users import UsersPage
from crm_desktop.views.admin.web_forms import WebFormsPage
from crm_desktop.views.admin.webhooks import WebhooksPage
from crm_desktop.views.admin.whatsapp_templates import WhatsAppTemplatesPage
from crm_server.contract.auth import Me
from crm_server.contract.events import LiveEvent

PAGES: tuple[tuple[str, type[AdminPage]], ...] = (
    ("users", UsersPage),
    ("roles", RolesPage),
    ("teams", TeamsPage),
    ("pipelines", PipelinesPage),
    ("sales_lists", SalesListsPage),
    ("tax_rates", TaxRatesPage),
    ("assignment", AssignmentPage),
    ("support", SupportPage),
    ("email_log", EmailLogPage),
    ("invoice_emails", InvoiceEmailsPage),
    ("emails", EmailsPage),
    ("email_dns", EmailDnsPage),
    ("whatsapp_templates", WhatsAppTemplatesPage),
    ("integrations", IntegrationsPage),
    ("web_forms", WebFormsPage),
    ("partners", PartnersPage),
    ("automation", AutomationPage),
    ("webhooks", WebhooksPage),
    ("logs", LogsPage),
    ("audit", AuditPage),
    ("settings", SettingsPage),
    ("data_management", DataManagementPage),
    ("backups", BackupsPage),
    ("health", HealthPage),
)
ICONS = {
    "users": "user",
    "roles": "shield-check",
    "teams": "team",
    "pipelines": "leads",
    "sales_lists": "tickets",
    "tax_rates": "invoices",
    "assignment": "integrations",
    "support": "tickets",
    "email_log": "mail",
    "invoice_emails": "invoices",
    "emails": "mail",
    "email_dns": "shield-check",
    "whatsapp_templates": "inbox",
    "integrations": "integrations",
    "web_forms": "leads",
    "partners": "team",
    "automation": "integrations",
    "webhooks": "integrations",
    "logs": "lock",
    "audit": "inbox",
    "settings": "settings",
    "data_management": "inbox",
    "backups": "shield-check",
    "health": "server",
}
NAV_STYLE = """
QListWidget#adminNav {{ background: {sidebar}; border: 0; border-right: 1px solid {border}; border-radius: 0;
    padding: 10px 8px; }}
QListWidget#adminNav::item {{ padding: 8px 10px; margin: 1px 0; border-radius: 8px; color: {text}; }}
QListWidget#adminNav::item:hover {{ background: {hover}; }}
QListWidget#adminNav::item:selected {{ background: {accent_soft}; color: {accent_text}; font-weight: 600; }}
"""
# Which pages a live event of the admin module concerns, by entity.
EVENT_PAGES = {
    "user": ("users", "roles", "teams", "assignment", "logs", "audit"),
    "role": ("users", "roles", "audit"),
    "team": ("users", "teams", "assignment", "support", "web_forms", "audit"),
    "settings": ("settings", "assignment", "support", "integrations", "email_dns", "audit"),
    "pipeline": ("pipelines", "web_forms", "audit"),
    "web_form": ("web_forms", "audit"),
    "lost_reason": ("sales_lists", "audit"),
    "lead_source": ("sales_lists", "assignment", "audit"),
    "assignment_rule": ("assignment", "audit"),
    "email_pipe_log": ("email_log", "audit"),
    "backup": ("backups",),
    "automation_rule": ("automation", "audit"),
    "webhook_subscription": ("webhooks", "audit"),
    "partner": ("partners", "audit"),
    "partner_user": ("partners", "audit"),
    "lead_registration": ("partners",),
}
# Live events of other modules that a page shows, by (module, entity).
OTHER_EVENT_PAGES = {
    ("tickets", "ticket_category"): ("support",),
    ("products", "tax_rate"): ("tax_rates",),
    ("invoices", "invoice"): ("invoice_emails",),
    ("integrations", "integration"): ("integrations",),
    ("integrations", "integration_event"): ("integrations",),
    ("imports", "import"): ("data_management",),
    ("automation", "automation_rule"): ("automation",),  # seen by admins and the rule's team's managers
    ("integrations", "whatsapp_template"): ("whatsapp_templates",),  # seen by who may view integrations
}


class _CurrentPageStack(QStackedWidget):
    """As small as the page it shows (a stack is otherwise as wide as its widest page)."""

    def minimumSizeHint(self) -> QSize:
        page = self.currentWidget()
        return page.minimumSizeHint() if page is not None else super().minimumSizeHint()

    def sizeHint(self) -> QSize:
        page = self.currentWidget()
        return page.sizeHint() if page is not None else super().sizeHint()

    def heightForWidth(self, width: int) -> int:
        """The shown page's (QStackedLayout answers its tallest page's: every page would scroll
        as far as the longest one)."""
        page = self.currentWidget()
        return page.heightForWidth(width) if page is not None else super().heightForWidth(width)


class AdminPanel(QWidget):
    """For users with the admin permission; `pages[name]` gives each page (for the shell and tests)."""

    def __init__(
        self,
        api: ApiClient,
        me: Me,
        parent: QWidget | None = None,
        *,
        only: tuple[str, ...] | None = None,
        module: str = "admin",
    ) -> None:
        """`only` some of the pages, for a sidebar module of its own that shares them (Integrations:
        providers and website forms), shown to those who may view `module`."""
        super().__init__(parent)
        self.setObjectName("adminPanel")
        self.page_names = [name for name, _ in PAGES if only is None or name in only]
        self.api = api
        self.me = me
        self.nav = QListWidget()
        self.nav.setObjectName("adminNav")
        self.nav.setAccessibleName("Admin sections")
        self.nav.setFixedWidth(196)
        self.stack = _CurrentPageStack()
        self.pages: dict[str, AdminPage] = {}
        self._live_wired = False  # set once the shell passes live events to on_live_event
        self._f5: QShortcut | None = None
        for name, cls in PAGES:
            if name not in self.page_names:
                continue
            page = cls(api, self.me)
            page.setObjectName(f"admin-{name}")
            self.pages[name] = page
            self.stack.addWidget(page)
            item = QListWidgetItem(icons.icon(ICONS[name]), page.title)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.nav.addItem(item)
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.nav.currentRowChanged.connect(self._show_row)
        self._style_nav()
        theme.current().changed.connect(self._style_nav)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        # A page wider than the room left on a small screen scrolls, instead of widening the window.
        room = QScrollArea()
        room.setObjectName("adminPageRoom")
        room.setWidgetResizable(True)
        room.setFrameShape(QScrollArea.Shape.NoFrame)
        room.setWidget(self.stack)
        layout.addWidget(room, 1)
        change_bus().changed.connect(self._on_changed)
        self.setEnabled(can(self.me, "view", module))
        self.nav.setCurrentRow(0)

    def _style_nav(self, *_: object) -> None:
        """The section list looks like the app's sidebar, in the theme's current colours."""
        self.nav.setStyleSheet(NAV_STYLE.format(**theme.TOKENS[theme.current().name]))
        # Wide enough for its longest name beside its scroll bar (a short screen scrolls it down).
        bar = self.nav.verticalScrollBar().sizeHint().width()
        self.nav.setFixedWidth(max(196, self.nav.sizeHintForColumn(0) + 2 * self.nav.frameWidth() + bar + 8))

    def _show_row(self, row: int) -> None:
        if row < 0:
            return
        self.stack.setCurrentIndex(row)
        self.stack.updateGeometry()
        page = self.stack.currentWidget()
        assert isinstance(page, AdminPage)
        if self.isVisible():
            page.activate()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.isWindow() and self._f5 is None:
            # On its own (not inside the main window, whose F5 reloads everything): F5 reloads the
            # page. Inside the main window a second F5 would make the key ambiguous, so none there.
            self._f5 = QShortcut(QKeySequence(Qt.Key.Key_F5), self)
            self._f5.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self._f5.activated.connect(lambda: self.current_page().reload())
        self.current_page().activate()

    def current_page(self) -> AdminPage:
        page = self.stack.currentWidget()
        assert isinstance(page, AdminPage)
        return page

    def show_page(self, name: str) -> AdminPage:
        """Switch to a page by name ("users", "roles", ...) and load it if it is new."""
        row = self.page_names.index(name)
        self.nav.setCurrentRow(row)
        page = self.pages[name]
        page.activate()
        return page

    def _on_changed(self, areas: frozenset[str]) -> None:
        """Our own operations name what they changed ("admin.users"); "*" means the event stream
        was reset (everything may have changed). Single live events come through on_live_event;
        until the shell calls it, the session's per-entity areas ("admin.user") stand in for it."""
        for page in self.pages.values():
            if "*" in areas:
                page.on_reset()
            else:
                page.on_changed(areas)
        if not self._live_wired and "*" not in areas:
            for area in areas:
                module, _, entity = area.partition(".")
                if module == "admin" and entity in EVENT_PAGES:
                    self._dispatch(Event(module="admin", entity=entity, action="changed"))

    def on_live_event(self, event: LiveEvent) -> None:
        """A live event from the server: refresh only the pages that show it.

        The shell connects its event stream here. Events of other modules only reach the audit
        page (new audit rows)."""
        self._live_wired = True
        self._dispatch(Event.of(event))

    def _dispatch(self, event: Event) -> None:
        if event.module != "admin":
            for name in OTHER_EVENT_PAGES.get((event.module, event.entity), ()):
                if name in self.pages:
                    self.pages[name].on_live_event(event)
            if event.module != "notifications" and "audit" in self.pages:  # the bell writes no audit rows
                self.pages["audit"].on_live_event(event)
            return
        for name in EVENT_PAGES.get(event.entity, ()):
            if name in self.pages:
                self.pages[name].on_live_event(event)

    # Typed access to each page (for the shell, the screenshot runner and tests).
    @property
    def users_page(self) -> UsersPage:
        return cast(UsersPage, self.pages["users"])

    @property
    def roles_page(self) -> RolesPage:
        return cast(RolesPage, self.pages["roles"])

    @property
    def teams_page(self) -> TeamsPage:
        return cast(TeamsPage, self.pages["teams"])

    @property
    def pipelines_page(self) -> PipelinesPage:
        return cast(PipelinesPage, self.pages["pipelines"])

    @property
    def sales_lists_page(self) -> SalesListsPage:
        return cast(SalesListsPage, self.pages["sales_lists"])

    @property
    def tax_rates_page(self) -> TaxRatesPage:
        return cast(TaxRatesPage, self.pages["tax_rates"])

    @property
    def assignment_page(self) -> AssignmentPage:
        return cast(AssignmentPage, self.pages["assignment"])

    @property
    def support_page(self) -> SupportPage:
        return cast(SupportPage, self.pages["support"])

    @property
    def email_log_page(self) -> EmailLogPage:
        return cast(EmailLogPage, self.pages["email_log"])

    @property
    def invoice_emails_page(self) -> InvoiceEmailsPage:
        return cast(InvoiceEmailsPage, self.pages["invoice_emails"])

    @property
    def integrations_page(self) -> IntegrationsPage:
        return cast(IntegrationsPage, self.pages["integrations"])

    @property
    def web_forms_page(self) -> WebFormsPage:
        return cast(WebFormsPage, self.pages["web_forms"])

    @property
    def logs_page(self) -> LogsPage:
        return cast(LogsPage, self.pages["logs"])

    @property
    def audit_page(self) -> AuditPage:
        return cast(AuditPage, self.pages["audit"])

    @property
    def settings_page(self) -> SettingsPage:
        return cast(SettingsPage, self.pages["settings"])

    @property
    def data_management_page(self) -> DataManagementPage:
        return cast(DataManagementPage, self.pages["data_management"])

    @property
    def backups_page(self) -> BackupsPage:
        return cast(BackupsPage, self.pages["backups"])

    @property
    def health_page(self) -> HealthPage:
        return cast(HealthPage, self.pages["health"])

    def is_busy(self) -> bool:
        """True while a page is still loading (the screenshot tool waits for False)."""
        return any(page.is_busy() for page in self.pages.values())

    def screenshot_states(self) -> Iterator[tuple[str, AdminPanel]]:
        """Put the panel in each state worth a picture, one at a time; dialogs a state opened are
        closed before the next one."""
        for name in self.page_names:
            page = self.show_page(name)
            for state, setter in page.screenshot_states():
                opened = setter()
                yield state, self
                if opened is not None and shiboken6.isValid(opened):
                    opened.close()


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """Hook of ``python -m crm_desktop.screenshots``: the panel inside the main window when the
    shell can open it, else on its own."""
    panel: AdminPanel | None = None
    main = getattr(ctx, "main", None)
    if main is not None:
        main.open_module("admin")
        panel = main.findChild(AdminPanel)
    if panel is None:
        panel = AdminPanel(ctx.api, ctx.me)
    yield from panel.screenshot_states()

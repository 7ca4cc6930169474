"""The modules of the sidebar: names, icons, groups, and the page each one shows.

A module's page comes from ``crm_desktop.views.<key>`` when that module exists and offers
``create_page(session) -> QWidget``; until then the page is a calm empty state. The admin module
is the admin panel (``crm_desktop.views.admin.panel.AdminPanel(api, me)``), imported on first use.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from crm_desktop import format
from crm_desktop.session import Session
from crm_desktop.widgets.empty_state import EmptyState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModuleInfo:
    key: str
    title: str  # format.label(key): a module has one name on every screen
    icon: str
    group: str
    subtitle: str
    empty_title: str
    empty_text: str


CATALOG: tuple[ModuleInfo, ...] = (
    ModuleInfo(
        "home",
        "Home",
        "home",
        "Home",
        "Your day at a glance",
        "Your day at a glance",
        "The figures of your role, each opening the list behind it.",
    ),
    ModuleInfo(
        "leads",
        format.label("leads"),
        "leads",
        "Sales",
        "New enquiries and where they stand",
        "Your pipeline",
        "New enquiries from web forms, Facebook Lead Ads and your colleagues gather "
        "here, ready to qualify and follow up.",
    ),
    ModuleInfo(
        "clients",
        format.label("clients"),
        "clients",
        "Sales",
        "Companies and people you work with",
        "Your clients",
        "The companies and people you work with are listed here, each with their contacts, history and open work.",
    ),
    ModuleInfo(
        "activities",
        format.label("activities"),
        "activities",
        "Sales",
        "Calls, meetings and follow-ups",
        "Your follow-ups",
        "Calls, meetings and follow-ups you schedule appear here, with what is due first at the top.",
    ),
    ModuleInfo(
        "proposals",
        format.label("proposals"),
        "proposals",
        "Sales",
        "Quotes sent to clients",
        "Quotes for your clients",
        "Quotes you prepare and send are kept here with their status, from draft to accepted.",
    ),
    ModuleInfo(
        "orders",
        format.label("orders"),
        "invoices",
        "Sales",
        "Orders from the web shop",
        "Orders from the web shop",
        "Orders placed in your WooCommerce store arrive here with their client, lines and stock.",
    ),
    ModuleInfo(
        "commissions",
        format.label("commissions"),
        "payments",
        "Sales",
        "What staff and partners earn",
        "Commissions",
        "Commissions from paid invoices of each deal, with their approval and payout.",
    ),
    ModuleInfo(
        "tickets",
        format.label("tickets"),
        "tickets",
        "Support",
        "Support requests",
        "Support in one queue",
        "Support requests from email and the website line up here for your team.",
    ),
    ModuleInfo(
        "invoices",
        format.label("invoices"),
        "invoices",
        "Finance",
        "Issued and recurring invoices",
        "Billing at a glance",
        "Issued and recurring invoices are listed here, with what is paid and what is due.",
    ),
    ModuleInfo(
        "payments",
        format.label("payments"),
        "payments",
        "Finance",
        "Money received",
        "Money received",
        "Payments received by transfer, card or Stripe are recorded here.",
    ),
    ModuleInfo(
        "products",
        format.label("products"),
        "products",
        "Inventory",
        "What you sell",
        "Your catalogue",
        "The products and services you sell, with their prices and tax rates.",
    ),
    ModuleInfo(
        "stock",
        format.label("stock"),
        "stock",
        "Inventory",
        "Levels and moves across warehouses",
        "Stock across warehouses",
        "Stock levels and moves across your warehouses are shown here.",
    ),
    ModuleInfo(
        "purchasing",
        format.label("purchasing"),
        "purchasing",
        "Inventory",
        "Orders to suppliers",
        "Orders to suppliers",
        "Orders to suppliers and what has arrived are tracked here.",
    ),
    ModuleInfo(
        "reports",
        format.label("reports"),
        "reports",
        "Insights",
        "Figures for sales, support and finance",
        "Figures for the whole office",
        "Sales, support and finance figures are summarised here as the work comes in.",
    ),
    ModuleInfo(
        "campaigns",
        format.label("campaigns"),
        "leads",
        "Insights",
        "E-mail campaigns and what came of them",
        "E-mail campaigns",
        "Campaigns to a saved view of your leads or clients, with their opens, clicks and unsubscribes.",
    ),
    ModuleInfo(
        "integrations",
        format.label("integrations"),
        "integrations",
        "System",
        "Connections to outside systems",
        "Connected systems",
        "Web forms, WooCommerce, Stripe and your mailbox connect here.",
    ),
    ModuleInfo(
        "automation",
        format.label("automation"),
        "integrations",
        "System",
        "If this, then that: rules that act on your records",
        "Automation rules",
        "Rules that create follow-ups, assign, tag and send messages when records change.",
    ),
    ModuleInfo(
        "admin",
        format.label("admin"),
        "admin",
        "System",
        "Users, roles, settings and logs",
        "Admin panel",
        "Users, roles, teams, settings and logs.",
    ),
)

BY_KEY = {module.key: module for module in CATALOG}


def visible_modules(session: Session) -> list[ModuleInfo]:
    """The modules the signed-in user's role may view, in sidebar order. Home is everyone's, first
    (Ctrl+1): each person lands there on sign-in."""
    return [module for module in CATALOG if module.key == "home" or _may_view(session, module.key)]


def _may_view(session: Session, key: str) -> bool:
    if key == "campaigns":  # not a permission module: bulk e-mail is for who may e-mail and export leads
        return session.can("activities", "create") and session.can("leads", "export")
    return session.can(key, "view")


class ModulePage(QWidget):
    """A page with a title over its content (the empty state until the module is built).

    The empty state says what the page is for and never claims the list is empty: the records may
    well exist on the server (the demo has thousands of leads) before their screen is built."""

    def __init__(self, module: ModuleInfo, content: QWidget, with_header: bool = True) -> None:
        super().__init__()
        self.module = module
        self.content = content
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        if with_header:
            header = QWidget()
            header.setObjectName("pageHeader")
            head = QVBoxLayout(header)
            head.setContentsMargins(32, 26, 32, 6)
            head.setSpacing(2)
            title = QLabel(module.title)
            title.setProperty("role", "title")
            subtitle = QLabel(module.subtitle)
            subtitle.setProperty("role", "muted")
            head.addWidget(title)
            head.addWidget(subtitle)
            layout.addWidget(header)
        layout.addWidget(content, 1)


def _admin_panel(session: Session) -> QWidget | None:
    try:
        panel_module = importlib.import_module("crm_desktop.views.admin.panel")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("crm_desktop.views.admin"):
            return None
        raise
    panel: QWidget = panel_module.AdminPanel(session.api, session.me)
    return panel


def _module_view(module: ModuleInfo, session: Session) -> QWidget | None:
    try:
        view = importlib.import_module(f"crm_desktop.views.{module.key}")
    except ModuleNotFoundError as exc:
        if exc.name == f"crm_desktop.views.{module.key}":
            return None
        raise
    factory = getattr(view, "create_page", None)
    return factory(session) if callable(factory) else None


def create_page(module: ModuleInfo, session: Session) -> ModulePage:
    """The page for ``module``; a failing view shows a calm message instead of taking the app down."""
    try:
        if module.key == "admin":
            panel = _admin_panel(session)
            if panel is not None:
                return ModulePage(module, panel, with_header=False)
            return ModulePage(
                module,
                EmptyState(
                    "admin",
                    "Admin panel",
                    "This build does not include the "
                    "admin panel. Administrators can also use crm-server's "
                    "command line.",
                ),
            )
        view = _module_view(module, session)
        if view is not None:
            return ModulePage(module, view, with_header=False)
    except Exception:
        log.exception("the %s page failed to open", module.key)
        return ModulePage(
            module,
            EmptyState(
                "alert",
                "This page could not open",
                "Something went wrong while opening it. Press F5 to try again; "
                "if it keeps happening, tell your administrator.",
            ),
        )
    return ModulePage(module, EmptyState(module.icon, module.empty_title, module.empty_text))

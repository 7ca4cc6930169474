"""The Integrations module in the sidebar: the admin panel's Integrations and Website forms pages on
their own, for those who look after the connections without being admins (module "integrations")."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.admin.panel import AdminPanel

    return AdminPanel(session.api, session.me, only=("integrations", "web_forms"), module="integrations")

"""The Automation module in the sidebar: the admin panel's Automation page on its own, for managers
who build their team's rules without being admins (module "automation", scope team)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.admin.panel import AdminPanel

    return AdminPanel(session.api, session.me, only=("automation",), module="automation")

"""The Automation module in the sidebar: the admin panel's Automation page on its own, for managers
who build their team's rules without being admins (module "automation", scope team)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.admin.panel import AdminPanel

    return AdminPanel(session.api, session.me, only=("automation",), module="automation")


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """Hook of ``python -m crm_desktop.screenshots``: the Automation module's page and its dialogs
    (CRM_SCREENSHOTS_ONLY=views.automation takes these alone)."""
    from crm_desktop.views.admin.panel import AdminPanel

    main = getattr(ctx, "main", None)
    panel: AdminPanel | None = None
    if main is not None:
        main.open_module("automation")
        panel = main.findChild(AdminPanel, "adminPanel")
    if panel is None or "automation" not in panel.pages:
        panel = AdminPanel(ctx.api, ctx.me, only=("automation",), module="automation")
    for name, state in panel.screenshot_states():
        yield name.replace("admin-", "module-"), state

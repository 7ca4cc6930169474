"""The admin panel (issue 3): users, roles, teams, logs, audit, settings, system health."""

from crm_desktop.views.admin.panel import AdminPanel

__all__ = ["AdminPanel"]

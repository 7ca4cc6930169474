"""Typed call of Home: the signed-in person's widgets (crm_server.contract.home). Home changes
nothing; it is read again when what it counts changes: WATCHED."""

from __future__ import annotations

from crm_desktop.api.client import ApiClient
from crm_server.contract.home import HomeOut

# Home counts leads, follow-ups, tickets, invoices, stock, sign-ins, backups, jobs, integrations,
# and shows the sales targets (a change to one announces "reports").
WATCHED = frozenset(
    {"leads", "activities", "tickets", "invoices", "payments", "stock", "admin", "integrations", "backups", "reports"}
)


async def home(api: ApiClient) -> HomeOut:
    return HomeOut.model_validate(await api.get("/api/home"))

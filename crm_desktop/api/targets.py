"""Typed calls of sales targets (crm_server.contract.targets): a month's targets per person and team
with what each won, set one, remove one. A change announces CHANGED (Home and the forecast report
read them)."""

from __future__ import annotations

from datetime import date

from crm_desktop.api.client import ApiClient
from crm_server.contract.targets import TargetIn, TargetOut, TargetsOut

CHANGED = frozenset({"reports", "reports.targets"})


async def month(api: ApiClient, day: date) -> TargetsOut:
    """The teams and people in the viewer's scope with their target for the month of `day`."""
    return TargetsOut.model_validate(await api.get("/api/reports/targets", month=day.isoformat()))


async def put(api: ApiClient, target: TargetIn) -> TargetOut:
    return TargetOut.model_validate(await api.put("/api/reports/targets", target.model_dump(mode="json")))


async def remove(api: ApiClient, target_id: int) -> None:
    await api.delete(f"/api/reports/targets/{target_id}")

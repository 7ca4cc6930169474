"""Typed calls of custom reports (crm_server.contract.custom_reports): the allow-list of entities
and fields, a run, and the saved reports (own and shared)."""

from __future__ import annotations

from crm_desktop.api.client import ApiClient
from crm_server.contract.custom_reports import (
    CustomDefinition,
    CustomEntityOut,
    CustomReportIn,
    CustomReportOut,
    CustomResultOut,
)

CHANGED = frozenset({"reports"})


async def fields(api: ApiClient) -> list[CustomEntityOut]:
    return [CustomEntityOut.model_validate(e) for e in await api.get("/api/reports/custom/fields")]


async def run(api: ApiClient, definition: CustomDefinition) -> CustomResultOut:
    answer = await api.post("/api/reports/custom/run", definition.model_dump(mode="json"))
    return CustomResultOut.model_validate(answer)


async def saved(api: ApiClient) -> list[CustomReportOut]:
    return [CustomReportOut.model_validate(r) for r in await api.get("/api/reports/custom")]


async def save(api: ApiClient, report: CustomReportIn, report_id: int | None = None) -> CustomReportOut:
    """A new saved report, or (with `report_id`) one's own changed."""
    body = report.model_dump(mode="json")
    if report_id is None:
        return CustomReportOut.model_validate(await api.post("/api/reports/custom", body))
    return CustomReportOut.model_validate(await api.put(f"/api/reports/custom/{report_id}", body))


async def delete(api: ApiClient, report_id: int) -> None:
    await api.delete(f"/api/reports/custom/{report_id}")

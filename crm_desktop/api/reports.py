"""Typed calls of the reports area: the sales report per month, week or day on the accrual or the
cash basis (crm_server.contract.reports). A report changes nothing; it is read again when what it
counts changes: WATCHED."""

from __future__ import annotations

from crm_desktop.api import payments
from crm_desktop.api.client import ApiClient
from crm_desktop.api.invoices import params
from crm_server.contract.reports import (
    ReportOut,
    ReportQuery,
    SalesQuery,
    SalesReportOut,
    ScheduleIn,
    ScheduleOut,
    SourceCostIn,
    SourceCostOut,
    StageProbabilityOut,
)

# The sales report counts invoices, credit notes and payments: it reloads after any of them changes
# (a payment's live event names "invoices.payment", which carries "invoices" too).
WATCHED = payments.CHANGED | {"*"}


async def sales(api: ApiClient, query: SalesQuery | None = None) -> SalesReportOut:
    """Without a query: this year by month on the accrual basis, in the base currency."""
    return SalesReportOut.model_validate(await api.get("/api/reports/sales", **params(query or SalesQuery())))


async def standard(api: ApiClient, key: str, query: ReportQuery | None = None) -> ReportOut:
    """One of the standard reports (funnel, lost, sources, activity, forecast, support, receivables)."""
    return ReportOut.model_validate(await api.get(f"/api/reports/{key}", **params(query or ReportQuery())))


async def source_costs(api: ApiClient, year: int | None = None) -> list[SourceCostOut]:
    found = await api.get("/api/reports/source-costs", **({"year": year} if year else {}))
    return [SourceCostOut.model_validate(c) for c in found]


async def put_source_cost(api: ApiClient, cost: SourceCostIn) -> SourceCostOut | None:
    """Set what a source cost in a month (0 removes it: None)."""
    answer = await api.put("/api/reports/source-costs", cost.model_dump(mode="json", exclude_none=True))
    return SourceCostOut.model_validate(answer) if answer else None


async def stage_probabilities(api: ApiClient, pipeline_id: int) -> list[StageProbabilityOut]:
    return [
        StageProbabilityOut.model_validate(s) for s in await api.get(f"/api/reports/stage-probabilities/{pipeline_id}")
    ]


async def set_stage_probability(api: ApiClient, status_id: int, percent: str) -> StageProbabilityOut:
    answer = await api.put(f"/api/reports/stage-probabilities/status/{status_id}", {"win_probability": percent})
    return StageProbabilityOut.model_validate(answer)


async def schedules(api: ApiClient) -> list[ScheduleOut]:
    return [ScheduleOut.model_validate(s) for s in await api.get("/api/reports/schedules")]


async def save_schedule(api: ApiClient, schedule: ScheduleIn, schedule_id: int | None = None) -> ScheduleOut:
    """A new schedule, or (with `schedule_id`) a changed one."""
    body = schedule.model_dump(mode="json")
    if schedule_id is None:
        return ScheduleOut.model_validate(await api.post("/api/reports/schedules", body))
    return ScheduleOut.model_validate(await api.put(f"/api/reports/schedules/{schedule_id}", body))


async def delete_schedule(api: ApiClient, schedule_id: int) -> None:
    await api.delete(f"/api/reports/schedules/{schedule_id}")


async def subscribe(api: ApiClient, schedule_id: int, wanted: bool) -> ScheduleOut:
    """Stop (wanted False) or start again getting a schedule's e-mail."""
    action = "subscribe" if wanted else "unsubscribe"
    return ScheduleOut.model_validate(await api.post(f"/api/reports/schedules/{schedule_id}/{action}"))


__all__ = [
    "WATCHED",
    "delete_schedule",
    "put_source_cost",
    "sales",
    "save_schedule",
    "schedules",
    "set_stage_probability",
    "source_costs",
    "stage_probabilities",
    "standard",
    "subscribe",
]

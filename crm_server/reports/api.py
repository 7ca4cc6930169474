"""HTTP routes of reports: parse, authorize, call the service, serialize."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.permissions import Principal
from crm_server.contract.custom_reports import (
    CustomDefinition,
    CustomEntityOut,
    CustomReportIn,
    CustomReportOut,
    CustomResultOut,
)
from crm_server.contract.reports import (
    ReportOut,
    ReportQuery,
    SalesQuery,
    SalesReportOut,
    ScheduleIn,
    ScheduleOut,
    SourceCostIn,
    SourceCostOut,
    StageProbabilityIn,
    StageProbabilityOut,
)
from crm_server.replica import ReadSession
from crm_server.reports import (
    activity,
    costs,
    custom,
    daily,
    forecast,
    funnel,
    lost,
    receivables,
    schedules,
    service,
    sources,
    support,
)
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["reports"])

Builder = Callable[[AsyncSession, Principal, ReportQuery], Awaitable[ReportOut]]
STANDARD: dict[str, Builder] = {
    "funnel": funnel.report,
    "lost": lost.report,
    "sources": sources.report,
    "activity": activity.report,
    "forecast": forecast.report,
    "support": support.report,
    "receivables": receivables.report,
    "daily": daily.report,
}
BUILDERS: dict[str, Builder] = {**STANDARD, "custom": custom.as_report}  # what a schedule may send


@router.get("/reports/sales", response_model=SalesReportOut)
async def sales_report(
    session: ReadSession, query: Annotated[SalesQuery, Query()], principal: Principal = require("reports", "view")
) -> SalesReportOut:
    """Sales per period by invoice date (accrual) or payment date (cash), with the other basis's total."""
    return await service.sales_report(session, principal, query)


def _route(key: str, build: Builder) -> None:
    async def standard_report(
        session: ReadSession, query: Annotated[ReportQuery, Query()], principal: Principal = require("reports", "view")
    ) -> ReportOut:
        return await build(session, principal, query)

    standard_report.__doc__ = (sys.modules[build.__module__].__doc__ or "").split("\n\n")[0]
    router.add_api_route(
        f"/reports/{key}",
        standard_report,
        methods=["GET"],
        response_model=ReportOut,
        name=f"{key}_report",
        operation_id=f"{key}_report",
    )


for _key, _build in STANDARD.items():
    _route(_key, _build)


@router.get("/reports/source-costs", response_model=list[SourceCostOut])
async def source_costs(
    session: Session,
    year: Annotated[int | None, Query(ge=1900, le=9999)] = None,
    principal: Principal = require("reports", "view"),
) -> list[SourceCostOut]:
    """What was spent per lead source and month (newest first; one year with `year`)."""
    return await costs.list_costs(session, principal, year)


@router.put("/reports/source-costs", response_model=SourceCostOut | None)
async def put_source_cost(
    body: SourceCostIn, session: Session, principal: Principal = require("reports", "view")
) -> SourceCostOut | None:
    """Set what was spent on a lead source in a month (a manager's; amount 0 removes it: answers null)."""
    return await costs.put_cost(session, principal, body)


@router.get("/reports/stage-probabilities/{pipeline_id}", response_model=list[StageProbabilityOut])
async def stage_probabilities(
    pipeline_id: int,
    session: Session,
    _: Principal = require("leads", "view"),
) -> list[StageProbabilityOut]:
    """Each status of a pipeline with its win probability (percent)."""
    return await costs.probabilities(session, pipeline_id)


@router.put("/reports/stage-probabilities/status/{status_id}", response_model=StageProbabilityOut)
async def set_stage_probability(
    status_id: int, body: StageProbabilityIn, session: Session, principal: Principal = require("admin", "edit")
) -> StageProbabilityOut:
    """Set a status's win probability (the Pipelines page)."""
    return await costs.set_probability(session, principal, status_id, body)


@router.get("/reports/schedules", response_model=list[ScheduleOut])
async def list_schedules(session: Session, principal: Principal = require("reports", "view")) -> list[ScheduleOut]:
    """Every scheduled report, with whether the viewer unsubscribed from it."""
    return await schedules.list_schedules(session, principal)


@router.post("/reports/schedules", response_model=ScheduleOut, status_code=201)
async def create_schedule(
    body: ScheduleIn, session: Session, principal: Principal = require("reports", "export")
) -> ScheduleOut:
    """E-mail a report daily, weekly or monthly to people and roles."""
    return await schedules.create(session, principal, body)


@router.put("/reports/schedules/{schedule_id}", response_model=ScheduleOut)
async def update_schedule(
    schedule_id: int, body: ScheduleIn, session: Session, principal: Principal = require("reports", "export")
) -> ScheduleOut:
    return await schedules.update(session, principal, schedule_id, body)


@router.delete("/reports/schedules/{schedule_id}", status_code=204)
async def delete_schedule(
    schedule_id: int, session: Session, principal: Principal = require("reports", "export")
) -> None:
    await schedules.remove(session, principal, schedule_id)


@router.post("/reports/schedules/{schedule_id}/unsubscribe", response_model=ScheduleOut)
async def unsubscribe(
    schedule_id: int, session: Session, principal: Principal = require("reports", "view")
) -> ScheduleOut:
    """The viewer stops getting this schedule's e-mail."""
    return await schedules.subscribe(session, principal, schedule_id, False)


@router.post("/reports/schedules/{schedule_id}/subscribe", response_model=ScheduleOut)
async def resubscribe(
    schedule_id: int, session: Session, principal: Principal = require("reports", "view")
) -> ScheduleOut:
    """The viewer gets this schedule's e-mail again."""
    return await schedules.subscribe(session, principal, schedule_id, True)


# --- custom reports -------------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/reports/custom/fields", response_model=list[CustomEntityOut])
async def custom_fields(_: Principal = require("reports", "view")) -> list[CustomEntityOut]:
    """The entities and fields a custom report may use (the allow-list)."""
    return custom.catalogue()


@router.post("/reports/custom/run", response_model=CustomResultOut)
async def run_custom(
    body: CustomDefinition, session: Session, principal: Principal = require("reports", "view")
) -> CustomResultOut:
    """Run a custom report in the viewer's scope (rows capped; a cut result says so)."""
    return await custom.run(session, principal, body)


@router.post("/reports/custom/export", response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def export_custom(
    body: CustomReportIn, session: Session, principal: Principal = require("reports", "export")
) -> Response:
    """A custom report as .xlsx (text always written as text)."""
    data = custom.workbook(body.name, await custom.run(session, principal, body.definition))
    return Response(data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="report.xlsx"'})


@router.get("/reports/custom", response_model=list[CustomReportOut])
async def list_custom(session: Session, principal: Principal = require("reports", "view")) -> list[CustomReportOut]:
    """The viewer's saved custom reports and those shared with their role or team."""
    return await custom.list_saved(session, principal)


@router.post("/reports/custom", response_model=CustomReportOut, status_code=201)
async def create_custom(
    body: CustomReportIn, session: Session, principal: Principal = require("reports", "view")
) -> CustomReportOut:
    return await custom.create(session, principal, body)


@router.put("/reports/custom/{report_id}", response_model=CustomReportOut)
async def update_custom(
    report_id: int, body: CustomReportIn, session: Session, principal: Principal = require("reports", "view")
) -> CustomReportOut:
    """Change one's own saved report (its sharing too)."""
    return await custom.update(session, principal, report_id, body)


@router.delete("/reports/custom/{report_id}", status_code=204)
async def delete_custom(report_id: int, session: Session, principal: Principal = require("reports", "view")) -> None:
    await custom.remove(session, principal, report_id)


@router.get("/reports/custom/{report_id}/run", response_model=CustomResultOut)
async def run_saved_custom(
    report_id: int, session: Session, principal: Principal = require("reports", "view")
) -> CustomResultOut:
    """Run a saved (or shared) report as the viewer may see it."""
    return (await custom.run_saved(session, principal, report_id))[1]


@router.get("/reports/custom/{report_id}/export", response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def export_saved_custom(
    report_id: int, session: Session, principal: Principal = require("reports", "export")
) -> Response:
    name, result = await custom.run_saved(session, principal, report_id)
    return Response(
        custom.workbook(name, result),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="custom-report-{report_id}.xlsx"'},
    )

"""The sales funnel of one pipeline: of the leads created in the range (in scope, filtered), how many
reached each stage, how many of those went on to the next, and the median time a lead spent in each
stage before it moved (from lead_status_history).

The stages are the pipeline's open statuses in board order, then its won status(es). A lead reached
a stage when it was ever there or in any later stage (a lead moved straight from New to Won passed
every stage in between). A lost or junk lead counts in the stages it reached before it was lost.
Time in stage counts the stays that ended with a move (a lead still in a stage has no time yet)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, and_, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.permissions import Principal
from crm_server.contract.reports import ReportColumn, ReportFigure, ReportOut, ReportQuery, ReportTable
from crm_server.leads.models import Lead, PipelineStatus
from crm_server.reports import common
from crm_server.reports.models import LeadStatusHistory as H

WON_RANK = 1_000_000
# Median times in stage of a large range come from a sample of 625 to 2,500 of its leads (thousands
# of stays): one lead in 16 past 10,000 leads, in 64 past 40,000, and so on. The sample is by a hash
# of the id (not the id itself: round-robin assignment gives a salesperson every 8th id), so it has
# nothing to do with the times or the owners; each has a partial index (migration 0040).
SAMPLES = ((640_000, 1024), (160_000, 256), (40_000, 64), (10_000, 16))


async def report(session: AsyncSession, principal: Principal, query: ReportQuery) -> ReportOut:
    r = await common.resolve(session, principal, query)
    pipeline = await common.pipeline_id(session, query)
    statuses = (
        await session.scalars(
            select(PipelineStatus)
            .where(PipelineStatus.pipeline_id == pipeline, PipelineStatus.kind.in_(("open", "won")))
            .order_by(PipelineStatus.position, PipelineStatus.id)
        )
    ).all()
    stages = [s for s in statuses if s.kind == "open"] + [s for s in statuses if s.kind == "won"]
    rank = {s.id: (WON_RANK if s.kind == "won" else i) for i, s in enumerate(stages)}
    rows: list[list[Any]] = []
    reached_by_rank: dict[int, int] = {}
    medians: dict[int, Any] = {}
    created = common.leads_created(r, pipeline=False)
    total = 0
    for reached_ids, count in await session.execute(
        select(created.c.reached, func.sum(created.c.leads))
        .where(created.c.pipeline_id == pipeline)
        .group_by(created.c.reached)
    ):
        total += int(count)
        best = max((rank[s] for s in reached_ids if s in rank), default=None)
        if best is not None:
            reached_by_rank[best] = reached_by_rank.get(best, 0) + int(count)
    sample = next((n for above, n in SAMPLES if total > above), 1)
    if stages and total:
        cohort = [*common.lead_filters(r, pipeline=False), Lead.pipeline_id == pipeline]
        cohort += [Lead.created_at >= r.start, Lead.created_at < r.end]
        if sample > 1:  # the same words as the partial indexes of migration 0040, so they serve it
            cohort.append(literal_column(f"hashint8(leads.id) & {sample - 1} = 0", Boolean))
        stays = (
            select(
                H.to_status_id.label("status_id"),
                H.at.label("at"),
                func.lead(H.at).over(partition_by=H.lead_id, order_by=(H.at, H.id)).label("left_at"),
            )
            .join(Lead, Lead.id == H.lead_id)
            .where(*cohort)
            .subquery()
        )
        medians = {
            int(status_id): seconds
            for status_id, seconds in await session.execute(
                select(stays.c.status_id, common.median_seconds(stays.c.left_at - stays.c.at))
                .where(and_(stays.c.left_at.is_not(None), stays.c.status_id.in_(list(rank))))
                .group_by(stays.c.status_id)
            )
        }
    reached = [sum(n for k, n in reached_by_rank.items() if k >= rank[s.id]) for s in stages]
    for i, stage in enumerate(stages):
        onward = reached[i + 1] if i + 1 < len(stages) else None
        rows.append(
            [
                stage.name,
                reached[i],
                onward,
                common.percent(onward, reached[i]) if onward is not None else None,
                common.days(medians.get(stage.id)),
            ]
        )
    won = sum(n for k, n in reached_by_rank.items() if k >= WON_RANK)
    table = ReportTable(
        key="stages",
        title="Stages",
        columns=[
            ReportColumn(key="stage", title="Stage"),
            ReportColumn(key="reached", title="Reached", kind="count"),
            ReportColumn(key="moved_on", title="Went on to the next", kind="count"),
            ReportColumn(key="conversion", title="Conversion to next", kind="percent"),
            ReportColumn(key="median_days", title="Median time in stage (days)", kind="days"),
        ],
        rows=rows,
        chart="bar",
        chart_columns=["reached"],
        note=(
            "Leads created in the range. A lead reached a stage if it was ever there or further on; "
            "time in stage counts stays that ended with a move"
            + (f", in a sample of one lead in {sample}." if sample > 1 else ".")
        ),
    )
    return ReportOut(
        key="funnel",
        title="Sales funnel",
        date_from=r.date_from,
        date_to=r.date_to,
        currency=r.currency,
        figures=[
            ReportFigure(label="Leads created", value=total, kind="count"),
            ReportFigure(label="Won", value=won, kind="count"),
            ReportFigure(label="Lead to won", value=common.percent(won, total), kind="percent"),
        ],
        tables=[table],
    )

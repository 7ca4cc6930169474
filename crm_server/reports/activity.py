"""Team activity: the follow-ups (calls, emails, meetings and demos, WhatsApp) each person finished
in the range, beside the same count in the period of the same length just before, and the ones
still open whose time has passed (due in the range, before now). Counted on the follow-up's owner,
in the viewer's activities scope narrowed by their reports scope; team and owner filters apply
(source and pipeline do not: a follow-up may belong to a client)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities.models import FollowUp, follow_up_day_counts
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.contract.reports import ReportColumn, ReportFigure, ReportOut, ReportQuery, ReportTable
from crm_server.db import utcnow
from crm_server.reports import common
from crm_server.reports.service import periods

KINDS = (("call", "Calls"), ("email", "Emails"), ("meeting", "Meetings and demos"), ("whatsapp", "WhatsApp"))


def filters(r: common.Range, owner: Any, team: Any) -> list[ColumnElement[bool]]:
    out = [r.principal.scope_filter("activities", owner, team), r.principal.scope_filter("reports", owner, team)]
    if r.query.team_id is not None:
        out.append(team == r.query.team_id)
    if r.query.owner_id is not None:
        out.append(owner == r.query.owner_id)
    return out


async def report(session: AsyncSession, principal: Principal, query: ReportQuery) -> ReportOut:
    """Counted from the kept day counts (follow_up_day_counts, migration 0040): a year of a
    million follow-ups is a few thousand rows. Only today's overdue ones are counted one by one
    (their time of day decides whether they are past)."""
    r = await common.resolve(session, principal, query)
    kept = follow_up_day_counts.c
    where = filters(r, kept.owner_id, kept.team_id)
    person = func.coalesce(User.full_name, "Unassigned")
    now = utcnow()
    today = now.date()
    before_start, before_end = r.previous()
    people: dict[str, dict[str, int]] = {}

    def slot(name: str) -> dict[str, int]:
        return people.setdefault(
            str(name), {"call": 0, "email": 0, "meeting": 0, "whatsapp": 0, "before": 0, "late": 0}
        )

    def days(first: date, last: date) -> list[ColumnElement[bool]]:
        return [kept.day >= first, kept.day <= last]

    def per_person(*conditions: ColumnElement[bool]) -> Any:
        return (
            select(person, kept.kind, func.sum(kept.n))
            .select_from(follow_up_day_counts)
            .outerjoin(User, User.id == kept.owner_id)
            .where(*where, *conditions)
            .group_by(person, kept.kind)
        )

    is_done = kept.state == "done"
    for name, kind, n in await session.execute(per_person(is_done, *days(r.date_from, r.date_to))):
        slot(name)[kind] = int(n)
    kinds_before = {k: 0 for k, _ in KINDS}
    last_before = before_end.date() - timedelta(days=1)
    for name, kind, n in await session.execute(per_person(is_done, *days(before_start.date(), last_before))):
        slot(name)["before"] += int(n)
        kinds_before[kind] += int(n)
    # Overdue: open, due in the range and already past: whole days before today from the counts,
    # today's up to now one by one.
    late_days = days(r.date_from, min(r.date_to, today - timedelta(days=1)))
    for name, _kind, n in await session.execute(per_person(kept.state == "open", *late_days)):
        slot(name)["late"] += int(n)
    if r.date_from <= today <= r.date_to:
        for name, n in await session.execute(
            select(person, func.count())
            .select_from(FollowUp)
            .outerjoin(User, User.id == FollowUp.owner_id)
            .where(
                *filters(r, FollowUp.owner_id, FollowUp.team_id),
                FollowUp.status == "open",
                FollowUp.due_at >= common.instant(today),
                FollowUp.due_at < now,
            )
            .group_by(person)
        ):
            slot(name)["late"] += int(n)
    rows: list[list[Any]] = []
    for name in sorted(people):
        p = people[name]
        done = sum(p[k] for k, _ in KINDS)
        rows.append([name, *(p[k] for k, _ in KINDS), done, p["before"], common.change(done, p["before"]), p["late"]])
    kinds_now = {k: sum(people[n][k] for n in people) for k, _ in KINDS}
    by_kind: list[list[Any]] = [
        [label, kinds_now[k], kinds_before[k], common.change(kinds_now[k], kinds_before[k])] for k, label in KINDS
    ]
    group = query.group
    start_of = common.period_of_date(kept.day, group)
    found: dict[Any, dict[str, int]] = {}
    for day, kind, n in await session.execute(
        select(start_of, kept.kind, func.sum(kept.n))
        .where(*where, is_done, *days(r.date_from, r.date_to))
        .group_by(start_of, kept.kind)
    ):
        found.setdefault(day, {})[kind] = int(n)
    trend: list[list[Any]] = [
        [start.isoformat(), *(found.get(start, {}).get(k, 0) for k, _ in KINDS)]
        for start in periods(r.date_from, r.date_to, group)
    ]
    done_now, done_before = sum(kinds_now.values()), sum(kinds_before.values())
    late = sum(p["late"] for p in people.values())
    span = f"{r.date_from.isoformat()} to {r.date_to.isoformat()}"
    previous = f"{before_start.date().isoformat()} to {(before_end.date()).isoformat()} (excluded)"
    kind_columns = [ReportColumn(key=k, title=label, kind="count") for k, label in KINDS]
    return ReportOut(
        key="activity",
        title="Team activity",
        date_from=r.date_from,
        date_to=r.date_to,
        currency=r.currency,
        figures=[
            ReportFigure(label="Done", value=done_now, kind="count"),
            ReportFigure(label="Done in the previous period", value=done_before, kind="count"),
            ReportFigure(label="Change", value=common.change(done_now, done_before), kind="percent"),
            ReportFigure(label="Overdue", value=late, kind="count"),
        ],
        tables=[
            ReportTable(
                key="people",
                title="By person",
                columns=[
                    ReportColumn(key="person", title="Person"),
                    *kind_columns,
                    ReportColumn(key="done", title="Done", kind="count"),
                    ReportColumn(key="before", title="Previous period", kind="count"),
                    ReportColumn(key="change", title="Change", kind="percent"),
                    ReportColumn(key="overdue", title="Overdue", kind="count"),
                ],
                rows=rows[: common.MAX_ROWS],
                chart="stacked",
                chart_columns=[k for k, _ in KINDS],
                note=f"Follow-ups done {span}, beside the period of the same length before ({previous}); "
                "overdue: still open, due in the range and already past.",
            ),
            ReportTable(
                key="kinds",
                title="By kind",
                columns=[
                    ReportColumn(key="kind", title="Kind"),
                    ReportColumn(key="done", title="Done", kind="count"),
                    ReportColumn(key="before", title="Previous period", kind="count"),
                    ReportColumn(key="change", title="Change", kind="percent"),
                ],
                rows=by_kind,
                chart="bar",
                chart_columns=["done", "before"],
                note="Follow-ups done in the range beside the period of the same length before it.",
            ),
            ReportTable(
                key="periods",
                title=f"Per {group}",
                columns=[ReportColumn(key="period", title=group.capitalize()), *kind_columns],
                rows=trend,
                chart="line",
                chart_columns=[k for k, _ in KINDS],
                note=f"Follow-ups done per {group} (periods named by their first day, UTC).",
            ),
        ],
    )

"""Scheduled reports: a standard report e-mailed daily, weekly or monthly at an hour (UTC) to users
and to everyone in roles, as .xlsx with the key figures in the body. Each recipient gets the report
as they may see it (built with their own permissions and scope). A report that counts nothing is
not sent unless the schedule asks; a report cut at the row limit says so in the body; a person can
unsubscribe; a failing schedule rings every admin's bell and the others still go out."""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import mail
from crm_server.admin.service import notify
from crm_server.auth.models import Role, User
from crm_server.auth.permissions import Principal
from crm_server.backups.service import admins
from crm_server.contract import spreadsheet
from crm_server.contract.reports import REPORT_TITLES, ReportOut, ReportQuery, ScheduleIn, ScheduleOut
from crm_server.db import Database, utcnow
from crm_server.errors import Forbidden, NotFound, ValidationFailed
from crm_server.reports import common
from crm_server.reports.models import ReportSchedule, ReportScheduleOptout

log = logging.getLogger(__name__)

Builder = Callable[[AsyncSession, Principal, ReportQuery], Awaitable[ReportOut]]
MAX_PER_RUN = 200  # schedules sent per run of the job; the rest are due at the next one


def _may_schedule(principal: Principal) -> None:
    if not principal.can("reports", "export"):
        raise Forbidden("Scheduling a report needs the right to export reports.")


def next_run(schedule: ReportSchedule | ScheduleIn, after: datetime) -> datetime:
    """The first time strictly after `after` the schedule is due (UTC)."""
    day = after.date()
    for _ in range(400):
        at = datetime.combine(day, time(schedule.hour), tzinfo=after.tzinfo)
        fits = (
            schedule.frequency == "daily"
            or (schedule.frequency == "weekly" and day.isoweekday() == (schedule.weekday or 1))
            or (schedule.frequency == "monthly" and day.day == (schedule.day_of_month or 1))
        )
        if fits and at > after:
            return at
        day += timedelta(days=1)
    raise AssertionError("no day in 400 fits a schedule")  # every frequency fits within a month


def period_range(period: str, today: date) -> tuple[date, date]:
    """A schedule's range on the day it is sent."""
    if period == "today":
        return today, today
    if period == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if period == "last_7_days":
        return today - timedelta(days=7), today - timedelta(days=1)
    if period == "last_30_days":
        return today - timedelta(days=30), today - timedelta(days=1)
    if period == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if period == "month_to_date":
        return today.replace(day=1), today
    return date(today.year, 1, 1), today


def _out(row: ReportSchedule, viewer: int | None = None, opted: set[int] | None = None) -> ScheduleOut:
    out = ScheduleOut.model_validate(row)
    out.unsubscribed = viewer is not None and row.id in (opted or set())
    return out


async def _check(session: AsyncSession, data: ScheduleIn) -> None:
    if data.frequency == "weekly" and data.weekday is None:
        raise ValidationFailed("Choose the weekday a weekly report goes out.", field="weekday")
    if data.frequency == "monthly" and data.day_of_month is None:
        raise ValidationFailed("Choose the day of the month a monthly report goes out.", field="day_of_month")
    if not data.user_ids and not data.role_ids:
        raise ValidationFailed("Choose who gets the report: people or roles.", field="user_ids")
    if data.user_ids:
        found = set(await session.scalars(select(User.id).where(User.id.in_(data.user_ids))))
        if missing := sorted(set(data.user_ids) - found):
            raise ValidationFailed(f"No such user: {missing[0]}.", field="user_ids")
    if data.role_ids:
        found = set(await session.scalars(select(Role.id).where(Role.id.in_(data.role_ids))))
        if missing := sorted(set(data.role_ids) - found):
            raise ValidationFailed(f"No such role: {missing[0]}.", field="role_ids")
    if data.filters.source is not None and any(ord(c) < 32 for c in data.filters.source):
        raise ValidationFailed("A source name has no control characters.", field="filters.source")
    if data.report == "custom":
        from crm_server.reports.custom import check_schedulable

        await check_schedulable(session, data.filters.custom_report_id)


async def list_schedules(session: AsyncSession, principal: Principal) -> list[ScheduleOut]:
    opted = set(
        await session.scalars(
            select(ReportScheduleOptout.schedule_id).where(ReportScheduleOptout.user_id == principal.user_id)
        )
    )
    rows = await session.scalars(select(ReportSchedule).order_by(ReportSchedule.name, ReportSchedule.id))
    return [_out(row, principal.user_id, opted) for row in rows]


async def create(session: AsyncSession, principal: Principal, data: ScheduleIn) -> ScheduleOut:
    _may_schedule(principal)
    await _check(session, data)
    row = ReportSchedule(
        **data.model_dump(exclude={"filters"}),
        filters=data.filters.model_dump(mode="json", exclude_none=True),
        next_run_at=next_run(data, utcnow()),
        created_by=principal.user_id,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return _out(row)


async def update(session: AsyncSession, principal: Principal, schedule_id: int, data: ScheduleIn) -> ScheduleOut:
    _may_schedule(principal)
    row = await session.get(ReportSchedule, schedule_id, with_for_update=True)
    if row is None:
        raise NotFound("No such scheduled report.")
    await _check(session, data)
    for key, value in data.model_dump(exclude={"filters"}).items():
        setattr(row, key, value)
    row.filters = data.filters.model_dump(mode="json", exclude_none=True)
    row.next_run_at = next_run(data, utcnow())
    row.updated_at = utcnow()
    row.version += 1
    await session.flush()
    return _out(row)


async def remove(session: AsyncSession, principal: Principal, schedule_id: int) -> None:
    _may_schedule(principal)
    if (await session.execute(delete(ReportSchedule).where(ReportSchedule.id == schedule_id))).rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("No such scheduled report.")


async def subscribe(session: AsyncSession, principal: Principal, schedule_id: int, wanted: bool) -> ScheduleOut:
    """The viewer stops (or starts again) getting a schedule's e-mail."""
    row = await session.get(ReportSchedule, schedule_id)
    if row is None:
        raise NotFound("No such scheduled report.")
    if wanted:
        await session.execute(
            delete(ReportScheduleOptout).where(
                ReportScheduleOptout.schedule_id == schedule_id, ReportScheduleOptout.user_id == principal.user_id
            )
        )
    else:
        await session.execute(
            insert(ReportScheduleOptout)
            .values(schedule_id=schedule_id, user_id=principal.user_id)
            .on_conflict_do_nothing()
        )
    return _out(row, principal.user_id, set() if wanted else {row.id})


# --- sending ---------------------------------------------------------------------------------------


def _empty(report: ReportOut) -> bool:
    figures = [f.value for f in report.figures if f.kind != "text"]
    return not any(figures) and not any(
        any(cell for cell, column in zip(row[1:], t.columns[1:], strict=False) if column.kind != "text")
        for t in report.tables
        for row in t.rows
    )


def workbook(report: ReportOut) -> bytes:
    """The report as .xlsx: the key figures, then one sheet per breakdown (text as text)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    summary = book.create_sheet("Summary")
    summary.append(spreadsheet.xlsx_row(summary, [REPORT_TITLES[report.key]]))
    summary.append(
        spreadsheet.xlsx_row(summary, ["From", report.date_from, "To", report.date_to, "Currency", report.currency])
    )
    for figure in report.figures:
        summary.append(spreadsheet.xlsx_row(summary, [figure.label, figure.value]))
    used = {"Summary"}
    for table in report.tables:
        name = "".join(c for c in table.title if c not in "[]:*?/\\")[:31] or table.key
        while name in used:
            name = f"{name[:28]}_{len(used)}"
        used.add(name)
        sheet = book.create_sheet(name)
        sheet.append(spreadsheet.xlsx_row(sheet, [c.title for c in table.columns]))
        for row in table.rows:
            sheet.append(spreadsheet.xlsx_row(sheet, row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def body(schedule: ReportSchedule, report: ReportOut) -> str:
    lines = [
        f"{schedule.name}: {REPORT_TITLES[report.key]}, "
        f"{report.date_from.isoformat()} to {report.date_to.isoformat()}.",
        "",
    ]
    for figure in report.figures:
        value = "—" if figure.value is None else str(figure.value)
        unit = {"money": f" {report.currency}", "percent": " %", "hours": " h", "days": " days"}.get(figure.kind, "")
        lines.append(f"{figure.label}: {value}{unit if figure.value is not None else ''}")
    cut = [t.title for t in report.tables if len(t.rows) >= common.MAX_ROWS]
    if cut:
        lines += [
            "",
            f"Cut short at {common.MAX_ROWS} rows: {', '.join(cut)}. Open the report in the CRM for all of it.",
        ]
    lines += [
        "",
        "The whole report is attached (.xlsx). You get it as you may see it in the CRM.",
        "To stop getting it: Reports > Scheduled reports > Unsubscribe.",
    ]
    return "\n".join(lines)


async def _recipients(session: AsyncSession, schedule: ReportSchedule) -> list[tuple[User, Role]]:
    opted = select(ReportScheduleOptout.user_id).where(ReportScheduleOptout.schedule_id == schedule.id)
    rows = await session.execute(
        select(User, Role)
        .join(Role, Role.id == User.role_id)
        .where(
            User.active.is_(True),
            (User.id.in_(schedule.user_ids or [0])) | (User.role_id.in_(schedule.role_ids or [0])),
            User.id.notin_(opted),
        )
        .order_by(User.id)
    )
    return [(row[0], row[1]) for row in rows]


async def send_one(db: Database, schedule_id: int, builders: dict[str, Builder], now: datetime) -> tuple[int, str]:
    """Send one schedule to each recipient; returns what happened. Raises on a failure (the caller
    records it and alerts the admins)."""
    async with db.transaction() as session:
        schedule = await session.get(ReportSchedule, schedule_id)
        if schedule is None:
            return 0, "gone"
        kind = schedule.report
        people = await _recipients(session, schedule)
        date_from, date_to = period_range(schedule.period, now.date())
        query = ReportQuery(date_from=date_from, date_to=date_to, **schedule.filters)
        build = builders[schedule.report]
        mails: list[tuple[str, str, str, bytes]] = []
        skipped = 0
        for user, role in people:
            viewer = Principal(user_id=user.id, team_id=user.team_id, role_id=role.id, permissions=role.permissions)
            if not viewer.can("reports", "view"):
                skipped += 1
                continue
            report = await build(session, viewer, query)
            if _empty(report) and not schedule.send_empty:
                skipped += 1
                continue
            subject = f"{schedule.name}: {REPORT_TITLES[report.key]} {date_from.isoformat()}"
            if date_to != date_from:
                subject += f" to {date_to.isoformat()}"
            mails.append((user.email, subject, body(schedule, report), workbook(report)))
    async with db.transaction() as session:
        for to, subject, text, data in mails:
            filename = f"{kind}-{date_to.isoformat()}.xlsx"
            await mail.send(
                session,
                to,
                subject,
                text,
                [(filename, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", data)],
            )
    return len(mails), f"sent to {len(mails)}" + (f", {skipped} not sent (empty or no access)" if skipped else "")


async def run_due(db: Database, builders: dict[str, Builder], now: datetime, manual: bool = False) -> dict[str, str]:
    """Send every schedule due by `now` (all active ones when an admin runs the job by hand); each
    on its own, so one failing does not stop the others."""
    async with db.transaction() as session:
        stmt = select(ReportSchedule.id).where(ReportSchedule.active.is_(True))
        if not manual:
            stmt = stmt.where(ReportSchedule.next_run_at <= now)
        due = list(await session.scalars(stmt.order_by(ReportSchedule.next_run_at).limit(MAX_PER_RUN)))
    said: dict[str, str] = {}
    for schedule_id in due:
        try:
            sent, outcome = await send_one(db, schedule_id, builders, now)
            status, error = ("sent" if sent else "empty"), None
        except Exception as exc:  # any failure of one schedule: recorded, admins told, the rest go on
            log.exception("scheduled report %s failed", schedule_id)
            outcome, status, error = f"failed: {exc}", "failed", str(exc)[:2000]
        said[str(schedule_id)] = outcome
        async with db.transaction() as session:
            row = await session.get(ReportSchedule, schedule_id, with_for_update=True)
            if row is None:
                continue
            row.last_run_at, row.last_status, row.last_error = now, status, error
            row.next_run_at = next_run(row, now)
            if status == "failed":
                title = f"The scheduled report “{row.name}” could not be sent"[:200]
                for admin in await admins(session):
                    notify(
                        session,
                        admin.id,
                        "report_failed",
                        title,
                        body=error or "",
                        entity="report_schedule",
                        entity_id=row.id,
                    )
    return said

"""The widgets of Home, each counted in the viewer's scope. Which widgets a person gets follows
their role's permissions: a role that can view tickets gets the ticket widgets, one that can view
the admin module the system-health ones. Every figure names the list behind it and the filter that
list opens with; where a list's own filter exists (tickets, invoices, stock) the figure is counted
with that very filter so the two always agree.

Days are UTC days. Amounts are in the base currency (sales.base_currency) only."""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import money as money_rules
from crm_server.activities.models import FollowUp, follow_up_day_counts
from crm_server.admin import settings
from crm_server.auth.models import SecurityEvent, User
from crm_server.auth.permissions import Principal
from crm_server.backups import service as backups
from crm_server.contract.auth import Scope
from crm_server.contract.home import Filter, HomeFigure, HomeOut, HomeTable, HomeWidget, Tone
from crm_server.contract.tickets import TicketFilters
from crm_server.integrations import service as integrations
from crm_server.invoices.models import Invoice
from crm_server.invoices.service import OPEN as OPEN_INVOICE
from crm_server.jobs import service as jobs
from crm_server.leads.models import Lead, PipelineStatus, lead_board_counts
from crm_server.request_timings import RequestTimings
from crm_server.stock.models import StockProductSettings
from crm_server.targets import service as targets
from crm_server.tickets import queries as ticket_queries
from crm_server.tickets.models import OPEN_STATUSES, Ticket

DAY = timedelta(days=1)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


async def _count(session: AsyncSession, model: Any, *where: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def home(
    session: AsyncSession, principal: Principal, now: datetime | None = None, timings: RequestTimings | None = None
) -> HomeOut:
    now = now or datetime.now(UTC)
    currency = str(await settings.get(session, "sales.base_currency"))
    widgets: list[HomeWidget] = []
    if principal.can("admin", "view"):
        widgets += await _admin(session, now)
        if timings is not None:
            widgets.append(_responses(timings))
    if principal.can("leads", "view"):
        widgets.append(await _pipeline(session, principal, now, currency))
        if principal.can("reports", "view"):
            widgets.append(await _targets(session, principal, now, currency))
        widgets.append(await _new_leads(session, principal, now))
    if principal.can("activities", "view"):
        widgets.append(await _follow_ups(session, principal, now))
        if principal.scope("activities") is not Scope.own:
            widgets.append(await _team_activity(session, principal, now))
    if principal.can("tickets", "view"):
        if principal.can("tickets", "edit"):
            widgets.append(await _my_tickets(session, principal, now))
        if principal.scope("tickets") is not Scope.own and principal.can("tickets", "delete"):
            widgets.append(await _ticket_alerts(session, principal, now))
    if principal.can("invoices", "view"):
        widgets.append(await _overdue_invoices(session, principal, now, currency))
    if principal.can("stock", "view"):
        widgets.append(await _low_stock(session))
    return HomeOut(generated_at=now, widgets=widgets)


# --- sales ---------------------------------------------------------------------------------------


def _lead_scope(principal: Principal) -> list[Any]:
    return [Lead.archived_at.is_(None), principal.scope_filter("leads", Lead.owner_id, Lead.team_id)]


async def _pipeline(session: AsyncSession, principal: Principal, now: datetime, currency: str) -> HomeWidget:
    """Open value and count of the open leads, from the board's kept counts (a few hundred rows, not
    every open lead); this month's weighted forecast: the open leads expected to close this month,
    each at its value x its stage's win probability / 100 (an index range of this month's dates)."""
    today = now.date()
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    kept = lead_board_counts.c
    opened = (
        await session.execute(
            select(
                func.coalesce(func.sum(kept.leads), 0),
                func.coalesce(func.sum(kept.value).filter(kept.currency == currency), 0),
            ).where(
                principal.scope_filter("leads", kept.owner_id, kept.team_id),
                kept.status_id.in_(select(PipelineStatus.id).where(PipelineStatus.kind == "open")),
            )
        )
    ).one()
    closing = (
        await session.execute(
            select(
                func.coalesce(func.sum(Lead.value), 0),
                func.coalesce(func.sum(Lead.value * PipelineStatus.win_probability / 100), 0),
            )
            .select_from(Lead)
            .join(PipelineStatus, PipelineStatus.id == Lead.status_id)
            .where(
                *_lead_scope(principal),
                PipelineStatus.kind == "open",
                Lead.currency == currency,
                Lead.expected_close_date >= month_start,
                Lead.expected_close_date < next_month,
            )
        )
    ).one()
    row = (opened[0], opened[1], closing[0], closing[1])

    def money(value: Any) -> Decimal:
        return money_rules.round_money(Decimal(value or 0), currency)

    own = principal.scope("leads") is Scope.own
    return HomeWidget(
        key="pipeline",
        title="My pipeline" if own else "Pipeline",
        figures=[
            HomeFigure(
                key="open_value",
                label="Open value",
                value=money(row[1]),
                kind="money",
                currency=currency,
                module="leads",
            ),
            HomeFigure(key="open_leads", label="Open leads", value=int(row[0]), module="leads"),
            HomeFigure(
                key="closing_this_month",
                label="Closing this month",
                value=money(row[2]),
                kind="money",
                currency=currency,
                module="leads",
            ),
            HomeFigure(
                key="forecast",
                label="Weighted forecast this month",
                value=money(row[3]),
                kind="money",
                currency=currency,
                module="leads",
            ),
        ],
        empty="No open leads yet.",
    )


async def _targets(session: AsyncSession, principal: Principal, now: datetime, currency: str) -> HomeWidget:
    """Won this month (won leads closed this UTC month, base currency) against the month's target:
    a salesperson's own; for a manager the people and teams in scope, each beside their target."""
    month = now.date().replace(day=1)
    rows = await targets.standings(session, principal, month, currency)
    people = [r for r in rows if r.kind == "user"]
    own = principal.scope("leads") is Scope.own
    mine = [r for r in people if r.id == principal.user_id]
    counted = mine if own else people
    won = sum((r.won for r in counted), Decimal(0))
    target = sum((r.target or Decimal(0) for r in counted), Decimal(0))
    has_target = any(r.target is not None for r in counted)
    share = f"{(won * 100 / target).quantize(Decimal(1))}%" if target else "—"
    report: Filter = {"report": "forecast"}
    figures = [
        HomeFigure(
            key="won",
            label="Won this month",
            value=won,
            kind="money",
            currency=currency,
            tone="good" if target and won >= target else "normal",
            module="reports",
            filter=report,
        ),
        HomeFigure(
            key="target",
            label="My target" if own else "Sum of the targets",
            value=target if has_target else "not set",
            kind="money" if has_target else "text",
            currency=currency,
            module="reports",
            filter=report,
        ),
        HomeFigure(key="share", label="Of the target", value=share, kind="text", module="reports", filter=report),
    ]
    table = None
    if not own:
        shown = [r for r in rows if r.target is not None or r.won]
        table = HomeTable(
            columns=["Person or team", "Won", "Target"],
            kinds=["text", "money", "money"],
            currency=currency,
            rows=[
                [f"{r.name} (team)" if r.kind == "team" else r.name, str(r.won), str(r.target) if r.target else ""]
                for r in shown[:15]
            ],
        )
    return HomeWidget(
        key="targets",
        title="My target" if own else "Won vs target",
        figures=figures,
        table=table if table and table.rows else None,
        empty="No target set for this month." if not has_target else "",
    )


async def _new_leads(session: AsyncSession, principal: Principal, now: datetime) -> HomeWidget:
    since = now - DAY
    new = await _count(session, Lead, *_lead_scope(principal), Lead.created_at >= since)
    kept = lead_board_counts.c  # the board's kept counts: no scan of the open leads
    unassigned = int(
        await session.scalar(
            select(func.coalesce(func.sum(kept.leads), 0)).where(
                principal.scope_filter("leads", kept.owner_id, kept.team_id),
                kept.owner_id.is_(None),
                kept.status_id.in_(select(PipelineStatus.id).where(PipelineStatus.kind == "open")),
            )
        )
        or 0
    )
    return HomeWidget(
        key="new_leads",
        title="New leads",
        figures=[
            HomeFigure(
                key="new_24h",
                label="New in the last 24 hours",
                value=new,
                module="leads",
                filter={"created_from": since.date().isoformat()},
            ),
            HomeFigure(
                key="unassigned",
                label="Open and unassigned",
                value=unassigned,
                tone="warn" if unassigned else "normal",
                module="leads",
                filter={"unassigned": True},
            ),
        ],
    )


async def _follow_ups(session: AsyncSession, principal: Principal, now: datetime) -> HomeWidget:
    """Open follow-ups due today (UTC) and those overdue (due before now), in scope; per person for
    a manager. Days before today are read from the kept day counts; today's are counted."""
    start = _start_of(now.date())
    scope = [FollowUp.status == "open", principal.scope_filter("activities", FollowUp.owner_id, FollowUp.team_id)]
    kept = follow_up_day_counts.c
    overdue_by: dict[int | None, int] = {}
    for who, n in await session.execute(
        select(FollowUp.owner_id, func.count())
        .where(*scope, FollowUp.due_at >= start, FollowUp.due_at < now)
        .group_by(FollowUp.owner_id)
    ):
        overdue_by[who] = int(n)
    for who, n in await session.execute(
        select(kept.owner_id, func.sum(kept.n))
        .where(
            kept.state == "open",
            kept.day < now.date(),
            principal.scope_filter("activities", kept.owner_id, kept.team_id),
        )
        .group_by(kept.owner_id)
    ):
        overdue_by[who] = overdue_by.get(who, 0) + int(n)
    overdue_by = {who: n for who, n in overdue_by.items() if n}
    today = await _count(session, FollowUp, *scope, FollowUp.due_at >= start, FollowUp.due_at < start + DAY)
    overdue = sum(overdue_by.values())
    table = None
    own = principal.scope("activities") is Scope.own
    if not own and overdue_by:
        ids = [i for i in overdue_by if i is not None]
        names = dict((await session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))).all())
        named = sorted(
            ((names.get(who, "Unassigned") if who is not None else "Unassigned", n) for who, n in overdue_by.items()),
            key=lambda r: (-r[1], r[0]),
        )
        table = HomeTable(columns=["Person", "Overdue"], rows=[[name, n] for name, n in named[:10]])
    return HomeWidget(
        key="follow_ups",
        title="My follow-ups" if own else "Follow-ups",
        figures=[
            HomeFigure(key="due_today", label="Due today", value=today, module="activities", filter={"due": "today"}),
            HomeFigure(
                key="overdue",
                label="Overdue",
                value=overdue,
                tone="bad" if overdue else "normal",
                module="activities",
                filter={"due": "overdue"},
            ),
        ],
        table=table if table and table.rows else None,
        empty="Nothing overdue." if not own else "",
    )


async def _team_activity(session: AsyncSession, principal: Principal, now: datetime) -> HomeWidget:
    """Today per person: follow-ups done by kind (by who did them) and leads won and lost (by owner)."""
    start = _start_of(now.date())
    done = await session.execute(
        select(FollowUp.completed_by, FollowUp.kind, func.count())
        .where(
            FollowUp.status == "done",
            FollowUp.completed_at >= start,
            FollowUp.completed_at < start + DAY,
            principal.scope_filter("activities", FollowUp.owner_id, FollowUp.team_id),
        )
        .group_by(FollowUp.completed_by, FollowUp.kind)
    )
    per: dict[int | None, dict[str, int]] = {}
    for who, kind, n in done:
        per.setdefault(who, {})[str(kind)] = int(n)
    if principal.can("leads", "view"):
        closed = await session.execute(
            select(Lead.owner_id, PipelineStatus.kind, func.count())
            .join(PipelineStatus, PipelineStatus.id == Lead.status_id)
            .where(
                *_lead_scope(principal),
                PipelineStatus.kind.in_(("won", "lost")),
                Lead.closed_at >= start,
                Lead.closed_at < start + DAY,
            )
            .group_by(Lead.owner_id, PipelineStatus.kind)
        )
        for who, kind, n in closed:
            per.setdefault(who, {})[str(kind)] = int(n)
    ids = [i for i in per if i is not None]
    names = dict((await session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))).all()) if ids else {}
    rows: list[list[str | int]] = []
    for who, counts in per.items():
        name = names.get(who, "Unassigned") if who is not None else "Unassigned"
        rows.append([name, *(counts.get(k, 0) for k in ("call", "email", "meeting", "won", "lost"))])
    rows.sort(key=lambda r: (-sum(int(x) for x in r[1:]), str(r[0])))
    totals = [sum(int(r[i]) for r in rows) for i in range(1, 6)]
    return HomeWidget(
        key="team_activity",
        title="Team activity today",
        figures=[
            HomeFigure(key="calls", label="Calls", value=totals[0], module="activities"),
            HomeFigure(key="emails", label="E-mails", value=totals[1], module="activities"),
            HomeFigure(key="meetings", label="Meetings", value=totals[2], module="activities"),
            HomeFigure(key="won", label="Won", value=totals[3], tone="good" if totals[3] else "normal", module="leads"),
            HomeFigure(key="lost", label="Lost", value=totals[4], module="leads"),
        ],
        table=HomeTable(columns=["Person", "Calls", "E-mails", "Meetings", "Won", "Lost"], rows=rows[:15])
        if rows
        else None,
        empty="Nothing done yet today.",
    )


# --- support -------------------------------------------------------------------------------------


async def _tickets(session: AsyncSession, principal: Principal, now: datetime, filters: dict[str, Any]) -> int:
    where = ticket_queries.conditions(principal, TicketFilters.model_validate(filters), now)
    return await _count(session, Ticket, *where)


async def _my_tickets(session: AsyncSession, principal: Principal, now: datetime) -> HomeWidget:
    mine: Filter = {"mine": True, "status": "open"}
    breaching: Filter = {"mine": True, "breaching": True}
    waiting: Filter = {"mine": True, "status": "pending_customer"}
    n_breaching = await _tickets(session, principal, now, breaching)
    return HomeWidget(
        key="my_tickets",
        title="My tickets",
        figures=[
            HomeFigure(
                key="queue",
                label="My queue",
                value=await _tickets(session, principal, now, mine),
                module="tickets",
                filter=mine,
            ),
            HomeFigure(
                key="breaching",
                label="Breaching soon",
                value=n_breaching,
                tone="bad" if n_breaching else "normal",
                module="tickets",
                filter=breaching,
            ),
            HomeFigure(
                key="waiting",
                label="Waiting on customer",
                value=await _tickets(session, principal, now, waiting),
                module="tickets",
                filter=waiting,
            ),
        ],
    )


async def _ticket_alerts(session: AsyncSession, principal: Principal, now: datetime) -> HomeWidget:
    high = await _count(
        session,
        Ticket,
        ticket_queries.scope_filter(principal),
        Ticket.archived_at.is_(None),
        Ticket.status.in_(list(OPEN_STATUSES)),
        Ticket.priority.in_(("high", "critical")),
    )
    unassigned = await _count(
        session,
        Ticket,
        ticket_queries.scope_filter(principal),
        Ticket.archived_at.is_(None),
        Ticket.status.in_(list(OPEN_STATUSES)),
        Ticket.assignee_id.is_(None),
    )
    breached = await _count(
        session,
        Ticket,
        ticket_queries.scope_filter(principal),
        Ticket.archived_at.is_(None),
        Ticket.status.in_(list(OPEN_STATUSES)),
        Ticket.first_responded_at.is_(None),
        Ticket.first_response_due_at < now,
    )
    return HomeWidget(
        key="ticket_alerts",
        title="Support",
        figures=[
            HomeFigure(
                key="high_priority",
                label="High priority, open",
                value=high,
                tone="warn" if high else "normal",
                module="tickets",
                filter={"status": "open", "urgent": True},
            ),
            HomeFigure(
                key="unassigned",
                label="Unassigned",
                value=unassigned,
                tone="warn" if unassigned else "normal",
                module="tickets",
                filter={"status": "new"},
            ),
            HomeFigure(
                key="sla_breaches",
                label="First response overdue",
                value=breached,
                tone="bad" if breached else "normal",
                module="tickets",
                filter={"breaching": True},
            ),
        ],
    )


# --- finance and stock ---------------------------------------------------------------------------


async def _overdue_invoices(session: AsyncSession, principal: Principal, now: datetime, currency: str) -> HomeWidget:
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(
                    func.sum(Invoice.gross_total - Invoice.paid_total).filter(Invoice.currency == currency), 0
                ),
            ).where(
                principal.scope_filter("invoices", Invoice.owner_id, Invoice.team_id),
                Invoice.status.in_(OPEN_INVOICE),
                Invoice.due_date < now.date(),
            )
        )
    ).one()
    n = int(row[0])
    return HomeWidget(
        key="overdue_invoices",
        title="Overdue invoices",
        figures=[
            HomeFigure(
                key="count",
                label="Overdue",
                value=n,
                tone="bad" if n else "normal",
                module="invoices",
                filter={"overdue": True},
            ),
            HomeFigure(
                key="amount",
                label="Still to collect",
                value=money_rules.round_money(Decimal(row[1]), currency),
                kind="money",
                currency=currency,
                module="invoices",
                filter={"overdue": True},
            ),
        ],
    )


async def _low_stock(session: AsyncSession) -> HomeWidget:
    n = await _count(session, StockProductSettings, StockProductSettings.low_since.is_not(None))
    return HomeWidget(
        key="low_stock",
        title="Stock",
        figures=[
            HomeFigure(
                key="low",
                label="Products low on stock",
                value=n,
                tone="warn" if n else "normal",
                module="stock",
                filter={"low_only": True},
            ),
        ],
    )


# --- system health (admins) ----------------------------------------------------------------------


async def _data_folder(session: AsyncSession) -> Path | None:
    """Where the database keeps its files when this server can see them, else the backups folder."""
    # pg_settings hides data_directory from a role that may not read it: then the backups folder.
    found = await session.scalar(text("SELECT setting FROM pg_settings WHERE name = 'data_directory'"))
    candidates = [str(found) if found else "", str(await backups.folder_setting(session))]
    return await asyncio.to_thread(_first_existing, candidates)


def _first_existing(candidates: list[str]) -> Path | None:
    return next((Path(c) for c in candidates if c and os.path.exists(c)), None)


def _responses(timings: RequestTimings) -> HomeWidget:
    """The p95 of this server process's own request times over the last hour."""
    p95, count = timings.p95()
    figure = HomeFigure(
        key="p95",
        label="Response time p95, last hour",
        value=f"{p95:,.0f} ms" if p95 is not None else "not enough requests yet",
        kind="text",
        tone="bad" if p95 is not None and p95 > 1000 else "warn" if p95 is not None and p95 > 300 else "normal",
        detail=f"{count:,} requests to this server process",
        module="admin",
        filter={"page": "health"},
    )
    return HomeWidget(key="responses", title="Server", figures=[figure])


async def _admin(session: AsyncSession, now: datetime) -> list[HomeWidget]:
    since = now - DAY
    failed = await _count(session, SecurityEvent, SecurityEvent.kind == "login_failed", SecurityEvent.at >= since)
    locked = await _count(session, SecurityEvent, SecurityEvent.kind == "account_locked", SecurityEvent.at >= since)
    security = HomeWidget(
        key="security",
        title="Sign-ins",
        figures=[
            HomeFigure(
                key="failed_logins",
                label="Failed sign-ins, 24 h",
                value=failed,
                tone="warn" if failed else "normal",
                module="admin",
                filter={"page": "logs"},
            ),
            HomeFigure(
                key="lockouts",
                label="Lockouts, 24 h",
                value=locked,
                tone="bad" if locked else "normal",
                module="admin",
                filter={"page": "logs"},
            ),
        ],
    )
    backup = await backups.status(session, now)
    age = ""
    if backup.last_good_at is not None:
        hours = int((now - backup.last_good_at).total_seconds() // 3600)
        age = f"{hours} h ago" if hours < 48 else f"{hours // 24} days ago"
    backup_tone: Tone = "normal" if backup.state in ("ok", "not_configured") else "bad"
    backups_widget = HomeWidget(
        key="backups",
        title="Backups",
        figures=[
            HomeFigure(
                key="state",
                label="Last backup",
                detail=backup.message,
                value=backup.state.replace("_", " "),
                kind="text",
                tone=backup_tone if backup.state != "ok" else "good",
                module="admin",
                filter={"page": "backups"},
            ),
            HomeFigure(
                key="age",
                label="Last good backup",
                value=age or "none",
                kind="text",
                module="admin",
                filter={"page": "backups"},
            ),
        ],
    )
    runs = await jobs.recent_runs(session, failed_only=True, limit=50)
    recent = [r for r in runs if (r.finished_at or r.started_at or r.scheduled_at or now) >= since]
    jobs_widget = HomeWidget(
        key="jobs",
        title="Background jobs",
        figures=[
            HomeFigure(
                key="failed",
                label="Failed in 24 h",
                value=len(recent),
                tone="bad" if recent else "normal",
                module="admin",
                filter={"page": "health"},
            ),
        ],
        table=HomeTable(columns=["Job", "Error"], rows=[[r.title or r.task, (r.error or "")[:80]] for r in recent[:5]])
        if recent
        else None,
        empty="No job failed in the last 24 hours.",
    )
    states = await integrations.provider_states(session)
    trouble = [s for s in states if s.state not in ("connected", "not_configured")]
    integrations_widget = HomeWidget(
        key="integrations",
        title="Integrations",
        figures=[
            HomeFigure(
                key="attention",
                label="Need attention",
                value=len(trouble),
                tone="bad" if trouble else "normal",
                module="integrations",
            ),
        ],
        table=HomeTable(columns=["Integration", "State"], rows=[[s.label, s.state.replace("_", " ")] for s in states]),
    )
    folder = await _data_folder(session)
    disk: HomeFigure
    if folder is None:
        disk = HomeFigure(key="free", label="Free disk space", value="unknown", kind="text")
    else:
        usage = await asyncio.to_thread(shutil.disk_usage, folder)
        low = usage.free < 5 * 1024**3 or usage.free < usage.total * 0.05
        disk = HomeFigure(
            key="free", label="Free disk space", value=int(usage.free), kind="bytes", tone="bad" if low else "normal"
        )
    disk_widget = HomeWidget(key="disk", title="Disk", figures=[disk])
    return [security, backups_widget, jobs_widget, integrations_widget, disk_widget]

"""Custom reports (issue #20): a person picks an entity, columns, filters, up to two group levels
and count / sum / average, and runs, saves, shares and exports it.

Every field comes from the per-entity allow-list below (ENTITIES): a name in a request is only ever
a key into it, never SQL. Every query is built with SQLAlchemy and always carries the viewer's scope
of the entity's area (and of reports), so a report only counts what its viewer may see. A run
answers at most ROW_LIMIT rows and says when it was cut."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    and_,
    cast,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import Select

from crm_server import events
from crm_server.activities.models import FollowUp
from crm_server.auth.models import Role, Team, User
from crm_server.auth.permissions import Principal
from crm_server.clients.models import Client
from crm_server.contract import spreadsheet
from crm_server.contract.custom_reports import (
    CustomDefinition,
    CustomEntityOut,
    CustomFieldOut,
    CustomReportIn,
    CustomReportOut,
    CustomResultOut,
)
from crm_server.contract.reports import ReportColumn, ReportFigure, ReportOut, ReportQuery, ReportTable
from crm_server.db import utcnow
from crm_server.errors import Forbidden, NotFound, ValidationFailed
from crm_server.invoices.models import Invoice, Payment
from crm_server.leads.models import Lead, PipelineStatus
from crm_server.products.models import Product
from crm_server.proposals.models import Proposal
from crm_server.reports.models import CustomReport
from crm_server.stock.models import StockLevel, Warehouse
from crm_server.tickets import queries as ticket_queries
from crm_server.tickets.models import Ticket

ROW_LIMIT = 1000  # rows a run answers; more says "cut short"
MAX_GROUPS = 2
PERIODS = ("day", "week", "month")
NUMERIC = ("number", "money")
DATES = ("date", "datetime")


@dataclass(frozen=True)
class F:
    """One allowed field: what people see, the column it reads, and how its values are typed."""

    label: str
    column: Any
    kind: str = "text"  # text, number, money, date, datetime, person, team, status


@dataclass(frozen=True)
class Entity:
    label: str
    table: Any
    module: str
    fields: dict[str, F]
    scope: Callable[[Principal], list[ColumnElement[bool]]]
    joins: tuple[tuple[Any, Any], ...] = field(default=())
    base: tuple[Any, ...] = field(default=())


def _owned(module: str, owner: Any, team: Any) -> Callable[[Principal], list[ColumnElement[bool]]]:
    return lambda p: [p.scope_filter(module, owner, team), p.scope_filter("reports", owner, team)]


def _tickets(p: Principal) -> list[ColumnElement[bool]]:
    return [ticket_queries.scope_filter(p), p.scope_filter("reports", Ticket.assignee_id, Ticket.team_id)]


def _stock(p: Principal) -> list[ColumnElement[bool]]:
    return [true() if p.can("stock", "view") else false()]


ENTITIES: dict[str, Entity] = {
    "leads": Entity(
        "Leads",
        Lead,
        "leads",
        {
            "person_name": F("Name", Lead.person_name),
            "company": F("Company", Lead.company),
            "email": F("E-mail", Lead.email),
            "source": F("Source", Lead.source),
            "status": F("Status", Lead.status_id, "status"),
            "owner": F("Owner", Lead.owner_id, "person"),
            "team": F("Team", Lead.team_id, "team"),
            "value": F("Value", Lead.value, "money"),
            "currency": F("Currency", Lead.currency),
            "territory": F("Territory", Lead.territory),
            "product_interest": F("Product interest", Lead.product_interest),
            "expected_close_date": F("Expected close", Lead.expected_close_date, "date"),
            "created_at": F("Created", Lead.created_at, "datetime"),
            "closed_at": F("Closed", Lead.closed_at, "datetime"),
        },
        _owned("leads", Lead.owner_id, Lead.team_id),
        base=(Lead.archived_at.is_(None),),
    ),
    "clients": Entity(
        "Clients",
        Client,
        "clients",
        {
            "name": F("Name", Client.name),
            "email": F("E-mail", Client.email),
            "phone": F("Phone", Client.phone),
            "vat_number": F("VAT number", Client.vat_number),
            "owner": F("Owner", Client.owner_id, "person"),
            "team": F("Team", Client.team_id, "team"),
            "created_at": F("Created", Client.created_at, "datetime"),
        },
        _owned("clients", Client.owner_id, Client.team_id),
        base=(Client.archived_at.is_(None),),
    ),
    "activities": Entity(
        "Follow-ups",
        FollowUp,
        "activities",
        {
            "kind": F("Kind", FollowUp.kind),
            "status": F("Status", FollowUp.status),
            "notes": F("Notes", FollowUp.notes),
            "owner": F("Owner", FollowUp.owner_id, "person"),
            "team": F("Team", FollowUp.team_id, "team"),
            "due_at": F("Due", FollowUp.due_at, "datetime"),
            "completed_at": F("Done", FollowUp.completed_at, "datetime"),
            "created_at": F("Created", FollowUp.created_at, "datetime"),
        },
        _owned("activities", FollowUp.owner_id, FollowUp.team_id),
    ),
    "tickets": Entity(
        "Tickets",
        Ticket,
        "tickets",
        {
            "number": F("Number", Ticket.number, "number"),
            "subject": F("Subject", Ticket.subject),
            "priority": F("Priority", Ticket.priority),
            "status": F("Status", Ticket.status),
            "assignee": F("Assignee", Ticket.assignee_id, "person"),
            "team": F("Team", Ticket.team_id, "team"),
            "created_at": F("Created", Ticket.created_at, "datetime"),
            "resolved_at": F("Resolved", Ticket.resolved_at, "datetime"),
        },
        _tickets,
        base=(Ticket.archived_at.is_(None),),
    ),
    "proposals": Entity(
        "Proposals",
        Proposal,
        "proposals",
        {
            "number": F("Number", Proposal.number),
            "title": F("Title", Proposal.title),
            "status": F("Status", Proposal.status),
            "currency": F("Currency", Proposal.currency),
            "net_total": F("Net", Proposal.net_total, "money"),
            "gross_total": F("Gross", Proposal.gross_total, "money"),
            "valid_until": F("Valid until", Proposal.valid_until, "date"),
            "owner": F("Owner", Proposal.owner_id, "person"),
            "team": F("Team", Proposal.team_id, "team"),
            "created_at": F("Created", Proposal.created_at, "datetime"),
        },
        _owned("proposals", Proposal.owner_id, Proposal.team_id),
    ),
    "invoices": Entity(
        "Invoices",
        Invoice,
        "invoices",
        {
            "number": F("Number", Invoice.number),
            "kind": F("Kind", Invoice.kind),
            "status": F("Status", Invoice.status),
            "currency": F("Currency", Invoice.currency),
            "issue_date": F("Invoice date", Invoice.issue_date, "date"),
            "due_date": F("Due date", Invoice.due_date, "date"),
            "net_total": F("Net", Invoice.net_total, "money"),
            "gross_total": F("Gross", Invoice.gross_total, "money"),
            "paid_total": F("Paid", Invoice.paid_total, "money"),
            "owner": F("Owner", Invoice.owner_id, "person"),
            "team": F("Team", Invoice.team_id, "team"),
        },
        _owned("invoices", Invoice.owner_id, Invoice.team_id),
    ),
    "payments": Entity(
        "Payments",
        Payment,
        "payments",
        {
            "paid_on": F("Paid on", Payment.paid_on, "date"),
            "amount": F("Amount", Payment.amount, "money"),
            "method": F("Method", Payment.method),
            "reference": F("Reference", Payment.reference),
            "invoice_number": F("Invoice", Invoice.number),
            "currency": F("Currency", Invoice.currency),
            "owner": F("Invoice owner", Invoice.owner_id, "person"),
            "team": F("Team", Invoice.team_id, "team"),
        },
        _owned("payments", Invoice.owner_id, Invoice.team_id),
        joins=((Invoice, Invoice.id == Payment.invoice_id),),
    ),
    "stock": Entity(
        "Products and stock",
        StockLevel,
        "stock",
        {
            "sku": F("SKU", Product.sku),
            "product": F("Product", Product.name),
            "warehouse": F("Warehouse", Warehouse.name),
            "on_hand": F("On hand", StockLevel.on_hand, "number"),
            "reserved": F("Reserved", StockLevel.reserved, "number"),
            "unit_price": F("Unit price", Product.unit_price, "money"),
        },
        _stock,
        joins=(
            (Product, Product.id == StockLevel.product_id),
            (Warehouse, Warehouse.id == StockLevel.warehouse_id),
        ),
    ),
}


def catalogue() -> list[CustomEntityOut]:
    """The allow-list, for the desktop's pickers."""
    return [
        CustomEntityOut(
            key=key,
            label=e.label,
            fields=[
                CustomFieldOut(key=k, label=f.label, kind=f.kind, groupable=f.kind not in NUMERIC)
                for k, f in e.fields.items()
            ],
        )
        for key, e in ENTITIES.items()
    ]


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 for c in text)


def _field(entity: Entity, name: str, where: str) -> F:
    if _has_control(name):
        raise ValidationFailed("A field name has no control characters.", field=where)
    found = entity.fields.get(name)
    if found is None:
        raise ValidationFailed(f"{entity.label} have no field “{name[:60]}”.", field=where)
    return found


def _typed(f: F, value: Any, where: str) -> Any:
    """A filter value as the field's type (a wrong one is a 422 naming the filter)."""
    if value is None or isinstance(value, list):
        raise ValidationFailed(f"{f.label} needs one value here.", field=where)
    try:
        if f.kind in NUMERIC:
            return Decimal(str(value))
        if f.kind in ("person", "team", "status"):
            number = int(str(value))
            if not 0 < number < 2**63:
                raise ValueError
            return number
        if f.kind in DATES:
            return date.fromisoformat(str(value))
    except (ValueError, ArithmeticError):
        raise ValidationFailed(f"“{str(value)[:40]}” is not a value for {f.label}.", field=where) from None
    text = str(value)
    if _has_control(text):
        raise ValidationFailed("A filter value has no control characters.", field=where)
    if len(text) > 300:
        raise ValidationFailed("A filter value is at most 300 characters.", field=where)
    return text


def relative_range(name: str, today: date) -> tuple[date, date]:
    """The days [from, to] of a relative range on `today` (UTC)."""
    ranges = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
        "last_7_days": (today - timedelta(days=6), today),
        "last_30_days": (today - timedelta(days=29), today),
        "this_week": (today - timedelta(days=today.weekday()), today),
        "this_month": (today.replace(day=1), today),
        "last_month": (
            (today.replace(day=1) - timedelta(days=1)).replace(day=1),
            today.replace(day=1) - timedelta(days=1),
        ),
        "this_year": (date(today.year, 1, 1), today),
    }
    if name not in ranges:
        raise KeyError(name)
    return ranges[name]


def _day_range(f: F, first: date, last: date) -> ColumnElement[bool]:
    if f.kind == "datetime":
        start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        return and_(f.column >= start, f.column < end)
    return and_(f.column >= first, f.column <= last)


def _condition(entity: Entity, i: int, raw: Any, today: date) -> ColumnElement[bool]:
    where = f"filters.{i}"
    f = _field(entity, raw.field, f"{where}.field")
    op, value, col = raw.op, raw.value, f.column
    if op == "is empty":
        empty: ColumnElement[bool] = col.is_(None) if f.kind != "text" else or_(col.is_(None), col == "")
        return empty
    if op == "within":
        if f.kind not in DATES:
            raise ValidationFailed(f"{f.label} is not a date.", field=f"{where}.op")
        try:
            first, last = relative_range(str(value), today)
        except KeyError:
            raise ValidationFailed(f"“{str(value)[:40]}” is not a range.", field=f"{where}.value") from None
        return _day_range(f, first, last)
    if op == "between":
        if f.kind not in DATES or not isinstance(value, list) or len(value) != 2:
            raise ValidationFailed("Between takes two dates: [from, to].", field=f"{where}.value")
        return _day_range(f, _typed(f, value[0], f"{where}.value"), _typed(f, value[1], f"{where}.value"))
    if op == "in":
        if not isinstance(value, list) or not 0 < len(value) <= 100:
            raise ValidationFailed("“in” takes a list of 1 to 100 values.", field=f"{where}.value")
        among: ColumnElement[bool] = col.in_([_typed(f, v, f"{where}.value") for v in value])
        return among
    if op == "contains":
        if f.kind != "text":
            raise ValidationFailed(f"{f.label} is not text: “contains” does not apply.", field=f"{where}.op")
        text = _typed(f, value, f"{where}.value")
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like: ColumnElement[bool] = col.ilike(f"%{escaped}%", escape="\\")
        return like
    typed = _typed(f, value, f"{where}.value")
    if f.kind == "datetime":  # a day compared with an instant: the whole UTC day
        start = datetime.combine(typed, datetime.min.time(), tzinfo=UTC)
        end = start + timedelta(days=1)
        day: dict[str, ColumnElement[bool]] = {
            "=": and_(col >= start, col < end),
            "!=": or_(col < start, col >= end),
            "<": col < start,
            ">": col >= end,
        }
        return day[op]
    plain: dict[str, ColumnElement[bool]] = {"=": col == typed, "!=": col != typed, "<": col < typed, ">": col > typed}
    return plain[op]


@dataclass
class Group:
    key: str
    label: str
    kind: str  # of the field, or "period"
    expr: Any


def _group(entity: Entity, i: int, name: str) -> Group:
    where = f"group_by.{i}"
    base, _, period = name.partition(":")
    f = _field(entity, base, where)
    if f.kind in DATES:
        unit = period or "month"
        if unit not in PERIODS:
            raise ValidationFailed(f"Group a date by day, week or month, not “{unit[:20]}”.", field=where)
        source = cast(func.timezone("UTC", f.column), DateTime) if f.kind == "datetime" else cast(f.column, DateTime)
        expr = cast(func.date_trunc(literal_column(f"'{unit}'"), source), Date)
        return Group(name, f"{f.label} ({unit})", "period", expr)
    if period:
        raise ValidationFailed(f"{f.label} is not a date: it has no periods.", field=where)
    if f.kind in NUMERIC:
        raise ValidationFailed(f"{f.label} is an amount: sum or average it instead.", field=where)
    return Group(name, f.label, f.kind, f.column)


def _statement(entity: Entity, principal: Principal, columns: list[Any]) -> Select[Any]:
    stmt = select(*columns).select_from(entity.table)
    for table, on in entity.joins:
        stmt = stmt.join(table, on)
    return stmt.where(*entity.base, *entity.scope(principal))


async def _names(session: AsyncSession, kind: str, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    if kind == "person":
        rows = await session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
    elif kind == "team":
        rows = await session.execute(select(Team.id, Team.name).where(Team.id.in_(ids)))
    else:
        rows = await session.execute(select(PipelineStatus.id, PipelineStatus.name).where(PipelineStatus.id.in_(ids)))
    return {int(r[0]): str(r[1]) for r in rows}


async def _labelled(session: AsyncSession, kinds: list[str], rows: list[list[Any]]) -> list[list[Any]]:
    """Ids of people, teams and statuses as their names; periods as ISO dates."""
    for index, kind in enumerate(kinds):
        if kind in ("person", "team", "status"):
            names = await _names(session, kind, {int(r[index]) for r in rows if r[index] is not None})
            for r in rows:
                r[index] = names.get(int(r[index]), f"#{r[index]}") if r[index] is not None else "(none)"
        elif kind in ("period", "date"):
            for r in rows:
                r[index] = r[index].isoformat() if r[index] is not None else "(none)"
        elif kind == "datetime":
            for r in rows:
                r[index] = r[index].astimezone(UTC).strftime("%Y-%m-%d %H:%M") if r[index] is not None else None
        elif kind == "text":
            for r in rows:
                r[index] = "(none)" if r[index] is None else r[index]
    return rows


def _column_kind(kind: str) -> str:
    return {"money": "money", "number": "money"}.get(kind, "text")


@dataclass
class Plan:
    """A definition checked against the allow-list and turned into SQLAlchemy expressions."""

    entity: Entity
    limit: int
    conditions: list[ColumnElement[bool]]
    groups: list[Group]
    measure: Any
    value_kind: str
    value_title: str
    names: list[str]
    fields: list[F]


def plan(principal: Principal, d: CustomDefinition) -> Plan:
    """Check every name in the definition (a 422 naming the field) and the viewer's rights (403)."""
    if not principal.can("reports", "view"):
        raise Forbidden("Custom reports need the right to view reports.")
    entity = ENTITIES[d.entity]
    if not principal.can(entity.module, "view"):
        raise Forbidden(f"You may not see {entity.label.lower()}.")
    if len(d.group_by) > MAX_GROUPS:
        raise ValidationFailed(f"Group by at most {MAX_GROUPS} levels.", field="group_by")
    today = utcnow().date()
    conditions = [_condition(entity, i, raw, today) for i, raw in enumerate(d.filters)]
    groups = [_group(entity, i, name) for i, name in enumerate(d.group_by)]
    if len({g.key for g in groups}) < len(groups):
        raise ValidationFailed("Group by two different fields.", field="group_by.1")
    names = d.columns or list(entity.fields)[:6]
    fields = [_field(entity, name, f"columns.{i}") for i, name in enumerate(names)]
    measure: Any = func.count()
    value_kind, value_title = "count", "Count"
    if d.aggregate != "count":
        if not d.aggregate_field:
            raise ValidationFailed("Choose the amount to sum or average.", field="aggregate_field")
        f = _field(entity, d.aggregate_field, "aggregate_field")
        if f.kind not in NUMERIC:
            raise ValidationFailed(f"{f.label} is not a number: it cannot be summed.", field="aggregate_field")
        measure = func.sum(f.column) if d.aggregate == "sum" else func.round(func.avg(f.column), 2)
        value_kind = "money"
        value_title = f"{'Sum' if d.aggregate == 'sum' else 'Average'} of {f.label.lower()}"
    limit = min(d.row_limit, ROW_LIMIT)
    return Plan(entity, limit, conditions, groups, measure, value_kind, value_title, names, fields)


async def run(session: AsyncSession, principal: Principal, d: CustomDefinition) -> CustomResultOut:
    """Run a definition in the viewer's scope (at most ROW_LIMIT rows; a cut result says so)."""
    p = plan(principal, d)
    entity, limit, conditions, groups, measure = p.entity, p.limit, p.conditions, p.groups, p.measure
    value_kind, value_title, names, fields = p.value_kind, p.value_title, p.names, p.fields
    if groups:
        exprs = [g.expr for g in groups]
        # The groups are counted first (a materialized CTE), then ordered and cut: with ORDER BY and
        # LIMIT on the grouping itself, PostgreSQL walked an owner index over every follow-up (4 s
        # for a week of a million-row table) hoping to stop early, which grouping never lets it do.
        grouped = (
            _statement(entity, principal, [*(e.label(f"g{i}") for i, e in enumerate(exprs)), measure.label("value")])
            .where(*conditions)
            .group_by(*exprs)
            .cte("grouped")
            .prefix_with("MATERIALIZED")
        )
        keys = [grouped.c[f"g{i}"] for i in range(len(exprs))]
        stmt = select(*keys, grouped.c.value).order_by(*[k.asc().nulls_last() for k in keys]).limit(limit + 1)
        rows = [list(r) for r in await session.execute(stmt)]
        truncated = len(rows) > limit
        rows = await _labelled(session, [g.kind for g in groups], rows[:limit])
        for r in rows:
            if r[-1] is None and value_kind == "money":
                r[-1] = Decimal(0)
        columns = [ReportColumn(key=g.key, title=g.label) for g in groups]
        columns.append(ReportColumn(key="value", title=value_title, kind=value_kind))  # type: ignore[arg-type]
        return CustomResultOut(
            entity=d.entity,
            columns=columns,
            rows=rows,
            grouped=True,
            chart=d.chart,
            truncated=truncated,
            row_limit=limit,
            note=_cut_note(truncated, limit),
        )
    stmt = (
        _statement(entity, principal, [f.column for f in fields])
        .where(*conditions)
        .order_by(entity.table.__table__.primary_key.columns.values()[0].desc())
        .limit(limit + 1)
    )
    rows = [list(r) for r in await session.execute(stmt)]
    truncated = len(rows) > limit
    rows = await _labelled(session, [f.kind for f in fields], rows[:limit])
    return CustomResultOut(
        entity=d.entity,
        columns=[
            ReportColumn(key=n, title=f.label, kind=_column_kind(f.kind))  # type: ignore[arg-type]
            for n, f in zip(names, fields, strict=True)
        ],
        rows=rows,
        grouped=False,
        chart="table",
        truncated=truncated,
        row_limit=limit,
        note=_cut_note(truncated, limit),
    )


def _cut_note(truncated: bool, limit: int) -> str:
    return f"Cut short at {limit} rows: narrow the filters to see the rest." if truncated else ""


def workbook(title: str, result: CustomResultOut) -> bytes:
    """The result as .xlsx (text written as text, never a formula)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(("".join(c for c in title if c not in "[]:*?/\\")[:31]) or "Report")
    sheet.append(spreadsheet.xlsx_row(sheet, [c.title for c in result.columns]))
    for row in result.rows:
        sheet.append(spreadsheet.xlsx_row(sheet, row))
    if result.truncated:
        sheet.append(spreadsheet.xlsx_row(sheet, [result.note]))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- saved reports ---------------------------------------------------------------------------------


def _visible(principal: Principal) -> ColumnElement[bool]:
    shared = [CustomReport.owner_id == principal.user_id, CustomReport.shared_role_ids.contains([principal.role_id])]
    if principal.team_id is not None:
        shared.append(CustomReport.shared_team_ids.contains([principal.team_id]))
    return or_(*shared)


def _emit(session: AsyncSession, principal: Principal, report_id: int, action: str) -> None:
    events.emit(
        session,
        module="reports",
        entity="custom_report",
        entity_id=report_id,
        action=action,
        actor_id=principal.user_id,
        owner_id=principal.user_id,
    )


def _out(row: CustomReport, principal: Principal) -> CustomReportOut:
    return CustomReportOut(
        id=row.id,
        name=row.name,
        entity=row.entity,
        definition=CustomDefinition.model_validate(row.definition),
        owner_id=row.owner_id,
        shared_role_ids=list(row.shared_role_ids),
        shared_team_ids=list(row.shared_team_ids),
        mine=row.owner_id == principal.user_id,
        updated_at=row.updated_at,
    )


async def _check(session: AsyncSession, principal: Principal, data: CustomReportIn) -> None:
    if _has_control(data.name):
        raise ValidationFailed("A report name has no control characters.", field="name")
    try:
        plan(principal, data.definition)  # the same checks as a run, without running it
    except ValidationFailed as exc:
        exc.field = f"definition.{exc.field}" if exc.field else "definition"
        raise
    if data.shared_role_ids:
        found = set(await session.scalars(select(Role.id).where(Role.id.in_(data.shared_role_ids))))
        if missing := sorted(set(data.shared_role_ids) - found):
            raise ValidationFailed(f"No such role: {missing[0]}.", field="shared_role_ids")
    if data.shared_team_ids:
        found = set(await session.scalars(select(Team.id).where(Team.id.in_(data.shared_team_ids))))
        if missing := sorted(set(data.shared_team_ids) - found):
            raise ValidationFailed(f"No such team: {missing[0]}.", field="shared_team_ids")


async def list_saved(session: AsyncSession, principal: Principal) -> list[CustomReportOut]:
    rows = await session.scalars(
        select(CustomReport).where(_visible(principal)).order_by(CustomReport.name, CustomReport.id).limit(500)
    )
    return [_out(r, principal) for r in rows]


async def get(session: AsyncSession, principal: Principal, report_id: int) -> CustomReport:
    row = await session.scalar(select(CustomReport).where(CustomReport.id == report_id, _visible(principal)))
    if row is None:
        raise NotFound("No such custom report.")
    return row


async def create(session: AsyncSession, principal: Principal, data: CustomReportIn) -> CustomReportOut:
    await _check(session, principal, data)
    row = CustomReport(
        name=data.name,
        entity=data.definition.entity,
        definition=data.definition.model_dump(mode="json"),
        owner_id=principal.user_id,
        shared_role_ids=data.shared_role_ids,
        shared_team_ids=data.shared_team_ids,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    _emit(session, principal, row.id, "created")
    return _out(row, principal)


async def _own(session: AsyncSession, principal: Principal, report_id: int) -> CustomReport:
    row = await get(session, principal, report_id)
    if row.owner_id != principal.user_id:
        raise Forbidden("Only the person who saved a custom report changes or removes it.")
    return row


async def update(session: AsyncSession, principal: Principal, report_id: int, data: CustomReportIn) -> CustomReportOut:
    row = await _own(session, principal, report_id)
    await _check(session, principal, data)
    row.name, row.entity = data.name, data.definition.entity
    row.definition = data.definition.model_dump(mode="json")
    row.shared_role_ids, row.shared_team_ids = data.shared_role_ids, data.shared_team_ids
    row.updated_at = utcnow()
    row.version += 1
    await session.flush()
    _emit(session, principal, row.id, "updated")
    return _out(row, principal)


async def remove(session: AsyncSession, principal: Principal, report_id: int) -> None:
    row = await _own(session, principal, report_id)
    await session.delete(row)
    _emit(session, principal, report_id, "deleted")


async def run_saved(session: AsyncSession, principal: Principal, report_id: int) -> tuple[str, CustomResultOut]:
    row = await get(session, principal, report_id)
    return row.name, await run(session, principal, CustomDefinition.model_validate(row.definition))


# --- as a scheduled report -------------------------------------------------------------------------


async def as_report(session: AsyncSession, principal: Principal, query: ReportQuery) -> ReportOut:
    """A saved custom report as the standard report shape, for the scheduled e-mails: the recipient's
    own scope; one who may not see the report's records gets an empty one (not sent unless asked)."""
    row = await session.get(CustomReport, query.custom_report_id) if query.custom_report_id else None
    if row is None:
        raise NotFound("The scheduled custom report was deleted.")
    today = utcnow().date()
    try:
        result = await run(session, principal, CustomDefinition.model_validate(row.definition))
    except Forbidden:
        result = CustomResultOut(
            entity=row.entity, columns=[], rows=[], grouped=True, chart="table", truncated=False, row_limit=ROW_LIMIT
        )
    table = ReportTable(
        key="rows",
        title=row.name,
        columns=result.columns,
        rows=result.rows,
        chart={"bar": "bar", "line": "line"}.get(result.chart, "none"),  # type: ignore[arg-type]
        chart_columns=["value"] if result.grouped else [],
        note=result.note,
    )
    return ReportOut(
        key="custom",
        title=row.name,
        date_from=query.date_from or today,
        date_to=query.date_to or today,
        currency="",
        figures=[ReportFigure(label="Rows", value=len(result.rows), kind="count")],
        tables=[table],
    )


async def check_schedulable(session: AsyncSession, report_id: int | None) -> None:
    if report_id is None:
        raise ValidationFailed("Choose the saved custom report to send.", field="filters.custom_report_id")
    if await session.get(CustomReport, report_id) is None:
        raise ValidationFailed("No such saved custom report.", field="filters.custom_report_id")

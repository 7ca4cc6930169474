"""What can be exported: one small entry per list (its name, module, query model, rows and columns).

An entry's rows come from the area's OWN list function, called with the user's filter and the user's
Principal (so its scope rules apply, never a wider view), page after page by keyset cursor (or by
offset where the list has none): memory stays at one page whatever the list's length. Leads, the
list that reaches a million rows, stream from one server-side cursor over the same conditions the
list uses (leads.queries.conditions), without making a LeadOut per row.

Columns default to the list model's plain fields (text, numbers, dates, lists of them), headed in
words; an entry may name its own."""

from __future__ import annotations

import enum
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_server.activities import service as activities
from crm_server.admin import service as admin
from crm_server.auth.models import Team, User
from crm_server.auth.permissions import Principal
from crm_server.clients import service as clients
from crm_server.contract.activities import FollowUpOut
from crm_server.contract.admin import AuditEntryOut
from crm_server.contract.clients import ClientOut, ClientQuery, ContactRow
from crm_server.contract.common import Page
from crm_server.contract.exports import ENTITY_MODULES, AuditFilter, FollowUpFilter
from crm_server.contract.invoices import InvoiceOut, InvoiceQuery
from crm_server.contract.leads import LeadQuery
from crm_server.contract.orders import OrderOut, OrderQuery
from crm_server.contract.payments import PaymentQuery, PaymentRow
from crm_server.contract.products import ProductOut, ProductQuery
from crm_server.contract.proposals import ProposalOut, ProposalQuery
from crm_server.contract.purchasing import PurchaseOrderOut, PurchaseOrderQuery
from crm_server.contract.stock import LevelOut, LevelQuery
from crm_server.contract.tickets import TicketOut, TicketQuery
from crm_server.exports import sql_cells
from crm_server.invoices import service as invoices
from crm_server.leads import queries as lead_queries
from crm_server.leads.models import Lead, LostReason, PipelineStatus
from crm_server.leads.service import default_country
from crm_server.leads.service import order_by as lead_order
from crm_server.orders import service as orders
from crm_server.payments import service as payments
from crm_server.products import service as products
from crm_server.proposals import service as proposals
from crm_server.purchasing import service as purchasing
from crm_server.stock import queries as stock
from crm_server.tickets import service as tickets

PAGE = 500
MAX_ROWS = 1_000_000  # an .xlsx sheet holds 1,048,576 rows; a .csv keeps the same limit
Row = list[Any]
Rows = AsyncIterator[Sequence[Row]]
# A batch of rows and, when the list knows it exactly, how many rows the whole export has.
Batches = AsyncIterator[tuple[Sequence[Row], int | None]]
ListPage = Callable[[AsyncSession, Principal, Any], Awaitable[Page[Any]]]


@dataclass(frozen=True)
class Column:
    header: str
    get: Callable[[Any], Any]


@dataclass(frozen=True)
class Entity:
    """One exportable list. `list_page` is the area's own list function (scope applied inside)."""

    name: str
    module: str
    query: type[BaseModel]
    item: type[BaseModel] | None = None
    list_page: ListPage | None = None
    columns: tuple[Column, ...] = ()
    # A list that has its own fast reader (leads): (headers, rows in batches, exact count).
    stream: Callable[[AsyncSession, Principal, Any], Rows] | None = None
    count: Callable[[AsyncSession, Principal, Any], Awaitable[int]] | None = None
    headers: tuple[str, ...] = ()
    # A list PostgreSQL can write as .csv itself (COPY): the SELECT of its cells, headed in words.
    csv_select: Callable[[AsyncSession, Principal, Any], Awaitable[Select[Any]]] | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)
    extra: tuple[Column, ...] = ()  # after the model's own fields (a computed amount...)

    def header_row(self) -> list[str]:
        return list(self.headers) if self.stream is not None else [c.header for c in self.all_columns()]

    def all_columns(self) -> tuple[Column, ...]:
        if self.columns or self.item is None:
            return self.columns
        return auto_columns(self.item, self.exclude) + self.extra


# --- columns from a list model ------------------------------------------------------------------

_PLAIN = (str, int, float, Decimal, date, datetime, bool)


def _plain(annotation: Any) -> bool:
    """Is a field of this type one cell: text, a number, a date, a choice, or a list of those?"""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return all(_plain(a) for a in get_args(annotation) if a is not type(None))
    if origin is Literal:
        return True
    if origin in (list, tuple, set, frozenset):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return bool(args) and all(_plain(a) and get_origin(a) is None for a in args)
    if isinstance(annotation, type):
        return issubclass(annotation, _PLAIN) or issubclass(annotation, enum.Enum)
    return False


_ACRONYMS = {"id": "ID", "vat": "VAT", "sku": "SKU", "sla": "SLA", "url": "URL"}


def header(name: str) -> str:
    """`expected_close_date` -> "Expected close date", `owner_id` -> "Owner ID"."""
    words = name.split("_")
    text = " ".join(_ACRONYMS.get(w, w) for w in words)
    return text[:1].upper() + text[1:]


def cell(value: Any) -> Any:
    """A value as one cell: a choice in words, a list joined, times in UTC without a zone (a
    spreadsheet has none; headers of time columns say UTC)."""
    if isinstance(value, enum.Enum):  # a choice in words: "partly_paid" -> "Partly paid"
        words = str(value.value).replace("_", " ")
        return words[:1].upper() + words[1:]
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(cell(v)) for v in value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.utcoffset() is None else value.astimezone(UTC).replace(tzinfo=None)
    return value


def _getter(name: str) -> Callable[[Any], Any]:
    return lambda item: cell(getattr(item, name))


def auto_columns(item: type[BaseModel], exclude: frozenset[str] = frozenset()) -> tuple[Column, ...]:
    out = []
    for name, info in item.model_fields.items():
        if name in exclude or name == "version" or not _plain(info.annotation):
            continue
        title = header(name)
        if _is_time(info.annotation):
            title += " (UTC)"
        out.append(Column(title, _getter(name)))
    return tuple(out)


def _is_time(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_time(a) for a in get_args(annotation))
    return annotation is datetime


# --- rows of any list, page by page -------------------------------------------------------------


async def pages(
    session: AsyncSession, principal: Principal, entity: Entity, query: BaseModel
) -> AsyncIterator[Page[Any]]:
    """Every page of the list for this filter, through the area's list function."""
    assert entity.list_page is not None
    fields = type(query).model_fields
    update: dict[str, Any] = {"offset": 0, "limit": min(PAGE, _max_limit(type(query)))}
    if "after" in fields:
        update["after"] = None
    current = query.model_copy(update=update)
    seen = 0
    while True:
        page = await entity.list_page(session, principal, current)
        yield page
        seen += len(page.items)
        if not page.items or seen >= MAX_ROWS:
            return
        if page.next is not None and "after" in fields:
            current = current.model_copy(update={"after": page.next, "offset": seen})
        elif len(page.items) == page.limit and (not page.total_exact or seen < page.total):
            current = current.model_copy(
                update={"offset": seen, "after": None} if "after" in fields else {"offset": seen}
            )
        else:
            return


def _max_limit(model: type[BaseModel]) -> int:
    for meta in model.model_fields["limit"].metadata:
        le = getattr(meta, "le", None)
        if le is not None:
            return int(le)
    return PAGE


# --- leads: one server-side cursor over the list's own conditions --------------------------------

# (header, expression, kind): "text" cells are made safe (contract/spreadsheet.py's rule, also in
# SQL for the .csv COPY), "time" cells are UTC without a zone, "plain" ones are written as they are.
_OWNER = aliased(User)
LEAD_COLUMNS: tuple[tuple[str, Any, str], ...] = (
    ("ID", Lead.id, "plain"),
    ("Name", Lead.person_name, "text"),
    ("Company", Lead.company, "text"),
    ("Email", Lead.email, "text"),
    ("Phone", Lead.phone, "text"),
    ("Source", Lead.source, "text"),
    ("Partner", Lead.partner_name, "text"),
    ("Status", PipelineStatus.name, "text"),
    ("Owner", _OWNER.full_name, "text"),
    ("Team", Team.name, "text"),
    ("Value", Lead.value, "plain"),
    ("Currency", Lead.currency, "text"),
    ("Expected close", Lead.expected_close_date, "plain"),
    ("Territory", Lead.territory, "text"),
    ("Product interest", Lead.product_interest, "text"),
    ("Tags", func.array_to_string(Lead.tags, ", "), "text"),
    (
        "Lost reason",
        case(
            (Lead.lost_reason_text.is_(None), LostReason.name),
            else_=func.coalesce(LostReason.name, "") + ": " + Lead.lost_reason_text,
        ),
        "text",
    ),
    ("Created (UTC)", Lead.created_at, "time"),
    ("Updated (UTC)", Lead.updated_at, "time"),
    ("Archived (UTC)", Lead.archived_at, "time"),
)
LEAD_HEADERS = tuple(c[0] for c in LEAD_COLUMNS)


async def _lead_where(session: AsyncSession, principal: Principal, query: Any) -> list[Any]:
    return list(lead_queries.conditions(principal, query, await default_country(session)))


async def _lead_count(session: AsyncSession, principal: Principal, query: Any) -> int:
    where = await _lead_where(session, principal, query)
    return int(await session.scalar(select(func.count()).select_from(Lead).where(*where)) or 0)


async def _lead_select(session: AsyncSession, principal: Principal, query: Any, columns: list[Any]) -> Select[Any]:
    """The list's leads, in the list's order, as these columns (one per LEAD_COLUMNS entry)."""
    where = await _lead_where(session, principal, query)
    return (
        select(*columns)
        .join(PipelineStatus, PipelineStatus.id == Lead.status_id)
        .outerjoin(_OWNER, _OWNER.id == Lead.owner_id)
        .outerjoin(Team, Team.id == Lead.team_id)
        .outerjoin(LostReason, LostReason.id == Lead.lost_reason_id)
        .where(*where)
        .order_by(*lead_order(query.sort))
        .limit(MAX_ROWS)
    )


async def _lead_rows(session: AsyncSession, principal: Principal, query: Any) -> Rows:
    stmt = await _lead_select(session, principal, query, [c[1] for c in LEAD_COLUMNS])
    result = await session.stream(stmt.execution_options(yield_per=2000))
    async for batch in result.partitions(2000):
        yield [[cell(v) for v in r] for r in batch]


async def _lead_csv(session: AsyncSession, principal: Principal, query: Any) -> Select[Any]:
    """The same rows as text cells PostgreSQL writes itself (COPY ... CSV): a million in seconds."""
    columns = []
    for title, expression, kind in LEAD_COLUMNS:
        if kind == "text":
            expression = sql_cells.safe_text(expression)
        elif kind == "time":
            expression = sql_cells.utc_time(expression)
        columns.append(expression.label(title))
    return await _lead_select(session, principal, query, columns)


# --- the lists whose routes take plain parameters ------------------------------------------------


async def _follow_ups(session: AsyncSession, principal: Principal, q: Any) -> Page[Any]:
    return await activities.list_follow_ups(
        session,
        principal,
        lead_id=q.lead_id,
        client_id=q.client_id,
        owner_id=q.owner_id,
        status=q.status.value if q.status is not None else None,
        offset=q.offset,
        limit=q.limit,
    )


async def _audit(session: AsyncSession, principal: Principal, q: Any) -> Page[Any]:
    return await admin.audit_log(
        session, q.actor_id, q.entity, q.entity_id, q.since, q.until, q.offset, q.limit, q.after
    )


def _changes(entry: AuditEntryOut) -> str:
    return "; ".join(f"{c.field}: {c.old} -> {c.new}" for c in entry.changes)


def _same_modules() -> None:
    """The contract's map (which the desktop reads to offer a list) says what the registry needs."""
    if {n: e.module for n, e in REGISTRY.items()} != ENTITY_MODULES:
        raise RuntimeError("contract.exports.ENTITY_MODULES and the export registry disagree")


def _no_scope(fn: Callable[[AsyncSession, Any], Awaitable[Page[Any]]]) -> ListPage:
    """A list every holder of its module's view permission sees whole (products, stock, purchasing)."""

    async def call(session: AsyncSession, principal: Principal, query: Any) -> Page[Any]:
        return await fn(session, query)

    return call


# --- the registry ---------------------------------------------------------------------------------

REGISTRY: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "leads",
            "leads",
            LeadQuery,
            stream=_lead_rows,
            count=_lead_count,
            headers=LEAD_HEADERS,
            csv_select=_lead_csv,
        ),
        Entity("clients", "clients", ClientQuery, ClientOut, clients.list_clients),
        Entity(
            "contacts",
            "clients",
            ClientQuery,
            ContactRow,
            clients.list_contacts,
            columns=(
                Column("Client", lambda c: c.client_name),
                Column("Name", lambda c: c.name),
                Column("Position", lambda c: c.position),
                Column("Email", lambda c: c.email),
                Column("Phone", lambda c: c.phone),
                Column("Client ID", lambda c: c.client_id),
                Column("Contact ID", lambda c: c.id),
                Column("Created (UTC)", lambda c: cell(c.created_at)),
            ),
        ),
        Entity("tickets", "tickets", TicketQuery, TicketOut, tickets.list_tickets),
        Entity(
            "invoices",
            "invoices",
            InvoiceQuery,
            InvoiceOut,
            invoices.list_invoices,
            extra=(Column("Open amount", lambda i: i.open_amount),),
        ),
        Entity("payments", "payments", PaymentQuery, PaymentRow, payments.list_payments),
        Entity(
            "proposals",
            "proposals",
            ProposalQuery,
            ProposalOut,
            proposals.list_proposals,
            extra=(Column("Expired", lambda p: "yes" if p.expired else ""),),
        ),
        Entity("products", "products", ProductQuery, ProductOut, _no_scope(products.list_products)),
        Entity("stock_levels", "stock", LevelQuery, LevelOut, _no_scope(stock.levels)),
        Entity(
            "purchase_orders", "purchasing", PurchaseOrderQuery, PurchaseOrderOut, _no_scope(purchasing.list_orders)
        ),
        Entity("sales_orders", "orders", OrderQuery, OrderOut, orders.list_orders),
        Entity("activities", "activities", FollowUpFilter, FollowUpOut, _follow_ups),
        Entity(
            "audit_log",
            "admin",
            AuditFilter,
            AuditEntryOut,
            _audit,
            columns=(
                Column("ID", lambda e: e.id),
                Column("At (UTC)", lambda e: cell(e.at)),
                Column("Actor ID", lambda e: e.actor_id),
                Column("Record", lambda e: e.entity),
                Column("Record ID", lambda e: e.entity_id),
                Column("Name", lambda e: e.label),
                Column("Action", lambda e: e.action),
                Column("Changes", _changes),
            ),
        ),
    )
}


_same_modules()


async def rows(session: AsyncSession, principal: Principal, entity: Entity, query: BaseModel) -> Batches:
    """The list's rows for this filter, in batches, as cells, each with the total when known."""
    if entity.stream is not None:
        total = await first_count(session, principal, entity, query)
        async for batch in entity.stream(session, principal, query):
            yield batch, total
        return
    columns = entity.all_columns()
    async for page in pages(session, principal, entity, query):
        total = min(page.total, MAX_ROWS) if page.total_exact else None
        yield [[c.get(item) for c in columns] for item in page.items], total


async def first_count(session: AsyncSession, principal: Principal, entity: Entity, query: BaseModel) -> int | None:
    """How many rows the export will write (capped at MAX_ROWS), when the list can say."""
    if entity.count is not None:
        return min(await entity.count(session, principal, query), MAX_ROWS)
    return None

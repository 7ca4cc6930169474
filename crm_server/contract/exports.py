"""Exports as jobs on the wire: a list's filter and a format go in, an export with a state and its
progress comes back, and when it is done its file is downloaded (until it expires)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from crm_server.contract.activities import FollowUpStatus
from crm_server.contract.common import After, Model

ExportFormat = Literal["xlsx", "csv"]

# The lists that export, in the words a person reads (the registry on the server has one entry each).
ENTITIES: dict[str, str] = {
    "leads": "Leads",
    "clients": "Clients",
    "contacts": "Contacts",
    "tickets": "Tickets",
    "invoices": "Invoices",
    "payments": "Payments",
    "proposals": "Proposals",
    "products": "Products",
    "stock_levels": "Stock levels",
    "purchase_orders": "Purchase orders",
    "sales_orders": "Sales orders",
    "activities": "Follow-ups",
    "audit_log": "Audit log",
}
# The module whose "export" permission each list needs (and whose scope rules its rows).
ENTITY_MODULES: dict[str, str] = {
    "leads": "leads",
    "clients": "clients",
    "contacts": "clients",
    "tickets": "tickets",
    "invoices": "invoices",
    "payments": "payments",
    "proposals": "proposals",
    "products": "products",
    "stock_levels": "stock",
    "purchase_orders": "purchasing",
    "sales_orders": "orders",
    "activities": "activities",
    "audit_log": "admin",
}
ExportEntity = Literal[
    "leads",
    "clients",
    "contacts",
    "tickets",
    "invoices",
    "payments",
    "proposals",
    "products",
    "stock_levels",
    "purchase_orders",
    "sales_orders",
    "activities",
    "audit_log",
]


class FollowUpFilter(Model):
    """The follow-up list's filter (its route takes these as plain parameters)."""

    lead_id: int | None = None
    client_id: int | None = None
    owner_id: int | None = None
    status: FollowUpStatus | None = None
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)


class AuditFilter(Model):
    """The audit log's filter (its route takes these as plain parameters)."""

    actor_id: int | None = None
    entity: str | None = Field(default=None, max_length=50)
    entity_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)
    after: After = None


class ExportState(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"
    expired = "expired"


STATE_WORDS: dict[ExportState, str] = {
    ExportState.pending: "Waiting",
    ExportState.running: "Running",
    ExportState.done: "Done",
    ExportState.failed: "Failed",
    ExportState.cancelled: "Cancelled",
    ExportState.expired: "Expired",
}
# States after which nothing more happens to an export.
FINISHED = frozenset({ExportState.done, ExportState.failed, ExportState.cancelled, ExportState.expired})


class ExportIn(Model):
    """Export `entity`'s list as its filter shows it: `filter` is the list's own query model as JSON
    (LeadQuery for leads ...); paging fields in it (offset, limit, after) are ignored: every row goes."""

    entity: ExportEntity
    format: ExportFormat = "xlsx"
    filter: dict[str, Any] = Field(default_factory=dict, max_length=50)


class ExportOut(Model):
    id: int
    entity: str
    format: str
    filter: dict[str, Any] = Field(default_factory=dict, description="the list's filter, as asked")
    state: ExportState
    rows_done: int
    rows_total: int | None = Field(description="rows the filter matched when the export started")
    size_bytes: int | None
    error: str | None = Field(description="why it failed, in words")
    file_name: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="when a finished file is removed")


class ExportProgress(Model):
    """The data of an "exports.export" live event (sent to the export's owner only)."""

    state: ExportState
    rows_done: int
    rows_total: int | None = None

"""Proposals (quotes) on the wire. Lines have the invoices' shape (LineIn in, LineOut out), so a
proposal converts into an invoice draft line for line. Amounts are Decimal (strings in JSON)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from crm_server.contract.common import After, Model
from crm_server.contract.invoices import LineIn, LineOut

# LineIn / LineOut are the invoices' line shapes, re-exported for the desktop.
__all__ = ["LineIn", "LineOut"]


class ProposalStatus(StrEnum):
    draft = "draft"
    sent = "sent"
    open = "open"
    revised = "revised"
    accepted = "accepted"
    declined = "declined"


S = ProposalStatus
# Where a proposal may go from each status. Editing the lines of a sent or open proposal makes it
# revised by itself; a revised one is sent again.
ALLOWED_MOVES: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    S.draft: frozenset({S.sent}),
    S.sent: frozenset({S.open, S.revised, S.accepted, S.declined}),
    S.open: frozenset({S.revised, S.accepted, S.declined}),
    S.revised: frozenset({S.sent, S.accepted, S.declined}),
    S.accepted: frozenset(),
    S.declined: frozenset(),
}
# Not decided yet: these can expire.
LIVE_STATUSES = (S.draft, S.sent, S.open, S.revised)


class ProposalIn(BaseModel):
    """Exactly one of lead_id and client_id."""

    lead_id: int | None = None
    client_id: int | None = None
    title: str | None = Field(default=None, max_length=300)
    currency: str | None = Field(default=None, description="ISO 4217; defaults to sales.base_currency")
    valid_until: date | None = Field(default=None, description="defaults to 30 days from today")
    notes: str | None = Field(default=None, max_length=5000)
    lines: list[LineIn] = Field(default_factory=list, max_length=500)


class ProposalUpdate(BaseModel):
    """Changes; `lines`, when given, replace all lines. Changing the lines (or currency, lead or
    client) of a sent or open proposal makes it revised. Accepted and declined ones are final."""

    version: int
    lead_id: int | None = None
    client_id: int | None = None
    title: str | None = Field(default=None, max_length=300)
    currency: str | None = None
    valid_until: date | None = None
    notes: str | None = Field(default=None, max_length=5000)
    lines: list[LineIn] | None = Field(default=None, max_length=500)


class StatusIn(BaseModel):
    version: int
    status: ProposalStatus


class ProposalOut(Model):
    id: int
    number: str | None
    status: ProposalStatus
    revision: int
    lead_id: int | None
    client_id: int | None
    party_name: str = Field(default="", description="the client's name, or the lead's person and company")
    title: str | None
    currency: str
    valid_until: date
    notes: str | None
    net_total: Decimal
    tax_total: Decimal
    gross_total: Decimal
    owner_id: int | None
    team_id: int | None
    sent_at: datetime | None
    accepted_by: int | None
    accepted_at: datetime | None
    declined_by: int | None
    declined_at: datetime | None
    converted_invoice_id: int | None
    converted_invoice_number: str | None = None  # none while that invoice is a draft
    created_at: datetime
    updated_at: datetime
    version: int
    lines: list[LineOut] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]  # mypy takes no decorator over @property (pydantic says so)
    @property
    def expired(self) -> bool:
        """Not decided and past its valid-until date."""
        return self.status in LIVE_STATUSES and self.valid_until < date.today()


ProposalSort = Literal[
    "number",
    "-number",
    "valid_until",
    "-valid_until",
    "gross_total",
    "-gross_total",
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
]


class ProposalQuery(BaseModel):
    status: ProposalStatus | None = None
    client_id: int | None = None
    lead_id: int | None = None
    q: str | None = Field(
        default=None, max_length=200, description="part of the number, the title, or the client's or lead's name"
    )
    sort: ProposalSort = "-created_at"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)
    after: After = None


class ConversionOut(Model):
    """Whether the proposal can become an invoice draft now, and if not, why (shown by the button)."""

    possible: bool
    reason: str | None = None
    code: str | None = None
    invoice_id: int | None = None

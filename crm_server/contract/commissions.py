"""Commissions on the wire (issue #25): policies with marginal tiers, commission rows and their
statuses, the payout report and a partner's summary. Decimal amounts are strings in JSON."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import After, Model

Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
Amount = Annotated[Decimal, Field(gt=0, le=Decimal("999999999999.99"), max_digits=14, decimal_places=2)]
Basis = Literal["percent", "fixed"]
Status = Literal["pending", "approved", "paid"]
Kind = Literal["earned", "manual", "reversal"]

STATUS_WORDS: dict[str, str] = {"pending": "Pending", "approved": "Approved", "paid": "Paid"}
KIND_WORDS: dict[str, str] = {"earned": "Earned", "manual": "Added by hand", "reversal": "Reversal"}
BASIS_WORDS: dict[str, str] = {"percent": "Percent of paid net", "fixed": "Fixed per won deal"}


class TierIn(BaseModel):
    """From `threshold` on, `rate` applies (marginal): a percent for percent policies, an amount per
    deal for fixed ones (whose threshold is the deal's number in the month, 1 = the first)."""

    threshold: Decimal = Field(ge=0, le=Decimal("999999999999.99"), max_digits=14, decimal_places=2)
    rate: Decimal = Field(ge=0, le=Decimal("9999999999.9999"), max_digits=14, decimal_places=4)


class MemberIn(BaseModel):
    """A person, a team or a partner the policy applies to: exactly one of the three."""

    user_id: Id | None = None
    team_id: Id | None = None
    partner_id: Id | None = None


class PolicyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    basis: Basis
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="defaults to the base currency")
    wait_days: int = Field(default=0, ge=0, le=3650, description="days after the payment before it counts")
    starts_on: date | None = Field(
        default=None, description="payments paid on or after this day count (default: the first of this month)"
    )
    all_staff: bool = False
    all_partners: bool = False
    active: bool = True
    tiers: list[TierIn] = Field(min_length=1, max_length=20)
    members: list[MemberIn] = Field(default_factory=list, max_length=500)


class PolicyUpdate(PolicyIn):
    version: int = Field(ge=1, le=2**31 - 1)


class MemberOut(Model):
    user_id: int | None = None
    team_id: int | None = None
    partner_id: int | None = None
    name: str = ""


class TierOut(Model):
    threshold: Decimal
    rate: Decimal


class PolicyOut(Model):
    id: int
    name: str
    basis: Basis
    currency: str
    wait_days: int
    starts_on: date
    all_staff: bool
    all_partners: bool
    active: bool
    version: int
    tiers: list[TierOut]
    members: list[MemberOut]


class CommissionOut(Model):
    id: int
    kind: Kind
    status: Status
    policy_id: int | None
    policy_name: str | None = None
    user_id: int | None
    partner_id: int | None
    beneficiary: str = ""
    invoice_id: int
    invoice_number: str | None = None
    payment_id: int | None
    lead_id: int | None
    reverses_id: int | None
    month: date
    base_amount: Decimal
    amount: Decimal
    currency: str
    note: str | None
    created_at: datetime
    approved_at: datetime | None
    paid_at: datetime | None


CommissionSort = Literal["created_at", "-created_at", "month", "-month", "amount", "-amount"]


class CommissionQuery(BaseModel):
    status: Status | None = None
    month_from: date | None = None
    month_to: date | None = None
    user_id: Id | None = None
    partner_id: Id | None = None
    q: str | None = Field(default=None, max_length=200, description="part of the invoice number or the name")
    sort: CommissionSort = "-created_at"
    offset: int = Field(default=0, ge=0, le=2**31 - 1)
    limit: int = Field(default=100, ge=1, le=500)
    after: After = None


class ManualIn(BaseModel):
    """A commission added by hand for an invoice made by hand (not from a proposal)."""

    invoice_id: Id
    user_id: Id | None = None
    partner_id: Id | None = None
    amount: Amount
    note: str = Field(min_length=1, max_length=500, description="why (kept on the row and in the audit)")


class PayoutRow(Model):
    """One beneficiary in one month and currency: what is pending, approved and paid."""

    kind: Literal["user", "partner"]
    id: int
    name: str
    month: date
    currency: str
    pending: Decimal
    approved: Decimal
    paid: Decimal
    total: Decimal


class PayoutOut(Model):
    month_from: date
    month_to: date
    rows: list[PayoutRow]


class MonthSummary(Model):
    month: date
    currency: str
    earned: Decimal
    pending: Decimal
    paid: Decimal


class PartnerSummary(Model):
    """A partner's commissions for the portal: earned (every row, reversals netted), of which still
    pending (pending or approved) and paid; by month, newest first."""

    currency: str | None
    earned: Decimal
    pending: Decimal
    paid: Decimal
    months: list[MonthSummary]


class CalculateOut(Model):
    """What the daily calculation did."""

    earned: int
    reversed: int

"""Sales targets on the wire: per person or per team, per month, in the base currency (Decimal as
strings in JSON)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import Model

Id = Field(default=None, ge=1, le=2**63 - 1)


class TargetIn(BaseModel):
    """Set one target: name a person (user_id) or a team (team_id), not both; amount 0 is a target of 0
    (DELETE removes one)."""

    month: date = Field(description="any day of the month")
    user_id: int | None = Id
    team_id: int | None = Id
    amount: Decimal = Field(ge=0, le=Decimal("999999999999.99"), max_digits=14, decimal_places=2)


class TargetOut(Model):
    id: int
    month: date
    user_id: int | None
    team_id: int | None
    amount: Decimal
    currency: str


class TargetRow(Model):
    """A person or a team in a month: its target (None: none set) and what it won that month."""

    kind: Literal["user", "team"]
    id: int = Field(description="the user's or the team's id")
    name: str
    team_name: str | None = None
    target_id: int | None = None
    target: Decimal | None = None
    won: Decimal


class TargetsOut(Model):
    month: date
    currency: str
    can_edit: bool
    rows: list[TargetRow] = Field(description="the teams first, then the people, by name")

"""Partners on the wire (the office side): partner companies with their managing salesperson, their
portal users, and which partner a lead is credited to. The portal itself speaks HTML, not this."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import Model

Id = Field(default=None, ge=1, le=2**63 - 1)
RegistrationState = Literal["registered", "needs_review", "lapsed", "won", "lost", "rejected"]


class PartnerIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    managing_user_id: int | None = Id
    email: str = Field(default="", max_length=320)
    phone: str = Field(default="", max_length=50)
    notes: str = Field(default="", max_length=5000)
    active: bool = True
    share_values: bool = Field(default=False, description="the portal shows the value of won leads")


class PartnerOut(Model):
    id: int
    name: str
    managing_user_id: int | None
    managing_user_name: str | None = None
    email: str
    phone: str
    notes: str
    active: bool
    share_values: bool
    users: int = 0
    leads: int = 0
    updated_at: datetime


class PartnerUserIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    full_name: str = Field(min_length=1, max_length=200)
    active: bool = True


class PartnerUserOut(Model):
    id: int
    partner_id: int
    email: str
    full_name: str
    active: bool
    has_password: bool
    totp_enabled: bool
    invited_at: datetime | None
    last_login_at: datetime | None
    locked: bool = False


class InviteOut(Model):
    """The invitation is e-mailed by a job: `expires_at` says until when its link works."""

    partner_user_id: int
    expires_at: datetime


class RegistrationOut(Model):
    """Which partner a lead is credited to, and how its registration stands."""

    id: int
    partner_id: int
    partner_name: str
    partner_user_name: str | None
    lead_id: int | None
    state: RegistrationState
    protected_until: datetime | None
    created_at: datetime


class LeadPartnerOut(Model):
    """A lead's partner for the lead window: None when no partner registered it."""

    registration: RegistrationOut | None = None


class ReviewOut(Model):
    """A registration as the office reviews it: what the partner typed and who sent it."""

    id: int
    partner_id: int
    partner_name: str
    partner_user_name: str | None
    state: RegistrationState
    lead_id: int | None
    company: str
    contact: str
    email: str
    phone: str
    interest: str
    notes: str
    created_at: datetime

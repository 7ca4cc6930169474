"""Clients (companies) and their contacts on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import After, Model, VersionIn


class RecordWarning(Model):
    """Saved, but look: a likely duplicate, a similar name, a repeated submit. Never a refusal."""

    code: str  # similar_name, possible_duplicate, repeated_submit
    message: str
    client_id: int | None = None
    lead_id: int | None = None
    reasons: list[str] = Field(default_factory=list)  # email, phone, company, name


class ContactIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    position: str | None = Field(default=None, max_length=200)


class ContactUpdate(VersionIn):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    position: str | None = Field(default=None, max_length=200)


class ContactOut(Model):
    id: int
    client_id: int
    name: str
    email: str | None
    phone: str | None
    position: str | None
    created_at: datetime
    version: int


class ContactRow(ContactOut):
    """A contact in a list of several clients' contacts (the contacts export)."""

    client_name: str


class ClientIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    vat_number: str | None = Field(default=None, max_length=50)
    address: str | None = Field(default=None, max_length=2000)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=320)
    website: str | None = Field(default=None, max_length=300)
    owner_id: int | None = Field(default=None, description="defaults to the creator")
    team_id: int | None = Field(default=None, description="defaults to the owner's team")
    is_vendor: bool = False
    contacts: list[ContactIn] = Field(default_factory=list, max_length=50)


class ClientUpdate(VersionIn):
    name: str | None = Field(default=None, min_length=1, max_length=300)
    vat_number: str | None = Field(default=None, max_length=50)
    address: str | None = Field(default=None, max_length=2000)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=320)
    website: str | None = Field(default=None, max_length=300)
    owner_id: int | None = None
    team_id: int | None = None
    is_vendor: bool | None = None


class ClientOut(Model):
    id: int
    name: str
    vat_number: str | None
    address: str | None
    phone: str | None
    email: str | None
    website: str | None
    owner_id: int | None
    team_id: int | None
    is_vendor: bool
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    contacts: list[ContactOut] = Field(default_factory=list)
    warnings: list[RecordWarning] = Field(default_factory=list)


ClientSort = Literal["name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"]


class ClientQuery(BaseModel):
    """Filters, sort and page of the client list."""

    q: str | None = Field(default=None, max_length=200)
    owner_id: int | None = None
    team_id: int | None = None
    is_vendor: bool | None = None
    archived: bool = Field(default=False, description="true lists the archived ones instead")
    sort: ClientSort = "name"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)
    after: After = None

"""E-mail from the CRM on the wire (issue #22): templates with merge tags, composing from a record,
sender identities, the suppression list."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from crm_server.contract.common import Model
from crm_server.contract.tickets import AttachmentIn

MAX_BODY = 100_000
MAX_EMAIL_ATTACHMENTS_BYTES = 10 * 1024 * 1024  # the tickets' attachment limit, for all files together


class EmailEntity(StrEnum):
    lead = "lead"
    client = "client"
    invoice = "invoice"
    ticket = "ticket"


class Visibility(StrEnum):
    private = "private"
    team = "team"
    everyone = "everyone"


# The merge tags each entity's templates may use; {{owner.*}} is the sender.
OWNER_TAGS = ("owner.full_name", "owner.email", "owner.signature", "company.name")
MERGE_TAGS: dict[str, tuple[str, ...]] = {
    "lead": ("lead.person_name", "lead.company", "lead.email", "lead.phone", *OWNER_TAGS),
    "client": ("client.name", "client.email", "client.phone", *OWNER_TAGS),
    "invoice": ("invoice.number", "invoice.total", "invoice.due_date", "client.name", *OWNER_TAGS),
    "ticket": ("ticket.number", "ticket.subject", "client.name", *OWNER_TAGS),
}


class TemplateIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    entity: EmailEntity
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    visibility: Visibility = Visibility.private


class TemplateOut(Model):
    id: int
    name: str
    entity: EmailEntity
    subject: str
    body: str
    visibility: Visibility
    team_id: int | None
    owner_id: int | None
    updated_at: datetime


class PreviewIn(BaseModel):
    """A template (saved or not) against a real record."""

    entity_id: int = Field(ge=1, le=2**63 - 1)
    template_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    subject: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, max_length=MAX_BODY)
    to: str | None = Field(default=None, max_length=320)  # warned about when it is suppressed


class PreviewOut(BaseModel):
    to: str | None
    subject: str
    text: str
    html: str
    warnings: list[str] = []
    remaining_today: int


class ComposeIn(BaseModel):
    entity: EmailEntity
    entity_id: int = Field(ge=1, le=2**63 - 1)
    template_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    to: str = Field(min_length=1, max_length=320)
    cc: list[str] = Field(default=[], max_length=20)
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    attachments: list[AttachmentIn] = Field(default=[], max_length=10)


class EmailStatus(StrEnum):
    queued = "queued"
    sent = "sent"
    failed = "failed"
    # what a report about it said later (crm_server/emails/bounces.py); `error` says why
    bounced = "bounced"
    soft_bounced = "soft_bounced"
    complained = "complained"


class OutboundOut(Model):
    id: int
    entity: EmailEntity
    entity_id: int
    to_addr: str
    cc: str
    subject: str
    status: EmailStatus
    error: str | None
    message_id: str
    is_test: bool
    created_at: datetime
    sent_at: datetime | None


class IdentityIn(BaseModel):
    display_name: str = Field(default="", max_length=200)
    reply_to: str = Field(default="", max_length=320)
    signature: str = Field(default="", max_length=5000)


class IdentityOut(Model):
    display_name: str
    reply_to: str
    signature: str


class SuppressionIn(BaseModel):
    address: str = Field(min_length=3, max_length=320)
    reason: str = Field(min_length=1, max_length=1000)


class SuppressionOut(Model):
    id: int
    address: str
    reason: str
    source: str
    created_by: int | None
    created_at: datetime


class DnsRecord(BaseModel):
    """One TXT record IT publishes for the company's mail (SPF, DKIM or DMARC)."""

    purpose: str
    type: str = "TXT"
    name: str
    value: str
    note: str = ""


class DkimOut(BaseModel):
    """DKIM signing's state and the records to publish; the private key is never part of it."""

    enabled: bool
    domain: str
    selector: str
    has_key: bool
    records: list[DnsRecord]
    warnings: list[str] = []


class DkimCheckOut(BaseModel):
    ok: bool
    message: str

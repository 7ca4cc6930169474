"""Support tickets on the wire: tickets, moves through the status graph, assignment, comments,
attachments (base64 in JSON), categories and the board."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import After, Guarded, Model, Position, VersionIn

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


class TicketStatus(StrEnum):
    new = "new"
    assigned = "assigned"
    in_process = "in_process"
    pending_customer = "pending_customer"
    resolved = "resolved"  # needs a resolution note
    deployed = "deployed"
    closed = "closed"


class Priority(StrEnum):
    normal = "normal"
    high = "high"
    critical = "critical"


# Which moves the status graph allows; reopening (from resolved or closed) goes to in_process or assigned.
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.new: frozenset({TicketStatus.assigned}),
    TicketStatus.assigned: frozenset({TicketStatus.in_process}),
    TicketStatus.in_process: frozenset({TicketStatus.pending_customer, TicketStatus.resolved}),
    TicketStatus.pending_customer: frozenset({TicketStatus.in_process, TicketStatus.resolved}),
    TicketStatus.resolved: frozenset(
        {TicketStatus.deployed, TicketStatus.closed, TicketStatus.in_process, TicketStatus.assigned}
    ),
    TicketStatus.deployed: frozenset({TicketStatus.closed}),
    TicketStatus.closed: frozenset({TicketStatus.in_process, TicketStatus.assigned}),
}
OPEN_STATUSES = frozenset(
    {TicketStatus.new, TicketStatus.assigned, TicketStatus.in_process, TicketStatus.pending_customer}
)


# --- categories ----------------------------------------------------------------------------------


class CategoryOut(Model):
    id: int
    name: str
    team_id: int | None
    position: int
    active: bool
    version: int


class CategoryIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    team_id: int | None = None
    position: Position | None = None
    active: bool = True


class CategoryUpdate(VersionIn):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    team_id: int | None = None
    position: Position | None = None
    active: bool | None = None


# --- tickets -------------------------------------------------------------------------------------


class AttachmentIn(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(default="application/octet-stream", max_length=200)
    data: str = Field(description="the file, base64-encoded (at most 10 MB once decoded)")


class TicketIn(BaseModel):
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=100_000)
    client_id: int | None = None
    contact_id: int | None = None
    requester_email: str | None = Field(default=None, max_length=320)
    priority: Priority = Priority.normal
    category_id: int | None = Field(default=None, description="default: General")
    team_id: int | None = Field(default=None, description="default: the category's team")
    tags: list[str] = Field(default_factory=list, max_length=30)


class TicketUpdate(VersionIn, Guarded):
    """Fields to change (status through /move, the assignee through /assign)."""

    subject: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=100_000)
    client_id: int | None = None
    contact_id: int | None = None
    requester_email: str | None = Field(default=None, max_length=320)
    priority: Priority | None = None
    category_id: int | None = None
    team_id: int | None = None
    tags: list[str] | None = Field(default=None, max_length=30)


class MoveIn(VersionIn):
    status: TicketStatus
    resolution: str | None = Field(default=None, max_length=20_000, description="required to resolve")


class AssignIn(VersionIn):
    assignee_id: int | None = Field(description="null unassigns")


class TicketOut(Model):
    id: int
    number: int
    subject: str
    description: str
    client_id: int | None
    client_name: str | None = None
    contact_id: int | None
    requester_email: str | None
    priority: Priority
    category_id: int | None
    team_id: int | None
    assignee_id: int | None
    assignee_name: str | None = None
    status: TicketStatus
    tags: list[str]
    created_by: int | None
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    breach_notified_at: datetime | None
    resolution: str | None
    status_changed_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


TicketSort = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "priority",
    "-priority",
    "first_response_due_at",
    "-first_response_due_at",
    "number",
    "-number",
]


class TicketFilters(BaseModel):
    status: TicketStatus | Literal["open"] | None = Field(
        default=None, description='one status, or "open": new, assigned, in process or pending the customer'
    )
    priority: Priority | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    category_id: int | None = None
    client_id: int | None = None
    breaching: bool = Field(default=False, description="open, not answered, due within 30 minutes or past")
    mine: bool = Field(default=False, description="assigned to me")
    urgent: bool = Field(default=False, description="high or critical priority, or breaching")
    archived: bool = Field(default=False, description="true lists archived tickets instead")
    q: str | None = Field(default=None, max_length=200, description="a number (#1234) or words of the subject")


class TicketQuery(TicketFilters):
    sort: TicketSort = "-created_at"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)
    after: After = None


# --- comments and attachments --------------------------------------------------------------------


class AttachmentOut(Model):
    id: int
    ticket_id: int
    comment_id: int | None
    filename: str
    content_type: str
    size: int
    uploaded_by: int | None
    created_at: datetime


class CommentIn(BaseModel):
    body: str = Field(min_length=1, max_length=100_000)
    public: bool = Field(default=False, description="public comments are emailed to the customer")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)


class CommentOut(Model):
    id: int
    ticket_id: int
    author_id: int | None
    author_name: str | None = Field(default=None, description="the staff author's name (null: the customer wrote it)")
    author_email: str | None
    body: str
    public: bool
    created_at: datetime
    attachments: list[AttachmentOut] = Field(default_factory=list)


# --- the board -----------------------------------------------------------------------------------


class BoardCard(Model):
    id: int
    number: int
    subject: str
    priority: Priority
    assignee_id: int | None
    assignee_name: str | None = None
    team_id: int | None
    client_id: int | None = None
    client_name: str | None = None
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    created_at: datetime
    version: int


class BoardColumn(Model):
    status: TicketStatus
    count: int
    cards: list[BoardCard]


class Board(Model):
    columns: list[BoardColumn]

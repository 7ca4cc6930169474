"""Notes, follow-ups, the timeline and notification preferences on the wire."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from crm_server.contract.admin import AuditChange
from crm_server.contract.common import Model

# Kinds of notification a user may switch off, with what the preferences screen calls them.
NOTIFICATION_KINDS: dict[str, str] = {
    "lead_assigned": "A lead is assigned to me",
    "lead_won": "A lead of my team is won",
    "records_reassigned": "Records of a colleague are handed to me",
    "follow_up_soon": "A follow-up is due in an hour",
    "follow_up_due": "A follow-up is due now",
    "follow_up_overdue": "A follow-up is a day overdue",
    "ticket_assigned": "A ticket is assigned to me",
    "ticket_sla_breached": "A ticket of my team is past its first-response time",
    "ticket_reply": "A customer writes on a ticket that is already done",
    "stock_low": "A product's available stock falls below its low-stock threshold",
    "import_done": "An import I started is done",
}


class FollowUpKind(StrEnum):
    call = "call"
    email = "email"
    whatsapp = "whatsapp"
    meeting = "meeting"


class FollowUpStatus(StrEnum):
    open = "open"
    done = "done"
    cancelled = "cancelled"


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=20000)


class NoteOut(Model):
    id: int
    lead_id: int | None
    client_id: int | None
    author_id: int | None
    body: str
    created_at: datetime


class FollowUpIn(BaseModel):
    lead_id: int | None = None
    client_id: int | None = None
    kind: FollowUpKind
    due_at: AwareDatetime
    notes: str = Field(default="", max_length=5000)
    owner_id: int | None = Field(default=None, description="defaults to the record's owner, else the creator")

    @model_validator(mode="after")
    def _one_parent(self) -> FollowUpIn:
        if (self.lead_id is None) == (self.client_id is None):
            raise ValueError("give either lead_id or client_id")
        return self


class NextFollowUp(BaseModel):
    kind: FollowUpKind
    due_at: AwareDatetime
    notes: str = Field(default="", max_length=5000)


class FollowUpUpdate(BaseModel):
    version: int
    kind: FollowUpKind | None = None
    notes: str | None = Field(default=None, max_length=5000)
    owner_id: int | None = None


class CompleteFollowUp(BaseModel):
    version: int
    outcome: str = Field(default="", max_length=5000)
    next: NextFollowUp | None = Field(default=None, description="the next follow-up, created in the same step")


class RescheduleFollowUp(BaseModel):
    version: int
    due_at: AwareDatetime
    reason: str = Field(min_length=1, max_length=1000)


class CancelFollowUp(BaseModel):
    version: int
    reason: str = Field(default="", max_length=1000)


class FollowUpOut(Model):
    id: int
    lead_id: int | None
    client_id: int | None
    kind: FollowUpKind
    due_at: datetime
    notes: str
    owner_id: int | None
    team_id: int | None
    status: FollowUpStatus
    outcome: str | None
    completed_at: datetime | None
    created_at: datetime
    version: int
    subject: str | None = None  # who it is about: "Ana Pop (Acme SRL)" or the client's name
    owner_name: str | None = None  # whose it is, in words (the week of "Everyone" groups by it)


class CompleteResult(Model):
    done: FollowUpOut
    next: FollowUpOut | None = None


class MyDay(Model):
    """Today's open follow-ups and the overdue ones, for the caller, in their time zone."""

    date: str
    time_zone: str
    overdue: list[FollowUpOut]
    today: list[FollowUpOut]


class TimelineItem(Model):
    """One thing that happened to a record: a note, a follow-up, a status change, an edit."""

    at: datetime
    kind: str  # note, follow_up, status_change, created, updated, archived, restored, merged, converted, ...
    entity: str  # which record it is about: lead, client, follow_up, note
    entity_id: int
    actor_id: int | None
    actor_name: str | None = None
    text: str | None = None
    changes: list[AuditChange] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)


class NotificationPreference(Model):
    kind: str
    label: str
    enabled: bool


class NotificationPreferencesIn(BaseModel):
    enabled: dict[str, bool] = Field(description="kind -> on/off; kinds not named keep their setting")

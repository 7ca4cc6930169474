"""WhatsApp on the wire: a record's opt-in, its 24-hour window, templates, messages, sending."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import Model

MessageStatus = Literal["queued", "sent", "delivered", "read", "failed", "received"]
STATUS_WORDS = {
    "queued": "Waiting to be sent",
    "sent": "Sent",
    "delivered": "Delivered",
    "read": "Read",
    "failed": "Failed",
    "received": "Received",
}


class OptInIn(BaseModel):
    method: str = Field(min_length=1, max_length=200, description="how consent was given, e.g. 'web form'")


class OptInOut(Model):
    phone: str
    opted_in_at: datetime | None = None
    method: str | None = None
    recorded_by: int | None = None
    opted_out_at: datetime | None = None


class TemplateOut(Model):
    id: int
    name: str
    language: str
    category: str
    status: str  # APPROVED, PENDING, REJECTED, PAUSED, ...
    body: str
    reason: str | None = None


class Conversation(Model):
    """What the composer needs: the number, consent, the window and what may be sent now, and why."""

    phone: str | None
    opt_in: OptInOut | None = None
    window_open: bool
    window_ends_at: datetime | None = None
    can_send: bool
    free_text: bool  # free text allowed now (inside the 24 h window)
    reason: str  # in words: why only templates, or why nothing
    templates: list[TemplateOut] = Field(default_factory=list)  # approved ones


class MessageIn(BaseModel):
    text: str | None = Field(default=None, max_length=4096)
    template: str | None = Field(default=None, max_length=512)
    language: str | None = Field(default=None, max_length=20)


class MessageOut(Model):
    id: int
    lead_id: int | None
    client_id: int | None
    phone: str
    direction: Literal["in", "out"]
    template_name: str | None = None
    body: str
    status: MessageStatus
    error: str | None = None
    wamid: str | None = None
    created_at: datetime
    status_at: datetime | None = None

"""Integrations on the wire: each provider's state for the admin panel, and the webhook inbox's
events (the event browser)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from crm_server.contract.common import After, Model

Provider = Literal["facebook", "forms", "woocommerce", "stripe", "whatsapp"]
PROVIDERS: tuple[Provider, ...] = get_args(Provider)
PROVIDER_LABELS = {
    "facebook": "Facebook Lead Ads",
    "forms": "Website forms",
    "woocommerce": "WooCommerce",
    "stripe": "Stripe",
    "whatsapp": "WhatsApp Business",
}

EventStatus = Literal[
    "pending",  # stored, waiting for its job (or for its next retry: see next_attempt_at)
    "processed",  # done: `outcome` says what it made
    "ignored",  # acknowledged on purpose and not acted on (a kind of event the CRM does not use)
    "failed",  # the last attempt failed; retried with backoff, can be replayed
    "needs_attention",  # waits for a person (unknown invoice, expired token): replay after fixing it
    "rejected",  # refused at the door (bad signature, malformed body): logged, never processed
]
EVENT_STATUSES: tuple[str, ...] = get_args(EventStatus)

State = Literal["not_configured", "connected", "needs_attention", "needs_reauthorization"]
STATE_LABELS = {
    "not_configured": "Not configured",
    "connected": "Connected",
    "needs_attention": "Needs attention",
    "needs_reauthorization": "Needs re-authorization",
}


class ProviderState(Model):
    provider: Provider
    label: str
    state: State
    reason: str | None = None  # why it needs attention, in words
    webhook_path: str  # where the provider posts, e.g. /webhooks/facebook
    settings: list[str] = Field(default_factory=list)  # its keys in /api/settings, in display order
    last_event_at: datetime | None = None
    error_count: int = 0  # events failed or needing attention now
    pending_count: int = 0


class InboxEventOut(Model):
    id: int
    provider: str
    event_id: str | None  # the provider's id; none for a rejected request
    event_type: str
    status: EventStatus
    received_at: datetime
    processed_at: datetime | None = None
    next_attempt_at: datetime | None = None
    attempts: int = 0
    error: str | None = None
    outcome: str | None = None  # what processing did, in words ("Created lead #12")
    remote: str | None = None


class InboxEventDetail(InboxEventOut):
    headers: dict[str, str] = Field(default_factory=dict)  # as received, signatures masked
    body: str = ""  # the raw request body (UTF-8, undecodable bytes replaced)
    payload: dict[str, Any] = Field(default_factory=dict)  # the part of the body this event is about
    # A refused request (only its first 4 KB are kept as `body`): the whole body's size in bytes and
    # SHA-256 (hex). No SHA-256 beside a size: the body was never read (too large) and the size is
    # the one the sender declared in its Content-Length (the error says so too).
    body_size: int | None = None
    body_sha256: str | None = None


class EventQuery(BaseModel):
    provider: Provider | None = None
    status: EventStatus | None = None
    q: str | None = Field(default=None, max_length=200, description="event id, type, outcome or error contains")
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)
    after: After = None


class TestResult(Model):
    ok: bool
    message: str
    event: InboxEventOut | None = None  # the test event as the inbox stored it


class WebhookAnswer(Model):
    """What a provider gets back with its 2xx."""

    accepted: int  # events stored now
    duplicates: int = 0  # events seen before (changed nothing)
    ids: list[int] = Field(default_factory=list)  # the inbox's ids of the events stored now


class MatchIn(BaseModel):
    """ "Match to invoice…": the CRM invoice a waiting payment event is for."""

    invoice_id: int = Field(ge=1, le=2**63 - 1)

"""What the campaign engine hands a channel: the campaign as it was when the batch began, and one
message to send. A channel (e-mail here; WhatsApp can register its own) is an async context manager
factory `open_sender(snapshot)` yielding `deliver(outgoing)`, which raises ChannelError on failure."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

# The batch's Database while it runs (set by engine.run_batch), for a channel that records its own
# hand-offs in its tables (WhatsApp keeps each message with Meta's id for the status webhooks).
BATCH_DB: ContextVar[Any] = ContextVar("campaign_batch_db")


class ChannelError(Exception):
    """The channel refused or failed this message: it is marked failed with these words."""


@dataclass(frozen=True)
class Snapshot:
    id: int
    channel: str
    entity: str
    subject: str
    body: str
    secret: str
    limits: dict[str, int | None]
    public_url: str
    sender: str
    sender_name: str
    links: list[str]
    smtp: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outgoing:
    recipient_id: int
    entity: str
    entity_id: int
    address: str
    message_id: str
    subject: str
    text: str
    open_token: str
    unsubscribe_token: str
    click_tokens: list[str]

"""The inbound email pipe on the wire: the webhook's answer and the admin panel's pipe log."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from crm_server.contract.common import Model

# created / appended: processed. The refusals are kept in the log and can be replayed.
Outcome = Literal[
    "received",  # stored, not processed yet (only seen while a request is running)
    "created",  # a new ticket
    "appended",  # a public comment on an existing ticket
    "unregistered",  # refused: the sender is no contact or client and only registered ones may write
    "replies_only",  # refused: only replies to existing tickets are accepted
    "limit_exceeded",  # refused: too many messages from this address in the window
    "ticket_not_found",  # refused: the subject names a ticket that does not exist
    "malformed",  # refused: unreadable, no sender, wrong content type
    "rejected",  # refused by the tickets service's own validation (the error says why)
    "failed",  # the server failed to process it; kept, retried on redelivery, can be replayed
    "bad_token",  # refused: the webhook's shared secret was wrong (the body is not kept)
    "bounce",  # a delivery status notification (RFC 3464) about a message we sent: recorded
    "complaint",  # an abuse report (ARF, RFC 5965) about a message we sent: the address is suppressed
    "report_ignored",  # a report that names nothing we sent, or where nothing failed (the error says which)
    "threaded",  # a reply to a message sent from a lead or a client: on that record's timeline
]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
PROCESSED = ("created", "appended", "bounce", "complaint", "threaded")


class PipeResult(Model):
    """What the webhook answers (with 200) and what `crm-server pipe-email` prints."""

    log_id: int
    outcome: Outcome
    message: str
    ticket_id: int | None = None
    ticket_number: int | None = None
    duplicate: bool = False  # the Message-ID was seen before: this is the first delivery's outcome


class PipeLogEntry(Model):
    id: int
    received_at: datetime
    processed_at: datetime | None
    source: str
    remote: str | None
    message_id: str | None
    in_reply_to: str | None
    sender: str
    subject: str
    outcome: Outcome
    error: str | None
    ticket_id: int | None
    ticket_number: int | None
    attempts: int
    raw_size: int

"""What every provider module gives the inbox: how to split a verified webhook body into events,
and a handler per event type. The inbox (inbox.py) stores, dedupes, retries and logs; a provider
module only knows its own format and which service to call.

A provider module (facebook.py, woocommerce.py, stripe.py, forms.py) exposes:
    def events(headers: Mapping[str, str], body: bytes) -> list[Incoming]   # raises Malformed
    HANDLERS: dict[str, Handler]      # event type -> handler
    IGNORED: frozenset[str]           # event types acknowledged and deliberately not acted on
An event type in neither is an explicit error on the event ("unknown event type"), never a silence."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Incoming:
    """One unit of work found in a webhook request: unique per provider by `event_id`."""

    event_id: str
    event_type: str
    payload: dict[str, Any] = field(default_factory=dict)


class Malformed(ValueError):
    """The body cannot be read as this provider's format: 400, logged, nothing stored as work."""


class BadSignature(ValueError):
    """The signature is missing, wrong or stale: 401, logged in the security log."""


class NeedsAttention(Exception):
    """The event cannot be processed until a person acts (an unknown invoice, an expired token).
    Not retried by itself; replayed from the admin panel once the cause is fixed. `reauthorize`
    also turns the provider's state to "Needs re-authorization"."""

    def __init__(self, reason: str, *, reauthorize: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reauthorize = reauthorize


# A handler runs inside the job's transaction (in a savepoint the inbox rolls back on error) and
# returns what it did in words for the event browser, e.g. "Created lead #12". Any other exception
# is a transient failure: the inbox keeps the error and retries with backoff.
Handler = Callable[[AsyncSession, dict[str, Any]], Awaitable[str]]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by its lower-case name, whatever case the caller's mapping keeps."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None

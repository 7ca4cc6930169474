"""Live events pushed over the WebSocket /api/events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from crm_server.contract.common import Model


class LiveEvent(Model):
    """One committed change. `seq` only grows; send the last one you saw to resume without gaps."""

    seq: int
    at: datetime
    module: str
    entity: str
    entity_id: int
    action: str  # created, updated, deleted, archived, ...
    actor_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Hello(Model):
    """First frame on a connection: the newest sequence the server has."""

    type: str = "hello"
    last_seq: int

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


# Events about the server itself (every signed-in user gets them): LiveEvent with module "server",
# entity "server", entity_id 0 and one of these actions. "restoring": an in-place restore of a
# backup has begun (say so; requests may fail until it ends). "restored": the data were replaced;
# a {"type": "reset"} frame follows and the server closes the stream with code 1012 (service
# restart): reconnect and reload everything, never resume from older events. "restore_failed":
# the restore stopped and the live data were kept.
SERVER_MODULE = "server"
SERVER_RESTORING, SERVER_RESTORED, SERVER_RESTORE_FAILED = "restoring", "restored", "restore_failed"
RESTART_CLOSE_CODE = 1012

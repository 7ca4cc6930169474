"""The desktop's outbox: an edit saved while the server is away waits here and is sent once it is back.

An edit (a PATCH: a record's fields) that cannot reach the server, or meets a server whose database
is down (503), is kept with its Idempotency-Key in QSettings (a restart of the desktop keeps it),
per server and user. When the server answers again each waiting edit is sent in order with the
same key, so one whose first answer was lost lands once. A refusal after the return (someone else
changed the record: 409; a rule: 422) keeps the edit, marked failed with the reason in words, until
the person discards it. The status bar shows how many wait (views.outbox_dialog lists them)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from PySide6.QtCore import QObject, QSettings, Signal

from crm_desktop.api.client import ApiClient, ApiError, Offline
from crm_desktop.tasks import spawn

log = logging.getLogger(__name__)

# How often a desktop with waiting edits asks whether the server is back, in seconds.
PROBE_SECONDS = 3.0


class Waiting(BaseModel):
    """One edit kept on this computer."""

    key: str  # its Idempotency-Key: sent again, it is the same edit
    method: str
    path: str
    body: Any = None
    saved_at: datetime
    failed: str | None = None  # why the server refused it once back; None while it waits

    @property
    def what(self) -> str:
        """The record it changes, in words: "Lead 12"."""
        parts = [p for p in self.path.split("/") if p and p != "api"]
        if len(parts) >= 2 and parts[1].isdigit():
            return f"{parts[0].rstrip('s').replace('-', ' ').capitalize()} {parts[1]}"
        return " ".join(parts).replace("-", " ").capitalize() or self.path


class Outbox(QObject):
    changed = Signal()  # the list changed: the status bar counts again
    landed = Signal(object, object)  # Waiting, the server's answer

    def __init__(self, api: ApiClient, user_id: int) -> None:
        super().__init__()
        self.api = api
        digest = hashlib.sha256(api.base_url.encode()).hexdigest()[:16]
        self.settings_key = f"outbox/{digest}/{user_id}"
        self.entries: list[Waiting] = self._load()
        self._sending: asyncio.Task[None] | None = None
        self._closed = False
        api.state_changed.connect(self._state_changed)

    # --- what waits ------------------------------------------------------------------------------

    @property
    def waiting(self) -> list[Waiting]:
        return [e for e in self.entries if e.failed is None]

    @property
    def failed(self) -> list[Waiting]:
        return [e for e in self.entries if e.failed is not None]

    def keep(self, method: str, path: str, body: Any, key: str) -> Waiting:
        entry = Waiting(key=key, method=method, path=path, body=body, saved_at=datetime.now(UTC))
        self.entries.append(entry)
        self._save()
        self.start()
        return entry

    def discard(self, key: str) -> None:
        self.entries = [e for e in self.entries if e.key != key]
        self._save()

    # --- sending ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Send what waits now, and keep asking until the server is back (one task at a time)."""
        if self._closed or not self.waiting or (self._sending is not None and not self._sending.done()):
            return
        self._sending = spawn(self._send_until_empty())

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(RuntimeError, TypeError):
            self.api.state_changed.disconnect(self._state_changed)
        if self._sending is not None:
            self._sending.cancel()

    def _state_changed(self, state: str) -> None:
        if state == "online":
            self.start()

    async def _send_until_empty(self) -> None:
        while not self._closed and self.waiting:
            if await self._send_waiting():
                return
            await asyncio.sleep(PROBE_SECONDS)

    async def _send_waiting(self) -> bool:
        """Send each waiting edit in order; False when the server is still away."""
        for entry in self.waiting:
            try:
                answer = await self.api.request(
                    entry.method, entry.path, json=entry.body, retry=False, keep=False, idempotency_key=entry.key
                )
            except Offline:
                return False
            except ApiError as exc:
                from crm_desktop.operations.errors import describe

                entry.failed = describe(exc)
                log.info("a kept edit of %s was refused: %s", entry.path, entry.failed)
                self._save()
                continue
            self.entries = [e for e in self.entries if e.key != entry.key]
            self._save()
            self.landed.emit(entry, answer)
        return True

    # --- kept in QSettings -----------------------------------------------------------------------

    def _load(self) -> list[Waiting]:
        raw = QSettings().value(self.settings_key)
        if not raw:
            return []
        try:
            return [Waiting.model_validate(item) for item in json.loads(str(raw))]
        except (ValueError, ValidationError):
            log.warning("the kept edits could not be read; they are dropped")
            return []

    def _save(self) -> None:
        settings = QSettings()
        if self.entries:
            settings.setValue(self.settings_key, json.dumps([e.model_dump(mode="json") for e in self.entries]))
        else:
            settings.remove(self.settings_key)
        settings.sync()
        self.changed.emit()

"""One async HTTP client (httpx) for the whole app; server errors become ApiError in one place.

Network loss: the client reports "offline" through `state_changed`, retries safe requests with
backoff (GETs, and POSTs that carry an Idempotency-Key, which the server de-duplicates), and
reports "online" once the server answers again. A 401 asks the app to sign in again
(`reauth_handler`) and the request is retried once with the new token; nothing on screen is lost."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from crm_desktop.outbox import Outbox

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15, 30)
# Requests that carry an Idempotency-Key (the server answers a repeat with the first answer): a
# create, and an edit, which the outbox may send again after its answer was lost.
KEYED_METHODS = ("POST", "PATCH")


class ApiError(Exception):
    """A refusal by the server: {"code", "message", "field"} plus the HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.extra = extra or {}

    @property
    def is_conflict(self) -> bool:
        return self.status == 409 and self.code == "stale_version"

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        extra = {k: v for k, v in body.items() if k not in ("code", "message", "field")}
        return cls(
            response.status_code,
            str(body.get("code", "http_error")),
            str(body.get("message") or f"The server answered {response.status_code}."),
            body.get("field"),
            extra,
        )


class Offline(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(0, "offline", f"Cannot reach the server ({detail}).")


class Unavailable(Offline):
    """The server answers but its database does not (503): as good as offline, for now."""

    def __init__(self, message: str) -> None:
        super().__init__("unavailable")
        self.status, self.code, self.message = 503, "unavailable", message


class Kept(Offline):
    """An edit the server could not take now, kept in the outbox to be sent once it is back."""

    def __init__(self) -> None:
        super().__init__("kept")
        self.code = "kept"
        self.message = "The server is away: your change is kept on this computer and sent once it is back."


SESSION_ENDED = ("session_expired", "session_invalid")


class ApiClient(QObject):
    """Thin async wrapper over httpx with the app's error, retry and re-login rules.

    ``state`` is the app's one view of the connection: requests set it, and so does the live
    event stream (``note_reachable`` / ``note_unreachable``), which notices a lost server first."""

    state_changed = Signal(str)  # "online", "offline", "reconnecting"
    signed_out = Signal()  # the session ended and signing in again did not happen

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 20) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.state = "online"
        # Set by the app: shows the password prompt, returns True once signed in again.
        self.reauth_handler: Callable[[], Awaitable[bool]] | None = None
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)
        # Set by the session: where an edit waits while the server is away (crm_desktop.outbox).
        self.outbox: Outbox | None = None
        self._reauth_lock = asyncio.Lock()

    @property
    def online(self) -> bool:
        return self.state == "online"

    @property
    def events_url(self) -> str:
        scheme, _, rest = self.base_url.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/api/events"

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def note_reachable(self) -> None:
        """The server answered on another channel (the event stream)."""
        self._set_state("online")

    def note_unreachable(self) -> None:
        """Another channel lost the server; requests will retry until it is back."""
        self._set_state("reconnecting")

    async def close(self) -> None:
        await self._http.aclose()

    async def _sign_in_again(self, used_token: str | None) -> bool:
        """One prompt for all requests that hit an ended session at the same time."""
        async with self._reauth_lock:
            if self.token and self.token != used_token:
                return True  # another request already signed in again
            if self.reauth_handler is not None and await self.reauth_handler():
                return True
        self.signed_out.emit()
        return False

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        retry: bool | None = None,
        raw: bool = False,
        keep: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Send one request; returns parsed JSON (or the raw response); raises ApiError.

        ``keep`` (default: for an edit, PATCH): when the server is away, the request goes to the
        outbox and Kept is raised; it goes there at once while earlier edits still wait (in order)."""
        headers: dict[str, str] = {}
        key = idempotency_key or (uuid.uuid4().hex if method in KEYED_METHODS else None)
        if key is not None:
            headers["Idempotency-Key"] = key  # a retry of this call is the same call
        if retry is None:
            retry = method in ("GET", "POST")
        outbox = self.outbox if (method == "PATCH" if keep is None else keep) else None
        if outbox is not None and key is not None and outbox.waiting:
            outbox.keep(method, path, json, key)
            raise Kept()
        # None, not {}: httpx would drop a query string written into the path.
        params = {k: v for k, v in (params or {}).items() if v is not None} or None
        reauthed = False
        attempt = 0
        while True:
            used_token = self.token
            if used_token:
                headers["Authorization"] = f"Bearer {used_token}"
            else:
                headers.pop("Authorization", None)
            try:
                response = await self._http.request(method, path, json=json, params=params, headers=headers)
            except (httpx.TransportError, OSError) as exc:
                if outbox is not None and key is not None:
                    self._set_state("offline")
                    outbox.keep(method, path, json, key)
                    raise Kept() from exc
                if not retry or attempt >= len(RETRY_DELAYS):
                    self._set_state("offline")
                    raise Offline(type(exc).__name__) from exc
                self._set_state("reconnecting")
                await asyncio.sleep(RETRY_DELAYS[attempt])
                attempt += 1
                continue
            if response.status_code == 503:  # up, but its database is not (restarting, say)
                self._set_state("reconnecting")
                if outbox is not None and key is not None:
                    outbox.keep(method, path, json, key)
                    raise Kept()
                if retry and attempt < len(RETRY_DELAYS):
                    await asyncio.sleep(RETRY_DELAYS[attempt])
                    attempt += 1
                    continue
                raise Unavailable(ApiError.from_response(response).message)
            self._set_state("online")
            if response.status_code == 401 and used_token and not reauthed:
                error = ApiError.from_response(response)
                if error.code in SESSION_ENDED and await self._sign_in_again(used_token):
                    reauthed = True
                    continue
                raise error
            if response.status_code >= 400:
                raise ApiError.from_response(response)
            if raw:
                return response
            return response.json() if response.content else None

    async def download(self, path: str, target: str, chunk: int = 1 << 20) -> int:
        """GET `path` streamed into the file `target`, a piece at a time (a large export never sits
        in memory); returns its size. A refusal raises ApiError as `request` does (the file is then
        not created); a lost server raises Offline."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with self._http.stream("GET", path, headers=headers, timeout=None) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise ApiError.from_response(response)
                self._set_state("online")
                size = 0
                try:
                    with open(target, "wb") as f:  # noqa: ASYNC230  (each write is one piece: short)
                        async for data in response.aiter_bytes(chunk):
                            f.write(data)
                            size += len(data)
                except BaseException:  # no half file left behind
                    Path(target).unlink(missing_ok=True)  # noqa: ASYNC240  (one quick call on failure)
                    raise
                return size
        except httpx.TransportError as exc:
            self._set_state("offline")
            raise Offline(type(exc).__name__) from exc

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, json: Any = None) -> Any:
        return await self.request("POST", path, json=json)

    async def patch(self, path: str, json: Any) -> Any:
        return await self.request("PATCH", path, json=json)

    async def put(self, path: str, json: Any) -> Any:
        return await self.request("PUT", path, json=json)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path)

"""GET /api/events (WebSocket): the live stream a desktop holds open for its whole session.

Frames are JSON: first {"type": "hello", "last_seq": N}; then {"type": "event", ...LiveEvent}
in sequence order. Connect with ?since=<last seq seen> to receive what was missed first; if that is
too far behind, a {"type": "reset"} frame tells the client to reload its lists instead."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from crm_server import events
from crm_server.auth import sessions
from crm_server.auth.permissions import Principal
from crm_server.contract.events import RESTART_CLOSE_CODE, SERVER_MODULE, SERVER_RESTORED, Hello
from crm_server.db import Database
from crm_server.errors import AppError

log = logging.getLogger(__name__)
router = APIRouter()

MAX_BACKLOG = 5000
RECHECK_SESSION = 60.0


def visible(principal: Principal, event: events.Event) -> bool:
    if event.module == SERVER_MODULE:  # the server restoring a backup: everyone is told
        return True
    if event.user_id is not None:
        return event.user_id == principal.user_id
    if event.module == "notifications":
        return False
    return principal.sees(event.module, event.owner_id, event.team_id)


def _frame(event: events.Event) -> str:
    return '{"type":"event",' + events.to_live(event).model_dump_json()[1:]


@router.websocket("/api/events")
async def live_events(ws: WebSocket, since: int | None = None) -> None:
    db: Database = ws.app.state.db
    hub: events.EventHub = ws.app.state.hub
    token = ws.headers.get("authorization", "").partition(" ")[2].strip()
    address = ws.client.host if ws.client else None

    async def principal_now() -> Principal:
        async with db.transaction() as session:
            principal = await sessions.authenticate(session, token, address)
        # A pending password change or 2FA set-up gets no live stream either (checked on every
        # re-check too, so a role that starts requiring 2FA ends an open stream).
        sessions.ensure_not_pending(principal)
        return principal

    try:
        principal = await principal_now()
    except AppError as exc:
        await ws.close(code=4403 if exc.status == 403 else 4401, reason=exc.code)
        return
    await ws.accept()

    queue: asyncio.Queue[events.Event] = asyncio.Queue()
    unsubscribe = hub.subscribe(queue.put_nowait)
    try:
        backlog: list[events.Event] = []
        if since is not None:
            async with db.sessions() as session:
                backlog = await events.events_after(session, since, MAX_BACKLOG + 1)
        # The hub may still be reading what just committed; the backlog read the table itself.
        last_seq = max(hub.last_seq, backlog[-1].seq if backlog else 0)
        await ws.send_text(Hello(last_seq=last_seq).model_dump_json())
        sent = since if since is not None else hub.last_seq
        if since is not None:
            if len(backlog) > MAX_BACKLOG:
                await ws.send_text('{"type":"reset"}')
                sent = backlog[-1].seq
            else:
                for old in backlog:
                    if visible(principal, old):
                        await ws.send_text(_frame(old))
                    if _restored(old):  # what came before belongs to the data replaced: reload
                        await ws.send_text('{"type":"reset"}')
                    sent = old.seq
        receiver = asyncio.create_task(_drain_incoming(ws))
        loop = asyncio.get_running_loop()
        next_check = loop.time() + RECHECK_SESSION
        while not receiver.done():
            try:
                event: events.Event | None = await asyncio.wait_for(queue.get(), timeout=5)
            except TimeoutError:
                event = None
            if loop.time() > next_check:
                principal = await principal_now()
                next_check = loop.time() + RECHECK_SESSION
            if event is None or event.seq <= sent:
                continue
            sent = event.seq
            if event.module == "admin" and (
                (event.entity == "role" and event.entity_id == principal.role_id)
                or (event.entity == "user" and event.entity_id == principal.user_id)
            ):
                principal = await principal_now()  # permissions may have changed under us
            if visible(principal, event):
                await ws.send_text(_frame(event))
            if _restored(event):
                # The data were replaced by a backup: reload everything, and sign in again on a
                # new connection (this session may not exist in the restored data).
                await ws.send_text('{"type":"reset"}')
                await ws.close(code=RESTART_CLOSE_CODE, reason="restored")
                break
        receiver.cancel()
    except AppError as exc:  # the session ended (or must first finish signing in) while connected
        with contextlib.suppress(Exception):
            await ws.close(code=4403 if exc.status == 403 else 4401, reason=exc.code)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went away mid-send
    finally:
        unsubscribe()


def _restored(event: events.Event) -> bool:
    return event.module == SERVER_MODULE and event.action == SERVER_RESTORED


async def _drain_incoming(ws: WebSocket) -> None:
    """Clients only listen; reading is how we notice that they went away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await ws.receive_text()

"""HTTP routes of the integrations: the providers' webhook doors and the admin panel's page.

A door verifies the signature on the raw bytes, splits the body into events and stores them before it
answers 2xx; the work happens in a job (`integrations.process`). A refusal is logged in the inbox as
`rejected` (and a bad signature in the security log) and committed even though the answer is 4xx."""

from __future__ import annotations

import hashlib
from types import ModuleType
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.auth.sessions import log_security
from crm_server.contract.common import Page
from crm_server.contract.integrations import (
    EventQuery,
    InboxEventDetail,
    InboxEventOut,
    MatchIn,
    ProviderState,
    TestResult,
    WebhookAnswer,
)
from crm_server.errors import AppError, NotFound
from crm_server.input_guard import raw_body
from crm_server.integrations import inbox, registry, service
from crm_server.integrations.models import InboxEvent
from crm_server.integrations.providers import BadSignature, Malformed
from crm_server.routing import Session, TxRoute, client_address, require

webhooks = APIRouter(prefix="/webhooks", route_class=TxRoute, tags=["integrations"])
router = APIRouter(prefix="/api/integrations", route_class=TxRoute, tags=["integrations"])

MAX_BODY_BYTES = 1024 * 1024  # provider events are a few KB; anything this big is not one of them
# Providers whose door is a route of their own (website forms: /webhooks/forms/<key>).
OWN_DOORS = frozenset({"forms"})


class Refused(AppError):
    """A refused webhook: answered with its 4xx, the log rows written before it are committed."""

    keep_changes = True

    def __init__(self, message: str, *, code: str, status: int = 400) -> None:
        super().__init__(message, code=code)
        self.status = status


class TooLarge(Refused):
    """A body over a door's cap (413), with what is known of it for the inbox's log."""

    def __init__(self, limit: int, unkept: inbox.Unkept) -> None:
        super().__init__(f"The body is larger than {limit} bytes.", code="too_large", status=413)
        self.unkept = unkept


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, up to `limit` bytes. Past it: TooLarge, refused unread when the Content-Length says
    so; a body without one is measured and hashed to its end (BodyLimit caps that), keeping its start."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(limit, inbox.Unkept(b"", int(declared), None))
    chunks, size = [], 0
    stream = request.stream()
    async for chunk in stream:
        size += len(chunk)
        chunks.append(chunk)
        if size > limit:
            head, digest = b"".join(chunks), hashlib.sha256()
            digest.update(head)
            async for rest in stream:
                size += len(rest)
                digest.update(rest)
            raise TooLarge(limit, inbox.Unkept(head[: inbox.KEEP_REJECTED_BYTES], size, digest.hexdigest()))
    return b"".join(chunks)


def _door(provider: str) -> ModuleType:
    module = registry.provider(provider)
    if module is None or provider in OWN_DOORS:
        raise NotFound(f"No webhook called {provider!r}.", code="unknown_webhook")
    return module


@webhooks.get("/{provider}", response_class=PlainTextResponse)
async def handshake(provider: str, request: Request, session: Session) -> str:
    """A provider's subscription check (Facebook: hub.mode, hub.verify_token -> hub.challenge)."""
    answer = getattr(_door(provider), "handshake", None)
    if answer is None:
        raise NotFound(f"The {provider} webhook has no verification handshake.", code="no_handshake")
    try:
        return str(await answer(session, request.query_params))
    except BadSignature as exc:
        log_security(
            session, "webhook_bad_handshake", address=client_address(request), provider=provider, reason=str(exc)
        )
        raise Refused("The verification token does not match.", code="bad_verify_token", status=403) from None


@webhooks.post("/{provider}", response_model=WebhookAnswer)
@raw_body
async def receive(provider: str, request: Request, session: Session) -> WebhookAnswer:
    module = _door(provider)
    remote = client_address(request)
    headers = dict(request.headers)
    try:
        body = await read_body(request)
    except TooLarge as exc:
        await inbox.reject(session, provider, reason=exc.message, headers=headers, body=exc.unkept, remote=remote)
        raise
    try:
        await module.verify(session, headers, body)
    except BadSignature as exc:
        await inbox.reject(session, provider, reason=f"Bad signature: {exc}", headers=headers, body=body, remote=remote)
        log_security(session, "webhook_bad_signature", address=remote, provider=provider, reason=str(exc))
        raise Refused("The signature does not match.", code="bad_signature", status=401) from None
    try:
        incoming = module.events(headers, body)
    except Malformed as exc:
        await inbox.reject(session, provider, reason=f"Malformed: {exc}", headers=headers, body=body, remote=remote)
        raise Refused(f"The body cannot be read: {exc}", code="malformed") from None
    return await inbox.accept(session, provider, incoming, headers=headers, body=body, remote=remote)


@router.get("", response_model=list[ProviderState], dependencies=[require("integrations", "view")])
async def providers(session: Session) -> list[ProviderState]:
    return await service.provider_states(session)


@router.get("/events", response_model=Page[InboxEventOut], dependencies=[require("integrations", "view")])
async def events_list(session: Session, query: Annotated[EventQuery, Depends()]) -> Page[InboxEventOut]:
    return await service.list_events(session, query)


@router.get("/events/{event_id}", response_model=InboxEventDetail, dependencies=[require("integrations", "view")])
async def event_detail(event_id: int, session: Session) -> InboxEventDetail:
    return await service.event_detail(session, event_id)


@router.post("/events/{event_id}/replay", response_model=InboxEventOut)
async def replay(event_id: int, session: Session, actor: Principal = require("integrations", "edit")) -> InboxEventOut:
    return await service.replay(session, actor, event_id)


@router.post("/events/{event_id}/match", response_model=InboxEventOut)
async def match(
    event_id: int, body: MatchIn, session: Session, actor: Principal = require("integrations", "edit")
) -> InboxEventOut:
    """ "Match to invoice…": record a waiting Stripe payment on the invoice a person picked."""
    return await service.match(session, actor, event_id, body)


@router.post("/{provider}/test", response_model=TestResult, dependencies=[require("integrations", "edit")])
async def send_test_event(provider: str, request: Request, session: Session) -> TestResult:
    """Check the connection, then push a signed sample event through the provider's real door (in
    process, as a provider's request would arrive) and work on it at once."""
    module = service.module_of(provider)
    problem = await service.check_connection(session, provider)
    if problem is not None:
        return TestResult(ok=False, message=problem)
    values = await settings.get_all(session)
    if not await service.is_configured(session, module, values):
        return TestResult(ok=False, message="Fill in the settings first: the test event is signed with them.")
    headers, body = module.test_request(values)
    door = getattr(module, "WEBHOOK_PATH", f"/webhooks/{provider}")
    if getattr(module, "TEST_DOOR_SIGNED_IN", False):  # a door only an admin may use (website forms' test)
        headers = {**headers, "Authorization": request.headers.get("authorization", "")}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=request.app, client=("127.0.0.1", 0)), base_url="http://crm-server"
    ) as client:
        answer = await client.post(door, content=body, headers=headers)
    if answer.status_code >= 400:
        message = answer.json().get("message", answer.text) if answer.content else answer.reason_phrase
        return TestResult(ok=False, message=f"The webhook refused the test event ({answer.status_code}): {message}")
    ids = answer.json().get("ids", [])
    if not ids:
        return TestResult(ok=True, message="The webhook accepted the test request.")
    event = await inbox.locked(session, ids[0])
    if event is not None and event.status in inbox.WORKABLE:
        await inbox.process(session, event)
    stored = await session.get(InboxEvent, ids[0])
    assert stored is not None
    ok = stored.status in ("processed", "ignored")
    words = "reached the CRM and was handled" if ok else f"reached the CRM but ended {stored.status}"
    return TestResult(ok=ok, message=f"The test event {words}.", event=inbox.event_out(stored))

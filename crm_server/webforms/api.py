"""HTTP routes of website forms: the admin's CRUD under /api/web-forms, and the public door
`POST /webhooks/forms/<key>` a website's form posts to (with its CORS preflight).

The door answers 404 for an unknown or inactive key, 403 for an origin not listed, 429 past the
per-address limit, 422 with every field's error, and otherwise stores the submission in the
integration inbox (a job makes the lead) and answers 200 JSON, or 303 to the thank-you page for a
plain form post. A filled honeypot gets the same success and makes no lead. Refused posts are kept in
the inbox as `rejected` (committed with the 4xx): the admin sees them, and they count for the limit."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.contract.common import Ok
from crm_server.contract.integrations import WebhookAnswer
from crm_server.contract.webforms import EmbedSnippet, SubmissionAnswer, WebFormIn, WebFormOut, WebFormUpdate
from crm_server.errors import AppError, Forbidden, NotFound, ValidationFailed
from crm_server.integrations import inbox
from crm_server.integrations.api import read_body
from crm_server.integrations.providers import Incoming, Malformed
from crm_server.routing import Session, TxRoute, client_address, require
from crm_server.webforms import service
from crm_server.webforms.models import WebForm

router = APIRouter(prefix="/api/web-forms", route_class=TxRoute, tags=["website forms"])
# Include before the integrations' /webhooks/{provider}: "/webhooks/forms" is ours.
webhooks = APIRouter(prefix="/webhooks/forms", route_class=TxRoute, tags=["website forms"])

MAX_POST_BYTES = 64 * 1024  # a contact form is a few hundred bytes


class FormRefused(AppError):
    """A refused post: its 4xx, with the inbox's `rejected` row committed all the same."""

    keep_changes = True


class FormInvalid(ValidationFailed):
    keep_changes = True


async def public_url(session: Session, request: Request) -> tuple[str, bool]:
    """`app.public_url`, or this server's own address when the admin has not set it."""
    configured = str(await settings.get(session, "app.public_url") or "").strip().rstrip("/")
    return (configured, True) if configured else (str(request.base_url).rstrip("/"), False)


# --- admin ---------------------------------------------------------------------------------------


@router.get("", response_model=list[WebFormOut], dependencies=[require("integrations", "view")])
async def list_forms(session: Session, request: Request) -> list[WebFormOut]:
    return await service.list_forms(session, (await public_url(session, request))[0])


@router.post("", response_model=WebFormOut, status_code=201)
async def create_form(
    body: WebFormIn, session: Session, request: Request, actor: Principal = require("integrations", "edit")
) -> WebFormOut:
    return await service.create_form(session, actor, body, (await public_url(session, request))[0])


@router.get("/{form_id}", response_model=WebFormOut, dependencies=[require("integrations", "view")])
async def get_form(form_id: int, session: Session, request: Request) -> WebFormOut:
    return service.form_out(await service.get_form(session, form_id), (await public_url(session, request))[0])


@router.put("/{form_id}", response_model=WebFormOut)
async def update_form(
    form_id: int,
    body: WebFormUpdate,
    session: Session,
    request: Request,
    actor: Principal = require("integrations", "edit"),
) -> WebFormOut:
    return await service.update_form(session, actor, form_id, body, (await public_url(session, request))[0])


@router.post("/{form_id}/new-key", response_model=WebFormOut)
async def new_key(
    form_id: int, session: Session, request: Request, actor: Principal = require("integrations", "edit")
) -> WebFormOut:
    return await service.regenerate_key(session, actor, form_id, (await public_url(session, request))[0])


@router.delete("/{form_id}", response_model=Ok)
async def delete_form(form_id: int, session: Session, actor: Principal = require("integrations", "edit")) -> Ok:
    await service.delete_form(session, actor, form_id)
    return Ok()


@router.get("/{form_id}/snippet", response_model=EmbedSnippet, dependencies=[require("integrations", "view")])
async def embed_snippet(form_id: int, session: Session, request: Request) -> EmbedSnippet:
    url, configured = await public_url(session, request)
    return service.snippet(await service.get_form(session, form_id), url, public_url_set=configured)


# --- the public door -----------------------------------------------------------------------------


def cors(form: WebForm, origin: str | None) -> dict[str, str]:
    """The CORS answer for a listed origin (echoed, never "*"); nothing for a post without Origin."""
    if origin is None or not service.origin_allowed(form, origin):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Accept",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


async def _door_form(session: Session, request: Request, key: str) -> WebForm:
    form = await service.active_form(session, key)
    origin = request.headers.get("origin")
    if not service.origin_allowed(form, origin):
        raise Forbidden(f"This form does not take posts from {origin}.", code="origin_not_allowed")
    return form


@webhooks.options("/{key}")
async def preflight(key: str, request: Request, session: Session) -> Response:
    """A browser asks before a script's cross-site post: only listed origins are told yes."""
    form = await _door_form(session, request, key)
    return Response(status_code=204, headers=cors(form, request.headers.get("origin")))


@webhooks.post("/{key}", response_model=SubmissionAnswer)
async def submit(key: str, request: Request, session: Session) -> Response:
    form = await _door_form(session, request, key)
    origin, remote = request.headers.get("origin"), client_address(request)
    headers = cors(form, origin)
    try:
        await service.check_rate(session, remote)
    except AppError as exc:
        exc.headers = {**(exc.headers or {}), **headers}
        raise
    body = await read_body(request, MAX_POST_BYTES)
    request_headers = dict(request.headers)
    media = request.headers.get("content-type", "")
    try:
        raw = service.read_values(media, body)
    except Malformed as exc:
        await inbox.reject(
            session, service.PROVIDER, reason=f"Malformed: {exc}", headers=request_headers, body=body, remote=remote
        )
        raise FormRefused(f"The form data cannot be read: {exc}", code="malformed", headers=headers) from None
    if service.honeypot_filled(form, raw):  # a robot: it hears success, the inbox keeps it as ignored
        event = Incoming(event_id=str(uuid.uuid4()), event_type="spam", payload={"form_id": form.id})
        await inbox.accept(session, service.PROVIDER, [event], headers=request_headers, body=body, remote=remote)
        return _success(form, request, headers)
    values, errors = await service.validate(session, form, raw)
    if errors:
        reason = "Invalid: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
        await inbox.reject(session, service.PROVIDER, reason=reason, headers=request_headers, body=body, remote=remote)
        first = next(iter(errors))
        raise FormInvalid(
            "Please correct the fields marked." if len(errors) > 1 else errors[first],
            field=first,
            headers=headers,
            extra={"errors": errors},
        )
    event = Incoming(event_id=str(uuid.uuid4()), event_type="submission", payload=service.payload(form, values))
    await inbox.accept(session, service.PROVIDER, [event], headers=request_headers, body=body, remote=remote)
    return _success(form, request, headers)


def _success(form: WebForm, request: Request, headers: dict[str, str]) -> Response:
    """303 to the thank-you page for a browser's plain form post; JSON for scripts and JSON posts."""
    wants_json = (
        "json" in request.headers.get("content-type", "").lower()
        or "application/json" in request.headers.get("accept", "").lower()
    )
    if form.redirect_url and not wants_json:
        return RedirectResponse(form.redirect_url, status_code=303, headers=headers)
    return JSONResponse(SubmissionAnswer().model_dump(mode="json"), headers=headers)


@webhooks.post("", response_model=WebhookAnswer, dependencies=[require("integrations", "edit")])
async def test_door(request: Request, session: Session) -> WebhookAnswer:
    """The admin panel's "Send test event" for website forms: a harmless "test" event through the
    inbox (forms have no shared door; a real post names its form's key). Only for a signed-in admin
    (the test button forwards the admin's token): an open door would let anyone fill the inbox."""
    body = await read_body(request, MAX_POST_BYTES)
    try:
        raw = service.read_values(request.headers.get("content-type", ""), body)
    except Malformed:
        raw = {}
    if raw.get("event_type") != "test":
        raise NotFound(
            "Post a website form to /webhooks/forms/<key> (its embed code has the address).", code="unknown_form"
        )
    event = Incoming(event_id=str(uuid.uuid4()), event_type="test", payload={})
    return await inbox.accept(
        session, service.PROVIDER, [event], headers=dict(request.headers), body=body, remote=client_address(request)
    )

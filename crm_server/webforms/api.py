"""HTTP routes of website forms: the admin's CRUD under /api/web-forms, and the public door
`POST /webhooks/forms/<key>` a website's form posts to (with its CORS preflight).

The door answers 404 for an unknown or inactive key, 403 for an origin not listed, 429 past the
per-address limit, 422 with every field's error, and otherwise stores the submission in the
integration inbox (a job makes the lead) and answers 200 JSON, or 303 to the thank-you page for a
plain form post. A filled honeypot gets the same success and makes no lead. Refused posts are kept in
the inbox as `rejected` (committed with the 4xx): the admin sees them, and they count for the limit."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.contract.common import Ok
from crm_server.contract.integrations import WebhookAnswer
from crm_server.contract.webforms import EmbedSnippet, SubmissionAnswer, WebFormIn, WebFormOut, WebFormUpdate
from crm_server.integrations.api import read_body
from crm_server.routing import Session, TxRoute, client_address, require
from crm_server.webforms import service
from crm_server.webforms.models import WebForm

router = APIRouter(prefix="/api/web-forms", route_class=TxRoute, tags=["website forms"])
# Include before the integrations' /webhooks/{provider}: "/webhooks/forms" is ours.
webhooks = APIRouter(prefix="/webhooks/forms", route_class=TxRoute, tags=["website forms"])

MAX_POST_BYTES = 64 * 1024  # a contact form is a few hundred bytes


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


def _post(request: Request) -> service.Post:
    return service.Post(
        origin=request.headers.get("origin"),
        remote=client_address(request),
        headers=dict(request.headers),
        read_body=lambda: read_body(request, MAX_POST_BYTES),
    )


@webhooks.options("/{key}")
async def preflight(key: str, request: Request, session: Session) -> Response:
    """A browser asks before a script's cross-site post: only listed origins are told yes."""
    origin = request.headers.get("origin")
    form = await service.door_form(session, key, origin)
    return Response(status_code=204, headers=service.cors(form, origin))


@webhooks.post("/{key}", response_model=SubmissionAnswer)
async def submit(key: str, request: Request, session: Session) -> Response:
    done = await service.submit(session, key, _post(request))
    return _success(done.form, request, done.headers)


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
    return await service.test_event(session, _post(request))

"""How a request meets the database: every API route runs in one transaction that the request
owns (services never commit), and every route knows who is asking."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import idempotency, input_guard
from crm_server.auth import sessions
from crm_server.auth.permissions import Principal
from crm_server.contract.common import ErrorBody
from crm_server.db import Database
from crm_server.errors import Unauthorized

# What any route may answer besides its success (crm_server.errors), declared once for them all so
# the OpenAPI document lists every status the server gives; a route adds its own with responses=.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "The request cannot be carried out as it is"),
        (401, "Not signed in, or the session has ended"),
        (403, "Not allowed for this user"),
        (404, "No such record, or not visible to this user"),
        (409, "Conflicts with the record's current state (or someone else changed it)"),
        (413, "The request body is larger than the server takes"),
        (422, "A value is invalid: `field` names it"),
        (429, "Too many attempts; try again later"),
        (503, "The database is unreachable for now: nothing was saved; retry (Retry-After)"),
        (507, "The database's disk is full: nothing was saved; reads still work"),
    )
}

# A route that answers text or a file still answers its errors in JSON: say so (FastAPI would
# give a `model` the route's own media type).
_ERROR_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def _error_responses(response_class: Any) -> dict[int | str, dict[str, Any]]:
    chosen = response_class.value if isinstance(response_class, DefaultPlaceholder) else response_class
    media = getattr(chosen, "media_type", None)
    if media in (None, "application/json"):
        return ERROR_RESPONSES
    return {
        status: {"description": answer["description"], "content": _ERROR_JSON}
        for status, answer in ERROR_RESPONSES.items()
    }


# The methods whose retry with the same Idempotency-Key returns the first answer: a create (POST)
# and an edit (PATCH, PUT, DELETE) the desktop's outbox sends again after a lost answer, which
# would otherwise meet its own first write as a stale version.
IDEMPOTENT_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class _Replay(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body


class TxRoute(APIRoute):
    """Wraps the endpoint in a unit of work: commit after success, roll back on error. Before
    that, the request's path, query and body pass input_guard (integers in range, no control
    characters), whichever route it is."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["responses"] = {**_error_responses(kwargs.get("response_class")), **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            await input_guard.check_request(
                request, self.path_format, body=not input_guard.takes_raw_body(self.endpoint)
            )
            db: Database = request.app.state.db
            async with db.transaction() as session:
                request.state.session = session
                try:
                    response = await handler(request)
                except _Replay as replay:
                    return JSONResponse(replay.body, status_code=replay.status, headers={"Idempotent-Replayed": "true"})
                claimed = getattr(request.state, "idempotency", None)
                if claimed and response.status_code < 400:
                    body = json.loads(bytes(response.body)) if response.body else None
                    await idempotency.remember(session, claimed[0], claimed[1], response.status_code, body)
            return response

        return run


def get_session(request: Request) -> AsyncSession:
    session: AsyncSession = request.state.session  # set by TxRoute for the request
    return session


Session = Annotated[AsyncSession, Depends(get_session)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _authenticated(request: Request, session: AsyncSession, finishing: frozenset[str]) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Sign in first.", code="not_signed_in")
    principal = await sessions.authenticate(session, token.strip(), client_address(request))
    # Every authenticated route passes here: a pending password change or 2FA set-up refuses all
    # of them (new ones too) but the few declared with signed_in(...) that finish it.
    sessions.ensure_not_pending(principal, finishing)
    key = request.headers.get("idempotency-key")
    if key is not None and request.method in IDEMPOTENT_METHODS:
        body = await request.body()
        fingerprint = idempotency.request_fingerprint(request.method, request.url.path, body)
        earlier = await idempotency.claim(session, principal.user_id, key, fingerprint)
        if earlier is not None:
            raise _Replay(earlier.status_code or 200, earlier.body)
        request.state.idempotency = (principal.user_id, key)
    return principal


async def current_principal(request: Request, session: Session) -> Principal:
    return await _authenticated(request, session, frozenset())


def signed_in(*finishing: str) -> Any:
    """Dependency for the few routes a session may use while its sign-in is still pending
    (sessions.PASSWORD_CHANGE, sessions.TOTP_SETUP): the ones that finish it, `me` and logout."""
    allowed = frozenset(finishing)

    async def principal(request: Request, session: Session) -> Principal:
        return await _authenticated(request, session, allowed)

    return Depends(principal)


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require(module: str, action: str) -> Any:
    """Dependency: the signed-in user, who must hold `action` on `module` (else 403, logged)."""

    async def check(principal: CurrentUser, session: Session, request: Request) -> Principal:
        await sessions.ensure_allowed(session, principal, module, action, request.url.path)
        return principal

    return Depends(check)

"""HTTP routes of the email pipe: the provider's inbound webhook and the admin panel's pipe log.

The webhook answers 200 with the outcome for every message it read, a refusal included (unregistered
sender, replies only, too many messages, an unknown [Ticket#N], unreadable, refused by the tickets
service): the refusal is final and kept in the pipe log with its reason (an admin can replay it), so
the provider must not deliver it again. A 200 is the one answer every provider takes as "do not
retry" (Mailgun also stops on 406, Postmark on 403, SendGrid only on a 2xx). Only a failure of
ours answers 503 with Retry-After, and a redelivery retries it. The door's own refusals stay 4xx:
a wrong X-CRM-Token (403, nothing kept), a body too large (413) or not a message (415)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.contract.common import After, Page
from crm_server.contract.email_pipe import Outcome, PipeLogEntry, PipeResult
from crm_server.email_pipe import service
from crm_server.errors import AppError, NotFound
from crm_server.routing import Session, TxRoute, client_address, require

webhooks = APIRouter(prefix="/webhooks", route_class=TxRoute, tags=["email pipe"])
router = APIRouter(prefix="/api/email-pipe", route_class=TxRoute, tags=["email pipe"])

MAX_MESSAGE_BYTES = 25 * 1024 * 1024  # what common mail servers accept, with room for encoding
CONTENT_TYPES = frozenset({"message/rfc822", "application/octet-stream"})
# Outcome -> HTTP status of the webhook's answer: 200 (with the outcome) for all others, refusals too.
STATUS = {"bad_token": 403, "failed": 503}


class PipeRefused(AppError):
    """A refusal answered with its status and code, committing the log row all the same."""

    keep_changes = True

    def __init__(self, answer: PipeResult, status: int | None = None) -> None:
        super().__init__(
            answer.message,
            code=answer.outcome,
            extra={
                "log_id": answer.log_id,
                "outcome": answer.outcome,
                "ticket_number": answer.ticket_number,
                "duplicate": answer.duplicate,
            },
        )
        self.status = status or STATUS.get(answer.outcome, 422)
        if answer.outcome == "failed":
            self.headers = {"Retry-After": "60"}


def _answer(answer: PipeResult) -> PipeResult:
    if answer.outcome in STATUS:
        raise PipeRefused(answer)
    return answer


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it is larger than a message may be (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_MESSAGE_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_MESSAGE_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@webhooks.post("/email", response_model=PipeResult)
async def inbound_email(request: Request, session: Session) -> PipeResult:
    """One raw RFC 822 message from a mail provider, authenticated by the X-CRM-Token secret."""
    token = str(await settings.get(session, "email_pipe.token") or "")
    if not token:
        raise NotFound("The inbound email webhook is not enabled.", code="webhook_disabled")
    remote = client_address(request)
    given = request.headers.get("x-crm-token", "")
    if not hmac.compare_digest(given.encode(), token.encode()):
        size = request.headers.get("content-length", "")
        raise PipeRefused(
            await service.log_refused(
                session,
                outcome="bad_token",
                error="wrong or missing X-CRM-Token",
                source="webhook",
                remote=remote,
                size=int(size) if size.isdigit() else 0,
            )
        )
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    raw = await _read_body(request)
    if raw is None:
        refused = await service.log_refused(
            session,
            outcome="malformed",
            source="webhook",
            remote=remote,
            error=f"the message is larger than {MAX_MESSAGE_BYTES} bytes",
        )
        raise PipeRefused(refused, status=413)
    if media not in CONTENT_TYPES:
        refused = await service.log_refused(
            session,
            outcome="malformed",
            source="webhook",
            remote=remote,
            raw=raw,
            error=f"unsupported content type {media or '(none)'!r}",
        )
        raise PipeRefused(refused, status=415)
    return _answer(await service.receive(session, raw, source="webhook", remote=remote))


@router.get("/log", response_model=Page[PipeLogEntry], dependencies=[require("admin", "view")])
async def pipe_log(
    session: Session,
    outcome: Outcome | None = None,
    q: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: After = None,
) -> Page[PipeLogEntry]:
    return await service.pipe_log(session, outcome, q, offset, limit, after)


@router.get("/log/{log_id}/raw", dependencies=[require("admin", "view")])
async def raw_message(log_id: int, session: Session) -> Response:
    return Response(
        await service.raw_message(session, log_id),
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="message-{log_id}.eml"'},
    )


@router.post("/log/{log_id}/replay", response_model=PipeResult)
async def replay(log_id: int, session: Session, actor: Principal = require("admin", "edit")) -> PipeResult:
    return await service.replay(session, actor, log_id)

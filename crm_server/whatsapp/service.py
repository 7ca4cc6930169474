"""WhatsApp's rules: opt-in before any message, free text only inside the 24-hour window opened by
the customer's last message (outside it only an APPROVED template), sending in a job after commit,
statuses from the webhook (never going back: a "read" arriving before "delivered" stays "read"),
inbound messages on the record's timeline. Unknown numbers are not made into leads: their messages
are kept without a record and listed (GET /api/whatsapp/unmatched). Never commits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import settings
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.clients import service as clients
from crm_server.clients.models import Client
from crm_server.contract.whatsapp import Conversation, MessageIn, MessageOut, OptInIn, OptInOut, TemplateOut
from crm_server.db import utcnow
from crm_server.errors import Conflict, ValidationFailed
from crm_server.integrations.providers import NeedsAttention
from crm_server.jobs import queue
from crm_server.leads import service as leads
from crm_server.leads.models import Lead
from crm_server.whatsapp.models import Message, OptIn, Template

WINDOW = timedelta(hours=24)
SEND_TASK = "whatsapp.send"
TIMEOUT = httpx.Timeout(10.0)
STOP_WORDS = frozenset({"stop", "unsubscribe", "stopall", "cancel", "end", "quit"})
# A status never goes back: a late "delivered" after "read" changes nothing; "failed" ends it.
RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}
# Meta's error codes in words (Cloud API error codes page).
ERROR_WORDS = {
    131047: "More than 24 hours have passed since the customer last wrote; only a template can be sent.",
    131026: "The message could not be delivered: the number may not be on WhatsApp or has an old app.",
    131049: "Meta did not deliver this marketing message to keep the customer's experience healthy.",
    131050: "The customer has stopped marketing messages from this business.",
    131051: "This message type is not supported.",
    131056: "Too many messages to this customer in a short time; try again later.",
    132000: "The template's variables do not match what the template expects.",
    132001: "The template does not exist in this language or is not approved.",
    132015: "The template is paused because of low quality.",
    131042: "A payment problem on the WhatsApp Business account.",
    130472: "The customer's number is part of an experiment and did not get this marketing message.",
    131000: "Something went wrong at WhatsApp; try again.",
    190: "The access token is expired or revoked: re-authorize the connection.",
}


def error_words(code: Any, title: str = "") -> str:
    number = code if isinstance(code, int) else None
    words = ERROR_WORDS.get(number or -1) or (title or "WhatsApp did not deliver the message.")
    return f"{words} (code {code})" if code is not None else words


async def _record(session: AsyncSession, principal: Principal, kind: str, record_id: int) -> Lead | Client:
    if kind == "leads":
        return await leads.visible_lead(session, principal, record_id)
    return await clients.visible_client(session, principal, record_id)


async def _opt_in(session: AsyncSession, phone: str | None) -> OptIn | None:
    return None if phone is None else await session.scalar(select(OptIn).where(OptIn.phone == phone))


async def _last_inbound(session: AsyncSession, phone: str) -> datetime | None:
    return await session.scalar(
        select(func.max(Message.created_at)).where(Message.phone == phone, Message.direction == "in")
    )


async def approved_templates(session: AsyncSession) -> list[TemplateOut]:
    rows = await session.scalars(select(Template).where(Template.status == "APPROVED").order_by(Template.name))
    return [TemplateOut.model_validate(t) for t in rows]


async def conversation(session: AsyncSession, principal: Principal, kind: str, record_id: int) -> Conversation:
    record = await _record(session, principal, kind, record_id)
    return await _conversation(session, record.phone)


async def _conversation(session: AsyncSession, phone: str | None) -> Conversation:
    templates = await approved_templates(session)
    if not phone:
        return Conversation(phone=None, window_open=False, can_send=False, free_text=False, reason=_NO_PHONE)
    opt_in = await _opt_in(session, phone)
    last = await _last_inbound(session, phone)
    ends = last + WINDOW if last else None
    open_ = ends is not None and ends > utcnow()
    consent = OptInOut.model_validate(opt_in) if opt_in else None
    if opt_in is None or opt_in.opted_in_at is None or opt_in.opted_out_at is not None:
        why = _OPTED_OUT if opt_in is not None and opt_in.opted_out_at is not None else _NO_OPT_IN
        return Conversation(
            phone=phone, opt_in=consent, window_open=open_, window_ends_at=ends, can_send=False, free_text=False,
            reason=why, templates=templates,
        )  # fmt: skip
    reason = (
        "The customer wrote in the last 24 hours: free text or a template may be sent."
        if open_
        else "The customer has not written in the last 24 hours: only an approved template may be sent."
    )
    return Conversation(
        phone=phone, opt_in=consent, window_open=open_, window_ends_at=ends, can_send=True, free_text=open_,
        reason=reason, templates=templates,
    )  # fmt: skip


_NO_PHONE = "This record has no phone number: add one in E.164 form first."
_NO_OPT_IN = "No WhatsApp opt-in is recorded for this number: record the customer's consent first."
_OPTED_OUT = "The customer opted out of WhatsApp messages."


async def record_opt_in(
    session: AsyncSession, principal: Principal, kind: str, record_id: int, body: OptInIn
) -> OptInOut:
    record = await _record(session, principal, kind, record_id)
    if not record.phone:
        raise ValidationFailed(_NO_PHONE, field="phone")
    now = utcnow()
    values = {"opted_in_at": now, "method": body.method, "recorded_by": principal.user_id, "opted_out_at": None}
    await session.execute(
        insert(OptIn)
        .values(phone=record.phone, updated_at=now, **values)
        .on_conflict_do_update(index_elements=[OptIn.phone], set_={**values, "updated_at": now})
    )
    opt_in = await session.scalar(
        select(OptIn).where(OptIn.phone == record.phone).execution_options(populate_existing=True)
    )
    assert opt_in is not None
    _emit(session, record, "opt_in", principal.user_id, {"method": body.method})
    return OptInOut.model_validate(opt_in)


def _emit(session: AsyncSession, record: Lead | Client, action: str, actor: int | None, data: dict[str, Any]) -> None:
    """A live event in the record's module (leads or clients), seen by whoever sees the record:
    entity "whatsapp", data naming the record (lead_id or client_id)."""
    is_lead = isinstance(record, Lead)
    events.emit(
        session, module="leads" if is_lead else "clients", entity="whatsapp", entity_id=record.id, action=action,
        actor_id=actor, owner_id=record.owner_id, team_id=record.team_id,
        data={("lead_id" if is_lead else "client_id"): record.id, **data},
    )  # fmt: skip


async def send(session: AsyncSession, principal: Principal, kind: str, record_id: int, body: MessageIn) -> MessageOut:
    record = await _record(session, principal, kind, record_id)
    state = await _conversation(session, record.phone)
    if not state.can_send:
        field = "phone" if not record.phone else "opt_in"
        raise ValidationFailed(state.reason, field=field)
    text = (body.text or "").strip()
    if body.template:
        template = await session.scalar(
            select(Template)
            .where(Template.name == body.template, Template.language == (body.language or Template.language))
            .order_by(Template.id)
            .limit(1)
        )
        if template is None:
            raise ValidationFailed(f"No template called {body.template!r}.", field="template")
        if template.status != "APPROVED":
            raise ValidationFailed(
                f"The template {template.name!r} is {template.status.lower()}, not approved: it cannot be sent yet.",
                field="template",
            )
        parameters = await parameters_of(session, principal.user_id, record, template)
        message = Message(
            template_name=template.name, template_language=template.language, status="queued",
            body=filled(template.body, parameters), parameters=parameters or None,
        )  # fmt: skip
    elif text:
        if not state.free_text:
            raise ValidationFailed(state.reason, field="text")
        message = Message(body=text, status="queued")
    else:
        raise ValidationFailed("Write a message or choose an approved template.", field="text")
    message.phone = record.phone or ""
    message.direction = "out"
    message.created_by = principal.user_id
    message.created_at = utcnow()
    if kind == "leads":
        message.lead_id = record.id
    else:
        message.client_id = record.id
    session.add(message)
    await session.flush()
    await queue.defer(session, SEND_TASK, message_id=message.id)
    _emit(session, record, "message", principal.user_id, {"message_id": message.id, "status": "queued"})
    return MessageOut.model_validate(message)


async def parameters_of(
    session: AsyncSession, sender_id: int | None, record: Lead | Client, template: Template
) -> list[str]:
    """The value of each {{n}} from the record field the template maps it to; an empty one is refused
    (WhatsApp rejects an empty parameter, and the customer would read a gap)."""
    if not template.variables:
        return []
    user = await session.get(User, sender_id) if sender_id is not None else None
    name = record.person_name if isinstance(record, Lead) else record.name
    company = (record.company or "") if isinstance(record, Lead) else record.name
    known = {
        "contact.name": name,
        "contact.company": company,
        "owner.full_name": user.full_name if user else "",
        "company.name": str(await settings.get(session, "company.name") or ""),
    }
    values = []
    for index, field in enumerate(template.variables):
        value = " ".join(str(known.get(field) or "").split())[:1024]
        if not value:
            raise ValidationFailed(
                f"{{{{{index + 1}}}}} of {template.name!r} is the record's {field}, which is empty here.",
                field="template",
            )
        values.append(value)
    return values


def filled(body: str, values: list[str]) -> str:
    """The body as the customer reads it (kept on the message and shown on the timeline)."""
    return re.sub(
        r"\{\{\s*(\d+)\s*\}\}",
        lambda m: values[int(m.group(1)) - 1] if int(m.group(1)) <= len(values) else m.group(0),
        body,
    )


async def messages(session: AsyncSession, principal: Principal, kind: str, record_id: int) -> list[MessageOut]:
    record = await _record(session, principal, kind, record_id)
    column = Message.lead_id if kind == "leads" else Message.client_id
    rows = await session.scalars(select(Message).where(column == record.id).order_by(Message.id.desc()).limit(200))
    return [MessageOut.model_validate(m) for m in rows]


async def unmatched(session: AsyncSession) -> list[MessageOut]:
    rows = await session.scalars(
        select(Message)
        .where(Message.lead_id.is_(None), Message.client_id.is_(None))
        .order_by(Message.id.desc())
        .limit(200)
    )
    return [MessageOut.model_validate(m) for m in rows]


# --- the Cloud API ---------------------------------------------------------------------------------


async def _api(session: AsyncSession, method: str, path: str, json_body: dict[str, Any] | None = None) -> Any:
    token = str(await settings.get(session, "whatsapp.access_token") or "")
    if not token:
        raise NeedsAttention("The WhatsApp access token is not set.", reauthorize=True)
    base = str(await settings.get(session, "whatsapp.api_url") or "").rstrip("/")
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        response = await client.request(
            method, f"{base}/{path}", json=json_body, headers={"Authorization": f"Bearer {token}"}
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code < 400 and isinstance(data, dict):
        return data
    error = data.get("error") if isinstance(data, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    if response.status_code >= 500 or error.get("is_transient"):
        raise RuntimeError(f"The WhatsApp Cloud API answered {response.status_code}: {error.get('message')}")
    raise NeedsAttention(error_words(code, str(error.get("message") or "")), reauthorize=code == 190)


call_api = _api  # for the area's other modules (templates, number)


async def check_connection(session: AsyncSession) -> None:
    phone_id = str(await settings.get(session, "whatsapp.phone_number_id") or "")
    try:
        await _api(session, "GET", phone_id)
    except (httpx.HTTPError, RuntimeError) as exc:
        raise NeedsAttention(f"Cannot reach the WhatsApp Cloud API: {exc or type(exc).__name__}") from None


def _body_text(components: Any) -> str:
    for part in components if isinstance(components, list) else []:
        if isinstance(part, dict) and part.get("type") == "BODY":
            return str(part.get("text") or "")
    return ""


async def sync_templates(session: AsyncSession) -> list[TemplateOut]:
    """GET /{waba-id}/message_templates (all pages): each template's status as Meta has it now."""
    waba = str(await settings.get(session, "whatsapp.business_account_id") or "")
    if not waba:
        raise Conflict("Set the WhatsApp Business account id first.", code="not_configured")
    path: str | None = (
        f"{waba}/message_templates?fields=id,name,language,status,category,components,rejected_reason&limit=100"
    )
    seen = 0
    while path and seen < 50:
        try:
            page = await _api(session, "GET", path)
        except NeedsAttention as exc:
            raise Conflict(f"WhatsApp refused the template list: {exc.reason}", code="whatsapp_refused") from None
        except (httpx.HTTPError, RuntimeError) as exc:
            raise Conflict(f"Cannot reach the WhatsApp Cloud API: {exc}", code="whatsapp_unreachable") from None
        for item in page.get("data") or []:
            if not isinstance(item, dict) or not item.get("name") or not item.get("language"):
                continue
            values = {
                "meta_id": str(item.get("id") or "")[:50] or None,
                "category": str(item.get("category") or "")[:30],
                "status": str(item.get("status") or "PENDING")[:30],
                "body": _body_text(item.get("components")),
                "reason": (
                    str(item.get("rejected_reason")) if item.get("rejected_reason") not in (None, "NONE") else None
                ),
                "synced_at": utcnow(),
            }
            await session.execute(
                insert(Template)
                .values(name=str(item["name"])[:512], language=str(item["language"])[:20], **values)
                .on_conflict_do_update(constraint="uq_whatsapp_templates_name_language", set_=values)
            )
        after = ((page.get("paging") or {}).get("cursors") or {}).get("after")
        path = (
            f"{waba}/message_templates?limit=100&after={after}"
            if after and (page.get("paging") or {}).get("next")
            else None
        )
        seen += 1
    events.emit(session, module="integrations", entity="whatsapp_template", entity_id=0, action="synced")
    rows = await session.scalars(select(Template).order_by(Template.name, Template.language))
    return [TemplateOut.model_validate(t) for t in rows]


async def deliver(session: AsyncSession, message_id: int) -> str:
    """The job: POST /{phone-number-id}/messages. A 200 means accepted ("sent" waits for the webhook)."""
    message = await session.get(Message, message_id, with_for_update=True)
    if message is None or message.status != "queued" or message.wamid:
        return "nothing to do"
    phone_id = str(await settings.get(session, "whatsapp.phone_number_id") or "")
    payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": message.phone}
    if message.template_name:
        template: dict[str, Any] = {"name": message.template_name, "language": {"code": message.template_language}}
        if message.parameters:
            values = [{"type": "text", "text": v} for v in message.parameters]
            template["components"] = [{"type": "body", "parameters": values}]
        payload |= {"type": "template", "template": template}
    else:
        payload |= {"type": "text", "text": {"preview_url": False, "body": message.body}}
    try:
        answer = await _api(session, "POST", f"{phone_id}/messages", payload)
    except NeedsAttention as exc:
        message.status, message.error, message.status_at = "failed", exc.reason, utcnow()
        await _announce(session, message)
        return f"failed: {exc.reason}"
    ids = [m.get("id") for m in answer.get("messages") or [] if isinstance(m, dict)]
    message.wamid = str(ids[0]) if ids and ids[0] else None
    await _announce(session, message)
    return f"accepted as {message.wamid}"


async def _announce(session: AsyncSession, message: Message) -> None:
    record: Lead | Client | None = None
    if message.lead_id is not None:
        record = await session.get(Lead, message.lead_id)
    elif message.client_id is not None:
        record = await session.get(Client, message.client_id)
    if record is not None:
        _emit(session, record, "message", None, {"message_id": message.id, "status": message.status})


# --- webhook handlers ------------------------------------------------------------------------------


def _moment(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return utcnow()


async def on_status(session: AsyncSession, payload: dict[str, Any]) -> str:
    wamid, status = str(payload.get("id") or ""), str(payload.get("status") or "")
    message = await session.scalar(select(Message).where(Message.wamid == wamid).with_for_update())
    if message is None:
        # The webhook can overtake the send job's commit of the id: a transient failure, retried.
        raise LookupError(f"No message sent from the CRM has the id {wamid} (yet); it will be tried again.")
    if status not in RANK:
        return f"Status {status!r} acknowledged."
    if RANK[status] <= RANK.get(message.status, 0):
        return f"Message #{message.id} is already {message.status}; {status} changes nothing."
    message.status, message.status_at = status, _moment(payload.get("timestamp"))
    if status == "failed":
        errors = payload.get("errors") or [{}]
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        message.error = error_words(first.get("code"), str(first.get("title") or ""))
    await _announce(session, message)
    return f"Message #{message.id} is {status}."


async def on_inbound(session: AsyncSession, payload: dict[str, Any]) -> str:
    wamid = str(payload.get("id") or "")
    if await session.scalar(select(Message.id).where(Message.wamid == wamid)) is not None:
        return "Already kept."
    phone = "+" + "".join(ch for ch in str(payload.get("from") or "") if ch.isdigit())[:15]
    kind = str(payload.get("type") or "")
    text = payload.get("text") if kind == "text" else None
    body = str(text.get("body") or "") if isinstance(text, dict) else f"({kind or 'unknown'} message)"
    body = body.replace("\x00", "\ufffd")[:4096]
    lead_id = await session.scalar(
        select(Lead.id).where(Lead.phone == phone, Lead.merged_into_id.is_(None)).order_by(Lead.id.desc()).limit(1)
    )
    client_id = None
    if lead_id is None:
        client_id = await session.scalar(
            select(Client.id).where(Client.phone == phone).order_by(Client.id.desc()).limit(1)
        )
    message = Message(
        lead_id=lead_id, client_id=client_id, phone=phone, direction="in", body=body, status="received",
        wamid=wamid, created_at=_moment(payload.get("timestamp")),
    )  # fmt: skip
    session.add(message)
    await session.flush()
    outcome = f"Kept message from {phone}"
    if body.strip().lower() in STOP_WORDS:
        opt_in = await _opt_in(session, phone)
        if opt_in is not None and opt_in.opted_out_at is None:
            opt_in.opted_out_at = utcnow()
        outcome += " (opted out)"
    await _announce(session, message)
    if lead_id is None and client_id is None:
        return outcome + ": no lead or client has this number; listed under unmatched messages."
    return outcome + (f" on lead #{lead_id}." if lead_id else f" on client #{client_id}.")


# Template events that are not a status: FLAGGED (at risk, still sendable), LOCKED/UNLOCKED (editing).
NOT_A_STATUS = frozenset({"FLAGGED", "LOCKED", "UNLOCKED", "LIMIT_EXCEEDED"})
EVENT_STATUS = {"REINSTATED": "APPROVED", "UNARCHIVED": "APPROVED"}  # usable again


async def on_template_status(session: AsyncSession, payload: dict[str, Any]) -> str:
    """Meta's message_template_status_update: {"event", "message_template_id", "message_template_name",
    "message_template_language", "reason", "other_info": {"title", "description"} (pauses),
    "rejection_info": {"reason", "recommendation"} (INVALID_FORMAT)}."""
    name, language = (
        str(payload.get("message_template_name") or ""),
        str(payload.get("message_template_language") or ""),
    )
    event = str(payload.get("event") or "")[:30]
    meta_id = str(payload.get("message_template_id") or "")[:50]
    template = await session.scalar(select(Template).where(Template.meta_id == meta_id)) if meta_id else None
    if template is None:
        template = await session.scalar(select(Template).where(Template.name == name, Template.language == language))
    if template is None:
        return f"Template {name} ({language}) is not known here yet; sync the templates."
    if event in NOT_A_STATUS:
        return f"Template {name}: {event.lower().replace('_', ' ')} noted; it stays {template.status}."
    status = EVENT_STATUS.get(event, event)
    template.status = status
    template.reason = None if status == "APPROVED" else _template_reason(payload)
    events.emit(
        session, module="integrations", entity="whatsapp_template", entity_id=template.id, action="status",
        data={"status": status},
    )  # fmt: skip
    return f"Template {name} is now {status}."


def _template_reason(payload: dict[str, Any]) -> str | None:
    """Meta's reason code, else the pause's description, else the rejection's own words."""
    reason = payload.get("reason")
    if isinstance(reason, str) and reason not in ("", "NONE"):
        code = reason[:100]
        info = payload.get("rejection_info")
        detail = str(info.get("reason") or "")[:1000] if isinstance(info, dict) else ""
        return f"{code}: {detail}" if detail and code == "INVALID_FORMAT" else code
    for key in ("other_info", "rejection_info"):
        extra = payload.get(key)
        if isinstance(extra, dict) and (text := str(extra.get("description") or extra.get("reason") or "")):
            return text[:2000]
    return None

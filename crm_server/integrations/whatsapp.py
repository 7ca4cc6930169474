"""WhatsApp Business Cloud API as a provider of the integrations inbox: the webhook door (the GET
verification handshake, X-Hub-Signature-256 over the raw body with the app secret, as for Facebook),
one event per inbound message, per status update and per template status update, and their
handlers (crm_server/whatsapp/service.py does the work)."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.integrations import facebook
from crm_server.integrations.providers import BadSignature, Handler, Incoming, Malformed, header
from crm_server.whatsapp import service

SETTINGS = (
    "whatsapp.phone_number_id",
    "whatsapp.business_account_id",
    "whatsapp.access_token",
    "whatsapp.app_secret",
    "whatsapp.verify_token",
    "whatsapp.api_url",
)
REQUIRED = ("whatsapp.phone_number_id", "whatsapp.access_token", "whatsapp.app_secret", "whatsapp.verify_token")
IGNORED = frozenset({"account_update", "phone_number_quality_update", "account_alerts", "unsupported"})


async def handshake(session: AsyncSession, query: Mapping[str, str]) -> str:
    """`GET /webhooks/whatsapp`: echo hub.challenge when hub.verify_token is ours."""
    expected = str(await settings.get(session, "whatsapp.verify_token") or "")
    given = query.get("hub.verify_token") or ""
    if not expected or query.get("hub.mode") != "subscribe" or "hub.challenge" not in query:
        raise BadSignature("Not a WhatsApp subscription handshake, or no verify token is set.")
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise BadSignature("The verify token does not match.")
    return query["hub.challenge"]


async def verify(session: AsyncSession, headers: Mapping[str, str], body: bytes) -> None:
    secret = str(await settings.get(session, "whatsapp.app_secret") or "")
    if not secret:
        raise BadSignature("The WhatsApp app secret is not set.")
    given = header(headers, facebook.SIGNATURE_HEADER) or ""
    if not given.startswith("sha256="):
        raise BadSignature("Missing X-Hub-Signature-256.")
    if not secrets.compare_digest(given.encode(), facebook.signature(secret, body).encode()):
        raise BadSignature("X-Hub-Signature-256 does not match the body.")


def _text(value: Any, limit: int = 200) -> str:
    return str(value)[:limit] if isinstance(value, str | int) and not isinstance(value, bool) else ""


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]


def events(headers: Mapping[str, str], body: bytes) -> list[Incoming]:
    """Meta's format: {"object": "whatsapp_business_account", "entry": [{"id", "changes": [{"field",
    "value"}]}]}; a "messages" change carries `messages` (inbound) and/or `statuses`."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"The body is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        raise Malformed("Expected a WhatsApp Business Account webhook (object: whatsapp_business_account).")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise Malformed("A WhatsApp webhook has an entry list.")
    found: list[Incoming] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes", []), list):
            raise Malformed("Each entry is an object with a changes list.")
        for change in entry.get("changes", []):
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                raise Malformed("Each change has a field name and a value object.")
            field, value = _text(change.get("field"), 100), change["value"]
            if field != "messages":
                found.append(Incoming(f"{field[:50]}:{_digest(entry.get('id'), change)}", field or "unknown", value))
                continue
            names = {
                _text(c.get("wa_id"), 30): _text((c.get("profile") or {}).get("name"))
                for c in value.get("contacts") or []
                if isinstance(c, dict) and isinstance(c.get("profile") or {}, dict)
            }
            messages, statuses = value.get("messages") or [], value.get("statuses") or []
            if not isinstance(messages, list) or not isinstance(statuses, list):
                raise Malformed("messages and statuses are lists.")
            for message in messages:
                if not isinstance(message, dict) or not _text(message.get("id")) or not _text(message.get("from")):
                    raise Malformed("Each message has an id and a from.")
                payload = {**message, "profile_name": names.get(_text(message.get("from"), 30), "")}
                found.append(Incoming(f"in:{_text(message['id'])}", "message", payload))
            for status in statuses:
                if not isinstance(status, dict) or not _text(status.get("id")) or not _text(status.get("status")):
                    raise Malformed("Each status has an id and a status.")
                event_id = f"status:{_text(status['id'])}:{_text(status['status'], 20)}"
                found.append(Incoming(event_id, "status", status))
    return found


def test_request(values: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """A signed account_update change (acknowledged and ignored): proves the secret and the door."""
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": str(values.get("whatsapp.business_account_id") or "0"),
                    "time": int(time.time()),
                    "changes": [{"field": "account_update", "value": {"event": f"TEST_{secrets.token_hex(8)}"}}],
                }
            ],
        }
    ).encode()
    secret = str(values.get("whatsapp.app_secret") or "")
    return {"Content-Type": "application/json", "X-Hub-Signature-256": facebook.signature(secret, body)}, body


async def check_connection(session: AsyncSession) -> None:
    await service.check_connection(session)


HANDLERS: dict[str, Handler] = {
    "message": service.on_inbound,
    "status": service.on_status,
    "message_template_status_update": service.on_template_status,
}

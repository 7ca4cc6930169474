"""Facebook Lead Ads: the Page webhook (verification handshake, X-Hub-Signature-256, one event per
leadgen change) and the handler that reads the lead's answers from the Graph API and makes a CRM lead.

The webhook only carries ids; the answers come from `GET {graph_url}/{leadgen_id}` with the page
access token. An expired or revoked token (Graph error 190) is a person's job: the event waits as
"needs attention" and the provider shows "Needs re-authorization". Graph being down or busy is
transient: the handler raises and the inbox retries with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.clients import normalise
from crm_server.contract.leads import LeadIn
from crm_server.errors import ValidationFailed
from crm_server.integrations.providers import BadSignature, Handler, Incoming, Malformed, NeedsAttention, header
from crm_server.leads import service as leads
from crm_server.leads.models import Lead

SETTINGS = ("facebook.app_secret", "facebook.verify_token", "facebook.page_token", "facebook.graph_url")
REQUIRED = ("facebook.app_secret", "facebook.verify_token", "facebook.page_token")
SIGNATURE_HEADER = "x-hub-signature-256"
SOURCE = "Facebook"
TIMEOUT = httpx.Timeout(10.0)
# Other Page fields an app may be subscribed to: acknowledged, not acted on.
IGNORED = frozenset(
    {
        "feed",
        "mention",
        "ratings",
        "messages",
        "conversations",
        "videos",
        "live_videos",
        "photos",
        "name",
        "picture",
        "website",
        "email",
        "phone",
        "location",
    }
)
# Graph error codes that mean "try again later" (temporary issue, throttling), not a person's job.
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613})
_GRAPH_ID = re.compile(r"^\d{1,30}$")
# Form answers that become lead fields; everything else goes into the first note.
NAME_KEYS = ("full_name",)
TERRITORY_KEYS = ("state", "province", "region", "city")


def signature(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value Facebook sends for `body` (also used to sign test requests)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def handshake(session: AsyncSession, query: Mapping[str, str]) -> str:
    """`GET /webhooks/facebook` when the app's callback URL is saved: echo hub.challenge if the
    verify token is ours."""
    expected = str(await settings.get(session, "facebook.verify_token") or "")
    given = query.get("hub.verify_token") or ""
    if not expected or query.get("hub.mode") != "subscribe" or "hub.challenge" not in query:
        raise BadSignature("Not a Facebook subscription handshake, or no verify token is set.")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise BadSignature("The verify token does not match.")
    return query["hub.challenge"]


async def verify(session: AsyncSession, headers: Mapping[str, str], body: bytes) -> None:
    secret = str(await settings.get(session, "facebook.app_secret") or "")
    if not secret:
        raise BadSignature("The Facebook app secret is not set.")
    given = header(headers, SIGNATURE_HEADER) or ""
    if not given.startswith("sha256="):
        raise BadSignature("Missing X-Hub-Signature-256.")
    if not hmac.compare_digest(given.encode(), signature(secret, body).encode()):
        raise BadSignature("X-Hub-Signature-256 does not match the body.")


def _graph_id(value: Any, what: str) -> str:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not _GRAPH_ID.match(text):
        raise Malformed(f"{what} is not a Graph id: {value!r}")
    return text


def events(headers: Mapping[str, str], body: bytes) -> list[Incoming]:
    """One event per change. A leadgen change is known by its leadgen id (Facebook's retries repeat
    it); other fields get an id from their content, so a retried delivery is still a duplicate."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"The body is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("object") != "page":
        raise Malformed("Expected a Page webhook (object: page).")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise Malformed("A Page webhook has an entry list.")
    found: list[Incoming] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes", []), list):
            raise Malformed("Each entry is an object with a changes list.")
        for change in entry.get("changes", []):
            if (
                not isinstance(change, dict)
                or not isinstance(change.get("field"), str)
                or not isinstance(change.get("value", {}), dict)
            ):
                raise Malformed("Each change has a field name and a value object.")
            field, value = change["field"], change.get("value", {})
            if field == "leadgen":
                leadgen_id = _graph_id(value.get("leadgen_id"), "leadgen_id")
                payload = {k: str(v) for k, v in value.items() if isinstance(v, str | int) and not isinstance(v, bool)}
                payload["leadgen_id"] = leadgen_id
                payload.setdefault("page_id", str(entry.get("id", "")))
                found.append(Incoming(event_id=leadgen_id, event_type="leadgen", payload=payload))
            else:
                content = json.dumps([entry.get("id"), entry.get("time"), change], sort_keys=True, default=str)
                digest = hashlib.sha256(content.encode()).hexdigest()[:40]
                found.append(
                    Incoming(
                        event_id=f"{field[:50]}:{digest}",
                        event_type=field[:100],
                        payload={"page_id": str(entry.get("id", "")), "value": value},
                    )
                )
    return found


def test_request(values: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """A signed Page "feed" change (acknowledged and ignored): proves the secret and the door work
    without making a lead. Each press is a new event."""
    now = int(time.time())
    body = json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": "0",
                    "time": now,
                    "changes": [
                        {
                            "field": "feed",
                            "value": {
                                "item": "status",
                                "verb": "add",
                                "post_id": f"0_{secrets.token_hex(8)}",
                                "message": "Test event from the CRM admin panel",
                                "created_time": now,
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    secret = str(values.get("facebook.app_secret") or "")
    return {"Content-Type": "application/json", "X-Hub-Signature-256": signature(secret, body)}, body


# --- the Graph API -------------------------------------------------------------------------------


class GraphUnavailable(RuntimeError):
    """Graph is down or throttling us: a transient failure the inbox retries."""


async def _graph(session: AsyncSession, path: str) -> dict[str, Any]:
    """GET a Graph object with the page token. The token and its appsecret_proof travel in the body
    of a batch request (`POST /` with `batch=[{"method": "GET", "relative_url": path}]`, the form
    Graph documents for appsecret_proof), never in a URL: URLs are logged (httpx, proxies, Graph's
    own access logs). Graph's refusals become NeedsAttention (190: re-authorize); its outages and
    throttling raise ordinary errors for the inbox to retry."""
    token = str(await settings.get(session, "facebook.page_token") or "")
    if not token:
        raise NeedsAttention("The Facebook page access token is not set.", reauthorize=True)
    base = str(await settings.get(session, "facebook.graph_url") or "").rstrip("/")
    form = {
        "access_token": token,
        "include_headers": "false",
        "batch": json.dumps([{"method": "GET", "relative_url": path}]),
    }
    app_secret = str(await settings.get(session, "facebook.app_secret") or "")
    if app_secret:  # Graph's "appsecret_proof": a stolen token alone is not enough
        form["appsecret_proof"] = hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        response = await client.post(f"{base}/", data=form)
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code < 400 and isinstance(data, list) and data:
        answer = data[0]  # one logical response: {"code": 200, "body": "<JSON text>"}
        if not isinstance(answer, dict):  # null: Graph did not finish this operation in time
            raise GraphUnavailable("Graph API did not finish the request; it will be tried again.")
        code = answer.get("code")
        status = code if isinstance(code, int) else 500
        try:
            data = json.loads(answer.get("body") or "null")
        except (TypeError, ValueError):
            data = None
    else:
        status = response.status_code if response.status_code >= 400 else 500
    return _answer(status, data)


def _answer(status: int, data: Any) -> dict[str, Any]:
    """Graph's answer to one request: the object, or the error as the inbox should treat it."""
    error = data.get("error") if isinstance(data, dict) else None
    if status < 400 and isinstance(data, dict) and error is None:
        return data
    if not isinstance(error, dict):
        error = {}
    code, message = error.get("code"), str(error.get("message") or f"HTTP {status}")
    if status >= 500 or code in TRANSIENT_CODES or error.get("is_transient"):
        raise GraphUnavailable(f"Graph API answered {status}: {message}")
    if code == 190:
        raise NeedsAttention(f"The Facebook page access token is expired or revoked: {message}", reauthorize=True)
    raise NeedsAttention(f"The Graph API refused the request (code {code}): {message}")


async def check_connection(session: AsyncSession) -> None:
    """The admin page's state: does the page token still open the Graph API?"""
    try:
        await _graph(session, "me")
    except (httpx.HTTPError, GraphUnavailable) as exc:
        raise NeedsAttention(f"Cannot reach the Graph API: {exc or type(exc).__name__}") from None


# --- leadgen ---------------------------------------------------------------------------------------


def _answers(field_data: Any) -> dict[str, str]:
    answers: dict[str, str] = {}
    for item in field_data if isinstance(field_data, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        values = item.get("values")
        values = values if isinstance(values, list) else [values]
        text = ", ".join(str(v).strip() for v in values if v is not None and str(v).strip())
        if text:
            answers[item["name"]] = text
    return answers


def _question(name: str) -> str:
    return name.replace("_", " ").strip() or name


async def lead_from_graph(session: AsyncSession, graph_lead: dict[str, Any], hook: dict[str, Any]) -> LeadIn:
    """The CRM lead for a Graph lead: standard questions become fields; custom questions, and any
    answer a field refuses (a phone that is not one), go into the first note as "question: answer"."""
    answers = _answers(graph_lead.get("field_data"))
    taken: set[str] = set()

    def pop(*keys: str) -> str | None:
        for key in keys:
            if answers.get(key):
                taken.add(key)
                return answers[key]
        return None

    name = pop(*NAME_KEYS)
    if name is None:
        first, last = pop("first_name"), pop("last_name")
        name = " ".join(p for p in (first, last) if p) or None
    email, phone = pop("email", "work_email"), pop("phone_number", "work_phone_number")
    refused: list[str] = []
    if email is not None:
        try:
            email = normalise.email(email)
        except ValidationFailed:
            refused.append(f"email (not a valid address): {email}")
            email = None
    if phone is not None:
        cleaned = normalise.phone_or_none(phone, await leads.default_country(session))
        if cleaned is None:
            refused.append(f"phone (not a valid number): {phone}")
        phone = cleaned
    company, territory = pop("company_name"), pop(*TERRITORY_KEYS)
    leadgen_id = str(graph_lead.get("id") or hook["leadgen_id"])
    details = {
        "page_id": hook.get("page_id"),
        "form_id": graph_lead.get("form_id") or hook.get("form_id"),
        "ad_id": graph_lead.get("ad_id") or hook.get("ad_id"),
        "leadgen_id": leadgen_id,
    }
    lines = [f"{_question(k)}: {v}" for k, v in answers.items() if k not in taken] + refused
    return LeadIn(
        person_name=(name or email or phone or f"Facebook lead {leadgen_id}")[:200],
        email=email,
        phone=phone,
        company=company[:300] if company else None,
        territory=territory[:100] if territory else None,
        source=SOURCE,
        source_details={k: str(v)[:200] for k, v in details.items() if v},
        note="\n".join(lines)[:20000] or None,
    )


async def _existing(session: AsyncSession, leadgen_id: str) -> int | None:
    return await session.scalar(select(Lead.id).where(Lead.source_details["leadgen_id"].astext == leadgen_id))


async def on_leadgen(session: AsyncSession, payload: dict[str, Any]) -> str:
    """A person filled a lead form: fetch the answers and make the lead (assignment rules choose the
    owner, who is notified). A replay of an event that already made its lead changes nothing."""
    leadgen_id = _graph_id(payload.get("leadgen_id"), "leadgen_id")
    if (lead_id := await _existing(session, leadgen_id)) is not None:
        return f"Lead #{lead_id} already exists for Facebook lead {leadgen_id}."
    graph_lead = await _graph(session, leadgen_id)
    made = await leads.create_lead(session, None, await lead_from_graph(session, graph_lead, payload))
    return f"Created lead #{made.id} ({made.person_name})."


HANDLERS: dict[str, Handler] = {"leadgen": on_leadgen}

"""The rules of website forms: what an admin may define (checked so that a post can always become
a lead), the embed snippet, and the door's checks on a visitor's post (origin, per-address limit,
honeypot, per-field validation). Never commits: the request owns the transaction."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import audit, settings
from crm_server.auth.models import Team, User
from crm_server.auth.permissions import Principal
from crm_server.clients import normalise
from crm_server.clients.service import removed
from crm_server.concurrency import check_version
from crm_server.contract.integrations import WebhookAnswer
from crm_server.contract.leads import StatusKind
from crm_server.contract.webforms import SINGLE_TARGETS, EmbedSnippet, FormField, WebFormIn, WebFormOut, WebFormUpdate
from crm_server.db import savepoint, utcnow
from crm_server.errors import AppError, Forbidden, NotFound, TooManyRequests, ValidationFailed
from crm_server.integrations import inbox
from crm_server.integrations.models import InboxEvent
from crm_server.integrations.providers import Incoming, Malformed
from crm_server.leads import pipelines
from crm_server.webforms.models import WebForm

PROVIDER = "forms"
FORM_FIELDS = (
    "name",
    "active",
    "fields",
    "allowed_origins",
    "pipeline_id",
    "status_id",
    "assignment",
    "owner_id",
    "team_id",
    "redirect_url",
    "honeypot",
)
# Longest value a visitor may send, by where it goes (the lead's column sizes) or by field type.
TARGET_LIMITS = {
    "person_name": 200,
    "company": 300,
    "email": 320,
    "phone": 50,
    "territory": 100,
    "product_interest": 200,
    "value": 30,
}
TYPE_LIMITS = {"textarea": 5000}
TEXT_LIMIT = 500
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,2})?$")


def new_key() -> str:
    """24 url-safe characters: unguessable, so nobody posts to a form they were not shown."""
    return secrets.token_urlsafe(18)


# --- admin: defining forms -----------------------------------------------------------------------


def clean_origin(raw: str) -> str:
    """ "https://Example.com/" -> "https://example.com": scheme, host and port, as browsers send it."""
    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise ValidationFailed(
            f"{raw.strip() or 'An empty line'} is not a website origin; write it like https://example.com (no path).",
            field="allowed_origins",
        )
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def _clean_url(raw: str | None) -> str | None:
    value = (raw or "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed("The thank-you page must be a full web address (https://...).", field="redirect_url")
    return value


async def _clean(session: AsyncSession, data: WebFormIn) -> dict[str, Any]:
    """The form as stored, or a ValidationFailed naming the setting that is wrong."""
    name = " ".join(data.name.split())
    if not name:
        raise ValidationFailed("A form needs a name.", field="name")
    seen: set[str] = set()
    targets: set[str] = set()
    fields = []
    for item in data.fields:
        key = item.name.lower()
        if key in seen:
            raise ValidationFailed(f"Two fields are named {item.name}; each needs its own name.", field="fields")
        seen.add(key)
        if item.maps_to in SINGLE_TARGETS:
            if item.maps_to in targets:
                raise ValidationFailed(
                    f"Only one field can fill the lead's {item.maps_to.replace('_', ' ')}.", field="fields"
                )
            targets.add(item.maps_to)
        options = [o.strip() for o in item.options if o.strip()]
        if item.type == "select" and not options:
            raise ValidationFailed(f"The choice field {item.label} needs its options.", field="fields")
        fields.append(
            FormField(
                name=item.name,
                label=item.label.strip() or item.name,
                type=item.type,
                required=item.required,
                maps_to=item.maps_to,
                options=options if item.type == "select" else [],
            ).model_dump()
        )
    if data.honeypot.lower() in seen:
        raise ValidationFailed("The hidden spam-trap field must not share a name with a real field.", field="honeypot")
    origins = list(dict.fromkeys(clean_origin(o) for o in data.allowed_origins if o.strip()))
    pipeline = await pipelines.get_pipeline(session, data.pipeline_id)
    status_id = data.status_id
    if status_id is not None:
        status = await pipelines.get_status(session, status_id)
        if status.pipeline_id != pipeline.id or status.kind != StatusKind.open.value:
            raise ValidationFailed("New leads start in an open status of the form's pipeline.", field="status_id")
    owner_id = team_id = None
    if data.assignment == "owner":
        if data.owner_id is None:
            raise ValidationFailed("Choose who gets the form's leads.", field="owner_id")
        owner = await session.get(User, data.owner_id)
        if owner is None or not owner.active:
            raise ValidationFailed("Choose an active user.", field="owner_id")
        owner_id = owner.id
    elif data.assignment == "team":
        if data.team_id is None or await session.get(Team, data.team_id) is None:
            raise ValidationFailed("Choose the team that shares the form's leads.", field="team_id")
        team_id = data.team_id
    return {
        "name": name,
        "active": data.active,
        "fields": fields,
        "allowed_origins": origins,
        "pipeline_id": data.pipeline_id,
        "status_id": status_id,
        "assignment": data.assignment,
        "owner_id": owner_id,
        "team_id": team_id,
        "redirect_url": _clean_url(data.redirect_url),
        "honeypot": data.honeypot,
    }


def _values(form: WebForm) -> dict[str, Any]:
    return {n: getattr(form, n) for n in FORM_FIELDS}


def post_url(public_url: str, key: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/forms/{key}"


def form_out(form: WebForm, public_url: str) -> WebFormOut:
    out = WebFormOut.model_validate(form)
    out.post_url = post_url(public_url, form.key)
    return out


def _announce(session: AsyncSession, actor: Principal, form_id: int, action: str) -> None:
    events.emit(session, module="admin", entity="web_form", entity_id=form_id, action=action, actor_id=actor.user_id)


async def _flush_named(session: AsyncSession) -> None:
    """Flush; a second form of the same name is a clear error rather than a 500."""
    try:
        async with savepoint(session):
            await session.flush()
    except IntegrityError as exc:
        if "uq_web_forms_name_lower" in str(exc.orig):
            raise ValidationFailed("Another form already has this name.", field="name") from None
        raise


async def list_forms(session: AsyncSession, public_url: str) -> list[WebFormOut]:
    forms = (await session.scalars(select(WebForm).order_by(func.lower(WebForm.name), WebForm.id))).all()
    return [form_out(f, public_url) for f in forms]


async def get_form(session: AsyncSession, form_id: int, *, lock: bool = False) -> WebForm:
    form = await session.get(WebForm, form_id, with_for_update=lock, populate_existing=lock)
    if form is None:
        raise NotFound("No such website form.")
    return form


async def create_form(session: AsyncSession, actor: Principal, data: WebFormIn, public_url: str) -> WebFormOut:
    form = WebForm(**await _clean(session, data), key=new_key())
    session.add(form)
    await _flush_named(session)
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="web_form",
        entity_id=form.id,
        action="created",
        changes=audit.diff({}, _values(form)),
    )
    _announce(session, actor, form.id, "created")
    return form_out(form, public_url)


async def update_form(
    session: AsyncSession, actor: Principal, form_id: int, data: WebFormUpdate, public_url: str
) -> WebFormOut:
    form = await get_form(session, form_id, lock=True)
    check_version(form, data.version)
    before = _values(form)
    for key, value in (await _clean(session, data)).items():
        setattr(form, key, value)
    await _flush_named(session)
    changes = audit.diff(before, _values(form))
    if changes:
        audit.record(
            session, actor_id=actor.user_id, entity="web_form", entity_id=form.id, action="updated", changes=changes
        )
        _announce(session, actor, form.id, "updated")
    return form_out(form, public_url)


async def regenerate_key(session: AsyncSession, actor: Principal, form_id: int, public_url: str) -> WebFormOut:
    """A new key: the old post URL stops working at once (a form copied by spammers)."""
    form = await get_form(session, form_id, lock=True)
    form.key = new_key()
    form.updated_at = utcnow()
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="web_form",
        entity_id=form.id,
        action="key_changed",
        changes=[{"field": "key", "old": "(old key)", "new": "(new key)"}],
    )
    _announce(session, actor, form.id, "updated")
    return form_out(form, public_url)


async def delete_form(session: AsyncSession, actor: Principal, form_id: int) -> None:
    """Leads the form made stay; submissions still in the inbox become leads with the defaults."""
    form = await get_form(session, form_id, lock=True)
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="web_form",
        entity_id=form.id,
        action="deleted",
        changes=removed(_values(form)),
    )
    await session.delete(form)
    _announce(session, actor, form_id, "deleted")


# --- the embed snippet ---------------------------------------------------------------------------

SCRIPT = """<script>
/* Optional: send without leaving the page and show the answer (remove to use a plain post). */
document.getElementById("{form_id}").addEventListener("submit", function (event) {{
  event.preventDefault();
  var form = event.target, box = form.querySelector(".crm-form-message");
  fetch(form.getAttribute("action"), {{method: "POST", body: new URLSearchParams(new FormData(form)),
                       headers: {{"Accept": "application/json"}}}})
    .then(function (r) {{ return r.json().then(function (b) {{ return [r.ok, b]; }}); }})
    .then(function (a) {{
      form.querySelectorAll("[data-error]").forEach(function (e) {{ e.textContent = ""; }});
      if (a[0]) {{ {on_success} return; }}
      var errors = a[1].errors || {{}};
      Object.keys(errors).forEach(function (k) {{
        var e = form.querySelector('[data-error="' + k + '"]'); if (e) e.textContent = errors[k]; }});
      box.textContent = a[1].message || "Please check the form.";
    }})
    .catch(function () {{ box.textContent = "Sending failed; please try again."; }});
}});
</script>"""


def _input(item: dict[str, Any], prefix: str) -> str:
    name, kind = escape(item["name"]), item["type"]
    required = " required" if item["required"] else ""
    if kind == "textarea":
        return f'<textarea id="{prefix}-{name}" name="{name}" rows="5"{required}></textarea>'
    if kind == "select":
        choices = "".join(f'<option value="{escape(o)}">{escape(o)}</option>' for o in item["options"])
        return (
            f'<select id="{prefix}-{name}" name="{name}"{required}><option value="">Choose…</option>{choices}</select>'
        )
    html_type = {"email": "email", "phone": "tel"}.get(kind, "text")
    return f'<input id="{prefix}-{name}" name="{name}" type="{html_type}"{required}>'


def snippet(form: WebForm, public_url: str, *, public_url_set: bool = True) -> EmbedSnippet:
    """Plain HTML that works without the script (a form post, then the thank-you page or the JSON
    answer); the script only keeps the visitor on the page and shows errors next to the fields."""
    url = post_url(public_url, form.key)
    form_id = f"crm-form-{form.id}"
    lines = [
        f"<!-- {escape(form.name).replace('--', '- -')}: website form of the CRM -->",
        f'<form id="{form_id}" action="{escape(url)}" method="post">',
    ]
    for item in form.fields:
        star = " *" if item["required"] else ""
        name = escape(item["name"])
        lines += [
            "  <p>",
            f'    <label for="{form_id}-{name}">{escape(item["label"])}{star}</label><br>',
            f"    {_input(item, form_id)}",
            f'    <small data-error="{name}"></small>',
            "  </p>",
        ]
    # Hidden from people (not type=hidden: robots skip those); a robot fills it and is ignored.
    lines += [
        f'  <div style="position:absolute;left:-9999px" aria-hidden="true">'
        f'<input name="{escape(form.honeypot)}" tabindex="-1" autocomplete="off"></div>',
        '  <p class="crm-form-message" role="status"></p>',
        '  <button type="submit">Send</button>',
        "</form>",
    ]
    target = json.dumps(form.redirect_url).replace("</", "<\\/")  # never ends the <script> early
    on_success = (
        f"window.location.href = {target};"
        if form.redirect_url
        else "HTMLFormElement.prototype.reset.call(form); box.textContent = a[1].message;"
    )
    lines.append(SCRIPT.format(form_id=form_id, on_success=on_success))
    return EmbedSnippet(post_url=url, html="\n".join(lines) + "\n", public_url_set=public_url_set)


# --- the door: a visitor's post ------------------------------------------------------------------


async def active_form(session: AsyncSession, key: str) -> WebForm:
    """The form behind a post URL; unknown and inactive keys look the same (404)."""
    form = (await session.scalars(select(WebForm).where(WebForm.key == key))).first()
    if form is None or not form.active:
        raise NotFound("There is no such form, or it is switched off.", code="unknown_form")
    return form


def origin_allowed(form: WebForm, origin: str | None) -> bool:
    """No Origin header (a server posting, an old browser): allowed; a browser's must be listed."""
    if origin is None:
        return True
    try:
        return clean_origin(origin) in form.allowed_origins
    except ValidationFailed:
        return False


async def check_rate(session: AsyncSession, remote: str | None) -> None:
    """At most `forms.max_per_window` posts from one address per window (every post counts, the
    refused ones too: each is a row in the inbox). A per-address lock counts simultaneous posts
    one after the other."""
    if not remote:
        return
    limit = int(await settings.get(session, "forms.max_per_window"))
    window = timedelta(minutes=int(await settings.get(session, "forms.window_minutes")))
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"forms:{remote}"})
    now = utcnow()
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(InboxEvent.received_at)).where(
                InboxEvent.provider == PROVIDER, InboxEvent.remote == remote, InboxEvent.received_at >= now - window
            )
        )
    ).one()
    if count >= limit:
        wait = max(1, int((oldest + window - now).total_seconds()) + 1)
        raise TooManyRequests(
            "Too many forms sent from this address; please try again later.",
            code="too_many_submissions",
            headers={"Retry-After": str(wait)},
        )


def read_values(content_type: str, body: bytes) -> dict[str, Any]:
    """The posted fields, from a form post or a JSON object; Malformed otherwise."""
    media = content_type.partition(";")[0].strip().lower()
    if media == "application/json":
        try:
            data = json.loads(body or b"{}")
        except ValueError as exc:
            raise Malformed(f"the JSON does not parse: {exc}") from None
        if not isinstance(data, dict):
            raise Malformed("the JSON body must be an object of field names and values")
        return data
    if media in ("application/x-www-form-urlencoded", ""):
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise Malformed("the form data is not UTF-8") from None
    raise Malformed(f"send application/x-www-form-urlencoded or application/json, not {media}")


def honeypot_filled(form: WebForm, raw: dict[str, Any]) -> bool:
    return bool(str(raw.get(form.honeypot) or "").strip())


def _amount(value: str) -> str:
    plain = value.replace(" ", "").replace("\u00a0", "")
    if not _AMOUNT.match(plain):
        raise ValueError(value)
    try:
        return str(Decimal(plain))
    except InvalidOperation:
        raise ValueError(value) from None


async def validate(session: AsyncSession, form: WebForm, raw: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(clean values by field name, errors by field name): every field is checked, so a visitor sees
    all that is wrong at once. Emails and phones are normalised the way a typed lead's are."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    country = str(await settings.get(session, "company.default_country"))
    for item in form.fields:
        name, label = item["name"], item["label"]
        given = raw.get(name)
        if isinstance(given, bool | int | float | Decimal):
            given = str(given)
        if given is not None and not isinstance(given, str):
            errors[name] = f"{label}: send text."
            continue
        value = (given or "").strip()
        if not value:
            if item["required"]:
                errors[name] = f"{label} is required."
            continue
        limit = TARGET_LIMITS.get(item["maps_to"]) or TYPE_LIMITS.get(item["type"], TEXT_LIMIT)
        if len(value) > limit:
            errors[name] = f"{label} is too long (at most {limit} characters)."
            continue
        try:
            if item["type"] == "email" or item["maps_to"] == "email":
                value = normalise.email(value) or ""
            elif item["type"] == "phone" or item["maps_to"] == "phone":
                value = normalise.phone(value, country) or ""
            if item["type"] == "select" and value not in item["options"]:
                errors[name] = "Choose one of the offered options."
                continue
            if item["maps_to"] == "value":
                value = _amount(value)
        except ValidationFailed as exc:
            errors[name] = (
                "Enter a valid email address."
                if exc.code == "invalid_email"
                else "Enter a valid phone number, with the country code if it is abroad."
            )
            continue
        except ValueError:
            errors[name] = "Enter an amount, e.g. 1500 or 1500.50."
            continue
        values[name] = value
    return values, errors


def payload(form: WebForm, values: dict[str, str]) -> dict[str, Any]:
    """What the inbox keeps for the job: the values and the fields as they were when posted, so a
    later edit (or deletion) of the form does not change what this visitor said."""
    return {
        "form_id": form.id,
        "form_name": form.name,
        "values": values,
        "fields": [{"name": f["name"], "label": f["label"], "maps_to": f["maps_to"]} for f in form.fields],
    }


class FormRefused(AppError):
    """A refused post: its 4xx, with the inbox's `rejected` row committed all the same."""

    keep_changes = True


class FormInvalid(ValidationFailed):
    keep_changes = True


def cors(form: WebForm, origin: str | None) -> dict[str, str]:
    """The CORS answer for a listed origin (echoed, never "*"); nothing for a post without Origin."""
    if origin is None or not origin_allowed(form, origin):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Accept",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


async def door_form(session: AsyncSession, key: str, origin: str | None) -> WebForm:
    """The active form behind `key`, if it takes posts from `origin` (403 otherwise)."""
    form = await active_form(session, key)
    if not origin_allowed(form, origin):
        raise Forbidden(f"This form does not take posts from {origin}.", code="origin_not_allowed")
    return form


@dataclass(frozen=True)
class Post:
    """A visitor's post as the door received it. The body is read only once the form, the origin
    and the address's limit have let the post in (`read_body` enforces the door's size cap)."""

    origin: str | None
    remote: str | None
    headers: dict[str, str]
    read_body: Callable[[], Awaitable[bytes]]


@dataclass(frozen=True)
class Submitted:
    """An accepted post (a robot's too: it hears success): the form and the CORS headers to answer with."""

    form: WebForm
    headers: dict[str, str]


async def submit(session: AsyncSession, key: str, post: Post) -> Submitted:
    """Check a visitor's post and keep it in the integration inbox (a job makes the lead). A
    refusal is kept as `rejected` (committed with the 4xx) and raised with the CORS headers, so
    the visitor's page can read it."""
    form = await door_form(session, key, post.origin)
    headers = cors(form, post.origin)
    try:
        await check_rate(session, post.remote)
    except AppError as exc:
        exc.headers = {**(exc.headers or {}), **headers}
        raise
    body = await post.read_body()
    try:
        raw = read_values(post.headers.get("content-type", ""), body)
    except Malformed as exc:
        await inbox.reject(
            session, PROVIDER, reason=f"Malformed: {exc}", headers=post.headers, body=body, remote=post.remote
        )
        raise FormRefused(f"The form data cannot be read: {exc}", code="malformed", headers=headers) from None
    if honeypot_filled(form, raw):  # a robot: it hears success, the inbox keeps it as ignored
        event = Incoming(event_id=str(uuid.uuid4()), event_type="spam", payload={"form_id": form.id})
        await inbox.accept(session, PROVIDER, [event], headers=post.headers, body=body, remote=post.remote)
        return Submitted(form, headers)
    values, errors = await validate(session, form, raw)
    if errors:
        reason = "Invalid: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
        await inbox.reject(session, PROVIDER, reason=reason, headers=post.headers, body=body, remote=post.remote)
        first = next(iter(errors))
        raise FormInvalid(
            "Please correct the fields marked." if len(errors) > 1 else errors[first],
            field=first,
            headers=headers,
            extra={"errors": errors},
        )
    event = Incoming(event_id=str(uuid.uuid4()), event_type="submission", payload=payload(form, values))
    await inbox.accept(session, PROVIDER, [event], headers=post.headers, body=body, remote=post.remote)
    return Submitted(form, headers)


async def test_event(session: AsyncSession, post: Post) -> WebhookAnswer:
    """The admin panel's "Send test event": a harmless "test" event through the inbox. Anything
    else posted to the keyless door is told where a form's posts go."""
    body = await post.read_body()
    try:
        raw = read_values(post.headers.get("content-type", ""), body)
    except Malformed:
        raw = {}
    if raw.get("event_type") != "test":
        raise NotFound(
            "Post a website form to /webhooks/forms/<key> (its embed code has the address).", code="unknown_form"
        )
    event = Incoming(event_id=str(uuid.uuid4()), event_type="test", payload={})
    return await inbox.accept(session, PROVIDER, [event], headers=post.headers, body=body, remote=post.remote)

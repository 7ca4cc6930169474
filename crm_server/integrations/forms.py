"""Website forms as an inbox provider. The door is the forms' own route (`POST /webhooks/forms/<key>`
in crm_server/webforms/api.py; webforms.service.submit checks the post and stores a "submission" event); this module
turns that event into a lead in the job, through the leads service like a typed lead.

Each field fills the lead field its form maps it to; the message ("note") and unmapped fields
("none", as "Label: value" lines) make the lead's first note. The lead goes to the form's pipeline
and status, to its person or its team's round-robin, else the assignment rules decide."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.models import User
from crm_server.contract.leads import LeadIn, StatusKind
from crm_server.contract.webforms import LEAD_SOURCE
from crm_server.errors import ValidationFailed
from crm_server.integrations.providers import Handler, Incoming, Malformed, NeedsAttention
from crm_server.leads import assignment, pipelines, service
from crm_server.leads.models import PipelineStatus
from crm_server.webforms.models import WebForm

SETTINGS: tuple[str, ...] = ("forms.max_per_window", "forms.window_minutes")
REQUIRED: tuple[str, ...] = ()
WEBHOOK_PATH = "/webhooks/forms"  # "Send test event" posts here; real forms post to /webhooks/forms/<key>
TEST_DOOR_SIGNED_IN = True  # that door is an admin's: the test button forwards the admin's token
IGNORED = frozenset({"test", "spam"})  # spam: a filled honeypot, kept for the record, never a lead
LEAD_TARGETS = ("company", "email", "phone", "territory", "product_interest")


async def verify(session: AsyncSession, headers: Mapping[str, str], body: bytes) -> None:
    """Nothing to verify: a form's key is in its URL, and the door checks origin and rate."""


def events(headers: Mapping[str, str], body: bytes) -> list[Incoming]:
    raise Malformed("website forms post to /webhooks/forms/<key>")


def test_request(values: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    return {"content-type": "application/json"}, b'{"event_type": "test"}'


async def configured(session: AsyncSession) -> bool:
    """Configured once an active form exists (forms have no settings that must be filled)."""
    return await session.scalar(select(WebForm.id).where(WebForm.active.is_(True)).limit(1)) is not None


def lead_values(fields: list[dict[str, Any]], values: dict[str, str]) -> dict[str, Any]:
    """The visitor's answers as lead fields, with the note made of the message and the rest."""
    lead: dict[str, Any] = {}
    messages: list[str] = []
    others: list[str] = []
    for item in fields:
        value = (values.get(item["name"]) or "").strip()
        if not value:
            continue
        target = item["maps_to"]
        if target == "note":
            messages.append(value)
        elif target == "none":
            others.append(f"{item['label']}: {value}")
        else:
            lead[target] = value
    if "value" in lead:
        lead["value"] = Decimal(lead["value"])
    lead["person_name"] = lead.get("person_name") or lead.get("email") or lead.get("company") or "Website visitor"
    note = "\n\n".join(messages + (["\n".join(others)] if others else []))
    lead["note"] = note or None
    return lead


async def _target(session: AsyncSession, form: WebForm | None) -> dict[str, Any]:
    """Pipeline, status, owner and team from the form as it is now; what no longer fits (a deleted
    status, a deactivated owner) falls back to the defaults and the assignment rules."""
    if form is None:
        return {}
    pipeline = await pipelines.get_pipeline(session, form.pipeline_id)  # None: the default one
    out: dict[str, Any] = {"pipeline_id": pipeline.id}
    if form.status_id is not None:
        status = await session.get(PipelineStatus, form.status_id)
        if status is not None and status.kind == StatusKind.open.value and status.pipeline_id == pipeline.id:
            out["status_id"] = status.id
    if form.assignment == "owner" and form.owner_id is not None:
        owner = await session.get(User, form.owner_id)
        if owner is not None and owner.active:
            out["owner_id"] = owner.id
    elif form.assignment == "team" and form.team_id is not None:
        out["team_id"] = form.team_id
        out["owner_id"] = await assignment.round_robin(session, form.team_id)
    return out


async def handle(session: AsyncSession, payload: dict[str, Any]) -> str:
    form = await session.get(WebForm, payload["form_id"])
    fields = payload.get("fields") or (form.fields if form is not None else [])
    values = lead_values(fields, payload.get("values") or {})
    name = str(payload.get("form_name") or (form.name if form is not None else ""))
    details = {"form": name[:200], "form_id": str(payload["form_id"])} if name else {}
    try:
        data = LeadIn(**values, source=LEAD_SOURCE, source_details=details, **await _target(session, form))
        lead = await service.create_lead(session, None, data)
    except (ValidationFailed, ValueError) as exc:  # not transient: a person must look at it
        raise NeedsAttention(f"The form's answers cannot make a lead: {getattr(exc, 'message', exc)}") from None
    return f"Created lead #{lead.id} ({lead.person_name}) from the form {name}"


HANDLERS: dict[str, Handler] = {"submission": handle}

"""WhatsApp templates written in the CRM: Meta's rules checked before anything leaves (name, lengths,
{{1}}..{{n}} each backed by an allow-listed record field, buttons), submitted with
POST /{waba-id}/message_templates, edited with POST /{template-id}; any edit of a submitted template
goes to Meta again and leaves it PENDING, so it cannot be sent until approved again. Its status then
follows the template status webhook (service.on_template_status). Never commits."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.contract.whatsapp import VARIABLE_FIELDS, TemplateIn, TemplateOut
from crm_server.db import utcnow
from crm_server.errors import Conflict, NotFound, ValidationFailed
from crm_server.integrations.providers import NeedsAttention
from crm_server.whatsapp import service
from crm_server.whatsapp.models import Template

NAME = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# What Meta's reviewers see for each field in the submitted example (the body needs one per {{n}}).
EXAMPLES = {"contact.name": "Kerry Fisher", "contact.company": "Acme SRL", "owner.full_name": "Ana Pop"}
EXAMPLE_COMPANY = "Our Company"


def _one_line(value: str | None, field: str) -> str | None:
    value = (value or "").strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationFailed("This must be one line without control characters.", field=field)
    if "{{" in value:
        raise ValidationFailed("Variables may only be used in the message body.", field=field)
    return value or None


def check(data: TemplateIn) -> dict[str, Any]:
    """The template's columns, or a refusal naming the field (the same rules Meta's review applies
    first, so a typo is caught here rather than a day later)."""
    if not NAME.match(data.name):
        raise ValidationFailed("Use lower case letters, digits and _ only, e.g. spring_offer.", field="name")
    if not LANGUAGE.match(data.language):
        raise ValidationFailed("Give a WhatsApp language code such as en_US, en_GB or ro.", field="language")
    body = data.body.strip()
    found = VARIABLE.findall(body)
    numbers = []
    for tag in found:
        if not tag.isdigit() or not 1 <= int(tag) <= 20:
            raise ValidationFailed(f"{{{{{tag[:20]}}}}} is not a variable: use {{{{1}}}}, {{{{2}}}} …", field="body")
        numbers.append(int(tag))
    count = max(numbers, default=0)
    if sorted(set(numbers)) != list(range(1, count + 1)):
        raise ValidationFailed("Number the variables {{1}}, {{2}} … without gaps.", field="body")
    if len(data.variables) != count:
        raise ValidationFailed(
            f"The body has {count} variable(s): choose one record field for each.", field="variables"
        )
    for index, name in enumerate(data.variables):
        if name not in VARIABLE_FIELDS:
            raise ValidationFailed(
                f"{{{{{index + 1}}}}} stands for an unknown field; choose one of: {', '.join(VARIABLE_FIELDS)}.",
                field="variables",
            )
    buttons: list[dict[str, Any]] = []
    for button in data.buttons:
        text = _one_line(button.text, "buttons")
        item: dict[str, Any] = {"type": button.type, "text": text}
        if button.type == "URL":
            if not (button.url or "").startswith("https://") or any(c.isspace() for c in button.url or ""):
                raise ValidationFailed(f"The button {text!r} needs an https:// address.", field="buttons")
            item["url"] = button.url
        elif button.type == "PHONE_NUMBER":
            if not E164.match(button.phone_number or ""):
                raise ValidationFailed(f"The button {text!r} needs a number like +40722123456.", field="buttons")
            item["phone_number"] = button.phone_number
        buttons.append(item)
    if sum(b["type"] == "URL" for b in buttons) > 2 or sum(b["type"] == "PHONE_NUMBER" for b in buttons) > 1:
        raise ValidationFailed("At most two link buttons and one call button.", field="buttons")
    return {
        "name": data.name,
        "language": data.language,
        "category": data.category,
        "body": body,
        "variables": list(data.variables),
        "header": _one_line(data.header, "header"),
        "footer": _one_line(data.footer, "footer"),
        "buttons": buttons,
    }


def components(template: Template) -> list[dict[str, Any]]:
    """The template in Meta's components format (HEADER/BODY/FOOTER/BUTTONS, with body examples)."""
    parts: list[dict[str, Any]] = []
    if template.header:
        parts.append({"type": "HEADER", "format": "TEXT", "text": template.header})
    body: dict[str, Any] = {"type": "BODY", "text": template.body}
    if template.variables:
        example = [EXAMPLES.get(v, EXAMPLE_COMPANY) for v in template.variables]
        body["example"] = {"body_text": [example]}
    parts.append(body)
    if template.footer:
        parts.append({"type": "FOOTER", "text": template.footer})
    if template.buttons:
        parts.append({"type": "BUTTONS", "buttons": list(template.buttons)})
    return parts


def _fields(template: Template) -> dict[str, Any]:
    return {
        k: getattr(template, k)
        for k in ("name", "language", "category", "body", "variables", "header", "footer", "buttons", "status")
    }


def _announce(session: AsyncSession, actor: Principal, template: Template, action: str) -> None:
    """A live event in the integrations module: those who may view integrations see templates."""
    events.emit(
        session, module="integrations", entity="whatsapp_template", entity_id=template.id, action=action,
        actor_id=actor.user_id, data={"status": template.status},
    )  # fmt: skip


async def _template(session: AsyncSession, template_id: int) -> Template:
    template = await session.get(Template, template_id, with_for_update=True)
    if template is None:
        raise NotFound("No such WhatsApp template.")
    return template


async def _taken(session: AsyncSession, name: str, language: str, but: int | None) -> None:
    clash = await session.scalar(
        select(Template.id).where(Template.name == name, Template.language == language, Template.id != (but or 0))
    )
    if clash is not None:
        raise ValidationFailed(f"A template called {name} in {language} already exists.", field="name")


async def create(session: AsyncSession, actor: Principal, data: TemplateIn) -> TemplateOut:
    """Saved as a draft (status DRAFT): nothing goes to Meta until it is submitted."""
    values = check(data)
    await _taken(session, values["name"], values["language"], None)
    now = utcnow()
    template = Template(**values, status="DRAFT", authored=True, updated_at=now, updated_by=actor.user_id)
    session.add(template)
    await session.flush()
    audit.record(
        session, actor_id=actor.user_id, entity="whatsapp_template", entity_id=template.id, action="created",
        changes=audit.diff({}, _fields(template)),
    )  # fmt: skip
    _announce(session, actor, template, "created")
    return TemplateOut.model_validate(template)


async def update(session: AsyncSession, actor: Principal, template_id: int, data: TemplateIn) -> TemplateOut:
    """A draft is saved; a submitted template (any status) goes to Meta again and is PENDING until
    approved again, so no one sends the changed words before WhatsApp agreed to them."""
    template = await _template(session, template_id)
    values = check(data)
    if template.meta_id and (values["name"], values["language"]) != (template.name, template.language):
        field = "name" if values["name"] != template.name else "language"
        raise ValidationFailed("WhatsApp does not allow renaming a submitted template: write a new one.", field=field)
    await _taken(session, values["name"], values["language"], template.id)
    if template.meta_id and values["category"] != template.category and template.status == "APPROVED":
        raise ValidationFailed("WhatsApp does not allow changing an approved template's category.", field="category")
    before = _fields(template)
    for key, value in values.items():
        setattr(template, key, value)
    template.authored, template.updated_at, template.updated_by = True, utcnow(), actor.user_id
    if template.meta_id:
        await _to_meta(session, template, category_changed=before["category"] != template.category)
    await session.flush()
    audit.record(
        session, actor_id=actor.user_id, entity="whatsapp_template", entity_id=template.id,
        action="resubmitted" if template.meta_id else "updated", changes=audit.diff(before, _fields(template)),
    )  # fmt: skip
    _announce(session, actor, template, "updated")
    return TemplateOut.model_validate(template)


async def submit(session: AsyncSession, actor: Principal, template_id: int) -> TemplateOut:
    """Send a draft (or a rejected or paused one, as it stands) to Meta for review."""
    template = await _template(session, template_id)
    if template.status in ("PENDING", "APPROVED", "IN_APPEAL"):
        words = "waiting for approval" if template.status != "APPROVED" else "approved"
        raise Conflict(f"The template {template.name} is already {words}.", code="already_submitted")
    before = _fields(template)
    await _to_meta(session, template)
    template.updated_at, template.updated_by = utcnow(), actor.user_id
    await session.flush()
    audit.record(
        session, actor_id=actor.user_id, entity="whatsapp_template", entity_id=template.id, action="submitted",
        changes=audit.diff(before, _fields(template)),
    )  # fmt: skip
    _announce(session, actor, template, "submitted")
    return TemplateOut.model_validate(template)


async def _to_meta(session: AsyncSession, template: Template, *, category_changed: bool = False) -> None:
    """POST /{waba-id}/message_templates (new) or POST /{template-id} (an edit: the components, and
    a changed category in a call of its own, as the API takes them); PENDING afterwards."""
    payload: dict[str, Any]
    if template.meta_id:
        if category_changed:
            await _post(session, template.meta_id, {"category": template.category})
        path, payload = template.meta_id, {"components": components(template)}
    else:
        waba = str(await settings.get(session, "whatsapp.business_account_id") or "")
        if not waba:
            raise Conflict("Set the WhatsApp Business account id first.", code="not_configured")
        path = f"{waba}/message_templates"
        payload = {
            "name": template.name,
            "language": template.language,
            "category": template.category,
            "components": components(template),
        }
    answer = await _post(session, path, payload)
    if not template.meta_id:
        template.meta_id = str(answer.get("id") or "")[:50] or None
    status = str(answer.get("status") or "PENDING").upper()[:30]
    template.status = status if status in ("PENDING", "APPROVED", "REJECTED") else "PENDING"
    template.reason, template.submitted_at = None, utcnow()


async def _post(session: AsyncSession, path: str, payload: dict[str, Any]) -> Any:
    try:
        return await service.call_api(session, "POST", path, payload)
    except NeedsAttention as exc:
        raise Conflict(f"WhatsApp refused the template: {exc.reason}", code="whatsapp_refused") from None
    except (httpx.HTTPError, RuntimeError) as exc:
        raise Conflict(f"Cannot reach the WhatsApp Cloud API: {exc}", code="whatsapp_unreachable") from None

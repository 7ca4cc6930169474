"""What a rule does, run inside its job's transaction. Each change is audited and announced like a
person's would be (actor: none; the audit row names the rule), so other rules and webhooks see it.
A template e-mail or WhatsApp message goes through the same service a person's send uses, as the
rule's author: suppression, the daily limit, approval and opt-in refuse it just the same, and the
refusal's words are the action's outcome in the run log."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.activities.models import FollowUp
from crm_server.admin import audit
from crm_server.admin.service import notify
from crm_server.auth.models import Role, User
from crm_server.auth.permissions import Principal
from crm_server.automation import engine, webhooks
from crm_server.automation.capture import moment
from crm_server.automation.models import Rule, Run, Subscription
from crm_server.contract.automation import EMAIL_ENTITIES, WHATSAPP_ENTITIES, Action, ActionKind, ActionResult
from crm_server.db import utcnow
from crm_server.errors import NotFound, ValidationFailed
from crm_server.whatsapp.models import Template as WhatsAppTemplate

MODULES = {
    "lead": "leads",
    "client": "clients",
    "follow_up": "activities",
    "ticket": "tickets",
    "proposal": "proposals",
    "invoice": "invoices",
    "sales_order": "orders",
}
# Fields a rule may set, per record.
SETTABLE: dict[str, frozenset[str]] = {
    "lead": frozenset(
        {"source", "territory", "product_interest", "value", "expected_close_date", "company", "partner_name"}
    ),
    "client": frozenset({"source", "industry", "territory"}),
    "ticket": frozenset({"priority"}),
    "follow_up": frozenset({"notes"}),
}
TAGGED = frozenset({"lead", "client", "ticket"})
ASSIGNABLE = frozenset({"lead", "client", "ticket", "follow_up"})


def check(entity: str, action: Action, index: int) -> None:
    """Refuse, when the rule is saved, an action that cannot work on this record."""
    where = f"actions.{index}"
    kind = action.kind
    if kind == ActionKind.set_field and action.field not in SETTABLE.get(entity, frozenset()):
        allowed = ", ".join(sorted(SETTABLE.get(entity, ()))) or "none"
        raise ValidationFailed(f"A rule cannot set that field here (it may set: {allowed}).", field=f"{where}.field")
    if kind in (ActionKind.add_tag, ActionKind.remove_tag):
        if entity not in TAGGED:
            raise ValidationFailed("These records have no tags.", field=f"{where}.kind")
        if not action.tag:
            raise ValidationFailed("Name the tag.", field=f"{where}.tag")
    if kind == ActionKind.assign:
        if entity not in ASSIGNABLE:
            raise ValidationFailed("These records cannot be assigned by a rule.", field=f"{where}.kind")
        if action.user_id is None and action.team_id is None:
            raise ValidationFailed("Choose a person or a team to assign to.", field=f"{where}.user_id")
    if kind == ActionKind.notify and not action.user_ids and action.role_id is None:
        raise ValidationFailed("Choose people or a role to tell.", field=f"{where}.user_ids")
    if kind in (ActionKind.create_follow_up, ActionKind.create_ticket) and not action.title.strip():
        raise ValidationFailed("Give it a title.", field=f"{where}.title")
    if kind == ActionKind.call_webhook and action.subscription_id is None:
        raise ValidationFailed("Choose the webhook to call.", field=f"{where}.subscription_id")
    if kind == ActionKind.send_email:
        if entity not in EMAIL_ENTITIES:
            raise ValidationFailed("E-mails go to leads, clients and tickets only.", field=f"{where}.kind")
        if action.template_id is None:
            raise ValidationFailed("Choose the e-mail template.", field=f"{where}.template_id")
    if kind == ActionKind.send_whatsapp:
        if entity not in WHATSAPP_ENTITIES:
            raise ValidationFailed("WhatsApp messages go to leads and clients only.", field=f"{where}.kind")
        if not action.whatsapp_template:
            raise ValidationFailed("Choose an approved WhatsApp template.", field=f"{where}.whatsapp_template")


async def check_allowed(
    session: AsyncSession, principal: Principal, team_id: int | None, entity: str, action: Action, index: int
) -> None:
    """Refuse what the rule's author may not do: a template they cannot see or that is not
    approved; for a manager (team_id set), anything reaching outside their team."""
    where = f"actions.{index}"
    if action.kind == ActionKind.send_email and action.template_id is not None:
        from crm_server.emails.service import visible_template

        try:
            template = await visible_template(session, principal, action.template_id)
        except NotFound as exc:
            raise ValidationFailed("No such e-mail template.", field=f"{where}.template_id") from exc
        if template.entity != entity:
            raise ValidationFailed(
                f"That template is for {template.entity.replace('_', ' ')} records.", field=f"{where}.template_id"
            )
    if action.kind == ActionKind.send_whatsapp and action.whatsapp_template:
        status = await session.scalar(
            select(WhatsAppTemplate.status)
            .where(
                WhatsAppTemplate.name == action.whatsapp_template,
                WhatsAppTemplate.language == (action.language or WhatsAppTemplate.language),
            )
            .limit(1)
        )
        if status is None:
            raise ValidationFailed("No WhatsApp template by that name.", field=f"{where}.whatsapp_template")
        if status != "APPROVED":
            raise ValidationFailed(
                f"That WhatsApp template is {status.lower()}, not approved.", field=f"{where}.whatsapp_template"
            )
    if team_id is None:
        return
    if action.kind == ActionKind.call_webhook:
        raise ValidationFailed("Only admins' rules call outgoing webhooks.", field=f"{where}.kind")
    if action.role_id is not None:
        raise ValidationFailed(
            "A manager's rule tells people of their team, not a whole role.", field=f"{where}.role_id"
        )
    if action.team_id is not None and action.team_id != team_id:
        raise ValidationFailed("A manager's rule assigns within their own team.", field=f"{where}.team_id")
    people = [*action.user_ids, *([action.user_id] if action.user_id is not None else [])]
    if people:
        found = set(
            await session.scalars(
                select(User.id).where(User.id.in_(people), User.team_id == team_id, User.active.is_(True))
            )
        )
        for i, user_id in enumerate(people):
            if user_id not in found:
                name = "user_id" if i >= len(action.user_ids) else f"user_ids.{i}"
                raise ValidationFailed("Choose people of your own team.", field=f"{where}.{name}")


def describe(action: Action) -> str:
    """An action in words, for "test on a record"."""
    match action.kind:
        case ActionKind.create_follow_up:
            when = f"{abs(action.offset_minutes)} minutes {'before' if action.offset_minutes < 0 else 'after'}"
            return f'Would create the follow-up "{action.title}" {when} {action.relative_to or "the change"}.'
        case ActionKind.notify:
            return f'Would notify: "{action.title}".'
        case ActionKind.assign:
            who = f"person {action.user_id}" if action.user_id else f"the next person of team {action.team_id}"
            return f"Would assign to {who}."
        case ActionKind.set_field:
            return f"Would set {action.field} to {action.value!r}."
        case ActionKind.add_tag:
            return f'Would add the tag "{action.tag}".'
        case ActionKind.remove_tag:
            return f'Would remove the tag "{action.tag}".'
        case ActionKind.create_ticket:
            return f'Would create the ticket "{action.title}".'
        case ActionKind.call_webhook:
            return f"Would call webhook {action.subscription_id}."
        case ActionKind.send_email:
            return f"Would send the e-mail template {action.template_id} to the record's address."
        case ActionKind.send_whatsapp:
            return f'Would send the WhatsApp template "{action.whatsapp_template}" to the record\'s phone.'
    return "Would do nothing."


def _announce(session: AsyncSession, entity: str, obj: Any, action: str) -> None:
    owner = getattr(obj, engine.OWNER_FIELD.get(entity, "owner_id"), None)
    data: dict[str, Any] = {"version": getattr(obj, "version", None)}
    if entity == "lead":
        data.update(status_id=obj.status_id, pipeline_id=obj.pipeline_id)
    if entity == "ticket":
        data.update(number=obj.number, status=obj.status)
    if entity == "follow_up":
        data.update(lead_id=obj.lead_id, client_id=obj.client_id, status=obj.status, due_at=obj.due_at.isoformat())
    events.emit(
        session,
        module=MODULES[entity],
        entity=entity,
        entity_id=obj.id,
        action=action,
        owner_id=owner,
        team_id=getattr(obj, "team_id", None),
        data=data,
    )


def _changed(session: AsyncSession, rule: Rule, entity: str, obj: Any, before: dict[str, Any]) -> bool:
    after = {k: getattr(obj, k) for k in before}
    diff = audit.diff(before, after)
    if not diff:
        return False
    diff.append({"field": "changed_by_rule", "old": None, "new": rule.id})
    audit.record(session, actor_id=None, entity=entity, entity_id=obj.id, action="updated", changes=diff)
    _announce(session, entity, obj, "updated")
    return True


def _coerce(obj: Any, name: str, value: Any) -> Any:
    current = type(obj).__table__.c[name].type.python_type
    if value is None or value == "":
        return None
    try:
        if current is Decimal:
            return Decimal(str(value))
        if current is date:
            return date.fromisoformat(str(value))
        if current is int:
            return int(value)
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(f"{value!r} does not fit {name}.", field="value") from exc
    return str(value)


async def _base(
    session: AsyncSession, entity: str, obj: Any, data: dict[str, Any], run: Run, action: Action
) -> datetime:
    if action.relative_to == "next_meeting":
        lead_id = obj.id if entity == "lead" else getattr(obj, "lead_id", None)
        client_id = obj.id if entity == "client" else getattr(obj, "client_id", None)
        parent = FollowUp.lead_id == lead_id if lead_id is not None else FollowUp.client_id == client_id
        meeting = await session.scalar(
            select(FollowUp.due_at)
            .where(parent, FollowUp.kind == "meeting", FollowUp.status == "open", FollowUp.due_at > utcnow())
            .order_by(FollowUp.due_at)
            .limit(1)
        )
        if meeting is not None:
            return meeting
        return run.at
    if action.relative_to:
        when = moment(data.get(action.relative_to))
        if when is None:
            raise ValidationFailed(f"The record has no {action.relative_to} to count from.", field="relative_to")
        return when
    return run.at


async def _follow_up(
    session: AsyncSession, rule: Rule, run: Run, entity: str, obj: Any, data: dict[str, Any], action: Action
) -> str:
    if entity == "lead":
        lead_id, client_id = obj.id, obj.converted_client_id
    elif entity == "client":
        lead_id, client_id = None, obj.id
    else:
        lead_id, client_id = getattr(obj, "lead_id", None), getattr(obj, "client_id", None)
    if lead_id is None and client_id is None:
        raise ValidationFailed("There is no lead or client to attach the follow-up to.", field="kind")
    due = await _base(session, entity, obj, data, run, action) + timedelta(minutes=action.offset_minutes)
    owner_id = action.user_id or data.get("owner_id")
    owner = await session.get(User, owner_id) if owner_id is not None else None
    follow_up = FollowUp(
        lead_id=lead_id,
        client_id=client_id,
        kind=action.follow_up_kind,
        due_at=max(due, utcnow()),
        notes=action.title.strip(),
        owner_id=owner.id if owner else None,
        team_id=owner.team_id if owner else None,
        outcome=None,
        completed_at=None,
        completed_by=None,
    )
    session.add(follow_up)
    await session.flush()
    audit.record(
        session,
        actor_id=None,
        entity="follow_up",
        entity_id=follow_up.id,
        action="created",
        changes=[
            *audit.diff({}, {"lead_id": lead_id, "client_id": client_id, "notes": follow_up.notes}),
            {"field": "created_by_rule", "old": None, "new": rule.id},
        ],
    )
    _announce(session, "follow_up", follow_up, "created")
    return f"Follow-up {follow_up.id} due {follow_up.due_at.isoformat()}."


async def _round_robin(session: AsyncSession, rule: Rule, team_id: int) -> int:
    members = list(
        await session.scalars(select(User.id).where(User.team_id == team_id, User.active.is_(True)).order_by(User.id))
    )
    if not members:
        raise ValidationFailed("The team has no active members.", field="team_id")
    key = f"rr:{team_id}"
    last = rule.state.get(key)
    chosen = next((m for m in members if last is None or m > last), members[0])
    rule.state = {**rule.state, key: chosen}
    return chosen


async def author(session: AsyncSession, rule: Rule) -> Principal:
    """The rule's author as the sending services see them: their role's permissions today."""
    user = await session.get(User, rule.created_by) if rule.created_by is not None else None
    if user is None or not user.active:
        raise ValidationFailed("The rule's author is no longer an active user: nothing is sent.", field="created_by")
    role = await session.get(Role, user.role_id)
    permissions = dict(role.permissions) if role is not None else {}
    return Principal(user_id=user.id, team_id=user.team_id, role_id=user.role_id, permissions=permissions)


async def _send_email(session: AsyncSession, rule: Rule, entity: str, obj: Any, action: Action) -> str:
    from crm_server.contract.emails import ComposeIn, EmailEntity
    from crm_server.emails import service as emails

    sender = await author(session, rule)
    try:
        template = await emails.visible_template(session, sender, action.template_id or 0)
    except NotFound as exc:
        raise ValidationFailed("The e-mail template is gone.", field="template_id") from exc
    to = obj.requester_email if entity == "ticket" else obj.email
    if not to:
        raise ValidationFailed(f"The {entity.replace('_', ' ')} has no e-mail address.", field="to")
    sent = await emails.compose(
        session,
        sender,
        ComposeIn(
            entity=EmailEntity(entity),
            entity_id=obj.id,
            template_id=template.id,
            to=to,
            subject=template.subject,
            body=template.body,
        ),
    )
    return f"E-mail {sent.id} queued to {sent.to_addr}."


async def _send_whatsapp(session: AsyncSession, rule: Rule, entity: str, obj: Any, action: Action) -> str:
    from crm_server.contract.whatsapp import MessageIn
    from crm_server.whatsapp import service as whatsapp

    sender = await author(session, rule)
    body = MessageIn(template=action.whatsapp_template, language=action.language)
    sent = await whatsapp.send(session, sender, "leads" if entity == "lead" else "clients", obj.id, body)
    return f"WhatsApp message {sent.id} queued to {sent.phone}."


async def do(session: AsyncSession, rule: Rule, run: Run, obj: Any, action: Action) -> ActionResult:
    """One action; an AppError (no owner, a deleted webhook) is its outcome, not the job's failure."""
    entity = rule.entity
    data = await engine.values(session, entity, obj)
    kind = action.kind
    detail = ""
    if kind == ActionKind.create_follow_up:
        detail = await _follow_up(session, rule, run, entity, obj, data, action)
    elif kind == ActionKind.notify:
        people = set(action.user_ids)
        if action.role_id is not None:
            people |= set(
                await session.scalars(select(User.id).where(User.role_id == action.role_id, User.active.is_(True)))
            )
        for user_id in sorted(people):
            notify(session, user_id, "automation", action.title or rule.name, action.body, entity, obj.id)
        detail = f"Told {len(people)} people."
    elif kind == ActionKind.assign:
        name = engine.OWNER_FIELD.get(entity, "owner_id")
        user_id = action.user_id or await _round_robin(session, rule, action.team_id or 0)
        user = await session.get(User, user_id)
        if user is None or not user.active:
            raise ValidationFailed("That person is not an active user.", field="user_id")
        before = {name: getattr(obj, name), "team_id": getattr(obj, "team_id", None)}
        setattr(obj, name, user.id)
        if hasattr(obj, "team_id") and (action.team_id or user.team_id):
            obj.team_id = action.team_id or user.team_id
        await session.flush()
        _changed(session, rule, entity, obj, before)
        detail = f"Assigned to {user.full_name}."
    elif kind == ActionKind.set_field:
        assert action.field is not None
        before = {action.field: getattr(obj, action.field)}
        setattr(obj, action.field, _coerce(obj, action.field, action.value))
        await session.flush()
        detail = "Set." if _changed(session, rule, entity, obj, before) else "Already so."
    elif kind in (ActionKind.add_tag, ActionKind.remove_tag):
        tags = list(obj.tags or [])
        tag = (action.tag or "").strip()
        before = {"tags": list(tags)}
        if kind == ActionKind.add_tag and tag.casefold() not in {t.casefold() for t in tags}:
            tags.append(tag)
        if kind == ActionKind.remove_tag:
            tags = [t for t in tags if t.casefold() != tag.casefold()]
        obj.tags = tags
        await session.flush()
        detail = "Done." if _changed(session, rule, entity, obj, before) else "Already so."
    elif kind == ActionKind.create_ticket:
        from crm_server.tickets import service as tickets

        client_id = (
            obj.id if entity == "client" else getattr(obj, "client_id", getattr(obj, "converted_client_id", None))
        )
        values = {"subject": action.title.strip(), "description": action.body, "client_id": client_id}
        ticket = await tickets._new_ticket(session, None, values, None)
        detail = f"Ticket {ticket.number}."
    elif kind == ActionKind.call_webhook:
        sub = await session.get(Subscription, action.subscription_id)
        if sub is None or not sub.active:
            raise ValidationFailed("The webhook is gone or turned off.", field="subscription_id")
        from crm_server.automation.capture import payload

        record = await payload(session, entity, obj.id, {})
        delivery_id = await webhooks.enqueue(
            session,
            sub.id,
            "automation.webhook",
            {"rule": {"id": rule.id, "name": rule.name}, "entity": entity, "record": record, "change": run.change},
        )
        if delivery_id is None:
            raise ValidationFailed("The webhook is gone or turned off.", field="subscription_id")
        detail = f"Delivery {delivery_id} queued."
    elif kind == ActionKind.send_email:
        detail = await _send_email(session, rule, entity, obj, action)
    elif kind == ActionKind.send_whatsapp:
        detail = await _send_whatsapp(session, rule, entity, obj, action)
    return ActionResult(kind=kind.value, ok=True, detail=detail)

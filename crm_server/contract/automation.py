"""Automation on the wire: rules (a trigger, conditions in AND/OR groups, actions), their run log,
a dry "test on a record", and outgoing webhooks (subscriptions, deliveries, their attempts)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from crm_server.contract.common import Model

# The records rules watch, in words.
ENTITIES: dict[str, str] = {
    "lead": "Lead",
    "client": "Client",
    "follow_up": "Follow-up",
    "ticket": "Ticket",
    "proposal": "Proposal",
    "invoice": "Invoice",
    "sales_order": "Sales order",
}
Entity = Literal["lead", "client", "follow_up", "ticket", "proposal", "invoice", "sales_order"]

# The events a webhook subscription may ask for, in words.
EVENT_TYPES: dict[str, str] = {
    "lead.created": "Lead created",
    "lead.updated": "Lead changed",
    "lead.status_changed": "Lead status changed",
    "lead.won": "Lead won",
    "lead.lost": "Lead lost",
    "client.created": "Client created",
    "client.updated": "Client changed",
    "follow_up.created": "Follow-up created",
    "ticket.created": "Ticket created",
    "ticket.updated": "Ticket changed",
    "ticket.status_changed": "Ticket status changed",
    "proposal.created": "Proposal created",
    "proposal.status_changed": "Proposal status changed",
    "invoice.created": "Invoice created",
    "invoice.issued": "Invoice issued",
    "invoice.paid": "Invoice paid",
    "payment.received": "Payment received",
    "automation.webhook": "Called by an automation rule",
}

Name = Annotated[str, Field(min_length=1, max_length=200)]
Short = Annotated[str, Field(max_length=200)]
FieldName = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[a-z_]+$")]
# Minutes before (negative) or after a moment: at most a year either way.
Offset = Annotated[int, Field(ge=-525_600, le=525_600)]
Scalar = Annotated[str, Field(max_length=500)] | int | float | bool | None
Value = Scalar | Annotated[list[Annotated[str, Field(max_length=200)] | int], Field(max_length=100)]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class TriggerKind(StrEnum):
    created = "created"
    field_changed = "field_changed"
    status_changed = "status_changed"
    date_reached = "date_reached"
    inbound = "inbound"


class Trigger(Model):
    """created; field_changed (`field`, optionally `from_value` and/or `to_value`); status_changed
    (optionally from/to a status by name); date_reached (`field` + `offset_minutes`); inbound (a record
    made by a web form, an integration or an e-mail: `source` narrows it to a lead source)."""

    kind: TriggerKind
    field: FieldName | None = None
    from_value: Short | None = None
    to_value: Short | None = None
    offset_minutes: Offset = 0
    source: Short | None = None


ConditionOp = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "empty", "not_empty"]


class Condition(Model):
    """One comparison of a record's field (owner_id, team_id, source, tags, value, status, ...) or of
    who made the change (`changed_by`: person, integration or rule; `changed_by_id`: a user)."""

    field: FieldName
    op: ConditionOp = "eq"
    value: Value = None


class ConditionGroup(Model):
    match: Literal["all", "any"] = "all"
    items: list[Condition | ConditionGroup] = Field(default_factory=list, max_length=50)


class ActionKind(StrEnum):
    create_follow_up = "create_follow_up"
    notify = "notify"
    assign = "assign"
    set_field = "set_field"
    add_tag = "add_tag"
    remove_tag = "remove_tag"
    create_ticket = "create_ticket"
    call_webhook = "call_webhook"
    send_email = "send_email"
    send_whatsapp = "send_whatsapp"


# The records each action may work on (the rest work on every kind).
EMAIL_ENTITIES = ("lead", "client", "ticket")
WHATSAPP_ENTITIES = ("lead", "client")


class Action(Model):
    """What to do. create_follow_up: `title` (its notes), `follow_up_kind`, `offset_minutes` from
    `relative_to` (the trigger moment when empty, a date field of the record, or `next_meeting`),
    for `user_id` or the record's owner. notify: `user_ids` and/or `role_id`, `title`, `body`.
    assign: `user_id`, or round-robin in `team_id`. set_field: `field`, `value`. add_tag/remove_tag:
    `tag`. create_ticket: `title` (subject), `body`. call_webhook: `subscription_id`. send_email:
    `template_id` (an e-mail template of the rule's record kind) to the record's address, sent as
    the rule's author. send_whatsapp: `whatsapp_template` (an approved template's name) and
    optionally its `language`, to the record's phone, which must have opted in."""

    kind: ActionKind
    title: Short = ""
    body: Annotated[str, Field(max_length=2000)] = ""
    follow_up_kind: Literal["call", "email", "whatsapp", "meeting"] = "call"
    offset_minutes: Offset = 0
    relative_to: FieldName | None = None
    user_id: Id | None = None
    user_ids: list[Id] = Field(default_factory=list, max_length=50)
    role_id: Id | None = None
    team_id: Id | None = None
    field: FieldName | None = None
    value: Value = None
    tag: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    subscription_id: Id | None = None
    template_id: Id | None = None
    whatsapp_template: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    language: Annotated[str, Field(min_length=1, max_length=20)] | None = None


class RuleIn(Model):
    name: Name
    entity: Entity
    trigger: Trigger
    conditions: ConditionGroup = Field(default_factory=ConditionGroup)
    actions: list[Action] = Field(min_length=1, max_length=20)
    active: bool = True


class RuleOut(RuleIn):
    id: int
    # A manager's rule: it works on this team's records only (None: every record).
    team_id: int | None = None
    created_at: datetime
    updated_at: datetime


class ActiveIn(Model):
    active: bool


class ConditionResult(Model):
    field: str
    op: str
    expected: Any = None
    actual: Any = None
    passed: bool


class ActionResult(Model):
    kind: str
    ok: bool
    detail: str = ""


RunOutcome = Literal["not_matched", "queued", "done", "failed", "cancelled", "stopped", "would_run"]


class RunOut(Model):
    id: int
    rule_id: int
    rule_name: str = ""
    entity: str
    entity_id: int
    at: datetime
    outcome: RunOutcome
    depth: int
    detail: str = ""
    change: dict[str, Any] = Field(default_factory=dict)
    conditions: list[ConditionResult] = Field(default_factory=list)
    matched: bool = False
    actions: list[ActionResult] = Field(default_factory=list)


class TestIn(Model):
    entity_id: Id


FieldKind = Literal["text", "number", "date", "moment", "list", "bool", "person", "team"]


class FieldOut(Model):
    """A field rules may watch or compare (`settable`: a rule's "set a field" may change it)."""

    name: str
    kind: FieldKind
    settable: bool = False


class EntityFields(Model):
    entity: Entity
    fields: list[FieldOut]


# --- outgoing webhooks ----------------------------------------------------------------------------


class SubscriptionIn(Model):
    name: Name
    url: Annotated[str, Field(min_length=8, max_length=2000)]
    event_types: list[Annotated[str, Field(max_length=60)]] = Field(min_length=1, max_length=50)
    active: bool = True


class SubscriptionOut(Model):
    id: int
    name: str
    url: str
    event_types: list[str]
    active: bool
    disabled_reason: str | None = None
    created_at: datetime
    # Only in the answer that created it (or rotated it): never shown again.
    secret: str | None = None


DeliveryStatus = Literal["pending", "delivered", "failed", "dead"]


class AttemptOut(Model):
    id: int
    at: datetime
    status_code: int | None = None
    duration_ms: int
    response_excerpt: str = ""
    error: str | None = None


class DeliveryOut(Model):
    id: int
    subscription_id: int
    event_type: str
    message_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    created_at: datetime
    delivered_at: datetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    log: list[AttemptOut] = Field(default_factory=list)

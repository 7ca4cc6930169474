"""HTTP routes of automation (Admin > Automation): rules, their run log, test on a record; outgoing
webhook subscriptions, their deliveries and attempts, resend."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from crm_server.auth.permissions import Principal
from crm_server.automation import fields, service, webhooks
from crm_server.contract.automation import (
    ActiveIn,
    DeliveryOut,
    DeliveryStatus,
    Entity,
    EntityFields,
    RuleIn,
    RuleOut,
    RunOut,
    RunOutcome,
    SubscriptionIn,
    SubscriptionOut,
    TestIn,
)
from crm_server.contract.common import Page
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api/automation", route_class=TxRoute, tags=["automation"])

Id = Annotated[int, Query(ge=1, le=2**63 - 1)]
Offset = Annotated[int, Query(ge=0, le=2**31)]
Limit = Annotated[int, Query(ge=1, le=200)]


# Rules and their log: the `automation` permission; a manager's (scope team) are their team's alone.
@router.get("/rules", response_model=list[RuleOut])
async def list_rules(session: Session, actor: Principal = require("automation", "view")) -> list[RuleOut]:
    return await service.list_rules(session, actor)


@router.post("/rules", response_model=RuleOut, status_code=201)
async def create_rule(body: RuleIn, session: Session, actor: Principal = require("automation", "create")) -> RuleOut:
    return await service.create_rule(session, actor, body)


@router.get("/rules/{rule_id}", response_model=RuleOut)
async def get_rule(rule_id: int, session: Session, actor: Principal = require("automation", "view")) -> RuleOut:
    return await service.get_rule(session, actor, rule_id)


@router.put("/rules/{rule_id}", response_model=RuleOut)
async def update_rule(
    rule_id: int, body: RuleIn, session: Session, actor: Principal = require("automation", "edit")
) -> RuleOut:
    return await service.update_rule(session, actor, rule_id, body)


@router.post("/rules/{rule_id}/active", response_model=RuleOut)
async def set_active(
    rule_id: int, body: ActiveIn, session: Session, actor: Principal = require("automation", "edit")
) -> RuleOut:
    """Turning a rule off stops it at once: its queued runs are cancelled, its planned dates dropped."""
    return await service.set_active(session, actor, rule_id, body.active)


@router.delete("/rules/{rule_id}", status_code=204, response_class=Response)
async def delete_rule(rule_id: int, session: Session, actor: Principal = require("automation", "delete")) -> Response:
    await service.delete_rule(session, actor, rule_id)
    return Response(status_code=204)


@router.post("/rules/{rule_id}/test", response_model=RunOut)
async def test_rule(
    rule_id: int, body: TestIn, session: Session, actor: Principal = require("automation", "view")
) -> RunOut:
    """What the rule would do on this record now (conditions' results, actions in words); nothing is done."""
    return await service.test_rule(session, actor, rule_id, body.entity_id)


@router.get("/fields", response_model=list[EntityFields], dependencies=[require("automation", "view")])
async def list_fields() -> list[EntityFields]:
    """Each record's fields a rule may watch, compare or set: the rule editor's choices."""
    return fields.fields()


@router.get("/runs", response_model=Page[RunOut])
async def list_runs(
    session: Session,
    actor: Principal = require("automation", "view"),
    rule_id: Id | None = None,
    entity: Entity | None = None,
    entity_id: Id | None = None,
    outcome: RunOutcome | None = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[RunOut]:
    return await service.list_runs(session, actor, rule_id, entity, entity_id, outcome, offset, limit)


@router.get("/webhooks", response_model=list[SubscriptionOut], dependencies=[require("admin", "view")])
async def list_subscriptions(session: Session) -> list[SubscriptionOut]:
    return await webhooks.list_subscriptions(session)


@router.post("/webhooks", response_model=SubscriptionOut, status_code=201)
async def create_subscription(
    body: SubscriptionIn, session: Session, actor: Principal = require("admin", "edit")
) -> SubscriptionOut:
    """The answer carries the signing secret; it is never shown again."""
    return await webhooks.create_subscription(session, actor.user_id, body)


@router.put("/webhooks/{subscription_id}", response_model=SubscriptionOut)
async def update_subscription(
    subscription_id: int, body: SubscriptionIn, session: Session, actor: Principal = require("admin", "edit")
) -> SubscriptionOut:
    return await webhooks.update_subscription(session, actor.user_id, subscription_id, body)


@router.delete("/webhooks/{subscription_id}", status_code=204, response_class=Response)
async def delete_subscription(
    subscription_id: int, session: Session, actor: Principal = require("admin", "edit")
) -> Response:
    await webhooks.delete_subscription(session, actor.user_id, subscription_id)
    return Response(status_code=204)


@router.get("/deliveries", response_model=Page[DeliveryOut], dependencies=[require("admin", "view")])
async def list_deliveries(
    session: Session,
    subscription_id: Id | None = None,
    status: DeliveryStatus | None = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[DeliveryOut]:
    """Newest first; `status=dead` is the dead-letter list."""
    return await webhooks.list_deliveries(session, subscription_id, status, offset, limit)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut, dependencies=[require("admin", "view")])
async def get_delivery(delivery_id: int, session: Session) -> DeliveryOut:
    """The delivery with its log: each attempt's status code, time and response excerpt."""
    return await webhooks.get_delivery(session, delivery_id)


@router.post("/deliveries/{delivery_id}/resend", response_model=DeliveryOut)
async def resend(delivery_id: int, session: Session, actor: Principal = require("admin", "edit")) -> DeliveryOut:
    return await webhooks.resend(session, actor.user_id, delivery_id)

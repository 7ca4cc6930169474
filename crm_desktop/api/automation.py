"""Typed calls for Admin > Automation and Admin > Webhooks: rules, their run log, test on a record;
webhook subscriptions, their deliveries (with each attempt), resend. Wire models come from
crm_server.contract.automation.

    rules = await automation.list_rules(api)
    operations.run(self, automation.create_rule(api, body), changed=automation.CHANGED)
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from crm_desktop.api.client import ApiClient
from crm_server.contract.automation import DeliveryOut, EntityFields, RuleOut, RunOut, SubscriptionOut
from crm_server.contract.common import Page

Body = dict[str, Any]

# What a change announces on the change bus (operations.run(..., changed=...)).
# Rules' live events are module "automation" (seen by admins and the rule's team's managers).
CHANGED = frozenset({"admin.automation_rule", "automation.automation_rule"})
WEBHOOKS = frozenset({"admin.webhook_subscription"})

_RULES = TypeAdapter(list[RuleOut])
_FIELDS = TypeAdapter(list[EntityFields])
_RUNS = TypeAdapter(Page[RunOut])
_SUBS = TypeAdapter(list[SubscriptionOut])
_DELIVERIES = TypeAdapter(Page[DeliveryOut])


def _query(filters: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in filters.items() if v is not None}


async def list_rules(api: ApiClient) -> list[RuleOut]:
    return _RULES.validate_python(await api.get("/api/automation/rules"))


async def fields(api: ApiClient) -> list[EntityFields]:
    """Each record's fields a rule may watch, compare or set (the rule editor's choices)."""
    return _FIELDS.validate_python(await api.get("/api/automation/fields"))


async def create_rule(api: ApiClient, body: Body) -> RuleOut:
    return RuleOut.model_validate(await api.post("/api/automation/rules", body))


async def update_rule(api: ApiClient, rule_id: int, body: Body) -> RuleOut:
    return RuleOut.model_validate(await api.put(f"/api/automation/rules/{rule_id}", body))


async def set_active(api: ApiClient, rule_id: int, active: bool) -> RuleOut:
    return RuleOut.model_validate(await api.post(f"/api/automation/rules/{rule_id}/active", {"active": active}))


async def test_rule(api: ApiClient, rule_id: int, entity_id: int) -> RunOut:
    """What the rule would do on that record now; nothing is done."""
    return RunOut.model_validate(await api.post(f"/api/automation/rules/{rule_id}/test", {"entity_id": entity_id}))


async def list_runs(api: ApiClient, offset: int = 0, limit: int = 50, **filters: Any) -> Page[RunOut]:
    """The run log, newest first; filters: rule_id, entity, entity_id, outcome."""
    return _RUNS.validate_python(await api.get("/api/automation/runs", offset=offset, limit=limit, **_query(filters)))


async def list_subscriptions(api: ApiClient) -> list[SubscriptionOut]:
    return _SUBS.validate_python(await api.get("/api/automation/webhooks"))


async def create_subscription(api: ApiClient, body: Body) -> SubscriptionOut:
    """The answer carries the signing secret, shown this once."""
    return SubscriptionOut.model_validate(await api.post("/api/automation/webhooks", body))


async def update_subscription(api: ApiClient, subscription_id: int, body: Body) -> SubscriptionOut:
    return SubscriptionOut.model_validate(await api.put(f"/api/automation/webhooks/{subscription_id}", body))


async def list_deliveries(api: ApiClient, offset: int = 0, limit: int = 50, **filters: Any) -> Page[DeliveryOut]:
    """Newest first; filters: subscription_id, status ("dead" is the dead-letter list)."""
    return _DELIVERIES.validate_python(
        await api.get("/api/automation/deliveries", offset=offset, limit=limit, **_query(filters))
    )


async def get_delivery(api: ApiClient, delivery_id: int) -> DeliveryOut:
    """A delivery with its log: each attempt's status code, time and response excerpt."""
    return DeliveryOut.model_validate(await api.get(f"/api/automation/deliveries/{delivery_id}"))


async def resend(api: ApiClient, delivery_id: int) -> DeliveryOut:
    return DeliveryOut.model_validate(await api.post(f"/api/automation/deliveries/{delivery_id}/resend"))

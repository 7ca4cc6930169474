"""Typed calls for the integrations page: each provider's state, its test event, and the webhook
inbox's events (browse, read, replay, match a payment to an invoice). The wire models come from
crm_server.contract.integrations; a provider's settings are admin settings (crm_desktop.api.admin).

    states = await integrations.states(api)
    operations.run(self, integrations.replay(api, event_id), changed=integrations.EVENTS)
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from crm_desktop.api.client import ApiClient
from crm_server.contract.common import Page
from crm_server.contract.integrations import InboxEventDetail, InboxEventOut, ProviderState, TestResult
from crm_server.contract.invoices import InvoiceOut

# What a change announces on the change bus (operations.run(..., changed=...)).
EVENTS = frozenset({"integrations.integration_event"})
# A provider's state and counts are read again after these.
STATES = frozenset({"integrations", "integrations.integration", "integrations.integration_event"})
# Matching a payment to an invoice changes the invoice too.
INVOICE_EVENTS = frozenset({"invoices", "invoices.invoice"})

_STATES = TypeAdapter(list[ProviderState])
_EVENTS = TypeAdapter(Page[InboxEventOut])
_INVOICES = TypeAdapter(Page[InvoiceOut])


async def states(api: ApiClient) -> list[ProviderState]:
    """Every provider with its state in words, its last event and its counts."""
    return _STATES.validate_python(await api.get("/api/integrations"))


async def send_test(api: ApiClient, provider: str) -> TestResult:
    """Check the connection and push a signed sample event through the provider's webhook."""
    return TestResult.model_validate(await api.post(f"/api/integrations/{provider}/test"))


async def events(
    api: ApiClient, provider: str, offset: int = 0, limit: int = 100, **filters: Any
) -> Page[InboxEventOut]:
    answer = await api.get("/api/integrations/events", provider=provider, offset=offset, limit=limit, **filters)
    return _EVENTS.validate_python(answer)


async def event(api: ApiClient, event_id: int) -> InboxEventDetail:
    return InboxEventDetail.model_validate(await api.get(f"/api/integrations/events/{event_id}"))


async def replay(api: ApiClient, event_id: int) -> InboxEventOut:
    return InboxEventOut.model_validate(await api.post(f"/api/integrations/events/{event_id}/replay"))


async def match(api: ApiClient, event_id: int, invoice_id: int) -> InboxEventOut:
    """The CRM invoice a waiting payment event is for; the event is worked on again."""
    answer = await api.post(f"/api/integrations/events/{event_id}/match", {"invoice_id": invoice_id})
    return InboxEventOut.model_validate(answer)


async def invoices_to_match(api: ApiClient, search: str = "", limit: int = 100) -> Page[InvoiceOut]:
    """Invoices (not credit notes) a payment could be matched to, the newest first."""
    answer = await api.get("/api/invoices", kind="invoice", limit=limit, q=search.strip() or None)
    return _INVOICES.validate_python(answer)

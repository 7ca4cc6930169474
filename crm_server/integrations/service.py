"""What the admin panel asks of the integrations: each provider's state, the event browser, replay,
and "Send test event". Never commits (the request owns the transaction)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, paging
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.contract.common import Page
from crm_server.contract.integrations import (
    PROVIDER_LABELS,
    PROVIDERS,
    EventQuery,
    InboxEventDetail,
    InboxEventOut,
    MatchIn,
    ProviderState,
    State,
)
from crm_server.db import savepoint, utcnow
from crm_server.errors import Conflict, Forbidden, NotFound
from crm_server.integrations import inbox, registry
from crm_server.integrations.models import InboxEvent, ProviderProblem
from crm_server.integrations.providers import NeedsAttention


def module_of(provider: str) -> ModuleType:
    module = registry.provider(provider)
    if module is None:
        raise NotFound(f"No integration called {provider!r}.", code="unknown_provider")
    return module


async def is_configured(session: AsyncSession, module: ModuleType, values: dict[str, Any]) -> bool:
    """Its REQUIRED settings are filled in; a provider with none says itself (`configured(session)`:
    website forms count once a form is active)."""
    required = getattr(module, "REQUIRED", ())
    if required:
        return all(values.get(key) for key in required)
    check = getattr(module, "configured", None)
    return True if check is None else bool(await check(session))


async def provider_states(session: AsyncSession) -> list[ProviderState]:
    values = await settings.get_all(session)
    counts = {
        row.provider: row
        for row in (
            await session.execute(
                select(
                    InboxEvent.provider,
                    func.max(InboxEvent.received_at).filter(InboxEvent.status != "rejected").label("last"),
                    func.count().filter(InboxEvent.status.in_(("failed", "needs_attention"))).label("errors"),
                    func.count().filter(InboxEvent.status == "pending").label("pending"),
                ).group_by(InboxEvent.provider)
            )
        ).all()
    }
    problems = {p.provider: p for p in (await session.scalars(select(ProviderProblem))).all()}
    states = []
    for provider in PROVIDERS:
        module = module_of(provider)
        row, problem = counts.get(provider), problems.get(provider)
        errors = int(row.errors) if row else 0
        state: State = "connected"
        reason: str | None = None
        if not await is_configured(session, module, values):
            state = "not_configured"
        elif problem is not None:
            state = "needs_reauthorization" if problem.reauthorize else "needs_attention"
            reason = problem.reason
        elif errors:
            state = "needs_attention"
            reason = f"{errors} event{'s' if errors != 1 else ''} failed or wait for a person: see the events below."
        states.append(
            ProviderState(
                provider=provider,
                label=PROVIDER_LABELS[provider],
                state=state,
                reason=reason,
                webhook_path=getattr(module, "WEBHOOK_PATH", f"/webhooks/{provider}"),
                settings=list(getattr(module, "SETTINGS", ())),
                last_event_at=row.last if row else None,
                error_count=errors,
                pending_count=int(row.pending) if row else 0,
            )
        )
    return states


async def list_events(session: AsyncSession, query: EventQuery) -> Page[InboxEventOut]:
    stmt = select(InboxEvent)
    if query.provider:
        stmt = stmt.where(InboxEvent.provider == query.provider)
    if query.status:
        stmt = stmt.where(InboxEvent.status == query.status)
    if query.q and query.q.strip():
        pattern = f"%{query.q.strip()}%"
        stmt = stmt.where(
            or_(
                InboxEvent.event_id.ilike(pattern),
                InboxEvent.event_type.ilike(pattern),
                InboxEvent.outcome.ilike(pattern),
                InboxEvent.error.ilike(pattern),
                cast(InboxEvent.id, String) == query.q.strip(),
            )
        )
    newest_first = (InboxEvent.received_at.desc(), InboxEvent.id.desc())
    return await paging.page(
        session, stmt, query.offset, query.limit, inbox.event_out, newest_first, count_cap=10_000, after=query.after
    )


async def event_detail(session: AsyncSession, event_id: int) -> InboxEventDetail:
    event = await session.get(InboxEvent, event_id)
    if event is None:
        raise NotFound("No such event in the integration inbox.", code="event_not_found")
    body = await session.scalar(select(InboxEvent.body).where(InboxEvent.id == event_id)) or b""
    return InboxEventDetail.model_validate(
        {
            **inbox.event_out(event).model_dump(),
            "headers": event.headers,
            "payload": event.payload,
            "body": body.decode("utf-8", "replace"),
            "body_size": event.body_size,
            "body_sha256": event.body_sha256,
        }
    )


async def replay(session: AsyncSession, actor: Principal, event_id: int) -> InboxEventOut:
    """Work on a failed or waiting event now, once its cause is fixed; the answer says how it went."""
    event = await inbox.locked(session, event_id)
    if event is None:
        raise NotFound("No such event in the integration inbox.", code="event_not_found")
    if event.status not in inbox.REPLAYABLE:
        what = {
            "rejected": "was refused at the door and was never work",
            "pending": "is waiting for its first try",
        }.get(event.status, f"is already {event.status}")
        raise Conflict(
            f"This event {what}; only failed events and events that need attention can be replayed.",
            code="not_replayable",
        )
    before = {"status": event.status, "error": event.error}
    await inbox.process(session, event, actor_id=actor.user_id)
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="integration_event",
        entity_id=event.id,
        action="replayed",
        changes=audit.diff(before, {"status": event.status, "error": event.error}),
    )
    return inbox.event_out(event)


async def check_connection(session: AsyncSession, provider: str) -> str | None:
    """The provider's own connection check, if it has one; a problem is remembered and returned."""
    check = getattr(module_of(provider), "check_connection", None)
    if check is None:
        return None
    try:
        await check(session)
    except NeedsAttention as exc:
        await inbox.set_problem(session, provider, exc.reason, reauthorize=exc.reauthorize)
        return exc.reason
    await inbox.clear_problem(session, provider)
    return None


async def match(session: AsyncSession, actor: Principal, event_id: int, data: MatchIn) -> InboxEventOut:
    """ "Match to invoice…": a person says which invoice a waiting payment event is for. The money is
    recorded on it (audited as theirs), the provider's customer is remembered on the invoice's client,
    and the event is processed; or the answer says why not and the event stays as it was."""
    from crm_server.integrations import stripe
    from crm_server.invoices import service as invoices

    if not actor.can("payments", "create"):
        raise Forbidden("Recording a payment needs the right to create payments.")
    event = await inbox.locked(session, event_id)
    if event is None:
        raise NotFound("No such event in the integration inbox.", code="event_not_found")
    if event.provider != "stripe" or event.event_type not in stripe.MATCHABLE:
        raise Conflict(
            "Only a Stripe payment (payment_intent.succeeded, invoice.paid) can be matched to an invoice.",
            code="not_matchable",
        )
    if event.status not in inbox.REPLAYABLE:
        raise Conflict(
            f"This event is {event.status}; only events that wait for a person can be matched.", code="not_matchable"
        )
    invoice = await invoices.visible_invoice(session, actor, data.invoice_id, lock=True)
    if invoice.kind != "invoice" or invoice.number is None:
        raise Conflict("Pick an issued invoice.", field="invoice_id", code="not_payable")
    try:
        async with savepoint(session):
            outcome = await stripe.match(session, actor.user_id, event.event_type, dict(event.payload), invoice)
    except stripe.NeedsAttention as exc:
        raise Conflict(exc.reason, field="invoice_id", code="not_matched") from None
    except stripe.StripeUnavailable as exc:
        raise Conflict(f"{exc} Try again in a moment.", code="stripe_unavailable") from None
    before = {"status": event.status, "error": event.error}
    event.status, event.error, event.next_attempt_at = "processed", None, None
    event.outcome, event.processed_at = f"Matched to {invoice.number} by a person. {outcome}", utcnow()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="integration_event",
        entity_id=event.id,
        action="matched",
        changes=audit.diff(
            {**before, "invoice": None}, {"status": event.status, "error": None, "invoice": invoice.number}
        ),
    )
    events.emit(
        session,
        module="integrations",
        entity="integration_event",
        entity_id=event.id,
        action="updated",
        actor_id=actor.user_id,
        data={"provider": event.provider, "status": event.status},
    )
    await session.flush()
    return inbox.event_out(event)

"""What a manager enters for the reports: the money spent per lead source and month (the lead
sources report's return), and each pipeline stage's win probability (the weighted forecast)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, money
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.contract.auth import Scope
from crm_server.contract.reports import SourceCostIn, SourceCostOut, StageProbabilityIn, StageProbabilityOut
from crm_server.db import utcnow
from crm_server.errors import Forbidden, NotFound, ValidationFailed
from crm_server.invoices.service import checked_currency
from crm_server.leads.models import PipelineStatus
from crm_server.reports.models import LeadSourceCost


def _manager(principal: Principal) -> None:
    """Costs are a manager's to enter: someone who edits leads beyond their own."""
    if not principal.can("leads", "edit") or principal.scope("leads") is Scope.own:
        raise Forbidden("Only a manager enters what a lead source cost.")


async def list_costs(session: AsyncSession, principal: Principal, year: int | None) -> list[SourceCostOut]:
    stmt = select(LeadSourceCost).order_by(LeadSourceCost.month.desc(), LeadSourceCost.source)
    if year is not None:
        stmt = stmt.where(LeadSourceCost.month >= date(year, 1, 1), LeadSourceCost.month <= date(year, 12, 1))
    return [SourceCostOut.model_validate(c) for c in (await session.scalars(stmt.limit(5000))).all()]


async def put_cost(session: AsyncSession, principal: Principal, data: SourceCostIn) -> SourceCostOut | None:
    """Set (or with 0, remove) what was spent on a source in a month; answers the entry (None: removed)."""
    _manager(principal)
    source = data.source.strip()
    if not source or any(ord(c) < 32 for c in source):
        raise ValidationFailed("Name the lead source (no control characters).", field="source")
    currency = checked_currency(data.currency or str(await settings.get(session, "sales.base_currency")))
    month = data.month.replace(day=1)
    amount = money.round_money(data.amount, currency)
    if amount != data.amount:
        raise ValidationFailed(f"{currency} has {money.minor_unit(currency)} decimals.", field="amount")
    key = (LeadSourceCost.source == source, LeadSourceCost.month == month, LeadSourceCost.currency == currency)
    before = await session.scalar(select(LeadSourceCost).where(*key))
    old = str(before.amount) if before is not None else None
    if amount == 0:
        await session.execute(delete(LeadSourceCost).where(*key))
        entry_id = before.id if before is not None else 0
        out = None
    else:
        entry_id = int(
            await session.scalar(
                insert(LeadSourceCost)
                .values(source=source, month=month, amount=amount, currency=currency, updated_by=principal.user_id)
                .on_conflict_do_update(
                    constraint="uq_lead_source_costs",
                    set_={"amount": amount, "updated_by": principal.user_id, "updated_at": utcnow()},
                )
                .returning(LeadSourceCost.id)
            )
            or 0
        )
        out = SourceCostOut(id=entry_id, source=source, month=month, amount=amount, currency=currency)
    changes = [{"field": "amount", "old": old, "new": str(amount) if amount else None}]
    audit.record(
        session,
        actor_id=principal.user_id,
        entity="lead_source_cost",
        entity_id=entry_id,
        action="updated",
        changes=changes,
    )
    events.emit(
        session,
        module="reports",
        entity="lead_source_cost",
        entity_id=entry_id,
        action="updated",
        actor_id=principal.user_id,
    )
    return out


async def set_probability(
    session: AsyncSession, principal: Principal, status_id: int, data: StageProbabilityIn
) -> StageProbabilityOut:
    status = await session.get(PipelineStatus, status_id, with_for_update=True)
    if status is None:
        raise NotFound("No such status.")
    old = status.win_probability
    status.win_probability = Decimal(data.win_probability)
    await session.flush()
    audit.record(
        session,
        actor_id=principal.user_id,
        entity="pipeline_status",
        entity_id=status.id,
        action="updated",
        changes=[{"field": "win_probability", "old": str(old), "new": str(status.win_probability)}],
    )
    events.emit(
        session,
        module="leads",
        entity="pipeline",
        entity_id=status.pipeline_id,
        action="updated",
        actor_id=principal.user_id,
    )
    return StageProbabilityOut.model_validate(status)


async def probabilities(session: AsyncSession, pipeline_id: int) -> list[StageProbabilityOut]:
    rows = await session.scalars(
        select(PipelineStatus).where(PipelineStatus.pipeline_id == pipeline_id).order_by(PipelineStatus.position)
    )
    return [StageProbabilityOut.model_validate(s) for s in rows]

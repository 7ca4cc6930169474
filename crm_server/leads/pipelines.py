"""Pipelines and their statuses, lost reasons and lead sources: the lists admins shape the sales
process with. A pipeline always keeps at least one open, one won and one lost status."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import audit
from crm_server.admin.models import AuditEntry
from crm_server.auth.permissions import Principal
from crm_server.concurrency import check_version
from crm_server.contract.leads import (
    NamedItemIn,
    NamedItemOut,
    NamedItemUpdate,
    PipelineIn,
    PipelineOut,
    PipelineUpdate,
    StatusIn,
    StatusKind,
    StatusOut,
    StatusUpdate,
)
from crm_server.db import same_text, utcnow
from crm_server.errors import NotFound, ValidationFailed
from crm_server.leads.models import Lead, LeadSource, LostReason, Pipeline, PipelineStatus

NEW_PIPELINE_STATUSES = (("Open", "open"), ("Won", "won"), ("Lost", "lost"), ("Junk", "junk"))
CLOSED = (StatusKind.won.value, StatusKind.lost.value, StatusKind.junk.value)


def _announce(session: AsyncSession, actor: Principal, entity: str, entity_id: int, action: str, **data: Any) -> None:
    # Configuration, not a scoped record: admins' desktops hear it; others reload pipelines when they
    # open the board.
    events.emit(
        session, module="admin", entity=entity, entity_id=entity_id, action=action, actor_id=actor.user_id, data=data
    )


# --- reading -------------------------------------------------------------------------------------


async def get_pipeline(session: AsyncSession, pipeline_id: int | None, *, lock: bool = False) -> Pipeline:
    """The pipeline named, or the default one."""
    if pipeline_id is None:
        pipeline = (await session.scalars(select(Pipeline).where(Pipeline.is_default.is_(True)))).first()
        if pipeline is None:
            pipeline = (await session.scalars(select(Pipeline).order_by(Pipeline.id))).first()
    else:
        pipeline = await session.get(Pipeline, pipeline_id, with_for_update=lock)
    if pipeline is None:
        raise ValidationFailed("No such pipeline.", field="pipeline_id")
    return pipeline


async def statuses_of(session: AsyncSession, pipeline_id: int) -> list[PipelineStatus]:
    return list(
        (
            await session.scalars(
                select(PipelineStatus)
                .where(PipelineStatus.pipeline_id == pipeline_id)
                .order_by(PipelineStatus.position, PipelineStatus.id)
            )
        ).all()
    )


async def get_status(session: AsyncSession, status_id: int, field: str = "status_id") -> PipelineStatus:
    status = await session.get(PipelineStatus, status_id)
    if status is None:
        raise ValidationFailed("No such status.", field=field)
    return status


async def first_open_status(session: AsyncSession, pipeline_id: int) -> PipelineStatus:
    for status in await statuses_of(session, pipeline_id):
        if status.kind == StatusKind.open.value:
            return status
    raise ValidationFailed("This pipeline has no open status.", field="pipeline_id")


async def pipeline_out(session: AsyncSession, pipeline: Pipeline) -> PipelineOut:
    statuses = [StatusOut.model_validate(s) for s in await statuses_of(session, pipeline.id)]
    return PipelineOut(
        id=pipeline.id, name=pipeline.name, is_default=pipeline.is_default, version=pipeline.version, statuses=statuses
    )


async def list_pipelines(session: AsyncSession) -> list[PipelineOut]:
    pipelines = (await session.scalars(select(Pipeline).order_by(Pipeline.is_default.desc(), Pipeline.name))).all()
    statuses = (
        await session.scalars(select(PipelineStatus).order_by(PipelineStatus.position, PipelineStatus.id))
    ).all()
    by_pipeline: dict[int, list[StatusOut]] = {}
    for status in statuses:
        by_pipeline.setdefault(status.pipeline_id, []).append(StatusOut.model_validate(status))
    return [
        PipelineOut(
            id=p.id, name=p.name, is_default=p.is_default, version=p.version, statuses=by_pipeline.get(p.id, [])
        )
        for p in pipelines
    ]


# --- pipelines -----------------------------------------------------------------------------------


async def _name_free(session: AsyncSession, name: str, except_id: int | None = None) -> None:
    stmt = select(Pipeline.id).where(same_text(Pipeline.name, name))
    if except_id is not None:
        stmt = stmt.where(Pipeline.id != except_id)
    if await session.scalar(stmt):
        raise ValidationFailed("A pipeline with this name exists.", field="name", code="name_taken")


async def _make_default(session: AsyncSession, pipeline: Pipeline) -> None:
    await session.execute(
        update(Pipeline)
        .where(Pipeline.id != pipeline.id, Pipeline.is_default.is_(True))
        .values(is_default=False, version=Pipeline.version + 1)
    )
    await session.flush()
    pipeline.is_default = True


async def create_pipeline(session: AsyncSession, actor: Principal, data: PipelineIn) -> PipelineOut:
    await _name_free(session, data.name)
    pipeline = Pipeline(name=data.name.strip())
    session.add(pipeline)
    await session.flush()
    if data.is_default:
        await _make_default(session, pipeline)
    for position, (name, kind) in enumerate(NEW_PIPELINE_STATUSES):
        session.add(PipelineStatus(pipeline_id=pipeline.id, name=name, position=position, kind=kind))
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="pipeline",
        entity_id=pipeline.id,
        action="created",
        changes=audit.diff({}, {"name": pipeline.name, "is_default": pipeline.is_default}),
    )
    _announce(session, actor, "pipeline", pipeline.id, "created")
    return await pipeline_out(session, pipeline)


async def update_pipeline(
    session: AsyncSession, actor: Principal, pipeline_id: int, data: PipelineUpdate
) -> PipelineOut:
    pipeline = await get_pipeline(session, pipeline_id, lock=True)
    check_version(pipeline, data.version)
    before = {"name": pipeline.name, "is_default": pipeline.is_default}
    if data.name is not None:
        await _name_free(session, data.name, pipeline.id)
        pipeline.name = data.name.strip()
    if data.is_default is True and not pipeline.is_default:
        await _make_default(session, pipeline)
    elif data.is_default is False and pipeline.is_default:
        raise ValidationFailed("Make another pipeline the default instead.", field="is_default")
    await session.flush()
    changes = audit.diff(before, {"name": pipeline.name, "is_default": pipeline.is_default})
    if changes:
        audit.record(
            session, actor_id=actor.user_id, entity="pipeline", entity_id=pipeline.id, action="updated", changes=changes
        )
        _announce(session, actor, "pipeline", pipeline.id, "updated")
    return await pipeline_out(session, pipeline)


# --- statuses ------------------------------------------------------------------------------------


def _check_kinds(statuses: list[PipelineStatus]) -> None:
    kinds = {s.kind for s in statuses}
    for needed in (StatusKind.open, StatusKind.won, StatusKind.lost):
        if needed.value not in kinds:
            raise ValidationFailed(
                f"A pipeline needs at least one {needed.value} status.", field="kind", code="status_kind_needed"
            )


async def _status_in(
    session: AsyncSession, pipeline_id: int, status_id: int, *, lock: bool = False, field: str = "status_id"
) -> PipelineStatus:
    status = await session.get(PipelineStatus, status_id, with_for_update=lock)
    if status is None or status.pipeline_id != pipeline_id:
        raise (
            NotFound("No such status in this pipeline.")
            if field == "status_id"
            else ValidationFailed("Choose a status of the same pipeline.", field=field)
        )
    return status


async def _status_name_free(session: AsyncSession, pipeline_id: int, name: str, except_id: int | None = None) -> None:
    stmt = select(PipelineStatus.id).where(
        PipelineStatus.pipeline_id == pipeline_id, same_text(PipelineStatus.name, name)
    )
    if except_id is not None:
        stmt = stmt.where(PipelineStatus.id != except_id)
    if await session.scalar(stmt):
        raise ValidationFailed("This pipeline has a status with this name.", field="name", code="name_taken")


async def _renumber(session: AsyncSession, ordered: list[PipelineStatus]) -> None:
    for position, status in enumerate(ordered):
        if status.position != position:
            status.position = position
    await session.flush()


async def add_status(session: AsyncSession, actor: Principal, pipeline_id: int, data: StatusIn) -> PipelineOut:
    pipeline = await get_pipeline(session, pipeline_id, lock=True)
    await _status_name_free(session, pipeline.id, data.name)
    statuses = await statuses_of(session, pipeline.id)
    if data.position is None:  # before the first closed status: where a new working stage belongs
        position = next((i for i, s in enumerate(statuses) if s.kind in CLOSED), len(statuses))
    else:
        position = min(data.position, len(statuses))
    status = PipelineStatus(pipeline_id=pipeline.id, name=data.name.strip(), position=position, kind=data.kind.value)
    session.add(status)
    statuses.insert(position, status)
    await session.flush()
    await _renumber(session, statuses)
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="pipeline",
        entity_id=pipeline.id,
        action="status_added",
        changes=[{"field": "status", "old": None, "new": status.name}],
    )
    _announce(session, actor, "pipeline", pipeline.id, "updated")
    return await pipeline_out(session, pipeline)


async def update_status(
    session: AsyncSession, actor: Principal, pipeline_id: int, status_id: int, data: StatusUpdate
) -> PipelineOut:
    """Rename a status or mark what it means (open, won, lost, junk)."""
    pipeline = await get_pipeline(session, pipeline_id, lock=True)
    status = await _status_in(session, pipeline.id, status_id, lock=True)
    check_version(status, data.version)
    before = {"name": status.name, "kind": status.kind}
    if data.name is not None:
        await _status_name_free(session, pipeline.id, data.name, status.id)
        status.name = data.name.strip()
    if data.kind is not None:
        status.kind = data.kind.value
    _check_kinds(await statuses_of(session, pipeline.id))
    await session.flush()
    changes = audit.diff(before, {"name": status.name, "kind": status.kind})
    if changes:
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="pipeline_status",
            entity_id=status.id,
            action="updated",
            changes=changes,
        )
        _announce(session, actor, "pipeline", pipeline.id, "updated")
    return await pipeline_out(session, pipeline)


async def reorder_statuses(
    session: AsyncSession, actor: Principal, pipeline_id: int, status_ids: list[int]
) -> PipelineOut:
    pipeline = await get_pipeline(session, pipeline_id, lock=True)
    statuses = {s.id: s for s in await statuses_of(session, pipeline.id)}
    if sorted(status_ids) != sorted(statuses):
        raise ValidationFailed("Name every status of the pipeline once.", field="status_ids")
    before = [statuses[i].name for i in sorted(statuses, key=lambda i: statuses[i].position)]
    await _renumber(session, [statuses[i] for i in status_ids])
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="pipeline",
        entity_id=pipeline.id,
        action="reordered",
        changes=[{"field": "statuses", "old": before, "new": [statuses[i].name for i in status_ids]}],
    )
    _announce(session, actor, "pipeline", pipeline.id, "updated")
    return await pipeline_out(session, pipeline)


async def remove_status(
    session: AsyncSession, actor: Principal, pipeline_id: int, status_id: int, move_to: int
) -> PipelineOut:
    """Remove a status; its leads go to `move_to` (each move audited and announced)."""
    pipeline = await get_pipeline(session, pipeline_id, lock=True)
    status = await _status_in(session, pipeline.id, status_id, lock=True)
    target = await _status_in(session, pipeline.id, move_to, field="move_to")
    if target.id == status.id:
        raise ValidationFailed("Choose another status for its leads.", field="move_to")
    if target.kind == StatusKind.lost.value and status.kind != StatusKind.lost.value:
        raise ValidationFailed(
            "Leads moved to a lost status each need a reason; choose another status.", field="move_to"
        )
    now = utcnow()
    closed_at = None if target.kind == StatusKind.open.value else now
    moved = (
        await session.execute(
            update(Lead)
            .where(Lead.status_id == status.id)
            .values(
                status_id=target.id,
                status_changed_at=now,
                version=Lead.version + 1,
                closed_at=func.coalesce(Lead.closed_at, closed_at) if closed_at else None,
            )
            .returning(Lead.id, Lead.owner_id, Lead.team_id, Lead.version)
            .execution_options(synchronize_session=False)
        )
    ).all()
    change = [
        {"field": "status", "old": status.name, "new": target.name},
        {"field": "status_id", "old": status.id, "new": target.id},
    ]
    if moved:
        await session.execute(
            insert(AuditEntry),
            [
                {
                    "actor_id": actor.user_id,
                    "entity": "lead",
                    "entity_id": row.id,
                    "action": "status_changed",
                    "changes": [*change, {"field": "reason", "old": None, "new": "status removed"}],
                }
                for row in moved
            ],
        )
        for row in moved:
            events.emit(
                session,
                module="leads",
                entity="lead",
                entity_id=row.id,
                action="updated",
                actor_id=actor.user_id,
                owner_id=row.owner_id,
                team_id=row.team_id,
                data={"status_id": target.id, "version": row.version},
            )
    await session.delete(status)
    await session.flush()
    remaining = await statuses_of(session, pipeline.id)
    _check_kinds(remaining)
    await _renumber(session, remaining)
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="pipeline",
        entity_id=pipeline.id,
        action="status_removed",
        changes=[
            {"field": "status", "old": status.name, "new": None},
            {"field": "leads_moved_to", "old": None, "new": target.name},
            {"field": "leads_moved", "old": None, "new": len(moved)},
        ],
    )
    _announce(session, actor, "pipeline", pipeline.id, "updated", leads_moved=len(moved))
    return await pipeline_out(session, pipeline)


# --- lost reasons and lead sources ---------------------------------------------------------------

ListModel = type[LostReason] | type[LeadSource]


def _item_out(item: LostReason | LeadSource) -> NamedItemOut:
    return NamedItemOut(
        id=item.id,
        name=item.name,
        position=item.position,
        active=item.active,
        requires_text=getattr(item, "requires_text", False),
        version=item.version,
    )


async def list_items(session: AsyncSession, model: ListModel, include_inactive: bool) -> list[NamedItemOut]:
    stmt = select(model).order_by(model.position, model.id)
    if not include_inactive:
        stmt = stmt.where(model.active.is_(True))
    return [_item_out(cast(LostReason | LeadSource, i)) for i in (await session.scalars(stmt)).all()]


async def _item_name_free(session: AsyncSession, model: ListModel, name: str, except_id: int | None = None) -> None:
    stmt = select(model.id).where(same_text(model.name, name))
    if except_id is not None:
        stmt = stmt.where(model.id != except_id)
    if await session.scalar(stmt):
        raise ValidationFailed("This name is in the list already.", field="name", code="name_taken")


def _entity(model: ListModel) -> str:
    return "lost_reason" if model is LostReason else "lead_source"


def _item_fields(item: LostReason | LeadSource) -> dict[str, Any]:
    return {
        "name": item.name,
        "position": item.position,
        "active": item.active,
        "requires_text": getattr(item, "requires_text", None),
    }


async def create_item(session: AsyncSession, actor: Principal, model: ListModel, data: NamedItemIn) -> NamedItemOut:
    await _item_name_free(session, model, data.name)
    position = data.position
    if position is None:
        position = int(await session.scalar(select(func.coalesce(func.max(model.position), -1) + 1)) or 0)
    item: LostReason | LeadSource
    if model is LostReason:
        item = LostReason(
            name=data.name.strip(), position=position, active=data.active, requires_text=data.requires_text
        )
    else:
        item = LeadSource(name=data.name.strip(), position=position, active=data.active)
    session.add(item)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity=_entity(model),
        entity_id=item.id,
        action="created",
        changes=audit.diff({}, _item_fields(item)),
    )
    _announce(session, actor, _entity(model), item.id, "created")
    return _item_out(item)


async def update_item(
    session: AsyncSession, actor: Principal, model: ListModel, item_id: int, data: NamedItemUpdate
) -> NamedItemOut:
    """Rename, reorder or (de)activate. Items are not deleted: old leads keep pointing at them."""
    item = cast(LostReason | LeadSource | None, await session.get(model, item_id, with_for_update=True))
    if item is None:
        raise NotFound("No such item.")
    check_version(item, data.version)
    before = _item_fields(item)
    if data.name is not None:
        await _item_name_free(session, model, data.name, item.id)
        item.name = data.name.strip()
    if data.position is not None:
        item.position = data.position
    if data.active is not None:
        item.active = data.active
    if data.requires_text is not None and isinstance(item, LostReason):
        item.requires_text = data.requires_text
    await session.flush()
    changes = audit.diff(before, _item_fields(item))
    if changes:
        audit.record(
            session, actor_id=actor.user_id, entity=_entity(model), entity_id=item.id, action="updated", changes=changes
        )
        _announce(session, actor, _entity(model), item.id, "updated")
    return _item_out(item)


async def lost_reason(session: AsyncSession, reason_id: int | None, text: str | None) -> tuple[LostReason, str | None]:
    """The reason a lead is lost: required, active, and with words when the reason asks for them."""
    if reason_id is None:
        raise ValidationFailed("Say why the lead was lost.", field="lost_reason_id", code="lost_reason_required")
    reason = await session.get(LostReason, reason_id)
    if reason is None or not reason.active:
        raise ValidationFailed("Choose a reason from the list.", field="lost_reason_id")
    text = (text or "").strip() or None
    if reason.requires_text and text is None:
        raise ValidationFailed(
            f"Describe the reason ({reason.name}).", field="lost_reason_text", code="lost_reason_text_required"
        )
    return reason, text

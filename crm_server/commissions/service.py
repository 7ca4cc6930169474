"""Rules of commissions: policies (admins keep them), the list, approving and paying, and adding
one by hand. Who may do what:
- see: `commissions` view, in its scope (own: their own commissions; team: the team's; a partner's
  commission belongs to the partner's managing salesperson);
- approve (pending -> approved): `commissions` edit beyond their own scope (managers, admins),
  never one's own commission;
- mark paid (approved -> paid): finance (`payments` edit) or admins;
- add by hand: `commissions` create (finance, admins), only for an invoice not made from a
  proposal (those are calculated);
- policies: `admin` edit.
Every change is audited and announced (module "commissions")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_server import events, money, paging
from crm_server.admin import audit, settings
from crm_server.auth.models import Team, User
from crm_server.auth.permissions import Principal
from crm_server.commissions.models import Commission, CommissionPolicy, CommissionPolicyMember, CommissionTier
from crm_server.contract.auth import Scope
from crm_server.contract.commissions import (
    CommissionOut,
    CommissionQuery,
    ManualIn,
    MemberIn,
    MemberOut,
    PolicyIn,
    PolicyOut,
    PolicyUpdate,
    TierOut,
)
from crm_server.contract.common import Page
from crm_server.db import savepoint, utcnow
from crm_server.errors import Conflict, Forbidden, NotFound, StaleVersion, ValidationFailed
from crm_server.invoices.models import Invoice
from crm_server.partners.models import Partner
from crm_server.proposals.models import Proposal

MODULE = "commissions"


def first_of_month(day: date) -> date:
    return day.replace(day=1)


# --- policies -------------------------------------------------------------------------------------


def _refuse_policies(principal: Principal) -> None:
    if not principal.can("admin", "edit"):
        raise Forbidden("Only an admin changes commission policies.")


async def policy_out(session: AsyncSession, policy: CommissionPolicy) -> PolicyOut:
    tiers = (
        await session.scalars(
            select(CommissionTier).where(CommissionTier.policy_id == policy.id).order_by(CommissionTier.threshold)
        )
    ).all()
    rows = await session.execute(
        select(CommissionPolicyMember, User.full_name, Team.name, Partner.name)
        .outerjoin(User, User.id == CommissionPolicyMember.user_id)
        .outerjoin(Team, Team.id == CommissionPolicyMember.team_id)
        .outerjoin(Partner, Partner.id == CommissionPolicyMember.partner_id)
        .where(CommissionPolicyMember.policy_id == policy.id)
        .order_by(CommissionPolicyMember.id)
    )
    members = [
        MemberOut(user_id=m.user_id, team_id=m.team_id, partner_id=m.partner_id, name=u or t or p or "")
        for m, u, t, p in rows
    ]
    return PolicyOut(
        id=policy.id,
        name=policy.name,
        basis=policy.basis,  # type: ignore[arg-type]
        currency=policy.currency,
        wait_days=policy.wait_days,
        starts_on=policy.starts_on,
        all_staff=policy.all_staff,
        all_partners=policy.all_partners,
        active=policy.active,
        version=policy.version,
        tiers=[TierOut(threshold=t.threshold, rate=t.rate) for t in tiers],
        members=members,
    )


async def list_policies(session: AsyncSession) -> list[PolicyOut]:
    policies = (await session.scalars(select(CommissionPolicy).order_by(CommissionPolicy.name))).all()
    return [await policy_out(session, p) for p in policies]


async def _check_policy(session: AsyncSession, data: PolicyIn) -> str:
    name = data.name.strip()
    if not name:
        raise ValidationFailed("Give the policy a name.", field="name")
    currency = data.currency or str(await settings.get(session, "sales.base_currency"))
    if data.starts_on is not None and not 1900 <= data.starts_on.year <= 9998:
        raise ValidationFailed("Choose a day between 1900 and 9998.", field="starts_on")
    thresholds = [t.threshold for t in data.tiers]
    if len(set(thresholds)) != len(thresholds):
        raise ValidationFailed("Two tiers start at the same amount.", field="tiers")
    for i, tier in enumerate(data.tiers):
        if data.basis == "percent" and tier.rate > 100:
            raise ValidationFailed("A percent is at most 100.", field=f"tiers.{i}.rate")
        if data.basis == "fixed" and money.round_money(tier.rate, currency) != tier.rate:
            raise ValidationFailed(f"{currency} has {money.minor_unit(currency)} decimals.", field=f"tiers.{i}.rate")
        if data.basis == "fixed" and tier.threshold != tier.threshold.to_integral_value():
            raise ValidationFailed("A fixed policy's tier starts at a deal number.", field=f"tiers.{i}.threshold")
    for i, member in enumerate(data.members):
        await _check_member(session, member, f"members.{i}")
    return currency


async def _check_member(session: AsyncSession, member: MemberIn, field: str) -> None:
    named = [
        (k, v)
        for k, v in (("user_id", member.user_id), ("team_id", member.team_id), ("partner_id", member.partner_id))
        if v
    ]
    if len(named) != 1:
        raise ValidationFailed("Name one person, team or partner.", field=field)
    key, value = named[0]
    table: Any = {"user_id": User, "team_id": Team, "partner_id": Partner}[key]
    if await session.get(table, value) is None:
        raise ValidationFailed("No such person, team or partner.", field=f"{field}.{key}")


async def _write_parts(session: AsyncSession, policy_id: int, data: PolicyIn) -> None:
    await session.execute(delete(CommissionTier).where(CommissionTier.policy_id == policy_id))
    await session.execute(delete(CommissionPolicyMember).where(CommissionPolicyMember.policy_id == policy_id))
    for tier in data.tiers:
        session.add(CommissionTier(policy_id=policy_id, threshold=tier.threshold, rate=tier.rate))
    seen: set[tuple[int | None, int | None, int | None]] = set()
    for m in data.members:
        key = (m.user_id, m.team_id, m.partner_id)
        if key not in seen:
            seen.add(key)
            session.add(
                CommissionPolicyMember(
                    policy_id=policy_id, user_id=m.user_id, team_id=m.team_id, partner_id=m.partner_id
                )
            )
    await session.flush()


def _fields(policy: CommissionPolicy) -> dict[str, Any]:
    return {
        k: getattr(policy, k)
        for k in ("name", "basis", "currency", "wait_days", "starts_on", "all_staff", "all_partners", "active")
    }


async def _named_once(session: AsyncSession, name: str, policy_id: int | None) -> None:
    same = select(CommissionPolicy.id).where(func.lower(CommissionPolicy.name) == name.lower())
    if policy_id is not None:
        same = same.where(CommissionPolicy.id != policy_id)
    if await session.scalar(same) is not None:
        raise Conflict("Another policy has this name.", field="name", code="duplicate")


async def create_policy(session: AsyncSession, principal: Principal, data: PolicyIn) -> PolicyOut:
    _refuse_policies(principal)
    currency = await _check_policy(session, data)
    await _named_once(session, data.name.strip(), None)
    policy = CommissionPolicy(
        name=data.name.strip(),
        basis=data.basis,
        currency=currency,
        wait_days=data.wait_days,
        starts_on=data.starts_on or first_of_month(date.today()),
        all_staff=data.all_staff,
        all_partners=data.all_partners,
        active=data.active,
        created_by=principal.user_id,
    )
    session.add(policy)
    await session.flush()
    await _write_parts(session, policy.id, data)
    _announce(session, principal.user_id, "commission_policy", policy.id, "created", audit.diff({}, _fields(policy)))
    return await policy_out(session, policy)


async def update_policy(session: AsyncSession, principal: Principal, policy_id: int, data: PolicyUpdate) -> PolicyOut:
    _refuse_policies(principal)
    policy = await session.get(CommissionPolicy, policy_id, with_for_update=True)
    if policy is None:
        raise NotFound("No such commission policy.")
    if policy.version != data.version:
        raise StaleVersion("Someone changed this policy meanwhile; reopen it.")
    currency = await _check_policy(session, data)
    await _named_once(session, data.name.strip(), policy.id)
    before = _fields(policy)
    policy.name, policy.basis, policy.currency = data.name.strip(), data.basis, currency
    policy.wait_days, policy.all_staff, policy.all_partners = data.wait_days, data.all_staff, data.all_partners
    policy.active, policy.version, policy.updated_at = data.active, policy.version + 1, utcnow()
    policy.starts_on = data.starts_on or policy.starts_on
    await _write_parts(session, policy.id, data)
    _announce(
        session, principal.user_id, "commission_policy", policy.id, "updated", audit.diff(before, _fields(policy))
    )
    return await policy_out(session, policy)


# --- commission rows ------------------------------------------------------------------------------

Ben = aliased(User)
Policy = aliased(CommissionPolicy)


def _conditions(principal: Principal, query: CommissionQuery) -> list[ColumnElement[bool]]:
    if query.month_from and query.month_to and query.month_from > query.month_to:
        raise ValidationFailed("The start month is after the end month.", field="month_from")
    where = [principal.scope_filter(MODULE, Commission.owner_id, Commission.team_id)]
    if query.status is not None:
        where.append(Commission.status == query.status)
    if query.month_from is not None:
        where.append(Commission.month >= first_of_month(query.month_from))
    if query.month_to is not None:
        where.append(Commission.month <= first_of_month(query.month_to))
    if query.user_id is not None:
        where.append(Commission.user_id == query.user_id)
    if query.partner_id is not None:
        where.append(Commission.partner_id == query.partner_id)
    if query.q and query.q.strip():
        pattern = paging.like_pattern(query.q)
        where.append(
            or_(
                Invoice.number.ilike(pattern, escape="\\"),
                Ben.full_name.ilike(pattern, escape="\\"),
                Partner.name.ilike(pattern, escape="\\"),
            )
        )
    return where


def _select() -> Any:
    return (
        select(Commission, Invoice.number, Ben.full_name, Partner.name, Policy.name)
        .join(Invoice, Invoice.id == Commission.invoice_id)
        .outerjoin(Ben, Ben.id == Commission.user_id)
        .outerjoin(Partner, Partner.id == Commission.partner_id)
        .outerjoin(Policy, Policy.id == Commission.policy_id)
    )


def _row(r: Any) -> CommissionOut:
    c, number, user_name, partner_name, policy_name = r
    return CommissionOut.model_validate(c).model_copy(
        update={"invoice_number": number, "beneficiary": user_name or partner_name or "", "policy_name": policy_name}
    )


SORTS: dict[str, Any] = {"created_at": Commission.created_at, "month": Commission.month, "amount": Commission.amount}


async def list_commissions(session: AsyncSession, principal: Principal, query: CommissionQuery) -> Page[CommissionOut]:
    column = SORTS[query.sort.lstrip("-")]
    desc = query.sort.startswith("-")
    order = (column.desc(), Commission.id.desc()) if desc else (column.asc(), Commission.id.asc())
    stmt = _select().where(*_conditions(principal, query))
    return await paging.page(session, stmt, query.offset, query.limit, _row, order, whole_rows=True, after=query.after)


async def _visible(session: AsyncSession, principal: Principal, commission_id: int) -> Commission:
    row = await session.get(Commission, commission_id, with_for_update=True)
    if row is None or not principal.sees(MODULE, row.owner_id, row.team_id):
        raise NotFound("No such commission.")
    return row


async def one(session: AsyncSession, commission_id: int) -> CommissionOut:
    return _row((await session.execute(_select().where(Commission.id == commission_id))).one())


async def approve(session: AsyncSession, principal: Principal, commission_id: int) -> CommissionOut:
    """pending -> approved, by a manager (or admin) over the beneficiary, never their own."""
    row = await _visible(session, principal, commission_id)
    if not principal.can(MODULE, "edit") or principal.scope(MODULE) is Scope.own:
        raise Forbidden("Only a manager or an admin approves commissions.")
    if row.user_id is not None and row.user_id == principal.user_id:
        raise Forbidden("Someone else approves your own commission.")
    if row.status != "pending":
        raise Conflict(f"This commission is {row.status} already.", code="not_pending")
    return await _move(session, principal, row, "approved")


async def mark_paid(session: AsyncSession, principal: Principal, commission_id: int) -> CommissionOut:
    """approved -> paid, by finance (who records payments) or an admin."""
    row = await _visible(session, principal, commission_id)
    if not (principal.can("payments", "edit") or principal.can("admin", "edit")):
        raise Forbidden("Only finance or an admin marks commissions paid.")
    if row.status != "approved":
        raise Conflict(f"Only an approved commission is paid (this one is {row.status}).", code="not_approved")
    return await _move(session, principal, row, "paid")


async def _move(session: AsyncSession, principal: Principal, row: Commission, status: str) -> CommissionOut:
    before = row.status
    row.status, row.updated_at = status, utcnow()
    if status == "approved":
        row.approved_by, row.approved_at = principal.user_id, utcnow()
    else:
        row.paid_by, row.paid_at = principal.user_id, utcnow()
    await session.flush()
    announce_row(session, principal.user_id, row, status, [{"field": "status", "old": before, "new": status}])
    return await one(session, row.id)


async def beneficiary_scope(
    session: AsyncSession, user_id: int | None, partner_id: int | None
) -> tuple[int | None, int | None]:
    """Whose scope a commission falls in: the person's own (and team), or for a partner its managing
    salesperson's."""
    if partner_id is not None:
        partner = await session.get(Partner, partner_id)
        user_id = partner.managing_user_id if partner is not None else None
    if user_id is None:
        return None, None
    team = await session.scalar(select(User.team_id).where(User.id == user_id))
    return user_id, team


async def add_manual(session: AsyncSession, principal: Principal, data: ManualIn) -> CommissionOut:
    if not principal.can(MODULE, "create"):
        raise Forbidden("Only finance or an admin adds commissions by hand.")
    if (data.user_id is None) == (data.partner_id is None):
        raise ValidationFailed("Name a person or a partner, not both.", field="user_id")
    note = data.note.strip()
    if not note:
        raise ValidationFailed("Say why the commission is added.", field="note")
    invoice = await session.get(Invoice, data.invoice_id)
    if invoice is None or not principal.sees("invoices", invoice.owner_id, invoice.team_id):
        raise ValidationFailed("No such invoice.", field="invoice_id")
    if invoice.kind != "invoice" or invoice.status in ("draft", "cancelled"):
        raise ValidationFailed("Only an issued, not cancelled invoice earns a commission.", field="invoice_id")
    if await session.scalar(select(Proposal.id).where(Proposal.converted_invoice_id == invoice.id)) is not None:
        raise Conflict(
            "This invoice was made from a proposal: its commissions are calculated after payment.",
            field="invoice_id",
            code="calculated",
        )
    if data.user_id is not None and await session.get(User, data.user_id) is None:
        raise ValidationFailed("No such person.", field="user_id")
    if data.partner_id is not None and await session.get(Partner, data.partner_id) is None:
        raise ValidationFailed("No such partner.", field="partner_id")
    if money.round_money(data.amount, invoice.currency) != data.amount:
        raise ValidationFailed(f"{invoice.currency} has {money.minor_unit(invoice.currency)} decimals.", field="amount")
    owner, team = await beneficiary_scope(session, data.user_id, data.partner_id)
    row = Commission(
        kind="manual",
        user_id=data.user_id,
        partner_id=data.partner_id,
        invoice_id=invoice.id,
        month=first_of_month(date.today()),
        base_amount=invoice.net_total,
        amount=data.amount,
        currency=invoice.currency,
        status="pending",
        note=note,
        owner_id=owner,
        team_id=team,
        created_by=principal.user_id,
    )
    session.add(row)
    try:
        async with savepoint(session):
            await session.flush()
    except IntegrityError as exc:  # a beneficiary removed meanwhile
        raise ValidationFailed("The person or partner is gone.", field="user_id") from exc
    announce_row(session, principal.user_id, row, "created", audit.diff({}, _row_fields(row)))
    return await one(session, row.id)


def _row_fields(row: Commission) -> dict[str, Any]:
    return {
        k: getattr(row, k)
        for k in (
            "kind",
            "policy_id",
            "user_id",
            "partner_id",
            "invoice_id",
            "payment_id",
            "reverses_id",
            "amount",
            "status",
            "note",
        )
    }


def announce_row(session: AsyncSession, actor_id: int | None, row: Commission, action: str, changes: list[Any]) -> None:
    audit.record(session, actor_id=actor_id, entity="commission", entity_id=row.id, action=action, changes=changes)
    events.emit(
        session,
        module=MODULE,
        entity="commission",
        entity_id=row.id,
        action="created" if action == "created" else "updated",
        actor_id=actor_id,
        owner_id=row.owner_id,
        team_id=row.team_id,
    )


def created_changes(row: Commission) -> list[Any]:
    return audit.diff({}, _row_fields(row))


def _announce(
    session: AsyncSession, actor_id: int | None, entity: str, entity_id: int, action: str, changes: list[Any]
) -> None:
    audit.record(session, actor_id=actor_id, entity=entity, entity_id=entity_id, action=action, changes=changes)
    events.emit(session, module=MODULE, entity=entity, entity_id=entity_id, action=action, actor_id=actor_id)


ZERO = Decimal(0)

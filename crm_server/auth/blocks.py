"""Addresses and ranges an admin blocked from the security log: sign-in and password reset from
them are refused before any password is checked (and the refusal is logged), until lifted."""

from __future__ import annotations

import ipaddress

from sqlalchemy import cast, exists, select
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import paging
from crm_server.auth.models import BlockedNetwork
from crm_server.auth.permissions import Principal
from crm_server.auth.sessions import end_in_network, log_security
from crm_server.contract.auth import BlockedAddressOut
from crm_server.contract.common import Page
from crm_server.db import utcnow
from crm_server.errors import AppError, Conflict, NotFound, ValidationFailed


class AddressBlocked(AppError):
    status = 403
    code = "address_blocked"
    keep_changes = True


def refusal() -> AddressBlocked:
    return AddressBlocked("Signing in from this network is blocked. Ask your administrator.")


async def is_blocked(session: AsyncSession, address: str | None) -> bool:
    if address is None:
        return False
    return bool(
        await session.scalar(
            select(
                exists().where(
                    BlockedNetwork.lifted_at.is_(None), BlockedNetwork.network.op(">>=")(cast(address, INET))
                )
            )
        )
    )


def _out(row: BlockedNetwork) -> BlockedAddressOut:
    return BlockedAddressOut(
        id=row.id,
        network=str(row.network),
        reason=row.reason,
        created_at=row.created_at,
        created_by=row.created_by,
        lifted_at=row.lifted_at,
        lifted_by=row.lifted_by,
    )


def parse(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValidationFailed(
            "Enter an address (203.0.113.7) or a range (203.0.113.0/24).", field="address", code="invalid_address"
        ) from None


async def list_blocks(
    session: AsyncSession, active: bool | None, offset: int, limit: int, after: str | None = None
) -> Page[BlockedAddressOut]:
    stmt = select(BlockedNetwork)
    if active is True:
        stmt = stmt.where(BlockedNetwork.lifted_at.is_(None))
    elif active is False:
        stmt = stmt.where(BlockedNetwork.lifted_at.is_not(None))
    return await paging.page(
        session, stmt, offset, limit, _out, (BlockedNetwork.created_at.desc(), BlockedNetwork.id.desc()), after=after
    )


async def block(session: AsyncSession, actor: Principal, address: str, reason: str) -> BlockedAddressOut:
    network = parse(address)
    try:
        own = ipaddress.ip_address(actor.address or "")
    except ValueError:  # not an IP (a unix socket behind a proxy): nothing to compare
        own = None
    if own is not None:
        if own.version == network.version and own in network:
            raise ValidationFailed(
                f"{network} contains your own address ({own}): you would block yourself.",
                field="address",
                code="blocks_yourself",
            )
    taken = await session.scalar(
        select(BlockedNetwork).where(
            BlockedNetwork.lifted_at.is_(None),
            BlockedNetwork.network == cast(str(network), BlockedNetwork.network.type),
        )
    )
    if taken is not None:
        raise Conflict(f"{network} is blocked already.", field="address", code="already_blocked")
    row = BlockedNetwork(network=str(network), reason=reason.strip(), created_by=actor.user_id, created_at=utcnow())
    session.add(row)
    await session.flush()
    ended = await end_in_network(session, str(network))  # who is signed in from there is signed out
    log_security(
        session,
        "address_blocked",
        actor_id=actor.user_id,
        address=actor.address,
        network=str(network),
        reason=row.reason,
        sessions_ended=ended,
    )
    return _out(row)


async def lift(session: AsyncSession, actor: Principal, block_id: int) -> BlockedAddressOut:
    row = await session.get(BlockedNetwork, block_id, with_for_update=True)
    if row is None:
        raise NotFound("No such blocked address.")
    if row.lifted_at is None:
        row.lifted_at, row.lifted_by = utcnow(), actor.user_id
        log_security(
            session, "address_unblocked", actor_id=actor.user_id, address=actor.address, network=str(row.network)
        )
    return _out(row)

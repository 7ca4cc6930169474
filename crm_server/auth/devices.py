"""Where each user signs in from: a sign-in from an address or a client (device) not seen for
that user before is flagged in the security log and the user is told by e-mail. A user's very
first sign-in sets what is known and is not flagged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.models import KnownDevice
from crm_server.auth.notify import NOTIFY_TASK
from crm_server.auth.sessions import log_security
from crm_server.jobs import queue


async def remember(session: AsyncSession, user_id: int, address: str | None, client: str, at: datetime) -> bool:
    """Note this sign-in; flag it (True) when its address or its client is new for the user."""
    row = (
        await session.execute(
            select(
                func.count(),
                func.bool_or(KnownDevice.address == address),
                func.bool_or(KnownDevice.client == client),
                func.max(KnownDevice.id).filter((KnownDevice.address == address) & (KnownDevice.client == client)),
            ).where(KnownDevice.user_id == user_id)
        )
    ).one()
    known, address_seen, client_seen, same = int(row[0]), bool(row[1]), bool(row[2]), row[3]
    if same is not None:
        await session.execute(update(KnownDevice).where(KnownDevice.id == same).values(last_at=at))
    else:
        session.add(KnownDevice(user_id=user_id, address=address, client=client, first_at=at, last_at=at))
    if not known or (address_seen and client_seen):
        return False
    log_security(
        session,
        "new_device_sign_in",
        target_user_id=user_id,
        address=address,
        client=client,
        new_address=not address_seen,
        new_device=not client_seen,
    )
    await queue.defer(
        session, NOTIFY_TASK, kind="new_device", user_id=user_id, address=address, client=client, at=at.isoformat()
    )
    return True

"""Audit rows, written by services in the transaction of the change they describe."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin.models import AuditEntry
from crm_server.admin.settings import DEFINITIONS

# Never written to the audit log in clear: credentials, and every setting marked secret.
SECRET_FIELDS = frozenset(
    {"password_hash", "totp_secret", "token_hash"}
    | {key for key, definition in DEFINITIONS.items() if definition.secret}
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Changed fields as [{field, old, new}]; secrets are named but never written."""
    changes = []
    for key, value in new.items():
        before = old.get(key)
        if before != value:
            hidden = key in SECRET_FIELDS
            changes.append(
                {"field": key, "old": "***" if hidden else _plain(before), "new": "***" if hidden else _plain(value)}
            )
    return changes


def record(
    session: AsyncSession,
    *,
    actor_id: int | None,
    entity: str,
    entity_id: int,
    action: str,
    changes: list[dict[str, Any]] | None = None,
) -> None:
    session.add(AuditEntry(actor_id=actor_id, entity=entity, entity_id=entity_id, action=action, changes=changes or []))

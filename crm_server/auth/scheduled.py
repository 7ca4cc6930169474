"""Jobs of the auth area: the e-mails about a user's own account (notify.py), retried when SMTP
fails."""

from __future__ import annotations

import procrastinate
from procrastinate import JobContext

from crm_server.auth import notify
from crm_server.db import Database
from crm_server.jobs import blueprint

# 1, 2, 4, 8 minutes: a reset code is only useful for 30 minutes.
EMAIL_RETRY = procrastinate.RetryStrategy(max_attempts=5, wait=60, exponential_wait=2)


@blueprint.task(name=notify.SEND_RESET_TASK, pass_context=True, retry=EMAIL_RETRY)
async def send_reset(context: JobContext, email: str, address: str | None = None, attempt_id: int | None = None) -> str:
    db: Database = context.additional_context["db"]
    return await notify.send_reset(db, email, address, attempt_id)


@blueprint.task(name=notify.NOTIFY_TASK, pass_context=True, retry=EMAIL_RETRY)
async def send_notice(
    context: JobContext,
    kind: str,
    user_id: int,
    address: str | None = None,
    client: str | None = None,
    at: str | None = None,
    until: str | None = None,
) -> str:
    db: Database = context.additional_context["db"]
    return await notify.send_notice(db, kind, user_id, address, client, at, until)

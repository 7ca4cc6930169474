"""The e-mail job: send one queued message from a record after the request that queued it commits."""

from __future__ import annotations

from procrastinate import JobContext

from crm_server.db import Database
from crm_server.emails import sending
from crm_server.emails.service import SEND_TASK
from crm_server.jobs import blueprint


@blueprint.task(name=SEND_TASK, pass_context=True)
async def send_email(context: JobContext, email_id: int) -> str:
    """No retry: a failure is written on the message and on the record's timeline; the user re-sends."""
    db: Database = context.additional_context["db"]
    return await sending.send_queued(db, email_id)

"""The WhatsApp send job: queued in the request's transaction, so it runs only after the message row
is committed; a transient Cloud API failure raises and procrastinate retries."""

from __future__ import annotations

from procrastinate import JobContext, RetryStrategy

from crm_server.db import Database
from crm_server.jobs import blueprint
from crm_server.whatsapp import service


@blueprint.task(name=service.SEND_TASK, pass_context=True, retry=RetryStrategy(max_attempts=5, exponential_wait=5))
async def send(context: JobContext, message_id: int) -> str:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        return await service.deliver(session, message_id)

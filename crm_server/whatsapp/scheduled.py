"""The WhatsApp send job: queued in the request's transaction, so it runs only after the message row
is committed; a transient Cloud API failure raises and procrastinate retries. Also the campaign
engine's WhatsApp channel (registered here, where the worker imports the area's jobs) and the
minute job that resumes campaigns held outside business hours."""

from __future__ import annotations

from procrastinate import JobContext, RetryStrategy

from crm_server.campaigns import engine
from crm_server.db import Database
from crm_server.jobs import blueprint
from crm_server.whatsapp import campaigns, service

engine.CHANNELS["whatsapp"] = campaigns.open_sender


@blueprint.task(name=service.SEND_TASK, pass_context=True, retry=RetryStrategy(max_attempts=5, exponential_wait=5))
async def send(context: JobContext, message_id: int) -> str:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        return await service.deliver(session, message_id)


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="whatsapp.campaign_hours", pass_context=True, queueing_lock="whatsapp.campaign_hours")
async def campaign_hours(context: JobContext, timestamp: int) -> str:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        return await campaigns.resume_held(session)

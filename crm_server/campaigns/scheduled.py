"""The campaign job: one batch of a campaign (engine.run_batch), which queues the next itself."""

from __future__ import annotations

from procrastinate import JobContext

from crm_server.campaigns import engine
from crm_server.campaigns.service import BATCH_TASK
from crm_server.db import Database
from crm_server.jobs import blueprint


@blueprint.task(name=BATCH_TASK, pass_context=True)
async def send_batch(context: JobContext, campaign_id: int) -> str:
    """No retry: a batch that fails leaves its recipients queued (or unconfirmed) and the campaign
    sending; resuming it, or the stalled-job restart, runs a new batch."""
    db: Database = context.additional_context["db"]
    return await engine.run_batch(db, campaign_id)

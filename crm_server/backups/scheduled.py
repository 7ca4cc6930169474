"""Jobs of backups: the nightly backup at the settings hour (with the weekly test restore after
it), a backup asked for now, a test restore on demand, and the e-mail to admins after a failure."""

from __future__ import annotations

import logging
from datetime import datetime

import procrastinate
from procrastinate import JobContext
from sqlalchemy import select

from crm_server import mail
from crm_server.admin import settings
from crm_server.backups import service
from crm_server.backups.models import Backup
from crm_server.db import Database, utcnow
from crm_server.errors import Conflict
from crm_server.jobs import blueprint

log = logging.getLogger(__name__)

# 1, 2, 4, 8, 16 minutes: an SMTP server that is down for a while still gets the alert.
EMAIL_RETRY = procrastinate.RetryStrategy(max_attempts=6, wait=60, exponential_wait=2)


@blueprint.periodic(cron="0 * * * *")
@blueprint.task(name="backups.nightly", pass_context=True, queueing_lock="backups.nightly")
async def nightly(context: JobContext, timestamp: int, manual: bool = False) -> str:
    """Back up at the hour of `backup.hour` (server time), once a day, when backups are on; then,
    when no test restore ran in the last 7 days, test-restore the newest backup. An admin's
    "run now" (`manual`) backs up at once."""
    db: Database = context.additional_context["db"]
    try:
        async with db.transaction() as session:
            if not await service.nightly_due(session, datetime.fromtimestamp(timestamp), manual):
                return "not due"
            row = await service.start(session, "nightly", None, queue_job=False)
            backup_id = row.id
    except Conflict as exc:  # one made now by an admin or IT is still running: it is tonight's
        return f"skipped: {exc.message}"
    said = await service.run(db, backup_id)
    async with db.transaction() as session:
        due = await service.due_for_test_restore(session, utcnow())
        due_id = due.id if due is not None else None
    if due_id is not None:
        said += "; test restore: " + await service.test_restore(db, due_id)
    return said


@blueprint.task(name=service.RUN_TASK, pass_context=True, queueing_lock=service.RUN_TASK)
async def run(context: JobContext, backup_id: int) -> str:
    db: Database = context.additional_context["db"]
    return await service.run(db, backup_id)


@blueprint.task(name=service.TEST_RESTORE_TASK, pass_context=True)
async def test_restore(context: JobContext, backup_id: int) -> str:
    db: Database = context.additional_context["db"]
    return await service.test_restore(db, backup_id)


@blueprint.task(name=service.ALERT_TASK, pass_context=True, retry=EMAIL_RETRY)
async def alert(context: JobContext, backup_id: int, what: str = "Backup failed") -> str:
    """E-mail every admin that a backup (or its test restore) failed, with the cause in words."""
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        row = await session.scalar(select(Backup).where(Backup.id == backup_id))
        if row is None:
            return "backup gone"
        company = await settings.get(session, "company.name")
        reason = row.error_message or row.test_restore_detail or "no reason given"
        body = (
            f"{what} on the CRM server of {company}.\n\n"
            f"Backup #{row.id} ({row.kind}), started {row.started_at:%Y-%m-%d %H:%M} UTC\n"
            f"Folder: {row.folder}\n"
            f"Cause: {reason}\n\n"
            "Open Admin > Backup & Restore in the CRM to see it and run a backup again.\n"
        )
        admins = await service.admins(session)
        sent = 0
        for user in admins:
            try:
                await mail.send(session, user.email, f"{what}: {reason}"[:150], body)
            except mail.MailNotConfigured:
                log.warning("backup alert not e-mailed: SMTP is not configured")
                return "SMTP is not configured"
            sent += 1
    return f"alert sent to {sent} admin(s)"

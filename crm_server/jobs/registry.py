"""Which tasks exist, and a fresh procrastinate App per worker that knows them.

procrastinate's `App.add_tasks_from` renames the blueprint's Task objects in place and binds them
to that one App, so a second App in the same process (a second JobRunner, every test server) would
get "crm:crm:..." names and defer through the first App's connector (procrastinate issue #521).
So the blueprints here are never handed to procrastinate: each App gets copies of their tasks."""

from __future__ import annotations

import copy
import importlib
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate
from procrastinate.tasks import Task
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.jobs import blueprint

NAMESPACE = "crm"
# Modules whose import registers tasks on the blueprint.
TASK_MODULES = ["crm_server.jobs.maintenance"]
TASK_MODULES.append("crm_server.activities.scheduled")
TASK_MODULES.append("crm_server.tickets.scheduled")
TASK_MODULES.append("crm_server.invoices.scheduled")
TASK_MODULES.append("crm_server.integrations.scheduled")
TASK_MODULES.append("crm_server.orders.scheduled")
TASK_MODULES.append("crm_server.auth.scheduled")
TASK_MODULES.append("crm_server.backups.scheduled")
TASK_MODULES.append("crm_server.whatsapp.scheduled")
TASK_MODULES.append("crm_server.exports.scheduled")
TASK_MODULES.append("crm_server.imports.scheduled")
TASK_MODULES.append("crm_server.automation.scheduled")
TASK_MODULES.append("crm_server.reports.scheduled")
TASK_MODULES.append("crm_server.emails.scheduled")
TASK_MODULES.append("crm_server.campaigns.scheduled")
TASK_MODULES.append("crm_server.commissions.scheduled")
TASK_MODULES.append("crm_server.partners.scheduled")
# namespace -> blueprint; a task's procrastinate name is "<namespace>:<name>".
BLUEPRINTS: dict[str, procrastinate.Blueprint] = {NAMESPACE: blueprint}

# What each task does, in the words the admin panel shows ("Send due reminders", not
# "activities.send_reminders"); tests/server/test_admin_words.py holds every registered task to one.
TITLES: dict[str, str] = {
    "crm:maintenance.purge": "Clear out old logs and sessions",
    "crm:maintenance.retry_stalled": "Restart jobs a stopped server left behind",
    "crm:activities.send_reminders": "Send due follow-up reminders",
    "crm:tickets.send_email": "Send a ticket email",
    "crm:tickets.notify_breaches": "Warn about overdue tickets",
    "crm:tickets.archive_closed": "Archive closed tickets",
    "crm:invoices.mark_overdue": "Mark unpaid invoices overdue",
    "crm:invoices.recur": "Make the recurring invoices",
    "crm:invoices.send_email": "Send an invoice email",
    "crm:integrations.process": "Process an integration event",
    "crm:integrations.sweep": "Queue stuck integration events again",
    "crm:orders.reconcile_woocommerce": "Fetch missed WooCommerce orders",
    "crm:orders.retry_short": "Retry orders short of stock",
    "crm:auth.send_reset": "Send a password reset email",
    "crm:auth.notify": "Send an account notice email",
    "crm:backups.nightly": "Back up the database (nightly)",
    "crm:backups.run": "Back up the database now",
    "crm:backups.test_restore": "Test-restore a backup",
    "crm:backups.alert": "E-mail admins about a failed backup",
    "crm:exports.run": "Write an export file",
    "crm:exports.expire": "Remove expired export files",
    "crm:imports.run": "Import a spreadsheet",
    "crm:imports.remove_old_files": "Remove old import uploads",
    "crm:automation.run": "Do an automation rule's actions",
    "crm:automation.deliver": "Deliver outgoing webhooks",
    "crm:automation.deliver_due": "Deliver webhooks left by a stopped worker",
    "crm:automation.due": "Fire automation rules whose date came",
    "crm:reports.send_scheduled": "E-mail the scheduled reports",
    "crm:emails.send": "Send an e-mail from a record",
    "crm:campaigns.batch": "Send a batch of a campaign",
    "crm:whatsapp.campaign_hours": "Resume WhatsApp campaigns held outside business hours",
    "crm:whatsapp.send": "Send a WhatsApp message",
    "crm:commissions.calculate": "Calculate the commissions that are due",
    "crm:commissions.partner_reports": "E-mail partners their commission report",
    "crm:partners.send_invitation": "Send a partner portal invitation",
    "crm:partners.settle": "Lapse partner registrations whose protection ended",
}


def title(name: str) -> str:
    """A task in words: its title, or (a task without one) its name with the code taken out."""
    full = full_name(name)
    if full in TITLES:
        return TITLES[full]
    words = full.partition(":")[2].rpartition(".")[2].replace("_", " ").strip()
    return words[:1].upper() + words[1:]


# Work a starting worker does at once, in one transaction (a task module registers it with
# `at_start`): e.g. the integration inbox queues again what a killed predecessor had taken.
StartHook = Callable[[AsyncSession], Awaitable[object]]
START_HOOKS: list[StartHook] = []


def at_start(hook: StartHook) -> StartHook:
    """Decorator: run `hook(session)` each time a worker starts (see JobRunner.start)."""
    if hook not in START_HOOKS:
        START_HOOKS.append(hook)
    return hook


class UnknownTask(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def load_task_modules() -> None:
    for module in TASK_MODULES:
        importlib.import_module(module)


def full_name(name: str) -> str:
    """ "maintenance.purge" and "crm:maintenance.purge" both name the same task."""
    return name if ":" in name else f"{NAMESPACE}:{name}"


def registered() -> dict[str, Task[Any, Any, Any]]:
    """Every task by its procrastinate name (the name stored in procrastinate_jobs.task_name)."""
    load_task_modules()
    return {f"{namespace}:{name}": task for namespace, bp in BLUEPRINTS.items() for name, task in bp.tasks.items()}


def find(name: str) -> tuple[str, Task[Any, Any, Any]]:
    full = full_name(name)
    task = registered().get(full)
    if task is None:
        raise UnknownTask(name)
    return full, task


def is_periodic(name: str) -> bool:
    namespace, _, short = full_name(name).partition(":")
    bp = BLUEPRINTS.get(namespace)
    return bp is not None and any(key[0] == short for key in bp.periodic_registry.periodic_tasks)


def build_app(database_url: str, schedule: bool = True) -> procrastinate.App:
    """A procrastinate App with its own copies of every registered task; `schedule`: its worker
    also defers the periodic ones at their times."""
    load_task_modules()
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=database_url))
    for namespace, bp in BLUEPRINTS.items():
        app.add_tasks_from(_copy(bp, schedule), namespace=namespace)
    return app


def _copy(source: procrastinate.Blueprint, schedule: bool) -> procrastinate.Blueprint:
    target = procrastinate.Blueprint()
    clones: dict[int, Task[Any, Any, Any]] = {}
    for name, task in source.tasks.items():
        clone = clones.get(id(task))
        if clone is None:
            clone = clones[id(task)] = copy.copy(task)
            clone.aliases = list(task.aliases)
            clone.blueprint = target
        target.tasks[name] = clone
    for periodic in source.periodic_registry.periodic_tasks.values() if schedule else ():
        # The deferrer writes the timestamp into configure_kwargs: each App needs its own.
        target.periodic_registry.register_task(
            task=clones[id(periodic.task)],
            cron=periodic.cron,
            periodic_id=periodic.periodic_id,
            configure_kwargs=copy.deepcopy(periodic.configure_kwargs),
        )
    return target

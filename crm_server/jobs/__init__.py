"""Scheduled and queued work, run by procrastinate workers inside the server processes.

Tasks register on `blueprint`; each gets the process's Database through its job context
(`context.additional_context["db"]`) and runs its work in one transaction. Code that wants work done
later calls `crm_server.jobs.queue.defer(session, "area.task", ...)` inside its own transaction."""

import procrastinate

blueprint = procrastinate.Blueprint()

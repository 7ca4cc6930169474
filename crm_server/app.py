"""Builds the ASGI app: API routers, webhook routers, live events, the job worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from crm_server import __version__, events, events_api, health, log_redaction
from crm_server.activities import api as activities_api
from crm_server.admin import api as admin_api
from crm_server.auth import api as auth_api
from crm_server.automation import api as automation_api
from crm_server.backups import api as backups_api
from crm_server.backups import restore_api as backups_restore_api
from crm_server.campaigns import api as campaigns_api
from crm_server.clients import api as clients_api
from crm_server.commissions import api as commissions_api
from crm_server.config import Config, to_libpq_url, to_sqlalchemy_url
from crm_server.db import Database
from crm_server.email_pipe import api as email_pipe_api
from crm_server.emails import api as emails_api
from crm_server.errors import install_error_handlers
from crm_server.exports import api as exports_api
from crm_server.home import api as home_api
from crm_server.imports import api as imports_api
from crm_server.input_guard import BodyLimit
from crm_server.integrations import api as integrations_api
from crm_server.invoices import api as invoices_api
from crm_server.jobs import runner
from crm_server.leads import api as leads_api
from crm_server.orders import api as orders_api
from crm_server.partners import api as partners_api
from crm_server.payments import api as payments_api
from crm_server.portal import pages as portal_pages
from crm_server.products import api as products_api
from crm_server.proposals import api as proposals_api
from crm_server.purchasing import api as purchasing_api
from crm_server.replica import Replica
from crm_server.reports import api as reports_api
from crm_server.request_timings import RequestTimings, TimingMiddleware
from crm_server.search import api as search_api
from crm_server.stock import api as stock_api
from crm_server.targets import api as targets_api
from crm_server.tickets import api as tickets_api
from crm_server.webforms import api as webforms_api
from crm_server.whatsapp import api as whatsapp_api

if TYPE_CHECKING:
    from crm_server.embedded_db import EmbeddedPostgres

log = logging.getLogger(__name__)


def create_app(config: Config, embedded: EmbeddedPostgres | None = None) -> FastAPI:
    """`config.database_url` must be resolved (see crm_server.cli) before the app is built.
    `embedded`: the embedded cluster the server runs on, which its watchdog restarts if it stops."""
    assert config.database_url, "resolve the database URL first"
    log_redaction.install()  # no token or secret from a URL in the log (httpx, uvicorn, any handler)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(config.async_url(), config.db_pool_size)
        if config.replica_url:
            db.replica = Replica(to_sqlalchemy_url(config.replica_url), config.replica_max_lag_seconds)
        hub = events.EventHub(to_libpq_url(config.database_url or ""), db.sessions)
        app.state.db, app.state.hub = db, hub
        # Automation's cache of active rules and webhook subscriptions drops on their live events.
        from crm_server.automation import capture

        capture.attach(hub, db.engine)
        await hub.start()
        jobs = runner.JobRunner(config.database_url or "", db, schedule=config.schedule)
        app.state.jobs = jobs
        if config.worker:
            await jobs.start()
        watchdog = health.Watchdog(app, embedded, worker=config.worker)
        watchdog.start()
        try:
            yield
        finally:
            await watchdog.stop()
            await jobs.stop()
            await hub.stop()
            await db.dispose()

    app = FastAPI(title="CRM server", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    # Bodies over the cap (413) and JSON nested too deep (422) stop here, before any route reads them.
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    # Outermost: each request's whole time, refusals included (the admin's Home shows the p95).
    app.state.timings = RequestTimings()
    app.add_middleware(TimingMiddleware, timings=app.state.timings)
    # Webhooks first: providers call them most, and routes are matched in order. The doors with
    # fixed paths (/webhooks/email, /webhooks/forms/<key>) before /webhooks/{provider}.
    app.include_router(email_pipe_api.webhooks)
    app.include_router(webforms_api.webhooks)
    app.include_router(integrations_api.webhooks)
    app.include_router(health.router)
    app.include_router(auth_api.router)
    app.include_router(admin_api.router)
    app.include_router(runner.router)
    app.include_router(backups_api.router)
    app.include_router(backups_restore_api.router)
    app.include_router(events_api.router)
    app.include_router(leads_api.router)
    app.include_router(clients_api.router)
    app.include_router(activities_api.router)
    app.include_router(search_api.router)
    app.include_router(tickets_api.router)
    app.include_router(email_pipe_api.router)
    app.include_router(products_api.router)
    app.include_router(invoices_api.router)
    app.include_router(proposals_api.router)
    app.include_router(stock_api.router)
    app.include_router(purchasing_api.router)
    app.include_router(reports_api.router)
    app.include_router(home_api.router)
    app.include_router(targets_api.router)
    app.include_router(commissions_api.router)
    app.include_router(emails_api.router)
    app.include_router(payments_api.router)
    app.include_router(orders_api.router)
    app.include_router(integrations_api.router)
    app.include_router(campaigns_api.router)
    app.include_router(campaigns_api.tracking)
    app.include_router(webforms_api.router)
    app.include_router(exports_api.router)
    app.include_router(imports_api.router)
    app.include_router(automation_api.router)
    app.include_router(whatsapp_api.router)
    app.include_router(partners_api.router)
    app.include_router(portal_pages.router)  # the partner portal's HTML pages (/portal)
    return app

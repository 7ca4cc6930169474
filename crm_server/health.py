"""GET /health for load balancers and IT; GET /api/version for the desktop's sign-in (which app
fits this server); GET /api/admin/health for the admin panel; and the watchdog that brings a
server back by itself after its database went away.

/health never depends on the database to answer: it probes it with a short timeout and answers 200
when everything is up, else 503 with the same JSON, `down` naming what is down (database, job
runner, event listener)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from importlib import metadata
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import text

from crm_server import __version__
from crm_server.backups.service import health as backup_health
from crm_server.contract.admin import ComponentHealth, Health
from crm_server.contract.common import API_LEVEL, ServerVersion
from crm_server.db import Database
from crm_server.routing import Session, TxRoute, require

if TYPE_CHECKING:
    from crm_server.embedded_db import EmbeddedPostgres

log = logging.getLogger(__name__)

router = APIRouter(route_class=TxRoute, tags=["health"])

# How long a probe may take before the database counts as down.
PROBE_TIMEOUT = 5.0
# The watchdog looks this often; it restarts an embedded cluster after two failed looks in a row.
WATCH_INTERVAL = 2.0

_NAMES = {"database": "database", "jobs": "job runner", "events": "event listener"}


async def probe_database(db: Database) -> str | None:
    """None when the database answers `SELECT 1` in time, else what went wrong."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT), db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None
    except TimeoutError:
        return f"no answer within {PROBE_TIMEOUT:g} s"
    except Exception as exc:  # a health check reports, it does not fail
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


async def _health(request: Request) -> Health:
    state = request.app.state
    db: Database = state.db
    problem = await probe_database(db)
    database = ComponentHealth(status="ok") if problem is None else ComponentHealth(status="down", detail=problem)
    jobs = ComponentHealth(status="down", detail="unknown: the database is unreachable")
    if problem is None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT), db.sessions() as session:
                jobs = await state.jobs.health(session)
        except Exception as exc:
            jobs = ComponentHealth(status="down", detail=f"unknown: {type(exc).__name__}")
    backups = ComponentHealth(status="not_configured", detail="unknown: the database is unreachable")
    if problem is None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT), db.sessions() as session:
                backups = await backup_health(session)
        except Exception as exc:
            backups = ComponentHealth(status="down", detail=f"unknown: {type(exc).__name__}")
    hub = state.hub
    live = ComponentHealth(status="ok" if hub.connected else "down", detail=f"last event #{hub.last_seq}")
    parts = {"database": database, "jobs": jobs, "events": live}
    down = [_NAMES[name] for name, part in parts.items() if part.status == "down"]
    return Health(
        status="degraded" if down else "ok",
        version=__version__,
        database=database,
        jobs=jobs,
        events=live,
        integrations=ComponentHealth(status="not_configured"),
        backups=backups,
        down=down,
        attention=["backups"] if backups.status == "down" else [],
    )


async def _public_health(request: Request) -> JSONResponse:
    try:
        result = await _health(request)
    except Exception as exc:  # never a bare 500 from the health check itself
        log.exception("health check failed")
        unknown = ComponentHealth(status="down", detail=f"unknown: the check failed ({type(exc).__name__})")
        failed = Health(status="degraded", version=__version__, database=unknown, jobs=unknown, events=unknown,
                        integrations=unknown, backups=unknown, down=["server"])  # fmt: skip
        return JSONResponse(failed.model_dump(mode="json"), status_code=503)
    return JSONResponse(result.model_dump(mode="json"), status_code=200 if result.status == "ok" else 503)


# Not a TxRoute: a request transaction would need the database before the check could report on it.
router.add_api_route(
    "/health",
    _public_health,
    methods=["GET"],
    response_model=Health,
    route_class_override=APIRoute,
    responses={503: {"model": Health, "description": "something is down (see `down`)"}},
)


def package_version() -> str:
    """The installed `crm` package's version (the source tree's own when it is not installed)."""
    try:
        return metadata.version("crm")
    except metadata.PackageNotFoundError:
        return __version__


async def server_version() -> ServerVersion:
    """Public: the desktop asks before signing in, to say plainly when it does not fit this server."""
    return ServerVersion(version=package_version(), api_level=API_LEVEL)


# Public (no session) and not a TxRoute: it needs no database, and an app that does not fit must
# learn so before it sends a password.
router.add_api_route(
    "/api/version",
    server_version,
    methods=["GET"],
    response_model=ServerVersion,
    route_class_override=APIRoute,
    summary="The server's version and API level (no sign-in needed)",
)


@router.get("/api/admin/health", response_model=Health, dependencies=[require("admin", "view")])
async def admin_health(request: Request, session: Session) -> Health:
    result = await _health(request)
    result.recent_failures = await request.app.state.jobs.recent_runs(session, failed_only=True, limit=20)
    return result


class Watchdog:
    """One per server process. Every WATCH_INTERVAL it probes the database. Down twice in a row: if
    the server runs on the embedded cluster, the cluster is started again (when this process owns
    it, or its owner is gone). Up, but this process's job worker should run and does not: the
    worker is started again. The engine's pool pre-pings (stale connections are replaced) and the
    event listener reconnects by itself."""

    def __init__(self, app: FastAPI, embedded: EmbeddedPostgres | None, worker: bool) -> None:
        self.app, self.embedded, self.worker = app, embedded, worker
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                failures = await self._look(failures)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watchdog: could not bring the server back yet")

    async def _look(self, failures: int) -> int:
        state = self.app.state
        problem = await probe_database(state.db)
        if problem is not None:
            failures += 1
            if failures == 1:
                log.warning("the database is unreachable: %s", problem)
            if self.embedded is not None and failures >= 2:
                await asyncio.to_thread(self.embedded.ensure_running)
            return failures
        if failures:
            log.info("the database answers again")
        if self.worker and not state.jobs.running:
            log.warning("restarting the job worker")
            await state.jobs.stop()
            await state.jobs.start()
        return 0

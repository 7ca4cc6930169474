"""GET /health for load balancers and IT; GET /api/admin/health for the admin panel."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from crm_server import __version__
from crm_server.contract.admin import ComponentHealth, Health
from crm_server.routing import Session, TxRoute, require

router = APIRouter(route_class=TxRoute, tags=["health"])


async def _health(request: Request, session: Session) -> Health:
    try:
        await session.execute(text("SELECT 1"))
        database = ComponentHealth(status="ok")
    except Exception as exc:  # a health check reports, it does not fail
        database = ComponentHealth(status="down", detail=str(exc)[:200])
    jobs = await request.app.state.jobs.health(session)
    hub = request.app.state.hub
    live = ComponentHealth(status="ok" if hub.connected else "down", detail=f"last event #{hub.last_seq}")
    status = "ok" if database.status == "ok" and jobs.status != "down" and live.status == "ok" else "degraded"
    return Health(status=status, version=__version__, database=database, jobs=jobs, events=live,
                  integrations=ComponentHealth(status="not_configured"),
                  backups=ComponentHealth(status="not_configured"))


@router.get("/health", response_model=Health)
async def health(request: Request, session: Session) -> JSONResponse:
    result = await _health(request, session)
    return JSONResponse(result.model_dump(mode="json"), status_code=200 if result.status == "ok" else 503)


@router.get("/api/admin/health", response_model=Health, dependencies=[require("admin", "view")])
async def admin_health(request: Request, session: Session) -> Health:
    result = await _health(request, session)
    result.recent_failures = await request.app.state.jobs.recent_runs(session, failed_only=True, limit=20)
    return result

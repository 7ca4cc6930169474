"""HTTP routes of the job queue for the admin panel: recent runs (with errors) and "run now"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_server.auth.permissions import Principal
from crm_server.contract.admin import JobRun
from crm_server.jobs import service
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api/admin", route_class=TxRoute, tags=["jobs"])


@router.get("/jobs", response_model=list[JobRun], dependencies=[require("admin", "view")])
async def list_jobs(
    session: Session,
    failed_only: bool = False,
    task: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobRun]:
    return await service.recent_runs(session, failed_only, limit, task)


@router.post("/jobs/{task}/run", response_model=JobRun, status_code=202)
async def run_job_now(task: str, session: Session, actor: Principal = require("admin", "edit")) -> JobRun:
    return await service.run_now(session, actor, task)

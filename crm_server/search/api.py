"""GET /api/search: one box, results grouped by type."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_server.contract.search import SearchResults
from crm_server.replica import ReadSession
from crm_server.routing import CurrentUser, TxRoute
from crm_server.search import service

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["search"])


@router.get("/search", response_model=SearchResults)
async def search(
    session: ReadSession,
    principal: CurrentUser,
    q: Annotated[str, Query(max_length=200)],
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
    types: Annotated[str | None, Query(description="comma-separated: lead,client,contact")] = None,
) -> SearchResults:
    # Spans modules: each provider checks its own module's "view" permission and record scope.
    wanted = {t.strip() for t in types.split(",") if t.strip()} if types else None
    return await service.search(session, principal, q, limit, wanted)

"""HTTP routes of exports: ask for one, list one's own, follow one, cancel, download the file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from crm_server.contract.common import Page
from crm_server.contract.exports import ExportIn, ExportOut
from crm_server.exports import service
from crm_server.routing import CurrentUser, Session, TxRoute

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["exports"])


@router.post("/exports", response_model=ExportOut, status_code=201)
async def start_export(body: ExportIn, session: Session, principal: CurrentUser, request: Request) -> ExportOut:
    """Needs the export permission of the list's module (checked in the service: it depends on the list)."""
    return await service.start(session, principal, body, request.url.path)


@router.get("/exports", response_model=Page[ExportOut])
async def list_exports(
    session: Session,
    principal: CurrentUser,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ExportOut]:
    return await service.list_exports(session, principal, offset, limit)


@router.get("/exports/{export_id}", response_model=ExportOut)
async def get_export(export_id: int, session: Session, principal: CurrentUser) -> ExportOut:
    return service.export_out(await service.own_export(session, principal, export_id))


@router.post("/exports/{export_id}/cancel", response_model=ExportOut)
async def cancel_export(export_id: int, session: Session, principal: CurrentUser) -> ExportOut:
    return await service.cancel(session, principal, export_id)


@router.get(
    "/exports/{export_id}/file",
    response_class=StreamingResponse,
    responses={
        200: {"content": {service.XLSX: {}, "text/csv": {}}, "description": "The exported file"},
        410: {
            "description": "The export expired: export again",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        },
    },
)
async def download_export(
    export_id: int, session: Session, principal: CurrentUser, request: Request
) -> StreamingResponse:
    export, chunks = await service.ready_file(session, principal, export_id)
    headers = {"Content-Disposition": f'attachment; filename="{export.file_name}"'}
    if export.size_bytes is not None:
        headers["Content-Length"] = str(export.size_bytes)
    return StreamingResponse(
        service.stream_chunks(request.app.state.db, export.id, chunks),
        media_type=service.MEDIA_TYPES[export.format],
        headers=headers,
    )

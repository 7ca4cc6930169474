"""HTTP routes of imports (the list of routes is in crm_server/contract/imports.py). Each needs the
`import` action of the entity's module; the service checks it, as it depends on the import's entity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from crm_server.contract.common import Page
from crm_server.contract.imports import (
    ENTITIES,
    DryRunOut,
    ImportEntity,
    ImportEntityOut,
    ImportErrorRow,
    ImportOut,
    MappingIn,
    RevertOut,
    SheetIn,
    StartIn,
    UploadOut,
)
from crm_server.imports import rows, service, template
from crm_server.routing import CurrentUser, Session, TxRoute

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["imports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE_NAME = Annotated[str, Query(min_length=1, max_length=300)]


@router.get("/imports/entities", response_model=list[ImportEntityOut])
async def import_entities(session: Session, principal: CurrentUser) -> list[ImportEntityOut]:
    """What this person may import, with each entity's fields."""
    return await service.entities(session, principal)


@router.get(
    "/imports/entities/{entity}/template",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The entity's import template"}},
)
async def download_template(
    entity: ImportEntity, session: Session, principal: CurrentUser, request: Request
) -> Response:
    await service.allowed(session, principal, entity, request.url.path)
    fields = rows.fields_of(entity, await rows.lookups(session, entity))
    data = template.workbook(ENTITIES[entity], fields)
    return Response(
        data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{entity}-import-template.xlsx"'}
    )


@router.post(
    "/imports",
    response_model=UploadOut,
    status_code=201,
    openapi_extra={
        "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def upload_file(
    entity: Annotated[ImportEntity, Query()],
    file_name: FILE_NAME,
    session: Session,
    principal: CurrentUser,
    request: Request,
) -> UploadOut:
    """The body is the file's bytes (.xlsx, .xls, .ods or .csv)."""
    data = await request.body()
    return await service.upload(session, principal, entity, file_name, data, request.url.path)


@router.get("/imports", response_model=Page[ImportOut])
async def list_imports(
    session: Session,
    principal: CurrentUser,
    entity: ImportEntity | None = None,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ImportOut]:
    return await service.history(session, principal, entity, offset, limit)


@router.get("/imports/{import_id}", response_model=ImportOut)
async def get_import(import_id: int, session: Session, principal: CurrentUser, request: Request) -> ImportOut:
    return await service.import_out(
        session, await service.visible_import(session, principal, import_id, request.url.path)
    )


@router.post("/imports/{import_id}/sheet", response_model=UploadOut)
async def choose_sheet(
    import_id: int, body: SheetIn, session: Session, principal: CurrentUser, request: Request
) -> UploadOut:
    return await service.choose_sheet(session, principal, import_id, body.sheet, request.url.path)


@router.put("/imports/{import_id}/mapping", response_model=ImportOut)
async def set_mapping(
    import_id: int, body: MappingIn, session: Session, principal: CurrentUser, request: Request
) -> ImportOut:
    return await service.set_mapping(session, principal, import_id, body, request.url.path)


@router.post("/imports/{import_id}/dry-run", response_model=DryRunOut)
async def dry_run(import_id: int, session: Session, principal: CurrentUser, request: Request) -> DryRunOut:
    return await service.dry_run(session, principal, import_id, request.url.path)


@router.post("/imports/{import_id}/start", response_model=ImportOut)
async def start_import(
    import_id: int, body: StartIn, session: Session, principal: CurrentUser, request: Request
) -> ImportOut:
    return await service.start(session, principal, import_id, body, request.url.path)


@router.post("/imports/{import_id}/cancel", response_model=ImportOut)
async def cancel_import(import_id: int, session: Session, principal: CurrentUser, request: Request) -> ImportOut:
    return await service.cancel(session, principal, import_id, request.url.path)


@router.get("/imports/{import_id}/errors", response_model=Page[ImportErrorRow])
async def import_errors(
    import_id: int,
    session: Session,
    principal: CurrentUser,
    request: Request,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[ImportErrorRow]:
    return await service.errors_page(session, principal, import_id, offset, limit, request.url.path)


@router.get(
    "/imports/{import_id}/error-report",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The failed rows as they were, plus an Error column"}},
)
async def error_report(import_id: int, session: Session, principal: CurrentUser, request: Request) -> Response:
    name, data = await service.error_report(session, principal, import_id, request.url.path)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/imports/{import_id}/revert", response_model=RevertOut)
async def revert_import(import_id: int, session: Session, principal: CurrentUser, request: Request) -> RevertOut:
    return await service.revert(session, principal, import_id, request.url.path)

"""Typed calls for imports (issue #19): the entities and their templates, upload a spreadsheet,
choose its sheet, map its columns, dry run, start, follow, cancel, the history, the errors and
their report, and revert. The wire models come from crm_server.contract.imports.

    upload = await imports.upload(api, "leads", path)                 # UploadOut: headers, mapping
    operations.run(self, imports.start(api, item.id, StartIn()), changed=imports.CHANGED)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from pydantic import TypeAdapter

from crm_desktop.api.client import ApiClient, ApiError, Offline
from crm_server.contract.common import Page
from crm_server.contract.imports import (
    MODULE_OF,
    DryRunOut,
    ImportEntityOut,
    ImportErrorRow,
    ImportOut,
    MappingIn,
    RevertOut,
    SheetIn,
    StartIn,
    UploadOut,
)

# What a change to an import announces (and what its live events carry: module "imports").
CHANGED = frozenset({"imports", "imports.import"})
MODULE = "imports"
# Said when an import or its revert ends: many rows came or went at once (the lead list reloads).
IMPORTED = "imports.ended"
# The lists an import (or its revert) changes, by entity: their pages reload.
ENTITY_CHANGED: dict[str, frozenset[str]] = {
    "leads": frozenset({"leads", "leads.lead"}),
    "clients": frozenset({"clients", "clients.client"}),
    "contacts": frozenset({"clients", "clients.client"}),
    "products": frozenset({"products", "products.product"}),
}
# An upload can be 32 MB on a slow line: more time than an ordinary call.
UPLOAD_TIMEOUT = httpx.Timeout(300, connect=20)

_PAGE = TypeAdapter(Page[ImportOut])
_ERRORS = TypeAdapter(Page[ImportErrorRow])
_ENTITIES = TypeAdapter(list[ImportEntityOut])


def changed_by(entity: str) -> frozenset[str]:
    """What an import of `entity` changes: the import itself and the entity's lists."""
    return CHANGED | {IMPORTED} | ENTITY_CHANGED.get(entity, frozenset())


def module_of(entity: str) -> str:
    """The module whose `import` permission an entity needs."""
    return MODULE_OF.get(entity, entity)


async def entities(api: ApiClient) -> list[ImportEntityOut]:
    return _ENTITIES.validate_python(await api.get("/api/imports/entities"))


async def save_template(api: ApiClient, entity: str, path: str) -> int:
    """Download the entity's .xlsx template to `path`; returns its size."""
    response: httpx.Response = await api.request("GET", f"/api/imports/entities/{entity}/template", raw=True)
    await asyncio.to_thread(_write, path, response.content)
    return len(response.content)


async def upload(api: ApiClient, entity: str, path: str) -> UploadOut:
    """Send the file's bytes as they are; the answer names its sheets, headers and mapping."""
    content = await asyncio.to_thread(Path(path).read_bytes)
    headers = {"Content-Type": "application/octet-stream"}
    if api.token:
        headers["Authorization"] = f"Bearer {api.token}"
    params = {"entity": entity, "file_name": Path(path).name}
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=UPLOAD_TIMEOUT) as http:
            response = await http.post("/api/imports", params=params, content=content, headers=headers)
    except (httpx.TransportError, OSError) as exc:
        raise Offline(type(exc).__name__) from exc
    if response.status_code >= 400:
        raise ApiError.from_response(response)
    return UploadOut.model_validate(response.json())


async def choose_sheet(api: ApiClient, import_id: int, sheet: str) -> UploadOut:
    body = SheetIn(sheet=sheet).model_dump(mode="json")
    return UploadOut.model_validate(await api.post(f"/api/imports/{import_id}/sheet", body))


async def set_mapping(api: ApiClient, import_id: int, body: MappingIn) -> ImportOut:
    return ImportOut.model_validate(await api.put(f"/api/imports/{import_id}/mapping", body.model_dump(mode="json")))


async def dry_run(api: ApiClient, import_id: int) -> DryRunOut:
    return DryRunOut.model_validate(await api.post(f"/api/imports/{import_id}/dry-run"))


async def map_and_dry_run(api: ApiClient, import_id: int, body: MappingIn) -> DryRunOut:
    """The mapping's choices, then the dry run over them (one step for the person)."""
    await set_mapping(api, import_id, body)
    return await dry_run(api, import_id)


async def start(api: ApiClient, import_id: int, body: StartIn | None = None) -> ImportOut:
    payload = (body or StartIn()).model_dump(mode="json")
    return ImportOut.model_validate(await api.post(f"/api/imports/{import_id}/start", payload))


async def cancel(api: ApiClient, import_id: int) -> ImportOut:
    return ImportOut.model_validate(await api.post(f"/api/imports/{import_id}/cancel"))


async def get_import(api: ApiClient, import_id: int) -> ImportOut:
    return ImportOut.model_validate(await api.get(f"/api/imports/{import_id}"))


async def history(api: ApiClient, offset: int = 0, limit: int = 50, entity: str | None = None) -> Page[ImportOut]:
    """The imports, newest first."""
    return _PAGE.validate_python(await api.get("/api/imports", entity=entity, offset=offset, limit=limit))


async def errors(api: ApiClient, import_id: int, offset: int = 0, limit: int = 100) -> Page[ImportErrorRow]:
    return _ERRORS.validate_python(await api.get(f"/api/imports/{import_id}/errors", offset=offset, limit=limit))


async def save_error_report(api: ApiClient, import_id: int, path: str) -> int:
    """The failed rows as they were in the file plus an "Error" column (.xlsx), saved to `path`."""
    response: httpx.Response = await api.request("GET", f"/api/imports/{import_id}/error-report", raw=True)
    await asyncio.to_thread(_write, path, response.content)
    return len(response.content)


async def revert(api: ApiClient, import_id: int) -> RevertOut:
    return RevertOut.model_validate(await api.post(f"/api/imports/{import_id}/revert"))


def _write(path: str, content: bytes) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


__all__ = [
    "CHANGED",
    "IMPORTED",
    "MODULE",
    "cancel",
    "changed_by",
    "choose_sheet",
    "dry_run",
    "entities",
    "errors",
    "get_import",
    "history",
    "map_and_dry_run",
    "module_of",
    "revert",
    "save_error_report",
    "save_template",
    "set_mapping",
    "start",
    "upload",
]

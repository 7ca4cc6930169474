"""Typed calls for exports as jobs: ask for a list's export, follow it, cancel it, save its file.
The wire models come from crm_server.contract.exports.

    export = await exports.start_export(api, "leads", "xlsx", query)   # the list's own query model
    operations.run(self, exports.cancel_export(api, export.id), changed=exports.CHANGED)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from crm_desktop.api.client import ApiClient
from crm_server.contract.common import Page
from crm_server.contract.exports import ExportIn, ExportOut

# What a change to an export announces (and what its live events carry: module "exports").
CHANGED = frozenset({"exports", "exports.export"})
WATCHED = frozenset({"*", "exports", "exports.export"})
MODULE = "exports"

_PAGE = TypeAdapter(Page[ExportOut])
# Paging fields of a list's query are the list's, not the export's: every row is exported.
_PAGING = {"offset", "limit", "after"}


def filter_of(query: BaseModel | dict[str, Any]) -> dict[str, Any]:
    """A list's query model as an export's filter: what differs from the defaults, no paging."""
    raw = query if isinstance(query, dict) else query.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    return {k: v for k, v in raw.items() if k not in _PAGING and v is not None}


async def start_export(api: ApiClient, entity: str, fmt: str, query: BaseModel | dict[str, Any]) -> ExportOut:
    body = ExportIn.model_validate({"entity": entity, "format": fmt, "filter": filter_of(query)})
    return ExportOut.model_validate(await api.post("/api/exports", body.model_dump(mode="json")))


async def list_exports(api: ApiClient, offset: int = 0, limit: int = 50) -> Page[ExportOut]:
    return _PAGE.validate_python(await api.get("/api/exports", offset=offset, limit=limit))


async def get_export(api: ApiClient, export_id: int) -> ExportOut:
    return ExportOut.model_validate(await api.get(f"/api/exports/{export_id}"))


async def cancel_export(api: ApiClient, export_id: int) -> ExportOut:
    return ExportOut.model_validate(await api.post(f"/api/exports/{export_id}/cancel"))


async def save_export(api: ApiClient, export_id: int, path: str) -> int:
    """Download the export's file to `path`; returns its size. An expired one raises ApiError 410
    ("expired, export again"), one not done yet 409."""
    await asyncio.to_thread(Path(path).parent.mkdir, parents=True, exist_ok=True)
    return await api.download(f"/api/exports/{export_id}/file", path)  # streamed: never whole in memory


__all__ = [
    "CHANGED",
    "MODULE",
    "WATCHED",
    "cancel_export",
    "filter_of",
    "get_export",
    "list_exports",
    "save_export",
    "start_export",
]

"""The sales lists every leads screen needs (pipelines with their statuses, lost reasons, lead
sources), loaded once per session and again when an admin changes them.

    lookups = sales_lookups(session)
    await lookups.ready()                      # loaded (at once when already held)
    lookups.status(status_id).name
    lookups.changed.connect(self._rebuild)     # an admin edited a pipeline, a reason or a source

Views read from it synchronously (Qt models never wait for the network)."""

from __future__ import annotations

import asyncio
import logging
from weakref import WeakKeyDictionary

from PySide6.QtCore import QObject, Signal

from crm_desktop import tasks
from crm_desktop.api import leads as leads_api
from crm_desktop.api.client import ApiError
from crm_desktop.operations import change_bus
from crm_desktop.session import Session
from crm_server.contract.leads import NamedItemOut, PipelineOut, StatusKind, StatusOut

log = logging.getLogger(__name__)

# Change-bus areas after which the lists are fetched again (admin edits, F5).
AREAS = leads_api.LISTS_CHANGED


class SalesLookups(QObject):
    changed = Signal()

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.session = session
        self.pipelines: list[PipelineOut] = []
        self.lost_reasons: list[NamedItemOut] = []
        self.sources: list[NamedItemOut] = []
        self._statuses: dict[int, StatusOut] = {}
        self._loading: asyncio.Task[None] | None = None
        self._loaded = False
        change_bus().changed.connect(self._on_changed)

    # --- reading ---------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._loaded

    def default_pipeline(self) -> PipelineOut | None:
        return next((p for p in self.pipelines if p.is_default), self.pipelines[0] if self.pipelines else None)

    def pipeline(self, pipeline_id: int | None) -> PipelineOut | None:
        if pipeline_id is None:
            return self.default_pipeline()
        return next((p for p in self.pipelines if p.id == pipeline_id), None)

    def status(self, status_id: int | None) -> StatusOut | None:
        return self._statuses.get(status_id) if status_id is not None else None

    def status_name(self, status_id: int | None) -> str:
        status = self.status(status_id)
        return status.name if status is not None else "—"

    def is_kind(self, status_id: int | None, kind: StatusKind) -> bool:
        status = self.status(status_id)
        return status is not None and status.kind == kind

    def reason_name(self, reason_id: int | None) -> str:
        return next((r.name for r in self.lost_reasons if r.id == reason_id), "—")

    # --- loading ---------------------------------------------------------------------------------

    def ready(self) -> asyncio.Task[None]:
        """The load in flight, or a new one when nothing is held yet."""
        if self._loading is None or (self._loading.done() and not self._loaded):
            self._loading = tasks.spawn(self._load())
        return self._loading

    def reload(self) -> asyncio.Task[None]:
        if self._loading is None or self._loading.done():
            self._loading = tasks.spawn(self._load())
        return self._loading

    async def _load(self) -> None:
        api = self.session.api
        try:
            pipelines, reasons, sources = await asyncio.gather(
                leads_api.pipelines(api), leads_api.lost_reasons(api), leads_api.lead_sources(api)
            )
        except ApiError as exc:
            log.info("sales lists did not load: %s", exc.message)
            return
        self.pipelines, self.lost_reasons, self.sources = pipelines, reasons, sources
        self._statuses = {s.id: s for p in self.pipelines for s in p.statuses}
        self._loaded = True
        self.changed.emit()

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & AREAS:
            self.reload()


_by_session: WeakKeyDictionary[Session, SalesLookups] = WeakKeyDictionary()


def sales_lookups(session: Session) -> SalesLookups:
    """The session's one SalesLookups (made and loading on first use)."""
    lookups = _by_session.get(session)
    if lookups is None:
        lookups = _by_session[session] = SalesLookups(session)
        lookups.ready()
    return lookups

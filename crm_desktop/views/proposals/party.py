"""Choose who a proposal is for: a client or a lead, by typing part of a name.

One box searches both (api.clients.list_clients and api.leads.list_leads with q, 10 each) and labels each match
"(client)" or "(lead)", so a quote for an enquiry that is not a client yet is made the same way.
The list's filter bar uses the same picker limited to one kind."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import shiboken6
from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QCompleter, QLineEdit, QWidget

from crm_desktop import tasks
from crm_desktop.api import clients, leads
from crm_server.contract.clients import ClientQuery
from crm_server.contract.leads import LeadOut, LeadQuery

log = logging.getLogger(__name__)

KIND_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2
NAME_ROLE = Qt.ItemDataRole.UserRole + 3
LIMIT = 10
KINDS = ("client", "lead")


def lead_name(lead: LeadOut) -> str:
    """As the server names a lead's party: "Ana Pop, Pop SRL"."""
    return ", ".join(p for p in (lead.person_name, lead.company) if p)


async def _matches(api: Any, kind: str, q: str | None) -> list[tuple[int, str]]:
    """(id, name) of the clients or leads matching `q`, at most LIMIT."""
    if kind == "client":
        clients_page = await clients.list_clients(api, ClientQuery.model_construct(q=q, limit=LIMIT))
        return [(client.id, client.name) for client in clients_page.items]
    leads_page = await leads.list_leads(api, LeadQuery.model_construct(q=q, limit=LIMIT))
    return [(lead.id, lead_name(lead)) for lead in leads_page.items]


async def _name(api: Any, kind: str, party_id: int) -> str:
    if kind == "client":
        return (await clients.get_client(api, party_id)).name
    return lead_name(await leads.get_lead(api, party_id))


class PartyPicker(QLineEdit):
    """A search box with a server-fed completer; `party` is ("client" | "lead", id) or None."""

    party_changed = Signal(object)  # tuple[str, int] | None
    results_arrived = Signal(int)

    def __init__(self, api: Any, kinds: tuple[str, ...] = KINDS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.kinds = kinds
        self.party: tuple[str, int] | None = None
        self._chosen_text = ""
        self._seq = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        names = " or ".join(f"a {k}'s" for k in kinds)
        self.setPlaceholderText(f"Type {names} name…")
        self.setClearButtonEnabled(True)
        self.matches = QStandardItemModel(self)
        completer = QCompleter(self.matches, self)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.activated[QModelIndex].connect(self._on_activated)  # type: ignore[index]
        self.setCompleter(completer)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.search_now)
        self.textEdited.connect(self._on_edited)

    # --- reading ---------------------------------------------------------------------------------

    @property
    def client_id(self) -> int | None:
        return self.party[1] if self.party is not None and self.party[0] == "client" else None

    @property
    def lead_id(self) -> int | None:
        return self.party[1] if self.party is not None and self.party[0] == "lead" else None

    def is_busy(self) -> bool:
        return any(not t.done() for t in self._tasks)

    # --- searching -------------------------------------------------------------------------------

    def _on_edited(self, text: str) -> None:
        if self.party is not None and text != self._chosen_text:
            self.party = None
            self.party_changed.emit(None)
        self._debounce.start()

    def _spawn(self, coro: Any) -> None:
        task = tasks.spawn(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def search_now(self) -> None:
        self._seq += 1
        self._spawn(self._search(self.text().strip(), self._seq))

    async def _search(self, text: str, seq: int) -> None:
        q = text or None
        try:
            found = await asyncio.gather(*(_matches(self.api, kind, q) for kind in self.kinds))
        except Exception as exc:  # a failed suggestion list is not worth a dialog
            log.info("party search failed: %s", exc)
            return
        if seq != self._seq or not shiboken6.isValid(self):
            return  # typed on (a newer search is coming), or the picker is gone
        self.matches.clear()
        both = len(self.kinds) > 1
        for kind, matches in zip(self.kinds, found, strict=True):
            for party_id, name in matches:
                item = QStandardItem(f"{name}  ({kind})" if both else name)
                item.setData(kind, KIND_ROLE)
                item.setData(party_id, ID_ROLE)
                item.setData(name, NAME_ROLE)
                self.matches.appendRow(item)
        self.results_arrived.emit(self.matches.rowCount())
        if self.hasFocus() and self.matches.rowCount():
            self.completer().complete()

    def _on_activated(self, index: QModelIndex) -> None:
        self.set_party(str(index.data(KIND_ROLE)), int(index.data(ID_ROLE)), str(index.data(NAME_ROLE)))

    def choose(self, row: int) -> None:
        """Take the row-th match (what Enter in the popup does)."""
        item = self.matches.item(row)
        self.set_party(str(item.data(KIND_ROLE)), int(item.data(ID_ROLE)), str(item.data(NAME_ROLE)))

    # --- setting ---------------------------------------------------------------------------------

    def set_party(self, kind: str | None, party_id: int | None, name: str = "") -> None:
        """Show a chosen party (None clears); says so through `party_changed` when it differs."""
        party = (kind, party_id) if kind is not None and party_id is not None else None
        self._chosen_text = name
        self.setText(name)
        if party != self.party:
            self.party = party
            self.party_changed.emit(party)

    def load(self, kind: str, party_id: int) -> None:
        """Choose a party by id (a New proposal from a client's window): its name is fetched."""
        self._spawn(self._load(kind, party_id))

    async def _load(self, kind: str, party_id: int) -> None:
        try:
            name = await _name(self.api, kind, party_id)
        except Exception as exc:
            log.info("%s %s did not load: %s", kind, party_id, exc)
            return
        if shiboken6.isValid(self):
            self.set_party(kind, party_id, name)

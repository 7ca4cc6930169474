"""Scrolling a list down asks for each next page after the last one's key (the cursor the page before
gave), not by offset: the client list and the ticket queue, a few pages of three rows, each row once
and in order; the first page of a reload asks without a cursor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from crm_desktop.api import clients as clients_api
from crm_desktop.api import tickets as tickets_api
from crm_desktop.widgets.paged_table import PagedTableModel
from tests.desktop.conftest import Desk
from tests.desktop.test_clients import open_clients
from tests.desktop.test_tickets_queue import open_page


def spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[str | None]:
    """The cursor each call of module.name was given (its query's `after`)."""
    sent: list[str | None] = []
    real: Callable[..., Awaitable[Any]] = getattr(module, name)

    async def call(api: Any, query: Any) -> Any:
        sent.append(query.after)
        return await real(api, query)

    monkeypatch.setattr(module, name, call)
    return sent


def scroll_to_the_end(desk: Desk, model: PagedTableModel[Any], view: Any) -> None:
    """Down to the last row (a short page's rows leave the view room: it asks for more by itself)."""
    desk.wait_until(lambda: not model.loading)
    while model.canFetchMore():
        before = model.rowCount()
        view.scrollToBottom()

        def moved(n: int = before) -> bool:
            return model.rowCount() > n or not model.canFetchMore()

        desk.wait_until(moved, message=f"stuck at {before}")
        desk.wait_until(lambda: not model.loading)


def test_the_client_list_scrolls_page_after_page_by_cursor(
    desk: Desk, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, _session, page = open_clients(desk, qtbot)
    for n in range(8):
        desk.run(api.post("/api/clients", {"name": f"Client {n}"}))
    sent = spy(monkeypatch, clients_api, "list_clients")
    page.model.page_size = 3
    page.reload()
    scroll_to_the_end(desk, page.model, page.table.view)
    assert [row.name for row in page.model.rows()] == [f"Client {n}" for n in range(8)]
    assert sent[0] is None and len(sent) == 3 and all(sent[1:]), sent  # pages 2 and 3 after a cursor
    assert page.model.total == 8 and page.model.total_exact
    sent.clear()
    page.model.page_size = 100
    page.reload()
    desk.wait_until(lambda: not page.model.loading and page.model.rowCount() == 8)
    assert sent == [None]  # a reload starts from the top, without a cursor


def test_the_ticket_queue_scrolls_page_after_page_by_cursor(
    desk: Desk, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = desk.signed_in_api("ada@example.com", role="Admin")
    for n in range(7):
        desk.run(api.post("/api/tickets", {"subject": f"Ticket {n}"}))
    page = open_page(desk, qtbot, api)
    queue = page.queue
    sent = spy(monkeypatch, tickets_api, "list_tickets")
    queue.model.page_size = 3
    queue.model.reload()
    scroll_to_the_end(desk, queue.model, queue.table.view)
    assert [row.subject for row in queue.model.rows()] == [f"Ticket {n}" for n in reversed(range(7))]  # newest first
    assert sent[0] is None and len(sent) == 3 and all(sent[1:]), sent

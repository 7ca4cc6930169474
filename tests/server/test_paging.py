"""paging.page: the exact total by default; with a count cap, counting stops that many rows past the
page and the total says it is a lower bound."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm_server import paging
from crm_server.clients.models import Client
from tests.server.test_invoices import _client
from tests.support import LiveServer


async def test_capped_totals_say_when_they_are_a_lower_bound(server: LiveServer, admin: Any) -> None:
    for i in range(6):
        await _client(admin, f"Client {i}")
    stmt = select(Client, Client.name)

    async def one_page(offset: int, cap: int | None) -> Any:
        async with server.session() as s:
            return await paging.page(
                s, stmt, offset, 2, lambda row: row[1], (Client.name,), whole_rows=True, count_cap=cap
            )

    exact = await one_page(0, None)
    assert (exact.items, exact.total, exact.total_exact) == (["Client 0", "Client 1"], 6, True)
    assert ((await one_page(0, 10)).total, (await one_page(0, 10)).total_exact) == (6, True)
    capped = await one_page(0, 1)  # counts the page (2) + 1 + one more to know there are more
    assert (capped.items, capped.total, capped.total_exact) == (["Client 0", "Client 1"], 4, False)
    further = await one_page(2, 1)  # the cap is counted from the page's end: 2 + 2 + 1, and one more
    assert (further.items, further.total, further.total_exact) == (["Client 2", "Client 3"], 6, False)
    last = await one_page(4, 2)  # the last page: all 6 counted within its cap
    assert (last.items, last.total, last.total_exact) == (["Client 4", "Client 5"], 6, True)

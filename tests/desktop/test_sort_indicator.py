"""The header's sort arrow says the order the list is in: pointing down on a descending list (largest,
newest first), up on an ascending one. Qt draws DescendingOrder pointing up; the app's style
(crm_desktop/style.py) draws it the way people read it. Clicked twice, a header flips the order the server
is asked for, the rows follow, and the arrow with them (Proposals: the shared HeaderSort; Tickets: the
queue's own header)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QHeaderView
from pytestqt.qtbot import QtBot

from crm_desktop import theme
from tests.desktop import test_proposals, test_tickets_queue
from tests.desktop.conftest import Desk


@pytest.fixture
def themed(qapp: QApplication) -> Iterator[str]:
    """The app's own style and light theme for one test (as crm-desktop runs), then Qt's defaults back."""
    style, sheet, palette = qapp.style().name(), qapp.styleSheet(), qapp.palette()
    theme.install(qapp, "light")
    yield "light"
    qapp.setStyleSheet(sheet)
    qapp.setStyle(style)
    qapp.setPalette(palette)


def arrow(header: QHeaderView, column: int) -> str:
    """Which way the arrow drawn in the column's header points: "down", "up" or "none". Read off the
    picture: the header drawn without its indicator, subtracted, leaves the arrow, whose widest row is
    at its top when it points down."""
    assert header.isSortIndicatorShown()
    shown = header.grab().toImage()
    header.setSortIndicatorShown(False)
    hidden = header.grab().toImage()
    header.setSortIndicatorShown(True)
    left = header.sectionViewportPosition(column)
    right = left + header.sectionSize(column)
    widths = [
        sum(
            1
            for x in range(left, right)
            if abs(shown.pixelColor(x, y).lightness() - hidden.pixelColor(x, y).lightness()) > 40
        )
        for y in range(shown.height())
    ]
    drawn = [w for w in widths if w]
    if len(drawn) < 3:
        return "none"
    return "down" if drawn[0] > drawn[-1] else "up" if drawn[0] < drawn[-1] else "none"


def click_header(qtbot: QtBot, header: QHeaderView, column: int) -> None:
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def test_proposals_arrow_follows_the_order_asked_of_the_server(desk: Desk, qtbot: QtBot, themed: str) -> None:
    api, _session, page = test_proposals.open_page(desk, qtbot)
    client = desk.run(api.post("/api/clients", {"name": "Acme SRL"}))
    for quantity in ("2", "7", "4"):
        body: dict[str, Any] = {
            "client_id": client["id"],
            "lines": [
                {
                    "description": "Consulting",
                    "quantity": quantity,
                    "unit_price": "100.00",
                    "tax_rate_id": test_proposals.rate_id(desk, api),
                }
            ],
        }
        desk.run(api.post("/api/proposals", body))
    page.reload()
    desk.wait_until(lambda: len(page.model.rows()) == 3 and not page.is_busy())
    header = page.table.view.horizontalHeader()
    total = 5  # the Total column (sorted by gross_total)

    def totals() -> list[Decimal]:
        return [Decimal(str(row.gross_total)) for row in page.model.rows()]

    click_header(qtbot, header, total)
    desk.wait_until(lambda: page.sort == "gross_total" and len(totals()) == 3 and not page.is_busy())
    assert totals() == sorted(totals())
    assert header.sortIndicatorSection() == total and header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    assert arrow(header, total) == "up"

    click_header(qtbot, header, total)
    desk.wait_until(lambda: page.sort == "-gross_total" and not page.is_busy() and totals() == sorted(totals())[::-1])
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert arrow(header, total) == "down", "a descending list's arrow points down"


def test_tickets_arrow_follows_the_order_asked_of_the_server(desk: Desk, qtbot: QtBot, themed: str) -> None:
    api = desk.signed_in_api("ada@example.com", role="Admin")
    for subject in ("Printer jams", "Cannot sign in", "Invoice total wrong"):
        test_tickets_queue.make_ticket(desk, api, subject)
    page = test_tickets_queue.open_page(desk, qtbot, api)
    queue = page.queue
    header = queue.table.view.horizontalHeader()
    number = queue.sort_keys.index("number")
    desk.wait_until(lambda: len(queue.shown_ids()) == 3)
    assert queue.sort == "-number" and queue.shown_ids() == sorted(queue.shown_ids(), reverse=True)
    assert arrow(header, number) == "down", "the newest-first queue's arrow points down"

    click_header(qtbot, header, number)
    desk.wait_until(
        lambda: queue.sort == "number" and not queue.is_busy() and queue.shown_ids() == sorted(queue.shown_ids())
    )
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    assert arrow(header, number) == "up"

    click_header(qtbot, header, number)
    desk.wait_until(
        lambda: (
            queue.sort == "-number"
            and not queue.is_busy()
            and queue.shown_ids() == sorted(queue.shown_ids(), reverse=True)
        )
    )
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert arrow(header, number) == "down"

"""The leads board after a move: the column the card left keeps its scroll position, a notice says
where the card went with an Undo button for a few seconds, and Ctrl+Z moves it back through the same
move the board makes (Lost asks its reason again; a Won that made a client is refused plainly)."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import Desk
from tests.desktop.test_leads_board import column_name, open_page, sign_in


def test_the_column_a_card_leaves_keeps_its_scroll_position(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)

    async def many() -> None:
        for start in range(0, 30, 10):
            await asyncio.gather(
                *(api.post("/api/leads", json={"person_name": f"Lead {i:02d}"}) for i in range(start, start + 10))
            )

    desk.run(many(), timeout=60)
    page = open_page(desk, qtbot, api)
    board = page.board
    column = board.column_named("Open")
    assert column is not None and len(column.cards) == 30
    bar = column.scroll_area.verticalScrollBar()
    desk.wait_until(lambda: bar.maximum() > 400, message=f"the column does not scroll: {bar.maximum()}")
    bar.setValue(bar.maximum() // 2)
    where = bar.value()
    card = next(w for w in column.card_widgets if w.y() >= where + 10)
    card_id = card.card.id
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    assert card.hasFocus()
    qtbot.keyClick(card, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert bar.value() == where  # at once, as the card leaves
    desk.wait_until(lambda: column_name(board, card_id) != "Open")
    desk.wait_until(lambda: not board.reload_pending(), message="the move did not finish")
    desk.wait_until(lambda: board.columns[1].count_label.text() == "1")
    assert bar.value() == where  # and after the reload that follows the move

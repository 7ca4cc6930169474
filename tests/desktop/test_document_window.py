"""The document window every editor stands on (widgets/document_window.py), driven through the
proposal editor: buttons from the contract's table, live refresh that keeps unsaved edits and
ignores an answer older than what is shown, F5, Esc and the close prompt."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from crm_desktop.views.proposals.common import MOVE_LABELS
from crm_desktop.views.proposals.editor import ProposalWindow
from crm_server.contract.proposals import ALLOWED_MOVES, ProposalOut, ProposalStatus
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus
from tests.desktop.test_proposals import make, move, open_page, open_window, type_into, visible_moves


def unsaved_box() -> QMessageBox | None:
    return next(
        (
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.objectName() == "unsavedBox" and w.isVisible()
        ),
        None,
    )


def gone(window: ProposalWindow) -> bool:
    """Closed (the window deletes itself on close)."""
    return not shiboken6.isValid(window) or not window.isVisible()


def settled(window: ProposalWindow) -> bool:
    return window.proposal is not None and not window.is_busy()


def test_live_refresh_f5_and_the_close_prompt(desk: Desk, qtbot: QtBot) -> None:
    api, _session, page = open_page(desk, qtbot)
    client = dict(desk.run(api.post("/api/clients", {"name": "Gamma SRL"})))
    proposal = move(desk, api, make(desk, api, client_id=client["id"], title="Website"), "sent")
    window = open_window(desk, page, proposal["id"])

    # The move buttons are the contract's ALLOWED_MOVES from the status shown.
    assert visible_moves(window) == {MOVE_LABELS[s] for s in ALLOWED_MOVES[ProposalStatus.sent]}
    assert window.badge.text() == "Sent" and window.badge.property("tone") == "accent"

    # A colleague's change shows by itself when nothing is typed here.
    first = ProposalOut.model_validate(desk.run(api.get(f"/api/proposals/{proposal['id']}")))
    desk.run(api.patch(f"/api/proposals/{proposal['id']}", {"version": first.version, "notes": "Call Friday"}))
    desk.wait_until(lambda: window.notes.toPlainText() == "Call Friday", message="the live change did not show")
    desk.wait_until(lambda: settled(window))
    newer = window.proposal.version if window.proposal else 0
    assert newer > first.version

    # An answer that left before the newer one (a slow read) is not shown over it.
    async def slow_read() -> ProposalOut:
        return first

    window.fetch = slow_read  # type: ignore[method-assign]
    window.refresh_from_server()
    desk.wait_until(lambda: settled(window))
    assert window.proposal is not None and window.proposal.version == newer
    assert window.notes.toPlainText() == "Call Friday"
    del window.fetch

    # Typed but unsaved: F5 replaces it with what the server has.
    type_into(qtbot, window.title_edit, "Website v2")
    assert window.has_edits()
    qtbot.keyClick(window.title_edit, Qt.Key.Key_F5)
    desk.wait_until(lambda: window.title_edit.text() == "Website" and settled(window), message="F5 did not reload")
    assert not window.has_edits() and not window.notice.isVisible()

    # Esc with unsaved edits asks first; Cancel keeps the window, Discard closes it.
    type_into(qtbot, window.title_edit, "Website v3")
    focus(desk, window.title_edit)
    qtbot.keyClick(window.title_edit, Qt.Key.Key_Escape)
    desk.wait_until(lambda: unsaved_box() is not None, message="no close prompt")
    box = unsaved_box()
    assert box is not None and "This proposal has changes that are not saved." in box.text()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: unsaved_box() is None)
    assert window.isVisible() and window.title_edit.text() == "Website v3"
    focus(desk, window.title_edit)
    qtbot.keyClick(window.title_edit, Qt.Key.Key_Escape)
    desk.wait_until(lambda: unsaved_box() is not None, message="no close prompt the second time")
    box = unsaved_box()
    assert box is not None
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Discard), Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: gone(window), message="Discard did not close the window")
    saved = dict(desk.run(api.get(f"/api/proposals/{proposal['id']}")))
    assert saved["title"] == "Website", "discarded edits are not saved"

    # Nothing typed: Esc closes at once.
    again = open_window(desk, page, proposal["id"])
    focus(desk, again.title_edit)
    qtbot.keyClick(again.title_edit, Qt.Key.Key_Escape)
    desk.wait_until(lambda: gone(again), message="Esc did not close an unedited window")
    assert unsaved_box() is None

"""The outbox: a lead edited while the server is away is kept (across a restart of the desktop) and
lands once when the server is back; one refused after the return shows why and can be discarded."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from crm_desktop.api import auth
from crm_desktop.views.leads.detail import LeadDetail, open_lead
from crm_desktop.views.main_window import MainWindow
from crm_desktop.views.outbox_dialog import OutboxDialog
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus
from tests.desktop.test_lead_detail import retype
from tests.desktop.test_main_window import open_main
from tests.support import PASSWORD, LiveServer


def _edit_offline(desk: Desk, qtbot: QtBot, main: MainWindow, company: str) -> tuple[dict[str, Any], LeadDetail]:
    """Open a lead, stop the server, type a new company and save: the edit goes to the outbox."""
    lead = desk.run(main.api.post("/api/leads", {"person_name": "Olga Offline", "company": "Before"}))
    window = open_lead(None, main.session, lead["id"])
    qtbot.addWidget(window)
    desk.wait_until(lambda: window.lead is not None and not window.is_busy(), message="the lead did not load")
    desk.server.stop()
    desk.wait_until(lambda: main.offline_banner.isVisible(), timeout=30, message="no offline banner")
    focus(desk, window.form.company)
    retype(qtbot, window.form.company, company)
    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    outbox = main.session.outbox
    desk.wait_until(lambda: len(outbox.waiting) == 1, message="the edit was not kept")
    assert main.outbox_button.isVisible() and main.outbox_button.text() == "1 change waiting to be sent"
    return lead, window


def _restart(desk: Desk) -> LiveServer:
    restarted = LiveServer(desk.server.database_url, "")
    restarted.start(port=int(desk.server.base_url.rsplit(":", 1)[1]))
    return restarted


def _stored(desk: Desk, lead_id: int) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        async with desk.server.session() as s:
            row = (await s.execute(text("SELECT company, version FROM leads WHERE id = :i"), {"i": lead_id})).one()
            return {"company": row[0], "version": row[1]}

    return desk.on_server(read())


def test_an_edit_made_offline_waits_through_a_restart_and_lands_once(desk: Desk, qtbot: QtBot) -> None:
    main = open_main(desk, qtbot)
    lead, _window = _edit_offline(desk, qtbot, main, "Kept Offline Ltd")
    assert _stored(desk, lead["id"]) == {"company": "Before", "version": lead["version"]}
    # The desktop quits while the server is still away: the edit stays on this computer.
    desk.run(main.session.close())
    main.close()
    restarted = _restart(desk)
    try:
        api = desk.api()
        desk.run(auth.login(api, "ada@example.com", PASSWORD))
        again = MainWindow(main.session.__class__(api, desk.run(auth.me(api))))
        qtbot.addWidget(again)
        assert [w.path for w in again.session.outbox.waiting] == [f"/api/leads/{lead['id']}"]
        again.show()
        assert again.outbox_button.isVisible()
        again.session.start()
        desk.wait_until(lambda: not again.session.outbox.entries, timeout=30, message="the kept edit was not sent")
        assert _stored(desk, lead["id"]) == {"company": "Kept Offline Ltd", "version": lead["version"] + 1}
        assert not again.outbox_button.isVisible()
        # Once: the Idempotency-Key it was kept with answers a repeat with the first answer.
        history = desk.run(api.get(f"/api/leads/{lead['id']}/timeline"))
        edits = [i for i in history["items"] if "Kept Offline Ltd" in str(i)]
        assert len(edits) == 1, edits
    finally:
        restarted.stop()


def test_a_kept_edit_refused_on_return_shows_why_and_can_be_discarded(desk: Desk, qtbot: QtBot) -> None:
    main = open_main(desk, qtbot)
    lead, _window = _edit_offline(desk, qtbot, main, "Mine")

    async def meanwhile() -> None:  # someone else's change reached the database first
        async with desk.server.session() as s:
            await s.execute(
                text("UPDATE leads SET company = 'Theirs', version = version + 1 WHERE id = :i"), {"i": lead["id"]}
            )

    desk.on_server(meanwhile())
    restarted = _restart(desk)
    try:
        outbox = main.session.outbox
        desk.wait_until(lambda: outbox.failed, timeout=30, message="the refused edit was not marked")
        assert main.outbox_button.text() == "1 not saved"
        qtbot.mouseClick(main.outbox_button, Qt.MouseButton.LeftButton)
        dialog = next(w for w in main.findChildren(OutboxDialog) if w.isVisible())
        state = dialog.table.item(0, 2)
        assert state is not None and state.text().startswith("Not saved: ") and "changed" in state.text(), state
        assert not dialog.discard_button.isEnabled()
        dialog.select(0)
        qtbot.mouseClick(dialog.discard_button, Qt.MouseButton.LeftButton)
        assert not outbox.entries and dialog.empty.isVisible() and not main.outbox_button.isVisible()
        assert _stored(desk, lead["id"])["company"] == "Theirs"  # discarded: never sent
    finally:
        restarted.stop()


def test_the_open_lead_window_shows_its_kept_edit_saved_once_it_lands(desk: Desk, qtbot: QtBot) -> None:
    main = open_main(desk, qtbot)
    lead, window = _edit_offline(desk, qtbot, main, "Landed Ltd")
    assert window.has_edits()  # kept, not yet saved: the window still holds it
    restarted = _restart(desk)
    try:
        desk.wait_until(lambda: not main.session.outbox.entries, timeout=30, message="the kept edit was not sent")
        desk.wait_until(lambda: not window.has_edits(), message="the window still counts the landed edit unsaved")
        assert window.lead is not None and window.lead.company == "Landed Ltd"
        assert window.lead.version == lead["version"] + 1
    finally:
        restarted.stop()

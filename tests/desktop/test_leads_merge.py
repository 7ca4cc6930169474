"""Merging two leads from the lead window's "Possible duplicates" strip: the kept lead takes the
other's phone, the other is archived pointing at it, notes move, and the audit says so."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton, QRadioButton
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.leads.detail import open_lead
from crm_desktop.views.leads.merge import MergeDialog
from tests.desktop.conftest import Desk


def test_merge_taking_the_other_phone(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    keep = desk.run(
        api.post(
            "/api/leads",
            {
                "person_name": "Ana Pop",
                "company": "Acme",
                "email": "ana@acme.ro",
                "phone": "0722 111 111",
                "note": "Met at the fair",
            },
        )
    )
    other = desk.run(
        api.post(
            "/api/leads",
            {
                "person_name": "Ana P.",
                "email": "ana@acme.ro",
                "phone": "0733 222 222",
                "tags": ["vip"],
                "note": "Asked for prices",
            },
        )
    )
    session = Session(api, desk.run(auth.me(api)))
    window = open_lead(None, session, keep["id"])
    qtbot.addWidget(window)
    desk.wait_until(
        lambda: window.lead is not None and not window.is_busy() and window.duplicates, message="no duplicates shown"
    )
    assert [d.id for d in window.duplicates] == [other["id"]]
    assert window.duplicates_box.isVisibleTo(window)

    merge_button = window.findChild(QPushButton, f"mergeDuplicate{other['id']}")
    assert merge_button is not None
    qtbot.mouseClick(merge_button, Qt.MouseButton.LeftButton)
    dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, MergeDialog) and w.isVisible()]
    assert len(dialogs) == 1
    dialog = dialogs[0]
    desk.wait_until(lambda: bool(dialog.choices), message="the leads did not load in the merge dialog")
    mine, theirs = dialog.choices["phone"]
    assert mine.isChecked() and mine.text() == "+40722111111" and theirs.text() == "+40733222222"
    assert not dialog.choices["email"][1].isEnabled()  # the same on both sides
    other_phone = dialog.findChild(QRadioButton, "merge_phone_other")
    assert other_phone is theirs
    qtbot.mouseClick(theirs, Qt.MouseButton.LeftButton, pos=QPoint(8, theirs.height() // 2))  # on the circle
    assert dialog.take() == {"phone": "other"}
    qtbot.mouseClick(dialog.merge_button, Qt.MouseButton.LeftButton)

    desk.wait_until(lambda: not shiboken6.isValid(dialog), message="the merge dialog did not close")
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    assert any("merged into Ana Pop" in b.text() for b in boxes)

    kept = desk.run(api.get(f"/api/leads/{keep['id']}"))
    gone = desk.run(api.get(f"/api/leads/{other['id']}"))
    assert kept["phone"] == "+40733222222" and kept["person_name"] == "Ana Pop" and kept["company"] == "Acme"
    assert kept["tags"] == ["vip"]
    assert gone["merged_into_id"] == keep["id"] and gone["archived_at"] is not None
    timeline = desk.run(api.get(f"/api/leads/{keep['id']}/timeline"))
    notes = {i["text"] for i in timeline["items"] if i["kind"] == "note"}
    assert notes == {"Met at the fair", "Asked for prices"}
    audit = desk.run(api.get("/api/audit", entity="lead", entity_id=keep["id"]))
    assert any(e["action"] == "merged" for e in audit["items"])

    # The window shows the merged lead and no duplicate any more.
    desk.wait_until(
        lambda: (
            window.lead is not None
            and window.lead.phone == "+40733222222"
            and not window.duplicates
            and not window.is_busy()
        )
    )
    assert window.form.phone.text() == "+40733222222"
    assert any(t.startswith("Merged") for t in window.timeline.texts())

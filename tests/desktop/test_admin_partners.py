"""Admin > Partners, driven as an admin would: add a partner with its managing salesperson, add a
person, "Invite" (a real e-mail reaches the SMTP server, sent by the server's job worker), a refused
e-mail shown next to its field, deactivate. Then the invited person registers a lead in the portal
and the lead window shows the partner and the registration's state."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QWidget
from pytestqt.qtbot import QtBot

from crm_desktop.views.admin.partner_review import ReviewDialog
from crm_desktop.views.admin.partners import NewPartnerDialog, PartnersPage, PersonDialog
from crm_desktop.views.leads.detail import open_lead
from crm_server.auth.passwords import hash_password
from crm_server.partners.models import Partner, PartnerUser
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import open_panel, settle, the_dialog
from tests.desktop.test_lead_detail import session_of
from tests.support import LiveServer, Smtp

PARTNER_PASSWORD = "Tangerine-Harbour-42"


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """With its job worker: the invitation e-mail is a job."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


def portal_state(page: PartnersPage) -> str:
    item = page.table.item(0, 2)
    assert item is not None
    return item.text()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def register_a_lead(base_url: str, link: str) -> None:
    """The invited person, in the portal: choose a password, sign in, register a lead."""
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as browser:
        form = await browser.get(link)
        token = link.split("token=")[1]
        fields = {"csrf": csrf_of(form.text), "token": token, "password": PARTNER_PASSWORD, "repeat": PARTNER_PASSWORD}
        assert (await browser.post("/portal/accept", data=fields)).status_code == 303
        form = await browser.get("/portal/signin")
        signed = await browser.post(
            "/portal/signin",
            data={"csrf": csrf_of(form.text), "email": "pia@northwind.example", "password": PARTNER_PASSWORD},
        )
        assert signed.status_code == 303, signed.text
        form = await browser.get("/portal/leads/new")
        sent = await browser.post(
            "/portal/leads/new",
            data={
                "csrf": csrf_of(form.text),
                "company": "Fabrikam",
                "contact": "Finn Fab",
                "email": "finn@fab.example",
            },
        )
        assert 'data-outcome="registered"' in sent.text, sent.text


def test_add_a_partner_invite_its_person_and_see_the_partner_on_the_lead(desk: Desk, qtbot: QtBot, smtp: Smtp) -> None:
    sam = desk.create_user("sam@example.com", full_name="Sam Seller")

    async def mail_settings(http: httpx.AsyncClient) -> Any:
        return (await http.patch("/api/settings", json={"values": smtp.settings()})).status_code

    assert desk.admin_http(mail_settings) == 200
    api, panel, page = open_panel(desk, qtbot, "partners")
    assert isinstance(page, PartnersPage)
    assert page.empty.isVisible() and page.protection.value() == 90

    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(NewPartnerDialog)
    qtbot.keyClicks(dialog.name, "Northwind Traders")
    qtbot.keyClicks(dialog.manager, "Sam")
    dialog.manager.search_now()
    desk.wait_until(lambda: dialog.manager.matches.rowCount() > 0, message="no salesperson found")
    dialog.manager.choose(0)
    assert dialog.manager.value() == sam
    dialog.buttons.accepted.emit()
    settle(desk, panel)
    assert page.current is not None and page.current.name == "Northwind Traders"
    assert page.current.managing_user_id == sam
    assert page.list.currentItem().text().startswith("Northwind Traders\nSam Seller")

    # A person with a bad address: the refusal sits next to the field, the dialog stays open.
    qtbot.mouseClick(page.add_person_button, Qt.MouseButton.LeftButton)
    person = the_dialog(PersonDialog)
    ok, cancel = (
        person.buttons.button(b) for b in (QDialogButtonBox.StandardButton.Ok, QDialogButtonBox.StandardButton.Cancel)
    )
    assert person.focusWidget() is person.full_name  # typing starts in the first field
    assert tab_stops(person.full_name) == [person.email, ok, cancel, person.full_name]  # down the form, then OK
    qtbot.keyClicks(person.full_name, "Pia Partner")
    qtbot.keyClicks(person.email, "pia at northwind")
    person.buttons.accepted.emit()
    settle(desk, panel)
    label = person.email.property("_fieldErrorLabel")
    assert label is not None and "not valid" in label.text() and person.isVisible()
    person.email.clear()
    qtbot.keyClicks(person.email, "pia@northwind.example")
    person.buttons.accepted.emit()
    settle(desk, panel)
    desk.wait_until(lambda: page.table.rowCount() == 1, message="the person is not listed")
    assert portal_state(page) == "Not invited yet"

    page.table.selectRow(0)
    assert page.invite_button.isEnabled()
    qtbot.mouseClick(page.invite_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    assert "The invitation to pia@northwind.example is on its way" in page.notice_text.text()
    [message] = desk.run(smtp.wait_for(1, timeout=60))
    assert message["To"] == "pia@northwind.example"
    link = re.search(r"(/portal/accept\?token=\S+)", message.get_content())
    assert link, message.get_content()
    desk.wait_until(lambda: portal_state(page).startswith("Invited"), message="not shown as invited")

    # The person registers a lead in the portal; its lead window names the partner.
    desk.on_server(register_a_lead(desk.server.base_url, link.group(1)))
    leads = desk.run(api.get("/api/leads", q="Finn Fab"))
    [lead] = leads["items"]
    assert lead["owner_id"] == sam
    window = open_lead(None, session_of(desk, api), lead["id"])
    qtbot.addWidget(window)
    desk.wait_until(lambda: window.partner_note.isVisible(), message="no partner line on the lead")
    text = window.partner_note.text()
    assert text.startswith("Partner: Northwind Traders (Pia Partner) · registered, protected until"), text

    # Deactivate the person: the portal no longer lets them in.
    page.table.selectRow(0)
    assert page.person_active_button.text() == "Deactivate"
    qtbot.mouseClick(page.person_active_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    desk.wait_until(lambda: portal_state(page) == "Deactivated", message="not shown as deactivated")
    assert "Pia Partner is deactivated" in page.notice_text.text()


async def weak_match_from_the_portal(server: LiveServer) -> None:
    """A partner person (password set by hand) sends a lead that only weakly matches one we have."""
    async with server.session() as s:
        partner = Partner(name="Litware Partners")
        s.add(partner)
        await s.flush()
        s.add(
            PartnerUser(
                partner_id=partner.id,
                email="lia@litware.example",
                full_name="Lia Ware",
                password_hash=hash_password(PARTNER_PASSWORD),
            )
        )
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as browser:
        form = await browser.get("/portal/signin")
        await browser.post(
            "/portal/signin",
            data={"csrf": csrf_of(form.text), "email": "lia@litware.example", "password": PARTNER_PASSWORD},
        )
        form = await browser.get("/portal/leads/new")
        sent = await browser.post(
            "/portal/leads/new",
            data={
                "csrf": csrf_of(form.text),
                "company": "Secret Deals",
                "contact": "Vera Hiden",
                "email": "vh@x.example",
            },
        )
        assert 'data-outcome="needs_review"' in sent.text, sent.text


def test_a_registration_waiting_for_review_is_accepted_from_the_partners_page(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "partners")
    desk.run(api.post("/api/leads", {"person_name": "Vera Hidden", "company": "Secret Deals", "email": "v@s.example"}))
    desk.on_server(weak_match_from_the_portal(desk.server))
    page.reload()
    settle(desk, panel)
    assert page.review_button.text() == "Review registrations (1)"
    qtbot.mouseClick(page.review_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(ReviewDialog)
    settle(desk, panel)
    assert [(r.partner_name, r.contact) for r in dialog.rows] == [("Litware Partners", "Vera Hiden")]
    assert "Sent by Lia Ware" in dialog.notes.text()
    qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    desk.wait_until(lambda: dialog.empty.isVisible(), message="the accepted registration is still listed")
    assert re.search(r"Vera Hiden \(Litware Partners\) is now lead #\d+\.", page.notice_text.text())
    found = desk.run(api.get("/api/leads", q="Vera Hiden"))["items"]
    assert [lead["partner_name"] for lead in found if lead["person_name"] == "Vera Hiden"] == ["Litware Partners"]
    desk.wait_until(lambda: page.review_button.text() == "Review registrations", message="the count did not drop")


def tab_stops(start: QWidget) -> list[QWidget]:
    """The widgets Tab visits after `start`, until it comes back to it."""
    stops: list[QWidget] = []
    widget = start.nextInFocusChain()
    while len(stops) < 20:
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisibleTo(start.window()):
            stops.append(widget)
            if widget is start:
                break
        widget = widget.nextInFocusChain()
    return stops

"""The Commissions page as people use it: finance adds a commission by hand for a hand-made invoice
(typing its number), the salesperson's manager approves it, finance marks it paid; a salesperson
sees no buttons; the payout report shows the month and is exported to Excel; an admin makes a
policy in the editor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from crm_desktop import operations
from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views.commissions.by_hand import ByHandDialog
from crm_desktop.views.commissions.page import CommissionsPage
from crm_desktop.views.commissions.policies import PolicyDialog
from tests.desktop.conftest import Desk
from tests.desktop.test_payments import issued_invoice
from tests.support import PASSWORD


def page_for(desk: Desk, qtbot: QtBot, api: ApiClient) -> CommissionsPage:
    session = Session(api, desk.run(auth.me(api)))
    session.start()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    page = CommissionsPage(session)
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    desk.wait_until(lambda: not page.list.is_busy())
    return page


def click(qtbot: QtBot, button: QPushButton) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def statuses(page: CommissionsPage) -> list[tuple[str, str, str]]:
    model = page.list.model
    return [
        (model.data(model.index(i, 1)), model.data(model.index(i, 6)), model.data(model.index(i, 7)))
        for i in range(model.rowCount())
    ]


def test_add_by_hand_approve_and_mark_paid(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    admin = desk.signed_in_api()
    invoice = issued_invoice(desk, admin, "Walk-in", "1000.00")
    sam = desk.create_user("sam@example.com", full_name="Sam Seller", team="North")
    fin = desk.signed_in_api("fin@example.com", role="Accountant")
    desk.create_user("mia@example.com", role="Manager", full_name="Mia Manager", team="North")
    mia = desk.api()
    desk.run(auth.login(mia, "mia@example.com", PASSWORD))

    # Finance adds it by hand, naming the invoice by its number.
    finance = page_for(desk, qtbot, fin)
    assert not finance.list.approve_button.isVisible()
    click(qtbot, finance.list.add_button)
    dialog = finance.findChild(ByHandDialog, "commissionByHand")
    assert dialog is not None
    assert not dialog.partner.isVisible()  # finance does not list partners: a person it is
    qtbot.keyClicks(dialog.invoice, invoice["number"])
    dialog.person.set_user(sam, "Sam Seller <sam@example.com>")
    qtbot.keyClicks(dialog.amount, "120.50")
    qtbot.keyClicks(dialog.note, "Agreed by phone")
    click(qtbot, dialog.save_button)
    desk.wait_until(
        lambda: statuses(finance) == [("Sam Seller", "120.50 EUR", "Pending")], message=str(statuses(finance))
    )

    # The manager of Sam's team approves it (Mark paid is not theirs).
    manager = page_for(desk, qtbot, mia)
    desk.wait_until(lambda: manager.list.model.rowCount() == 1)
    assert not manager.list.pay_button.isVisible() and not manager.list.add_button.isVisible()
    manager.list.table.view.selectRow(0)
    click(qtbot, manager.list.approve_button)
    desk.wait_until(
        lambda: statuses(manager) == [("Sam Seller", "120.50 EUR", "Approved")], message=str(statuses(manager))
    )

    # Finance's list follows live; finance marks it paid.
    desk.wait_until(
        lambda: statuses(finance) == [("Sam Seller", "120.50 EUR", "Approved")], message=str(statuses(finance))
    )
    finance.list.table.view.selectRow(0)
    click(qtbot, finance.list.pay_button)
    desk.wait_until(lambda: statuses(finance) == [("Sam Seller", "120.50 EUR", "Paid")], message=str(statuses(finance)))

    # The payout report: Sam, this month, 120.50 paid; exported as shown.
    finance.tabs.setCurrentIndex(1)
    paid_row = ["Sam Seller", "Staff", "EUR", "0.00", "0.00", "120.50", "120.50"]
    desk.wait_until(
        lambda: [r[1:] for r in finance.payouts.rows()] == [paid_row], message=str(finance.payouts.rows())
    )  # it reloads live as the commission moves
    assert finance.payouts.table.rowCount() == 1
    finance.payouts.export_to(str(tmp_path / "payouts.xlsx"))
    desk.wait_until(lambda: (tmp_path / "payouts.xlsx").exists())
    sheet = load_workbook(tmp_path / "payouts.xlsx").active
    assert sheet is not None
    cells: list[Any] = [c.value for c in sheet[2]]
    assert cells[1:4] == ["Sam Seller", "Staff", "EUR"] and float(cells[6]) == 120.5


def test_a_salesperson_sees_no_buttons_and_an_admin_makes_a_policy(desk: Desk, qtbot: QtBot) -> None:
    sal = desk.signed_in_api("sal@example.com", role="Salesperson")
    mine = page_for(desk, qtbot, sal)
    assert not any(b.isVisible() for b in (mine.list.approve_button, mine.list.pay_button, mine.list.add_button))
    mine.tabs.setCurrentIndex(2)
    assert not mine.policies.new_button.isVisible()

    admin = desk.signed_in_api()
    page = page_for(desk, qtbot, admin)
    page.tabs.setCurrentIndex(2)
    click(qtbot, page.policies.new_button)
    dialog = page.findChild(PolicyDialog, "commissionPolicy")
    assert dialog is not None
    qtbot.keyClicks(dialog.name, "Staff 5/7")
    dialog.add_tier("10000", "7")
    dialog.all_staff.setChecked(True)
    dialog.wait_days.setValue(14)
    click(qtbot, dialog.save_button)
    desk.wait_until(lambda: page.policies.table.rowCount() == 1, message="the policy did not appear")
    row = [item.text() if (item := page.policies.table.item(0, c)) else "" for c in range(6)]
    assert row == [
        "Staff 5/7",
        "Percent of paid net",
        "5% from 0.00, 7% from 10,000.00",
        "All staff",
        "14",
        "Yes",
    ]
    # The salesperson's policies tab follows live (read-only).
    desk.wait_until(lambda: mine.policies.table.rowCount() == 1)
    assert not mine.policies.reports.isVisible()

    # Partner reports by e-mail, the admin's choice: monthly.
    reports = page.policies.reports
    desk.wait_until(lambda: page.policies.setting_loaded)
    assert reports.isVisible() and reports.currentData() == "off"
    reports.setCurrentIndex(reports.findData("monthly"))
    desk.wait_until(lambda: operations.pending() == 0)
    assert desk.run(admin.get("/api/settings"))["values"]["commissions.partner_report"] == "monthly"


def test_an_admin_adds_a_partner_commission_by_hand(desk: Desk, qtbot: QtBot) -> None:
    admin = desk.signed_in_api()
    invoice = issued_invoice(desk, admin, "Referred Co", "300.00")
    desk.run(admin.post("/api/partners", {"name": "Pact Partners"}))
    page = page_for(desk, qtbot, admin)
    click(qtbot, page.list.add_button)
    dialog = page.findChild(ByHandDialog, "commissionByHand")
    assert dialog is not None
    desk.wait_until(lambda: dialog.partner.count() == 2, message="the partners did not load")
    dialog.partner.setCurrentIndex(dialog.partner.findText("Pact Partners"))
    qtbot.keyClicks(dialog.invoice, invoice["number"])
    qtbot.keyClicks(dialog.amount, "30")
    qtbot.keyClicks(dialog.note, "Referral")
    click(qtbot, dialog.save_button)
    desk.wait_until(lambda: statuses(page) == [("Pact Partners", "30.00 EUR", "Pending")], message=str(statuses(page)))

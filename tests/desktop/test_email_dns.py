"""The E-mail delivery admin page as an admin uses it (issue #22): generate a DKIM key pair, see the
SPF, DKIM and DMARC records, copy the DKIM value for IT, set the domain, turn signing on and set
when soft bounces suppress, check the key (no DNS asked); a selector that is no DNS name is marked
on its field."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from crm_desktop.operations import errors
from crm_desktop.views.admin.email_dns import EmailDnsPage
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import open_panel, settle


def test_generate_copy_and_check_the_dkim_key(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "email_dns")
    assert isinstance(page, EmailDnsPage)
    assert [box.record.purpose for box in page.records] == ["SPF", "DMARC"]
    assert page.key_state.text() == "No key yet." and not page.check_button.isEnabled()

    qtbot.mouseClick(page.key_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: len(page.records) == 3, message="no DKIM record after generating a key")
    dkim_box = page.records[1]
    assert dkim_box.record.purpose == "DKIM" and dkim_box.value.toPlainText().startswith("v=DKIM1; k=rsa; p=")
    qtbot.mouseClick(dkim_box.copy_value, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == dkim_box.record.value
    assert "clipboard" in page.notice_text.text()

    qtbot.keyClicks(page.selector, " bad")  # "crm bad": no DNS name
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: errors.is_marked(page.selector), message="a bad selector was not marked")
    page.selector.setText("")
    qtbot.keyClicks(page.selector, "sales2027")
    qtbot.keyClicks(page.domain, "northwind.example")
    page.enabled.click()
    page.soft_limit.selectAll()
    qtbot.keyClicks(page.soft_limit, "5")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(
        lambda: page.records and page.records[1].name.text() == "sales2027._domainkey.northwind.example",
        message=f"the records did not follow the new domain: {[b.name.text() for b in page.records]}",
    )
    values = desk.run(api.get("/api/settings"))["values"]
    assert values["dkim.enabled"] is True and values["dkim.private_key"] is True  # set, never shown
    assert values["emails.soft_bounce_limit"] == 5 and page.daily_limit.value() == 500

    qtbot.mouseClick(page.check_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: page.check_result.text().startswith("Passed"), message=page.check_result.text())
    settle(desk, panel)

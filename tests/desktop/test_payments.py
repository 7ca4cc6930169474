"""The Payments page as a person uses it: the payments of every invoice with their invoice and
client, the method filter and the search, and a colleague's payment arriving live."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views.payments.list import PaymentsPage
from tests.desktop.conftest import Desk


def issued_invoice(desk: Desk, api: ApiClient, client: str, price: str) -> dict[str, Any]:
    made = desk.run(api.post("/api/clients", {"name": client}))
    rate = next(r for r in desk.run(api.get("/api/tax-rates")) if r["name"] == "Standard 19%")
    draft = desk.run(
        api.post(
            "/api/invoices",
            {
                "client_id": made["id"],
                "lines": [{"description": "Service", "quantity": "1", "unit_price": price, "tax_rate_id": rate["id"]}],
            },
        )
    )
    return dict(desk.run(api.post(f"/api/invoices/{draft['id']}/issue", {"version": draft["version"]})))


def pay(desk: Desk, api: ApiClient, invoice: dict[str, Any], amount: str, **fields: Any) -> None:
    desk.run(api.post(f"/api/invoices/{invoice['id']}/payments", {"amount": amount, **fields}))


def shown(page: PaymentsPage) -> list[tuple[str, str, str]]:
    return [
        (r.invoice_number, r.client_name, page.model.data(page.model.index(i, 1)))
        for i, r in enumerate(page.model.rows())
    ]


def test_payments_list_filters_and_follows_a_colleague(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    acme = issued_invoice(desk, api, "Acme", "1000.00")  # 1,190.00 with VAT
    globex = issued_invoice(desk, api, "Globex", "100.00")
    pay(desk, api, acme, "190.00", method="cash", reference="till 4")
    pay(desk, api, globex, "119.00", method="card")

    session = Session(api, desk.run(auth.me(api)))
    session.start()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    page = PaymentsPage(session)
    qtbot.addWidget(page)
    page.resize(1100, 600)
    page.show()
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 2)
    assert sorted(shown(page)) == sorted(
        [(acme["number"], "Acme", "190.00 EUR"), (globex["number"], "Globex", "119.00 EUR")]
    )

    page.method.setCurrentIndex(page.method.findData("card"))
    desk.wait_until(
        lambda: [r.client_name for r in page.model.rows()] == ["Globex"], message="the method filter did not apply"
    )
    page.method.setCurrentIndex(0)
    qtbot.keyClicks(page.search, "till")
    desk.wait_until(
        lambda: [r.reference for r in page.model.rows()] == ["till 4"],
        message="the search did not find the reference",
    )
    page.search.clear()
    desk.wait_until(lambda: page.model.total == 2)

    colleague = desk.signed_in_api("bea@example.com", role="Accountant")
    pay(desk, colleague, acme, "1000.00")  # from another desktop
    desk.wait_until(lambda: page.model.total == 3, message="the colleague's payment did not arrive live")
    assert "1,000.00 EUR" in [page.model.data(page.model.index(i, 1)) for i in range(3)]

    page.method.setCurrentIndex(page.method.findData("other"))
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 0)
    assert page.table.empty_title == "No payments match"

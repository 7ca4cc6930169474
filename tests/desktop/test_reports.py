"""The sales report page against the real server: three invoices and their payments made through the
API around last year, the Last year preset, accrual and cash totals to the cent with the other
basis beside them and in the explanation, the basis remembered, the empty state and the export."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views.reports.sales import SalesReportPage, preset_range
from tests.desktop.conftest import Desk


def _invoice(
    desk: Desk,
    api: ApiClient,
    client_id: int,
    rate_id: int,
    issued: date,
    lines: list[tuple[str, str]],
    payments: list[tuple[str, date]],
) -> dict[str, Any]:
    draft = desk.run(
        api.post(
            "/api/invoices",
            {
                "client_id": client_id,
                "issue_date": issued.isoformat(),
                "lines": [
                    {"description": "Work", "quantity": q, "unit_price": p, "tax_rate_id": rate_id} for q, p in lines
                ],
            },
        )
    )
    issued_invoice = dict(desk.run(api.post(f"/api/invoices/{draft['id']}/issue", {"version": draft["version"]})))
    for amount, paid_on in payments:
        desk.run(
            api.post(
                f"/api/invoices/{draft['id']}/payments",
                {"amount": amount, "paid_on": paid_on.isoformat(), "method": "transfer"},
            )
        )
    return issued_invoice


def open_report(desk: Desk, qtbot: QtBot, api: ApiClient) -> SalesReportPage:
    page = SalesReportPage(Session(api, desk.run(auth.me(api))))
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    desk.wait_until(lambda: page.report is not None and not page.is_busy())
    return page


def wait_for(desk: Desk, page: SalesReportPage, **expected: str) -> None:
    def ready() -> bool:
        report = page.report
        shown = report.model_dump(mode="json") if report is not None else {}
        return not page.is_busy() and report is not None and all(shown[k] == v for k, v in expected.items())

    desk.wait_until(ready, message=f"the report did not show {expected}")


def test_accrual_and_cash_totals_and_the_difference_explained(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api = desk.signed_in_api()
    client = desk.run(api.post("/api/clients", {"name": "Northwind AB"}))
    rate = next(r["id"] for r in desk.run(api.get("/api/tax-rates")) if r["name"] == "Standard 19%")
    last_year = date.today().year - 1
    # 100.00 + 19 % = 119.00, issued in March, half paid in April.
    a = _invoice(
        desk, api, client["id"], rate, date(last_year, 3, 10), [("1", "100.00")], [("50.00", date(last_year, 4, 2))]
    )
    # 2 x 33.33 = 66.66 + 12.67 VAT = 79.33, issued and paid in May.
    b = _invoice(
        desk, api, client["id"], rate, date(last_year, 5, 20), [("2", "33.33")], [("79.33", date(last_year, 5, 25))]
    )
    # Issued the year before (238.00), paid in January: cash only.
    _invoice(
        desk,
        api,
        client["id"],
        rate,
        date(last_year - 1, 12, 15),
        [("1", "200.00")],
        [("238.00", date(last_year, 1, 10))],
    )
    assert (a["gross_total"], b["gross_total"], a["currency"]) == ("119.00", "79.33", "EUR")

    page = open_report(desk, qtbot, api)
    assert page.preset.currentText() == "This year" and page.current_basis() == "accrual"
    page.preset.setCurrentText("Last year")
    wait_for(desk, page, date_from=f"{last_year}-01-01", date_to=f"{last_year}-12-31", basis="accrual")
    assert page.total_value.text() == "198.33 EUR" and page.other_value.text() == "367.33 EUR"
    assert "Accrual" in page.total_title.text() and "Cash" in page.other_title.text()
    assert "198.33 EUR" in page.explanation.text() and "367.33 EUR" in page.explanation.text()
    assert page.table.row_count() == 12 and page.stack.currentWidget() is page.figures
    assert [page.table.text(m, 2) for m in (0, 2, 3, 4)] == ["0.00", "119.00", "0.00", "79.33"]
    assert page.chart.series() and page.chart.series()[0].barSets()[0].count() == 12

    qtbot.mouseClick(page.basis_buttons["cash"], Qt.MouseButton.LeftButton)
    wait_for(desk, page, basis="cash")
    assert page.total_value.text() == "367.33 EUR" and page.other_value.text() == "198.33 EUR"
    assert "Cash" in page.total_title.text() and "Accrual" in page.other_title.text()
    assert "198.33 EUR" in page.explanation.text() and "367.33 EUR" in page.explanation.text()
    assert [page.table.text(m, 2) for m in (0, 2, 3, 4)] == ["238.00", "0.00", "50.00", "79.33"]
    assert page.table.header_text(1) == "Payments"

    page.export_to(str(tmp_path / "sales.xlsx"))
    desk.wait_until(lambda: (tmp_path / "sales.xlsx").exists() and "Exported" in page.notice.text())
    rows = list(load_workbook(tmp_path / "sales.xlsx").active.iter_rows(values_only=True))
    assert rows[0][2] == "Total EUR (cash)" and len(rows) == 14
    assert rows[-1][0] == "Total" and Decimal(str(rows[-1][2])) == Decimal("367.33")

    # The choice is remembered: a new page opens on cash; an empty range shows the empty state.
    again = open_report(desk, qtbot, api)
    assert again.current_basis() == "cash" and again.basis_buttons["cash"].isChecked()
    again.group.setCurrentIndex(again.group.findData("week"))
    again.set_range(date(2010, 1, 1), date(2010, 3, 31))
    wait_for(desk, again, date_from="2010-01-01", group="week")
    assert again.stack.currentWidget() is again.empty and again.total_value.text() == "0.00 EUR"
    assert not again.export_button.isEnabled()


def test_presets() -> None:
    today = date(2026, 2, 14)
    assert preset_range("This month", today) == (date(2026, 2, 1), today)
    assert preset_range("Last 3 months", today) == (date(2025, 12, 1), today)
    assert preset_range("This year", today) == (date(2026, 1, 1), today)
    assert preset_range("Last year", today) == (date(2025, 1, 1), date(2025, 12, 31))

"""The sales report: exact totals on the accrual basis (invoice date, credit notes taking cancelled
invoices back, drafts and other currencies left out) and the cash basis (payment date), every period
present, the other basis's total and the explanation in figures, scope and bad input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tests.support import LiveServer


async def _client(api: Any, name: str, **fields: Any) -> int:
    made = await api.post("/api/clients", json={"name": name, **fields})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def _invoice(
    api: Any, client_id: int, rate_id: int, net: str, issued: str | None, **fields: Any
) -> dict[str, Any]:
    """An invoice of one line `net` + 19% VAT, issued on `issued` (None: left a draft)."""
    body = {
        "client_id": client_id,
        "issue_date": issued,
        "lines": [{"description": "Work", "quantity": "1", "unit_price": net, "tax_rate_id": rate_id}],
        **fields,
    }
    draft = await api.post("/api/invoices", json=body)
    assert draft.status_code == 201, draft.text
    if issued is None:
        return draft.json()  # type: ignore[no-any-return]
    answer = await api.post(f"/api/invoices/{draft.json()['id']}/issue", json={"version": draft.json()["version"]})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def _pay(api: Any, invoice: dict[str, Any], amount: str, paid_on: str) -> None:
    paid = await api.post(f"/api/invoices/{invoice['id']}/payments", json={"amount": amount, "paid_on": paid_on})
    assert paid.status_code == 201, paid.text


async def _report(api: Any, **params: Any) -> dict[str, Any]:
    answer = await api.get("/api/reports/sales", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _periods(report: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(p["period_start"], p["total"], p["count"]) for p in report["periods"]]


async def test_accrual_and_cash_totals_per_month_with_scope(server: LiveServer, admin: Any) -> None:
    sam = await server.create_user("sam@example.com", role="Salesperson")
    rates = {r["name"]: r["id"] for r in (await admin.get("/api/tax-rates")).json()}
    rate = rates["Standard 19%"]
    acme = await _client(admin, "Acme")
    sams = await _client(admin, "Sam's client", owner_id=sam)

    earlier = await _invoice(admin, acme, rate, "100.00", "2024-12-15")  # 119.00, paid in January
    a = await _invoice(admin, acme, rate, "100.00", "2025-01-10")  # 119.00, paid in February
    b = await _invoice(admin, acme, rate, "200.00", "2025-01-20")  # 238.00, 138.00 paid
    h = await _invoice(admin, sams, rate, "50.00", "2025-02-10")  # 59.50, Sam's, 20.00 paid
    c = await _invoice(admin, acme, rate, "50.00", "2025-03-15")  # 59.50, cancelled today
    await _invoice(admin, acme, rate, "999.00", None, issue_date="2025-01-15")  # a draft counts nowhere
    await _invoice(admin, acme, rate, "1000.00", "2025-01-12", currency="USD")  # another currency
    await _pay(admin, earlier, "119.00", "2025-01-03")
    await _pay(admin, b, "100.00", "2025-01-25")
    await _pay(admin, a, "119.00", "2025-02-05")
    await _pay(admin, b, "38.00", "2025-04-02")
    await _pay(admin, h, "20.00", "2025-04-10")
    cancelled = await admin.post(f"/api/invoices/{c['id']}/cancel", json={"version": c["version"]})
    assert cancelled.status_code == 200 and cancelled.json()["issue_date"] == date.today().isoformat()

    span = {"date_from": "2025-01-01", "date_to": "2025-04-30", "group": "month"}
    accrual = await _report(admin, **span)
    assert (accrual["basis"], accrual["currency"], accrual["group"]) == ("accrual", "EUR", "month")
    assert _periods(accrual) == [
        ("2025-01-01", "357.00", 2),
        ("2025-02-01", "59.50", 1),
        ("2025-03-01", "59.50", 1),
        ("2025-04-01", "0.00", 0),
    ]
    assert (accrual["total"], accrual["other_basis_total"]) == ("476.00", "396.00")
    assert Decimal(accrual["total"]) == sum(Decimal(p["total"]) for p in accrual["periods"])
    assert accrual["explanation"] == (
        "Accrual counts invoices on their invoice date, paid or not (credit notes take cancelled ones back): "
        "476.00 EUR. Cash counts payments on the day they arrived: 396.00 EUR. The 80.00 EUR difference is "
        "invoiced but not yet paid in this range, less payments received in it for earlier invoices."
    )

    cash = await _report(admin, basis="cash", **span)
    assert _periods(cash) == [
        ("2025-01-01", "219.00", 2),
        ("2025-02-01", "119.00", 1),
        ("2025-03-01", "0.00", 0),
        ("2025-04-01", "58.00", 2),
    ]
    assert (cash["total"], cash["other_basis_total"]) == ("396.00", "476.00")
    assert cash["explanation"].startswith("Cash counts payments on the day they arrived: 396.00 EUR. Accrual")
    assert "The 80.00 EUR difference" in cash["explanation"]

    weeks = await _report(admin, date_from="2025-01-01", date_to="2025-01-31", group="week")
    assert _periods(weeks) == [
        ("2024-12-30", "0.00", 0),
        ("2025-01-06", "119.00", 1),
        ("2025-01-13", "0.00", 0),
        ("2025-01-20", "238.00", 1),
        ("2025-01-27", "0.00", 0),
    ]
    cash_weeks = await _report(admin, basis="cash", date_from="2025-01-01", date_to="2025-01-31", group="week")
    assert [p["total"] for p in cash_weeks["periods"]] == ["119.00", "0.00", "0.00", "100.00", "0.00"]
    # January's report starts on the 1st: December's invoice is outside, its January payment inside.
    assert (cash_weeks["total"], cash_weeks["other_basis_total"]) == ("219.00", "357.00")
    assert "Cash is" not in cash_weeks["explanation"]

    dollars = await _report(admin, currency="usd", **span)
    assert (dollars["currency"], dollars["total"], dollars["other_basis_total"]) == ("USD", "1190.00", "0.00")

    # The credit note (dated today) takes the cancelled invoice back on the day it was cancelled.
    today = date.today().isoformat()
    todays = await _report(admin, date_from=today, date_to=today, group="day")
    assert _periods(todays) == [(today, "-59.50", 1)]
    whole = await _report(admin, date_from="2024-12-01", date_to=today, group="month")
    assert whole["total"] == "535.50"  # December's 119.00 + 476.00 - 59.50 credited today
    assert whole["other_basis_total"] == "396.00"
    assert len(whole["periods"]) == (date.today().year - 2024) * 12 + date.today().month - 11

    async with server.client() as api:
        await server.login(api, "sam@example.com")
        mine = await _report(api, **span)
        assert _periods(mine) == [
            ("2025-01-01", "0.00", 0),
            ("2025-02-01", "59.50", 1),
            ("2025-03-01", "0.00", 0),
            ("2025-04-01", "0.00", 0),
        ]
        assert (mine["total"], mine["other_basis_total"]) == ("59.50", "20.00")
        assert "The 39.50 EUR difference" in mine["explanation"]


async def test_cash_ahead_of_accrual_is_explained(server: LiveServer, admin: Any) -> None:
    rate = {r["name"]: r["id"] for r in (await admin.get("/api/tax-rates")).json()}["Standard 19%"]
    acme = await _client(admin, "Acme")
    old = await _invoice(admin, acme, rate, "100.00", "2025-05-20")
    await _pay(admin, old, "119.00", "2025-06-02")
    june = await _report(admin, basis="cash", date_from="2025-06-01", date_to="2025-06-30", group="month")
    assert (june["total"], june["other_basis_total"]) == ("119.00", "0.00")
    assert june["explanation"].endswith(
        "Cash is 119.00 EUR more: payments received in this range for invoices dated before it, beyond what is "
        "still unpaid of this range's invoices."
    )


async def test_defaults_bad_input_and_permissions(server: LiveServer, admin: Any) -> None:
    default = await _report(admin)
    today = date.today()
    assert (default["date_from"], default["date_to"]) == (date(today.year, 1, 1).isoformat(), today.isoformat())
    assert len(default["periods"]) == today.month and default["total"] == "0.00"
    assert all(p["total"] == "0.00" and p["count"] == 0 for p in default["periods"])
    assert "The two agree" in default["explanation"]

    cases = [
        ({"date_from": "2025-03-01", "date_to": "2025-02-01"}, "date_from"),
        ({"currency": "euro"}, "currency"),
        ({"group": "year"}, "group"),
        ({"basis": "cashflow"}, "basis"),
        ({"date_from": "2000-01-01", "date_to": "2025-01-01", "group": "day"}, "group"),
        ({"date_from": "yesterday"}, "date_from"),
    ]
    for params, field in cases:
        answer = await admin.get("/api/reports/sales", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["field"] == field, (params, answer.json())
    after = (await admin.get("/api/reports/sales", params=cases[0][0])).json()
    assert "2025-03-01" in after["message"] and "after" in after["message"]

    await server.create_user("sue@example.com", role="Support agent")
    async with server.client() as api:
        assert (await api.get("/api/reports/sales")).status_code == 401
        await server.login(api, "sue@example.com")
        assert (await api.get("/api/reports/sales")).status_code == 403

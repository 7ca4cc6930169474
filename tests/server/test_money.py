"""Money rounding: half-up to the currency's minor unit, line vs document tax rounding, and totals
whose parts always add up to the cent."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from crm_server.money import Line, allocate, document_totals, line_total, minor_unit, round_money


def test_half_up_to_the_minor_unit() -> None:
    assert round_money(D("0.125"), "EUR") == D("0.13")
    assert round_money(D("0.124999"), "EUR") == D("0.12")
    assert round_money(D("-0.125"), "EUR") == D("-0.13")  # a credit note mirrors its invoice
    assert round_money(D("2.675"), "EUR") == D("2.68")  # float would say 2.67
    assert round_money(D("12.5"), "JPY") == D("13") and minor_unit("jpy") == 0
    assert round_money(D("1.2345"), "KWD") == D("1.235")
    assert str(round_money(7, "EUR")) == "7.00"


def test_line_total_with_discount() -> None:
    line = Line(quantity=D("3"), unit_price=D("19.99"), tax_rate=D("19"), discount_percent=D("10"))
    total = line_total(line, "EUR")
    assert total.net == D("53.97")  # 59.97 less 10% = 53.973
    assert total.tax == D("10.25")  # 10.2543
    assert total.gross == D("64.22")
    with pytest.raises(ValueError):
        line_total(Line(D(1), D(1), D(19), discount_percent=D(101)), "EUR")


def test_line_and_document_rounding_differ() -> None:
    # Three lines of 0.13 at 19%: each line's tax 0.0247 -> 0.02, summed 0.06;
    # the document's base 0.39 taxed once: 0.0741 -> 0.07.
    lines = [Line(D(1), D("0.13"), D(19))] * 3
    by_line = document_totals(lines, "EUR", "line")
    by_doc = document_totals(lines, "EUR", "document")
    assert by_line.tax == D("0.06")  # 3 x 0.02
    assert by_doc.tax == D("0.07")  # 0.39 x 19% = 0.0741
    assert by_line.net == by_doc.net == D("0.39")
    # In document mode the rate's tax is shown per line without losing a cent.
    assert sorted(t.tax for t in by_doc.lines) == [D("0.02"), D("0.02"), D("0.03")]
    assert sum(t.tax for t in by_doc.lines) == by_doc.tax


def test_taxes_are_grouped_by_rate() -> None:
    lines = [
        Line(D(2), D("10.00"), D(19)),
        Line(D(1), D("5.55"), D(9)),
        Line(D("1.5"), D("3.33"), D(19)),
        Line(D(1), D("100"), D(0)),
    ]
    totals = document_totals(lines, "EUR", "line")
    assert [(t.rate, t.base, t.tax) for t in totals.taxes] == [
        (D(19), D("25.00"), D("4.75")),
        (D(9), D("5.55"), D("0.50")),
        (D(0), D("100.00"), D("0.00")),
    ]
    assert totals.net == D("130.55") and totals.tax == D("5.25") and totals.gross == D("135.80")
    # 19.000 and 19 are the same rate.
    same = document_totals([Line(D(1), D(1), D("19.000")), Line(D(1), D(1), D(19))], "EUR")
    assert len(same.taxes) == 1


def test_jpy_has_no_cents() -> None:
    totals = document_totals([Line(D(3), D(333), D(10)), Line(D(1), D("99.5"), D(8))], "JPY", "document")
    assert totals.net == D(1099) and totals.tax == D(108)  # 99.9 -> 100, 8.0 -> 8 (8% of 100)
    assert all(t.net == t.net.to_integral_value() for t in totals.lines)


def test_allocate_keeps_every_cent() -> None:
    assert allocate(D("0.10"), [D(1), D(1), D(1)], "EUR") == [D("0.04"), D("0.03"), D("0.03")]
    assert allocate(D("-0.10"), [D(1), D(1), D(1)], "EUR") == [D("-0.04"), D("-0.03"), D("-0.03")]
    assert allocate(D("5.00"), [D(0), D(0)], "EUR") == [D("5.00"), D(0)]
    assert allocate(D(1), [], "EUR") == []


@pytest.mark.parametrize("mode", ["line", "document"])
def test_totals_never_drift(mode: str) -> None:
    """Many random documents: every line, rate and the document add up exactly."""
    rng = random.Random(6)
    rates = [D(19), D(9), D(5), D(0), D("7.7")]
    for _ in range(300):
        lines = [
            Line(
                quantity=D(rng.randint(1, 5000)) / D(rng.choice([1, 10, 100, 1000])),
                unit_price=D(rng.randint(0, 99999)) / D(100),
                tax_rate=rng.choice(rates),
                discount_percent=D(rng.choice([0, 0, 5, 12.5, 33])),
            )
            for _ in range(rng.randint(1, 12))
        ]
        totals = document_totals(lines, "EUR", mode)  # type: ignore[arg-type]
        assert all(t.net + t.tax == t.gross for t in totals.lines)
        assert sum(t.net for t in totals.lines) == totals.net == sum(b.base for b in totals.taxes)
        assert sum(t.tax for t in totals.lines) == totals.tax == sum(b.tax for b in totals.taxes)
        assert sum(t.gross for t in totals.lines) == totals.gross == totals.net + totals.tax
        assert all(v == round_money(v, "EUR") for v in (totals.net, totals.tax, totals.gross))
        if mode == "document":
            assert all(b.tax == round_money(b.base * b.rate / 100, "EUR") for b in totals.taxes)

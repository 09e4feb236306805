"""Tests for crm.money."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.money import format_cn_amount, format_yuan, round_half_up, to_decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1234.50", Decimal("1234.50")), (" 12 ", Decimal("12")), (7, Decimal(7)), (Decimal("0.1"), Decimal("0.1"))],
)
def test_to_decimal(value: str | int | Decimal, expected: Decimal) -> None:
    assert to_decimal(value) == expected


@pytest.mark.parametrize("value", [0.1, 1.0, True, None, [1]])
def test_to_decimal_rejects_float_and_other_types(value: object) -> None:
    with pytest.raises(TypeError):
        to_decimal(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", "", "NaN", "Infinity"])
def test_to_decimal_rejects_bad_strings(value: str) -> None:
    with pytest.raises(ValueError):
        to_decimal(value)


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Decimal("0.125"), 2, Decimal("0.13")),
        (Decimal("2.675"), 2, Decimal("2.68")),
        (Decimal("0.135"), 2, Decimal("0.14")),
        (Decimal("0.145"), 2, Decimal("0.15")),  # half-even would give 0.14
        (Decimal("-0.125"), 2, Decimal("-0.13")),
        (Decimal("0.124"), 2, Decimal("0.12")),
        (Decimal("2.5"), 0, Decimal("3")),
        (Decimal("1"), 2, Decimal("1.00")),
        (Decimal("-0.001"), 2, Decimal("0.00")),
    ],
)
def test_round_half_up(value: Decimal, places: int, expected: Decimal) -> None:
    result = round_half_up(value, places)
    assert result == expected
    assert str(result) == str(expected)


def test_round_half_up_large_value_does_not_overflow_precision() -> None:
    value = Decimal("12345678901234567890123456789.125")
    assert round_half_up(value) == Decimal("12345678901234567890123456789.13")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1234.5"), "1,234.50 元"),
        (Decimal("0"), "0.00 元"),
        (Decimal("0.125"), "0.13 元"),
        (Decimal("2.675"), "2.68 元"),
        (Decimal("-1234567.891"), "-1,234,567.89 元"),
        (Decimal("-0.001"), "0.00 元"),
        (100, "100.00 元"),
        (None, "—"),
    ],
)
def test_format_yuan(value: Decimal | int | None, expected: str) -> None:
    assert format_yuan(value) == expected


def test_format_yuan_places() -> None:
    assert format_yuan(Decimal("1234.5678"), places=0) == "1,235 元"
    assert format_yuan(Decimal("1.0005"), places=3) == "1.001 元"


def test_format_yuan_rejects_float() -> None:
    with pytest.raises(TypeError):
        format_yuan(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("8500"), "8,500.00 元"),
        (Decimal("0.125"), "0.13 元"),
        (Decimal("9999.99"), "9,999.99 元"),
        (Decimal("9999.995"), "1.00 万元"),  # rounds up into the next unit
        (Decimal("10000"), "1.00 万元"),
        (Decimal("123456"), "12.35 万元"),
        (Decimal("123449.99"), "12.34 万元"),
        (Decimal("123450"), "12.35 万元"),
        (Decimal("99999999.99"), "1.00 亿元"),  # not "10,000.00 万元"
        (Decimal("99949999.99"), "9,995.00 万元"),
        (Decimal("100000000"), "1.00 亿元"),
        (Decimal("120000000"), "1.20 亿元"),
        (Decimal("1234567890123"), "12,345.68 亿元"),
        (Decimal("-8500"), "-8,500.00 元"),
        (Decimal("-123456"), "-12.35 万元"),
        (Decimal("-120000000"), "-1.20 亿元"),
        (Decimal("-0.001"), "0.00 元"),
        (0, "0.00 元"),
        ("125000", "12.50 万元"),
        (None, "—"),
    ],
)
def test_format_cn_amount(value: Decimal | int | str | None, expected: str) -> None:
    assert format_cn_amount(value) == expected


def test_format_cn_amount_rejects_float() -> None:
    with pytest.raises(TypeError):
        format_cn_amount(1e8)  # type: ignore[arg-type]

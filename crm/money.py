"""Decimal money helpers: conversion, half-up rounding and Chinese display formats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

__all__ = ["format_cn_amount", "format_yuan", "round_half_up", "to_decimal"]

_WAN = Decimal(10) ** 4
# Each unit is used while the rounded figure stays below 1万 of it, so that
# 99,999,999.999 becomes "1.00 亿元" rather than "10,000.00 万元".
_CN_UNITS = ((0, "元"), (4, "万元"), (8, "亿元"))
_EMPTY = "—"


def to_decimal(value: str | int | Decimal) -> Decimal:
    """Convert str/int/Decimal to Decimal; floats are refused (TypeError)."""
    # bool is an int subclass, but True is never a meant amount.
    if isinstance(value, (float, bool)):
        raise TypeError(f"money must not be {type(value).__name__}; use str, int or Decimal")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"无法识别的金额：{value!r}") from None
    else:
        raise TypeError(f"money must be str, int or Decimal, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"金额必须是有限数值：{value!r}")
    return result


def round_half_up(value: Decimal, places: int = 2) -> Decimal:
    """Round to ``places`` decimals with 四舍五入 (ties away from zero)."""
    value = to_decimal(value)
    with localcontext() as ctx:
        # The default 28-digit precision would make quantize fail on large
        # amounts with many decimals instead of rounding them.
        ctx.prec = max(ctx.prec, value.adjusted() + places + 2)
        result = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    # "-0.00" reads like a debt on a statement.
    return result.copy_abs() if result.is_zero() else result


def _group(value: Decimal, places: int) -> str:
    # format() on a Decimal rounds half-even, so callers round first and
    # this only adds thousands separators.
    return f"{value:,.{places}f}"


def format_yuan(value: Decimal | int | str | None, *, places: int = 2) -> str:
    """Format as "1,234.50 元"; None becomes "—"."""
    if value is None:
        return _EMPTY
    return f"{_group(round_half_up(to_decimal(value), places), places)} 元"


def format_cn_amount(value: Decimal | int | str | None) -> str:
    """Format like a person writes it: "8,500.00 元", "12.35 万元", "1.20 亿元"."""
    if value is None:
        return _EMPTY
    amount = to_decimal(value)
    sign = "-" if amount < 0 else ""
    magnitude = amount.copy_abs()
    for exponent, unit in _CN_UNITS:
        scaled = round_half_up(magnitude.scaleb(-exponent), 2)
        if scaled < _WAN or unit == _CN_UNITS[-1][1]:
            break
    if scaled.is_zero():
        sign = ""
    return f"{sign}{_group(scaled, 2)} {unit}"

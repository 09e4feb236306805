"""Search keys stored with each customer, and the query they answer (indexed prefix ranges, no '%…%' scans)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pypinyin import Style, lazy_pinyin
from sqlalchemy import and_, or_
from sqlalchemy.sql import ColumnElement

from crm.models import Customer

# Above every character a key can hold: `col >= q AND col < q + TOP` is "starts with q" and uses the index.
TOP = "\U0010ffff"
ASCII_TOP = "\x7f"


def pinyin_keys(name: str) -> tuple[str, str]:
    """张三丰 → ('zhangsanfeng', 'zsf'); letters and digits in the name are kept, lowercased."""
    name = unicodedata.normalize("NFKC", name or "")
    full = lazy_pinyin(name, errors="default")
    initials = lazy_pinyin(name, style=Style.FIRST_LETTER, errors="default")
    clean = lambda parts: re.sub(r"[^0-9a-z]", "", "".join(parts).lower())  # noqa: E731
    return clean(full)[:200], clean(initials)[:100]


def reverse_digits(value: str | None) -> str | None:
    """'13812345678' → '87654321831': a suffix search becomes a prefix search on an index."""
    if not value:
        return None
    return value[::-1]


def keys(name: str, phone: str | None, cert_no: str | None) -> dict[str, Any]:
    """Every derived search column of a customer, for an ORM save or a bulk insert alike."""
    full, initials = pinyin_keys(name)
    return {"name_pinyin": full, "name_initials": initials, "phone_rev": reverse_digits(phone),
            "cert_rev": reverse_digits(cert_no)}


def _prefix(column: Any, value: str, top: str = TOP) -> ColumnElement[bool]:
    return and_(column >= value, column < value + top)


def condition(text: str) -> ColumnElement[bool] | None:
    """What a search box query means, as one indexable condition (None for an empty query).

    - Chinese text: names starting with it (张 finds 张三, 张伟…).
    - Letters: pinyin initials or full pinyin (zs, zhangsan, zhangs).
    - 4+ digits: the end of a phone or certificate number (5678 finds 138****5678).
    - A full 身份证/统一社会信用代码: that certificate.
    """
    q = unicodedata.normalize("NFKC", text or "").strip()
    if not q:
        return None
    compact = re.sub(r"[\s-]", "", q)
    if re.fullmatch(r"[0-9]{17}[0-9Xx]|[0-9A-HJ-NP-RT-UW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RT-UW-Y]{10}", compact):
        return Customer.cert_no == compact.upper()
    if compact.isdigit() and len(compact) >= 4:
        rev = compact[::-1]
        return or_(_prefix(Customer.phone_rev, rev, ASCII_TOP), _prefix(Customer.cert_rev, rev, ASCII_TOP))
    if re.fullmatch(r"[A-Za-z]+", compact):
        low = compact.lower()
        return or_(_prefix(Customer.name_initials, low, ASCII_TOP), _prefix(Customer.name_pinyin, low, ASCII_TOP))
    if compact.isdigit():
        return None  # fewer than 4 digits would match a large share of all customers: ask for more
    return _prefix(Customer.name, q)

"""Keyset pagination: the next page starts after the last row seen, so page 20,000 costs what page 1 costs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select

from crm.extensions import db


@dataclass
class Page:
    rows: list[Any]
    next_cursor: int | None


def cursor_arg(raw: str | None) -> int | None:
    """A cursor from the URL; anything that is not a positive whole number means 'first page'."""
    if raw and raw.isdigit() and len(raw) < 19:
        return int(raw)
    return None


def by_id(stmt: Select, id_column: Any, *, after: int | None, size: int = 50, descending: bool = False) -> Page:
    """Page over a monotonically increasing id (newest first when `descending`). No COUNT query."""
    if after is not None:
        stmt = stmt.where(id_column < after if descending else id_column > after)
    stmt = stmt.order_by(id_column.desc() if descending else id_column).limit(size + 1)
    rows = list(db.session.execute(stmt).scalars())
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, rows[-1].id if more and rows else None)

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


def by_id(stmt: Select, id_column: Any, *, after: int | None, size: int = 50, descending: bool = False,
          rows: bool = False) -> Page:
    """Page over a monotonically increasing id (newest first when `descending`). No COUNT query.
    `rows=True` returns column rows (for lists that select only what they show) instead of ORM objects."""
    if after is not None:
        stmt = stmt.where(id_column < after if descending else id_column > after)
    stmt = stmt.order_by(id_column.desc() if descending else id_column).limit(size + 1)
    result = db.session.execute(stmt)
    found = list(result if rows else result.scalars())
    more = len(found) > size
    found = found[:size]
    return Page(found, found[-1].id if more and found else None)

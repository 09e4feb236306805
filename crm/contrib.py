"""Small frozen dataclasses that hooks return; core registers and renders them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NavItem:
    """A menu entry. `endpoint` is a Flask endpoint; `permission` hides the item from users who lack it."""

    label: str
    endpoint: str
    icon: str = "bi-circle"
    weight: int = 100
    permission: str | None = None
    url_values: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Panel:
    """A box on the customer page, filled lazily from `url` (an HTMX fragment) when it scrolls into view.
    `wide` boxes go in the main column under the overview (tables); the others in the side column."""

    key: str
    title: str
    url: str
    weight: int = 100
    wide: bool = False


@dataclass(frozen=True)
class Widget:
    """A dashboard box, filled lazily from `url`. `width` is a Tabler column count (of 12)."""

    key: str
    title: str
    url: str
    weight: int = 100
    width: int = 6


@dataclass(frozen=True)
class Permission:
    """A permission a plugin adds. `posts` get it by default; names are namespaced `<plugin>.<verb>`."""

    name: str
    label: Any  # str or a lazy translation
    posts: tuple[str, ...] = ()


@dataclass(frozen=True)
class SegmentRule:
    """A customer-segment rule type. `compile(params)` returns a SQLAlchemy boolean expression over Customer."""

    name: str
    label: str
    compile: Callable[[dict[str, Any]], Any]
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class PdfDocument:
    """A printable document. `template` is an .html Jinja template rendered by crm.pdf."""

    name: str
    label: str
    template: str
    permission: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

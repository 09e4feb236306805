"""Fixtures: an app with the salon_events plugin installed, a kids campaign of 甲分行 and helpers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

import plugins.salon_events.models  # noqa: F401 - the plugin's tables belong to the test schema
from crm.extensions import db
from crm.models import Customer, FamilyMember, User

PLUGINS = "tests.plugin_example,plugins.segmentation,plugins.salon_events"


@pytest.fixture
def app(make_app):
    app = make_app(CRM_PLUGINS=PLUGINS)
    with app.app_context():
        yield app


@pytest.fixture
def se(org, enable_plugin):
    """The plugin on for both 分行 (each test switches it off where it needs to); outlet A has reception conditions
    (R-30), A2 has not."""
    enable_plugin(org.b1, "salon_events")
    enable_plugin(org.b2, "salon_events")
    org.a.has_reception_conditions = True
    org.b.has_reception_conditions = True
    db.session.commit()
    return org


_counter = iter(range(1, 10**9))


def cust(outlet, *, name: str | None = None, maintainer=None, **kw: Any) -> Customer:
    n = next(_counter)
    c = Customer(outlet_id=outlet.id, kind="personal", name=name or f"家长{n}", deposit_balance=Decimal("0"),
                 maintainer_id=maintainer.id if maintainer else None, **kw)
    db.session.add(c)
    db.session.commit()
    return c


def child(parent: Customer, name: str, birthday: date | None = None, grade: str | None = None) -> FamilyMember:
    m = FamilyMember(customer_id=parent.id, relation="child", name=name, birthday=birthday, school_grade=grade)
    db.session.add(m)
    db.session.commit()
    return m


def as_user(user, fn, *args, **kw):
    """Call a service as `user` inside a request context (the scope helpers read the logged-in user)."""
    from flask import current_app
    from flask_login import login_user

    with current_app.test_request_context():
        u = db.session.get(User, user.id)
        login_user(u)
        return fn(u, *args, **kw)


def future(days: int = 7, hour: int = 9, minute: int = 0) -> datetime:
    from crm.timeutil import today_local

    d = today_local() + timedelta(days=days)
    return datetime(d.year, d.month, d.day, hour, minute)

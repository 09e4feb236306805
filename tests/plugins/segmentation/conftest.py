"""Fixtures: an app with the segmentation plugin installed, customers, and a recompute helper."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event

import plugins.segmentation.models  # noqa: F401 - the plugin's tables belong to the test schema
from crm.extensions import db
from crm.models import Customer, User

PLUGINS = "tests.plugin_example,plugins.segmentation"


@pytest.fixture
def app(make_app):
    app = make_app(CRM_PLUGINS=PLUGINS)
    with app.app_context():
        yield app


@pytest.fixture
def seg(org, enable_plugin):
    """The plugin on for both 分行 (each test switches it off where it needs to)."""
    enable_plugin(org.b1, "segmentation")
    enable_plugin(org.b2, "segmentation")
    return org


_counter = iter(range(1, 10**9))


def cust(outlet, *, deposit: str | int = 0, kind: str = "personal", **kw: Any) -> Customer:
    n = next(_counter)
    c = Customer(outlet_id=outlet.id, kind=kind, name=kw.pop("name", f"客户{n}"), deposit_balance=Decimal(str(deposit)),
                 **{k: (Decimal(str(v)) if k in ("aum", "annual_revenue") and v is not None else v)
                    for k, v in kw.items()})
    db.session.add(c)
    db.session.commit()
    return c


def born(year: int, month: int = 6, day: int = 15) -> date:
    return date(year, month, day)


def recompute_as(user, branch) -> Any:
    """Run the service as `user` inside a request context (the scope helpers read the logged-in user)."""
    from flask import current_app
    from flask_login import login_user

    from plugins.segmentation import services

    with current_app.test_request_context():
        login_user(db.session.get(User, user.id))
        return services.recompute(db.session.get(User, user.id), branch.id)


RECOMPUTE = "/p/segmentation/recompute"


def job_of(resp) -> str:
    """The recompute job a POST started (or landed on): its id in the page address the 303 sends to."""
    from urllib.parse import parse_qs, urlsplit

    assert resp.status_code == 303, (resp.status_code, resp.get_data(as_text=True)[:300])
    location = resp.headers["Location"]
    assert urlsplit(location).path == "/p/segmentation/", location
    return parse_qs(urlsplit(location).query)["job"][0]


def wait_for(job_id: str) -> dict:
    """Wait until the background recompute is over; the test's session then reads what it wrote."""
    from plugins.segmentation.views import store

    store.wait(job_id, 120)
    db.session.expire_all()
    job = store.load(job_id)
    assert job is not None and job["state"] != "running", job
    return job


def post_recompute(client, data: dict | None = None) -> dict:
    """Click 重算分层与分群 and wait for the job: what the page shows once the card says it is done."""
    return wait_for(job_of(client.post(RECOMPUTE, data or {})))


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._hook)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._hook)

    def _hook(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

"""Fixtures: an app with the scorecards plugin on for both 分行, the credit and outlet posts of 甲分行, and helpers
to open a period and enter figures as a given user."""

from __future__ import annotations

from typing import Any

import pytest

import plugins.scorecards.models  # noqa: F401 - the plugin's tables belong to the test schema
from crm.extensions import db
from crm.models import User
from tests.conftest import make_user

PLUGINS = "tests.plugin_example,plugins.scorecards"


@pytest.fixture
def app(make_app):
    app = make_app(CRM_PLUGINS=PLUGINS)
    with app.app_context():
        yield app


class SC:
    """The org fixture plus scorecard people: the marketing post (computes), the branch head (reviews), corporate
    customer managers of three grades at outlet A, a sub-branch president, a branch administrator."""

    def __init__(self, org: Any):
        self.org = org
        self.marketing = org.marketing1  # "MK0001"
        self.branch_head = make_user("BH0001", "branch_head", branch=org.b1, name="甲分行负责人")
        self.rm_senior = make_user("CR0001", "corporate_rm", outlet=org.a, name="高级客户经理甲")
        self.rm_middle = make_user("CR0002", "corporate_rm", outlet=org.a, name="中级客户经理乙")
        self.rm_junior = make_user("CR0003", "corporate_rm", outlet=org.a2, name="初级客户经理丙")
        for user, grade in ((self.rm_senior, "a_senior"), (self.rm_middle, "a_middle"), (self.rm_junior, "a_junior")):
            user.grade = grade
        db.session.commit()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.org, name)


@pytest.fixture
def sc(org, enable_plugin):
    enable_plugin(org.b1, "scorecards")
    enable_plugin(org.b2, "scorecards")
    enable_plugin(None, "scorecards")
    from plugins.scorecards.services import ensure_default_schemes

    ensure_default_schemes()
    return SC(org)


def as_user(user: Any, fn, *args, **kw):
    """Call a service as `user` inside a request context (audit rows read the request)."""
    from flask import current_app
    from flask_login import login_user

    with current_app.test_request_context():
        u = db.session.get(User, user.id)
        login_user(u)
        return fn(u, *args, **kw)

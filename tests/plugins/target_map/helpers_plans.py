"""Factories and small helpers for the outreach-plan tests (tasks, visits, group plans, rollout)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from crm.customers.search import keys
from crm.extensions import db
from crm.models import AuditLog, Customer
from plugins.target_map.models import TargetMapEntry
from plugins.target_map.models_plans import TargetMapTask, TargetMapVisit

P = "/p/target-map"


def make_corp(outlet, name: str, *, status: str = "target", maintainer=None, on_map: bool = True) -> Customer:
    """A corporate customer of the outlet, on its map unless told otherwise."""
    c = Customer(outlet_id=outlet.id, kind="corporate", status=status, name=name,
                 maintainer_id=maintainer.id if maintainer else None, **keys(name, None, None))
    db.session.add(c)
    db.session.flush()
    if on_map:
        db.session.add(TargetMapEntry(customer_id=c.id, outlet_id=outlet.id))
    db.session.commit()
    return c


def make_task(customer: Customer, owner, start: date, end: date, *, title: str = "拜访企业E",
              status: str = "planned") -> TargetMapTask:
    task = TargetMapTask(outlet_id=customer.outlet_id, customer_id=customer.id, title=title, owner_id=owner.id,
                         planned_start=start, planned_end=end, status=status, created_by_id=owner.id)
    db.session.add(task)
    db.session.commit()
    return task


def fresh(model: type, row_id: int) -> Any:
    db.session.expire_all()
    return db.session.get(model, row_id)


def visits_of(task_id: int) -> list[TargetMapVisit]:
    db.session.expire_all()
    return list(db.session.execute(db.select(TargetMapVisit).where(TargetMapVisit.task_id == task_id)).scalars())


def audit_actions(prefix: str = "target_map.") -> list[str]:
    db.session.expire_all()
    return [a for (a,) in db.session.execute(db.select(AuditLog.action).where(AuditLog.action.like(prefix + "%"))
                                             .order_by(AuditLog.id)).all()]


def logged_in(new_client, user):
    client = new_client()
    resp = client.login(user.login)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return client


def page_token(client, path: str) -> str:
    """The CSRF token a page carries (forms after login use the session's token)."""
    return client.refresh_token(path)


def gantt_data(html: str) -> list[dict[str, Any]]:
    """The task list the Gantt page hands to plans.js (data-gantt, HTML-escaped JSON)."""
    import html as htmllib
    import re

    match = re.search(r'data-gantt="([^"]*)"', html)
    assert match, "no Gantt on the page"
    return json.loads(htmllib.unescape(match.group(1)))

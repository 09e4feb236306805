"""Assertions on audit rows shared by the exactly-one-row tests (issue 8, promise 6)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditLog, User


def rows_of(action: str) -> list[AuditLog]:
    """Every audit row of `action`, oldest first, as the database has them now."""
    db.session.expire_all()
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).scalars())


def only_row(action: str, actor: User, target: tuple[str, Any], result: str = "ok", **detail: Any) -> AuditLog:
    """The one row of `action`: its actor (id, login, outlet), target, result and the given detail values."""
    rows = rows_of(action)
    assert len(rows) == 1, (action, [(r.target_type, r.target_id, r.detail) for r in rows])
    row = rows[0]
    assert (row.actor_id, row.actor_login, row.outlet_id, row.result) == (actor.id, actor.login, actor.outlet_id,
                                                                         result)
    assert (row.target_type, row.target_id) == (target[0], str(target[1]))
    for key, value in detail.items():
        assert row.detail.get(key) == value, (key, row.detail)
    return row

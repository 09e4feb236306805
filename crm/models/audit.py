"""The append-only audit log (design §4): one row per sensitive action, values masked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, JSON, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow


class AuditLog(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_created_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    actor_login: Mapped[str | None] = mapped_column(String(40))  # masked when it is an ID number
    outlet_id: Mapped[int | None] = mapped_column(Integer, index=True)
    branch_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the actor's 分行, for branch scoping
    action: Mapped[str] = mapped_column(String(50), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(10), default="ok")  # ok | fail | denied
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


@event.listens_for(AuditLog, "before_update")
@event.listens_for(AuditLog, "before_delete")
def _append_only(mapper, connection, target) -> None:  # noqa: ARG001
    raise RuntimeError("audit_log is append-only")


# The database refuses UPDATE and DELETE too, so not even raw SQL can rewrite history.
_SQLITE_GUARDS = [
    DDL("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"),
    DDL("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"),
]
_PG_GUARDS = [
    DDL("CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql"),
    DDL("CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"),
]
for _ddl in _SQLITE_GUARDS:
    event.listen(AuditLog.__table__, "after_create", _ddl.execute_if(dialect="sqlite"))
for _ddl in _PG_GUARDS:
    event.listen(AuditLog.__table__, "after_create", _ddl.execute_if(dialect="postgresql"))


class AuditSeal(db.Model):
    """One link of the audit hash chain (crm/audit_seal.py): written after the audit row has committed, so the
    chain never serialises the requests that write audit rows. Append-only like audit_log. No foreign key to
    audit_log on purpose: the test suite empties audit_log with TRUNCATE, which PostgreSQL refuses for a table
    that another table references, and an audit row can never be deleted anyway."""

    __tablename__ = "audit_seal"

    audit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Unique: two sealers that both extended the same head would collide here instead of forking the chain.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(16))  # which audit key sealed it, so a changed key reads as such
    sealed_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)


@event.listens_for(AuditSeal, "before_update")
@event.listens_for(AuditSeal, "before_delete")
def _seal_append_only(mapper, connection, target) -> None:  # noqa: ARG001
    raise RuntimeError("audit_seal is append-only")


SEAL_SQLITE_GUARDS = [
    DDL("CREATE TRIGGER audit_seal_no_update BEFORE UPDATE ON audit_seal "
        "BEGIN SELECT RAISE(ABORT, 'audit_seal is append-only'); END"),
    DDL("CREATE TRIGGER audit_seal_no_delete BEFORE DELETE ON audit_seal "
        "BEGIN SELECT RAISE(ABORT, 'audit_seal is append-only'); END"),
]
SEAL_PG_GUARDS = [
    DDL("CREATE OR REPLACE FUNCTION audit_seal_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_seal is append-only'; END; $$ LANGUAGE plpgsql"),
    DDL("CREATE TRIGGER audit_seal_no_change BEFORE UPDATE OR DELETE ON audit_seal "
        "FOR EACH ROW EXECUTE FUNCTION audit_seal_append_only()"),
]
for _ddl in SEAL_SQLITE_GUARDS:
    event.listen(AuditSeal.__table__, "after_create", _ddl.execute_if(dialect="sqlite"))
for _ddl in SEAL_PG_GUARDS:
    event.listen(AuditSeal.__table__, "after_create", _ddl.execute_if(dialect="postgresql"))

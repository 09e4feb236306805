"""Audit hash chain (issue 8, promise 6): sealing, `crm audit verify`, tampering found, append-only tables."""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import func, select, text

from crm import audit_seal
from crm.audit_seal import GENESIS, seal, verify
from crm.config import ConfigError
from crm.extensions import db
from crm.models import AuditLog
from crm.models.audit import AuditSeal
from crm.timeutil import utcnow
from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[2]
LATER = timedelta(seconds=600)  # "ten minutes from now": every row written so far is past the safety margin


@pytest.fixture(autouse=True)
def _empty_seals_afterwards(app):
    """audit_seal refuses DELETE, so the PostgreSQL cleanup between tests (DELETE children-first) would fail on
    the links a test leaves; TRUNCATE is the one way to empty it, as for audit_log."""
    yield
    if PG_URL:
        db.session.rollback()
        with db.engine.begin() as conn:
            conn.exec_driver_sql('TRUNCATE "audit_seal"')


def add_rows(count: int, *, action: str = "auth.login", ago: timedelta = timedelta(0)) -> list[int]:
    rows = [AuditLog(action=action, actor_login=f"RA{i:04d}", result="ok", target_type="customer",
                     target_id=str(i), ip="127.0.0.1", detail={"n": i, "备注": "甲网点"}, created_at=utcnow() - ago)
            for i in range(count)]
    db.session.add_all(rows)
    db.session.commit()
    return [r.id for r in rows]


@contextmanager
def guards_off(table: str):
    """What an attacker with owner rights on the database does first: switch the append-only trigger off."""
    db.session.commit()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            conn.exec_driver_sql(f"DROP TRIGGER {table}_no_update")
            conn.exec_driver_sql(f"DROP TRIGGER {table}_no_delete")
    try:
        with db.engine.begin() as conn:
            yield conn
    finally:
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def kinds(report) -> list[tuple[int, str]]:
    return [(p.audit_id, p.kind) for p in report.problems]


def test_seal_then_verify_ok(app):
    ids = add_rows(25)
    assert seal(now=utcnow() + LATER) == 25
    report = verify()
    assert report.ok, report.problems
    assert (report.sealed, report.unsealed, report.head_id, report.total_rows) == (25, 0, ids[-1], 25)
    links = db.session.execute(select(AuditSeal).order_by(AuditSeal.audit_id)).scalars().all()
    assert links[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(links, links[1:], strict=False))
    # Sealing again adds nothing; new rows extend the same chain.
    assert seal(now=utcnow() + LATER) == 0
    add_rows(3)
    assert seal(now=utcnow() + LATER) == 3
    assert verify().ok and verify().sealed == 28


def test_rows_younger_than_the_margin_stay_unsealed(app):
    old = add_rows(4, ago=timedelta(seconds=300))
    add_rows(2)  # just written: a transaction that began before them might still commit a lower id
    assert app.config["CRM_AUDIT_SEAL_DELAY_SECONDS"] == 120
    assert seal() == 4
    report = verify()
    assert report.ok and report.head_id == old[-1] and report.unsealed == 2


def test_altered_row_is_named(app):
    ids = add_rows(10)
    seal(now=utcnow() + LATER)
    with guards_off("audit_log") as conn:
        conn.execute(text("UPDATE audit_log SET result = 'ok', detail = :d WHERE id = :id"),
                     {"d": '{"n": 999}', "id": ids[6]})
    report = verify()
    assert kinds(report) == [(ids[6], "altered")]
    assert f"#{ids[6]}" in report.problems[0].message


def test_reordered_rows_are_found(app):
    ids = add_rows(6)
    seal(now=utcnow() + LATER)
    with guards_off("audit_log") as conn:  # swap the contents of two rows: each now sits at the other's place
        conn.execute(text("UPDATE audit_log SET target_id = CASE WHEN id = :a THEN :tb ELSE :ta END "
                          "WHERE id IN (:a, :b)"), {"a": ids[1], "b": ids[2], "ta": "1", "tb": "2"})
    assert kinds(verify()) == [(ids[1], "altered"), (ids[2], "altered")]


def test_deleted_row_is_found(app):
    ids = add_rows(10)
    seal(now=utcnow() + LATER)
    with guards_off("audit_log") as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[3]})
    assert kinds(verify()) == [(ids[3], "deleted")]


def test_deleted_row_with_its_seal_breaks_the_chain(app):
    ids = add_rows(10)
    seal(now=utcnow() + LATER)
    with guards_off("audit_log") as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[4]})
    with guards_off("audit_seal") as conn:
        conn.execute(text("DELETE FROM audit_seal WHERE audit_id = :id"), {"id": ids[4]})
    assert kinds(verify()) == [(ids[5], "relinked")]


def test_row_inserted_below_the_head_is_found(app):
    ids = add_rows(5)
    seal(now=utcnow() + LATER)
    db.session.add(AuditLog(id=ids[-1] + 50, action="auth.login", result="ok", detail={}, created_at=utcnow()))
    db.session.commit()
    seal(now=utcnow() + LATER)
    # Someone writes a back-dated row into the gap under the sealed head.
    db.session.add(AuditLog(id=ids[-1] + 7, action="auth.logout", result="ok", detail={},
                            created_at=utcnow() - timedelta(days=30)))
    db.session.commit()
    assert kinds(verify()) == [(ids[-1] + 7, "unsealed_below_head")]


def test_a_changed_key_is_reported_as_such(app, make_app):
    add_rows(3)
    seal(now=utcnow() + LATER)
    same_db = app.config["SQLALCHEMY_DATABASE_URI"]
    other = make_app(SECRET_KEY="another-secret-key-0123456789abcdef", SQLALCHEMY_DATABASE_URI=same_db)
    with other.app_context():
        report = verify()
    assert {k for _, k in kinds(report)} == {"unknown_key"}
    # Keeping the old secret as a second CRM_AUDIT_KEY verifies the old links again.
    again = make_app(SECRET_KEY="another-secret-key-0123456789abcdef", SQLALCHEMY_DATABASE_URI=same_db,
                     CRM_AUDIT_KEY="new-audit-key-0123456789,test-secret-key-not-for-production-0123456789")
    with again.app_context():
        assert verify().ok


def test_concurrent_sealers_build_one_chain(app, monkeypatch):
    monkeypatch.setattr(audit_seal, "BATCH", 40)  # many short transactions, so the two sealers interleave
    add_rows(400)
    engine = db.engine
    start = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sealer() -> None:
        try:
            with app.app_context():
                start.wait(10)
                counts.append(seal(engine, now=utcnow() + LATER))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=sealer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(counts) == 400
    report = verify()
    assert report.ok and report.sealed == 400
    assert db.session.scalar(select(func.count(func.distinct(AuditSeal.prev_hash)))) == 400


@pytest.mark.parametrize("table", ["audit_log", "audit_seal"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = {c}", "DELETE FROM {t}"])
def test_database_refuses_update_and_delete(app, table, statement):
    add_rows(2)
    seal(now=utcnow() + LATER)
    column = "action" if table == "audit_log" else "hash"
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
        with db.engine.begin() as conn:
            conn.exec_driver_sql(statement.format(t=table, c=column))
    assert verify().ok and verify().sealed == 2


def test_no_application_code_changes_audit_rows():
    """Retention: audit rows are never deleted or rewritten by the application, in the core or any plugin."""
    pattern = re.compile(
        r"(UPDATE|DELETE\s+FROM|TRUNCATE)\s+[\"'`]?audit_(log|seal)|"
        r"(update|delete)\(\s*(AuditLog|AuditSeal)\b|(AuditLog|AuditSeal)\.__table__\.(update|delete)\(",
        re.IGNORECASE)
    offenders = []
    for path in [*ROOT.glob("crm/**/*.py"), *ROOT.glob("plugins/**/*.py")]:
        if "migrations" in path.parts:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_retention_below_six_months_refuses_to_start(make_app):
    with pytest.raises(ConfigError, match="CRM_AUDIT_RETENTION_MONTHS"):
        make_app(CRM_AUDIT_RETENTION_MONTHS=5)


def test_cli_verify_exit_codes(make_app):
    app = make_app(CRM_AUDIT_SEAL_DELAY_SECONDS=0)
    with app.app_context():
        ids = add_rows(5, ago=timedelta(days=200))
        runner = app.test_cli_runner()
        result = runner.invoke(args=["audit", "verify"])
        assert result.exit_code == 0, result.output
        assert "本次新封存 5 条" in result.output and "校验通过" in result.output
        oldest = (utcnow() - timedelta(days=200)).date()
        assert re.search(rf"最早的审计记录：{oldest:%Y-%m}-\d\d；保留期不少于 6 个月", result.output)
        assert runner.invoke(args=["audit", "seal"]).output.startswith("已封存 0 条")

        with guards_off("audit_log") as conn:
            conn.execute(text("UPDATE audit_log SET actor_login = 'RA9999' WHERE id = :id"), {"id": ids[2]})
        result = runner.invoke(args=["audit", "verify"])
        assert result.exit_code == 1
        assert f"校验失败 / VERIFICATION FAILED: 审计记录 #{ids[2]} 在封存后被修改" in result.output
        assert f"audit row #{ids[2]} was altered" in result.output


def test_running_app_seals_in_the_background(make_app):
    from tests.conftest import Client

    app = make_app(CRM_AUDIT_SEAL_DELAY_SECONDS=0, CRM_AUDIT_SEAL_INTERVAL_MINUTES=5)
    state = app.extensions["crm_audit_seal"]
    with app.app_context():
        add_rows(3)
        client = Client(app)
        client.get("/login")
        assert state.thread is None  # not due yet: the first request after start does not seal
        state.next_due = 0
        client.get("/login")
        state.thread.join(30)
        assert verify().sealed == 3
        client.get("/login")  # due again only in 5 minutes
        assert verify().sealed == 3 and state.next_due > 0

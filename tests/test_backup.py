"""Backup and restore (issue 8, Operations): a backup restored into a fresh database has the same rows in every table."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from crm import create_app
from crm.backup import BackupError, backup, manifest_path_for, restore, table_fingerprints
from crm.extensions import db
from tests.conftest import PG_URL, base_config

EXT = "dump" if PG_URL else "sqlite3"


@pytest.fixture
def fresh_db(tmp_path):
    """Factory of empty databases: new SQLite file paths, or throwaway PostgreSQL databases crm_bkp_<uuid8>."""
    made: list[str] = []
    admin = None
    if PG_URL:
        admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT",
                              poolclass=NullPool)

    def factory() -> str:
        if not PG_URL:
            return f"sqlite:///{tmp_path}/fresh{len(made)}_{uuid.uuid4().hex[:8]}.sqlite3"
        name = f"crm_bkp_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return PG_URL.replace("postgresql://", "postgresql+psycopg://", 1).rsplit("/", 1)[0] + f"/{name}"

    yield factory
    if admin is not None:
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fingerprints(url: str) -> dict[str, tuple[int, str]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return table_fingerprints(engine)
    finally:
        engine.dispose()


def integrity(url: str) -> list[str]:
    if not url.startswith("sqlite"):
        return ["ok"]  # PostgreSQL: pg_restore ran in one transaction and every table was verified
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


@pytest.fixture
def seeded(make_app):
    """An app on demo data: organisation, staff, 120 customers with family, products and contacts."""
    from crm.demo import seed_demo
    from crm.demo_customers import seed_customers

    app = make_app()
    with app.app_context():
        seed_demo(7)
        seed_customers(120, 7, echo=lambda _line: None)
        db.session.commit()
        yield app
        db.session.remove()


def source_url(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"]


def test_backup_restores_into_a_fresh_database_with_equal_fingerprints(seeded, tmp_path, fresh_db):
    url = source_url(seeded)
    if url.startswith("sqlite"):  # the app runs in WAL mode: committed rows may still sit in the -wal file
        assert Path(url.removeprefix("sqlite:///") + "-wal").exists()
    before = fingerprints(url)
    assert before["customer"][0] == 120 and before["user_account"][0] > 30 and before["outlet"][0] == 10

    info = backup(url, tmp_path / f"b.{EXT}")
    assert info.path.is_file() and info.manifest_path == manifest_path_for(info.path)
    manifest = json.loads(info.manifest_path.read_text(encoding="utf-8"))
    assert manifest["dialect"] == ("postgresql" if PG_URL else "sqlite")
    assert manifest["created_at"].endswith("Z") and manifest["app_version"]
    assert {t: (v["rows"], v["sha256"]) for t, v in manifest["tables"].items()} == before
    assert info.rows == sum(n for n, _ in before.values()) and info.tables == len(before)

    target = fresh_db()
    restored = restore(info.path, target)
    assert restored.rows == info.rows and not restored.replaced
    after = fingerprints(target)
    assert after == before  # every table: same row count, same sha256 of its rows in primary-key order
    assert integrity(target) == ["ok"]
    assert fingerprints(url) == before  # the source is untouched


def test_backup_while_the_app_writes(seeded, tmp_path, fresh_db):
    """Backups run with the app up: a writer commits throughout; the backup is a consistent snapshot that restores
    and verifies."""
    import threading

    url = source_url(seeded)
    stop = threading.Event()
    written = []

    def writer() -> None:
        engine = create_engine(url, poolclass=NullPool)
        try:
            while not stop.is_set():
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO audit_log (created_at, action, result, detail) "
                                      "VALUES (CURRENT_TIMESTAMP, 'auth.login', 'ok', '{}')"))
                written.append(1)
        finally:
            engine.dispose()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        infos = [backup(url, tmp_path / f"live{i}.{EXT}") for i in range(3)]
    finally:
        stop.set()
        thread.join()
    assert written  # the writer really ran alongside
    target = fresh_db()
    restore(infos[-1].path, target)  # verifies every table against the manifest taken in the same snapshot
    assert integrity(target) == ["ok"]
    counts = [json.loads(i.manifest_path.read_text(encoding="utf-8"))["tables"]["audit_log"]["rows"] for i in infos]
    assert counts == sorted(counts) and fingerprints(target)["audit_log"][0] == counts[-1]


def test_fingerprint_sees_one_changed_value(seeded):
    url = source_url(seeded)
    before = fingerprints(url)
    db.session.execute(text("UPDATE customer SET name = name || 'x' WHERE id = (SELECT min(id) FROM customer)"))
    db.session.commit()
    after = fingerprints(url)
    assert after["customer"][0] == before["customer"][0] and after["customer"][1] != before["customer"][1]
    assert {t: v for t, v in after.items() if t != "customer"} == {t: v for t, v in before.items() if t != "customer"}


def test_restore_refuses_a_target_with_data_unless_forced(seeded, tmp_path, fresh_db, make_app):
    url = source_url(seeded)
    info = backup(url, tmp_path / f"b.{EXT}")
    target = fresh_db()
    restore(info.path, target)
    expected = fingerprints(target)
    # The target now holds data: change it, and a second restore is refused and leaves it as it is.
    engine = create_engine(target, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM customer_family"))
    engine.dispose()
    changed = fingerprints(target)
    with pytest.raises(BackupError, match="目标数据库不是空的.*--force"):
        restore(info.path, target)
    assert fingerprints(target) == changed
    again = restore(info.path, target, force=True)
    assert again.replaced and fingerprints(target) == expected
    assert integrity(target) == ["ok"]


def test_a_backup_is_never_overwritten(seeded, tmp_path):
    path = tmp_path / f"b.{EXT}"
    backup(source_url(seeded), path)
    with pytest.raises(BackupError, match="已存在"):
        backup(source_url(seeded), path)


def test_truncated_or_tampered_backups_are_refused_and_the_target_untouched(seeded, tmp_path, fresh_db):
    info = backup(source_url(seeded), tmp_path / f"b.{EXT}")
    data = info.path.read_bytes()
    manifest = json.loads(info.manifest_path.read_text(encoding="utf-8"))
    target = fresh_db()

    def refused(match: str) -> None:
        with pytest.raises(BackupError, match=match):
            restore(info.path, target)
        if target.startswith("sqlite"):
            assert not Path(target.removeprefix("sqlite:///")).exists()
        else:
            assert fingerprints(target) == {}

    # Truncated: the file no longer matches its manifest.
    info.path.write_bytes(data[: len(data) // 2])
    refused("已损坏或不完整")
    # Corrupted in place, with a manifest forged to match: the database's own checks still catch it.
    broken = bytearray(data)
    for i in range(len(broken) // 3, len(broken) // 3 + 8192):
        broken[i] ^= 0x5A
    info.path.write_bytes(bytes(broken))
    from crm.backup import _sha256_file

    forged = dict(manifest, file_sha256=_sha256_file(info.path), file_size=len(broken))
    info.manifest_path.write_text(json.dumps(forged), encoding="utf-8")
    refused("损坏|完整性检查|外键检查|失败|不一致")
    # Missing manifest.
    info.path.write_bytes(data)
    info.manifest_path.unlink()
    refused("找不到备份清单")


def test_a_forced_restore_that_fails_keeps_the_old_data(seeded, tmp_path, fresh_db):
    """Force over a database with data, from a backup cut at 90 % (manifest forged to match): refused, and the old
    data stays whole (SQLite: the temp file never replaces it; PostgreSQL: the drops and the load share one
    transaction that is never committed)."""
    from crm.backup import _sha256_file

    info = backup(source_url(seeded), tmp_path / f"b.{EXT}")
    target = fresh_db()
    restore(info.path, target)
    engine = create_engine(target, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM customer_family"))
    engine.dispose()
    before = fingerprints(target)
    data = info.path.read_bytes()
    manifest = json.loads(info.manifest_path.read_text(encoding="utf-8"))
    info.path.write_bytes(data[: len(data) * 9 // 10])
    forged = dict(manifest, file_sha256=_sha256_file(info.path), file_size=len(data) * 9 // 10)
    info.manifest_path.write_text(json.dumps(forged), encoding="utf-8")
    with pytest.raises(BackupError, match="损坏|失败"):
        restore(info.path, target, force=True)
    assert fingerprints(target) == before
    assert integrity(target) == ["ok"]


@pytest.mark.skipif(bool(PG_URL), reason="PostgreSQL restores in one transaction; this checks the SQLite temp file")
def test_sqlite_restore_that_does_not_verify_leaves_the_target_untouched(seeded, tmp_path, fresh_db):
    info = backup(source_url(seeded), tmp_path / "b.sqlite3")
    manifest = json.loads(info.manifest_path.read_text(encoding="utf-8"))
    manifest["tables"]["customer"]["rows"] += 1
    info.manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    target = fresh_db()
    with pytest.raises(BackupError, match="恢复后的数据与备份清单不一致：表 customer 行数应为 121，实为 120"):
        restore(info.path, target)
    path = Path(target.removeprefix("sqlite:///"))
    assert not path.exists() and not list(path.parent.glob(f".{path.name}.*"))  # no temp file left either


def test_restore_refuses_a_backup_of_the_other_database_kind(seeded, tmp_path, fresh_db):
    info = backup(source_url(seeded), tmp_path / f"b.{EXT}")
    other = "postgresql+psycopg://postgres@127.0.0.1:5432/none" if not PG_URL else f"sqlite:///{tmp_path}/x.sqlite3"
    with pytest.raises(BackupError, match="不能恢复到"):
        restore(info.path, other)


def test_cli_backup_and_restore(seeded, tmp_path, fresh_db):
    runner = seeded.test_cli_runner()
    result = runner.invoke(args=["backup"])
    assert result.exit_code == 0, result.output
    default = next((Path(seeded.instance_path) / "backups").glob(f"crm-*.{EXT}"))
    assert str(default) in result.output and "备份完成" in result.output

    path = tmp_path / f"cli.{EXT}"
    result = runner.invoke(args=["backup", "--output", str(path)])
    assert result.exit_code == 0 and str(path) in result.output and path.is_file()

    target = fresh_db()
    fresh_app = create_app(base_config(tmp_path / "fresh", target))
    fresh_runner = fresh_app.test_cli_runner()
    with fresh_app.app_context():  # the command runs on the fresh instance, not on the seeded app of the fixture
        result = fresh_runner.invoke(args=["restore", str(path)])
        assert result.exit_code == 0, result.output
        assert "恢复完成并已校验" in result.output and str(path) in result.output
        assert fingerprints(target) == fingerprints(source_url(seeded))

        result = fresh_runner.invoke(args=["restore", str(path)])
        assert result.exit_code == 1 and "恢复失败：目标数据库不是空的" in result.output
        result = fresh_runner.invoke(args=["restore", str(path), "--force"])
        assert result.exit_code == 0, result.output
        db.session.remove()
        db.engine.dispose()

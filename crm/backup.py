"""Backup and restore of the whole database (issue 8, Operations): SQLite online backup API or pg_dump/pg_restore,
each backup with a JSON manifest (row counts and checksums per table) that the restore verifies itself against."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import NullPool

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = 1
CHUNK = 5_000


class BackupError(RuntimeError):
    """A backup or restore that cannot go ahead or did not verify; the message is for the operator (Chinese)."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    manifest_path: Path
    dialect: str
    tables: int
    rows: int
    size: int
    seconds: float
    heads: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RestoreInfo:
    source: Path
    target: str  # the database URL, password hidden
    dialect: str
    tables: int
    rows: int
    seconds: float
    heads: list[str] = field(default_factory=list)
    replaced: bool = False  # a non-empty target was overwritten (force)


Fingerprints = dict[str, tuple[int, str]]


# ---------------------------------------------------------------- fingerprints

def _canonical(value: Any) -> str:
    """One value as text that is the same whether it was read before the backup or after the restore."""
    if value is None:
        return "N"
    if isinstance(value, bool):
        return "b1" if value else "b0"
    if isinstance(value, int):
        return f"i{value}"
    if isinstance(value, Decimal):
        return f"d{value}"
    if isinstance(value, float):
        return f"f{value!r}"
    if isinstance(value, str):
        return f"s{value}"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"x{bytes(value).hex()}"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return f"t{value.isoformat()}"
    if isinstance(value, date | dtime):
        return f"t{value.isoformat()}"
    if isinstance(value, UUID):
        return f"u{value}"
    if isinstance(value, dict | list):
        return "j" + json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return f"{type(value).__name__}:{value!r}"


def _row_bytes(row: Iterable[Any]) -> bytes:
    parts = [_canonical(v) for v in row]
    return ("\x1f".join(f"{len(p)}:{p}" for p in parts) + "\x1e").encode()


def _fingerprint_table(conn: Connection, table: str, pk: list[str]) -> tuple[int, str]:
    quote = conn.dialect.identifier_preparer.quote
    digest = hashlib.sha256()
    count = 0
    if pk:
        sql = f"SELECT * FROM {quote(table)} ORDER BY {', '.join(quote(c) for c in pk)}"  # nosec B608  # quoted table/PK names from the schema inspector, no user input
        result = conn.execution_options(stream_results=True, yield_per=CHUNK).exec_driver_sql(sql)
        for row in result:
            digest.update(_row_bytes(row))
            count += 1
    else:  # no primary key: the rows in the order of their own canonical bytes
        rows = sorted(_row_bytes(r) for r in conn.exec_driver_sql(f"SELECT * FROM {quote(table)}"))  # nosec B608  # quoted table name from the schema inspector
        for raw in rows:
            digest.update(raw)
        count = len(rows)
    return count, digest.hexdigest()


def _fingerprints(conn: Connection) -> Fingerprints:
    inspector = inspect(conn)
    # Every table, alembic_version included: a verified restore also proves the schema revision came back.
    tables = sorted(inspector.get_table_names())
    # One catalogue query for every primary key (a query per table costs more than hashing a small table).
    keys = {name: pk.get("constrained_columns") or [] for (_schema, name), pk in inspector.get_multi_pk_constraint().items()}
    return {t: _fingerprint_table(conn, t, keys.get(t, [])) for t in tables}


def table_fingerprints(engine: Engine) -> Fingerprints:
    """Every table of the database → (row count, sha256 of its rows in primary-key order), read in one transaction."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        result = _fingerprints(conn)
        conn.rollback()
    return result


def _heads(conn: Connection, tables: Iterable[str]) -> list[str]:
    if "alembic_version" not in tables:
        return []
    return sorted(r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version"))


# ---------------------------------------------------------------- helpers

def _url(db_url: str | URL) -> URL:
    url = make_url(db_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver we ship (crm/config.py)
    return url


def _dialect(url: URL) -> str:
    name = url.get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"不支持的数据库类型：{name}（仅支持 SQLite 和 PostgreSQL）。")
    return name


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError("内存数据库或 URI 形式的 SQLite 数据库无法备份或恢复，请使用数据库文件路径。")
    return Path(url.database).resolve()


def _engine(url: URL | str) -> Engine:
    return create_engine(url, poolclass=NullPool)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_beside(path: Path, suffix: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(name)


def _app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wangdian-crm")
    except PackageNotFoundError:
        return "unknown"


def manifest_path_for(path: str | os.PathLike[str]) -> Path:
    """The manifest that belongs to a backup file: the same name plus `.manifest.json`."""
    return Path(str(path) + MANIFEST_SUFFIX)


def _write_manifest(path: Path, manifest: dict[str, Any]) -> Path:
    target = manifest_path_for(path)
    tmp = _temp_beside(target, ".tmp")
    try:
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _manifest(dialect: str, heads: list[str], prints: Fingerprints, file: Path) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "app_version": _app_version(),
        "dialect": dialect,
        "alembic_heads": heads,
        "file": file.name,
        "file_size": file.stat().st_size,
        "file_sha256": _sha256_file(file),
        "tables": {t: {"rows": n, "sha256": h} for t, (n, h) in sorted(prints.items())},
    }


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"找不到 {name} 程序：请安装 PostgreSQL 客户端工具（Debian：apt-get install postgresql-client），"
                          f"版本不低于数据库服务器，并确保它在 PATH 中。")
    return found


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for pg_dump/pg_restore and the environment carrying the password (so it never
    shows in the process list)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv
    if proc.returncode != 0:
        raise BackupError(_failure(what, proc.returncode, proc.stderr or proc.stdout))


# ---------------------------------------------------------------- backup

def backup(db_url: str | URL, target_path: str | os.PathLike[str]) -> BackupInfo:
    """Write a consistent copy of the database to `target_path` (never overwriting) and its manifest beside it."""
    started = time.perf_counter()
    url = _url(db_url)
    dialect = _dialect(url)
    target = Path(target_path).resolve()
    if target.exists() or manifest_path_for(target).exists():
        raise BackupError(f"备份文件 {target} 已存在，不会覆盖；请指定新的文件名。")
    if dialect == "sqlite":
        heads, prints = _backup_sqlite(url, target)
    else:
        heads, prints = _backup_postgresql(url, target)
    try:
        manifest_file = _write_manifest(target, _manifest(dialect, heads, prints, target))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return BackupInfo(path=target, manifest_path=manifest_file, dialect=dialect, tables=len(prints),
                      rows=sum(n for n, _ in prints.values()), size=target.stat().st_size,
                      seconds=round(time.perf_counter() - started, 2), heads=heads)


def _sqlite_check(path: Path) -> None:
    """PRAGMA integrity_check must answer exactly "ok", and no row may break a foreign key."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"数据库文件已损坏或不是 SQLite 数据库：{exc}") from exc
    if result != ["ok"]:
        raise BackupError("数据库完整性检查未通过：" + "；".join(str(r) for r in result[:5]))
    if broken:
        tables = sorted({r[0] for r in broken})
        raise BackupError(f"数据库外键检查未通过：{len(broken)} 行引用了不存在的记录（表 {'、'.join(tables)}）。")


def _sqlite_fingerprints(path: Path) -> tuple[list[str], Fingerprints]:
    engine = _engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            prints = _fingerprints(conn)
            heads = _heads(conn, prints)
    except Exception as exc:
        raise BackupError(f"读取数据库文件失败：{exc.__class__.__name__}: {exc}") from exc
    finally:
        engine.dispose()
    return heads, prints


def _backup_sqlite(url: URL, target: Path) -> tuple[list[str], Fingerprints]:
    """SQLite online backup API: a consistent copy page by page while the app keeps running (WAL content included);
    the copy is checked and fingerprinted itself, then renamed into place."""
    source = _sqlite_path(url)
    if not source.exists():
        raise BackupError(f"数据库文件 {source} 不存在。")
    tmp = _temp_beside(target, ".tmp")
    try:
        src = sqlite3.connect(source, timeout=30)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)  # one step: a single read snapshot; in WAL mode writers carry on meanwhile
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            dst.close()
            src.close()
        _sqlite_check(tmp)
        heads, prints = _sqlite_fingerprints(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return heads, prints


def _backup_postgresql(url: URL, target: Path) -> tuple[list[str], Fingerprints]:
    """pg_dump --format=custom from an exported snapshot, fingerprinted in the same snapshot: the manifest describes
    exactly the rows in the dump even while the app writes."""
    pg_dump = _tool("pg_dump")
    libpq, env = _libpq(url)
    engine = _engine(url)
    tmp = _temp_beside(target, ".tmp")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={tmp}", f"--dbname={libpq}"],
                 env, "pg_dump 备份")
            prints = _fingerprints(conn)
            heads = _heads(conn, prints)
            conn.rollback()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        engine.dispose()
    return heads, prints


# ---------------------------------------------------------------- restore

def read_manifest(source: Path) -> dict[str, Any]:
    """The backup's manifest, after checking that the backup file is exactly the one it describes."""
    path = manifest_path_for(source)
    if not source.is_file():
        raise BackupError(f"备份文件 {source} 不存在。")
    if not path.is_file():
        raise BackupError(f"找不到备份清单 {path.name}（与备份文件放在同一目录）：无法校验备份，拒绝恢复。")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        tables = {t: (int(v["rows"]), str(v["sha256"])) for t, v in manifest["tables"].items()}
        manifest["tables"] = tables
        expected_sha = manifest["file_sha256"]
        dialect = manifest["dialect"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"备份清单 {path.name} 无法读取或内容不完整，拒绝恢复。") from exc
    if manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"备份清单格式版本 {manifest.get('format')} 不受支持（本程序支持 {MANIFEST_FORMAT}）。")
    if dialect not in ("sqlite", "postgresql"):
        raise BackupError(f"备份清单中的数据库类型 {dialect!r} 不受支持。")
    size = source.stat().st_size
    if size != manifest.get("file_size") or _sha256_file(source) != expected_sha:
        raise BackupError(f"备份文件 {source.name} 已损坏或不完整（大小或校验和与备份清单不符），拒绝恢复。")
    return manifest


def _compare(expected: Fingerprints, actual: Fingerprints) -> None:
    problems: list[str] = []
    for table in sorted(set(expected) | set(actual)):
        if table not in actual:
            problems.append(f"缺少表 {table}")
        elif table not in expected:
            problems.append(f"多出表 {table}")
        elif expected[table][0] != actual[table][0]:
            problems.append(f"表 {table} 行数应为 {expected[table][0]}，实为 {actual[table][0]}")
        elif expected[table][1] != actual[table][1]:
            problems.append(f"表 {table} 内容校验和不符")
    if problems:
        more = f"等 {len(problems)} 处" if len(problems) > 5 else ""
        raise BackupError("恢复后的数据与备份清单不一致：" + "；".join(problems[:5]) + more + "。")


def _occupied(conn: Connection) -> list[str]:
    """Tables of the target that hold rows (alembic_version alone does not count)."""
    quote = conn.dialect.identifier_preparer.quote
    full = []
    for table in sorted(inspect(conn).get_table_names()):
        if table == "alembic_version":
            continue
        if conn.exec_driver_sql(f"SELECT 1 FROM {quote(table)} LIMIT 1").first() is not None:  # nosec B608  # quoted table name from the schema inspector
            full.append(table)
    return full


def _refuse_occupied(full: list[str]) -> None:
    names = "、".join(full[:5]) + ("……" if len(full) > 5 else "")
    raise BackupError(f"目标数据库不是空的：已有 {len(full)} 张表存有数据（{names}）。"
                      "恢复会覆盖现有数据；确认要覆盖请加 --force。")


def restore(source_path: str | os.PathLike[str], db_url: str | URL, *, force: bool = False) -> RestoreInfo:
    """Restore a backup made by `backup` into `db_url` and verify every table against the manifest.

    Refuses a target that holds data unless `force`. SQLite: the copy is checked in a temp file and renamed over the
    target only when it verifies, so the target is never half restored. PostgreSQL: pg_restore in one transaction.
    Stop the app (web and workers) before restoring.
    """
    started = time.perf_counter()
    source = Path(source_path).resolve()
    url = _url(db_url)
    dialect = _dialect(url)
    manifest = read_manifest(source)
    if manifest["dialect"] != dialect:
        kinds = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        raise BackupError(f"这是 {kinds[manifest['dialect']]} 数据库的备份，不能恢复到 {kinds[dialect]} 数据库。")
    expected: Fingerprints = manifest["tables"]
    if dialect == "sqlite":
        replaced = _restore_sqlite(source, url, expected, force)
    else:
        replaced = _restore_postgresql(source, url, expected, force)
    return RestoreInfo(source=source, target=url.render_as_string(hide_password=True), dialect=dialect,
                       tables=len(expected), rows=sum(n for n, _ in expected.values()),
                       seconds=round(time.perf_counter() - started, 2),
                       heads=list(manifest.get("alembic_heads") or []), replaced=replaced)


def _restore_sqlite(source: Path, url: URL, expected: Fingerprints, force: bool) -> bool:
    target = _sqlite_path(url)
    replaced = False
    if target.exists() and target.stat().st_size:
        _sqlite_check_readable(target)
        engine = _engine(f"sqlite:///{target}")
        try:
            with engine.connect() as conn:
                full = _occupied(conn)
        finally:
            engine.dispose()
        if full and not force:
            _refuse_occupied(full)
        replaced = bool(full)
    tmp = _temp_beside(target, ".restore")
    try:
        shutil.copyfile(source, tmp)
        if target.exists():  # keep the file's permissions (new files stay 0600: the data is C2 personal data)
            os.chmod(tmp, target.stat().st_mode & 0o777)
        _sqlite_check(tmp)
        _, actual = _sqlite_fingerprints(tmp)
        _compare(expected, actual)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        # A -wal or -shm left by the old file would be replayed onto the new one: remove them first.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return replaced


def _sqlite_check_readable(target: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"目标文件 {target} 不是可读的 SQLite 数据库，拒绝覆盖：{exc}") from exc


def _restore_postgresql(source: Path, url: URL, expected: Fingerprints, force: bool) -> bool:
    """pg_restore's SQL streamed into psql inside one transaction that also drops the old tables: the target ends up
    either wholly restored or exactly as it was (the COMMIT is sent only when pg_restore has read the whole file)."""
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    libpq, env = _libpq(url)
    # The archive must be readable before anything in the target is touched.
    _run([pg_restore, "--list", str(source)], env, "读取备份文件")
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            full = _occupied(conn)
            if full and not force:
                _refuse_occupied(full)
            quote = conn.dialect.identifier_preparer.quote
            drops = [f"DROP TABLE IF EXISTS {quote(t)} CASCADE;\n" for t in inspect(conn).get_table_names()]
            conn.rollback()
        _pipe_restore(pg_restore, psql, libpq, env, source, drops)
        with engine.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            actual = _fingerprints(conn)
            conn.rollback()
    finally:
        engine.dispose()
    _compare(expected, actual)
    return bool(full)


def _pipe_restore(pg_restore: str, psql: str, libpq: str, env: dict[str, str], source: Path, drops: list[str]) -> None:
    with tempfile.TemporaryFile() as restore_err, tempfile.TemporaryFile() as psql_out:
        dump = subprocess.Popen([pg_restore, "--clean", "--if-exists", "--no-owner", "--file=-", str(source)],  # noqa: S603
                                stdout=subprocess.PIPE, stderr=restore_err, env=env)
        load = subprocess.Popen([psql, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", f"--dbname={libpq}"],  # noqa: S603
                                stdin=subprocess.PIPE, stdout=psql_out, stderr=subprocess.STDOUT, env=env)
        assert dump.stdout is not None and load.stdin is not None
        broken = False
        try:
            load.stdin.write(b"BEGIN;\n" + "".join(drops).encode())
            for block in iter(lambda: dump.stdout.read(1 << 20), b""):
                load.stdin.write(block)
        except BrokenPipeError:
            broken = True  # psql stopped at an error (ON_ERROR_STOP): its transaction is rolled back
        dump.stdout.close()
        dump_rc = dump.wait()
        if dump_rc != 0 and load.poll() is None:
            load.kill()  # no COMMIT reaches the server: the connection drops and the transaction rolls back
        elif not broken:
            try:
                load.stdin.write(b"COMMIT;\n")
            except BrokenPipeError:
                pass
        try:
            load.stdin.close()
        except BrokenPipeError:
            pass
        load_rc = load.wait()
        if dump_rc != 0:
            restore_err.seek(0)
            raise BackupError(_failure("pg_restore 读取备份", dump_rc, restore_err.read()) + "目标数据库未被改动。")
        if load_rc != 0:
            psql_out.seek(0)
            raise BackupError(_failure("psql 写入数据库", load_rc, psql_out.read()) + "目标数据库未被改动。")


def _failure(what: str, rc: int, output: bytes | str) -> str:
    text = output.decode(errors="replace") if isinstance(output, bytes) else output
    lines = [line for line in text.strip().splitlines() if line.strip()]
    how = f"异常终止（信号 {-rc}），备份文件可能已损坏" if rc < 0 else f"退出码 {rc}"
    return f"{what}失败（{how}）：" + ("；".join(lines[-5:]) or "无输出") + "。"

"""The audit hash chain: seal committed audit rows into audit_seal, and verify the chain (`crm audit`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine

from crm.models.audit import AuditLog, AuditSeal
from crm.timeutil import utcnow

log = logging.getLogger(__name__)

GENESIS = "0" * 64  # prev_hash of the first link
BATCH = 2000  # rows sealed per transaction: short transactions, bounded memory
# pg_advisory_xact_lock key: any constant bigint the app uses for nothing else ("audit" in ASCII).
PG_LOCK_KEY = 0x6175646974
_AUDIT = AuditLog.__table__
_SEAL = AuditSeal.__table__
_COLUMNS = sorted(c.name for c in _AUDIT.columns)


# ---------------------------------------------------------------------------------------------- keys

def _derive(secret: str) -> bytes:
    # A derived key rather than the secret itself: the chain key is useless for forging session cookies.
    return hmac.new(secret.encode(), b"crm audit chain v1", hashlib.sha256).digest()


def _key_id(key: bytes) -> str:
    return hmac.new(key, b"key id", hashlib.sha256).hexdigest()[:16]


def audit_keys(config: Any = None) -> list[tuple[str, bytes]]:
    """(key id, key) pairs: the first seals, all of them verify. CRM_AUDIT_KEY (a comma-separated list) comes
    first, then the key derived from SECRET_KEY — someone with only database access can recompute neither."""
    config = config if config is not None else current_app.config
    secrets = [s.strip() for s in (config.get("CRM_AUDIT_KEY") or "").split(",") if s.strip()]
    secrets.append(config["SECRET_KEY"])
    keys: list[tuple[str, bytes]] = []
    for secret in secrets:
        key = _derive(secret)
        if all(k != key for _, k in keys):
            keys.append((_key_id(key), key))
    return keys


# ---------------------------------------------------------------------------------------------- hashing

def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def canonical(row: Any) -> bytes:
    """Every column of an audit row, by name, as compact sorted JSON: what the hash covers."""
    data = {name: _plain(row._mapping[name]) for name in _COLUMNS}
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def link_hash(key: bytes, prev_hash: str, row: Any) -> str:
    return hmac.new(key, prev_hash.encode() + b"\n" + canonical(row), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------------- sealing

def _lock(conn: Connection) -> None:
    """Serialise sealers, so two of them never extend the same head (the unique prev_hash would refuse the second
    anyway): SQLite takes the write lock up front, PostgreSQL a transaction-scoped advisory lock."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})


def _head(conn: Connection) -> tuple[int, str]:
    row = conn.execute(select(_SEAL.c.audit_id, _SEAL.c.hash).order_by(_SEAL.c.audit_id.desc()).limit(1)).first()
    return (row.audit_id, row.hash) if row else (0, GENESIS)


def seal(engine: Engine | None = None, *, delay_seconds: int | None = None, config: Any = None,
         now: datetime | None = None) -> int:
    """Seal every committed audit row above the chain head that is older than the safety margin, in id order;
    return how many rows were sealed. Stops at the first row younger than the margin: a transaction that began
    before it may still commit a row with a lower id."""
    config = config if config is not None else current_app.config
    engine = engine if engine is not None else _engine()
    delay = config["CRM_AUDIT_SEAL_DELAY_SECONDS"] if delay_seconds is None else delay_seconds
    cutoff = (now or utcnow()) - timedelta(seconds=delay)
    key_id, key = audit_keys(config)[0]
    total = 0
    while True:
        with engine.connect() as conn:
            _lock(conn)
            head_id, head_hash = _head(conn)
            rows = conn.execute(select(_AUDIT).where(_AUDIT.c.id > head_id).order_by(_AUDIT.c.id)
                                .limit(BATCH)).all()
            links = []
            sealed_at = utcnow()
            for row in rows:
                if row.created_at is None or row.created_at >= cutoff:
                    break
                digest = link_hash(key, head_hash, row)
                links.append({"audit_id": row.id, "prev_hash": head_hash, "hash": digest, "key_id": key_id,
                              "sealed_at": sealed_at})
                head_hash = digest
            if links:
                conn.execute(_SEAL.insert(), links)
            conn.commit()
        total += len(links)
        if len(links) < BATCH:
            return total


def _engine() -> Engine:
    from crm.extensions import db

    return db.engine


# ---------------------------------------------------------------------------------------------- verifying

@dataclass
class Problem:
    audit_id: int
    kind: str  # altered | deleted | relinked | unknown_key | unsealed_below_head
    message: str


@dataclass
class Report:
    sealed: int = 0
    head_id: int = 0
    head_hash: str = GENESIS
    unsealed: int = 0  # above the head: newer than the margin, or not sealed yet
    oldest: datetime | None = None
    total_rows: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_MESSAGES = {
    "altered": "审计记录 #{id} 在封存后被修改 / audit row #{id} was altered after it was sealed",
    "deleted": "审计记录 #{id} 在封存后被删除 / audit row #{id} was deleted after it was sealed",
    "relinked": "封存链在审计记录 #{id} 处断开（封存记录被删除、插入或调换）/ the seal chain breaks at audit row "
                "#{id} (a seal was removed, inserted or reordered)",
    "unknown_key": "审计记录 #{id} 的封存密钥未知（CRM_AUDIT_KEY 或 CRM_SECRET_KEY 是否变更过？）/ audit row #{id} was "
                   "sealed with an unknown key (was CRM_AUDIT_KEY or CRM_SECRET_KEY changed?)",
    "unsealed_below_head": "审计记录 #{id} 不在封存链中，却早于已封存的记录（事后插入？）/ audit row #{id} is missing from "
                           "the chain although later rows are sealed (inserted afterwards?)",
}


def _problem(report: Report, audit_id: int, kind: str) -> None:
    report.problems.append(Problem(audit_id, kind, _MESSAGES[kind].format(id=audit_id)))


def verify(engine: Engine | None = None, *, config: Any = None) -> Report:
    """Recompute the whole chain in one read snapshot and list every broken link, first one first."""
    config = config if config is not None else current_app.config
    engine = engine if engine is not None else _engine()
    keys = dict(audit_keys(config))
    report = Report()
    joined = _SEAL.outerjoin(_AUDIT, _AUDIT.c.id == _SEAL.c.audit_id)
    audit_cols = [c.label(f"a_{c.name}") for c in _AUDIT.columns]
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot: rows sealed meanwhile do not count as missing
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        prev = GENESIS
        last_id = 0
        while True:  # keyset pages: a million links never sit in memory at once
            page = conn.execute(select(_SEAL, *audit_cols).select_from(joined).where(_SEAL.c.audit_id > last_id)
                                .order_by(_SEAL.c.audit_id).limit(BATCH)).all()
            for link in page:
                m = link._mapping
                report.sealed += 1
                last_id = link.audit_id
                if link.prev_hash != prev:
                    _problem(report, link.audit_id, "relinked")
                prev = link.hash
                if m["a_id"] is None:
                    _problem(report, link.audit_id, "deleted")
                    continue
                key = keys.get(link.key_id)
                if key is None:
                    _problem(report, link.audit_id, "unknown_key")
                    continue
                row = _Row({name: m[f"a_{name}"] for name in _COLUMNS})
                if not hmac.compare_digest(link_hash(key, link.prev_hash, row), link.hash):
                    _problem(report, link.audit_id, "altered")
            if len(page) < BATCH:
                break
        report.head_id, report.head_hash = last_id, prev
        missing = conn.execute(select(_AUDIT.c.id).where(_AUDIT.c.id < last_id)
                               .where(~select(_SEAL.c.audit_id).where(_SEAL.c.audit_id == _AUDIT.c.id).exists())
                               .order_by(_AUDIT.c.id)).scalars().all()
        for audit_id in missing:
            _problem(report, audit_id, "unsealed_below_head")
        report.problems.sort(key=lambda p: p.audit_id)
        report.unsealed = conn.execute(select(func.count()).select_from(_AUDIT)
                                       .where(_AUDIT.c.id > last_id)).scalar_one()
        report.total_rows, report.oldest = conn.execute(select(func.count(), func.min(_AUDIT.c.created_at))).one()
    return report


class _Row:
    """A row-like view (._mapping) of the audit columns of a joined result."""

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping


# ---------------------------------------------------------------------------------------------- in-process sealing

@dataclass
class _SealState:
    next_due: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None


def init_app(app: Flask) -> None:
    """Seal in the background of a running app at most every CRM_AUDIT_SEAL_INTERVAL_MINUTES: after a request a
    clock comparison decides, and the sealing itself runs in a thread so no user waits for it. A timer running
    `crm audit seal` covers quiet periods (README)."""
    minutes = app.config.get("CRM_AUDIT_SEAL_INTERVAL_MINUTES") or 0
    if minutes <= 0:
        return
    state = _SealState(next_due=time.monotonic() + minutes * 60)
    app.extensions["crm_audit_seal"] = state

    @app.after_request
    def _maybe_seal(response):
        if time.monotonic() < state.next_due or not state.lock.acquire(blocking=False):
            return response
        state.next_due = time.monotonic() + minutes * 60
        state.thread = threading.Thread(target=_seal_in_background, args=(app, state), daemon=True,
                                        name="crm-audit-seal")
        state.thread.start()
        return response


def _seal_in_background(app: Flask, state: _SealState) -> None:
    try:
        with app.app_context():
            count = seal()
            if count:
                log.info("audit chain: sealed %d rows", count)
    except Exception:  # a failed seal is retried at the next interval; the request is long answered
        log.exception("audit chain: sealing failed")
    finally:
        state.lock.release()

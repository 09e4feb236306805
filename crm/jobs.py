"""Background jobs: their state and files, run in a thread of this process or by `crm worker` (RQ on Redis).

Two backends, chosen by the configuration, behind one API (JobStore):

* Embedded (no CRM_REDIS_URL, the default): a job is a JSON file in the instance folder
  (`instance/<kind>/<id>.json`, its files next to it as `<id><suffix>`), and the work runs in a daemon thread of
  the process that took the request. All processes of one machine see the same jobs.
* Redis (CRM_REDIS_URL set): the job, its files and its lease live in Redis under `crm:jobs:<kind>:…`, each key
  expiring after the store's `keep_seconds`, so every app server sees every job. A store whose work was
  registered with `JobStore.runs` is put on the RQ queue `crm` and run by `crm worker` (crm/worker.py), with RQ's
  retries for idempotent work; other work still runs in a thread of the process that took the request, its state
  in Redis. `CRM_JOBS_IN_PROCESS = True` keeps all work in threads (state still in Redis).

A job's file is published whole or not at all (`put_file`: rendered under a scratch name first, then an
os.replace or one Redis SET), so a job killed mid-way leaves nothing to download, never a truncated file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flask import Flask, abort, current_app
from flask_babel import force_locale, get_locale
from flask_login import current_user

from crm.extensions import db

log = logging.getLogger("crm.jobs")

JOB_ID = re.compile(r"[A-Za-z0-9_-]{20,40}")
SUFFIX = re.compile(r"[A-Za-z0-9_.-]{1,40}")
# The RQ queue `crm worker` listens on, and the prefix of the jobs' Redis keys (`<namespace>:jobs:…`). One
# installation per Redis database needs nothing else; CRM_JOBS_NAMESPACE separates installations (or test runs)
# sharing one.
NAMESPACE = "crm"
# A job a worker (or thread) runs holds a lease key in Redis, refreshed every LEASE_SECONDS / 5: a worker killed
# (kill -9, OOM, a lost machine) stops refreshing it, and the job reads as interrupted LEASE_SECONDS later,
# whatever the store's stale_seconds.
LEASE_SECONDS = 10
QUEUE_SECONDS = 3600  # a job still waiting on the queue after this long is dropped by RQ and reads as interrupted
JOB_TIMEOUT = 3600  # RQ kills a job running longer than this (the largest ledger takes a few minutes)

Work = Callable[[], None]
Failed = Callable[[BaseException], dict[str, Any]]
Factory = Callable[[dict[str, Any]], tuple[Work, Failed]]

_STORES: dict[str, JobStore] = {}
_worker_app: Flask | None = None
_worker_pid: int | None = None


# ---------------------------------------------------------------- Redis

def redis_client(app: Flask | None = None) -> Any:
    """The app's Redis connection for jobs (one pool per app and process), or None without CRM_REDIS_URL."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = app.config.get("CRM_REDIS_URL")
    if not url:
        return None
    client = app.extensions.get("crm_jobs_redis")
    if client is None:
        import redis

        client = app.extensions.setdefault("crm_jobs_redis", redis.Redis.from_url(url))
    return client


def namespace(app: Flask | None = None) -> str:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return str(app.config.get("CRM_JOBS_NAMESPACE") or NAMESPACE)


def uses_queue(app: Flask | None = None) -> bool:
    """Do registered jobs go to the RQ queue (Redis configured, not kept in-process)?"""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return bool(app.config.get("CRM_REDIS_URL")) and not app.config.get("CRM_JOBS_IN_PROCESS")


def stores() -> list[JobStore]:
    """Every job store of the installed code (core and plugins), by kind."""
    return [_STORES[k] for k in sorted(_STORES)]


def store_of(kind: str) -> JobStore | None:
    return _STORES.get(kind)


class JobStore:
    """The jobs of one kind: state, files, and the work that runs them.

    A job is a plain dict, saved whole on every save (atomically: a reader gets one save or the other); `heartbeat`
    is the time of the last save. A running job not saved for `stale_seconds` (or whose Redis lease lapsed) was
    interrupted. Only the user who started a job sees it (`own`: anyone else gets 404). Jobs and their files go
    after `keep_seconds` (`cleanup`, or the Redis TTL).
    """

    def __init__(self, kind: str, *, keep_seconds: float, stale_seconds: float = 300) -> None:
        self.kind = kind
        self.keep_seconds = keep_seconds
        self.stale_seconds = stale_seconds
        self.factory: Factory | None = None
        self.retries = 0
        self.final: tuple[type[BaseException], ...] = ()
        self._threads: dict[str, threading.Thread] = {}
        _STORES[kind] = self

    def runs(self, *, retries: int = 0, final: tuple[type[BaseException], ...] = ()) -> Callable[[Factory], Factory]:
        """Register the work of this kind: `factory(job) -> (work, failed)`, built wherever the job runs (a worker
        has no request: everything the work needs is in the job dict). `retries`: how often RQ runs it again
        after an unexpected error (only for work that may safely run twice); exceptions of `final` are the
        user's answer (too large, out of scope) and are never retried."""
        def register(factory: Factory) -> Factory:
            self.factory, self.retries, self.final = factory, retries, final
            return factory

        return register

    # ------------------------------------------------------------ where things are

    def _redis(self) -> Any:
        return redis_client()

    def _key(self, job_id: str, *parts: str) -> str:
        return ":".join((namespace(), "jobs", self.kind, job_id, *parts))

    def _index(self) -> str:
        return f"{namespace()}:jobs:{self.kind}:index"

    def folder(self) -> Path:
        path = Path(current_app.instance_path) / self.kind
        path.mkdir(parents=True, exist_ok=True)
        return path

    def path(self, job_id: str, suffix: str = ".json") -> Path:
        """The file of a job in the embedded backend (with Redis, files are in Redis: use `open_file`)."""
        return self.folder() / f"{job_id}{suffix}"

    # ------------------------------------------------------------ state

    def save(self, job: dict[str, Any]) -> None:
        job["heartbeat"] = time.time()
        data = json.dumps(job, ensure_ascii=False)
        redis = self._redis()
        if redis is not None:
            ttl = max(1, int(self.keep_seconds))
            with redis.pipeline() as pipe:
                pipe.set(self._key(job["id"]), data.encode("utf-8"), ex=ttl)
                pipe.zadd(self._index(), {job["id"]: job.get("started") or job["heartbeat"]})
                pipe.expire(self._index(), ttl)
                pipe.execute()
            return
        folder = self.folder()
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".job-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, folder / f"{job['id']}.json")

    def load(self, job_id: str | None) -> dict[str, Any] | None:
        if not JOB_ID.fullmatch(job_id or ""):
            return None
        assert job_id is not None
        redis = self._redis()
        try:
            if redis is not None:
                raw = redis.get(self._key(job_id))
                if raw is None:
                    return None
                job = json.loads(raw)
            else:
                job = json.loads(self.path(job_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if job.get("state") == "running" and self._interrupted(job, redis):
            job["state"] = "interrupted"
        return job

    def _interrupted(self, job: dict[str, Any], redis: Any) -> bool:
        age = time.time() - job.get("heartbeat", 0)
        if redis is not None and job.get("leased"):
            # Held by a worker: alive as long as its lease is (a fresh save also counts, lease or not).
            return age > LEASE_SECONDS and not redis.exists(self._key(job["id"], "lease"))
        if job.get("queued_at"):
            return time.time() - job["queued_at"] > QUEUE_SECONDS  # waiting for a free worker is not dying
        return age > self.stale_seconds

    def own(self, job_id: str) -> dict[str, Any]:
        """The current user's job, or 404 (someone else's job looks exactly like a job that does not exist)."""
        job = self.load(job_id)
        if job is None or job.get("user_id") != current_user.id:
            abort(404)
        return job

    def ids(self) -> list[str]:
        """The ids of the jobs still kept, oldest first."""
        redis = self._redis()
        if redis is not None:
            return [i.decode() if isinstance(i, bytes) else i for i in redis.zrange(self._index(), 0, -1)]
        paths = sorted(self.folder().glob("*.json"), key=lambda p: p.stat().st_mtime if p.exists() else 0)
        return [p.stem for p in paths]

    def all(self) -> Iterator[dict[str, Any]]:
        for job_id in self.ids():
            job = self.load(job_id)
            if job is not None:
                yield job

    def cleanup(self) -> None:
        limit = time.time() - self.keep_seconds
        redis = self._redis()
        if redis is not None:
            # The jobs and files expire by themselves; the index forgets what expired.
            gone = [i for i in self.ids() if not redis.exists(self._key(i))]
            if gone:
                redis.zrem(self._index(), *gone)
        for path in self.folder().iterdir():  # with Redis: scratch files a killed worker left behind
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
            except OSError:
                pass

    def running_job_of(self, user_id: int) -> dict[str, Any] | None:
        for job in self.all():
            if job.get("user_id") == user_id and job.get("state") == "running":
                return job
        return None

    def new(self, **fields: Any) -> dict[str, Any]:
        """A running job of the current user (not saved yet)."""
        return {"id": secrets.token_urlsafe(18), "user_id": current_user.id, "state": "running",
                "started": time.time(), "finished": None, **fields}

    def delete(self, job_id: str) -> None:
        """Forget a job and its files (the failed-jobs page)."""
        if not JOB_ID.fullmatch(job_id or ""):
            return
        redis = self._redis()
        if redis is not None:
            keys = [self._key(job_id), self._key(job_id, "lease")]
            keys += [k for k in redis.scan_iter(match=self._key(job_id, "file", "*"))]
            redis.delete(*keys)
            redis.zrem(self._index(), job_id)
            return
        for path in self.folder().glob(f"{job_id}*"):
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------ files

    def scratch(self, job_id: str, suffix: str) -> Path:
        """Where a job writes a file before `put_file` publishes it. Never served; a scratch file left by a killed
        job is deleted by `cleanup` after `keep_seconds`."""
        return self.folder() / f".{job_id}{suffix}.part"

    def put_file(self, job_id: str, suffix: str, source: Path | str | bytes) -> int:
        """Publish a job's file whole (a path, which is moved, or bytes); returns its size. Until this returns,
        `open_file` finds nothing: never a half-written file."""
        if not (JOB_ID.fullmatch(job_id) and SUFFIX.fullmatch(suffix)):
            raise ValueError("bad job id or suffix")
        redis = self._redis()
        if redis is not None:
            if isinstance(source, bytes):
                data = source
            else:
                data = Path(source).read_bytes()
            redis.set(self._key(job_id, "file", suffix), data, ex=max(1, int(self.keep_seconds)))
            if not isinstance(source, bytes):
                Path(source).unlink(missing_ok=True)
            return len(data)
        target = self.path(job_id, suffix)
        if isinstance(source, bytes):
            tmp = self.scratch(job_id, suffix)
            tmp.write_bytes(source)
            source = tmp
        os.replace(source, target)
        return target.stat().st_size

    def open_file(self, job_id: str, suffix: str) -> bytes | None:
        """A job's published file, or None (not finished, failed, interrupted, expired)."""
        if not (JOB_ID.fullmatch(job_id or "") and SUFFIX.fullmatch(suffix)):
            return None
        redis = self._redis()
        if redis is not None:
            return redis.get(self._key(job_id, "file", suffix))
        try:
            return self.path(job_id, suffix).read_bytes()
        except OSError:
            return None

    # ------------------------------------------------------------ running

    def start(self, job: dict[str, Any], work: Work | None = None,
              failed: Failed | None = None) -> threading.Thread | None:
        """Run a job. With `work`/`failed` given: in a daemon thread of this process. Without: the work registered
        with `runs`, on the RQ queue when Redis is configured (returns None), else in a thread.

        If the work raises, the session is rolled back and the job saved as failed with the fields `failed(exc)`
        returns (a message for the user, counts so far, ...); an unexpected error also records its class name in
        `error` (never its text, which may hold personal data), which lists the job on the failed-jobs page."""
        if work is None:
            if self.factory is None:
                raise RuntimeError(f"no work registered for {self.kind} jobs")
            if uses_queue():
                self._enqueue(job, str(get_locale()))
                return None
            work, failed = self.factory(job)
        assert failed is not None
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        locale = str(get_locale())

        def run() -> None:
            with app.app_context(), force_locale(locale):
                try:
                    self._execute(job, work, failed, reraise=False)
                finally:
                    db.session.remove()
                    self._threads.pop(job["id"], None)

        thread = threading.Thread(target=run, name=f"{self.kind}-{job['id'][:8]}", daemon=True)
        self._threads[job["id"]] = thread
        thread.start()
        return thread

    def _enqueue(self, job: dict[str, Any], locale: str) -> None:
        from rq import Queue, Retry

        redis = self._redis()
        job.update(queued_at=time.time(), leased=False)
        self.save(job)
        queued = Queue(namespace(), connection=redis).enqueue(
            run_job, self.kind, job["id"], locale, retry=Retry(max=self.retries) if self.retries else None,
            job_timeout=JOB_TIMEOUT, ttl=QUEUE_SECONDS, result_ttl=600, failure_ttl=max(1, int(self.keep_seconds)),
            description=f"{self.kind} job")  # no personal data in what RQ logs
        job["rq_id"] = queued.id
        self.save(job)

    def _execute(self, job: dict[str, Any], work: Work, failed: Failed, *, reraise: bool,
                 retry: bool = False) -> None:
        release = self._hold_lease(job)
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - the job must say it failed, whatever the cause
            db.session.rollback()
            if isinstance(exc, self.final):
                job.update(state="failed", finished=time.time(), **failed(exc))
                self.save(job)
                return
            log.exception("%s job %s failed", self.kind, job["id"])
            if retry:
                # RQ runs it again: the page shows it queued, not failed.
                job.update(queued_at=time.time(), leased=False, attempts=job.get("attempts", 1) + 1)
                if "stage" in job:
                    job["stage"] = "queued"
                self.save(job)
            else:
                job.update(state="failed", finished=time.time(), error=type(exc).__name__, **failed(exc))
                self.save(job)
            if reraise:
                raise
        finally:
            release()

    def _hold_lease(self, job: dict[str, Any]) -> Callable[[], None]:
        """With Redis: a lease key the job's runner keeps alive; without, nothing (stale_seconds decides)."""
        redis = self._redis()
        if redis is None:
            return lambda: None
        key, stop = self._key(job["id"], "lease"), threading.Event()
        redis.set(key, b"1", ex=LEASE_SECONDS)
        job.update(leased=True, queued_at=None)
        self.save(job)

        def refresh() -> None:
            while not stop.wait(LEASE_SECONDS / 5):
                try:
                    redis.set(key, b"1", ex=LEASE_SECONDS)
                except Exception:  # noqa: BLE001 - Redis away for a moment: the next refresh tries again
                    log.warning("%s job %s: lease not refreshed", self.kind, job["id"])

        thread = threading.Thread(target=refresh, name=f"lease-{job['id'][:8]}", daemon=True)
        thread.start()

        def release() -> None:
            stop.set()
            thread.join(5)
            redis.delete(key)

        return release

    def wait(self, job_id: str, timeout: float = 60) -> None:
        """Join a job's thread, if it runs in this process (tests, the CLI)."""
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)


# ---------------------------------------------------------------- the RQ side

def set_worker_app(app: Flask) -> None:
    """The app `crm worker` built: its work horses (forks of it) run jobs in its context."""
    global _worker_app, _worker_pid
    _worker_app, _worker_pid = app, os.getpid()


def run_job(kind: str, job_id: str, locale: str) -> None:
    """What an RQ worker runs: the registered work of job `job_id` of `kind` (only strings cross the queue)."""
    app = _worker_app
    if app is None:  # a worker started by `rq worker` rather than `crm worker`
        from crm import create_app

        app = create_app()
        set_worker_app(app)
    with app.app_context(), force_locale(locale):
        if _worker_pid is not None and os.getpid() != _worker_pid:
            # A work horse is a fork of the worker: the parent's pooled connections are not this process's to use.
            db.engine.dispose(close=False)
        try:
            store = _STORES.get(kind)
            job = store.load(job_id) if store is not None else None
            if store is None or store.factory is None or job is None or job.get("state") not in (
                    "running", "interrupted"):
                log.warning("%s job %s: nothing to run (expired, deleted or finished)", kind, job_id)
                return
            from rq import get_current_job

            current = get_current_job()
            retry = bool(current is not None and current.retries_left)
            job["state"] = "running"
            work, failed = store.factory(job)
            store._execute(job, work, failed, reraise=True, retry=retry)
        finally:
            db.session.remove()


def rq_failed_registry(app: Flask | None = None) -> Any:
    from rq.registry import FailedJobRegistry

    redis = redis_client(app)
    return None if redis is None else FailedJobRegistry(namespace(app), connection=redis)


def forget_rq_job(job: dict[str, Any]) -> None:
    """Drop a job's entry from RQ's failed registry (retried or deleted from the failed-jobs page)."""
    registry = rq_failed_registry()
    if registry is None or not job.get("rq_id"):
        return
    try:
        registry.remove(job["rq_id"], delete_job=True)
    except Exception:  # noqa: BLE001 - already expired or never failed in RQ: nothing to drop
        pass


def throttled_saver(store: JobStore, job: dict[str, Any], every: float = 0.5) -> Callable[..., None]:
    """`save(**changes)`: update the job and save it at most every `every` seconds (a poll every second needs no
    more), or at once with `force=True`. Each save is also the job's heartbeat."""
    last = [0.0]

    def save(force: bool = False, **changes: Any) -> None:
        job.update(changes)
        now = time.monotonic()
        if force or now - last[0] >= every:
            last[0] = now
            store.save(job)

    return save

"""Background jobs kept as small JSON files in the instance folder, run in threads of this process."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import abort, current_app
from flask_babel import force_locale, get_locale
from flask_login import current_user

from crm.extensions import db

log = logging.getLogger("crm.jobs")

JOB_ID = re.compile(r"[A-Za-z0-9_-]{20,40}")


class JobStore:
    """The jobs of one kind (`instance/<kind>/<id>.json`, with the job's own files next to it as `<id><suffix>`).

    A job is a plain dict. Its file is replaced atomically on every save, so any worker process of the same
    machine reads a whole job and a page reload finds it again; `heartbeat` is the time of the last save, and a
    running job not saved for `stale_seconds` was interrupted (the server restarted). Only the user who started a
    job sees it (`own`: anyone else gets 404). Files older than `keep_seconds` are deleted by `cleanup`.

    Without Redis there is no separate worker (design §9: RQ needs a Redis server): `start` runs the work in a
    daemon thread of the process that took the request.
    """

    def __init__(self, kind: str, *, keep_seconds: float, stale_seconds: float = 300) -> None:
        self.kind = kind
        self.keep_seconds = keep_seconds
        self.stale_seconds = stale_seconds
        self._threads: dict[str, threading.Thread] = {}

    # ------------------------------------------------------------ files

    def folder(self) -> Path:
        path = Path(current_app.instance_path) / self.kind
        path.mkdir(parents=True, exist_ok=True)
        return path

    def path(self, job_id: str, suffix: str = ".json") -> Path:
        return self.folder() / f"{job_id}{suffix}"

    def save(self, job: dict[str, Any]) -> None:
        job["heartbeat"] = time.time()
        folder = self.folder()
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".job-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(job, fh, ensure_ascii=False)
        os.replace(tmp, folder / f"{job['id']}.json")

    def load(self, job_id: str) -> dict[str, Any] | None:
        if not JOB_ID.fullmatch(job_id or ""):
            return None
        try:
            job = json.loads(self.path(job_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if job.get("state") == "running" and time.time() - job.get("heartbeat", 0) > self.stale_seconds:
            job["state"] = "interrupted"
        return job

    def own(self, job_id: str) -> dict[str, Any]:
        """The current user's job, or 404 (someone else's job looks exactly like a job that does not exist)."""
        job = self.load(job_id)
        if job is None or job.get("user_id") != current_user.id:
            abort(404)
        return job

    def cleanup(self) -> None:
        limit = time.time() - self.keep_seconds
        for path in self.folder().iterdir():
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
            except OSError:
                pass

    def running_job_of(self, user_id: int) -> dict[str, Any] | None:
        for path in self.folder().glob("*.json"):
            job = self.load(path.stem)
            if job and job.get("user_id") == user_id and job.get("state") == "running":
                return job
        return None

    def new(self, **fields: Any) -> dict[str, Any]:
        """A running job of the current user (not saved yet)."""
        return {"id": secrets.token_urlsafe(18), "user_id": current_user.id, "state": "running",
                "started": time.time(), "finished": None, **fields}

    # ------------------------------------------------------------ threads

    def start(self, job: dict[str, Any], work: Callable[[], None],
              failed: Callable[[BaseException], dict[str, Any]]) -> threading.Thread:
        """Run `work()` in a daemon thread, inside an app context and the request's locale. If it raises, the
        session is rolled back and the job saved as failed with the fields `failed(exc)` returns (a message for
        the user, counts so far, ...)."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        locale = str(get_locale())

        def run() -> None:
            with app.app_context(), force_locale(locale):
                try:
                    work()
                except Exception as exc:  # noqa: BLE001 - the job must say it failed, whatever the cause
                    db.session.rollback()
                    log.exception("%s job %s failed", self.kind, job["id"])
                    job.update(state="failed", finished=time.time(), **failed(exc))
                    self.save(job)
                finally:
                    db.session.remove()
                    self._threads.pop(job["id"], None)

        thread = threading.Thread(target=run, name=f"{self.kind}-{job['id'][:8]}", daemon=True)
        self._threads[job["id"]] = thread
        thread.start()
        return thread

    def wait(self, job_id: str, timeout: float = 60) -> None:
        """Join a job's thread, if it runs in this process (tests, the CLI)."""
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)


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

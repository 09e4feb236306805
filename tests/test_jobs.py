"""The file-based job store (crm/jobs.py) shared by the customer import and the ledger print."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from flask_babel import gettext as _
from flask_login import login_user
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from crm import jobs
from crm.extensions import db
from crm.models import Customer


@pytest.fixture
def store(app):
    return jobs.JobStore("sample_jobs", keep_seconds=3600, stale_seconds=60)


def as_user(app, user):
    """A request context with `user` logged in (the store stamps and checks the current user)."""
    ctx = app.test_request_context()
    ctx.push()
    login_user(user)
    return ctx


def test_a_job_is_saved_atomically_and_read_back(app, org, store):
    ctx = as_user(app, org.head_a)
    try:
        job = store.new(filename="名单.xlsx", done=0)
        store.save(job)
        assert store.path(job["id"]).parent == Path(app.instance_path) / "sample_jobs"
        loaded = store.load(job["id"])
        assert loaded["user_id"] == org.head_a.id and loaded["state"] == "running" and loaded["filename"] == "名单.xlsx"
        assert loaded["heartbeat"] >= loaded["started"]
        assert [p.name for p in store.folder().iterdir()] == [f"{job['id']}.json"]  # no temporary file left
        assert store.own(job["id"]) == loaded
        assert store.running_job_of(org.head_a.id)["id"] == job["id"]
        assert store.running_job_of(org.rm_a.id) is None
        for bad in ("", "../../etc/passwd", "short", job["id"] + "/x", None):
            assert store.load(bad) is None
    finally:
        ctx.pop()


def test_only_the_owner_sees_a_job(app, org, store):
    ctx = as_user(app, org.head_a)
    try:
        job = store.new()
        store.save(job)
    finally:
        ctx.pop()
    ctx = as_user(app, org.admin)
    try:
        with pytest.raises(NotFound):
            store.own(job["id"])
        with pytest.raises(NotFound):
            store.own("no-such-job-id-xxxxxxxxx")
    finally:
        ctx.pop()


def test_a_running_job_not_heard_of_is_interrupted(app, org, store):
    ctx = as_user(app, org.head_a)
    try:
        job = store.new()
        store.save(job)
        assert store.load(job["id"])["state"] == "running"
        job_file = store.path(job["id"])
        stale = job_file.read_text(encoding="utf-8").replace(f'"heartbeat": {job["heartbeat"]}',
                                                             f'"heartbeat": {time.time() - 61}')
        job_file.write_text(stale, encoding="utf-8")
        assert store.load(job["id"])["state"] == "interrupted"
        assert store.running_job_of(org.head_a.id) is None
    finally:
        ctx.pop()


def test_cleanup_deletes_only_old_files(app, org, store):
    ctx = as_user(app, org.head_a)
    try:
        old, new = store.new(), store.new()
        store.save(old)
        store.save(new)
        store.path(old["id"], ".pdf").write_bytes(b"%PDF")
        long_ago = time.time() - 3601
        for suffix in (".json", ".pdf"):
            os.utime(store.path(old["id"], suffix), (long_ago, long_ago))
        store.cleanup()
        assert sorted(p.name for p in store.folder().iterdir()) == [f"{new['id']}.json"]
    finally:
        ctx.pop()


def test_start_runs_in_a_thread_with_app_context_and_locale(app, org, store):
    ctx = as_user(app, org.head_a)
    seen: dict = {}
    try:
        job = store.new()
        store.save(job)

        def work() -> None:
            seen["thread"] = threading.current_thread().name
            seen["customers"] = db.session.execute(select(func.count()).select_from(Customer)).scalar_one()
            job.update(state="done", finished=time.time())
            store.save(job)

        thread = store.start(job, work, lambda exc: {"message": "unused"})
        store.wait(job["id"], 30)
        assert not thread.is_alive()
        assert seen == {"thread": f"sample_jobs-{job['id'][:8]}", "customers": 0}
        assert store.load(job["id"])["state"] == "done"
    finally:
        ctx.pop()


def test_a_failing_job_is_saved_as_failed_and_its_writes_rolled_back(app, org, store, caplog, monkeypatch):
    # A migration test earlier in the run may have disabled every existing logger (Alembic's fileConfig).
    monkeypatch.setattr(jobs.log, "disabled", False)
    ctx = as_user(app, org.head_a)
    try:
        job = store.new(counts=None)
        store.save(job)

        def work() -> None:
            db.session.add(Customer(outlet_id=org.a.id, kind="personal", status="stock", name="半途"))
            db.session.flush()
            raise RuntimeError("disk full")

        def failed(exc: BaseException) -> dict:
            return {"message": _("导入过程中出错，已中止。此前已保存的批次（见下方数字）保留；请检查文件后重新导入（重复导入不会产生重复客户）。"),
                    "counts": {"why": str(exc)}}

        store.start(job, work, failed)
        store.wait(job["id"], 30)
        loaded = store.load(job["id"])
        assert loaded["state"] == "failed" and loaded["finished"] is not None
        assert loaded["message"].startswith("导入过程中出错") and loaded["counts"] == {"why": "disk full"}
        assert db.session.execute(select(func.count()).select_from(Customer)).scalar_one() == 0
        assert any("failed" in r.getMessage() and job["id"] in r.getMessage() for r in caplog.records)
    finally:
        ctx.pop()


def test_throttled_saver_saves_at_most_twice_a_second_unless_forced(app, org, store, monkeypatch):
    ctx = as_user(app, org.head_a)
    try:
        job = store.new(done=0)
        saves: list[int] = []
        monkeypatch.setattr(store, "save", lambda j: saves.append(j["done"]))
        save = jobs.throttled_saver(store, job, every=0.5)
        for i in range(1, 101):
            save(done=i)
        assert saves == [1] and job["done"] == 100  # the dict always holds the latest values
        save(force=True, done=101)
        assert saves == [1, 101]
    finally:
        ctx.pop()

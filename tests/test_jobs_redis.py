"""Jobs with Redis (crm/jobs.py, crm/worker.py, crm/admin/jobs.py): state and files in Redis where every app server
sees them, PDF batches on the RQ queue with retries, files published whole, the failed-jobs page for the system
administrator; and the same page in the embedded mode (files and threads, no Redis).

Needs the Redis server of this machine (127.0.0.1:6379, database 14): skipped when it is unreachable, except in CI.
Each test works under its own namespace (keys and queue), so runs in parallel do not see each other's jobs.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from crm import jobs
from crm.customers import ledger, ledger_views
from crm.extensions import db
from crm.models import AuditLog
from tests.conftest import CANARY_B
from tests.test_ledger import CERT, PHONE, login, make_customer, pdf_text

REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
LEDGER_JOB = "/customers/ledger/jobs/"


def _redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI ({REDIS_URL}): {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return client


@pytest.fixture
def redis_app(app, monkeypatch):
    """The test's app with its jobs in Redis under a namespace of its own, PDFs of 1+ customers as jobs."""
    client = _redis_or_skip()
    ns = f"crmtest{secrets.token_hex(4)}"
    for key, value in (("CRM_REDIS_URL", REDIS_URL), ("CRM_JOBS_NAMESPACE", ns),
                       ("CRM_LEDGER_BACKGROUND_CUSTOMERS", 0)):
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setattr(jobs, "_worker_app", app)  # what `crm worker` sets: the app the worker runs jobs in
    monkeypatch.setattr(jobs, "_worker_pid", os.getpid())
    yield app
    for rq_id in jobs.rq_failed_registry(app).get_job_ids():
        client.delete(f"rq:job:{rq_id}", f"rq:results:{rq_id}")
    jobs.redis_client(app).close()
    app.extensions.pop("crm_jobs_redis", None)
    for key in client.scan_iter(match=f"{ns}*"):
        client.delete(key)
    for key in client.scan_iter(match=f"rq:*{ns}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def book(org):
    """Outlet A: 张三 (full PII) and 李四; outlet B: a canary customer."""
    zhang = make_customer(org.a, "张三", org.rm_a, phone=PHONE, cert=CERT, deposit="1234567.8")
    make_customer(org.a, "李四", org.head_a, phone="13700001234", deposit="50000")
    make_customer(org.b, f"乙客户{CANARY_B}", org.rm_b, phone="13600009999")
    return {"zhang": zhang}


def run_worker(app) -> None:
    """What `crm worker --burst` does, in this process (SimpleWorker: no fork), until the queue is empty."""
    from rq import Queue, SimpleWorker

    redis = jobs.redis_client(app)
    SimpleWorker([Queue(jobs.namespace(app), connection=redis)], connection=redis).work(burst=True)


def start_ledger(c, outlet_id: int) -> tuple[str, str]:
    resp = c.post("/customers/ledger/print", {"outlet": str(outlet_id)})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    url = resp.headers["Location"]
    return url, url.rsplit("/", 1)[1]


def redis_keys(app) -> list[str]:
    return sorted(k.decode() for k in jobs.redis_client(app).scan_iter(match=f"{jobs.namespace(app)}:*"))


def test_job_state_and_files_live_in_redis_with_the_keep_time(redis_app, org):
    from flask_login import login_user

    store = jobs.JobStore("sample_redis_jobs", keep_seconds=600, stale_seconds=60)
    with redis_app.test_request_context():
        login_user(org.head_a)
        job = store.new(stage="queued")
        store.save(job)
        assert store.load(job["id"])["state"] == "running" and store.own(job["id"])["id"] == job["id"]
        assert store.running_job_of(org.head_a.id)["id"] == job["id"] and store.running_job_of(org.rm_a.id) is None
        redis = jobs.redis_client(redis_app)
        key = f"{jobs.namespace(redis_app)}:jobs:sample_redis_jobs:{job['id']}"
        assert 590 <= redis.ttl(key) <= 600
        # A file is invisible until it is published whole; then it expires with the job.
        scratch = store.scratch(job["id"], ".pdf")
        scratch.write_bytes(b"%PDF-1.7 half")
        assert store.open_file(job["id"], ".pdf") is None
        assert store.put_file(job["id"], ".pdf", scratch) == len(b"%PDF-1.7 half") and not scratch.exists()
        assert store.open_file(job["id"], ".pdf") == b"%PDF-1.7 half"
        assert 590 <= redis.ttl(f"{key}:file:.pdf") <= 600
        assert store.open_file(job["id"], "/../x") is None and store.load("../../etc/passwd") is None
        # Nothing of the job in the instance folder: another server would not see it there.
        assert not list(Path(redis_app.instance_path, "sample_redis_jobs").glob("*.json"))
        # Held by a worker whose lease lapsed (kill -9): interrupted after LEASE_SECONDS, whatever stale_seconds.
        job.update(leased=True, queued_at=None)
        store.save(job)
        assert store.load(job["id"])["state"] == "running"  # just saved: alive
        job["heartbeat"] = time.time() - jobs.LEASE_SECONDS - 1
        redis.set(key, __import__("json").dumps(job))
        assert store.load(job["id"])["state"] == "interrupted"
        redis.set(f"{key}:lease", b"1", ex=jobs.LEASE_SECONDS)  # the worker still refreshes it: alive
        assert store.load(job["id"])["state"] == "running"
        store.delete(job["id"])
        assert store.load(job["id"]) is None and store.open_file(job["id"], ".pdf") is None
        assert store.ids() == []


def test_a_ledger_job_is_queued_run_by_the_worker_and_served_from_redis(redis_app, org, book):
    c = login(redis_app, org.head_a)
    url, job_id = start_ledger(c, org.a.id)
    queued = ledger_views.store.load(job_id)
    assert queued["state"] == "running" and queued["stage"] == "queued" and queued["queued_at"] and queued["rq_id"]
    page = c.get(url).get_data(as_text=True)
    assert "排队中" in page and 'hx-trigger="every 1s"' in page
    assert c.get(url + "/ledger.pdf").status_code == 404  # nothing to download before it is done
    run_worker(redis_app)
    job = ledger_views.store.load(job_id)
    assert job["state"] == "done" and job["pages"] >= 4 and not job.get("error"), job
    fragment = c.get(url + "/progress").get_data(as_text=True)
    assert f'href="{url}/ledger.pdf"' in fragment
    resp = c.get(url + "/ledger.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF") and len(resp.data) == job["size"]
    assert "张三" in pdf_text(resp.data) and CANARY_B not in pdf_text(resp.data)
    # Only in Redis: no PDF, no job file, no scratch file on this server's disk.
    assert [p.name for p in Path(redis_app.instance_path, "ledgers").iterdir()] == []
    assert f"{jobs.namespace(redis_app)}:jobs:ledgers:{job_id}:file:.pdf" in redis_keys(redis_app)
    # Someone else: 404 for the page and the file.
    other = login(redis_app, org.head_a2)
    assert other.get(url).status_code == 404 and other.get(url + "/ledger.pdf").status_code == 404


def test_a_failing_render_is_retried_by_rq_and_then_succeeds(redis_app, org, book, monkeypatch):
    real = ledger.render_to_file
    calls = []

    def flaky(data, path, progress):
        calls.append(1)
        if len(calls) == 1:
            Path(path).write_bytes(b"%PDF-1.7 truncated")  # half a file, then the crash
            raise OSError("disk hiccup")
        return real(data, path, progress)

    monkeypatch.setattr(ledger, "render_to_file", flaky)
    c = login(redis_app, org.head_a)
    url, job_id = start_ledger(c, org.a.id)
    run_worker(redis_app)
    job = ledger_views.store.load(job_id)
    assert len(calls) == 2 and job["state"] == "done" and job["attempts"] == 2
    body = c.get(url + "/ledger.pdf").data
    assert body.startswith(b"%PDF") and b"truncated" not in body and len(body) == job["size"]


def test_a_job_failing_every_time_lands_on_the_admin_page_without_personal_data(redis_app, org, book, monkeypatch):
    calls, real = [], ledger.render_to_file

    def broken(data, path, progress):
        calls.append(1)
        if len(calls) > 3:  # the administrator's retry, once the cause is fixed
            return real(data, path, progress)
        raise RuntimeError(f"render failed for 张三 {book['zhang'].phone}")  # a message holding PII

    monkeypatch.setattr(ledger, "render_to_file", broken)
    c = login(redis_app, org.head_a)
    url, job_id = start_ledger(c, org.a.id)
    run_worker(redis_app)
    job = ledger_views.store.load(job_id)
    assert len(calls) == 3, "1 run + Retry(max=2)"
    assert job["state"] == "failed" and job["error"] == "RuntimeError" and job["attempts"] == 3
    body = c.get(url).get_data(as_text=True)
    assert "生成台账时出错，未能完成" in body and c.get(url + "/ledger.pdf").status_code == 404
    assert jobs.rq_failed_registry(redis_app).count == 1

    admin = login(redis_app, org.admin)
    page = admin.get("/admin/jobs").get_data(as_text=True)
    row = page[page.index(f'data-job="ledgers:{job_id}"'):]
    row = row[:row.index("</tr>")]
    assert "台账打印" in row and "网点甲负责人" in row and "RuntimeError" in row and "已执行 3 次" in row
    for pii in ("张三", book["zhang"].phone, "甲网点", "render failed"):
        assert pii not in page
    # Only the system administrator: a branch administrator (who manages plugins and audit) does not see it.
    branch_admin = login(redis_app, org.branch_admin1)
    assert branch_admin.get("/admin/jobs").status_code in (403, 404)
    assert branch_admin.post(f"/admin/jobs/ledgers/{job_id}/retry").status_code in (403, 404)
    assert "/admin/jobs" not in branch_admin.get("/").get_data(as_text=True)
    # Without the CSRF token: refused, nothing happens.
    assert admin.post(f"/admin/jobs/ledgers/{job_id}/retry", csrf=False).status_code == 400
    assert ledger_views.store.load(job_id)["state"] == "failed"

    # 重试 after the cause is fixed: queued again for the same user, run by the worker, downloadable.
    resp = admin.post(f"/admin/jobs/ledgers/{job_id}/retry")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/admin/jobs")
    assert jobs.rq_failed_registry(redis_app).count == 0
    assert ledger_views.store.load(job_id)["stage"] == "queued"
    run_worker(redis_app)
    assert ledger_views.store.load(job_id)["state"] == "done"
    assert c.get(url + "/ledger.pdf").data.startswith(b"%PDF")
    assert f'data-job="ledgers:{job_id}"' not in admin.get("/admin/jobs").get_data(as_text=True)
    rows = db.session.execute(select(AuditLog).where(AuditLog.action.like("job.%"))).scalars().all()
    assert [(r.action, r.actor_id, r.target_id) for r in rows] == [("job.retried", org.admin.id, f"ledgers:{job_id}")]


def test_a_job_refused_for_the_users_own_reason_is_not_retried_nor_listed(redis_app, org, book, monkeypatch):
    calls = []

    def too_large(*args, **kwargs):
        calls.append(1)
        raise ledger.LedgerTooLarge(ledger.MAX_CUSTOMERS + 1)

    monkeypatch.setattr(ledger, "gather", too_large)
    c = login(redis_app, org.head_a)
    url, job_id = start_ledger(c, org.a.id)
    run_worker(redis_app)
    job = ledger_views.store.load(job_id)
    assert len(calls) == 1 and job["state"] == "failed" and not job.get("error")
    assert jobs.rq_failed_registry(redis_app).count == 0
    assert f"ledgers:{job_id}" not in login(redis_app, org.admin).get("/admin/jobs").get_data(as_text=True)


def test_delete_on_the_admin_page_drops_the_job_and_is_audited(redis_app, org, book):
    c = login(redis_app, org.head_a)
    url, job_id = start_ledger(c, org.a.id)
    job = ledger_views.store.load(job_id)
    job.update(leased=True, queued_at=None, heartbeat=time.time() - 60)  # its worker was killed a minute ago
    jobs.redis_client(redis_app).set(f"{jobs.namespace(redis_app)}:jobs:ledgers:{job_id}",
                                     __import__("json").dumps(job))
    assert "已中断" in c.get(url).get_data(as_text=True) and c.get(url + "/ledger.pdf").status_code == 404
    admin = login(redis_app, org.admin)
    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert f'data-job="ledgers:{job_id}"' in page and "执行进程意外退出" in page
    assert admin.post(f"/admin/jobs/ledgers/{job_id}/delete").status_code == 303
    assert ledger_views.store.load(job_id) is None and c.get(url).status_code == 404
    assert admin.post(f"/admin/jobs/ledgers/{job_id}/delete").status_code == 404  # gone
    assert admin.post("/admin/jobs/no_such_kind/" + "x" * 24 + "/delete").status_code == 404
    rows = db.session.execute(select(AuditLog).where(AuditLog.action.like("job.%"))).scalars().all()
    assert [(r.action, r.target_id) for r in rows] == [("job.deleted", f"ledgers:{job_id}")]


def test_embedded_mode_lists_and_retries_failed_jobs_in_threads(app, org, book, monkeypatch):
    """No Redis: the same page over the instance-folder jobs; a retry runs in a thread of this process."""
    monkeypatch.setitem(app.config, "CRM_LEDGER_BACKGROUND_CUSTOMERS", 0)
    calls, real = [], ledger.render_to_file

    def fails_once(data, path, progress):
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError
        return real(data, path, progress)

    monkeypatch.setattr(ledger, "render_to_file", fails_once)
    c = login(app, org.head_a)
    url, job_id = start_ledger(c, org.a.id)
    ledger_views.store.wait(job_id, 120)
    assert ledger_views.store.load(job_id)["error"] == "MemoryError"
    assert not list(Path(app.instance_path, "ledgers").glob("*.pdf*"))
    admin = login(app, org.admin)
    assert f'data-job="ledgers:{job_id}"' in admin.get("/admin/jobs").get_data(as_text=True)
    assert admin.post(f"/admin/jobs/ledgers/{job_id}/retry").status_code == 303
    ledger_views.store.wait(job_id, 120)
    assert ledger_views.store.load(job_id)["state"] == "done"
    assert c.get(url + "/ledger.pdf").data.startswith(b"%PDF")
    assert "没有失败或中断的后台任务" in admin.get("/admin/jobs").get_data(as_text=True)


def test_a_large_import_is_queued_run_by_the_worker_retried_once_and_its_upload_deleted(redis_app, org, monkeypatch):
    """With Redis, an import over CRM_IMPORT_BACKGROUND_ROWS goes to the queue: the upload waits in Redis for a worker
    (any app server's), progress and rejects are served from Redis, the upload is deleted when the job ends. A run
    failing after it saved everything is retried once and updates those customers instead of adding them twice."""
    import io

    import python_calamine as pc
    from sqlalchemy import func

    from crm.customers import import_views, imports
    from crm.models import Customer
    from tests.test_import import upload, xlsx

    monkeypatch.setitem(redis_app.config, "CRM_IMPORT_BACKGROUND_ROWS", 3)
    real, calls = imports.CustomerImport.process, []

    def crashes_after_saving_once(self):
        calls.append(1)
        report = real(self)
        if len(calls) == 1:
            raise OSError("worker lost its disk after the last commit")
        return report

    monkeypatch.setattr(imports.CustomerImport, "process", crashes_after_saving_once)

    def customers() -> int:
        return db.session.execute(select(func.count()).select_from(Customer)).scalar_one()

    before = customers()
    rows = [["个人", f"批量客户{i}", "", f"1391234{i:04d}", "", "", "", "", ""] for i in range(40)]
    rows.append(["个人", "", "", "13900000000", "", "", "", "", ""])  # no name: rejected
    c = login(redis_app, org.head_a)
    resp = upload(c, xlsx(rows), "大客户名单.xlsx")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    url = resp.headers["Location"]
    job_id = url.rsplit("/", 1)[1]
    queued = import_views.store.load(job_id)
    assert queued["state"] == "running" and queued["queued_at"] and queued["rq_id"] and queued["background"]
    redis = jobs.redis_client(redis_app)
    upload_key = f"{jobs.namespace(redis_app)}:jobs:imports:{job_id}:file:-upload"
    assert redis.exists(upload_key) and 0 < redis.ttl(upload_key) <= jobs.QUEUE_SECONDS + jobs.JOB_TIMEOUT
    assert calls == [] and customers() == before  # nothing ran in the web process
    assert 'hx-trigger="every 1s"' in c.get(url).get_data(as_text=True)

    run_worker(redis_app)
    job = import_views.store.load(job_id)
    assert len(calls) == 2 and job["attempts"] == 2 and job["state"] == "done" and not job.get("error"), job
    assert job["counts"]["rows"] == 41 and job["counts"]["rejected"] == 1 and job["counts"]["created"] == 0
    assert job["counts"]["updated"] + job["counts"]["unchanged"] >= 40 and job["done"] == job["total"] == 41
    assert customers() == before + 40  # the retry matched the first run's customers: none twice
    fragment = c.get(url + "/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-count="rejected">1<' in fragment and "every 1s" not in fragment and "请输入客户名称" in fragment
    resp = c.get(url + "/rejects.xlsx")
    assert resp.status_code == 200
    sheet = pc.CalamineWorkbook.from_filelike(io.BytesIO(resp.data)).get_sheet_by_index(0).to_python()
    assert len(sheet) == 2 and "13900000000" in [str(v) for v in sheet[1]]
    # The upload (personal data) is gone from Redis; nothing of the job on this server's disk.
    assert not redis.exists(upload_key)
    assert f"{jobs.namespace(redis_app)}:jobs:imports:{job_id}:file:-rejects.xlsx" in redis_keys(redis_app)
    assert [p.name for p in Path(redis_app.instance_path, "imports").iterdir()] == []
    # Someone else: 404 for the page and the rejects.
    other = login(redis_app, org.head_a2)
    assert other.get(url).status_code == 404 and other.get(url + "/rejects.xlsx").status_code == 404

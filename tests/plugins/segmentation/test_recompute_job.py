"""重算分层与分群 as a background job (crm/jobs.py): the click answers at once with the page showing "正在重算…",
whose card polls while the job runs and then shows the run's figures with the fresh counts and 重算记录; one
recompute per 分行 at a time; the job runs as its starter with the rights checked again; a failure is retried once,
then shown in Chinese, leaving no run, no history, no changed tier and no audit row."""

from __future__ import annotations

import re
import threading
import time

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog, Customer, User
from plugins.segmentation import services, views
from plugins.segmentation.models import SegmentationRun, SegmentationTag, SegmentationTierChange
from tests.conftest import CANARY_B
from tests.plugins.segmentation.conftest import RECOMPUTE, cust, job_of, post_recompute, wait_for
from tests.test_jobs_redis import redis_app, run_worker  # noqa: F401 - the Redis app fixture (skipped without Redis)

PAGE = "/p/segmentation/"
HX = {"HX-Request": "true"}


def progress_url(job_id: str) -> str:
    return f"/p/segmentation/recompute/jobs/{job_id}"


def audit_rows() -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == "segmentation.recomputed")
                                   .order_by(AuditLog.id)).scalars())


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def job_files(app) -> list[str]:
    folder = views.store.folder()
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".json")


@pytest.fixture
def gate(monkeypatch):
    """Holds every recompute job just before the service runs, until the test opens the gate."""
    opened = threading.Event()
    real = services.recompute

    def held(*args, **kwargs):
        assert opened.wait(60), "the test never opened the gate"
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "recompute", held)
    yield opened
    opened.set()  # a job still held must not outlive the test's app


@pytest.fixture
def saved_stages(monkeypatch):
    """(state, stage) of every save of a recompute job, in order: what the polling card could have shown."""
    seen: list[tuple[str, str]] = []
    save = views.store.save

    def spy(job):
        seen.append((job["state"], job.get("stage")))
        save(job)

    monkeypatch.setattr(views.store, "save", spy)
    return seen


def test_click_shows_running_then_the_summary_runs_row_and_one_audit_row(client, seg, gate, saved_stages):
    rich, small = cust(seg.a, deposit=60000, name="存款大户"), cust(seg.a2, deposit=10)
    client.login("BA0001")
    resp = client.post(RECOMPUTE, {})
    job_id = job_of(resp)  # 303 to the segmentation page with ?job=<id>: the plain POST lands on the running state
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    card = re.search(r'<div class="card mb-3" id="seg-recompute"[^>]*>', page).group(0)
    assert 'data-state="running"' in card and 'hx-trigger="every 1s"' in card
    assert f'hx-get="{progress_url(job_id)}"' in card
    assert "正在重算…" in page and "分管一 于" in page and "开始重算本分行的客户分层与分群" in page
    assert re.search(r'<button class="btn btn-primary" type="submit" disabled', page)  # no second click offered
    assert "尚未重算" in page  # nothing written yet
    fragment = client.get(progress_url(job_id), headers=HX).get_data(as_text=True)
    assert "every 1s" in fragment and "正在重算…" in fragment and "<html" not in fragment
    assert (count(SegmentationRun), audit_rows()) == (0, [])

    gate.set()
    job = wait_for(job_id)
    assert job["state"] == "done" and (job["customers"], job["changed"]) == (2, 2)
    # The card stops polling and shows the figures the toast used to give; the counts and 重算记录 come along
    # out of band, and the button is offered again.
    fragment = client.get(progress_url(job_id), headers=HX).get_data(as_text=True)
    assert "every 1s" not in fragment and "重算完成：2 户客户，层级变动 2 户" in fragment
    runs = re.search(r'<div class="card" id="runs" hx-swap-oob="true">.*?</table>', fragment, re.S).group(0)
    assert "分管一" in runs and "T1：0 → 1" in runs and "T0：0 → 1" in runs and "尚未重算" not in runs
    tiers = re.search(r'<table [^>]*id="seg-tier-counts"[^>]*hx-swap-oob="true">.*?</table>', fragment, re.S).group(0)
    assert re.search(r"<td>T1</td>.*?>1</td>", tiers, re.S)
    assert 'id="seg-segment-counts" data-seg-segments hx-swap-oob="true"' in fragment
    assert re.search(r'<form [^>]*id="seg-recompute-form" hx-swap-oob="true">\s*<input[^>]*>'
                     r'<input[^>]*>\s*<button class="btn btn-primary" type="submit"><i', fragment)
    # The same on a reload of the page (no JavaScript: the page the POST sent to).
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "重算完成：2 户客户，层级变动 2 户" in page and "every 1s" not in page

    run = db.session.execute(select(SegmentationRun)).scalar_one()
    assert job["run_id"] == run.id and run.actor_id == seg.branch_admin1.id
    assert (db.session.get(Customer, rich.id).tier, db.session.get(Customer, small.id).tier) == ("T1", "T0")
    [row] = audit_rows()
    assert (row.actor_id, row.target_type, row.target_id) == (seg.branch_admin1.id, "branch", str(seg.b1.id))
    assert row.detail["run"] == run.id and row.detail["changed"] == 2 and row.detail["customers"] == 2
    # The card went through the stages in order (each one a save the poll can read).
    stages = [s for i, (_st, s) in enumerate(saved_stages) if i == 0 or s != saved_stages[i - 1][1]]
    assert stages == ["queued", "tiers", "segments", "counting", "done"], stages


def test_a_second_click_while_it_runs_starts_nothing_and_says_so(client, new_client, seg, gate, enable_plugin):
    enable_plugin(None, "segmentation")  # the system administrator follows the global row
    cust(seg.a, deposit=60000)
    client.login("BA0001")
    job_id = job_of(client.post(RECOMPUTE, {}))
    again = client.post(RECOMPUTE, {})
    assert job_of(again) == job_id  # the same job, not a second one
    assert "重算已在进行中，请等它完成。" in client.get(again.headers["Location"]).get_data(as_text=True)
    admin = new_client()  # someone else who may recompute 甲分行 (the system administrator picks it)
    admin.login("ADM001")
    other = admin.post(RECOMPUTE, {"branch": str(seg.b1.id)})
    assert job_of(other) == job_id
    page = admin.get(other.headers["Location"]).get_data(as_text=True)
    assert "分管一 正在重算本分行的分层与分群，请等它完成后再重算。" in page and "正在重算…" in page
    # Another 分行 is not held up by it.
    b2_job = job_of(admin.post(RECOMPUTE, {"branch": str(seg.b2.id)}))
    assert b2_job != job_id
    assert len(job_files(client.app)) == 2
    gate.set()
    assert wait_for(job_id)["state"] == "done" and wait_for(b2_job)["state"] == "done"
    assert [r.branch_id for r in db.session.execute(select(SegmentationRun).order_by(SegmentationRun.id)).scalars()
            ] in ([seg.b1.id, seg.b2.id], [seg.b2.id, seg.b1.id])
    assert [r.target_id for r in audit_rows()].count(str(seg.b1.id)) == 1
    # Done: the next click starts a new job.
    assert post_recompute(client)["id"] != job_id


def test_the_status_of_another_branchs_recompute_is_404(client, new_client, seg):
    cust(seg.a, deposit=60000)
    cust(seg.b, deposit=70000, name=f"乙客户{CANARY_B}")
    client.login("BA0001")
    job = post_recompute(client)
    url = progress_url(job["id"])
    for login in ("BA0002", "HB0001"):  # 乙分行's administrator and an outlet head of 乙分行
        other = new_client()
        other.login(login)
        resp = other.get(url, headers=HX)
        assert resp.status_code == 404 and "重算完成" not in resp.get_data(as_text=True), login
        page = other.get(f"{PAGE}?job={job['id']}").get_data(as_text=True)  # their own page ignores it
        assert "重算完成" not in page and 'id="seg-recompute"' not in page, login
    teller = new_client()
    teller.login("TA0001")  # no segmentation.view
    assert teller.get(url, headers=HX).status_code == 403
    assert client.get(progress_url("no-such-job-id-xxxxxxxxxx"), headers=HX).status_code == 404
    # The 分行's own outlet head (who sees the page and its 重算记录) sees the figures too.
    head = new_client()
    head.login("HA0001")
    resp = head.get(url, headers=HX)
    assert resp.status_code == 200 and "重算完成：1 户客户，层级变动 1 户" in resp.get_data(as_text=True)
    assert 'id="seg-recompute-form"' not in resp.get_data(as_text=True)  # no button for a post that cannot recompute


def test_a_failing_job_is_retried_once_then_shows_the_error_and_leaves_nothing(client, seg, monkeypatch):
    c = cust(seg.a, deposit=60000)
    calls = []

    def broken(*args, **kwargs):  # after the history INSERT and the customer UPDATE have run
        calls.append(1)
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_upsert_tags", broken)
    client.login("BA0001")
    job = post_recompute(client)
    assert len(calls) == 2 and job["attempts"] == 2  # tried again once
    assert job["state"] == "failed" and job["error"] == "RuntimeError"  # listed on the failed-jobs page
    page = client.get(f"{PAGE}?job={job['id']}").get_data(as_text=True)
    assert "重算时出错，未能完成；分层和分群仍是上次重算的结果" in page and "every 1s" not in page
    assert "disk full" not in page
    fragment = client.get(progress_url(job["id"]), headers=HX).get_data(as_text=True)
    assert "重算时出错" in fragment and "every 1s" not in fragment
    # The service's one transaction rolled back: no run, history, tag, tier or audit row.
    assert (count(SegmentationRun), count(SegmentationTierChange), count(SegmentationTag)) == (0, 0, 0)
    assert db.session.get(Customer, c.id).tier is None and audit_rows() == []
    # A new click is not blocked by the failed job.
    monkeypatch.undo()
    assert post_recompute(client)["state"] == "done"
    assert len(audit_rows()) == 1 and db.session.get(Customer, c.id).tier == "T1"


def test_one_failed_attempt_then_success_writes_one_run_and_one_audit_row(client, seg, monkeypatch):
    cust(seg.a, deposit=60000)
    real = services._upsert_tags
    calls = []

    def once_broken(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("connection reset")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_upsert_tags", once_broken)
    client.login("BA0001")
    job = post_recompute(client)
    assert job["state"] == "done" and job["attempts"] == 2 and job["changed"] == 1
    assert count(SegmentationRun) == 1 and count(SegmentationTierChange) == 1
    [row] = audit_rows()
    assert row.actor_id == seg.branch_admin1.id and row.detail["changed"] == 1


def test_rights_lost_before_the_job_runs_are_final(client, seg, monkeypatch):
    c = cust(seg.a, deposit=60000)
    opened, calls = threading.Event(), []
    real = views._check_rights

    def held(user_id, branch_id):
        calls.append(1)
        assert opened.wait(60)
        return real(user_id, branch_id)

    monkeypatch.setattr(views, "_check_rights", held)
    client.login("BA0001")
    job_id = job_of(client.post(RECOMPUTE, {}))
    user = db.session.get(User, seg.branch_admin1.id)
    user.post = "marketing"  # moved to a post without segmentation.manage meanwhile
    db.session.commit()
    opened.set()
    job = wait_for(job_id)
    assert job["state"] == "failed" and "error" not in job and len(calls) == 1  # the user's answer: not retried
    assert job["message"] == "您已没有重算本分行客户分层的权限，重算未进行。"
    assert count(SegmentationRun) == 0 and audit_rows() == [] and db.session.get(Customer, c.id).tier is None
    page = client.get(f"{PAGE}?job={job_id}").get_data(as_text=True)
    assert "您已没有重算本分行客户分层的权限" in page


def test_an_interrupted_job_says_so_and_does_not_block_the_next(client, seg):
    cust(seg.a, deposit=60000)
    client.login("BA0001")
    job = post_recompute(client)
    job.update(state="running", stage="segments", finished=None)
    views.store.save(job)
    path = views.store.path(job["id"])
    path.write_text(path.read_text(encoding="utf-8").replace(
        f'"heartbeat": {views.store.load(job["id"])["heartbeat"]}', f'"heartbeat": {time.time() - 3600}'),
        encoding="utf-8")
    assert views.store.load(job["id"])["state"] == "interrupted"
    page = client.get(f"{PAGE}?job={job['id']}").get_data(as_text=True)
    assert "重算已中断" in page and "every 1s" not in page
    assert post_recompute(client)["id"] != job["id"]


def test_a_recompute_holding_the_branch_elsewhere_refuses_the_click(client, seg):
    """PostgreSQL: a recompute of the 分行 not in this store (another server, the demo seeding) holds the 分行's row
    for its whole transaction; a click then starts nothing (SQLite has one writer and no row locks)."""
    from crm.models import Branch

    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    client.login("BA0001")
    with db.engine.connect() as other:
        other.execute(select(Branch.id).where(Branch.id == seg.b1.id).with_for_update())
        resp = client.post(RECOMPUTE, {})
        assert resp.status_code == 303 and "job=" not in resp.headers["Location"]
        assert "本分行的分层与分群正在重算，请稍后再试。" in client.get(resp.headers["Location"]).get_data(as_text=True)
        assert job_files(client.app) == [] and count(SegmentationRun) == 0
        other.rollback()
    assert post_recompute(client)["state"] == "done"


def test_a_long_recompute_keeps_its_job_alive(client, seg, gate, monkeypatch):
    """One statement of a large 分行 may outlast the store's stale time: the heartbeat keeps saving the job, so the
    page goes on saying "正在重算…" (and the button stays off) instead of "中断"."""
    monkeypatch.setattr(views, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(views.store, "stale_seconds", 0.5)
    cust(seg.a, deposit=60000)
    client.login("BA0001")
    job_id = job_of(client.post(RECOMPUTE, {}))
    time.sleep(1.2)  # held before the service, more than twice the stale time
    assert views.store.load(job_id)["state"] == "running"
    assert 'data-state="running"' in client.get(progress_url(job_id), headers=HX).get_data(as_text=True)
    gate.set()
    assert wait_for(job_id)["state"] == "done"


# ---------------------------------------------------------------- with Redis: the RQ queue and `crm worker`

def test_with_redis_the_job_is_queued_and_run_by_the_worker(redis_app, client, seg):  # noqa: F811
    cust(seg.a, deposit=60000)
    client.login("BA0001")
    resp = client.post(RECOMPUTE, {})
    job_id = job_of(resp)
    job = views.store.load(job_id)
    assert job["state"] == "running" and job["stage"] == "queued" and job["rq_id"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "排队中" in page and 'hx-trigger="every 1s"' in page
    assert job_of(client.post(RECOMPUTE, {})) == job_id  # queued counts as under way
    run_worker(redis_app)
    db.session.expire_all()
    job = views.store.load(job_id)
    assert job["state"] == "done" and (job["customers"], job["changed"]) == (1, 1) and not job.get("error")
    fragment = client.get(progress_url(job_id), headers=HX).get_data(as_text=True)
    assert "重算完成：1 户客户，层级变动 1 户" in fragment and "every 1s" not in fragment
    [row] = audit_rows()
    assert row.actor_id == seg.branch_admin1.id and row.detail["run"] == job["run_id"]


def test_with_redis_an_unexpected_error_is_retried_once_by_rq(redis_app, client, seg, monkeypatch):  # noqa: F811
    c = cust(seg.a, deposit=60000)
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("connection reset")

    monkeypatch.setattr(services, "_upsert_tags", broken)
    client.login("BA0001")
    job_id = job_of(client.post(RECOMPUTE, {}))
    run_worker(redis_app)
    db.session.expire_all()
    job = views.store.load(job_id)
    assert len(calls) == 2, "1 run + Retry(max=1)"
    assert job["state"] == "failed" and job["error"] == "RuntimeError" and job["attempts"] == 2
    assert "重算时出错" in client.get(progress_url(job_id), headers=HX).get_data(as_text=True)
    assert count(SegmentationRun) == 0 and audit_rows() == [] and db.session.get(Customer, c.id).tier is None

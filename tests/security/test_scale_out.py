"""Issue 8, operations "scale-out" (and promise 8's PDF part): two app servers sharing nothing but PostgreSQL and
Redis, plus one `crm worker`.

Two gunicorn instances (deploy/gunicorn.conf.py, 2 workers each, each with its own instance folder) on two free
loopback ports, against one PostgreSQL database of this test and Redis database 15 (flushed first):

* a session opened on instance 1 works on instance 2; logging out on instance 2 ends it on instance 1;
* failed logins alternated across both instances count against one per-account limit: the 6th attempt answers 429,
  even with the right password, on either instance;
* a 台账 PDF batch started on instance 1 is run by the worker, its progress and its file served by instance 2;
* a batch whose worker is killed (kill -9 of its process group, mid-layout) reads as interrupted on both
  instances and never serves a file: 404, and no PDF anywhere in Redis;
* gunicorn's access log has paths without query strings: the search canary is in no log.

Skipped when PostgreSQL or Redis are unreachable, except under CI=true.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import CSRF_RE, PASSWORD

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/15"
SECRET = "scale-out-test-secret-0123456789abcdef0123456789abcdef"
HASH = "pbkdf2:sha256:1000"  # fast in tests; production uses scrypt
SEARCH_CANARY = "QSCALEOUT7319"
SMALL, LARGE = 35, 220  # customers: above the 30 printed during the request; the large one lays out for seconds


def _pg_admin_url() -> str:
    from sqlalchemy.engine import make_url

    url = os.environ.get("CRM_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


def _unavailable(what: str, exc: Exception) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required in CI: {exc}")
    pytest.skip(f"{what} not reachable: {exc}")


@pytest.fixture
def database() -> str:
    """A fresh PostgreSQL database of this test (dropped afterwards)."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = _pg_admin_url()
    name = "crm_scale_out_" + (os.environ.get("PYTEST_XDIST_WORKER") or "main")
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        _unavailable("PostgreSQL", exc)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_db():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable("Redis", exc)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(CRM_ENV="production", CRM_SECRET_KEY=SECRET, CRM_DATABASE_URL=db_url, CRM_REDIS_URL=REDIS_URL,
               CRM_PASSWORD_HASH=HASH, CRM_COOKIE_SECURE="0", CRM_WEB_WORKERS="2", PYTHONUNBUFFERED="1",
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def _seed(db_url: str, instance: Path) -> None:
    """Schema (every built-in plugin's tables too) and the people and customers of the test, as the servers see
    them: same database, same password hashing."""
    from crm import create_app
    from crm.extensions import db
    from tests.conftest import make_branch, make_outlet, make_user
    from tests.test_ledger import make_customer

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url.replace("postgresql://", "postgresql+psycopg://", 1),
                      "INSTANCE_PATH": str(instance), "CRM_ENV": "development", "SECRET_KEY": SECRET,
                      "CRM_PASSWORD_HASH": HASH})
    with app.app_context():
        db.create_all()
        branch = make_branch("B1", "甲分行")
        sub = make_branch("S1", "甲一支行", branch)
        small, large = make_outlet(sub, "OA", "甲网点"), make_outlet(sub, "OC", "丙网点")
        head_a = make_user("HA0001", "outlet_head", outlet=small, name="网点甲负责人")
        head_c = make_user("HC0001", "outlet_head", outlet=large, name="网点丙负责人")
        make_user("RA0001", "personal_rm", outlet=small, name="甲客户经理")
        for i in range(SMALL):
            make_customer(small, f"甲客户{i:03d}", head_a, phone=f"1381234{i:04d}")
        make_customer(small, f"查找{SEARCH_CANARY}", head_a)
        for i in range(LARGE):
            make_customer(large, f"丙客户{i:03d}", head_c, phone=f"1391234{i:04d}")
        db.session.remove()
        db.engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One browser's cookie jar (the session cookie only) against one instance; the cookie can be carried over."""

    def __init__(self, port: int, cookie: str | None = None) -> None:
        self.port, self.cookie = port, cookie

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": f"crm_session={self.cookie}"} if self.cookie else {}
        body = urlencode(form).encode() if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body, headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        for value in resp.headers.get_all("Set-Cookie") or []:
            match = re.match(r"crm_session=([^;]*)", value)
            if match:
                self.cookie = match.group(1) or None
        return resp.status, dict(resp.headers), data

    def get(self, path: str) -> tuple[int, dict, bytes]:
        return self.request("GET", path)

    def token(self, path: str) -> str:
        status, _, body = self.get(path)
        match = CSRF_RE.search(body.decode())
        assert status == 200 and match, (status, path)
        return match.group(1) or match.group(2)

    def post(self, path: str, form: dict, token_from: str = "/") -> tuple[int, dict, bytes]:
        return self.request("POST", path, {"csrf_token": self.token(token_from), **form})

    def login(self, login: str, password: str = PASSWORD) -> int:
        return self.post("/login", {"login": login, "password": password}, token_from="/login")[0]


def _wait_until(check, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def cluster(database, redis_db, tmp_path):
    """Two gunicorn instances and one `crm worker`, each its own process group, logs in tmp_path."""
    _seed(database, tmp_path / "seed")
    env = _env(database)
    procs: list[subprocess.Popen] = []
    logs: dict[str, Path] = {}

    def spawn(name: str, args: list[str], extra_env: dict[str, str]) -> subprocess.Popen:
        logs[name] = tmp_path / f"{name}.log"
        with open(logs[name], "wb") as out:
            proc = subprocess.Popen(args, cwd=ROOT, env={**env, **extra_env}, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        procs.append(proc)
        return proc

    ports: list[int] = []
    try:
        yield from _start(spawn, ports, tmp_path, redis_db, logs, procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _start(spawn, ports, tmp_path, redis_db, logs, procs):
    for n in (1, 2):
        port = _free_port()
        ports.append(port)
        instance = tmp_path / f"instance{n}"  # nothing shared on disk: each server has its own instance folder
        spawn(f"web{n}", [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                          f"crm:create_app({{'INSTANCE_PATH': {str(instance)!r}}})"],
              {"CRM_BIND": f"127.0.0.1:{port}"})
    crm = shutil.which("crm")
    worker_cmd = [crm, "worker"] if crm else [sys.executable, "-c", "import sys; from crm.cli import main; "
                                                               "sys.argv = ['crm', 'worker']; main()"]
    worker = spawn("worker", worker_cmd, {})

    def ready(port: int) -> bool:
        try:
            return Browser(port).get("/login")[0] == 200
        except OSError:
            return False

    for port in ports:
        _wait_until(lambda port=port: ready(port), 120, f"gunicorn on port {port}", every=0.3)
    _wait_until(lambda: any(k.startswith(b"rq:worker:") for k in redis_db.scan_iter(match="rq:worker:*")), 120,
                "the worker to register", every=0.3)
    yield {"ports": ports, "worker": worker, "logs": logs, "redis": redis_db, "procs": procs}


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _job(redis_db, job_id: str) -> dict:
    raw = redis_db.get(f"crm:jobs:ledgers:{job_id}")
    return json.loads(raw) if raw else {}


def _print(browser: Browser, outlet_id: int) -> str:
    status, headers, body = browser.post("/customers/ledger/print", {"outlet": str(outlet_id)},
                                         token_from="/customers/ledger")
    assert status == 303, (status, body[:300])
    return headers["Location"].rsplit("/", 1)[1]


def test_two_app_servers_share_sessions_limits_and_jobs(cluster):
    started = time.monotonic()
    port1, port2 = cluster["ports"]
    redis_db = cluster["redis"]

    # ---- sessions: log in on 1, the same cookie works on 2
    one = Browser(port1)
    assert one.login("HA0001") == 302
    two = Browser(port2, one.cookie)
    status, _, body = two.get("/customers?" + urlencode({"q": f"查找{SEARCH_CANARY}"}))  # a name search
    assert status == 200 and f"查找{SEARCH_CANARY}" in body.decode(), status
    assert Browser(port2).get("/customers")[0] == 302  # without the cookie: the login page

    # ---- a PDF batch started on 1, run by the worker, followed and downloaded on 2
    job_id = _print(one, 1)
    base = f"/customers/ledger/jobs/{job_id}"

    def done_on_two() -> bool:
        status, _, body = two.get(base + "/progress")
        assert status == 200, status
        return f"{base}/ledger.pdf" in body.decode()

    _wait_until(done_on_two, 90, "the small ledger", every=0.5)
    status, headers, pdf = two.get(base + "/ledger.pdf")
    job = _job(redis_db, job_id)
    assert status == 200 and pdf.startswith(b"%PDF") and len(pdf) == job["size"] and job["customers"] == SMALL + 1
    assert job["leased"] and job.get("rq_id")  # run by the worker, not in a thread of instance 1
    assert "ledgers job" in cluster["logs"]["worker"].read_text(errors="replace")
    for n in (1, 2):  # no job state or file on either server's disk
        assert not [p for p in (Path(cluster["logs"]["web1"]).parent / f"instance{n}").rglob("*")
                    if p.is_file() and job_id in p.name]

    # ---- a batch whose worker dies mid-layout: interrupted everywhere, never a file
    three = Browser(port2)
    assert three.login("HC0001") == 302
    big = _print(three, 2)
    _wait_until(lambda: _job(redis_db, big).get("stage") == "layout" and _job(redis_db, big).get("pages", 0) > 0,
                90, "the large ledger to be laid out", every=0.05)
    # kill -9 of the worker and its work horse (RQ puts the horse in a process group of its own; systemd's
    # KillMode=control-group or an OOM kill or a power loss takes both).
    horses = _children(cluster["worker"].pid)
    assert horses, "the job runs in a work horse, a child of the worker"
    for pid in (cluster["worker"].pid, *horses):
        os.kill(pid, signal.SIGKILL)
    cluster["worker"].wait(10)
    assert _job(redis_db, big)["state"] == "running"
    big_base = f"/customers/ledger/jobs/{big}"
    page = _wait_until(lambda: (lambda b: b if "已中断" in b else None)(three.get(big_base)[2].decode()),
                       30, "the interrupted state", every=0.5)
    assert "every 1s" not in page
    for port in (port1, port2):
        assert Browser(port, three.cookie).get(big_base + "/ledger.pdf")[0] == 404
    assert not list(redis_db.scan_iter(match=f"crm:jobs:ledgers:{big}:file:*"))
    scratch = ROOT / "instance" / "ledgers" / f".{big}.pdf.part"  # `crm worker` uses the default instance folder
    scratch.unlink(missing_ok=True)  # whatever the killed render left: never published, deleted here

    # ---- logout on 2 ends the session on 1
    assert two.post("/logout", {})[0] == 302
    status, headers, _ = Browser(port1, one.cookie).get("/customers")
    assert status == 302 and "/login" in headers["Location"]

    # ---- failed logins alternated across both instances hit the one per-account limit (5 per 15 minutes)
    attackers = [Browser(port1), Browser(port2)]
    statuses = [attackers[i % 2].login("RA0001", "wrong-password-1") for i in range(5)]
    assert statuses == [401] * 5
    assert attackers[1].login("RA0001") == 429  # the right password, the 6th attempt: refused
    assert attackers[0].login("RA0001") == 429
    assert Browser(port1).login("HA0001") == 302  # another account is not affected

    # ---- the access logs: paths, never query strings (the search canary), never a password
    access = cluster["logs"]["web1"].read_text(errors="replace") + cluster["logs"]["web2"].read_text(errors="replace")
    assert re.search(r'"GET /customers HTTP/1\.1" 200', access), access[-2000:]
    assert '"POST /login HTTP/1.1" 429' in access
    for log in cluster["logs"].values():
        text = log.read_text(errors="replace")
        assert SEARCH_CANARY not in text and "q=" not in text and PASSWORD not in text and "wrong-password" not in text
    print(f"scale-out scenario: {time.monotonic() - started:.1f} s after start-up")


def test_gunicorn_config_logs_paths_without_query_strings():
    namespace: dict = {}
    exec(compile((ROOT / "deploy" / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)  # noqa: S102
    fmt = namespace["access_log_format"]
    assert "%(U)s" in fmt and "%(r)s" not in fmt and "%(q)s" not in fmt and "%(f)s" not in fmt
    assert namespace["preload_app"] is False and namespace["bind"].startswith("127.0.0.1:")

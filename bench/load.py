"""Load: 50 outlet users doing the daily journey against gunicorn on PostgreSQL with 1,000,000 customers.

Starts gunicorn (2 workers) on a loopback port with the production settings (PostgreSQL, Redis for the rate
limits and jobs, a fresh secret key, scrypt passwords), drives it with locust (50 users, 2–8 s between steps: log in, search,
open a customer, log a visit, list) and prints p50/p95 per step, requests/s, errors, and the ratio to a bare Flask
page served by the same gunicorn and requested by the same users in the same run (bench/load_app.py).

    crm demo --customers 1000000          # once, with CRM_DATABASE_URL pointing at the bench database
    python bench/load.py --db postgresql+psycopg://postgres@127.0.0.1:5432/crm_load

The bench changes the password of the 50 outlet users it logs in as (it is a bench database).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_P95_MS = 300
POSTS = ("personal_rm", "corporate_rm", "wealth_manager", "outlet_head", "supervisor")
JOURNEY = ("login", "search", "open customer", "log visit", "list")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(db_url: str, users: int, min_customers: int, password: str) -> tuple[list[str], int]:
    """The bench users (outlet staff who keep customers) with a known password; the customer count."""
    from sqlalchemy import func, select
    from werkzeug.security import generate_password_hash

    from crm import create_app
    from crm.extensions import db
    from crm.models import Customer, User

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "bench-prepare", "CRM_ENV": "development"})
    with app.app_context():
        customers = db.session.scalar(select(func.count()).select_from(Customer))
        if customers < min_customers:
            sys.exit(f"{customers:,} customers in the database, {min_customers:,} wanted: run "
                     f"`CRM_DATABASE_URL={db_url} crm demo --customers {min_customers - customers} --append` first")
        people = db.session.scalars(select(User).where(User.post.in_(POSTS), User.active.is_(True))
                                    .order_by(User.id).limit(users)).all()
        if not people:
            sys.exit("no outlet staff in the database: run `crm demo` first")
        digest = generate_password_hash(password)  # scrypt, as in production
        for person in people:
            person.password_hash = digest
            person.must_change_password = False
            person.totp_secret = None
        db.session.commit()
        return [p.login for p in people], customers


def wait_up(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn stopped with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # nosec B310 — loopback URL built above
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"gunicorn did not answer {url} within {seconds:.0f} s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="postgresql+psycopg://postgres@127.0.0.1:5432/crm_load")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="a Redis database the bench may flush")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--spawn-rate", type=float, default=2, help="users starting per second (staff log in over time)")
    ap.add_argument("--wait", default="2,8", help="seconds between one user's steps: MIN,MAX")
    ap.add_argument("--seconds", type=int, default=120, help="run time after all users have started")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--min-customers", type=int, default=1_000_000)
    args = ap.parse_args()
    if not shutil.which("locust"):
        sys.exit("locust is not installed: pip install -e '.[bench]'")

    password = "Bench-" + secrets.token_urlsafe(12)
    logins, customers = prepare(args.db, args.users, args.min_customers, password)
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    folder = Path(tempfile.mkdtemp(prefix="crm-load-"))
    port = free_port()
    env = dict(os.environ, CRM_ENV="production", CRM_SECRET_KEY=secrets.token_urlsafe(32),
               CRM_DATABASE_URL=args.db, CRM_REDIS_URL=args.redis, CRM_COOKIE_SECURE="0",
               CRM_INSTANCE_PATH=str(folder / "instance"), PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-k", "gthread", "--threads", str(args.threads),
         "-b", f"127.0.0.1:{port}", "--error-logfile", str(folder / "gunicorn.log"), "bench.load_app:app"],
        cwd=ROOT, env=env)
    try:
        host = f"http://127.0.0.1:{port}"
        wait_up(f"{host}/bare/", server)
        samples_file = folder / "samples.json"
        ramp = args.users / args.spawn_rate
        run_time = int(ramp + args.seconds)
        started = time.monotonic()
        subprocess.run(
            ["locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "--only-summary",
             "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{run_time}s", "--host", host,
             "--loglevel", "WARNING", "--stop-timeout", "5"],
            cwd=ROOT, check=False, stdout=subprocess.DEVNULL,
            env=dict(os.environ, BENCH_LOGINS=",".join(logins), BENCH_PASSWORD=password,
                     BENCH_SAMPLES=str(samples_file), BENCH_WAIT=args.wait))
        elapsed = time.monotonic() - started
        samples = json.loads(samples_file.read_text(encoding="utf-8"))
    finally:
        server.terminate()
        server.wait(30)
    report(samples, customers, args, elapsed)
    shutil.rmtree(folder, ignore_errors=True)


def report(samples: list, customers: int, args: argparse.Namespace, elapsed: float) -> None:
    by_step: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    for name, ms, failed in samples:
        by_step.setdefault(name, []).append(ms)
        errors[name] = errors.get(name, 0) + failed
    journey = [ms for name, ms, _f in samples if name in JOURNEY]
    journey_errors = sum(errors.get(n, 0) for n in JOURNEY)
    bare = by_step.get("bare Flask page", [])
    print(f"load: {customers:,} customers (PostgreSQL), gunicorn {args.workers} workers × {args.threads} threads, "
          f"{args.users} users ({args.wait.replace(',', '–')} s between steps), {elapsed:.0f} s incl. ramp-up; "
          "locust runs on the same machine")
    print(f"{'step':<18}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for name in (*JOURNEY, "bare Flask page"):
        values = by_step.get(name, [])
        print(f"{name:<18}{len(values):>9}{errors.get(name, 0):>8}{percentile(values, .5):>9.1f}"
              f"{percentile(values, .95):>9.1f}{max(values, default=float('nan')):>9.1f}")
    p50, p95 = percentile(journey, .5), percentile(journey, .95)
    b50, b95 = percentile(bare, .5), percentile(bare, .95)
    rps = len(samples) / elapsed
    print(f"journey: {len(journey)} requests, {journey_errors} errors, p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
          f"mean {statistics.fmean(journey):.1f} ms; all requests {rps:.1f} req/s")
    print(f"bare Flask page (same gunicorn, same run): p50 {b50:.1f} ms, p95 {b95:.1f} ms")
    print(f"ratio journey/bare: p50 {p50 / b50:.1f}×, p95 {p95 / b95:.1f}×")
    verdict = "met" if p95 < GOAL_P95_MS and journey_errors == 0 else "NOT met"
    print(f"goal p95 < {GOAL_P95_MS} ms and 0 errors: {verdict} (p95 = {p95 / GOAL_P95_MS:.2f}× the goal)")


if __name__ == "__main__":
    main()

"""`crm worker`: run the background jobs (PDF batches, ...) queued in Redis by any app server.

Each job runs in a fork of this process (RQ's work horse), so the memory a large PDF render takes goes back to the
system when the job ends, and a crash in one job does not take the worker down. Start as many workers as jobs
should run at once (each render needs a few hundred MB); see README "Deployment".
"""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext

from crm import jobs


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then stop (tests, cron).")
@click.option("--name", default=None, help="Worker name shown by `rq info` (default: host and pid).")
@with_appcontext
def worker_command(burst: bool, name: str | None) -> None:
    """Run queued background jobs (needs CRM_REDIS_URL)."""
    from rq import Queue, Worker

    from crm.extensions import db

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    redis = jobs.redis_client(app)
    if redis is None:
        raise click.ClickException("未配置 CRM_REDIS_URL：没有 Redis 时后台任务在网站进程内运行，无需启动 worker。")
    redis.ping()  # a wrong URL fails here, with Redis's own message, not at the first job
    jobs.set_worker_app(app)
    db.engine.dispose()  # the work horses fork from here: no connection of this process may be shared with them
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = Worker([Queue(jobs.namespace(app), connection=redis)], connection=redis, name=name)
    click.echo(f"后台任务 worker 已启动：队列 {jobs.namespace(app)}，{'处理完即退出' if burst else '持续运行'}。")
    worker.work(burst=burst, logging_level="INFO")

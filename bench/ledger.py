"""Ledger PDF (台账, R-09) of 500 customers for one staff member: pages, seconds, pages/s and peak memory."""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages  # noqa: E402 - bench/pages.py: build_app (schema + demo org)

from crm import create_app  # noqa: E402
from crm.demo_customers import seed_customers  # noqa: E402
from crm.extensions import db  # noqa: E402
from crm.models import Activity, Customer, User  # noqa: E402

KINDS = ("visit", "call", "call", "meeting", "message")
# What RMs write after a contact: one to three of these, 15–60 characters in all.
SENTENCES = (
    "电话回访，客户对近期理财产品收益表示满意", "上门走访，了解家庭资产配置情况", "客户定期存款下月到期，提醒到期续存",
    "客户有购房计划，推荐公积金组合贷款", "介绍大额存单，客户表示考虑后答复", "客户子女明年出国留学，需办理留学汇款",
    "邀请客户参加本周六理财沙龙", "客户经营的门店资金周转紧张，了解经营贷需求", "协助客户办理手机银行，讲解转账限额",
    "客户反映上次办理业务排队时间长，已向网点负责人反馈", "客户关注养老金融，介绍个人养老金账户", "约定下周到店面谈",
    "客户近期资金流出较多，了解原因为装修", "推荐信用卡分期，客户暂无需求", "客户父母年事已高，询问保险产品",
)
STAGES = ("gather", "prepare", "layout", "writing")

# The reference: the same customers and contacts as one plain table (a row per customer, the contacts run together
# in one cell), default styles and the same CJK font: what WeasyPrint needs for this much text at the least.
REFERENCE_HTML = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>
@page { size: A4; margin: 18mm 15mm; }
html { font-family: "Noto Sans CJK SC", sans-serif; font-size: 9pt; }
table { border-collapse: collapse; width: 100%; } td { border: 0.5pt solid #444; padding: 1mm; }
</style></head><body><table>
{% for c in customers %}<tr><td>{{ c.no }}</td><td>{{ c.name }}</td><td>{{ c.phone }}</td><td>{{ c.cert }}</td>
<td>{{ c.balance }}</td><td>{{ c.maintainer }}</td><td>{% for a in c.contacts %}{{ a.day }} {{ a.kind }} {{ a.summary }}
{% endfor %}</td></tr>{% endfor %}</table></body></html>"""


def _summary(rng: random.Random) -> str:
    return "，".join(rng.sample(SENTENCES, rng.randint(1, 3))) + "。"


def build(folder: Path, customers: int) -> str:
    """The demo org, `customers` demo customers, all moved into one personal RM's book, with 0–8 contacts each
    (about a third with a follow-up date); returns the RM's login."""
    app = pages.build_app(None, folder)
    rng = random.Random(7)
    with app.app_context():
        seed_customers(customers, seed=7, echo=lambda s: None)
        rm = db.session.execute(select(User).where(User.post == "personal_rm").order_by(User.id).limit(1)).scalar_one()
        db.session.execute(update(Customer).values(outlet_id=rm.outlet_id, maintainer_id=rm.id))
        ids = db.session.execute(select(Customer.id).order_by(Customer.id)).scalars().all()
        now = datetime.utcnow().replace(microsecond=0)  # noqa: DTZ003 - stored naive UTC, as the app does
        today = date.today()
        rows = []
        for cid in ids:
            for _ in range(rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 8))):
                when = now - timedelta(days=rng.randint(0, 180), minutes=rng.randint(0, 600))
                follow = today + timedelta(days=rng.randint(-20, 20)) if rng.random() < 0.3 else None
                rows.append({"customer_id": cid, "user_id": rm.id, "kind": rng.choice(KINDS), "occurred_at": when,
                             "summary": _summary(rng), "next_follow_up": follow,
                             "follow_up_done": bool(follow and follow < today and rng.random() < 0.5),
                             "created_at": when})
        if rows:
            db.session.execute(insert(Activity), rows)
        db.session.commit()
        login = rm.login
        db.engine.dispose()
    return login


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(folder: Path, login: str, what: str) -> None:
    """One measurement in a fresh process, so ru_maxrss is this render's peak and nothing else's."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(folder),
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}"})
    with app.app_context():
        from crm import pdf
        from crm.customers import ledger

        rm = db.session.execute(select(User).where(User.login == login)).scalar_one()
        data = ledger.gather(rm, user=rm)  # once before timing: imports, caches, the SQLite page cache
        customers, contacts = data.count, data.contact_count
        start_mb = peak_mb()
        cpu = cpu_seconds()
        marks = {"gather": time.perf_counter()}
        if what == "app":
            # What the print job's thread does (crm/customers/ledger_views.py, _start): gather, then render to a file.
            data = ledger.gather(rm, user=rm)
            out = folder / "ledger.pdf"
            pages_ = ledger.render_to_file(data, out, lambda stage, n: marks.setdefault(stage, time.perf_counter()))
            size = out.stat().st_size
            marks["end"], cpu = time.perf_counter(), cpu_seconds() - cpu
            data = None
            pdf.release_memory()  # as the job does once it is done: "after MB" is what the worker keeps
        elif what == "reference":
            from weasyprint import HTML

            html = app.jinja_env.from_string(REFERENCE_HTML).render(
                customers=[c for g in data.groups for c in g.customers])
            document = HTML(string=html).render()
            pages_, size = len(document.pages), len(document.write_pdf())
            marks["end"], cpu = time.perf_counter(), cpu_seconds() - cpu
        else:
            raise SystemExit(f"unknown measurement {what}")
        names = [k for k in (*STAGES, "end") if k in marks]
        print(json.dumps({
            "pages": pages_, "seconds": marks["end"] - marks["gather"], "cpu": cpu, "bytes": size, "customers": customers,
            "contacts": contacts, "start_mb": start_mb, "peak_mb": peak_mb(), "after_mb": rss_mb(),
            "stages": {a: marks[b] - marks[a] for a, b in zip(names, names[1:], strict=False)},
        }))


def measure(folder: Path, login: str, what: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(folder), "--login", login, "--what", what],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"{what} measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per measurement (median)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--login", help=argparse.SUPPRESS)
    parser.add_argument("--what", default="app", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child), args.login, args.what)
        return
    with tempfile.TemporaryDirectory(prefix="crm-bench-ledger-") as tmp:
        folder = Path(tmp)
        login = build(folder, args.customers)
        runs: dict[str, list[dict]] = {"app": [], "reference": []}
        for _ in range(args.runs):  # alternated, so that a busy moment on the machine affects both alike
            for what in runs:
                runs[what].append(measure(folder, login, what))
    app, ref = runs["app"], runs["reference"]
    print(f"ledger of {app[0]['customers']:,} customers and {app[0]['contacts']:,} printed contacts for one "
          f"personal RM; {args.runs} runs each in a fresh process, medians")
    print(f"{'':34}{'pages':>6}{'seconds':>9}{'CPU s':>7}{'pages/s':>9}{'peak MB':>9}{'start MB':>10}"
          f"{'after MB':>10}{'PDF MB':>8}")
    for label, rs in (("ledger (gather + render_to_file)", app), ("reference: plain table", ref)):
        s = median(rs, "seconds")
        print(f"{label:34}{rs[0]['pages']:>6}{s:>9.1f}{median(rs, 'cpu'):>7.1f}{rs[0]['pages'] / s:>9.1f}"
              f"{median(rs, 'peak_mb'):>9.0f}{median(rs, 'start_mb'):>10.0f}{median(rs, 'after_mb'):>10.0f}"
              f"{rs[0]['bytes'] / 2**20:>8.1f}")
    print("ledger stages (s): " + ", ".join(f"{k} {statistics.median(r['stages'].get(k, 0) for r in app):.1f}"
                                            for k in STAGES))
    grow_app = median(app, "peak_mb") - median(app, "start_mb")
    grow_ref = median(ref, "peak_mb") - median(ref, "start_mb")
    print(f"ratio ledger / reference: seconds {median(app, 'seconds') / median(ref, 'seconds'):.2f}x, "
          f"CPU {median(app, 'cpu') / median(ref, 'cpu'):.2f}x, "
          f"memory above start {grow_app / grow_ref:.2f}x ({grow_app:.0f} MB vs {grow_ref:.0f} MB)")


if __name__ == "__main__":
    main()

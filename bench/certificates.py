"""实习证明: 500 certificates as ONE PDF (the app's print of a whole campaign) — seconds and peak memory, against a
bare WeasyPrint render of the same HTML and against 500 separate one-certificate PDFs, in the same run."""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages  # noqa: E402 - bench/pages.py: build_app (schema + demo org)

from crm import create_app  # noqa: E402
from crm.extensions import db  # noqa: E402
from crm.models import Branch, Customer, Outlet, User  # noqa: E402
from crm.timeutil import local_to_utc  # noqa: E402

CHILDREN = ("王小明", "李想", "欧阳娜娜", "张子涵", "刘一诺", "陈思远", "杨梓萱", "赵浩然", "黄雨桐", "周子墨", "吴欣怡",
            "徐铭泽", "孙可馨", "马俊熙", "朱若汐", "胡宇航", "郭诗涵", "何梓睿", "林语桐", "高天佑")
PER_ROUND = 10  # at most 10 children a round
WHAT = ("app", "reference", "separate")


def build(folder: Path, certificates: int) -> None:
    """The demo org (郑州分行 …), a kids campaign of 郑州分行 at the outlets of 金水支行 with `certificates` attending
    children in rounds of 10, and the 支行行长's signature and the seal recorded the day before the first round."""
    from plugins.salon_events import certificates as certs
    from plugins.salon_events import uploads
    from plugins.salon_events.models import (
        SalonCampaign,
        SalonCampaignOutlet,
        SalonRegistration,
        SalonSession,
        SalonSignature,
    )

    app = pages.build_app(None, folder)
    with app.app_context():
        app.extensions["crm"].set_enabled("salon_events", None, True, None)
        sub = db.session.execute(select(Branch).where(Branch.name == "金水支行")).scalar_one()
        outlets = db.session.execute(select(Outlet).where(Outlet.branch_id == sub.id).order_by(Outlet.id)).scalars().all()
        president = db.session.execute(select(User).where(User.branch_id == sub.id,
                                                          User.post == "sub_branch_president")).scalars().first()
        camp = SalonCampaign(branch_id=sub.root_id, code="KB", kind="kids", name="宝贝银行家实习体验日", status="open",
                             year=2026)
        db.session.add(camp)
        db.session.flush()
        db.session.add_all(SalonCampaignOutlet(campaign_id=camp.id, outlet_id=o.id) for o in outlets)
        first = datetime(2026, 5, 16, 9, 0)
        rounds = []
        for i in range((certificates + PER_ROUND - 1) // PER_ROUND):
            start = first + timedelta(days=i // 2, hours=5 * (i % 2))
            outlet = outlets[i % len(outlets)]
            rounds.append(SalonSession(campaign_id=camp.id, outlet_id=outlet.id, starts_at=start,
                                       ends_at=start + timedelta(hours=3), capacity=PER_ROUND, status="closed",
                                       seats_taken=PER_ROUND))
        db.session.add_all(rounds)
        db.session.flush()
        for n in range(certificates):
            r = rounds[n // PER_ROUND]
            child = CHILDREN[n % len(CHILDREN)]
            parent = Customer(outlet_id=r.outlet_id, kind="personal", name=f"{child[0]}家长{n}")
            db.session.add(parent)
            db.session.flush()
            db.session.add(SalonRegistration(campaign_id=camp.id, session_id=r.id, outlet_id=r.outlet_id,
                                             customer_id=parent.id, child_name=child, child_age=8,
                                             dedupe_key=f"{parent.id}:{child}", status="registered", attended=True))
        image = uploads.save_image(io.BytesIO(certs.sample_signature_png(president.name)), kind="signature")
        seal = uploads.save_image(io.BytesIO(certs.sample_seal_png("郑州分行金水支行业务专用章")), kind="seal")
        db.session.add(SalonSignature(campaign_id=camp.id, sub_branch_id=sub.id, signer_id=president.id,
                                      image=image.stored_name, seal=seal.stored_name,
                                      recorded_at=local_to_utc(first - timedelta(days=1))))
        db.session.commit()
        db.engine.dispose()


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(folder: Path, what: str, sample: int) -> None:
    """One measurement in a fresh process (ru_maxrss is this one's peak) on a fresh copy of the database (so the
    app's print issues the certificates every time, as the first print of a campaign does)."""
    from flask_login import login_user

    from plugins.salon_events import certificates as certs
    from plugins.salon_events.models import SalonCampaign

    work = Path(tempfile.mkdtemp(dir=folder, prefix=f"{what}-"))
    shutil.copy(folder / "bench.db", work / "bench.db")
    shutil.copytree(folder / "uploads", work / "uploads")
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(work), "SQLALCHEMY_DATABASE_URI":
                      f"sqlite:///{work / 'bench.db'}", "SERVER_NAME": "crm.example.cn", "PREFERRED_URL_SCHEME": "https"})
    with app.app_context(), app.test_request_context():
        marketing = db.session.execute(select(User).where(User.post == "marketing").order_by(User.id)).scalars().first()
        login_user(marketing)
        camp = db.session.execute(select(SalonCampaign)).scalar_one()
        start_mb, cpu, t0 = peak_mb(), cpu_seconds(), time.perf_counter()
        stages: dict[str, float] = {}
        if what == "app":
            # What POST /certificates/campaign/<id>/print does: check signatures, issue, build, render, record.
            real = certs.render_pdf

            def timed(*a, **kw):
                t = time.perf_counter()
                try:
                    return real(*a, **kw)
                finally:
                    stages["render"] = time.perf_counter() - t

            certs.render_pdf = timed
            printed = certs.print_certificates(camp, marketing)
            n_pages, size, count = printed.pages, len(printed.data), printed.count
        else:
            # The same pages and HTML as the app's print, made before the clock starts.
            signatures = certs.campaign_signatures(camp.id)
            sessions = certs.sessions_in_scope(camp, marketing)
            certs.issue(camp, sessions, signatures, marketing)
            db.session.commit()
            cert_rows = certs.certificates_for(camp.id, [s.id for s in sessions])
            pages_, images = certs.build_pages(camp, cert_rows, {s.id: s for s in sessions}, signatures)
            text = certs.text_of(camp.id)
            count = len(pages_)
            if what == "reference":
                from weasyprint import HTML

                html = certs.render_html(pages_, text, images)
                start_mb, cpu, t0 = peak_mb(), cpu_seconds(), time.perf_counter()
                document = HTML(string=html).render()  # WeasyPrint's defaults: default fetcher, no gc tweaks
                n_pages, size = len(document.pages), len(document.write_pdf())
            else:
                todo = pages_[:sample] if sample else pages_
                start_mb, cpu, t0 = peak_mb(), cpu_seconds(), time.perf_counter()
                n_pages = size = 0
                for p in todo:
                    one = certs.render_pdf([p], text, images)
                    n_pages, size = n_pages + one.pages, size + len(one.data)
                stages["rendered"] = len(todo)
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - cpu
    print(json.dumps({"what": what, "count": count, "pages": n_pages, "seconds": seconds, "cpu": cpu, "bytes": size,
                      "start_mb": start_mb, "peak_mb": peak_mb(), "after_mb": rss_mb(), "stages": stages}))


def measure(folder: Path, what: str, sample: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(folder), "--what", what, "--sample", str(sample)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"{what} measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--certificates", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1, help="fresh processes per measurement (median)")
    parser.add_argument("--separate-sample", type=int, default=0,
                        help="render only this many separate PDFs and scale the time up (0: all of them)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--what", default="app", help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child), args.what, args.sample)
        return
    with tempfile.TemporaryDirectory(prefix="crm-bench-cert-") as tmp:
        folder = Path(tmp)
        build(folder, args.certificates)
        runs: dict[str, list[dict]] = {w: [] for w in WHAT}
        for _ in range(args.runs):  # alternated, so that a busy moment on the machine affects all alike
            for what in WHAT:
                runs[what].append(measure(folder, what, args.separate_sample if what == "separate" else 0))
    med = {w: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "cpu", "peak_mb", "start_mb", "after_mb")}
           for w, rs in runs.items()}
    sep = runs["separate"][0]
    done = sep["stages"].get("rendered") or sep["count"]
    scale = sep["count"] / done
    for key in ("seconds", "cpu"):
        med["separate"][key] *= scale
    n = runs["app"][0]["count"]
    print(f"{n} 实习证明 (A4 landscape, QR code, signature and seal) of one kids campaign, {args.runs} run(s) each in "
          f"a fresh process, medians")
    print(f"{'':44}{'pages':>6}{'seconds':>9}{'CPU s':>8}{'cert/s':>8}{'peak MB':>9}{'start MB':>10}{'PDF MB':>8}")
    labels = (("app: print whole campaign (ONE PDF)", "app"), ("reference: bare WeasyPrint, same HTML", "reference"),
              (f"{n} separate PDFs" + (f" (est. from {done})" if scale != 1 else ""), "separate"))
    for label, what in labels:
        r, m = runs[what][0], med[what]
        pages_ = r["pages"] * (scale if what == "separate" else 1)
        size = r["bytes"] * (scale if what == "separate" else 1)
        print(f"{label:44}{pages_:>6.0f}{m['seconds']:>9.1f}{m['cpu']:>8.1f}{n / m['seconds']:>8.1f}"
              f"{m['peak_mb']:>9.0f}{m['start_mb']:>10.0f}{size / 2**20:>8.1f}")
    render = statistics.median(r["stages"].get("render", 0) for r in runs["app"])
    print(f"app stages: render (QR codes, HTML, layout, PDF) {render:.1f} s; the rest (signature check, issuing {n} "
          f"numbers and tokens, print counts, print record, audit, commit) {med['app']['seconds'] - render:.1f} s")
    app, ref, sep_m = med["app"], med["reference"], med["separate"]
    print(f"ratio app / bare WeasyPrint: seconds {app['seconds'] / ref['seconds']:.2f}x, CPU {app['cpu'] / ref['cpu']:.2f}x"
          f" (goal <= 1.2x); peak {app['peak_mb']:.0f} MB vs {ref['peak_mb']:.0f} MB (goal <= 400 MB)")
    print(f"ratio {n} separate PDFs / ONE PDF: seconds {sep_m['seconds'] / app['seconds']:.1f}x, "
          f"CPU {sep_m['cpu'] / app['cpu']:.1f}x (goal >= 8x)")


if __name__ == "__main__":
    main()

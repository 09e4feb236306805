"""金融生态图 at 1,000,000 customers: one outlet with 5,000 map nodes. Server time and payload of the map page, its
JSON data and the table, against the core customer list of the same outlet measured in the same run; then the
browser's time to the first rendered chart (performance marks set by map.js), against the list page's load."""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
from customers import EXTRA_OUTLETS, build, is_built, make_app, p95, pg_admin, timed_rounds  # noqa: E402
from pages import PASSWORD, log_in  # noqa: E402

from crm.auth.services import set_password  # noqa: E402
from crm.extensions import db  # noqa: E402
from crm.models import Customer, Outlet, User  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def prepare_outlet(app: Any, nodes: int) -> tuple[Outlet, User]:
    """The demo's first outlet, with `nodes` corporate customers on its map: its own, then corporate customers of
    other outlets of the same 分行 moved over (stock ones maintained by the head, targets unassigned)."""
    from plugins.target_map.models import TargetMapEntry
    from plugins.target_map.services_map import put_on_map

    db.create_all()  # the plugin's tables, if the database was built before the plugin existed
    outlet = db.session.execute(select(Outlet).order_by(Outlet.id)).scalars().first()
    head = db.session.execute(select(User).where(User.outlet_id == outlet.id, User.post == "outlet_head")
                              .order_by(User.id)).scalars().first()
    registry = app.extensions["crm"]
    registry.set_enabled("target_map", outlet.root_branch_id, True, None)
    set_password(head, PASSWORD, must_change=False)
    db.session.commit()
    have = db.session.execute(select(func.count()).select_from(TargetMapEntry)
                              .where(TargetMapEntry.outlet_id == outlet.id)).scalar_one()
    if have >= nodes:
        return outlet, head
    own = db.session.execute(select(func.count()).where(
        Customer.outlet_id == outlet.id, Customer.kind == "corporate", Customer.eco_module.is_not(None),
        ~select(TargetMapEntry.id).where(TargetMapEntry.customer_id == Customer.id).exists())).scalar_one()
    need = nodes - have - own
    if need > 0:
        others = select(Outlet.id).where(Outlet.root_branch_id == outlet.root_branch_id, Outlet.id != outlet.id)
        moved = (select(Customer.id).where(Customer.kind == "corporate", Customer.eco_module.is_not(None),
                                           Customer.outlet_id.in_(others)).order_by(Customer.id).limit(need))
        db.session.execute(update(Customer).where(Customer.id.in_(moved)).values(
            outlet_id=outlet.id, maintainer_id=case((Customer.status == "stock", head.id), else_=None))
            .execution_options(synchronize_session=False))
        db.session.commit()
    put_on_map(outlet.id, nodes - have)
    return outlet, head


def fetch(client: Any, url: str) -> bytes:
    response = client.get(url)
    if response.status_code != 200:
        sys.exit(f"GET {url} answered {response.status_code}")
    return response.data


def server_figures(app: Any, outlet: Outlet, head: User, rounds: int, budget: float) -> dict[str, Any]:
    client = app.test_client()
    log_in(client, head.login)
    base = f"/p/target-map/outlets/{outlet.id}"
    cases = [("customer list of the outlet (reference)", f"/customers?outlet={outlet.id}&sort=deposit"),
             ("map page (HTML, chart loads after)", base), ("map data (map.json)", base + "/map.json"),
             ("table, page 1 (50 rows)", base + "/table")]
    sizes = {}
    for name, url in cases:
        body = fetch(client, url)
        sizes[name] = (len(body), len(gzip.compress(body)))
    data = client.get(base + "/map.json").get_json()
    times = timed_rounds([(name, lambda url=url: fetch(client, url)) for name, url in cases], rounds, budget)
    export_ms = []
    for _ in range(3):
        start = time.perf_counter()
        export = fetch(client, base + "/export.xlsx")
        export_ms.append((time.perf_counter() - start) * 1000)
    return {"times": times, "sizes": sizes, "nodes": len(data["nodes"]), "export_ms": statistics.median(export_ms),
            "export_bytes": len(export)}


def browser_figures(app: Any, outlet: Outlet, head: User, runs: int) -> dict[str, list[float]] | None:
    if not Path(CHROMIUM).exists():
        print("browser: /usr/bin/chromium not found, skipped")
        return None
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    found: dict[str, list[float]] = {"list: load event": [], "map: DOMContentLoaded": [], "map: data arrived": [],
                                     "map: chart rendered": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
            page.goto(base + "/login")
            page.fill("input[name=login]", head.login)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            for _ in range(runs):
                page.goto(f"{base}/customers?outlet={outlet.id}&sort=deposit", wait_until="load")
                found["list: load event"].append(page.evaluate(
                    "performance.getEntriesByType('navigation')[0].loadEventEnd"))
                page.goto(f"{base}/p/target-map/outlets/{outlet.id}")
                page.wait_for_selector("[data-tm-ready]", timeout=60_000)
                marks = page.evaluate("""() => {
                  const nav = performance.getEntriesByType('navigation')[0];
                  const mark = n => performance.getEntriesByName(n)[0].startTime;
                  return [nav.domContentLoadedEventEnd, mark('tm-map-data'), mark('tm-map-rendered')];
                }""")
                for key, value in zip(("map: DOMContentLoaded", "map: data arrived", "map: chart rendered"), marks,
                                      strict=True):
                    found[key].append(value)
            browser.close()
    finally:
        server.shutdown()
        thread.join(5)
    return found


def report(dialect: str, outlet: Outlet, n_customers: int, server: dict[str, Any],
           browser: dict[str, list[float]] | None) -> None:
    times, sizes = server["times"], server["sizes"]
    ref_name = "customer list of the outlet (reference)"
    ref = statistics.median(times[ref_name])
    print(f"\n{dialect}: {n_customers:,} customers; outlet {outlet.name} with {server['nodes']:,} map nodes")
    print(f"{'request':<40} {'median ms':>10} {'p95 ms':>8} {'ratio':>7} {'bytes':>10} {'gzip':>9}")
    for name, samples in times.items():
        med = statistics.median(samples)
        raw, packed = sizes[name]
        print(f"{name:<40} {med:>10.1f} {p95(samples):>8.1f} {med / ref:>6.2f}× {raw:>10,} {packed:>9,}")
    data_raw, data_gzip = sizes["map data (map.json)"]
    print(f"map.json: {data_raw / max(server['nodes'], 1):.1f} bytes per node ({data_gzip / max(server['nodes'], 1):.1f}"
          f" gzipped)")
    print(f"export of the whole map ({server['nodes']:,} rows, .xlsx {server['export_bytes']:,} bytes): "
          f"{server['export_ms']:.0f} ms (median of 3)")
    page = statistics.median(times["map page (HTML, chart loads after)"])
    data = statistics.median(times["map data (map.json)"])
    print(f"until the chart can be drawn (page + data): {page + data:.0f} ms = {(page + data) / ref:.2f}× the list page")
    if browser:
        print("browser (ms from navigation start, median of the runs):")
        for name, samples in browser.items():
            print(f"  {name:<28} {statistics.median(samples):>8.0f}   (runs: {', '.join(f'{s:.0f}' for s in samples)})")
        rendered = statistics.median(browser["map: chart rendered"])
        listed = statistics.median(browser["list: load event"])
        print(f"  chart rendered / list page loaded: {rendered / listed:.2f}×")


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the browser part's server: no line per request
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="PostgreSQL URL of a database of its own (not test or postgres): created and "
                                     "filled; dropped at the end unless --keep")
    parser.add_argument("--keep", action="store_true", help="PostgreSQL: keep the database, and reuse it next time")
    parser.add_argument("--reuse", metavar="PATH", help="SQLite: the database file to reuse (built there if missing)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--nodes", type=int, default=5_000, help="customers on the outlet's map (default 5,000)")
    parser.add_argument("--rounds", type=int, default=30, help="timed requests per case (default 30)")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per case before it stops at 5 samples")
    parser.add_argument("--browser-runs", type=int, default=5, help="page loads in Chromium (0: skip the browser)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-bench-map-") as tmp:
        folder = Path(tmp)
        if args.db:
            url = args.db.replace("postgresql://", "postgresql+psycopg://", 1)
            if not (args.keep and pg_admin(args.db, "exists")):
                pg_admin(args.db, "create")
        else:
            path = Path(args.reuse) if args.reuse else folder / "bench-map.sqlite3"
            url = f"sqlite:///{path.resolve()}"
        app = make_app(url, folder)
        if not is_built(app, args.customers):
            if args.db:
                pg_admin(args.db, "create")
            else:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            app = make_app(url, folder)
            print(f"building: {args.customers:,} customers over {10 + EXTRA_OUTLETS} outlets …", flush=True)
            build(app, args.customers)
        try:
            with app.app_context():
                outlet, head = prepare_outlet(app, args.nodes)
                if db.engine.dialect.name == "postgresql":
                    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                        conn.execute(text("VACUUM ANALYZE"))
                dialect = db.engine.dialect.name
                n_customers = db.session.execute(select(func.count()).select_from(Customer)).scalar_one()
                outlet_id, head_id = outlet.id, head.id
            with app.app_context():
                outlet, head = db.session.get(Outlet, outlet_id), db.session.get(User, head_id)
                server = server_figures(app, outlet, head, args.rounds, args.budget)
            browser = None
            if args.browser_runs:
                with app.app_context():
                    outlet, head = db.session.get(Outlet, outlet_id), db.session.get(User, head_id)
                    login, name = head.login, outlet.name
                browser = browser_figures(app, _Plain(outlet_id, name), _Plain(head_id, None, login),
                                          args.browser_runs)
            with app.app_context():
                report(dialect, _Plain(outlet_id, db.session.get(Outlet, outlet_id).name), n_customers, server,
                       browser)
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            if args.db and not args.keep:
                pg_admin(args.db, "drop")


class _Plain:
    """An outlet or a user reduced to what the browser part and the report read (no session needed)."""

    def __init__(self, id: int, name: str | None, login: str | None = None) -> None:
        self.id, self.name, self.login = id, name, login


if __name__ == "__main__":
    main()

"""A tour of every page in Chromium (issue 8, promise 11): on the demo data with every plugin on, the administrator,
a customer manager and the marketing post follow every link the UI offers, open every page once (each URL pattern),
scroll it so that lazy panels and widgets load, and the tour records 0 CSP violations, 0 console errors, 0 JavaScript
errors, 0 requests leaving 127.0.0.1 and 0 broken links. A page route the tour never reaches must be reached or listed
below with the reason — so a new page cannot escape the tour."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from crm.extensions import db
from tests.browser.support import Watched
from tests.conftest import ALL_PLUGINS, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.one_database]

# Links the tour does not follow: they end the session, download a file or start printing.
SKIP_LINK = re.compile(r"/logout|export|download|\.xlsx|\.pdf|/pdf|template|rejects|/print|/file|/photo|/qr|/verify/")
CSP_LISTENER = """
window.__csp = [];
window.__inflight = 0;
window.__last = performance.now();
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sourceFile || '') + ':' + e.lineNumber));
document.addEventListener('htmx:beforeRequest', () => { window.__inflight++; window.__last = performance.now(); });
document.addEventListener('htmx:afterRequest', () => { window.__inflight--; window.__last = performance.now(); });
"""
# Settled: no htmx request in flight for 150 ms (polling pages never reach "network idle"), at most 5 s. htmx sends
# the requests of swapped-in content (hx-trigger="load"/"revealed") as it swaps, well inside that gap.
SETTLE = """() => new Promise(resolve => {
  const start = performance.now();
  (function check() {
    const now = performance.now();
    if ((window.__inflight <= 0 && now - window.__last > 150) || now - start > 5000) resolve();
    else setTimeout(check, 50);
  })();
})"""
# GET routes that are not pages of their own, so the tour reaches them only through the page that loads them.
NOT_A_PAGE = re.compile(
    r"(^static$|\.static$|/w/|widget|panel|fragment|rows|count|suggest|search_|options|progress|_job$|"
    r"download|export|template|rejects|pdf|photo|file|qr|verify|logout|\.csv|timeline|cell|chart|data$|"
    r"choices|candidates|_card$|condition_row|customer_search|case_customers|_json$|signature_image|round_staff|"
    r"register_form)")


@pytest.fixture
def demo_site(make_app):
    """The demo organisation, 400 customers and every plugin's demo data, served on a free loopback port."""
    from werkzeug.serving import make_server

    from crm.auth.services import hash_password
    from crm.demo import DEMO_ADMIN, seed_demo, seed_plugin_demo
    from crm.demo_customers import seed_customers
    from crm.models import User
    from crm.workdays import ensure_seeded

    app = make_app(CRM_PLUGINS=ALL_PLUGINS)
    quiet = lambda _line: None  # noqa: E731
    with app.app_context():
        seed_demo(8)
        ensure_seeded(echo=quiet)
        seed_customers(400, 8, quiet)
        seed_plugin_demo(8, quiet)
        db.session.execute(update(User).values(password_hash=hash_password(PASSWORD), must_change_password=False))
        db.session.commit()
        logins = {
            "admin": DEMO_ADMIN,
            "personal_rm": db.session.scalar(select(User.login).where(User.post == "personal_rm").order_by(User.id)),
            "marketing": db.session.scalar(select(User.login).where(User.post == "marketing").order_by(User.id)),
        }
        # Pages only some people reach, started from where those people would open them.
        from plugins.loan_insurance.models import LoanCase
        from plugins.salon_events.models import SalonCampaign

        case = db.session.scalar(select(LoanCase).where(LoanCase.status == "accepted").order_by(LoanCase.id))
        logins["case_rm"] = db.session.scalar(select(User.login).where(User.id == case.rm_id))
        closed = db.session.scalar(select(SalonCampaign.id).where(SalonCampaign.status == "closed")
                                   .order_by(SalonCampaign.id))
        starts = {"case_rm": [f"/p/loan-insurance/cases/{case.id}", f"/p/loan-insurance/cases/{case.id}/edit"],
                  "marketing": ["/", f"/p/salon-events/campaigns/{closed}"]}
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}", logins, starts
    server.shutdown()
    thread.join(5)


def _pattern(path: str) -> str:
    return re.sub(r"\d+", "N", path)


def tour(browser, base: str, login: str, limit: int, starts: list[str] | None = None
         ) -> tuple[dict[str, str], list[str]]:
    """Breadth-first over the links of the pages: {pattern: url} visited, and every problem seen."""
    watched = Watched(browser, base)
    page = watched.page
    page.set_default_timeout(15_000)
    page.add_init_script(CSP_LISTENER)
    static: dict[str, tuple] = {}

    def cached(route) -> None:
        # Vendor files are fetched once per tour, not revalidated on every full page load (speed only).
        hit = static.get(route.request.url)
        if hit is None:
            resp = route.fetch()
            hit = static[route.request.url] = (resp.status, resp.headers, resp.body())
        route.fulfill(status=hit[0], headers=hit[1], body=hit[2])

    page.route(re.compile(r"/static/"), cached)
    watched.login(login)
    problems: list[str] = []
    visited: dict[str, str] = {}
    fragments: dict[tuple[str, str], str] = {}
    queue = deque(base + path for path in (starts or ["/"]))
    while queue and len(visited) < limit:
        url = queue.popleft()
        parts = urlsplit(url)
        pattern = _pattern(parts.path)
        if pattern in visited:
            continue
        visited[pattern] = url
        resp = page.goto(url)
        if resp is None or resp.status >= 400:
            problems.append(f"broken link {url}: {resp.status if resp else 'no answer'}")
            continue
        # Scrolled to the bottom so lazy panels (hx-trigger="revealed") load with the others, then settled; once more
        # only if what loaded made the page longer.
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.evaluate(SETTLE)
        if page.evaluate("document.body.scrollHeight - window.scrollY - window.innerHeight > 1"):
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            page.evaluate(SETTLE)
        problems.extend(f"CSP on {url}: {v}" for v in page.evaluate("window.__csp || []"))
        if "/login" in page.url:
            problems.append(f"logged out by {url}")
            break
        for frag in page.eval_on_selector_all("[hx-get]", "els => els.map(e => new URL(e.getAttribute('hx-get'), "
                                              "location.href).href)"):
            # htmx fragments a click would load (modal forms, pickers): each must answer, as htmx would ask for it.
            fpath = urlsplit(frag).path
            if not frag.startswith(base) or SKIP_LINK.search(frag) or ("frag", _pattern(fpath)) in fragments:
                continue
            fragments[("frag", _pattern(fpath))] = frag
            answer = page.request.get(frag, headers={"HX-Request": "true"})
            if answer.status >= 400 and answer.status != 422:
                problems.append(f"broken fragment {frag} on {url}: {answer.status}")
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            target = urlsplit(href)
            if not href.startswith(base) or target.fragment and target.path == parts.path or SKIP_LINK.search(href):
                continue
            if _pattern(target.path) not in visited:
                queue.append(href.split("#")[0])
    problems.extend(watched.problems)
    watched.problems.clear()
    watched.close()
    return {**visited, **{f"frag:{k[1]}": v for k, v in fragments.items()}}, problems


def test_every_page_has_no_csp_violation_console_error_or_broken_link(demo_site, browser):
    app, base, logins, starts = demo_site
    reached: set[str] = set()
    problems: list[str] = []
    adapter = app.url_map.bind("127.0.0.1")
    reached.add("auth.login")  # every tour starts by logging in through the form
    for who, limit in (("admin", 400), ("personal_rm", 40), ("marketing", 80), ("case_rm", 3)):
        began = time.monotonic()
        visited, seen = tour(browser, base, logins[who], limit, starts.get(who))
        print(f"{who}: {len(visited)} pages and fragments in {time.monotonic() - began:.1f} s")
        problems += [f"{who}: {p}" for p in seen]
        for url in visited.values():
            endpoint, _args = adapter.match(urlsplit(url).path, method="GET")
            reached.add(endpoint)
    assert problems == [], "\n".join(problems)
    pages = set()
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not NOT_A_PAGE.search(rule.endpoint) and not NOT_A_PAGE.search(rule.rule):
            pages.add(rule.endpoint)
    missed = sorted(pages - reached - UNLINKED)
    assert missed == [], f"{missed}: pages the tour never reached (link them, or list them in UNLINKED with the reason)"


# Pages no link leads to on the demo data, each with the reason; every other page is reached by the tour.
UNLINKED: set[str] = {
    "auth.login_totp",  # the second login step, only for an account with TOTP switched on (tests/test_totp.py)
    "example.note",  # the test suite's example plugin, not a product page
    # The demo makes no outreach plans: tests/plugins/target_map/test_plans_browser.py drives these in Chromium.
    "target_map_plans.task", "target_map_plans.new_visit", "target_map_plans.edit_visit", "target_map_plans.group",
}

"""Injection (issue 8, promise 3): every hostile string of tests/security/payloads.py, typed into the free-text fields
of the real forms, comes back as text — in pages, htmx fragments, JSON, Excel exports and PDFs — never as markup,
never as an evaluated template expression, never as a spreadsheet formula, and never as a 500."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from stdnum.cn import ric

from crm.extensions import db
from crm.models import Customer, CustomerProduct, FamilyMember, Outlet, User
from tests.conftest import ALL_PLUGINS, Client
from tests.security import payloads as P

HX = {"HX-Request": "true"}


@pytest.fixture
def app(make_app):
    app = make_app(CRM_PLUGINS=ALL_PLUGINS)
    with app.app_context():
        yield app


def logged_in(app, login: str) -> Client:
    c = Client(app)
    assert c.login(login).status_code == 302
    return c


def body_of(resp, *, where: str, literal: list[str] = (), status: tuple[int, ...] = (200,)) -> str:
    """The response body after the checks every answer must pass: the expected status (never a 500), no live
    markup and no evaluated template expression from a payload, and each of `literal` shown as text."""
    assert resp.status_code in status, f"{where}: HTTP {resp.status_code}"
    body = resp.get_data(as_text=True)
    findings, text = P.inspect(body)
    assert findings == [], f"{where}: payload became markup: {findings[:5]}"
    assert P.ssti_evaluated(body) == [], f"{where}: template expression evaluated: {P.ssti_evaluated(body)}"
    missing = [p for p in literal if not P.shown_literally(p, text)]
    assert missing == [], f"{where}: not shown as text: {missing[:5]}"
    return body


def xlsx_cells(data: bytes) -> tuple[list[str], list[str]]:
    """(every string shown in the workbook, every formula) — read from the XML itself, as Excel would."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        shared = [re.sub(r"<[^>]+>", "", si) for si in
                  re.findall(r"<si>(.*?)</si>", z.read("xl/sharedStrings.xml").decode(), re.S)] \
            if "xl/sharedStrings.xml" in names else []
        formulas: list[str] = []
        inline: list[str] = []
        for name in names:
            if name.startswith("xl/worksheets/sheet"):
                xml = z.read(name).decode()
                formulas += re.findall(r"<f[ >].*?</f>|<f/>", xml, re.S)
                inline += [re.sub(r"<[^>]+>", "", s) for s in re.findall(r"<is>(.*?)</is>", xml, re.S)]
    import html as htmllib

    # OOXML writes control characters as _xHHHH_ (Excel shows the character itself).
    def decode(text: str) -> str:
        return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), htmllib.unescape(text))

    return [decode(s) for s in shared + inline], formulas


def assert_xlsx_literal(data: bytes, expected: list[str], where: str) -> None:
    strings, formulas = xlsx_cells(data)
    assert formulas == [], f"{where}: exported cells are formulas: {formulas[:5]}"
    joined = P.normalise("".join(strings))
    missing = [p for p in expected if P.normalise(p) not in joined]
    assert missing == [], f"{where}: not exported as text cells: {missing[:5]}"


def json_strings(value: Any) -> list[str]:
    """Every string inside a JSON value: names travel to the browser as data, exactly as typed."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in json_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in json_strings(v)]
    return []


def pdf_text(data: bytes) -> str:
    assert data[:5] == b"%PDF-"
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True,
                          timeout=60).stdout.decode()


def assert_pdf_safe(data: bytes, expected: list[str], where: str) -> None:
    """The payloads print as their literal text, and no javascript: link or JavaScript action is in the file."""
    raw = data.replace(b"\\", b"")
    assert b"/JavaScript" not in raw and b"/JS " not in raw and b"javascript:" not in raw.lower(), \
        f"{where}: script in the PDF"
    text = P.normalise(pdf_text(data))
    missing = [p for p in expected if P.normalise(p) not in text]
    assert missing == [], f"{where}: not printed literally: {missing[:5]}"


# ---------------------------------------------------------------- core: customers and their rows

def _valid_id(n: int) -> str:
    body = f"11010519{80 + n % 20:02d}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # calc_check_digit ignores the last character


def _new_id(resp) -> int:
    assert resp.status_code == 302, f"refused: HTTP {resp.status_code}"
    return int(resp.headers["Location"].rsplit("/", 1)[1])


CUSTOMER_LIMITS = {"name": 100, "maintenance_target": 200, "notes": 2000, "employer": 100, "occupation": 50,
                   "product_needs": 500, "family_info": 500, "preferences": 500, "legal_rep": 50, "industry": 50,
                   "near_term_target": 200}


def test_customers_family_products_and_contacts_show_payloads_as_text(app, org):
    """One customer per payload, made by the outlet head through the form, with the payload in every text field
    it fits (alternately personal and corporate, so the corporate-only fields are covered too), a family member
    and a product named by it; every tenth gets a contact whose summary holds ten payloads. Then every page,
    fragment, the export and the ledger PDF show them as text."""
    head = logged_in(app, "HA0001")
    now = (date.today() - timedelta(days=1)).isoformat() + " 10:30"
    made: list[tuple[int, str]] = []
    for i, payload in enumerate(P.ALL):
        kind = "personal" if i % 2 == 0 else "corporate"
        form = {"kind": kind, "status": "stock", "outlet_id": str(org.a.id),
                "maintainer_id": str(org.rm_a.id) if i < 25 else "", "deposit_balance": f"{i + 1}万"}
        form |= {k: payload for k, n in CUSTOMER_LIMITS.items() if len(payload) <= n}
        cid = _new_id(head.post("/customers/new", form))
        made.append((cid, payload))
        assert P.normalise(db.session.get(Customer, cid).name) == P.normalise(payload)  # kept, not "cleaned"
        # Family members on the personal customers, products on the corporate ones: 51 and 50 payloads each.
        if kind == "personal":
            r = head.post(f"/customers/{cid}/family", {"relation": "child", "name": payload, "school": payload,
                                                       "occupation": payload, "preferences": payload}, headers=HX)
            body_of(r, where=f"family row {payload!r}", literal=[payload])
        else:
            r = head.post(f"/customers/{cid}/products", {"category": "wealth", "name": payload, "notes": payload,
                                                         "amount": "1万"}, headers=HX)
            body_of(r, where=f"product row {payload!r}", literal=[payload])
        if i % 10 == 0:
            chunk = P.ALL[i:i + 10]
            r = head.post(f"/activity/customers/{cid}", {"kind": "visit", "occurred_at": now,
                                                         "summary": "\n".join(chunk)}, headers=HX)
            body_of(r, where=f"contact {i}", literal=chunk)
            body_of(head.get(f"/activity/customers/{cid}/timeline", headers=HX), where="timeline", literal=chunk)

    for n, (cid, payload) in enumerate(made):
        if payload in P.FORMULA:
            continue  # harmless in HTML; they are for the export below
        body_of(head.get(f"/customers/{cid}"), where=f"customer page {payload!r}", literal=[payload])
        # The edit form puts every field into value="…" and <textarea>: the attribute and RCDATA breakouts.
        body_of(head.get(f"/customers/{cid}/edit"), where=f"edit form {payload!r}", literal=[payload])
        if n % 10 == 0:
            body_of(head.get(f"/customers/{cid}/panel/family", headers=HX), where="family panel")
            body_of(head.get(f"/customers/{cid}/panel/maintenance", headers=HX), where="maintenance panel")
    row = db.session.execute(select(FamilyMember)).scalars().first()
    body_of(head.get(f"/customers/{row.customer_id}/family/{row.id}/edit", headers=HX), where="family edit form",
            literal=[row.name])
    row = db.session.execute(select(CustomerProduct)).scalars().first()
    body_of(head.get(f"/customers/{row.customer_id}/products/{row.id}/edit", headers=HX),
            where="product edit form", literal=[row.name])

    # The list and its htmx rows, every page, in every order.
    seen: set[str] = set()
    for sort in ("name", "deposit", "newest", "contact"):
        after = ""
        for _ in range(20):
            resp = head.get(f"/customers?sort={sort}&after={after}", headers=HX | {"HX-Target": "customer-rows"})
            html = body_of(resp, where=f"list rows sort={sort}")
            seen |= {p for p in P.ALL if P.shown_literally(p, P.inspect(html)[1])}
            m = re.search(r"after=([^\"&]+)", html)
            if not m:
                break
            after = m.group(1)
    assert len(seen) >= len(P.ALL) - 5, f"the list shows only {len(seen)} of {len(P.ALL)} payload names"
    body_of(head.get("/customers"), where="customer list page")
    body_of(head.get("/"), where="dashboard")
    # A payload typed into the search box is reflected into the box and the links: still text.
    for n, payload in enumerate(P.XSS[::2] + P.SSTI):
        q = {"q": payload}
        body_of(head.get("/customers", query_string=q), where=f"search page {payload!r}")
        if n % 4 == 0:
            body_of(head.get("/customers", query_string=q, headers=HX | {"HX-Target": "customer-rows"}),
                    where=f"search rows {payload!r}")
            body_of(head.get("/customers/outlets", query_string={"find": payload}), where=f"picker {payload!r}")
            body_of(head.get("/customers/count", query_string=q, headers=HX), where=f"count {payload!r}")

    resp = head.get("/customers/export.xlsx")
    assert resp.status_code == 200
    assert_xlsx_literal(resp.data, P.ALL, "customer export")

    rm = logged_in(app, "RA0001")
    rm.refresh_token("/customers/ledger")
    resp = rm.post("/customers/ledger/print", {"user": str(org.rm_a.id)})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf", resp.status_code
    # Direction marks and BOMs do not survive text extraction; everything else prints as typed.
    printable = [p for _, p in made[:25] if not any(ord(ch) in (0x202E, 0xFEFF) for ch in p)]
    assert_pdf_safe(resp.data, printable, "ledger PDF")


def test_daily_logs_show_payloads_as_text(app, org):
    rm = logged_in(app, "RA0001")
    today = date.today()
    chunks = [P.ALL[i:i + 10] for i in range(0, len(P.ALL), 10)]
    for n, chunk in enumerate(chunks):
        day = (today - timedelta(days=n + 1)).isoformat()
        form: dict[str, Any] = {"day": day, "model": "511", "policies": "1", "on_site": "1",
                                "peers_results": "\n".join(chunk), "problems": "\n".join(chunk)}
        for i, payload in enumerate(chunk):
            form |= {f"entry_{i}_name": payload, f"entry_{i}_family": payload, f"entry_{i}_work": payload,
                     f"entry_{i}_needs": payload}
        resp = rm.post("/activity/logs", form)
        assert resp.status_code in (200, 302, 303), resp.status_code
        body_of(rm.get(f"/activity/logs?day={day}&model=511"), where=f"daily log {day}", literal=chunk)
    day = today.isoformat()
    rm.post("/activity/logs", {"day": day, "model": "2511", "contacts": "20", "effective": "5", "policies": "1",
                               "log_text": "\n".join(P.XSS[:40]), "problems": "\n".join(P.SSTI + P.FORMULA)})
    body_of(rm.get(f"/activity/logs?day={day}&model=2511"), where="2511 log", literal=P.XSS[:40])
    head = logged_in(app, "HA0001")
    body_of(head.get("/activity/compliance"), where="compliance grid")


# ---------------------------------------------------------------- core: staff and organisation names

def test_staff_and_outlet_names_show_payloads_as_text(app, org):
    head = logged_in(app, "HA0001")
    short = P.fits(50)
    for i, payload in enumerate(short):
        resp = head.post("/users/new", {"login": _valid_id(i), "name": payload, "post": "lobby_manager",
                                        "outlet_id": str(org.a.id), "branch_id": "", "phone": "",
                                        "staff_no": "", "grade": "", "grade_effective_from": ""})
        body_of(resp, where=f"new account {payload!r}", literal=[payload])
    names = {P.normalise(n) for n in db.session.execute(select(User.name)).scalars()}
    assert {P.normalise(p) for p in short} <= names
    after = ""
    for _ in range(10):
        html = body_of(head.get(f"/users?after={after}"), where="staff list")
        m = re.search(r'href="[^"]*after=([^"&]+)', html)
        if not m:
            break
        after = m.group(1)
    some = db.session.execute(select(User).where(User.name == short[0])).scalar_one()
    body_of(head.get(f"/users/{some.id}"), where="staff page", literal=[short[0]])
    for payload in short[::4]:
        body_of(head.get("/customers/maintainers", query_string={"find": payload[:20]}),
                where=f"maintainer picker {payload!r}")
        body_of(head.get("/users", query_string={"q": payload}), where=f"staff search {payload!r}")
    body_of(head.get("/customers/new"), where="customer form with staff choices")
    body_of(head.get("/activity/compliance"), where="compliance grid with staff")

    admin = logged_in(app, "ADM001")
    admin.refresh_token("/admin/org")
    for i, payload in enumerate(P.fits(100)):
        resp = admin.post("/admin/outlets/new", {
            "code": f"X{i:03d}", "name": payload, "branch_id": str(org.s1.id), "outlet_type": "urban",
            "address": payload, "phone": "", "area_m2": "", "high_counter_count": "0", "low_counter_count": "0",
            "corp_cash_tx_daily": "0", "corp_noncash_tx_daily": "0", "teller_std_volume": "0", "active": "y",
            "version": ""})
        assert resp.status_code in (302, 303), f"outlet {payload!r}: {resp.status_code}"
    assert db.session.execute(select(Outlet).where(Outlet.code == "X000")).scalar_one().name == P.ALL[0]
    html = body_of(admin.get("/admin/org"), where="organisation tree")
    shown = [p for p in P.fits(100) if P.shown_literally(p, P.inspect(html)[1])]
    assert len(shown) >= len(P.fits(100)) - 5
    outlet = db.session.execute(select(Outlet).where(Outlet.code == "X000")).scalar_one()
    body_of(admin.get(f"/admin/outlets/{outlet.id}"), where="outlet form", literal=[P.ALL[0]])
    for payload in P.fits(100)[:100:5]:
        body_of(admin.get("/customers/outlets", query_string={"find": payload[:20]}),
                where=f"outlet picker {payload!r}")
    body_of(admin.get("/customers"), where="admin customer list")
    body_of(admin.get("/admin/audit"), where="audit log")
    body_of(admin.get("/"), where="admin dashboard")
    body_of(admin.get("/dashboard/w/org", headers=HX), where="org widget")


def test_a_nul_character_is_dropped_not_a_500(app, org):
    """No person types a NUL, and PostgreSQL text cannot hold one: forms and searches drop it (it used to be a 500
    on PostgreSQL in every text field and every search box)."""
    head = logged_in(app, "HA0001")
    cid = _new_id(head.post("/customers/new", {"kind": "personal", "name": "张\x00三", "notes": "\x00备注",
                                               "status": "stock", "outlet_id": str(org.a.id)}))
    c = db.session.get(Customer, cid)
    assert (c.name, c.notes) == ("张三", "备注")
    assert "张三" in body_of(head.get("/customers", query_string={"q": "张\x00"}), where="search with a NUL")


# ---------------------------------------------------------------- plugins

@pytest.fixture
def plugins_on(org, enable_plugin):
    for name in ("segmentation", "target_map", "salon_events", "loan_insurance", "scorecards"):
        enable_plugin(None, name)
        enable_plugin(org.b1, name)
    return org


def test_target_map_tasks_visits_group_plans_and_the_map_show_payloads_as_text(app, plugins_on):
    from plugins.target_map.models_plans import TargetMapTask, TargetMapVisit
    from tests.plugins.target_map.helpers_plans import make_corp

    org = plugins_on
    base = "/p/target-map"
    # Corporate customers named by payloads on the outlet's map (their names come from the core form, tested above).
    corps = [make_corp(org.a, p, maintainer=org.rm_a) for p in P.SAMPLE[:12]]
    rm = logged_in(app, "RA0001")
    rm.refresh_token(f"{base}/plans")
    titles = P.bundles(100, P.SAMPLE)
    notes = P.bundles(500)
    for i, title in enumerate(titles):
        resp = rm.post(f"{base}/tasks", {"customer_id": str(corps[i % len(corps)].id), "title": title,
                                         "owner_id": str(org.rm_a.id), "planned_start": "2026-05-06",
                                         "planned_end": "2026-05-10", "note": notes[i % len(notes)]})
        assert resp.status_code == 302, f"task {title!r}: HTTP {resp.status_code}"
    tasks = db.session.execute(select(TargetMapTask).order_by(TargetMapTask.id)).scalars().all()
    assert [t.title for t in tasks] == [t.replace("\x00", "").strip() for t in titles] or len(tasks) == len(titles)
    texts = P.bundles(2000, sep="\n")
    for i, chunk in enumerate(texts):
        resp = rm.post(f"{base}/tasks/{tasks[i].id}/visits", {
            "visit_date": "2026-05-08", "channel": "visit", "sources": ["network"], "hypotheses": chunk,
            "questions": chunk, "key_info": chunk, "report_content": chunk, "reported_on": "2026-05-09"})
        assert resp.status_code == 302, f"visit: HTTP {resp.status_code}"
    for i, task in enumerate(tasks):
        body_of(rm.get(f"{base}/tasks/{task.id}"), where=f"task page {task.title!r}", literal=[titles[i]])
    for visit in db.session.execute(select(TargetMapVisit)).scalars():
        chunk = texts[[t.id for t in tasks].index(visit.task_id)]
        body_of(rm.get(f"{base}/visits/{visit.id}/edit"), where="visit form", literal=chunk.split("\n"))
    body_of(rm.get(f"{base}/plans"), where="plans page with the Gantt data")
    body_of(rm.get(f"{base}/widget", headers=HX), where="plans widget")
    body_of(rm.get(f"{base}/plans/panel/{corps[0].id}", headers=HX), where="plans panel")
    body_of(rm.get(f"{base}/panel/{corps[0].id}", headers=HX), where="map panel")

    head = logged_in(app, "HA0001")
    head.refresh_token(f"{base}/groups")
    modules = P.bundles(2000, sep="\n")
    plan = {"name": P.SAMPLE[0], "basis": "industry", "basis_detail": P.bundles(100)[0], "customer_kind": "new",
            "participants": P.bundles(200)[0], "module_a": modules[0], "module_b": modules[-1],
            "module_c": modules[0], "module_d": modules[-1], "action": "draft"}
    resp = head.post(f"{base}/groups", plan)
    assert resp.status_code == 302, resp.status_code
    body_of(head.get(resp.headers["Location"]), where="group plan page",
            literal=[P.SAMPLE[0], *modules[0].split("\n"), *modules[-1].split("\n")])
    body_of(head.get(f"{base}/groups"), where="group plans list", literal=[P.SAMPLE[0]])
    for path in (f"{base}/outlets/{org.a.id}", f"{base}/outlets/{org.a.id}/table"):
        body_of(head.get(path), where=path)  # the map draws names from map.json (below); the table lists them
    body_of(head.get(f"{base}/outlets/{org.a.id}/table", headers=HX), where="map table fragment")
    resp = head.get(f"{base}/outlets/{org.a.id}/map.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    strings = P.normalise("".join(json_strings(resp.get_json())))
    missing = [p for p in P.SAMPLE[:12] if P.normalise(p) not in strings]
    assert missing == [], f"map data lost or changed: {missing}"
    resp = head.get(f"{base}/outlets/{org.a.id}/export.xlsx")
    assert resp.status_code == 200
    assert_xlsx_literal(resp.data, P.SAMPLE[:12], "target map export")


def test_segmentation_rules_tiers_lists_and_ratings_show_payloads_as_text(app, plugins_on):
    org = plugins_on
    base = "/p/segmentation"
    head = logged_in(app, "HA0001")
    cid = _new_id(head.post("/customers/new", {"kind": "personal", "name": "赵六", "status": "stock",
                                               "outlet_id": str(org.a.id), "deposit_balance": "30万"}))
    ba = logged_in(app, "BA0001")
    ba.refresh_token(f"{base}/?branch={org.b1.id}")
    q = f"?branch={org.b1.id}"
    for name in P.SAMPLE:
        resp = ba.post(f"{base}/rules{q}", {"name": name, "join": "and", "field": ["deposit_balance"],
                                           "op": ["ge"], "value": ["100000"]})
        assert resp.status_code == 302, f"rule {name!r}: HTTP {resp.status_code}"
    tier_names = P.SAMPLE[:3]
    resp = ba.post(f"{base}/ladder{q}", {"basis": "deposit", "code": ["T2", "T1", "T0"], "name": tier_names,
                                         "min_amount": ["500000", "100000", ""]})
    assert resp.status_code == 302, resp.status_code
    from tests.plugins.segmentation.conftest import job_of, wait_for

    assert wait_for(job_of(ba.post(f"{base}/recompute{q}", {})))["state"] == "done"  # a background job since issue 8
    page = body_of(ba.get(f"{base}/{q}"), where="segmentation page", literal=P.SAMPLE)
    assert page
    for name in P.SAMPLE[:8]:
        resp = ba.post(f"{base}/lists{q}", {"name": name, "segment": "T1", "kind": "static"})
        assert resp.status_code in (302, 303), resp.status_code
    body_of(ba.get(f"{base}/lists{q}"), where="lists page")
    from plugins.segmentation.models import SegmentationList

    for lst in db.session.execute(select(SegmentationList)).scalars():
        body_of(ba.get(f"{base}/lists/{lst.id}"), where=f"list {lst.name!r}", literal=[lst.name])
        resp = ba.get(f"{base}/lists/{lst.id}/export.xlsx")
        assert resp.status_code == 200
        assert_xlsx_literal(resp.data, [], f"list export {lst.name!r}")
    notes = P.bundles(200)
    for note in notes[:20]:
        resp = ba.post(f"{base}/rating/{cid}", {"score": ["3", "3", "3", "3", "3", "3"], "note": note}, headers=HX)
        body_of(resp, where="rating panel", literal=[note])
    body_of(ba.get(f"{base}/panel/{cid}", headers=HX), where="segmentation panel")
    body_of(head.get(f"{base}/widget", headers=HX), where="segmentation widget")
    body_of(head.get(f"/customers/{cid}"), where="customer page with payload tier", literal=[])
    body_of(head.get("/customers", query_string={"tier": "T1"}), where="list filtered by tier")


def test_salon_campaigns_and_registrations_show_payloads_as_text(app, plugins_on):
    from plugins.salon_events.models import SalonCampaign, SalonSession
    from tests.plugins.salon_events.test_rules import round_raw

    org = plugins_on
    org.a.has_reception_conditions = True  # a 宝贝银行家 round needs an outlet that can receive children
    db.session.commit()
    base = "/p/salon-events"
    mk = logged_in(app, "MK0001")
    mk.refresh_token(f"{base}/campaigns/new")
    names = P.bundles(100, P.SAMPLE)
    goals = P.bundles(500)
    for i, name in enumerate(names[:12]):
        resp = mk.post(f"{base}/campaigns/new", {
            "name": name, "kind": "kids", "code": f"C{i}", "year": "2026", "partner": names[-1 - i],
            "audience": P.bundles(200)[i], "goal": goals[i % len(goals)], "core_products": P.bundles(300)[i],
            "outlets": [str(org.a.id)]})
        assert resp.status_code == 302, f"campaign {name!r}: HTTP {resp.status_code}"
    campaigns = db.session.execute(select(SalonCampaign).order_by(SalonCampaign.id)).scalars().all()
    for i, c in enumerate(campaigns):
        body_of(mk.get(f"{base}/campaigns/{c.id}"), where=f"campaign {c.name!r}", literal=[names[i]])
        body_of(mk.get(f"{base}/campaigns/{c.id}/edit"), where="campaign form", literal=[names[i]])
    body_of(mk.get(f"{base}/"), where="campaign list")
    c = campaigns[0]
    assert mk.post(f"{base}/campaigns/{c.id}/status", {"status": "open"}).status_code == 302
    head = logged_in(app, "HA0001")
    head.refresh_token(f"{base}/campaigns/{c.id}")
    resp = head.post(f"{base}/campaigns/{c.id}/rounds", round_raw(org.a, capacity=10, note=P.bundles(300)[0]))
    assert resp.status_code in (302, 303), resp.status_code
    s = db.session.execute(select(SalonSession)).scalars().first()
    parent = _new_id(head.post("/customers/new", {"kind": "personal", "name": "钱家长", "status": "stock",
                                                  "outlet_id": str(org.a.id)}))
    for name in P.SAMPLE:
        resp = head.post(f"{base}/round/{s.id}/register", {"customer_id": str(parent), "child_name": name,
                                                           "child_age": "8"})
        # Past ten children the rest are wait-listed: still saved, still shown.
        assert resp.status_code in (302, 303), f"register {name!r}: HTTP {resp.status_code}"
    body_of(head.get(f"{base}/rounds/{s.id}"), where="round page", literal=[p for p in P.SAMPLE if "\x00" not in p])
    body_of(head.get(f"{base}/rounds/{s.id}/checkin"), where="check-in page")
    body_of(head.get(f"{base}/campaigns/{c.id}/results"), where="results")
    body_of(head.get(f"{base}/widget", headers=HX), where="salon widget")
    resp = head.get(f"{base}/campaigns/{c.id}/export.xlsx")
    assert resp.status_code == 200
    assert_xlsx_literal(resp.data, P.SAMPLE, "campaign export")


def test_loan_insurance_case_texts_show_payloads_as_text(app, plugins_on):
    from plugins.loan_insurance.models import LoanCase
    from tests.plugins.loan_insurance.conftest import LI, case_data
    from tests.plugins.loan_insurance.test_web_cases import form_of

    li = LI(plugins_on)
    base = "/p/loan-insurance"
    rm = logged_in(app, "CA0001")
    rm.refresh_token(f"{base}/cases/new")
    uses = P.bundles(200, P.SAMPLE)
    made = []
    for i, use in enumerate(uses[:6]):
        short = P.SAMPLE[i]
        data = case_data(li, use_of_funds=use, legal_rep_name=short, policy_no=f"PA-{i:03d}")
        data["collaterals"][0]["address"] = uses[-1 - i]
        data["guarantors"][0]["name"] = short
        data["shareholders"][0]["name"] = short
        resp = rm.post(f"{base}/cases/new", form_of(data))
        assert resp.status_code == 302, f"case {use!r}: HTTP {resp.status_code}"
        made.append((use, short))
    cases = db.session.execute(select(LoanCase).order_by(LoanCase.id)).scalars().all()
    for case, (use, short) in zip(cases, made, strict=True):
        body_of(rm.get(f"{base}/cases/{case.id}"), where="case page", literal=[use])
        body_of(rm.get(f"{base}/cases/{case.id}/edit"), where="case form", literal=[use, short])
    body_of(rm.get(f"{base}/"), where="pipeline")
    body_of(rm.get(f"{base}/widget", headers=HX), where="loan widget")
    reviewer = logged_in(app, li.reviewer.login)
    reviewer.refresh_token(f"{base}/cases/{cases[0].id}")
    for reason in P.bundles(300)[:4]:
        resp = reviewer.post(f"{base}/cases/{cases[0].id}/override", {"rule_id": "R-51.2b", "reason": reason})
        assert resp.status_code in (302, 303, 422), resp.status_code
    body_of(reviewer.get(f"{base}/cases/{cases[0].id}"), where="case page with override reasons")
    resp = rm.get(f"{base}/export.xlsx")
    assert resp.status_code == 200
    assert_xlsx_literal(resp.data, [], "loan export")  # its columns are figures and names of the org


def test_scorecard_scheme_names_and_version_notes_show_payloads_as_text(app, plugins_on):
    from plugins.scorecards.models import ScorecardScheme
    from tests.plugins.scorecards.test_web_schemes import default, form_of

    base = "/p/scorecards"
    template = default("003a-head")
    ba = logged_in(app, "BA0001")
    ba.refresh_token(f"{base}/schemes/{template.id}")
    names = P.bundles(100, P.SAMPLE)
    notes = P.bundles(200)
    scheme_id = template.id
    for i, name in enumerate(names[:8]):
        resp = ba.post(f"{base}/schemes/{scheme_id}", form_of(db.session.get(ScorecardScheme, scheme_id), name=name,
                                                               note=notes[i]))
        assert resp.status_code in (302, 303), f"scheme {name!r}: HTTP {resp.status_code}"
        db.session.expire_all()
        scheme_id = db.session.execute(select(ScorecardScheme.id).where(
            ScorecardScheme.code == template.code, ScorecardScheme.branch_id == plugins_on.b1.id,
            ScorecardScheme.current.is_(True))).scalar_one()
        body_of(ba.get(f"{base}/schemes/{scheme_id}"), where=f"scheme page {name!r}", literal=[name])
    body_of(ba.get(f"{base}/schemes"), where="scheme list", literal=[names[7]])
    body_of(ba.get(f"{base}/"), where="scorecards home")
    body_of(ba.get(f"{base}/widget", headers=HX), where="scorecards widget")

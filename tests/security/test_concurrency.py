"""Issue 8, promise 7: concurrent claims, edits and mixed writers through the real HTTP stack (SQLite WAL file and
PostgreSQL): exactly one claim winner, no lost update, no "database is locked" reaching a user.

Each simulated person is a Flask test client of the same app in a thread of its own, as in a threaded server: every
request runs the whole pipeline (session check, policy, CSRF, view, service, commit). A Barrier releases the requests
of one round together so they really overlap. Forms are posted the way the boosted pages post them (HX-Request and
HX-Boosted headers), so the outcome reaches the user as a flash message on the next page; the tests read it from the
session, where that page takes it from.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from crm.customers.search import keys
from crm.extensions import db
from crm.models import Activity, AuditLog, Customer, CustomerClaim
from crm.roles import CLAIM_ORDER
from crm.timeutil import to_local, utcnow
from tests.conftest import Client, make_branch, make_outlet, make_user

ROUNDS = 100
CLAIMANTS = 20
WRITERS = 8
OPERATIONS = 200  # per writer on SQLite, where "database is locked" can happen (one writer at a time)
PG_OPERATIONS = 50  # per writer on PostgreSQL (row locks, no database lock): the final counts only, in less time
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}  # what a hx-boost form submission sends
WAIT = 60  # seconds a barrier or a round may take before the test reports a hang instead of hanging

WON = "认领成功，您已成为“{name}”的维护人"
CONTESTED = "该客户已有维护人，您的认领已提交网点负责人裁定"
ALREADY_PENDING = "您已认领过该客户，正等待网点负责人裁定"
ALREADY_MINE = "您已是该客户的维护人"
EDIT_CONFLICT = "该客户已被他人修改，请刷新页面后重新编辑（您的修改未保存）"
# What a database error looks like if it reaches a person: the driver's text or the generic error page.
LEAKS = ("database is locked", "OperationalError", "sqlite3", "psycopg", "Traceback", "服务器内部错误")


# ---------------------------------------------------------------- people, customers, requests

@dataclass
class Person:
    login: str
    user_id: int
    client: Client


@pytest.fixture
def outlet(app):
    branch = make_branch("CC1", "并发分行")
    sub = make_branch("CC11", "并发支行", branch)
    return make_outlet(sub, "OCC", "并发网点")


def people(app, outlet, posts: Sequence[str], prefix: str) -> list[Person]:
    """Users of the outlet, each logged in with a client of his own and holding the CSRF token of his pages."""
    staff = []
    for n, post in enumerate(posts):
        user = make_user(f"{prefix}{n:04d}", post, outlet=outlet, name=f"员工{prefix}{n}")
        client = Client(app)
        assert client.login(user.login).status_code == 302, f"{user.login} cannot log in"
        client.refresh_token("/")
        staff.append(Person(user.login, user.id, client))
    return staff


def new_customer(outlet, name: str, maintainer_id: int | None = None) -> Customer:
    c = Customer(outlet_id=outlet.id, kind="personal", name=name, maintainer_id=maintainer_id,
                 deposit_balance=Decimal("10000.00"), **keys(name, None, None))
    db.session.add(c)
    db.session.commit()
    return c


def flashes(person: Person) -> list[str]:
    """The messages the next page shows this person (and then removes): the flashes in his session cookie.
    Taken out of the cookie as that page would, so they never pile up."""
    app = person.client.app
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = person.client.http.get_cookie(name)
    if cookie is None:
        return []
    signer = app.session_interface.get_signing_serializer(app)
    data = signer.loads(cookie.value)
    found = data.pop("_flashes", [])
    if found:
        person.client.http.set_cookie(name, signer.dumps(data), domain=cookie.domain, path=cookie.path)
    return [message for _level, message in found]


def toasts(resp: Any) -> list[str]:
    """The messages an htmx request shows as toasts (HX-Trigger crm:toast)."""
    raw = resp.headers.get("HX-Trigger")
    return [t["message"] for t in json.loads(raw).get("crm:toast", [])] if raw else []


def leaked(body: str) -> str | None:
    return next((word for word in LEAKS if word in body), None)


@dataclass
class Outcome:
    person: Person
    status: int = 0
    messages: list[str] = field(default_factory=list)
    body: str = ""
    error: str | None = None  # an exception that escaped the view (a 500 for a real user)


def together(tasks: Sequence[Callable[[], Outcome]], pool: ThreadPoolExecutor) -> list[Outcome]:
    """Run the tasks in parallel, released at the same instant by a barrier; any exception is an outcome too."""
    barrier = threading.Barrier(len(tasks), timeout=WAIT)

    def run(task: Callable[[], Outcome]) -> Outcome:
        barrier.wait()
        return task()

    futures = [pool.submit(run, t) for t in tasks]
    return [f.result(timeout=WAIT) for f in futures]


def request(person: Person, method: str, path: str, data: dict[str, str] | None = None, *,
            fragment: bool = False) -> Outcome:
    """One request as the page sends it: a boosted form (the answer comes as a flash for the next page) or, with
    `fragment`, an hx-post whose answer comes as a toast."""
    out = Outcome(person)
    headers = {"HX-Request": "true"} if fragment else BOOSTED
    try:
        if method == "GET":
            resp = person.client.get(path, headers=headers)
        else:
            resp = person.client.post(path, data, headers=headers)
        out.status = resp.status_code
        out.body = resp.get_data(as_text=True)
        out.messages = toasts(resp) if fragment else flashes(person)
    except Exception as exc:  # noqa: BLE001 - an escaped exception is what a user would get as a 500
        out.error = f"{type(exc).__name__}: {exc}"
    return out


@pytest.fixture
def error_log(app):
    """Everything logged at ERROR or above while the test runs (a swallowed 'database is locked' included)."""
    seen: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Catch(logging.ERROR)
    root = logging.getLogger()
    root.addHandler(handler)
    app.logger.addHandler(handler)
    yield seen
    root.removeHandler(handler)
    app.logger.removeHandler(handler)


def audit_rows(action: str, customer_id: int | None = None) -> list[AuditLog]:
    stmt = select(AuditLog).where(AuditLog.action == action)
    if customer_id is not None:
        stmt = stmt.where(AuditLog.target_type == "customer", AuditLog.target_id == str(customer_id))
    return list(db.session.execute(stmt).scalars())


# ---------------------------------------------------------------- 1. 20 concurrent claims, 100 rounds

def test_twenty_simultaneous_claims_have_exactly_one_winner_each_round(app, outlet, error_log):
    """R-07/T-02: the first claim takes the customer; every other claimant's claim is recorded as contested for the
    outlet head to decide, and he is told so. 100 rounds × 20 claimants of every post of the claim order."""
    staff = people(app, outlet, [CLAIM_ORDER[n % len(CLAIM_ORDER)] for n in range(CLAIMANTS)], "CL")
    by_id = {p.user_id: p for p in staff}
    failures: list[str] = []
    winners: Counter[str] = Counter()
    with ThreadPoolExecutor(CLAIMANTS) as pool:
        for rnd in range(ROUNDS):
            name = f"抢认领客户{rnd:03d}"
            c = new_customer(outlet, name)
            outcomes = together([lambda p=p, cid=c.id: request(p, "POST", f"/customers/{cid}/claim")
                                 for p in staff], pool)
            db.session.expire_all()
            c = db.session.get(Customer, c.id)
            won = [o for o in outcomes if o.messages == [WON.format(name=name)]]
            lost = [o for o in outcomes if o.messages == [CONTESTED]]
            odd = [(o.person.login, o.status, o.messages, o.error) for o in outcomes
                   if o not in won and o not in lost or o.status != 302]
            rows = db.session.execute(select(CustomerClaim.user_id, CustomerClaim.state).where(
                CustomerClaim.customer_id == c.id, CustomerClaim.kind == "claim")).all()
            expected_rows = sorted([(o.person.user_id, "won") for o in won]
                                   + [(o.person.user_id, "contested") for o in lost])
            problems = []
            if odd:
                problems.append(f"unexpected answers {odd}")
            if len(won) != 1:
                problems.append(f"{len(won)} claimants were told they won: {[o.person.login for o in won]}")
            elif c.maintainer_id != won[0].person.user_id:
                holder = by_id.get(c.maintainer_id)
                problems.append(f"{won[0].person.login} was told he won but the maintainer is "
                                f"{holder.login if holder else c.maintainer_id}")
            if sorted(rows) != expected_rows:
                problems.append(f"claim rows {sorted(rows)} != answers {expected_rows}")
            if c.duplicate_claim is not True or c.version != 1 + CLAIMANTS:
                problems.append(f"duplicate_claim={c.duplicate_claim} version={c.version} (want True, "
                                f"{1 + CLAIMANTS}: one version per claim, none lost)")
            claimed, contested = audit_rows("customer.claimed", c.id), audit_rows("customer.claim_contested", c.id)
            if len(claimed) != 1 or len(contested) != CLAIMANTS - 1 or (
                    won and claimed and claimed[0].actor_id != won[0].person.user_id):
                problems.append(f"audit: {len(claimed)} claimed, {len(contested)} contested")
            if problems:
                failures.append(f"round {rnd} ({name}): " + "; ".join(problems))
            elif won:
                winners[won[0].person.login] += 1
    print(f"claim rounds: {ROUNDS}, failed: {len(failures)}, distinct winners: {len(winners)}")
    assert failures == [], "\n".join(failures[:10])
    assert error_log == []
    # The race is real: more than one person managed to be first over the 100 rounds.
    assert len(winners) > 1, winners


DOUBLE_ROUNDS = 30


def test_a_double_click_on_claim_counts_once(app, outlet, error_log):
    """The same person submits the claim twice at once (a double click, or two tabs): on a free customer he is
    its maintainer and told so once, with no "duplicate" for the head to decide; on a customer someone maintains
    his claim is recorded once. Both requests pass the view's checks before either has written anything."""
    first, other = people(app, outlet, ["personal_rm", "lobby_manager"], "DC")
    second_tab = Client(app)
    assert second_tab.login(first.login).status_code == 302
    second_tab.refresh_token("/")
    tabs = [first, Person(first.login, first.user_id, second_tab)]
    failures: list[str] = []
    with ThreadPoolExecutor(2) as pool:
        for rnd in range(DOUBLE_ROUNDS):
            free = new_customer(outlet, f"双击客户{rnd:03d}")
            held = new_customer(outlet, f"已有维护人{rnd:03d}", maintainer_id=other.user_id)
            for c, want in ((free, sorted([WON.format(name=free.name), ALREADY_MINE])),
                            (held, sorted([CONTESTED, ALREADY_PENDING]))):
                outcomes = together([lambda t=t, cid=c.id: request(t, "POST", f"/customers/{cid}/claim")
                                     for t in tabs], pool)
                db.session.expire_all()
                stored = db.session.get(Customer, c.id)
                told = sorted(m for o in outcomes for m in o.messages)
                rows = db.session.execute(select(CustomerClaim.state).where(
                    CustomerClaim.customer_id == c.id, CustomerClaim.kind == "claim")).scalars().all()
                action = "customer.claimed" if c is free else "customer.claim_contested"
                problems = []
                if told != want or any(o.status != 302 or o.error for o in outcomes):
                    problems.append(f"told {told} {[(o.status, o.error) for o in outcomes]}")
                if rows != ["won" if c is free else "contested"] or len(audit_rows(action, c.id)) != 1:
                    problems.append(f"claim rows {rows}, {len(audit_rows(action, c.id))} audit rows")
                if stored.duplicate_claim is not (c is held) or stored.maintainer_id != (
                        first.user_id if c is free else other.user_id) or stored.version != 2:
                    problems.append(f"duplicate={stored.duplicate_claim} maintainer={stored.maintainer_id} "
                                    f"version={stored.version}")
                if problems:
                    failures.append(f"round {rnd} ({c.name}): " + "; ".join(problems))
    print(f"double-click rounds: {DOUBLE_ROUNDS}×2, failed: {len(failures)}")
    assert failures == [], "\n".join(failures[:10])
    assert error_log == []


# ---------------------------------------------------------------- 2. two concurrent edits, 100 rounds

def edit_form(c: Customer, version: int, who: str, rnd: int) -> dict[str, str]:
    """What the edit page submits: every field, with this person's values, and the version the page was read at."""
    return {"version": str(version), "name": f"{who}改名{rnd:03d}", "status": "stock",
            "outlet_id": str(c.outlet_id), "maintainer_id": str(c.maintainer_id or ""),
            "deposit_balance": f"{Decimal(1000 + rnd)}.{'11' if who == '甲' else '22'}",
            "deposit_daily_avg": "0", "loan_balance": "0", "notes": f"{who}的备注第{rnd}轮",
            "maintenance_target": f"{who}的维护目标"}


def test_two_simultaneous_edits_never_lose_an_update(app, outlet, error_log):
    """Both editors submit from the same version: exactly one save, the other is refused with a clear message,
    the stored row is exactly the winner's, the version goes up by exactly one. 100 rounds on one customer."""
    head, supervisor = people(app, outlet, ["outlet_head", "supervisor"], "ED")
    c = new_customer(outlet, "编辑客户", maintainer_id=head.user_id)
    failures: list[str] = []
    saved_by: Counter[str] = Counter()
    with ThreadPoolExecutor(2) as pool:
        for rnd in range(ROUNDS):
            db.session.expire_all()
            c = db.session.get(Customer, c.id)
            version = c.version
            forms = {head.login: edit_form(c, version, "甲", rnd), supervisor.login: edit_form(c, version, "乙", rnd)}
            outcomes = together([lambda p=p, cid=c.id, form=forms[p.login]: request(
                p, "POST", f"/customers/{cid}/edit", form) for p in (head, supervisor)], pool)
            db.session.expire_all()
            c = db.session.get(Customer, c.id)
            ok = [o for o in outcomes if o.status == 302 and o.messages == ["已保存"]]
            refused = [o for o in outcomes if o.status == 409 and EDIT_CONFLICT in o.body and not o.messages]
            problems = []
            if len(ok) != 1 or len(refused) != 1:
                problems.append("answers " + str([(o.person.login, o.status, o.messages, o.error,
                                                   leaked(o.body)) for o in outcomes]))
            else:
                mine = forms[ok[0].person.login]
                stored = {"name": c.name, "notes": c.notes, "deposit_balance": f"{c.deposit_balance:.2f}",
                          "maintenance_target": c.maintenance_target}
                wanted = {k: mine[k] for k in stored}
                if stored != wanted:
                    problems.append(f"stored {stored} != winner's {wanted}")
                saved_by[ok[0].person.login] += 1
            if c.version != version + 1:
                problems.append(f"version {version} → {c.version} (want {version + 1})")
            if problems:
                failures.append(f"round {rnd}: " + "; ".join(problems))
    updates = audit_rows("customer.updated", c.id)
    print(f"edit rounds: {ROUNDS}, failed: {len(failures)}, saves by {dict(saved_by)}")
    assert failures == [], "\n".join(failures[:10])
    assert len(updates) == ROUNDS and c.version == 1 + ROUNDS
    assert error_log == []
    assert len(saved_by) == 2, saved_by  # both editors won some rounds: the requests did overlap


# ---------------------------------------------------------------- 3. 8 writers × 200 mixed operations

@dataclass
class Tally:
    created: int = 0
    edits: Counter[int] = field(default_factory=Counter)  # customer id → saved edits
    conflicts: int = 0
    activities: Counter[int] = field(default_factory=Counter)
    claims: Counter[str] = field(default_factory=Counter)  # won / contested / refused
    problems: list[str] = field(default_factory=list)


VERSION_RE = re.compile(r'name="version" value="(\d+)"')


def writer(person: Person, seed: int, hot: Sequence[int], pool_ids: Sequence[int], outlet_id: int,
           start: threading.Barrier, operations: int) -> Tally:
    """One person's operations: create customers, edit and log contacts on a few shared customers, claim
    from a shared pool — in a random but reproducible order."""
    rng = random.Random(seed)
    tally = Tally()
    known: dict[int, int] = {}  # customer → the version of the edit page this person has open
    start.wait()
    for n in range(operations):
        op = rng.choice(("create", "edit", "activity", "claim"))
        what = f"{person.login} op {n} ({op})"
        if op == "create":
            out = request(person, "POST", "/customers/new", {
                "kind": "personal", "name": f"新建客户{person.login}-{n}", "status": "stock",
                "outlet_id": str(outlet_id), "deposit_balance": "5000"})
            if out.status == 302 and out.messages == [f"客户“新建客户{person.login}-{n}”已建档"]:
                tally.created += 1
                continue
        elif op == "edit":
            cid = rng.choice(hot)
            if cid not in known:  # open the edit page (again, after a conflict: "请刷新页面后重新编辑")
                page = request(person, "GET", f"/customers/{cid}/edit")
                found = VERSION_RE.search(page.body)
                if page.status != 200 or not found:
                    tally.problems.append(f"{what}: edit page {page.status} {page.error or leaked(page.body)}")
                    continue
                known[cid] = int(found.group(1))
            out = request(person, "POST", f"/customers/{cid}/edit", {
                "version": str(known[cid]), "name": f"共享客户{cid}", "status": "stock",
                "outlet_id": str(outlet_id), "deposit_balance": "1000", "notes": f"{person.login} 第{n}次修改"})
            if out.status == 302 and out.messages == ["已保存"]:
                tally.edits[cid] += 1
                known[cid] += 1  # the detail page he lands on shows the new version
                continue
            if out.status == 409 and EDIT_CONFLICT in out.body and not out.messages:
                tally.conflicts += 1  # someone saved in between: the person is told, nothing is lost
                del known[cid]
                continue
        elif op == "activity":
            cid = rng.choice(hot)
            occurred = to_local(utcnow() - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
            out = request(person, "POST", f"/activity/customers/{cid}", {
                "kind": "call", "summary": f"{person.login} 电话回访 {n}", "occurred_at": occurred}, fragment=True)
            if out.status == 200 and out.messages == ["已记录联系"] and f"{person.login} 电话回访 {n}" in out.body:
                tally.activities[cid] += 1
                continue
        else:
            cid = rng.choice(pool_ids)
            out = request(person, "POST", f"/customers/{cid}/claim")
            if out.status == 302 and len(out.messages) == 1:
                message = out.messages[0]
                if message.startswith("认领成功"):
                    tally.claims["won"] += 1
                    continue
                if message == CONTESTED:
                    tally.claims["contested"] += 1
                    continue
                if message in (ALREADY_PENDING, ALREADY_MINE):
                    tally.claims["refused"] += 1
                    continue
        tally.problems.append(f"{what}: {out.status} {out.messages} {out.error or ''} {leaked(out.body) or ''}")
    return tally


def test_eight_writers_never_see_database_is_locked(app, outlet, error_log):
    """8 people × 200 operations at once on SQLite (8 × 50 on PostgreSQL) — create, edit, log a contact, claim:
    every request gets its normal answer (no error page, no "database is locked", no driver text) and the final
    counts equal the successful operations."""
    staff = people(app, outlet, ["outlet_head", "supervisor"] * (WRITERS // 2), "WR")
    hot = [new_customer(outlet, f"共享客户{n}", maintainer_id=staff[0].user_id).id for n in range(4)]
    pool_ids = [new_customer(outlet, f"待认领客户{n}").id for n in range(60)]
    customers_before = db.session.scalar(select(func.count()).select_from(Customer))
    operations = OPERATIONS if db.engine.dialect.name == "sqlite" else PG_OPERATIONS
    start = threading.Barrier(WRITERS, timeout=WAIT)
    with ThreadPoolExecutor(WRITERS) as pool:
        futures = [pool.submit(writer, p, 7000 + n, hot, pool_ids, outlet.id, start, operations)
                   for n, p in enumerate(staff)]
        tallies = [f.result(timeout=600) for f in futures]
    problems = [p for t in tallies for p in t.problems]
    created = sum(t.created for t in tallies)
    edits = sum((t.edits for t in tallies), Counter())
    activities = sum((t.activities for t in tallies), Counter())
    claims = sum((t.claims for t in tallies), Counter())
    print(f"writers: {WRITERS}×{operations} on {db.engine.dialect.name}: created {created}, edits {sum(edits.values())} "
          f"(+{sum(t.conflicts for t in tallies)} conflicts told), contacts {sum(activities.values())}, "
          f"claims {dict(claims)}, problems {len(problems)}")
    assert problems == [], "\n".join(problems[:10])
    assert error_log == []
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Customer)) == customers_before + created
    assert len(audit_rows("customer.created")) == created
    for cid in hot:
        c = db.session.get(Customer, cid)
        assert c.version == 1 + edits[cid], f"customer {cid}: version {c.version}, saved edits {edits[cid]}"
        assert len(audit_rows("customer.updated", cid)) == edits[cid]
        assert db.session.scalar(select(func.count()).select_from(Activity).where(
            Activity.customer_id == cid)) == activities[cid]
    assert db.session.scalar(select(func.count()).select_from(CustomerClaim).where(
        CustomerClaim.kind == "claim")) == claims["won"] + claims["contested"]
    assert db.session.scalar(select(func.count()).select_from(Customer).where(
        Customer.id.in_(pool_ids), Customer.maintainer_id.is_not(None))) == claims["won"]
    assert len(audit_rows("customer.claimed")) == claims["won"]
    assert len(audit_rows("customer.claim_contested")) == claims["contested"]
    # Every kind of operation happened, and some writes really collided.
    assert created and edits and activities and claims["won"] and claims["contested"]

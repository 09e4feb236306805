"""Demo data: two 分行, their 支行 and outlets of all three types, staff in every post (Faker zh_CN)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any

from faker import Faker
from sqlalchemy import select

from crm.auth import services as auth
from crm.extensions import db
from crm.models import Branch, Outlet, User
from crm.validators import generate_id_card
from crm.workdays import ensure_seeded

DEMO_ADMIN = "A0001"
DEMO_ADMIN_NAME = "系统管理员（演示）"

# 分行 → 支行 → outlets (name, type, reception conditions for kids events, area m²)
ORG = [
    ("4101", "郑州分行", [
        ("410101", "金水支行", "张建国", [
            ("金水支行营业部", "sub_branch_business_dept", True, 620),
            ("花园路网点", "urban", True, 380),
            ("经开区园区网点", "urban", False, 260),
        ]),
        ("410102", "二七支行", "李文华", [
            ("二七支行营业部", "sub_branch_business_dept", True, 540),
            ("航海路网点", "urban", False, 300),
            ("侯寨乡网点", "township", False, 180),
        ]),
    ]),
    ("4103", "洛阳分行", [
        ("410301", "涧西支行", "王志强", [
            ("涧西支行营业部", "sub_branch_business_dept", True, 580),
            ("南昌路网点", "urban", True, 320),
        ]),
        ("410302", "偃师支行", "赵红梅", [
            ("偃师支行营业部", "sub_branch_business_dept", False, 400),
            ("府店镇网点", "township", False, 150),
        ]),
    ]),
]

OUTLET_STAFF = ["outlet_head", "supervisor", "corporate_rm", "personal_rm", "wealth_manager", "lobby_manager",
                "low_counter_teller", "high_counter_teller", "back_office"]
EXTRA_AT_BUSINESS_DEPT = ["outlet_deputy", "clerk", "agent"]
BRANCH_STAFF = ["branch_admin", "branch_head", "marketing"]
SUB_BRANCH_STAFF = ["sub_branch_president", "retail_vp", "product_manager"]
GRADES_BY_POST = {"corporate_rm": ["a_senior", "a_middle", "a_junior"],
                  "personal_rm": ["p_rm", "p_assistant", "b_2", "b_trainee"],
                  "wealth_manager": ["b_1", "b_3", "b_4"]}
# One account per kind of user, printed so a visitor can try each view of the product.
SHOWCASE = ["admin", "branch_admin", "branch_head", "marketing", "sub_branch_president", "outlet_head",
            "personal_rm", "corporate_rm", "lobby_manager", "low_counter_teller"]


class DemoRefused(RuntimeError):
    pass


def ensure_demo(seed: int = 20261123, echo: Callable[[str], None] = print) -> None:
    """Seed an empty database, or refresh the demo password of an existing demo database."""
    admin = db.session.execute(select(User).where(User.login == DEMO_ADMIN)).scalar_one_or_none()
    has_users = db.session.execute(select(User.id).limit(1)).first() is not None
    if admin is None and has_users:
        raise DemoRefused("数据库中已有非演示数据，拒绝写入演示数据（请使用空数据库）。")
    if admin is None:
        seed_demo(seed)
        echo("已生成演示数据：2 个分行、4 个支行、10 个网点。")
    ensure_seeded(echo=echo)  # the working-day calendar (R-68 deadlines); idempotent
    password = auth.one_time_password()
    hashed = auth.hash_password(password)
    users = db.session.execute(select(User).order_by(User.id)).scalars().all()
    for user in users:
        # Demo accounts get one fresh random password per run: nothing guessable is ever left in the database.
        user.password_hash = hashed
        user.must_change_password = False
    db.session.commit()
    _print_logins(users, password, echo)


def _print_logins(users: list[User], password: str, echo: Callable[[str], None]) -> None:
    from crm.roles import post_label

    shown: dict[str, User] = {}
    for u in users:
        if u.post in SHOWCASE and u.post not in shown:
            shown[u.post] = u
    echo("")
    echo("演示账号（本次运行的密码对所有演示账号有效）：")
    echo(f"  密码：{password}")
    for post in SHOWCASE:
        u = shown.get(post)
        if u is None:
            continue
        where = u.outlet.name if u.outlet else (u.branch.name if u.branch else "全行")
        echo(f"  {post_label(post):<8}\t{u.login:<20}\t{u.name}（{where}）")
    echo("")


def seed_demo(seed: int) -> None:
    rng = random.Random(seed)  # nosec B311  # reproducible demo data; passwords use secrets (auth)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    placeholder = auth.hash_password(auth.one_time_password())
    used: set[str] = set()

    def person(post: str, *, outlet: Outlet | None = None, branch: Branch | None = None) -> User:
        while True:
            login = generate_id_card(rng, birth_date=date(rng.randint(1965, 2000), rng.randint(1, 12), rng.randint(1, 28)))
            if login not in used:
                used.add(login)
                break
        grade = rng.choice(GRADES_BY_POST[post]) if post in GRADES_BY_POST else None
        user = User(login=login, name=fake.name(), phone=f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}",
                    staff_no=f"{rng.randint(100000, 999999)}", post=post, grade=grade,
                    grade_effective_from=date(2024, rng.randint(1, 12), 1) if grade else None,
                    outlet_id=outlet.id if outlet else None,
                    branch_id=(outlet.branch_id if outlet else branch.id if branch else None),
                    password_hash=placeholder, must_change_password=False, active=True)
        db.session.add(user)
        return user

    admin = User(login=DEMO_ADMIN, name=DEMO_ADMIN_NAME, staff_no=DEMO_ADMIN, post="admin",
                 password_hash=placeholder, must_change_password=False, active=True)
    db.session.add(admin)
    outlet_no = 0
    for code, name, subs in ORG:
        root = _branch(code, name, "branch", None)
        for post in BRANCH_STAFF:
            person(post, branch=root)
        for sub_code, sub_name, president, outlets in subs:
            sub = _branch(sub_code, sub_name, "sub_branch", root, president)
            for post in SUB_BRANCH_STAFF:
                person(post, branch=sub)
            for outlet_name, outlet_type, reception, area in outlets:
                outlet_no += 1
                outlet = Outlet(
                    code=f"{sub_code}{outlet_no:02d}", name=outlet_name, branch_id=sub.id, root_branch_id=root.id,
                    outlet_type=outlet_type, address=fake.street_address(), area_m2=area,
                    has_reception_conditions=reception, phone=f"0371-{rng.randint(60000000, 69999999)}",
                    high_counter_count=rng.randint(1, 3), low_counter_count=rng.randint(1, 4),
                    corp_cash_tx_daily=rng.randint(10, 120), corp_noncash_tx_daily=rng.randint(10, 90),
                    teller_std_volume=rng.randint(200, 700),
                )
                db.session.add(outlet)
                db.session.flush()
                posts = OUTLET_STAFF + (EXTRA_AT_BUSINESS_DEPT if outlet_type == "sub_branch_business_dept" else [])
                for post in posts:
                    person(post, outlet=outlet)
    db.session.commit()


def _branch(code: str, name: str, level: str, parent: Branch | None, president: str | None = None) -> Branch:
    node = Branch(code=code, name=name, level=level, parent_id=parent.id if parent else None, path="",
                  president_name=president)
    db.session.add(node)
    db.session.flush()
    node.path = (parent.path if parent else "/") + f"{node.id}/"
    return node


def seed_plugin_demo(seed: int, echo: Callable[[str], None] = print) -> None:
    """Switch every installed plugin on (the global row: each 分行 follows it) and let each fill its demo data."""
    from flask import current_app

    registry = current_app.extensions["crm"]
    for name in registry.plugins:
        registry.set_enabled(name, None, True, None)
    db.session.commit()
    for _name, summary in registry._call_each("crm_seed_demo", seed=seed):
        if summary:
            echo(summary)


def as_user(user: Any, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Call a service as `user` outside a web request (demo data, benchmarks): audit rows and scoped reads want a
    request with a logged-in user."""
    from flask import current_app
    from flask_login import login_user, logout_user

    with current_app.test_request_context():
        login_user(user)
        try:
            return fn(user, *args, **kw)
        finally:
            logout_user()

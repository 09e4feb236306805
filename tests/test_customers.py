"""Customers (spec §2.3, design §4, §9): search as you type, filters, keyset sorts over equal values and NULLs,
the capped count, scope, create/edit validation, lost updates, masked numbers and the audited reveal."""

from __future__ import annotations

import html
import random
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from pypinyin import lazy_pinyin
from sqlalchemy import func, select
from stdnum.cn import ric

from crm.access import can
from crm.customers import services
from crm.customers.search import keys
from crm.extensions import db
from crm.models import AuditLog, Customer, User
from tests.conftest import CANARY_B, Client, table_snapshot


def id_card(body17: str) -> str:
    """A 身份证号码 with the right check digit."""
    return body17 + ric.calc_check_digit(body17 + "0")


ID_ZS = id_card("41010219850612003")  # 410102198506120036, 男, 1985-06-12
ID_LS = id_card("11010519900307123")  # 110105199003071239
ID_B = id_card("32010619751120456")  # 320106197511204567 (a B customer)
ID_NEW = id_card("44030519881231789")  # 440305198812317895, 男, 1988-12-31
ID_NEW_F = id_card("33010620000229002")  # 330106200002290029, 女, 2000-02-29
USCC_A = "914101020115244919"
USCC_A2 = "91420106660487643D"
USCC_NEW = "9151010729141777XG"

HX_ROWS = {"HX-Request": "true", "HX-Target": "customer-rows"}
HX_MORE = {"HX-Request": "true", "HX-Target": "more-customers"}
ROW_RE = re.compile(r'<a href="/customers/(\d+)">([^<]*)</a>')
MORE_RE = re.compile(r'<tr id="more-customers">.*?href="([^"]+)"', re.S)
VOLATILE = ("audit_log", "user_session")


def make_customer(outlet, name: str, *, kind: str = "personal", status: str = "stock", phone: str | None = None,
                  cert_no: str | None = None, maintainer=None, deposit: str = "0", has_loan: bool = False,
                  commit: bool = True, **kw) -> Customer:
    customer = Customer(outlet_id=outlet.id, kind=kind, status=status, name=name, phone=phone, cert_no=cert_no,
                        maintainer_id=maintainer.id if maintainer else None, deposit_balance=Decimal(deposit),
                        has_loan=has_loan, **keys(name, phone, cert_no), **kw)
    db.session.add(customer)
    if commit:
        db.session.commit()
    return customer


@pytest.fixture
def people(org):
    """A: 张三, 张伟, 李四, 甲科技公司, %百分; A2: 王五, 乙二公司; B: two customers with the canary in their names."""
    org.zs = make_customer(org.a, "张三", phone="13912345678", cert_no=ID_ZS, maintainer=org.rm_a, deposit="50000.00",
                           tier="T1")
    org.zw = make_customer(org.a, "张伟", status="target", phone="13700001111", deposit="49999.99")
    org.ls = make_customer(org.a, "李四", phone="13600004321", cert_no=ID_LS, maintainer=org.rm_a, has_loan=True,
                           loan_balance=Decimal("80000.00"))
    org.corp = make_customer(org.a, "甲科技公司", kind="corporate", cert_no=USCC_A, maintainer=org.head_a,
                             deposit="1234567.89")
    org.pct = make_customer(org.a, "%百分")
    org.ww = make_customer(org.a2, "王五", phone="13511113333", maintainer=org.rm_a2)
    org.corp2 = make_customer(org.a2, "乙二公司", kind="corporate", cert_no=USCC_A2, maintainer=org.rm_a2,
                              deposit="300000.00", has_loan=True)
    org.cb = make_customer(org.b, f"赵六{CANARY_B}", phone="13900002222", cert_no=ID_B, maintainer=org.rm_b,
                           deposit="88888.00")
    org.cb2 = make_customer(org.b, f"张{CANARY_B}", phone="13900005678", maintainer=org.rm_b)
    return org


def logged_in(app, login: str) -> Client:
    c = Client(app)
    assert c.login(login).status_code == 302
    return c


def rows(client: Client, **query) -> list[str]:
    """Names in the rows fragment the search box asks for (htmx, target customer-rows)."""
    resp = client.get("/customers?" + urlencode(query), headers=HX_ROWS)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "<html" not in body and 'name="q"' not in body  # rows only, not the whole page
    return [html.unescape(name) for _id, name in ROW_RE.findall(body)]


def names_of(page: services.Page) -> list[str]:
    return [c.name for c in page.rows]


def stable_snapshot() -> dict:
    snap = table_snapshot()
    for name in VOLATILE:
        snap.pop(name)
    return snap


class _FormFields(HTMLParser):
    """What a browser submits for a form: inputs, checked boxes, the selected (or first) option."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "checkbox":
                if "checked" in a:
                    self.values[a["name"]] = a.get("value") or "on"
            elif kind != "submit":
                self.values[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select, self._options = a.get("name"), []
        elif tag == "option" and self._select:
            self._options.append((a.get("value") or "", "selected" in a))

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            chosen = [v for v, sel in self._options if sel] or [v for v, _ in self._options[:1]]
            if chosen:
                self.values[self._select] = chosen[0]
            self._select = None


def form_fields(body: str) -> dict[str, str]:
    start = body.index('<form method="post" novalidate')
    parser = _FormFields()
    parser.feed(body[start:body.index("</form>", start)])
    return parser.values


# ---------------------------------------------------------------- search as you type

@pytest.mark.parametrize("q", ["zs", "zhangsan", "zhangs", "ZS", "ｚｓ", "zhang san"])
def test_pinyin_initials_and_full_pinyin_find_zhangsan(client, people, q):
    client.login("HA0001")
    assert rows(client, q=q) == ["张三"]
    assert names_of(services.page(people.head_a, services.parse_filters({"q": q}), None)) == ["张三"]


def test_chinese_prefix_finds_every_name_starting_with_it(client, people):
    client.login("HA0001")
    assert sorted(rows(client, q="张")) == ["张三", "张伟"]  # 张CANARYB is in outlet B
    assert rows(client, q="李") == ["李四"]
    assert rows(client, q="张三丰") == []
    admin = logged_in(client.app, "ADM001")
    assert sorted(rows(admin, q="张")) == sorted(["张三", "张伟", f"张{CANARY_B}"])


def test_number_suffixes_and_full_certificates(client, people):
    client.login("HA0001")
    assert rows(client, q="5678") == ["张三"]  # 139****5678; B's 139****5678 is out of scope
    assert rows(client, q="4321") == ["李四"]  # phone suffix
    assert rows(client, q=ID_LS[-4:]) == ["李四"]  # 身份证 suffix
    assert rows(client, q="13912345678") == ["张三"]  # a whole mobile
    assert rows(client, q=ID_LS) == ["李四"]
    assert rows(client, q=ID_ZS[:6] + " " + ID_ZS[6:]) == ["张三"]  # spaces are ignored
    assert rows(client, q=USCC_A) == ["甲科技公司"]
    assert rows(client, q=USCC_A.lower()) == ["甲科技公司"]
    assert rows(client, q="9999") == []


def test_fewer_than_four_digits_asks_for_more(client, people):
    client.login("HA0001")
    resp = client.get("/customers?q=12", headers=HX_ROWS)
    assert resp.status_code == 200
    assert "按号码查找请至少输入4位数字" in resp.get_data(as_text=True)
    full = client.get("/customers?q=12")
    assert full.status_code == 200 and "按号码查找请至少输入4位数字" in full.get_data(as_text=True)


@pytest.mark.parametrize("q, expected", [("%", ["%百分"]), ("_", []), ("'", []), ("' OR '1'='1", []),
                                         ("<script>alert(1)</script>", []), ("\\", []), ("%%", [])])
def test_special_characters_match_literally_and_are_escaped(client, people, q, expected):
    client.login("HA0001")
    assert rows(client, q=q) == expected
    resp = client.get("/customers?" + urlencode({"q": q}))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<script>alert(1)" not in body
    if "<" in q:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


# ---------------------------------------------------------------- filters

@pytest.mark.parametrize("query, expected", [
    ({"outlet": "A2"}, {"王五", "乙二公司"}),
    ({"kind": "corporate"}, {"甲科技公司", "乙二公司"}),
    ({"status": "target"}, {"张伟"}),
    ({"maintainer": "rm_a"}, {"张三", "李四"}),
    ({"loan": "no"}, {"张三", "张伟", "甲科技公司", "%百分", "王五"}),
    ({"loan": "yes"}, {"李四", "乙二公司"}),
    ({"min": "5万"}, {"张三", "甲科技公司", "乙二公司"}),
    ({"min": "50000"}, {"张三", "甲科技公司", "乙二公司"}),
    ({"min": "49999.99", "max": "50000"}, {"张三", "张伟"}),
    ({"max": "49,999.99"}, {"张伟", "李四", "%百分", "王五"}),
    ({"kind": "personal", "loan": "no", "min": "5万"}, {"张三"}),
    ({"q": "zw", "status": "target"}, {"张伟"}),
    ({"q": "zw", "status": "stock"}, set()),
])
def test_filters(client, people, query, expected):
    lookups = {"A2": people.a2.id, "rm_a": people.rm_a.id}
    query = {k: lookups.get(v, v) for k, v in query.items()}
    client.login("BA0001")
    assert set(rows(client, **query)) == expected
    assert {c.name for c in services.page(people.branch_admin1, services.parse_filters(query), None).rows} == expected
    n, more = services.count(people.branch_admin1, services.parse_filters(query))
    assert (n, more) == (len(expected), False)


def test_amount_in_wan_is_parsed():
    f = services.parse_filters({"min": "5万", "max": "12.5万"})
    assert (f.deposit_min, f.deposit_max, f.errors) == (Decimal("50000.00"), Decimal("125000.00"), [])


@pytest.mark.parametrize("bad", ["abc", "-1", "1.234", "12,34"])
def test_invalid_amount_shows_a_message_and_is_ignored(client, people, bad):
    client.login("HA0001")
    resp = client.get("/customers?" + urlencode({"min": bad}), headers=HX_ROWS)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "存款下限：" in body
    assert len(ROW_RE.findall(body)) == 5  # every A customer: the bad bound is dropped
    assert services.parse_filters({"min": bad}).deposit_min is None


def test_the_list_shows_exact_balances_either_side_of_5_wan(client, people):
    client.login("HA0001")
    body = client.get("/customers?q=z", headers=HX_ROWS).get_data(as_text=True)
    assert "49,999.99" in body and "50,000.00" in body


def test_out_of_scope_outlet_or_maintainer_filter_shows_nothing(client, people):
    client.login("HA0001")
    assert rows(client, outlet=people.b.id) == []
    assert rows(client, maintainer=people.rm_b.id) == []


# ---------------------------------------------------------------- the outlet and maintainer pickers

CHOICE_RE = re.compile(r'<a class="dropdown-item(?: active)?" href="([^"]+)">([^<]*)(?:<span[^>]*>([^<]*)</span>)?</a>')


def choices(client: Client, which: str, **query) -> list[tuple[str, str, str]]:
    """(link, label, hint) of each choice a picker offers, as the opened menu shows them."""
    resp = client.get(f"/customers/{which}?" + urlencode(query), headers={"HX-Request": "true",
                                                                          "HX-Target": f"{which[:-1]}-menu"})
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert 'name="find"' in body  # the whole menu: the search box and the choices
    return [(html.unescape(href), html.unescape(label), html.unescape(hint or ""))
            for href, label, hint in CHOICE_RE.findall(body)]


def labels(found: list[tuple[str, str, str]]) -> list[str]:
    return [label for _href, label, _hint in found]


def filter_form(page: str) -> str:
    start = page.index('<form class="row g-2" method="get"')
    return page[start:page.index("</form>", start)]


def test_the_list_page_renders_no_staff_or_outlet_options(client, people):
    """A 分行 has hundreds of staff: the page names only the chosen filter; choices load when a picker opens."""
    client.login("BA0001")
    page = client.get("/customers").get_data(as_text=True)
    body = filter_form(page)  # the rows name maintainers and outlets, of course
    assert "<option" in body  # the short fixed selects (type, status, loan, sort) stay
    for name in ("甲客户经理", "甲二客户经理", "网点甲负责人", "甲网点", "甲二网点"):
        assert name not in body
    assert 'hx-get="/customers/maintainers"' in body and 'hx-get="/customers/outlets"' in body
    assert "全部维护人" in body and "全部网点" in body
    chosen = client.get(f"/customers?maintainer={people.rm_a.id}&outlet={people.a.id}").get_data(as_text=True)
    chosen = filter_form(chosen)
    assert f'name="maintainer" value="{people.rm_a.id}"' in chosen and "甲客户经理</button>" in chosen
    assert f'name="outlet" value="{people.a.id}"' in chosen and "甲网点</button>" in chosen
    assert "全部维护人" not in chosen and "全部网点" not in chosen


def test_maintainer_picker_offers_only_staff_of_the_users_scope(client, people):
    client.login("HA0001")
    found = choices(client, "maintainers")
    assert labels(found)[0] == "全部维护人"
    assert sorted(labels(found)[1:]) == sorted(["甲大堂", "甲客户经理", "甲柜员", "网点甲负责人"])
    assert {hint for _h, label, hint in found if label != "全部维护人"} == {"甲网点"}
    body = client.get("/customers/maintainers").get_data(as_text=True)
    assert CANARY_B not in body and "甲二客户经理" not in body
    for find in ("乙", CANARY_B, "客户经理CANARYB", "%", "_"):  # a typed % or _ is a character, not "everyone"
        assert labels(choices(client, "maintainers", find=find)) == [], find
        assert "乙客户经理" not in client.get("/customers/maintainers?" + urlencode({"find": find})).get_data(
            as_text=True)
    assert labels(choices(client, "maintainers", find="客户经理")) == ["甲客户经理"]
    branch = logged_in(client.app, "BA0001")
    assert set(labels(choices(branch, "maintainers", find="客户经理"))) == {"甲客户经理", "甲二客户经理"}
    admin = logged_in(client.app, "ADM001")
    assert f"乙客户经理{CANARY_B}" in labels(choices(admin, "maintainers", find="客户经理"))
    rm = logged_in(client.app, "RA0001")  # sees only own customers: only oneself to filter by
    assert labels(choices(rm, "maintainers")) == ["全部维护人", "甲客户经理"]


def test_outlet_picker_offers_only_outlets_of_the_users_scope(client, people):
    client.login("BA0001")
    found = choices(client, "outlets")
    assert labels(found) == ["全部网点", "甲网点", "甲二网点"]
    assert [hint for _h, _l, hint in found] == ["", "甲一支行", "甲一支行"]
    assert labels(choices(client, "outlets", find="甲二")) == ["甲二网点"]
    assert labels(choices(client, "outlets", find="oa2")) == ["甲二网点"]  # by code too
    for find in ("乙", CANARY_B, "OB", "%"):
        assert labels(choices(client, "outlets", find=find)) == [], find
        assert "乙网点" not in client.get("/customers/outlets?" + urlencode({"find": find})).get_data(as_text=True)
    assert CANARY_B not in client.get("/customers/outlets").get_data(as_text=True)
    head = logged_in(client.app, "HA0001")
    assert labels(choices(head, "outlets")) == ["全部网点", "甲网点"]
    rm = logged_in(client.app, "RA0001")  # own outlet offered even to posts that see only their own customers
    assert labels(choices(rm, "outlets")) == ["全部网点", "甲网点"]


def test_a_choice_is_a_link_to_the_list_with_the_other_filters_kept(client, people):
    client.login("BA0001")
    query = {"q": "z", "sort": "deposit", "outlet": people.a.id, "maintainer": people.rm_a2.id}
    found = {label: href for href, label, _hint in choices(client, "maintainers", **query)}
    link = found["甲客户经理"]
    assert link.startswith("/customers?")
    assert dict(p.split("=") for p in link.split("?")[1].split("&")) == {
        "q": "z", "sort": "deposit", "outlet": str(people.a.id), "maintainer": str(people.rm_a.id)}
    assert found["全部维护人"] == f"/customers?q=z&outlet={people.a.id}&sort=deposit"
    body = client.get(link).get_data(as_text=True)
    assert [html.unescape(n) for _i, n in ROW_RE.findall(body)] == ["张三"]  # z…, outlet A, rm_a, by deposit
    assert "甲客户经理</button>" in body and "甲网点</button>" in body
    menu = client.get("/customers/outlets?" + urlencode(query)).get_data(as_text=True)
    assert re.findall(r'class="dropdown-item active" href="[^"]+">([^<]*)', menu) == ["甲网点"]  # the chosen one


def test_typing_in_a_picker_reloads_the_choices_only(client, people):
    client.login("BA0001")
    resp = client.get("/customers/maintainers?find=%E7%94%B2%E4%BA%8C",  # 甲二
                      headers={"HX-Request": "true", "HX-Target": "maintainer-choices"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'name="find"' not in body
    assert sorted(html.unescape(label) for _h, label, _hint in CHOICE_RE.findall(body)) == ["甲二客户经理", "网点甲二负责人"]
    assert "全部维护人" not in body  # while searching, only matches
    none = client.get("/customers/maintainers?find=nobody", headers={"HX-Target": "maintainer-choices"})
    assert "没有找到“nobody”" in none.get_data(as_text=True)


def test_a_long_picker_list_asks_for_a_name(client, people, monkeypatch):
    monkeypatch.setattr(services, "PICKER_LIMIT", 2)
    client.login("HA0001")
    assert len(choices(client, "maintainers")) == 1 + 2
    body = client.get("/customers/maintainers").get_data(as_text=True)
    assert "只列出前 2 位，请输入姓名查找" in body
    found = client.get("/customers/maintainers?" + urlencode({"find": "柜"})).get_data(as_text=True)
    assert "甲柜员" in found and "请输入姓名查找" not in found
    assert "只列出前 2 个网点" not in client.get("/customers/outlets").get_data(as_text=True)  # one outlet


def test_an_out_of_scope_filter_is_named_as_such_and_leaks_nothing(client, people):
    client.login("HA0001")
    body = client.get(f"/customers?maintainer={people.rm_b.id}&outlet={people.b.id}").get_data(as_text=True)
    assert body.count("不在您的范围内</button>") == 2
    assert CANARY_B not in body and ROW_RE.findall(body) == []
    for bad in ("99999999999", "abc", "-1"):  # no id can be that: the filter is dropped (PostgreSQL refused it)
        resp = client.get("/customers?" + urlencode({"maintainer": bad, "outlet": bad}))
        assert resp.status_code == 200 and len(ROW_RE.findall(resp.get_data(as_text=True))) == 5
        assert choices(client, "maintainers", maintainer=bad)[0][1] == "全部维护人"


def test_a_changed_scope_applies_at_once(client, people):
    """List statements are reused from page to page; a user whose post changes must not keep the old scope."""
    rm = logged_in(client.app, "RA0001")
    assert sorted(rows(rm)) == ["张三", "李四"]
    assert sorted(rows(rm, sort="deposit")) == ["张三", "李四"]
    user = db.session.get(User, people.rm_a.id)
    user.post = "outlet_head"
    db.session.commit()
    assert sorted(rows(rm)) == sorted(["张三", "张伟", "李四", "甲科技公司", "%百分"])
    head = logged_in(client.app, "HA0001")
    assert sorted(rows(head)) == sorted(["张三", "张伟", "李四", "甲科技公司", "%百分"])
    moved = db.session.get(User, people.head_a.id)
    moved.outlet_id = people.a2.id  # to the other outlet: its customers, and the one maintained stays visible
    db.session.commit()
    assert sorted(rows(head)) == sorted(["王五", "乙二公司", "甲科技公司"])


# ---------------------------------------------------------------- sorting and keyset paging

SURNAMES = "张章李王阿白陈赵"
GIVEN = ["三", "伟", "明", "一", "芳", "娜", "强"]
DEPOSITS = [Decimal("50000.00"), Decimal("49999.99"), Decimal("0.00"), Decimal("50000.00"), Decimal("1234567.89"),
            Decimal("50000.00")]


@pytest.fixture
def many(org):
    """230 customers in outlet A: few distinct deposits, names and contact times; exactly 150 contacted (a
    multiple of the page size) and 80 never contacted, interleaved by id. Some in A2 and B besides."""
    rng = random.Random(7)
    never = set(rng.sample(range(230), 80))
    base = datetime(2026, 3, 1, 8, 0, 0)
    for i in range(230):
        contact = None if i in never else base + timedelta(hours=i % 12, microseconds=(i % 3) * 1000)
        make_customer(org.a, SURNAMES[i % len(SURNAMES)] + GIVEN[i % len(GIVEN)], commit=False,
                      deposit=str(DEPOSITS[i % len(DEPOSITS)]), last_contact_at=contact, has_loan=i % 4 == 0,
                      maintainer=org.rm_a if i % 5 == 0 else None)
    for i in range(3):
        make_customer(org.a2, f"甲二客户{i}", commit=False, deposit="50000.00", last_contact_at=base)
        make_customer(org.b, f"乙客户{CANARY_B}{i}", commit=False, deposit="50000.00", last_contact_at=base)
    db.session.commit()
    return org


def expected_order(customers: list[Customer], sort: str) -> list[int]:
    if sort == "deposit":
        ordered = sorted(customers, key=lambda c: (c.deposit_balance, c.id), reverse=True)
    elif sort == "newest":
        ordered = sorted(customers, key=lambda c: c.id, reverse=True)
    elif sort == "contact":
        contacted = sorted((c for c in customers if c.last_contact_at), key=lambda c: (c.last_contact_at, c.id),
                           reverse=True)
        ordered = contacted + sorted((c for c in customers if not c.last_contact_at), key=lambda c: -c.id)
    else:
        ordered = sorted(customers, key=lambda c: ("".join(lazy_pinyin(c.name)), c.id))
    return [c.id for c in ordered]


def walk_service(user, f: services.Filters, size: int) -> list[int]:
    ids: list[int] = []
    cursor = None
    for _ in range(500):
        page = services.page(user, f, cursor, size)
        assert len(page.rows) <= size
        ids += [c.id for c in page.rows]
        if page.next_cursor is None:
            return ids
        assert len(page.rows) == size  # only a full page offers more
        cursor = page.next_cursor
    raise AssertionError("paging never ended")


def walk_web(client: Client, query: dict) -> tuple[list[int], int]:
    url, headers = "/customers?" + urlencode(query), HX_ROWS
    ids: list[int] = []
    pages = 0
    while url:
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200
        body = resp.get_data(as_text=True)
        ids += [int(i) for i, _name in ROW_RE.findall(body)]
        match = MORE_RE.search(body)
        url, headers = (html.unescape(match.group(1)) if match else None), HX_MORE
        pages += 1
        assert pages < 50
    return ids, pages


def in_outlet_a(org, **where) -> list[Customer]:
    stmt = select(Customer).where(Customer.outlet_id == org.a.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(Customer, key) == value)
    return list(db.session.execute(stmt).scalars())


@pytest.mark.parametrize("sort", ["name", "deposit", "contact", "newest"])
def test_walking_every_page_through_the_load_more_link(client, many, sort):
    client.login("HA0001")
    ids, pages = walk_web(client, {"sort": sort})
    expected = expected_order(in_outlet_a(many), sort)
    assert len(expected) == 230 and pages == 5
    assert ids == expected  # nothing skipped, nothing twice, in order
    body = client.get("/customers/count?" + urlencode({"sort": sort})).get_data(as_text=True)
    assert "共 230 位客户" in body


@pytest.mark.parametrize("sort", ["name", "deposit", "contact", "newest"])
@pytest.mark.parametrize("size", [1, 7, 10, 149, 150, 151, 229, 230, 231])
def test_keyset_pages_of_any_size(many, sort, size):
    f = services.parse_filters({"sort": sort})
    assert walk_service(many.head_a, f, size) == expected_order(in_outlet_a(many), sort)


@pytest.mark.parametrize("sort", ["name", "deposit", "contact", "newest"])
def test_paging_a_filtered_list_and_an_own_scope(client, many, sort):
    query = {"sort": sort, "loan": "no", "min": "5万"}
    expected = expected_order([c for c in in_outlet_a(many, has_loan=False) if c.deposit_balance >= 50000], sort)
    client.login("HA0001")
    ids, _pages = walk_web(client, query)
    assert ids == expected and len(ids) == services.count(many.head_a, services.parse_filters(query))[0]
    mine = expected_order(in_outlet_a(many, maintainer_id=many.rm_a.id), sort)
    assert len(mine) == 46
    assert walk_service(many.rm_a, services.parse_filters({"sort": sort}), 7) == mine


@pytest.mark.parametrize("query, warning", [("min=abc", "存款下限："), ("q=12", "按号码查找请至少输入4位数字")])
def test_a_filter_warning_is_shown_once_not_on_every_page(client, many, query, warning):
    client.login("HA0001")
    url, headers, warnings, pages = "/customers?" + query, HX_ROWS, 0, 0
    while url:
        body = client.get(url, headers=headers).get_data(as_text=True)
        warnings += body.count(warning)
        match = MORE_RE.search(body)
        url, headers = (html.unescape(match.group(1)) if match else None), HX_MORE
        pages += 1
    assert (warnings, pages) == (1, 5)


@pytest.mark.parametrize("sort", ["name", "deposit", "contact", "newest"])
@pytest.mark.parametrize("after", [
    "garbage", "!!!", "%E5%BC%A0", "W10", "bnVsbA", "WzEsMiwzXQ", "x" * 300,
    services.encode_cursor(["abc", 5]), services.encode_cursor([[1], 5]), services.encode_cursor([{"a": 1}, 5]),
    services.encode_cursor([10 ** 30]), services.encode_cursor(["zhang", 10 ** 30]),
    services.encode_cursor([None, 10 ** 30]), services.encode_cursor(["NaN", 5]), services.encode_cursor(["1e999", 5]),
    services.encode_cursor([True]), services.encode_cursor([1.5, 2]), services.encode_cursor([None, "x"]),
    services.encode_cursor(["2026-03-01T08:00:00+08:00", 5]), services.encode_cursor(["2026-13-01", 5]),
    services.encode_cursor([-1]), services.encode_cursor([2 ** 31]), services.encode_cursor(["zhang", 2 ** 31]),
])
def test_a_tampered_cursor_gives_a_page_not_an_error(client, people, sort, after):
    client.login("HA0001")
    first = client.get("/customers?" + urlencode({"sort": sort}), headers=HX_ROWS).get_data(as_text=True)
    resp = client.get("/customers?" + urlencode({"sort": sort, "after": after}), headers=HX_MORE)
    assert resp.status_code == 200
    got = ROW_RE.findall(resp.get_data(as_text=True))
    assert set(got) <= set(ROW_RE.findall(first))  # never anything out of scope
    services.page(people.head_a, services.parse_filters({"sort": sort}), after)  # and no exception


def test_a_cursor_of_the_wrong_shape_starts_at_the_first_page(people):
    f = services.parse_filters({"sort": "deposit"})
    first = [c.id for c in services.page(people.head_a, f, None).rows]
    for after in ("garbage", services.encode_cursor([1, 2, 3]), services.encode_cursor(["abc", 5]),
                  services.encode_cursor([10 ** 30, 5]), services.encode_cursor(["zhang", 10 ** 30])):
        assert [c.id for c in services.page(people.head_a, f, after).rows] == first, after


# ---------------------------------------------------------------- the capped count

def test_count(client, people, monkeypatch):
    client.login("HA0001")
    assert "共 5 位客户" in client.get("/customers/count").get_data(as_text=True)
    assert "共 1 位客户" in client.get("/customers/count?q=zs").get_data(as_text=True)
    assert "共 0 位客户" in client.get("/customers/count?q=zhaoliu").get_data(as_text=True)
    assert services.count(people.admin, services.Filters(), cap=5) == (5, True)
    assert services.count(people.admin, services.Filters(), cap=9) == (9, False)
    assert services.count(people.head_a, services.Filters(), cap=5) == (5, False)
    monkeypatch.setattr(services.count, "__defaults__", (5, None))  # cap, extra
    admin = logged_in(client.app, "ADM001")
    assert "超过 5 位客户" in admin.get("/customers/count").get_data(as_text=True)


# ---------------------------------------------------------------- scope

def test_outlet_head_sees_only_the_outlet(client, people):
    client.login("HA0001")
    page = client.get("/customers")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert {html.unescape(n) for _i, n in ROW_RE.findall(body)} == {"张三", "张伟", "李四", "甲科技公司", "%百分"}
    assert CANARY_B not in body and "王五" not in body
    for q in ("zhaoliu", "zl", "2222", ID_B, ID_B[-4:], f"张{CANARY_B}", "wangwu", USCC_A2):
        resp = client.get("/customers?" + urlencode({"q": q}), headers=HX_ROWS)
        assert ROW_RE.findall(resp.get_data(as_text=True)) == [], q
        assert CANARY_B not in resp.get_data(as_text=True)
    assert "共 5 位客户" in client.get("/customers/count").get_data(as_text=True)
    assert "共 0 位客户" in client.get("/customers/count?q=zhaoliu").get_data(as_text=True)


@pytest.mark.parametrize("login", ["HA0001", "RA0001", "TA0001", "LA0001", "BA0001", "PR0001", "MK0001"])
def test_an_out_of_scope_customer_is_404_everywhere(client, people, login):
    client.login(login)
    user = db.session.execute(select(User).where(User.login == login)).scalar_one()
    before = stable_snapshot()
    cid = people.cb.id
    for method, url, permission in (
            ("GET", f"/customers/{cid}", "customers.view"), ("GET", f"/customers/{cid}/edit", "customers.edit"),
            ("POST", f"/customers/{cid}/edit", "customers.edit"),
            ("POST", f"/customers/{cid}/reveal/cert_no", "customers.reveal"),
            ("POST", f"/customers/{cid}/reveal/phone", "customers.reveal"),
            ("GET", f"/customers/{cid}/panel/maintenance", "customers.view")):
        if method == "GET":
            resp = client.get(url)
        else:
            resp = client.post(url, {"name": "改名", "kind": "personal", "version": "1"})
        body = resp.get_data(as_text=True)
        # A post without the permission is stopped before the lookup (403); with it, the customer is not there.
        assert resp.status_code == (404 if can(permission, user) else 403), (method, url, resp.status_code)
        assert CANARY_B not in body and ID_B not in body and "13900002222" not in body
    assert stable_snapshot() == before
    assert db.session.get(Customer, cid).name == f"赵六{CANARY_B}"


def test_rm_sees_only_the_customers_they_maintain(client, people):
    client.login("RA0001")
    assert sorted(rows(client)) == sorted(["张三", "李四"])
    assert rows(client, q="zw") == [] and rows(client, q="1111") == []
    assert "共 2 位客户" in client.get("/customers/count").get_data(as_text=True)
    for other in (people.zw, people.corp, people.ww):
        assert client.get(f"/customers/{other.id}").status_code == 404
        assert client.get(f"/customers/{other.id}/edit").status_code == 404
    assert client.get(f"/customers/{people.zs.id}").status_code == 200


def test_branch_admin_sees_the_subtree_and_admin_sees_all(client, people):
    client.login("BA0001")
    assert set(rows(client)) == {"张三", "张伟", "李四", "甲科技公司", "%百分", "王五", "乙二公司"}
    assert client.get(f"/customers/{people.ww.id}").status_code == 200
    assert client.get(f"/customers/{people.cb.id}").status_code == 404
    admin = logged_in(client.app, "ADM001")
    assert len(rows(admin)) == 9
    assert "共 9 位客户" in admin.get("/customers/count").get_data(as_text=True)
    assert admin.get(f"/customers/{people.cb.id}").status_code == 200


def personal_form(org, **over) -> dict[str, str]:
    data = {"kind": "personal", "name": "新客户", "cert_no": ID_NEW, "phone": "13811112222", "status": "stock",
            "outlet_id": str(org.a.id), "maintainer_id": str(org.rm_a.id), "deposit_balance": "12.5万"}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("forged, field, message", [
    ("outlet_b", "outlet_id", "请选择您管辖范围内的网点"),
    ("maintainer_b", "maintainer_id", "维护人必须是该网点的在岗员工"),
    ("maintainer_a2", "maintainer_id", "维护人必须是该网点的在岗员工"),
])
def test_forged_outlet_or_maintainer_is_refused_and_nothing_written(client, people, forged, field, message):
    value = {"outlet_b": people.b.id, "maintainer_b": people.rm_b.id, "maintainer_a2": people.rm_a2.id}[forged]
    client.login("HA0001")
    before = stable_snapshot()
    resp = client.post("/customers/new", personal_form(people, **{field: str(value)}))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and message in body and CANARY_B not in body
    form = form_fields(client.get(f"/customers/{people.zs.id}/edit").get_data(as_text=True))
    form[field] = str(value)
    resp = client.post(f"/customers/{people.zs.id}/edit", form)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and message in body and CANARY_B not in body
    assert stable_snapshot() == before


# ---------------------------------------------------------------- create and edit

def customer_named(name: str) -> Customer | None:
    return db.session.execute(select(Customer).where(Customer.name == name)).scalar_one_or_none()


def test_create_personal_fills_birthday_and_gender_from_the_id(client, people):
    client.login("HA0001")
    resp = client.post("/customers/new", personal_form(people, cert_no=ID_NEW_F.lower(), phone="+86 138-1111-2222"))
    assert resp.status_code == 302
    c = customer_named("新客户")
    assert (c.cert_no, c.birthday, c.gender, c.phone) == (ID_NEW_F, date(2000, 2, 29), "女", "13811112222")
    assert (c.deposit_balance, c.outlet_id, c.maintainer_id, c.created_by_id) == (
        Decimal("125000.00"), people.a.id, people.rm_a.id, people.head_a.id)
    assert (c.name_pinyin, c.name_initials, c.phone_rev) == ("xinkehu", "xkh", "22221111831")
    assert resp.headers["Location"].endswith(f"/customers/{c.id}")
    detail = client.get(f"/customers/{c.id}").get_data(as_text=True)
    assert "02-29" in detail and "女" in detail and "125,000.00 元" in detail
    assert rows(client, q="xkh") == ["新客户"] and rows(client, q="2222") == ["新客户"]
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "customer.created")).scalar_one()
    assert audit.target_id == str(c.id)


def test_create_corporate_with_uscc(client, people):
    client.login("HA0001")
    resp = client.post("/customers/new", {"kind": "corporate", "name": "新材料公司", "cert_no": USCC_NEW.lower(),
                                          "status": "target", "outlet_id": str(people.a.id), "legal_rep": "周法人",
                                          "annual_revenue": "1.2亿", "has_loan": ""})
    assert resp.status_code == 302
    c = customer_named("新材料公司")
    assert (c.kind, c.cert_no, c.status, c.annual_revenue, c.has_loan, c.birthday) == (
        "corporate", USCC_NEW, "target", Decimal("120000000.00"), False, None)
    assert rows(client, q=USCC_NEW) == ["新材料公司"]
    assert rows(client, q="target", status="target") == []  # 'target' is not a name
    assert set(rows(client, status="target")) == {"新材料公司", "张伟"}


@pytest.mark.parametrize("over, message", [
    ({"cert_no": ID_NEW[:-1] + ("0" if ID_NEW[-1] != "0" else "1")}, "身份证号码校验位不正确"),
    ({"cert_no": "41010219851312003X"}, "身份证号码中的出生日期无效"),
    ({"cert_no": "12345"}, "身份证号码应为18位"),
    ({"phone": "010-12345678"}, "该号码不是手机号码"),
    ({"phone": "12345"}, "手机号码无效"),
    ({"deposit_balance": "1.234"}, "金额最多保留2位小数"),
    ({"deposit_balance": "-5"}, "金额不能小于0.00"),
    ({"deposit_balance": "abc"}, "金额格式不正确"),
    ({"name": "  "}, "请输入客户名称"),
    ({"kind": "alien"}, "请选择客户类型"),
    ({"birthday": "2026/11/23"}, "日期格式应为"),
    ({"kind": "corporate", "cert_no": USCC_NEW[:-1] + ("A" if USCC_NEW[-1] != "A" else "B")},
     "统一社会信用代码校验位不正确"),
    ({"kind": "corporate", "cert_no": ID_NEW}, "统一社会信用代码"),
])
def test_invalid_input_is_refused_with_a_chinese_message(client, people, over, message):
    client.login("HA0001")
    before = stable_snapshot()
    resp = client.post("/customers/new", personal_form(people, **over))
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert stable_snapshot() == before


def test_duplicate_id_in_scope_links_to_the_existing_customer(client, people):
    client.login("HA0001")
    before = stable_snapshot()
    resp = client.post("/customers/new", personal_form(people, cert_no=ID_ZS))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "该证件号码的客户已存在" in body and f'href="/customers/{people.zs.id}"' in body and "张三" in body
    assert stable_snapshot() == before


def test_duplicate_id_out_of_scope_gets_a_neutral_message(client, people):
    client.login("HA0001")
    before = stable_snapshot()
    resp = client.post("/customers/new", personal_form(people, cert_no=ID_B))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "不在您的管辖范围内" in body
    assert CANARY_B not in body and "赵六" not in body and f"/customers/{people.cb.id}" not in body
    assert "该证件号码的客户已存在：" not in body
    assert stable_snapshot() == before
    # An RM does not see an A customer maintained by someone else either.
    rm = logged_in(client.app, "RA0001")
    body = rm.post("/customers/new", personal_form(people, cert_no=USCC_A, kind="corporate")).get_data(as_text=True)
    assert "不在您的管辖范围内" in body and "甲科技公司" not in body
    assert f"/customers/{people.corp.id}" not in body


def test_rm_creating_a_customer_becomes_its_maintainer(client, people):
    client.login("RA0001")
    form_page = client.get("/customers/new?kind=personal").get_data(as_text=True)
    form = form_fields(form_page)
    assert form["outlet_id"] == str(people.a.id)  # the RM's own outlet is offered and chosen
    assert CANARY_B not in form_page and "甲二网点" not in form_page
    form.update(name="赵客户", cert_no=ID_NEW, maintainer_id=str(people.head_a.id))
    resp = client.post("/customers/new", form)
    assert resp.status_code == 302
    c = customer_named("赵客户")
    assert (c.maintainer_id, c.outlet_id) == (people.rm_a.id, people.a.id)
    assert rows(client, q="zkh") == ["赵客户"]  # and sees it in their own list
    # Naming another outlet is still refused.
    resp = client.post("/customers/new", personal_form(people, name="钱客户", cert_no=None, outlet_id=str(people.a2.id)))
    assert resp.status_code == 422 and customer_named("钱客户") is None


def test_rm_edits_their_own_customer_through_the_form(client, people):
    client.login("RA0001")
    form = form_fields(client.get(f"/customers/{people.zs.id}/edit").get_data(as_text=True))
    form["deposit_balance"] = "6万"
    assert client.post(f"/customers/{people.zs.id}/edit", form).status_code == 302
    zs = db.session.get(Customer, people.zs.id)
    assert (zs.deposit_balance, zs.outlet_id, zs.maintainer_id) == (Decimal("60000.00"), people.a.id, people.rm_a.id)


def test_an_unchanged_edit_form_saves_every_value_as_it_was(client, people):
    people.zs.birthday, people.zs.gender, people.zs.employer, people.zs.vip = date(1985, 6, 12), "男", "某单位", True
    db.session.commit()
    fields = ("name", "cert_no", "phone", "deposit_balance", "birthday", "gender", "maintainer_id", "outlet_id",
              "tier", "vip", "has_loan", "employer", "status", "kind")
    before = {k: getattr(db.session.get(Customer, people.zs.id), k) for k in fields}
    version = people.zs.version
    client.login("HA0001")
    form = form_fields(client.get(f"/customers/{people.zs.id}/edit").get_data(as_text=True))
    assert client.post(f"/customers/{people.zs.id}/edit", form).status_code == 302
    db.session.expire_all()
    after = db.session.get(Customer, people.zs.id)
    assert {k: getattr(after, k) for k in fields} == before
    assert after.version == version + 1


def test_blank_numbers_on_the_edit_form_keep_the_stored_ones(client, people):
    client.login("HA0001")
    form = form_fields(client.get(f"/customers/{people.zs.id}/edit").get_data(as_text=True))
    assert form["cert_no"] == form["phone"] == ""
    form["tier"] = "T0"
    assert client.post(f"/customers/{people.zs.id}/edit", form).status_code == 302
    db.session.expire_all()
    zs = db.session.get(Customer, people.zs.id)
    assert (zs.cert_no, zs.phone, zs.tier) == (ID_ZS, "13912345678", "T0")
    assert rows(client, q="5678") == ["张三"] and rows(client, q=ID_ZS) == ["张三"]


def test_edit_changes_search_keys(client, people):
    client.login("HA0001")
    form = form_fields(client.get(f"/customers/{people.zw.id}/edit").get_data(as_text=True))
    form.update(name="王伟", phone="13700009876")
    assert client.post(f"/customers/{people.zw.id}/edit", form).status_code == 302
    assert rows(client, q="ww") == ["王伟"] and rows(client, q="9876") == ["王伟"]
    assert rows(client, q="zw") == [] and rows(client, q="1111") == []


def test_lost_update_is_refused(client, new_client, people):
    first, second = client, new_client()
    first.login("HA0001")
    second.login("HA0001")
    url = f"/customers/{people.zs.id}/edit"
    form1 = form_fields(first.get(url).get_data(as_text=True))
    form2 = form_fields(second.get(url).get_data(as_text=True))
    assert form1["version"] == form2["version"] == "1"
    form1["deposit_balance"] = "7万"
    assert first.post(url, form1).status_code == 302
    form2["deposit_balance"] = "1元"
    form2["name"] = "张三改"
    resp = second.post(url, form2)
    assert resp.status_code == 409
    assert "该客户已被他人修改" in resp.get_data(as_text=True)
    db.session.expire_all()
    zs = db.session.get(Customer, people.zs.id)
    assert (zs.deposit_balance, zs.name, zs.version) == (Decimal("70000.00"), "张三", 2)


def test_lost_update_in_the_service_too(people):
    stale = people.zs.version
    services.update(people.head_a, people.zs, {"name": "张三", "cert_no": ID_ZS, "deposit_balance": "1"}, stale)
    with pytest.raises(services.CustomerError, match="该客户已被他人修改"):
        services.update(people.head_a, people.zs, {"name": "张三X"}, stale)


# ---------------------------------------------------------------- masking and the audited reveal

MASKED_ID = ID_ZS[:3] + "*" * 11 + ID_ZS[-4:]  # 410***********0036


@pytest.mark.parametrize("login", ["ADM001", "BA0001", "PR0001", "MK0001", "HA0001", "RA0001"])
def test_list_and_detail_show_masked_numbers_only(client, people, login):
    client.login(login)
    for url in ("/customers", "/customers?q=zs", f"/customers/{people.zs.id}"):
        body = client.get(url).get_data(as_text=True)
        assert MASKED_ID in body and "139****5678" in body, url
        assert ID_ZS not in body and "13912345678" not in body, url
    rows_only = client.get("/customers?q=5678", headers=HX_ROWS).get_data(as_text=True)
    assert "139****5678" in rows_only and "13912345678" not in rows_only


def test_edit_form_does_not_carry_the_full_numbers(client, people):
    client.login("HA0001")
    body = client.get(f"/customers/{people.zs.id}/edit").get_data(as_text=True)
    assert ID_ZS not in body and "13912345678" not in body
    assert MASKED_ID in body and "139****5678" in body


def test_lobby_manager_who_may_not_reveal_sees_no_full_number(client, people):
    people.zw.maintainer_id = people.lobby_a.id
    people.zw.cert_no, people.zw.cert_rev = ID_NEW, ID_NEW[::-1]
    db.session.commit()
    client.login("LA0001")
    for url in ("/customers", f"/customers/{people.zw.id}", f"/customers/{people.zw.id}/edit"):
        body = client.get(url).get_data(as_text=True)
        assert ID_NEW not in body and "13700001111" not in body, url
        assert "/reveal/" not in body
    assert client.post(f"/customers/{people.zw.id}/reveal/cert_no").status_code == 403


def test_reveal_returns_the_full_number_and_is_audited(client, people):
    client.login("HA0001")
    detail = client.get(f"/customers/{people.zs.id}").get_data(as_text=True)
    assert f"/customers/{people.zs.id}/reveal/cert_no" in detail and f"/customers/{people.zs.id}/reveal/phone" in detail
    resp = client.post(f"/customers/{people.zs.id}/reveal/cert_no", headers={"HX-Request": "true"})
    assert resp.status_code == 200 and ID_ZS in resp.get_data(as_text=True)
    resp = client.post(f"/customers/{people.zs.id}/reveal/phone", headers={"HX-Request": "true"})
    assert resp.status_code == 200 and "13912345678" in resp.get_data(as_text=True)
    audits = db.session.execute(select(AuditLog).where(AuditLog.action == "customer.revealed")
                                .order_by(AuditLog.id)).scalars().all()
    assert [(a.target_type, a.target_id, a.detail, a.actor_id, a.result) for a in audits] == [
        ("customer", str(people.zs.id), {"field": "cert_no"}, people.head_a.id, "ok"),
        ("customer", str(people.zs.id), {"field": "phone"}, people.head_a.id, "ok")]
    assert ID_ZS not in str([a.detail for a in audits])
    assert client.post(f"/customers/{people.zs.id}/reveal/name").status_code == 404
    assert db.session.execute(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.action == "customer.revealed")).scalar_one() == 2


def test_teller_cannot_reveal_and_sees_no_button(client, people):
    people.zw.maintainer_id = people.teller_a.id
    db.session.commit()
    client.login("TA0001")
    body = client.get(f"/customers/{people.zw.id}").get_data(as_text=True)
    assert "137****1111" in body and "13700001111" not in body
    assert "/reveal/" not in body and "查看完整号码" not in body
    resp = client.post(f"/customers/{people.zw.id}/reveal/phone")
    assert resp.status_code == 403 and "13700001111" not in resp.get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.action == "customer.revealed")).scalar_one() == 0
    assert client.get(f"/customers/{people.zw.id}/edit").status_code == 403


# ---------------------------------------------------------------- caching

def test_customer_pages_are_not_cached_nor_kept_in_htmx_history(client, people):
    client.login("HA0001")
    for url, headers in (("/customers", {}), ("/customers?q=zs", HX_ROWS), (f"/customers/{people.zs.id}", {}),
                         (f"/customers/{people.zs.id}/edit", {}), ("/customers/new", {})):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200
        assert resp.headers["Cache-Control"] == "no-store", url
        if not headers:
            assert 'hx-history="false"' in resp.get_data(as_text=True), url

"""The campaign list names each campaign's 分行 when the viewer sees more than one 分行 (the system administrator):
two 分行 may run campaigns of the same name. Inside one 分行 (marketing, outlet staff) the column would always read
the same, so it is not shown. The names cost one query, however many campaigns are listed."""

from __future__ import annotations

import re

from sqlalchemy import event, select

from crm.extensions import db
from crm.models import User
from plugins.salon_events import services
from tests.conftest import CANARY_B, make_user
from tests.plugins.salon_events.conftest import as_user

BASE = "/p/salon-events"
NAME = "宝贝银行家实习日"


def make_campaign(org, branch, outlets, name: str = NAME):
    """A campaign of `branch`, created by that 分行's marketing post."""
    if branch.id == org.b1.id:
        author = org.marketing1
    else:
        author = db.session.execute(select(User).where(User.login == "MK0002")).scalar_one_or_none() or make_user(
            "MK0002", "marketing", branch=branch, name="营销二")
    raw = {"name": name, "kind": "kids", "code": "BBYH", "year": "2026", "outlets": [str(o.id) for o in outlets]}
    return as_user(author, services.create_campaign, raw)


def campaign_table(client) -> tuple[list[str], list[list[str]]]:
    """The list's column headings and its rows as cell texts."""
    resp = client.get(f"{BASE}/")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    html = resp.get_data(as_text=True)
    table = re.search(r"<table[^>]*data-se-campaigns>(.*?)</table>", html, re.S).group(1)
    head = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th>(.*?)</th>", table, re.S)]
    body = table.split("<tbody>", 1)[1]
    rows = [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    return head, rows


def test_the_administrator_tells_same_named_campaigns_apart_by_their_branch(client, se, enable_plugin):
    enable_plugin(None, "salon_events")  # the system administrator follows the global row
    make_campaign(se, se.b1, [se.a])
    make_campaign(se, se.b2, [se.b])
    assert client.login(se.admin.login).status_code == 302
    head, rows = campaign_table(client)
    assert head == ["活动名称", "分行", "类型", "年度", "合作方", "状态"]
    assert sorted((r[0], r[1]) for r in rows) == [(NAME, "乙分行" + CANARY_B), (NAME, "甲分行")]


def test_a_branch_marketing_user_sees_no_branch_column(client, se):
    make_campaign(se, se.b1, [se.a])
    make_campaign(se, se.b2, [se.b])
    assert client.login(se.marketing1.login).status_code == 302
    head, rows = campaign_table(client)
    assert head == ["活动名称", "类型", "年度", "合作方", "状态"]
    assert rows == [[NAME, "宝贝银行家", "2026", "", "草稿"]]  # only 甲分行's own campaign
    assert CANARY_B not in client.get(f"{BASE}/").get_data(as_text=True)


def test_outlet_staff_see_no_branch_column(client, se):
    make_campaign(se, se.b1, [se.a])
    assert client.login(se.head_a.login).status_code == 302
    head, _rows = campaign_table(client)
    assert "分行" not in head


def test_the_branch_names_cost_the_same_queries_for_two_or_twelve_campaigns(client, se, enable_plugin):
    enable_plugin(None, "salon_events")
    make_campaign(se, se.b1, [se.a])
    make_campaign(se, se.b2, [se.b])
    assert client.login(se.admin.login).status_code == 302
    campaign_table(client)  # warm: plugin settings and the like are cached per process

    def count() -> tuple[int, int]:
        seen: list[str] = []

        def listen(_conn, _cursor, statement, *_args):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            _head, rows = campaign_table(client)
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        return len(seen), len(rows)

    few, listed = count()
    assert listed == 2
    for i in range(5):
        make_campaign(se, se.b1, [se.a], name=f"理财沙龙{i}")
        make_campaign(se, se.b2, [se.b], name=f"理财沙龙{i}")
    many, listed = count()
    assert listed == 12 and many == few

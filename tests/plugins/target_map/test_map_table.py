"""金融生态图 as a table: sort keys from an allow-list (anything else is ignored, never SQL), keyset paging, and the
Excel export (formula-safe cells, USCC and phone masked for posts that may not reveal them, audited, scoped)."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditLog, Customer
from tests.conftest import CANARY_B, make_user
from tests.plugins.target_map.helpers_map import MAP, corp, on_map, read_xlsx, uscc

ROW = re.compile(r'<tr id="entry-(\d+)"')


@pytest.fixture
def table(tm):
    org = tm
    rows = {
        "big": corp(org.a, "北方重工有限公司", status="stock", deposit="9000000", revenue="300000000", cert=uscc(11),
                    maintainer=org.head_a, phone="13700001111"),
        "mid": corp(org.a, "安泰医院", status="target", module="institutional", revenue="80000000", cert=uscc(12)),
        "small": corp(org.a, "中原外贸有限公司", status="target", module="international", cert=uscc(13)),
        "formula": corp(org.a, '=HYPERLINK("http://evil.example","点我")', status="stock", deposit="10",
                        cert=uscc(14)),
        "b": corp(org.b, f"乙网点企业{CANARY_B}", status="stock", deposit="99999999", cert=uscc(15)),
    }
    on_map(rows["big"], tag="keep", tax_rank=5)
    on_map(rows["mid"], tag="grab", scale="4000000", tax_rank=1)
    on_map(rows["small"], tag="dig", scale="6000000")
    on_map(rows["formula"])
    on_map(rows["b"])
    return rows


def names_in_order(html: str, table) -> list[str]:
    from plugins.target_map.models import TargetMapEntry

    by_entry = {e.id: e.customer.name for e in db.session.execute(select(TargetMapEntry)).scalars()}
    return [by_entry[int(i)] for i in ROW.findall(html)]


def test_default_order_is_value_then_sort_keys_from_the_allow_list(table, client, tm):
    client.login("HA0001")
    url = f"{MAP}/outlets/{tm.a.id}/table"
    html = client.get(url).get_data(as_text=True)
    # Stock by deposits, targets by expected scale, largest first.
    assert names_in_order(html, table)[:3] == ["北方重工有限公司", "中原外贸有限公司", "安泰医院"]
    html = client.get(url + "?sort=name").get_data(as_text=True)
    assert names_in_order(html, table) == ["安泰医院", "北方重工有限公司", table["formula"].name, "中原外贸有限公司"]  # pinyin
    html = client.get(url + "?sort=tax_rank").get_data(as_text=True)
    assert names_in_order(html, table)[:2] == ["安泰医院", "北方重工有限公司"]  # 1st, then 5th; unranked last
    html = client.get(url + "?sort=revenue&dir=asc").get_data(as_text=True)
    assert names_in_order(html, table)[-2:] == ["安泰医院", "北方重工有限公司"]
    assert CANARY_B not in html


@pytest.mark.parametrize("bad", ["name;DROP TABLE customer", "customer.cert_no", "1", "value desc", "__class__"])
def test_unknown_sort_or_direction_is_ignored_not_sql(table, client, tm, bad):
    client.login("HA0001")
    resp = client.get(f"{MAP}/outlets/{tm.a.id}/table", query_string={"sort": bad, "dir": "sideways"})
    assert resp.status_code == 200
    assert names_in_order(resp.get_data(as_text=True), table)[0] == "北方重工有限公司"  # the default order
    assert db.session.execute(select(Customer.id).limit(1)).first() is not None


def test_keyset_pages_cover_every_entry_once_with_ties(tm, client):
    """60 entries, 30 of them with the same value: two pages of 50 + 10, nothing twice, nothing missing."""
    ids = set()
    for i in range(60):
        c = corp(tm.a, f"企业{i:02d}", status="stock", deposit="1000" if i < 30 else str(2000 + i), cert=uscc(100 + i))
        ids.add(on_map(c).id)
    client.login("HA0001")
    url = f"{MAP}/outlets/{tm.a.id}/table"
    first = client.get(url).get_data(as_text=True)
    page1 = [int(i) for i in ROW.findall(first)]
    assert len(page1) == 50
    more = re.search(r'hx-get="([^"]+after=[^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(more, headers={"HX-Request": "true", "HX-Target": "more-entries"}).get_data(as_text=True)
    page2 = [int(i) for i in ROW.findall(second)]
    assert len(page2) == 10 and "<html" not in second
    assert set(page1) | set(page2) == ids and not set(page1) & set(page2)
    for sort in ("name", "module", "owner", "tag", "perspective", "tax_rank", "revenue", "added"):
        seen: list[int] = []
        url_s = f"{url}?sort={sort}"
        while url_s:
            html = client.get(url_s, headers={"HX-Request": "true", "HX-Target": "map-rows"}).get_data(as_text=True)
            seen += [int(i) for i in ROW.findall(html)]
            m = re.search(r'hx-get="([^"]+after=[^"]+)"', html)
            url_s = m.group(1).replace("&amp;", "&") if m else None
        assert sorted(seen) == sorted(ids), sort
    # A tampered cursor gives the first page, not an error.
    assert client.get(url + "?after=bm90LWpzb24").status_code == 200
    assert client.get(url + "?after=WyJ4IiwgLTFd&sort=revenue").status_code == 200


def test_filters_by_module_perspective_tag_and_search(table, client, tm):
    client.login("HA0001")
    url = f"{MAP}/outlets/{tm.a.id}/table"
    assert names_in_order(client.get(url + "?module=international").get_data(as_text=True), table) == ["中原外贸有限公司"]
    assert names_in_order(client.get(url + "?perspective=target&tag=grab").get_data(as_text=True), table) == ["安泰医院"]
    assert names_in_order(client.get(url + "?q=bf").get_data(as_text=True), table) == ["北方重工有限公司"]
    assert names_in_order(client.get(url + "?module=bogus").get_data(as_text=True), table)  # ignored: all rows


def test_export_full_for_the_head_formula_safe_and_audited(table, client, tm):
    client.login("HA0001")
    resp = client.get(f"{MAP}/outlets/{tm.a.id}/export.xlsx")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    assert CANARY_B.encode() not in resp.data
    rows = read_xlsx(resp.data)
    assert rows[1][:6] == ["客户名称", "统一社会信用代码", "生态图模块", "存量/目标", "保抢挖", "维护责任人/营销人"]
    body = {r[0]: r for r in rows[2:]}
    big = body["北方重工有限公司"]
    assert big[1] == uscc(11) and big[2] == "公司业务" and big[3] == "存量" and big[4] == "保"
    assert big[5] == "网点甲负责人" and big[7] == 9000000 and big[10] == 5 and big[14] == "13700001111"
    assert body["安泰医院"][8] == 4000000 and body["安泰医院"][4] == "抢"
    # The formula-looking name is a plain string cell, never a formula.
    sheet = zipfile.ZipFile(io.BytesIO(resp.data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "HYPERLINK" in sheet  # an inline string (constant memory), not a formula
    assert table["formula"].name in body
    log = db.session.execute(select(AuditLog).where(AuditLog.action == "target_map.exported")).scalar_one()
    assert log.detail["rows"] == 4 and log.detail["masked"] is False and log.target_id == str(tm.a.id)


def test_export_masked_for_a_post_that_may_not_reveal(table, client, tm):
    make_user("BH0001", "branch_head", branch=tm.b1, name="分行负责人一")  # may export, may not reveal
    client.login("BH0001")
    resp = client.get(f"{MAP}/outlets/{tm.a.id}/export.xlsx", query_string={"perspective": "stock"})
    rows = read_xlsx(resp.data)
    body = {r[0]: r for r in rows[2:]}
    assert set(body) == {"北方重工有限公司", '=HYPERLINK("http://evil.example","点我")'}
    code = uscc(11)
    assert body["北方重工有限公司"][1] == code[:3] + "*" * 11 + code[-4:]
    assert body["北方重工有限公司"][14] == "137****1111"
    assert code.encode() not in resp.data
    log = db.session.execute(select(AuditLog).where(AuditLog.action == "target_map.exported")).scalar_one()
    assert log.detail["masked"] is True and log.detail["filters"] == {"perspective": "stock"}


def test_export_needs_the_export_permission_and_scope(table, client, tm):
    client.login("TA0001")  # a teller may look at the map, not export it
    assert client.get(f"{MAP}/outlets/{tm.a.id}/export.xlsx").status_code == 403
    client.login("HA0001")
    resp = client.get(f"{MAP}/outlets/{tm.b.id}/export.xlsx")
    assert resp.status_code == 404 and CANARY_B.encode() not in resp.data

"""Enterprise lists from Excel (R-02): matched by USCC, new ones become unassigned targets at the chosen outlet; bad
codes, duplicates in the file, unknown modules and out-of-scope outlets are row errors (row number, column, reason,
in Chinese); valid rows are saved; the same file again creates nothing; a USCC held by another institution reveals
nothing of that customer."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog, Customer
from crm.validators import validate_uscc
from plugins.target_map.models import TargetMapEntry
from tests.conftest import CANARY_B
from tests.plugins.target_map.helpers_map import MAP, bad_uscc, corp, on_map, read_xlsx, upload, uscc, xlsx

HEADER = ["企业名称", "统一社会信用代码", "生态图模块", "所属网点", "保抢挖", "年销售收入", "预计规模", "纳税排名",
          "销售排名", "进出口排名", "行业"]
SECRET = "甲二网点的秘密企业"


@pytest.fixture
def listing(tm):
    org = tm
    existing = corp(org.a, "甲网点老客户", status="stock", module=None, maintainer=org.head_a, deposit="800000",
                    cert=uscc(21))
    elsewhere = corp(org.a2, SECRET, status="stock", maintainer=org.rm_a2, deposit="123456", cert=uscc(22),
                     legal_rep="王秘密")
    rows = [
        ["郑州宏达机械有限公司", uscc(31), "公司业务", "", "抢", "1.5亿", "2000万", 12, None, None, "通用设备制造"],  # 2
        ["甲网点老客户", uscc(21), "机构业务", "", "保", None, None, 40, None, None, None],  # 3: registered, in scope
        ["校验位错误有限公司", bad_uscc(32), "公司业务", "", "", None, None, None, None, None, None],  # 4
        ["郑州宏达机械有限公司（重复）", uscc(31), "公司业务", "", "", None, None, None, None, None, None],  # 5
        ["零售模块有限公司", uscc(33), "零售业务", "", "", None, None, None, None, None, None],  # 6
        ["乙网点企业", uscc(34), "国际业务", "OB", "", None, None, None, None, None, None],  # 7: outlet out of scope
        ["换个名字", uscc(22), "公司业务", "", "挖", None, None, None, None, None, None],  # 8: held by outlet a2
        ["甲二网点新企业", uscc(35), "三农房地产", "OA2", "", None, None, None, None, None, None],  # 9: a2 out of scope
        ["郑州外贸有限公司", uscc(36), "国际", "OA", "挖", "80000000", "500000", None, None, 7, None],  # 10
        ["", uscc(37), "公司业务", "", "", None, None, None, None, None, None],  # 11: new, no name
        ["排名有误有限公司", uscc(38), "公司业务", "", "", None, None, "第一", None, None, None],  # 12
    ]
    return existing, elsewhere, xlsx(HEADER, rows)


def job_page(resp, client) -> str:
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    page = client.get(resp.headers["Location"])
    assert page.status_code == 200
    return page.get_data(as_text=True)


def count(stmt) -> int:
    return db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()


def test_import_saves_valid_rows_and_reports_each_bad_row(listing, client, tm):
    existing, elsewhere, data = listing
    customers_before = count(select(Customer.id))
    client.login("HA0001")
    page = job_page(upload(client, data, tm.a), client)
    counts = dict(re.findall(r'data-count="(\w+)">([\d,]+)<', page))
    assert counts == {"rows": "11", "created": "2", "added": "1", "updated": "0", "rejected": "8"}
    reasons = dict(re.findall(r'<tr><td class="font-monospace">(\d+)</td><td>[^<]*</td><td>([^<]+)</td></tr>', page))
    assert reasons["4"] == "统一社会信用代码：统一社会信用代码校验位不正确"
    assert reasons["5"] == "统一社会信用代码：与第2行的统一社会信用代码重复"
    assert reasons["6"] == "生态图模块：模块“零售业务”无效，应为 公司业务、机构业务、三农房地产 或 国际业务"
    assert reasons["7"] == "所属网点：找不到网点“OB”，或该网点不在您的管辖范围内"
    assert reasons["8"] == "统一社会信用代码：该企业已由本行其他机构登记管理，未导入"
    assert reasons["9"] == "所属网点：找不到网点“OA2”，或该网点不在您的管辖范围内"
    assert reasons["11"] == "企业名称：本行尚未登记该企业，请填写企业名称"
    assert reasons["12"] == "纳税排名：排名应为正整数"
    # Nothing of the other outlet's customer leaks: not its name, legal representative or outlet.
    for secret in (SECRET, "王秘密", "甲二网点", CANARY_B):
        assert secret not in page
    assert count(select(Customer.id)) == customers_before + 2
    new = db.session.execute(select(Customer).where(Customer.cert_no == uscc(31))).scalar_one()
    assert (new.kind, new.status, new.outlet_id, new.eco_module, new.maintainer_id) == (
        "corporate", "target", tm.a.id, "corporate", None)
    assert new.name == "郑州宏达机械有限公司" and str(new.annual_revenue) == "150000000.00"
    assert new.industry == "通用设备制造" and new.name_pinyin.startswith("zhengzhou")
    entry = db.session.execute(select(TargetMapEntry).where(TargetMapEntry.customer_id == new.id)).scalar_one()
    assert (entry.tag, str(entry.expected_scale), entry.tax_rank, entry.source) == ("grab", "20000000.00", 12,
                                                                                   "上级行企业名录")
    trade = db.session.execute(select(Customer).where(Customer.cert_no == uscc(36))).scalar_one()
    assert trade.eco_module == "international" and trade.outlet_id == tm.a.id
    # The registered customer joins the map as it is (stock stays stock, its maintainer stays), module from the list.
    db.session.refresh(existing)
    assert (existing.status, existing.maintainer_id, existing.eco_module) == ("stock", tm.head_a.id, "institutional")
    assert db.session.execute(select(TargetMapEntry.tag).where(TargetMapEntry.customer_id == existing.id)
                              ).scalar_one() == "keep"
    # The other outlet's customer is untouched and not on any map.
    db.session.refresh(elsewhere)
    assert elsewhere.name == SECRET and elsewhere.outlet_id == tm.a2.id
    assert count(select(TargetMapEntry.id).where(TargetMapEntry.customer_id == elsewhere.id)) == 0
    log = db.session.execute(select(AuditLog).where(AuditLog.action == "target_map.imported")).scalar_one()
    assert log.detail["created"] == 2 and log.detail["rejected"] == 8 and log.target_id == str(tm.a.id)


def test_reimporting_the_same_file_creates_nothing_twice(listing, client, tm):
    _existing, _elsewhere, data = listing
    client.login("HA0001")
    job_page(upload(client, data, tm.a), client)
    customers = count(select(Customer.id))
    entries = count(select(TargetMapEntry.id))
    page = job_page(upload(client, data, tm.a), client)
    counts = dict(re.findall(r'data-count="(\w+)">([\d,]+)<', page))
    assert counts["created"] == "0" and counts["added"] == "0" and counts["updated"] == "0"
    assert "另有 3 户无变化" in page
    assert count(select(Customer.id)) == customers and count(select(TargetMapEntry.id)) == entries


def test_reimport_with_new_rankings_updates_the_entry(tm, client):
    client.login("HA0001")
    job_page(upload(client, xlsx(HEADER, [["新企业", uscc(41), "公司业务", "", "", None, None, 30, None, None, None]]),
                    tm.a), client)
    page = job_page(upload(client, xlsx(HEADER, [["新企业", uscc(41), "", "", "挖", None, "300万", 8, None, None, None]]),
                           tm.a), client)
    assert 'data-count="updated">1<' in page
    entry = db.session.execute(select(TargetMapEntry)).scalar_one()
    assert (entry.tax_rank, entry.tag, str(entry.expected_scale)) == (8, "dig", "3000000.00")
    assert entry.customer.eco_module == "corporate"  # a blank module keeps the stored one


def test_rejected_rows_download_with_reasons(listing, client, tm):
    _existing, _elsewhere, data = listing
    client.login("HA0001")
    resp = upload(client, data, tm.a)
    job_id = resp.headers["Location"].rsplit("/", 1)[1]
    rejects = client.get(f"{MAP}/import/{job_id}/rejects.xlsx")
    assert rejects.status_code == 200
    rows = read_xlsx(rejects.data)
    assert rows[0][:3] == ["行号", "出错的列", "原因"]
    assert [int(r[0]) for r in rows[1:]] == [4, 5, 6, 7, 8, 9, 11, 12]
    assert SECRET.encode() not in rejects.data
    other = type(client)(client.app)
    other.login("BA0001")  # someone else's import job: 404
    assert other.get(f"{MAP}/import/{job_id}").status_code == 404
    assert other.get(f"{MAP}/import/{job_id}/rejects.xlsx").status_code == 404


def test_import_refuses_an_outlet_out_of_scope_and_posts_without_manage(listing, client, tm):
    _existing, _elsewhere, data = listing
    before = count(select(Customer.id))
    client.login("HA0001")
    resp = upload(client, data, tm.b)
    assert resp.status_code == 422 and "请选择您管辖范围内的网点" in resp.get_data(as_text=True)
    assert CANARY_B not in resp.get_data(as_text=True)
    client.login("RA0001")  # a personal RM does not maintain the map
    assert upload(client, data, tm.a).status_code == 403
    assert count(select(Customer.id)) == before


def test_import_refuses_a_file_without_the_uscc_column(tm, client):
    client.login("HA0001")
    resp = upload(client, xlsx(["企业名称", "模块"], [["某公司", "公司业务"]]), tm.a)
    assert resp.status_code == 422
    assert "找不到表头" in resp.get_data(as_text=True) and "统一社会信用代码" in resp.get_data(as_text=True)


def test_numeric_uscc_cell_reports_lost_digits(tm, client):
    client.login("HA0001")
    data = xlsx(HEADER, [["数字代码有限公司", 914101001234567890, "公司业务"] + [None] * 8])
    page = job_page(upload(client, data, tm.a), client)
    assert "Excel 只保留15位有效数字" in page


def test_branch_admin_imports_into_two_outlets_by_code(tm, client):
    on_map(corp(tm.a2, "甲二老客户", status="stock", cert=uscc(51)))
    client.login("BA0001")
    data = xlsx(HEADER, [["甲新企业", uscc(52), "公司业务", "", "", None, None, None, None, None, None],
                         ["甲二新企业", uscc(53), "机构业务", "OA2", "", None, None, None, None, None, None],
                         ["甲二老客户", uscc(51), "", "", "", None, None, 2, None, None, None]])
    page = job_page(upload(client, data, tm.a), client)
    assert 'data-count="created">2<' in page and 'data-count="updated">1<' in page
    outlets = dict(db.session.execute(select(Customer.cert_no, Customer.outlet_id)
                                      .where(Customer.cert_no.in_([uscc(52), uscc(53)]))).all())
    assert outlets == {uscc(52): tm.a.id, uscc(53): tm.a2.id}


def test_template_has_the_columns_and_a_valid_example(tm, client):
    client.login("HA0001")
    resp = client.get(f"{MAP}/import/template.xlsx")
    assert resp.status_code == 200
    rows = read_xlsx(resp.data)
    assert rows[0][:3] == ["企业名称", "统一社会信用代码", "生态图模块"]
    assert validate_uscc(rows[1][1]) == rows[1][1]
    page = client.get(f"{MAP}/import").get_data(as_text=True)
    assert "导入到网点" in page and "甲网点" in page and CANARY_B not in page

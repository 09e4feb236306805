"""Bancassurance pages and services: policies recorded, imported, cancelled; KPIs (R-95, A-13), target progress
(R-96, A-14, T-62), staffing and headcount alerts (R-97, R-98, T-48, T-49); scope, permissions, safe export."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog, DailyLog
from crm.timeutil import today_local
from plugins.scorecards import banca
from plugins.scorecards import services_banca as svc
from plugins.scorecards.models import ScorecardPolicy
from tests.conftest import CANARY_B, make_outlet
from tests.plugins.scorecards.conftest import as_user
from tests.plugins.scorecards.test_grades import float_tokens

D = Decimal
URL = "/p/scorecards/banca"
YEAR = today_local().year - 1  # a whole past year: every date below is before today


@pytest.fixture
def bk(org, enable_plugin):
    """The org with scorecards on for both 分行. People used: head_a (HA0001, outlet A's head: records policies),
    marketing1 (MK0001, 甲分行 marketing: branch scope), rm_a (personal RM: views only), teller_a (a seller)."""
    enable_plugin(org.b1, "scorecards")
    enable_plugin(org.b2, "scorecards")
    enable_plugin(None, "scorecards")
    return org


def policy_form(bk, **kw) -> dict[str, str]:
    data = {"policy_no": "P0001", "outlet_id": str(bk.a.id), "seller_id": str(bk.teller_a.id),
            "payment_mode": "single", "premium": "100000", "fyc": "1000", "signed_on": f"{YEAR}-02-10",
            "counter_type": "low", "customer_name": "张三", "insurer_name": "某人寿", "insurer_rm": "王驻点"}
    data.update(kw)
    return data


def record(bk, user=None, **kw) -> ScorecardPolicy:
    return as_user(user or bk.head_a, svc.save_policy, policy_form(bk, **kw))


def count_policies() -> int:
    return db.session.execute(select(func.count()).select_from(ScorecardPolicy)).scalar_one()


def test_no_floats_in_source():
    for module in (svc, __import__("plugins.scorecards.views_banca", fromlist=["x"])):
        assert float_tokens(Path(module.__file__)) == []


# ---------------------------------------------------------------- T-62

def test_t62_cancelled_single_premium_leaves_kaimenhong_progress(client, bk):
    """T-62: a single-premium policy of 500,000 signed in 开门红, 契撤 recorded after it → 开门红 progress drops by
    500,000 (and the full year too: 契撤 never counts, A-13)."""
    client.login("HA0001")
    resp = client.post(URL + "/policies/new", policy_form(bk, policy_no="KMH500", premium="50万",
                                                          signed_on=f"{YEAR}-02-10"))
    assert resp.status_code == 302
    p = db.session.execute(select(ScorecardPolicy).where(ScorecardPolicy.policy_no == "KMH500")).scalar_one()
    assert p.premium == D("500000.00") and p.status == "active"
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "scorecards.policy_saved")).scalars().all()

    def kmh(as_of: date) -> Decimal:
        return as_user(bk.marketing1, svc.progress, YEAR, as_of)[(banca.SINGLE, banca.KAIMENHONG)].actual

    before = kmh(date(YEAR, 4, 30))
    assert before == D("500000")
    page = client.get(f"{URL}?year={YEAR}").get_data(as_text=True)
    assert re.search(r'data-sc-target-actual="single-kaimenhong">50\.00<', page)
    assert re.search(r'data-sc-target-actual="single-kaimenhong">50\.00</span> / 5,000\.00 万元', page)  # 5000万
    assert "统计范围：甲网点；目标为分行全年目标" in page  # an outlet head sees the outlet's share of the target

    resp = client.post(f"{URL}/policies/{p.id}/status", {"status": "cancelled_cooling", "on": f"{YEAR}-04-15"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(ScorecardPolicy, p.id).status == "cancelled_cooling"
    assert before - kmh(date(YEAR, 4, 30)) == D("500000")   # T-62: progress drops by 500,000
    assert kmh(date(YEAR, 4, 14)) == D("500000")              # not yet known the day before
    full = as_user(bk.marketing1, svc.progress, YEAR, date(YEAR, 12, 31))[(banca.SINGLE, banca.FULL_YEAR)]
    assert full.actual == D("0") and full.target == D("150000000")
    page = client.get(f"{URL}?year={YEAR}").get_data(as_text=True)
    assert re.search(r'data-sc-target-actual="single-kaimenhong">0\.00<', page)
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "scorecards.policy_status")).scalar_one()
    # a second status change is refused (契撤 is final)
    resp = client.post(f"{URL}/policies/{p.id}/status", {"status": "surrendered", "on": f"{YEAR}-05-01"})
    assert resp.status_code == 422 and "已契撤，不能再变更状态" in resp.get_data(as_text=True)


def test_status_change_needs_a_date_not_before_signing(client, bk):
    p = record(bk, signed_on=f"{YEAR}-02-10")
    client.login("HA0001")
    resp = client.post(f"{URL}/policies/{p.id}/status", {"status": "cancelled_cooling", "on": f"{YEAR}-02-09"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "日期不能早于签单日期" in body
    resp = client.post(f"{URL}/policies/{p.id}/status", {"status": "cancelled_cooling", "on": ""})
    assert resp.status_code == 422 and "请填写契撤或退保的日期" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ScorecardPolicy, p.id).status == "active"
    # the boundary: the signing day itself is accepted
    resp = client.post(f"{URL}/policies/{p.id}/status", {"status": "surrendered", "on": f"{YEAR}-02-10"})
    assert resp.status_code == 302


# ---------------------------------------------------------------- KPIs

def week_in_march() -> tuple[date, date]:
    """A Monday–Friday week of March (no public holiday in March) of YEAR."""
    day = date(YEAR, 3, 9)
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=4)


def test_kpis_for_a_small_set_of_policies(client, bk):
    """Two sellers on roll at outlet A (low-counter teller, personal RM); the RM's only policy is 契撤: excluded
    from the counts, premium and FYC, so the RM has not produced (举绩率 50%)."""
    mon, fri = week_in_march()
    record(bk, policy_no="K1", premium="100000", fyc="1000", signed_on=mon.isoformat(), insurer_rm="王驻点")
    record(bk, policy_no="K2", payment_mode="regular", premium="20000", fyc="2000", signed_on=mon.isoformat(),
           insurer_rm="李驻点")
    cancelled = record(bk, policy_no="K3", seller_id=str(bk.rm_a.id), premium="300000", fyc="3000",
                       signed_on=(mon + timedelta(days=1)).isoformat(), insurer_rm="赵驻点")
    as_user(bk.head_a, svc.change_status, cancelled.id, "cancelled_cooling", mon + timedelta(days=3))
    record(bk, policy_no="K4", signed_on=(mon - timedelta(days=1)).isoformat())  # outside the period
    for n in range(3):
        db.session.add(DailyLog(user_id=bk.teller_a.id, outlet_id=bk.a.id, day=mon + timedelta(days=n), model="2511",
                                contacts=20))
    db.session.add(DailyLog(user_id=bk.rm_a.id, outlet_id=bk.a.id, day=mon, model="2511", contacts=10))
    db.session.add(DailyLog(user_id=bk.rm_a.id, outlet_id=bk.a.id, day=fri + timedelta(days=1), model="2511",
                            contacts=5))  # Saturday: outside the period
    db.session.commit()

    r = as_user(bk.marketing1, svc.kpi_report, mon, fri, bk.a.id)
    assert (r.rms_on_roll, r.working_days, r.required_days, r.attendance_days, r.contacts) == (2, 5, 10, 4, 70)
    k = r.kpis
    assert k.counted_policies == 2 and k.excluded_policies == 1
    assert k.attendance_rate.value == D("0.4000") and k.attendance_rate.display == "40.00%"
    assert k.producing_rate.value == D("0.5000")
    assert k.daily_visits.value == D("7.00")
    assert k.policies_per_rm.value == D("1.00")
    assert k.premium_per_rm.value == D("60000.00") and k.premium_per_rm.display == "60,000.00 元"
    assert k.fyc_per_rm.value == D("1500.00")
    assert k.premium_per_outlet.value == D("120000.00")

    # the branch's view (outlets A and A2): 网均产能 over two outlets
    r2 = as_user(bk.marketing1, svc.kpi_report, mon, fri)
    assert r2.outlets == 2 and r2.kpis.premium_per_outlet.value == D("60000.00")

    client.login("MK0001")
    page = client.get(f"{URL}?start={mon}&end={fri}&outlet={bk.a.id}").get_data(as_text=True)
    assert 'data-sc-kpi-value="producing_rate">50.00%<' in page
    assert 'data-sc-kpi-value="premium_per_rm">60,000.00 元<' in page
    assert "契撤1件不计入" in page
    # R-98: effective staff = insurer RMs with a counted policy (王驻点, 李驻点; 赵驻点's policy is 契撤)
    found = as_user(bk.marketing1, svc.alerts, mon, fri)
    assert found.effective_staff == 2
    assert found.staffing.message == "2个网点、有效人力2人，网均1.00人，低于每网点2人的标准，需4人，缺2人"


def test_kpis_zero_denominator_is_explained(client, bk):
    mon, fri = week_in_march()
    r = as_user(bk.marketing1, svc.kpi_report, mon, fri, bk.a2.id)  # A2 has no seller on roll
    assert r.rms_on_roll == 0 and r.kpis.producing_rate.value is None
    assert "在册客户经理人数为零" in r.kpis.producing_rate.explanation


# ---------------------------------------------------------------- alerts

def test_t49_staffing_alert_on_the_page(client, bk):
    """T-49: 70 outlets and 60 effective staff → 0.86 per outlet < 2 → alert; 140 needed, 80 short."""
    for n in range(68):
        make_outlet(bk.s1, f"OX{n:02d}", f"甲网点{n:02d}")
    client.login("MK0001")
    page = client.get(f"{URL}?staff=60").get_data(as_text=True)
    assert "70个网点、有效人力60人，网均0.86人，低于每网点2人的标准，需140人，缺80人" in page
    # one above the norm's boundary: 140 staff → no alert
    page = client.get(f"{URL}?staff=140").get_data(as_text=True)
    assert "70个网点、有效人力140人，网均2.00人，达到每网点2人的标准" in page


def test_t48_headcount_on_the_page(client, bk):
    """T-48: 4 : 12 : 48 meets the targets; one 营业部经理 short raises the alert and widens the span."""
    client.login("MK0001")
    page = client.get(f"{URL}?hc_district=4&hc_dept=12&hc_rms=48").get_data(as_text=True)
    assert "队伍编制达到目标" in page and "每名营业部经理带4.00名客户经理" in page
    page = client.get(f"{URL}?hc_district=4&hc_dept=11&hc_rms=48").get_data(as_text=True)
    assert "营业部经理11人，目标12人，缺1人" in page
    assert "每名营业部经理带4.36名客户经理，超过标准4名" in page


# ---------------------------------------------------------------- import

def xlsx(rows: list[list[object]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_numbers": False})
    ws = book.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            ws.write(r, c, value)
    book.close()
    return out.getvalue()


def test_import_reports_bad_rows_saves_good_ones_and_rerun_adds_nothing(client, bk):
    header = ["保单号*", "网点*", "销售人员*", "缴费方式*", "保费*", "FYC", "签单日期*", "客户姓名", "保单状态",
              "状态变更日期"]
    data = xlsx([header,
                 ["IMP001", "OA", "TA0001", "趸交", 200000, 2000, f"{YEAR}-01-20", "客户甲", "", ""],
                 ["IMP002", "甲网点", "甲柜员", "期缴", "abc", 0, f"{YEAR}-01-21", "客户乙", "", ""],
                 ["IMP003", "甲网点", "RA0001", "期缴", 36000, 3600, f"{YEAR}-02-01", "客户丙", "契撤",
                  f"{YEAR}-02-05"],
                 ["IMP004", "OB", "RB0001", "趸交", 1000, 0, f"{YEAR}-02-01", "", "", ""]])
    client.login("HA0001")
    resp = client.post(URL + "/import", {"file": (io.BytesIO(data), "保单.xlsx")}, content_type="multipart/form-data")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert re.search(r'data-sc-import="created">2<', body) and re.search(r'data-sc-import="rejected">2<', body)
    assert re.search(r'<tr data-sc-reject-row="3"><td>3</td><td>保费\*</td><td>保费格式不正确', body)
    assert re.search(r'<tr data-sc-reject-row="5"><td>5</td><td>网点\*</td><td>网点“OB”不存在或不在您的管辖范围内', body)
    assert CANARY_B not in body
    saved = {p.policy_no: p for p in db.session.execute(select(ScorecardPolicy)).scalars()}
    assert set(saved) == {"IMP001", "IMP003"}
    assert saved["IMP001"].premium == D("200000.00") and saved["IMP001"].seller_id == bk.teller_a.id
    assert saved["IMP003"].status == "cancelled_cooling" and saved["IMP003"].status_changed_on == date(YEAR, 2, 5)
    audit_rows = db.session.execute(select(AuditLog).where(AuditLog.action == "scorecards.policies_imported")).all()
    assert len(audit_rows) == 1

    resp = client.post(URL + "/import", {"file": (io.BytesIO(data), "保单.xlsx")}, content_type="multipart/form-data")
    body = resp.get_data(as_text=True)
    assert re.search(r'data-sc-import="created">0<', body) and re.search(r'data-sc-import="unchanged">2<', body)
    assert count_policies() == 2

    # a 契撤 recorded on the page is not undone by importing the old list again (blank status keeps it) …
    as_user(bk.head_a, svc.change_status, saved["IMP001"].id, "cancelled_cooling", date(YEAR, 1, 25))
    resp = client.post(URL + "/import", {"file": (io.BytesIO(data), "保单.xlsx")}, content_type="multipart/form-data")
    assert re.search(r'data-sc-import="unchanged">2<', resp.get_data(as_text=True))
    # … nor by a row saying 有效
    again = xlsx([header, ["IMP001", "OA", "TA0001", "趸交", 200000, 2000, f"{YEAR}-01-20", "客户甲", "有效", ""]])
    resp = client.post(URL + "/import", {"file": (io.BytesIO(again), "b.xlsx")}, content_type="multipart/form-data")
    assert "该保单已契撤，不能改为有效" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ScorecardPolicy, saved["IMP001"].id).status == "cancelled_cooling"


def test_import_refuses_a_file_without_header_and_a_fake_xlsx(client, bk):
    client.login("HA0001")
    resp = client.post(URL + "/import", {"file": (io.BytesIO(xlsx([["随便", "什么"], ["1", "2"]])), "x.xlsx")},
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and "找不到表头" in resp.get_data(as_text=True)
    resp = client.post(URL + "/import", {"file": (io.BytesIO(b"<html><table></table></html>"), "x.xls")},
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and "不是真正的 Excel 文件" in resp.get_data(as_text=True)
    assert count_policies() == 0
    resp = client.get(URL + "/import/template.xlsx")
    assert resp.status_code == 200
    rows = CalamineWorkbook.from_filelike(io.BytesIO(resp.data)).get_sheet_by_index(0).to_python()
    assert rows[1][0] == "保单号*"


# ---------------------------------------------------------------- the form

def test_form_errors_are_422_in_chinese_and_nothing_is_saved(client, bk):
    record(bk, policy_no="DUP1")
    client.login("HA0001")
    resp = client.post(URL + "/policies/new", policy_form(bk, policy_no="dup1", premium="-5", fyc="x",
                                                          seller_id=str(bk.rm_a2.id), signed_on="2099-01-01",
                                                          payment_mode="monthly", counter_type="窗口"))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "保单号DUP1已登记，同一分行内不能重复" in body
    assert "保费不能小于0.01" in body
    assert "FYC格式不正确" in body
    assert "销售人员须为该网点的在岗员工" in body
    assert "签单日期不能晚于今天" in body
    assert "请选择缴费方式（趸交或期缴）" in body
    assert "柜面类型应为高柜、低柜、理财室或其他" in body
    assert 'value="-5"' in body and 'value="2099-01-01"' in body  # what was typed stays
    assert count_policies() == 1
    # the boundary: FYC equal to the premium is fine, one fen more is not
    resp = client.post(URL + "/policies/new", policy_form(bk, policy_no="F1", premium="1000", fyc="1000.01"))
    assert resp.status_code == 422 and "FYC（首年佣金）不能大于保费" in resp.get_data(as_text=True)
    resp = client.post(URL + "/policies/new", policy_form(bk, policy_no="F1", premium="1000", fyc="1000"))
    assert resp.status_code == 302 and count_policies() == 2


def test_edit_keeps_the_number_unique_and_audits(client, bk):
    p = record(bk, policy_no="E1")
    client.login("HA0001")
    page = client.get(f"{URL}/policies/{p.id}").get_data(as_text=True)
    assert 'value="E1"' in page
    resp = client.post(f"{URL}/policies/{p.id}", policy_form(bk, policy_no="E1", premium="123456.78",
                                                             version=str(p.version)))
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(ScorecardPolicy, p.id).premium == D("123456.78")
    # a stale version is refused
    resp = client.post(f"{URL}/policies/{p.id}", policy_form(bk, policy_no="E1", premium="1", version="1"))
    assert resp.status_code == 409 and "已被他人修改" in resp.get_data(as_text=True)


# ---------------------------------------------------------------- scope, permissions, export, plugin off

def other_branch_policy(bk) -> ScorecardPolicy:
    p = ScorecardPolicy(branch_id=bk.b2.id, outlet_id=bk.b.id, policy_no="B0001", seller_id=bk.rm_b.id,
                        customer_name=f"客户{CANARY_B}", payment_mode="single", premium=D("1000"), fyc=D("0"),
                        signed_on=date(YEAR, 1, 5))
    db.session.add(p)
    db.session.commit()
    return p


def test_out_of_scope_policy_is_404_without_canary(client, bk):
    p = other_branch_policy(bk)
    client.login("HA0001")
    for resp in (client.get(f"{URL}/policies/{p.id}"),
                 client.post(f"{URL}/policies/{p.id}", policy_form(bk, policy_no="B0001")),
                 client.post(f"{URL}/policies/{p.id}/status", {"status": "cancelled_cooling", "on": f"{YEAR}-01-06"})):
        assert resp.status_code == 404
        assert CANARY_B.encode() not in resp.data
    client.login("MK0001")
    for path in (URL + "/policies", URL + "/policies/export", URL):
        resp = client.get(path)
        assert resp.status_code == 200 and CANARY_B.encode() not in resp.data
    db.session.expire_all()
    assert db.session.get(ScorecardPolicy, p.id).status == "active"


def test_customer_manager_may_view_but_not_record(client, bk):
    client.login("RA0001")  # personal RM: scorecards.view, not scorecards.banca
    assert client.get(URL).status_code == 200
    assert client.get(URL + "/policies").status_code == 200
    assert client.post(URL + "/policies/new", policy_form(bk)).status_code == 403
    assert client.get(URL + "/policies/new").status_code == 403
    assert client.post(URL + "/import", {"file": (io.BytesIO(b"x"), "x.csv")},
                       content_type="multipart/form-data").status_code == 403
    p = record(bk, seller_id=str(bk.rm_a.id))
    assert client.get(f"{URL}/policies/{p.id}").status_code == 200   # one's own policy is visible
    assert client.post(f"{URL}/policies/{p.id}/status",
                       {"status": "cancelled_cooling", "on": f"{YEAR}-03-01"}).status_code == 403
    db.session.expire_all()
    assert count_policies() == 1 and db.session.get(ScorecardPolicy, p.id).status == "active"


def test_export_cells_are_text_never_formulas(client, bk):
    record(bk, policy_no="0012345", customer_name="=1+1")
    client.login("MK0001")
    resp = client.get(URL + "/policies/export")
    assert resp.status_code == 200
    rows = CalamineWorkbook.from_filelike(io.BytesIO(resp.data)).get_sheet_by_index(0).to_python()
    header = rows[1]
    line = rows[2]
    assert line[header.index("保单号")] == "0012345"
    assert line[header.index("客户姓名")] == "=1+1"
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "scorecards.exported")).scalar_one()


def test_list_pages_with_keyset_cursor(client, bk):
    for n in range(3):
        record(bk, policy_no=f"L{n}")
    client.login("HA0001")
    ids = sorted((p.id for p in db.session.execute(select(ScorecardPolicy)).scalars()), reverse=True)
    page = svc.policies_in_scope  # the service the page calls
    first = as_user(bk.head_a, page, svc.PolicyFilters(), None, 2)
    assert [r.id for r in first.rows] == ids[:2] and first.next_cursor == ids[1]
    body = client.get(f"{URL}/policies?after={ids[1]}").get_data(as_text=True)
    assert f'data-sc-policy="{ids[2]}"' in body and f'data-sc-policy="{ids[0]}"' not in body
    body = client.get(f"{URL}/policies?q=L1").get_data(as_text=True)
    assert body.count("data-sc-policy=") == 1


def test_plugin_disabled_is_404(client, bk, enable_plugin):
    enable_plugin(bk.b1, "scorecards", False)
    client.login("HA0001")
    assert client.get(URL).status_code == 404
    assert client.get(URL + "/policies").status_code == 404
    assert client.post(URL + "/policies/new", policy_form(bk)).status_code == 404
    assert count_policies() == 0

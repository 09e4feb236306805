"""Customer import from Excel/CSV (design §6, §9): every row validated like the form, valid rows saved and bad
ones reported (row, column, reason) and downloadable, re-import updates instead of duplicating, scope, numbers
that Excel mangled, encodings, formula-looking text, files that are not spreadsheets, zip bombs, the template,
the pages (sync and background with progress) and who may download what."""

from __future__ import annotations

import codecs
import csv
import io
import re
import struct
import time
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import python_calamine as pc
import xlsxwriter
from sqlalchemy import func, select
from stdnum.cn import ric

from crm import excel_import
from crm.customers import import_views, imports, services
from crm.customers.search import keys, pinyin_keys
from crm.extensions import db
from crm.models import AuditLog, Customer
from tests.conftest import Client, make_user, table_snapshot


def id_card(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


ID1 = id_card("41010219850612003")
ID2 = id_card("11010519900307123")
ID3 = id_card("44030519881231789")
ID_B = id_card("32010619751120456")
BAD_CHECK = ID1[:-1] + ("0" if ID1[-1] != "0" else "1")
USCC = "914101020115244919"
HEADER = ["客户类型", "客户名称", "证件号码", "手机号码", "客户类别", "存款余额", "是否有贷款", "风险偏好", "备注"]
NEUTRAL = "该证件号码的客户已在本行登记，不在您的管辖范围内；如需办理请联系其所属网点"


def xlsx(rows: list[list], header: list[str] | None = None, numbers: set[tuple[int, int]] = frozenset()) -> bytes:
    """An .xlsx written with XlsxWriter: every cell as a string, except (row, col) in `numbers` (0-based data
    rows) written as numbers, and dates as dates."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, imports.XLSX_OPTIONS)
    sheet = book.add_worksheet("客户")
    sheet.write_row(0, 0, header or HEADER)
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, date):
                sheet.write_datetime(r + 1, c, value, day)
            elif (r, c) in numbers:
                sheet.write_number(r + 1, c, float(value) if "." in str(value) else int(value))
            elif value is not None:
                sheet.write_string(r + 1, c, str(value))
    book.close()
    return out.getvalue()


def csv_bytes(rows: list[list], encoding: str, header: list[str] | None = None) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header or HEADER)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def run(actor, data: bytes, filename: str = "客户.xlsx", **kw) -> imports.ImportReport:
    return imports.CustomerImport(actor, **kw).run(data, filename)


def problems(report: imports.ImportReport) -> dict[int, list[tuple[str, str]]]:
    return {r.row: r.problems for r in report.rejected}


def customers() -> list[Customer]:
    db.session.expire_all()
    return list(db.session.execute(select(Customer).order_by(Customer.id)).scalars())


def count() -> int:
    return db.session.execute(select(func.count()).select_from(Customer)).scalar_one()


def make_customer(outlet, name: str, **kw) -> Customer:
    kw.setdefault("kind", "personal")
    c = Customer(outlet_id=outlet.id, name=name, **keys(name, kw.get("phone"), kw.get("cert_no")), **kw)
    db.session.add(c)
    db.session.commit()
    return c


def sheet_rows(data: bytes, index: int = 0) -> list[list]:
    book = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    return book.get_sheet_by_index(index).to_python()


def sheet_xml(data: bytes, name: str = "xl/worksheets/sheet1.xml") -> str:
    return zipfile.ZipFile(io.BytesIO(data)).read(name).decode()


def logged_in(app, login: str) -> Client:
    c = Client(app)
    assert c.login(login).status_code == 302
    return c


def upload(client: Client, data: bytes, filename: str):
    return client.post("/customers/import", {"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def stable() -> dict:
    snap = table_snapshot()
    snap.pop("audit_log")
    snap.pop("user_session")
    return snap


GOOD = [
    ["个人", "张三", ID1, "13812345678", "存量", "50,000.00", "否", "稳健型", ""],
    ["对公", "甲科技有限公司", USCC, "", "目标", "12.5万", "是", "", "基本户在他行"],
]


# ---------------------------------------------------------------- rows: validated, saved, reported

def test_valid_rows_are_saved_and_bad_rows_reported_with_row_column_reason(org):
    rows = GOOD + [
        ["个人", "李四", BAD_CHECK, "13812345679", "", "", "", "", ""],  # row 4
        ["个人", "王五", ID2, "1381234", "", "", "", "", ""],  # row 5
        ["个人", "", ID3, "", "", "", "", "", ""],  # row 6
        ["个人", "赵六", "", "", "", "abc", "", "", ""],  # row 7
        ["外星", "钱七", "", "", "", "", "也许", "激进派", ""],  # row 8
    ]
    report = run(org.head_a, xlsx(rows))
    assert (report.total, report.created, report.updated, report.rejected_count) == (7, 2, 0, 5)
    got = problems(report)
    assert got[4] == [("证件号码", "身份证号码校验位不正确")]
    assert got[5] == [("手机号码", "手机号码无效，请输入11位中国大陆手机号码")]
    assert got[6] == [("客户名称", "请输入客户名称")]
    assert got[7] == [("存款余额", "金额格式不正确，请输入如 1,234.50、12.5万 的数字")]
    assert dict(got[8]) == {"客户类型": "请选择客户类型（个人或对公）", "是否有贷款": "请填写“是”或“否”",
                            "风险偏好": "选项无效"}
    saved = customers()
    assert [c.name for c in saved] == ["张三", "甲科技有限公司"]
    zs, corp = saved
    assert (zs.kind, zs.cert_no, zs.phone, zs.status, zs.deposit_balance, zs.has_loan, zs.risk_preference) == (
        "personal", ID1, "13812345678", "stock", Decimal("50000.00"), False, "prudent")
    assert (zs.birthday, zs.gender, zs.outlet_id, zs.maintainer_id) == (date(1985, 6, 12), "男", org.a.id, None)
    assert (zs.name_pinyin, zs.name_initials, zs.cert_rev, zs.birth_md) == ("zhangsan", "zs", ID1[::-1], 612)
    assert (corp.kind, corp.cert_no, corp.status, corp.deposit_balance, corp.has_loan, corp.notes) == (
        "corporate", USCC, "target", Decimal("125000.00"), True, "基本户在他行")
    assert zs.created_by_id == org.head_a.id and zs.version == 1


def test_rejected_rows_download_as_excel_with_the_original_values(org):
    report = run(org.head_a, xlsx(GOOD + [["个人", "李四", BAD_CHECK, "13812345679", "", "abc", "", "", ""]]))
    out = io.BytesIO()
    imports.write_rejects(out, report)
    rows = sheet_rows(out.getvalue())
    assert rows[0][:3] == ["行号", "出错的列", "原因"] and rows[0][3:] == HEADER
    assert rows[1][:3] == [4.0, "证件号码、存款余额",
                           "证件号码：身份证号码校验位不正确；存款余额：金额格式不正确，请输入如 1,234.50、12.5万 的数字"]
    assert rows[1][3:7] == ["个人", "李四", BAD_CHECK, "13812345679"]
    detail = sheet_rows(out.getvalue(), 1)
    assert detail[0] == ["行号", "列", "原因"]
    assert detail[1:] == [[4.0, "证件号码", "身份证号码校验位不正确"],
                          [4.0, "存款余额", "金额格式不正确，请输入如 1,234.50、12.5万 的数字"]]
    # The corrected rejects file imports as it is (its 行号/出错的列/原因 columns are ignored).
    fixed = [list(r) for r in rows[1:]]
    fixed[0][5], fixed[0][8] = ID3, "100"
    again = run(org.head_a, xlsx(fixed, header=rows[0]))
    assert (again.created, again.rejected_count, again.ignored) == (1, 0, [])


def test_an_id_stored_as_an_excel_number_is_refused_not_stored_wrong(org):
    # XlsxWriter writes the number as Excel would keep it: a float; the last digits are gone.
    rows = [["个人", "张三", ID1, "13812345678", "", "", "", "", ""],
            ["个人", "李四", ID2, "13812345679", "", "", "", "", ""]]
    report = run(org.head_a, xlsx(rows, numbers={(0, 2), (1, 3)}))
    assert report.created == 1 and report.rejected_count == 1
    [(column, reason)] = problems(report)[2]
    assert column == "证件号码" and "15位有效数字" in reason and "文本" in reason
    [saved] = customers()
    assert saved.name == "李四" and saved.cert_no == ID2 and saved.phone == "13812345679"  # a numeric phone is fine
    # The same from a CSV that Excel saved with the number shown in scientific notation.
    report = run(org.head_a, csv_bytes([["个人", "王五", "4.10102E+17", "", "", "", "", "", ""]], "utf-8-sig"),
                 "x.csv")
    assert "15位有效数字" in problems(report)[2][0][1]
    assert count() == 1


def test_excel_numbers_dates_and_booleans_are_read_as_people_see_them(org):
    header = ["客户类型", "客户名称", "证件号码", "存款余额", "贷款余额", "生日", "VIP客户"]
    rows = [["个人", "张三", ID1, "1234.56", "80000", date(1986, 1, 2), "是"]]
    report = run(org.head_a, xlsx(rows, header=header, numbers={(0, 3), (0, 4)}))
    assert report.created == 1, report.rejected
    [c] = customers()
    assert (c.deposit_balance, c.loan_balance, c.birthday, c.birth_md, c.vip) == (
        Decimal("1234.56"), Decimal("80000.00"), date(1986, 1, 2), 102, True)


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8", "gb18030", "utf-16"])
def test_csv_in_every_chinese_encoding_imports_chinese_names(org, encoding):
    rows = [["个人", "欧阳娜娜", ID1, "13812345678", "目标", "1000", "否", "保守型", "喜欢书法"],
            ["对公", "河南鑫源商贸有限公司", USCC, "", "", "", "", "", ""]]
    data = csv_bytes(rows, encoding)
    if encoding == "utf-8-sig":
        assert data.startswith(codecs.BOM_UTF8)
    report = run(org.head_a, data, "客户.csv")
    assert report.created == 2 and report.rejected_count == 0
    assert [(c.name, c.notes, c.risk_preference) for c in customers()] == [
        ("欧阳娜娜", "喜欢书法", "conservative"), ("河南鑫源商贸有限公司", None, None)]


def test_formula_looking_text_is_stored_as_text_and_written_back_as_a_string(org):
    formula = '=HYPERLINK("http://x","点我")'
    rows = [["个人", formula, ID1, "13812345678", "", "", "", "", "+cmd|' /C calc'!A0"],
            ["个人", formula, ID2, "12345", "", "", "", "", "@SUM(1+1)"]]
    report = run(org.head_a, xlsx(rows))
    assert report.created == 1 and report.rejected_count == 1
    [c] = customers()
    assert c.name == formula and c.notes == "+cmd|' /C calc'!A0"
    out = io.BytesIO()
    imports.write_rejects(out, report)
    xml = sheet_xml(out.getvalue())
    assert "<f>" not in xml and "<f " not in xml
    assert sheet_rows(out.getvalue())[1][3:5] == ["个人", formula]


# ---------------------------------------------------------------- re-import, scope, duplicates

def test_importing_the_same_file_again_updates_and_creates_no_duplicates(org):
    rows = GOOD + [["个人", "无证客户", "", "13700001111", "目标", "", "", "", ""],
                   ["个人", "无证无电话", "", "", "", "", "", "", ""]]
    data = xlsx(rows)
    first = run(org.head_a, data)
    assert (first.created, first.updated, first.rejected_count) == (4, 0, 0)
    before = {c.id: (c.name, c.deposit_balance, c.version, c.updated_at) for c in customers()}
    second = run(org.head_a, data)
    assert (second.created, second.updated, second.unchanged, second.rejected_count) == (0, 4, 4, 0)
    # Nothing differed, so nothing was written: an edit form open meanwhile still saves.
    assert {c.id: (c.name, c.deposit_balance, c.version, c.updated_at) for c in customers()} == before
    # A CSV of the same rows with new balances updates the same customers, and only what changed.
    rows[0][5], rows[2][5] = "60000", "1.5万"
    third = run(org.head_a, csv_bytes(rows, "gbk"), "same.csv")
    assert (third.created, third.updated, third.unchanged) == (0, 4, 2) and count() == 4
    after = {c.name: c for c in customers()}
    assert (after["张三"].deposit_balance, after["无证客户"].deposit_balance) == (Decimal("60000.00"), Decimal("15000.00"))
    assert [after[n].version for n in ("张三", "甲科技有限公司", "无证客户", "无证无电话")] == [2, 1, 2, 1]


def test_update_changes_only_the_columns_in_the_file_and_blank_ids_keep_theirs(org):
    c = make_customer(org.a, "张三", cert_no=ID1, phone="13812345678", tier="T1", deposit_balance=Decimal("5"),
                      maintainer_id=org.rm_a.id, notes="老客户")
    header = ["客户名称", "证件号码", "手机号码", "存款余额", "客户类型"]
    report = run(org.head_a, xlsx([["张三丰", ID1, "", "6,000", "对公"]], header=header))
    assert report.updated == 1 and report.rejected_count == 0, report.rejected
    [c] = customers()
    assert (c.name, c.phone, c.tier, c.deposit_balance, c.notes, c.maintainer_id, c.kind) == (
        "张三丰", "13812345678", "T1", Decimal("6000.00"), "老客户", org.rm_a.id, "personal")
    assert (c.name_pinyin, c.name_initials, c.phone_rev) == ("zhangsanfeng", "zsf", "87654321831")


def test_a_certificate_of_an_out_of_scope_customer_is_refused_neutrally(org):
    other = make_customer(org.b, "乙客户", cert_no=ID_B, phone="13900002222", maintainer_id=org.rm_b.id,
                          deposit_balance=Decimal("88888.00"))
    before = stable()
    rows = [["个人", "冒名", ID_B, "13812345678", "目标", "1", "是", "", "x"], GOOD[0]]
    report = run(org.head_a, xlsx(rows))
    assert report.created == 1 and report.updated == 0
    assert problems(report) == {2: [("证件号码", NEUTRAL)]}
    db.session.expire_all()
    assert db.session.get(Customer, other.id).name == "乙客户"
    after = stable()
    assert [r for r in after["customer"] if r[0] == other.id] == [r for r in before["customer"] if r[0] == other.id]


def test_staff_who_see_their_own_customers_import_as_maintainer_and_no_further(org):
    colleague = make_customer(org.a, "同事的客户", cert_no=ID2, maintainer_id=org.head_a.id)
    header = HEADER + ["维护人"]
    rows = [GOOD[0] + ["HA0001"], ["个人", "改名", ID2, "", "", "", "", "", "", ""]]
    report = run(org.rm_a, xlsx(rows, header=header))
    assert report.created == 1 and problems(report) == {3: [("证件号码", NEUTRAL)]}
    new = db.session.execute(select(Customer).where(Customer.cert_no == ID1)).scalar_one()
    assert (new.outlet_id, new.maintainer_id) == (org.a.id, org.rm_a.id)
    db.session.expire_all()
    assert db.session.get(Customer, colleague.id).name == "同事的客户"


def test_outlet_and_maintainer_columns(org):
    org.rm_a.staff_no = "880001"
    db.session.commit()
    header = ["客户类型", "客户名称", "所属网点", "维护人"]
    rows = [["个人", "甲", "OA", "880001"],  # by staff number
            ["个人", "乙", "OA2 甲二网点", "RA0002 甲二客户经理（甲二网点）"],  # the template's "code name" entries
            ["个人", "丙", "甲网点", "ra0001"],  # outlet by name, login in any case
            ["个人", "丁", "OB", ""],  # another 分行's outlet
            ["个人", "戊", "OA", "RA0002"],  # staff of another outlet
            ["个人", "己", "", ""]]  # default: the importer's outlet... but a branch admin has none
    report = run(org.branch_admin1, xlsx(rows, header=header))
    got = {c.name: (c.outlet_id, c.maintainer_id) for c in customers()}
    assert got == {"甲": (org.a.id, org.rm_a.id), "乙": (org.a2.id, org.rm_a2.id), "丙": (org.a.id, org.rm_a.id)}
    assert problems(report) == {5: [("所属网点", "请选择您管辖范围内的网点")],
                                6: [("维护人", "维护人必须是该网点的在岗员工")],
                                7: [("所属网点", "请选择您管辖范围内的网点")]}


def test_a_certificate_twice_in_one_file_is_imported_once(org):
    rows = [GOOD[0], GOOD[1], ["个人", "张三（重复）", ID1.lower(), "", "", "", "", "", ""]]
    report = run(org.head_a, xlsx(rows), chunk_size=1)  # across chunks too
    assert report.created == 2
    assert problems(report) == {4: [("证件号码", "与第2行的证件号码重复")]}


def test_every_saved_chunk_has_its_own_audit_row_and_the_import_one_summary(org):
    """An import killed after some chunks leaves each saved chunk audited: the row is written in the chunk's
    transaction. A chunk that saves nothing (all rejected, or all unchanged) writes none."""
    rows = [GOOD[0],  # row 2: created
            ["个人", "李四", BAD_CHECK, "", "", "", "", "", ""],  # row 3: rejected → chunk 2 saves nothing
            GOOD[1]]  # row 4: created
    run(org.head_a, xlsx(rows), chunk_size=1)

    def batches():
        return [(b.actor_id, b.target_type, b.detail) for b in db.session.execute(
            select(AuditLog).where(AuditLog.action == "customer.import_batch").order_by(AuditLog.id)).scalars()]

    assert batches() == [(org.head_a.id, None, {"file": "客户.xlsx", "rows": [2, 2], "created": 1, "updated": 0}),
                         (org.head_a.id, None, {"file": "客户.xlsx", "rows": [4, 4], "created": 1, "updated": 0})]
    [summary] = db.session.execute(select(AuditLog).where(AuditLog.action == "customer.imported")).scalars()
    assert (summary.detail["created"], summary.detail["rejected"]) == (2, 1)
    # The same file again: rows 2 and 4 are unchanged, nothing is written, no batch row; a changed row is audited.
    run(org.head_a, xlsx(rows), chunk_size=1)
    assert len(batches()) == 2
    run(org.head_a, xlsx([[*GOOD[0][:3], "13912345678", *GOOD[0][4:]]]), chunk_size=1)
    assert batches()[2][2] == {"file": "客户.xlsx", "rows": [2, 2], "created": 0, "updated": 1}


def test_a_chunk_colliding_with_a_concurrent_save_is_redone_as_an_update(org, monkeypatch):
    make_customer(org.a, "刚刚录入", cert_no=ID1)
    real = imports.CustomerImport._existing_by_cert
    calls = []

    def stale_first(self, certs):
        calls.append(1)
        return {} if len(calls) == 1 else real(self, certs)  # the first lookup misses the new customer

    monkeypatch.setattr(imports.CustomerImport, "_existing_by_cert", stale_first)
    report = run(org.head_a, xlsx(GOOD))
    assert (report.created, report.updated, report.rejected_count) == (1, 1, 0) and len(calls) == 2
    assert sorted(c.name for c in customers()) == ["张三", "甲科技有限公司"]


def test_a_collision_in_the_middle_redoes_that_chunk_and_revalidates_the_next(org, monkeypatch):
    """Chunk 2 collides with a customer saved meanwhile (on PostgreSQL while chunk 3 is already validated, as if
    chunk 2 were saved): chunk 2 is redone as an update, chunk 3 validated again; duplicates are still found."""
    make_customer(org.a, "刚刚录入", cert_no=ID2)
    real = imports.CustomerImport._existing_by_cert
    missed = []

    def stale_once(self, certs):
        if ID2 in certs and not missed:
            missed.append(ID2)
            return {}  # the lookup misses the customer saved meanwhile: the INSERT will collide
        return real(self, certs)

    monkeypatch.setattr(imports.CustomerImport, "_existing_by_cert", stale_once)
    rows = [GOOD[0], ["个人", "王五", ID2, "", "", "", "", "", ""], ["个人", "赵六", ID3, "", "", "", "", "", ""],
            ["个人", "张三（重复）", ID1, "", "", "", "", "", ""]]
    report = run(org.head_a, xlsx(rows), chunk_size=1)
    assert missed == [ID2]
    assert (report.created, report.updated, report.rejected_count) == (2, 1, 1)
    assert problems(report) == {5: [("证件号码", "与第2行的证件号码重复")]}
    assert sorted(c.name for c in customers()) == ["张三", "王五", "赵六"]


def test_too_long_text_is_reported_per_row_and_does_not_sink_the_chunk(org):
    header = ["客户类型", "客户名称", "客户层级", "维护目标"]
    rows = [["个人", "甲", "T" * 21, ""], ["个人", "乙", "T1", "目" * 201], ["个人", "丙", "T1", ""],
            ["个人", "名" * 101, "", ""]]
    report = run(org.head_a, xlsx(rows, header=header))
    assert report.created == 1
    assert problems(report) == {2: [("客户层级", "不能超过20个字")], 3: [("维护目标", "不能超过200个字")],
                                5: [("客户名称", "客户名称不能超过100个字")]}


# ---------------------------------------------------------------- the same rules as the form

PARITY = [
    {"kind": "personal", "name": " 张三 ", "cert_no": ID1.lower(), "phone": "+86 138-1234-5678", "status": "target",
     "deposit_balance": "1,234.5", "aum": "", "vip": "是", "birthday": "", "risk_preference": "growth",
     "employer_type": "other", "legal_rep": "不该保存", "basic_account": "1"},
    {"kind": "corporate", "name": "甲公司", "cert_no": USCC, "annual_revenue": "3亿", "eco_module": "international",
     "registered_on": "2001-02-03", "retired": "true", "employer": "不该保存"},
    {"kind": "", "name": "", "cert_no": BAD_CHECK, "phone": "010-12345678", "status": "vip", "deposit_balance": "-1",
     "loan_balance": "1.234", "birthday": "2020/01/01", "gender": "未知"},
    {"kind": "personal", "name": "名" * 101, "cert_no": "12345", "phone": "abc", "aum": "1e5",
     "registered_on": "2020-13-01", "risk_preference": "保守"},
    {"kind": "corporate", "name": "乙", "cert_no": "91410102011524491X", "deposit_daily_avg": "99999999999999999"},
]


@pytest.mark.parametrize("raw", PARITY)
def test_the_import_checks_exactly_what_the_form_checks(org, raw):
    values, errors = imports.check_values(dict(raw))
    try:
        expected = services.clean(org.head_a, dict(raw))
    except services.CustomerError as exc:
        assert errors == exc.errors
    else:
        assert not errors
        expected = {k: v for k, v in expected.items() if k not in ("outlet_id", "maintainer_id")}
        assert {k: values[k] for k in expected} == expected


def test_the_fast_pinyin_gives_the_same_keys_as_the_search(org):
    names = ["张三丰", "李长江", "重庆火锅有限公司", "ABC(河南)科技有限公司", "王 芳", "单于", "银行行长", "Ａ公司123",
             "乐乐", "曾重阳", "欧阳娜娜", "朝阳区长乐路长安银行", "〇一二", "😀表情", ""]
    cache = imports.PinyinCache()
    for name in names * 2:
        assert cache(name) == pinyin_keys(name), name


# ---------------------------------------------------------------- files refused as a whole

def _zip(members: dict[str, bytes], level: int = 9) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for name, body in members.items():
            z.writestr(name, body)
    return out.getvalue()


def _bomb(inflated: int) -> bytes:
    """A small "xlsx" whose sheet XML inflates to `inflated` bytes (a long run of one repeated byte)."""
    real = zipfile.ZipFile(io.BytesIO(xlsx([GOOD[0]])))
    members = {n: real.read(n) for n in real.namelist()}
    sheet = b'<?xml version="1.0"?><worksheet><sheetData>' + b" " * inflated + b"</sheetData></worksheet>"
    members["xl/worksheets/sheet1.xml"] = sheet
    return _zip(members)


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(50)


@pytest.mark.parametrize("data, filename, message", [
    (b"name,phone\n\xe5\xbc\xa0\xe4\xb8\x89,138\n", "客户.xlsx", "内容是纯文本"),
    (PNG, "客户.xlsx", "不是 Excel 或 CSV 表格"),
    (PNG, "客户.csv", "不是文本格式的 CSV"),
    (b"<html><table><tr><td>1</td></tr></table></html>", "客户.xls", "网页格式"),
    (excel_import.OLE_MAGIC + bytes(600), "客户.xls", "无法读取该 .xls 文件"),
    (_zip({"word/document.xml": b"<w/>"}), "客户.xlsx", "Word 文档"),
    (_zip({"a.txt": b"x"}), "客户.xlsx", "没有工作簿"),
    (b"PK\x03\x04garbage", "客户.xlsx", "已损坏"),
    (b"", "客户.csv", "空的"),
    (b"whatever", "客户.txt", "仅支持 .xlsx、.xls 或 .csv"),
    (b"a,b\n", "客户.pdf", "仅支持"),
], ids=lambda v: v if isinstance(v, str) else "data")  # zip bytes carry the time: ids from the texts (xdist)
def test_a_file_that_is_not_a_spreadsheet_is_refused_clearly(org, data, filename, message):
    with pytest.raises(excel_import.SpreadsheetError) as exc:
        run(org.head_a, data, filename)
    assert message in exc.value.message
    assert count() == 0


def test_a_zip_bomb_is_refused_before_it_is_opened(org, monkeypatch):
    bomb = _bomb(50 * 1024 * 1024)
    assert len(bomb) < 200 * 1024  # 50 MB of XML in a small file: ratio ≈ 1000
    with pytest.raises(excel_import.SpreadsheetError) as exc:
        run(org.head_a, bomb)
    assert "压缩炸弹" in exc.value.message
    # Under the ratio but over the absolute limit: refused too.
    monkeypatch.setattr(excel_import, "MAX_UNCOMPRESSED", 2 * 1024 * 1024)
    monkeypatch.setattr(excel_import, "RATIO_FLOOR", 1024)
    with pytest.raises(excel_import.SpreadsheetError) as exc:
        run(org.head_a, _bomb(3 * 1024 * 1024))
    assert "压缩炸弹" in exc.value.message
    assert count() == 0


def test_a_zip_that_lies_about_its_sizes_is_refused(org):
    honest = _bomb(1024 * 1024)
    # Declare the sheet 100 bytes long in the central directory (what a reader trusting it would allocate).
    i = honest.rindex(b"PK\x01\x02", 0, honest.index(b"xl/worksheets/sheet1.xml", honest.index(b"PK\x01\x02")) + 1)
    i = honest.index(b"xl/worksheets/sheet1.xml", honest.index(b"PK\x01\x02")) - 46
    assert honest[i:i + 4] == b"PK\x01\x02"
    lying = honest[:i + 24] + struct.pack("<I", 100) + honest[i + 28:]
    with pytest.raises(excel_import.SpreadsheetError) as exc:
        run(org.head_a, lying)
    assert "与文件头不符" in exc.value.message


def test_sheets_are_read_in_a_child_process_or_here_if_it_cannot_start(org, monkeypatch):
    table = excel_import.read_table(xlsx(GOOD), "a.xlsx")
    assert table._close is not None  # a child process reads it
    assert [cells[:2] for _n, cells in table.rows()] == [HEADER[:2], ["个人", "张三"], ["对公", "甲科技有限公司"]]
    table.close()

    def no_process(*args, **kw):
        raise OSError("no fork here")

    monkeypatch.setattr(excel_import.subprocess, "Popen", no_process)
    report = run(org.head_a, xlsx(GOOD))
    assert report.created == 2


def test_only_cell_values_come_back_from_the_child():
    import os
    import pickle

    evil = pickle.dumps([[os.system]])
    frame = struct.pack("<I", len(evil)) + evil
    assert excel_import._read_frame(io.BytesIO(frame)) is None
    fine = pickle.dumps([["张三", 1.5, True, date(2020, 1, 2)]])
    assert excel_import._read_frame(io.BytesIO(struct.pack("<I", len(fine)) + fine)) == [["张三", 1.5, True,
                                                                                          date(2020, 1, 2)]]
    assert excel_import._read_frame(io.BytesIO(b"\x05\x00")) is None  # cut short: the child died


def test_too_large_or_too_long_files_are_refused(org, monkeypatch):
    with pytest.raises(excel_import.SpreadsheetError) as exc:
        run(org.head_a, b"a" * (excel_import.MAX_BYTES + 1), "big.csv")
    assert "文件过大" in exc.value.message
    monkeypatch.setattr(excel_import, "MAX_ROWS", 2)
    for data, name in ((xlsx([GOOD[0]] * 3), "x.xlsx"), (csv_bytes([GOOD[0]] * 3, "utf-8"), "x.csv")):
        with pytest.raises(excel_import.SpreadsheetError) as exc:
            run(org.head_a, data, name)
        assert "行数过多" in exc.value.message
    assert count() == 0


def test_a_file_without_the_name_column_or_with_a_column_twice_is_refused(org):
    with pytest.raises(imports.ImportRefused) as exc:
        run(org.head_a, xlsx([["个人", "x"]], header=["类型", "别的"]))
    assert "客户名称" in exc.value.message
    with pytest.raises(imports.ImportRefused) as exc:
        run(org.head_a, xlsx([["张三", "李四"]], header=["客户名称", "姓名"]))
    assert "同一项内容" in exc.value.message
    assert count() == 0


def test_a_title_row_above_the_header_and_unknown_columns(org):
    data = csv_bytes([["客户导入（2026年11月）"], ["客户类型", "客户名称*", "存款余额（元）", "微信号"],
                      ["个人", "张三", "100", "zs123"]], "utf-8", header=[""])
    report = run(org.head_a, data, "x.csv")
    assert report.created == 1 and report.ignored == ["微信号"]
    assert customers()[0].deposit_balance == Decimal("100.00")


# ---------------------------------------------------------------- the template

def test_the_template_has_the_headers_dropdowns_text_columns_and_instructions(org):
    org.rm_a.staff_no = "880001"
    db.session.commit()
    out = io.BytesIO()
    imports.write_template(out, org.head_a)
    data = out.getvalue()
    book = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert book.sheet_names == ["客户", "填写说明", "选项"]
    assert book.get_sheet_by_index(0).to_python() == [[c.header for c in imports.COLUMNS]]
    guide = "\n".join(" ".join(map(str, r)) for r in book.get_sheet_by_index(1).to_python())
    assert "证件号码" in guide and "文本" in guide and "重复导入" in guide
    options = book.get_sheet_by_index(2).to_python()
    assert options[0] == ["网点", "维护人"]
    assert [r[0] for r in options[1:] if r[0]] == ["OA 甲网点"]  # the outlet head's scope: one outlet
    assert sorted(r[1] for r in options[1:]) == ["880001 甲客户经理（甲网点）", "HA0001 网点甲负责人（甲网点）",
                                                 "LA0001 甲大堂（甲网点）", "TA0001 甲柜员（甲网点）"]
    assert not any(re.search(r"\d{17}[\dX]", str(v)) for row in options for v in row)  # no ID-number logins
    xml = sheet_xml(data)
    for choices in ('"个人,对公"', '"存量,目标"', '"是,否"', '"保守型,稳健型,平衡型,成长型,进取型"'):
        assert f"<formula1>{choices}</formula1>" in xml.replace("&quot;", '"')
    assert "选项'!$A$2:$A$2" in xml.replace("&apos;", "'")
    styles = zipfile.ZipFile(io.BytesIO(data)).read("xl/styles.xml").decode()
    assert 'formatCode="@"' in styles  # the text format of the ID and phone columns
    workbook = zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml").decode()
    assert 'state="hidden"' in workbook
    # The empty template imports as nothing, without an error.
    report = run(org.head_a, data)
    assert (report.total, report.created, report.rejected_count, report.ignored) == (0, 0, 0, [])


def test_a_filled_in_template_imports(org):
    header = [c.header for c in imports.COLUMNS]
    row = {c.header: "" for c in imports.COLUMNS}
    row.update({"客户类型": "个人", "客户名称": "张三", "证件号码": ID1, "手机号码": "13812345678", "客户类别": "目标",
                "所属网点": "OA 甲网点", "维护人": "RA0001 甲客户经理（甲网点）", "VIP客户": "是", "存款余额": "1万",
                "是否有贷款": "否", "单位性质": "专业人员", "风险偏好": "进取型", "家庭风险偏好": "稳健型",
                "是否退休": "否", "生态图模块": "国际业务", "基本户在我行": "是"})
    report = run(org.head_a, xlsx([[row[h] for h in header]], header=header))
    assert report.created == 1, report.rejected
    [c] = customers()
    assert (c.status, c.maintainer_id, c.vip, c.deposit_balance, c.employer_type, c.risk_preference,
            c.family_risk_preference, c.eco_module, c.basic_account) == (
        "target", org.rm_a.id, True, Decimal("10000.00"), "professional", "aggressive", "prudent", None, False)


# ---------------------------------------------------------------- the pages

def test_the_import_page_needs_the_edit_permission(app, org):
    head = logged_in(app, "HA0001")
    body = head.get("/customers/import").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in body and 'name="csrf_token"' in body and 'name="file"' in body
    assert "/customers/import/template.xlsx" in body and "20 MB" in body
    teller = logged_in(app, "TA0001")
    assert teller.get("/customers/import").status_code == 403
    assert teller.get("/customers/import/template.xlsx").status_code == 403
    assert upload(teller, xlsx(GOOD), "x.xlsx").status_code == 403
    assert count() == 0


def test_template_download(app, org):
    resp = logged_in(app, "HA0001").get("/customers/import/template.xlsx")
    assert resp.status_code == 200 and resp.mimetype == imports.XLSX_MIME
    assert "attachment" in resp.headers["Content-Disposition"]
    assert sheet_rows(resp.data)[0][:2] == ["客户类型", "客户名称"]


def test_upload_imports_and_shows_counts_and_the_rejects_download(app, org):
    head = logged_in(app, "HA0001")
    bad = ["个人", "李四", BAD_CHECK, "", "", "", "", "", ""]
    resp = upload(head, xlsx(GOOD + [bad]), "名单.xlsx")
    assert resp.status_code == 303
    job = resp.headers["Location"]
    # From the page (htmx), the browser is sent to the job with a full page load.
    again = head.post("/customers/import", {"file": (io.BytesIO(xlsx(GOOD)), "名单.xlsx")},
                      content_type="multipart/form-data", headers={"HX-Request": "true"})
    assert again.status_code == 204 and again.headers["HX-Redirect"].startswith("/customers/import/")
    body = head.get(job).get_data(as_text=True)
    assert 'data-count="created">2<' in body and 'data-count="rejected">1<' in body and "名单.xlsx" in body
    assert "身份证号码校验位不正确" in body and BAD_CHECK not in body  # reasons on the page, not the numbers
    rejects = head.get(job + "/rejects.xlsx")
    assert rejects.status_code == 200 and sheet_rows(rejects.data)[1][:3] == [
        4.0, "证件号码", "证件号码：身份证号码校验位不正确"]
    # Only the user who ran the import sees it.
    other = logged_in(app, "HA0002")
    assert other.get(job).status_code == 404
    assert other.get(job + "/rejects.xlsx").status_code == 404
    assert other.get(job + "/progress").status_code == 404
    assert head.get("/customers/import/not-a-job-id-at-all-xxxxx").status_code == 404
    logs = db.session.execute(select(AuditLog).where(AuditLog.action == "customer.imported")
                              .order_by(AuditLog.id)).scalars().all()
    assert [(log.actor_id, log.detail["created"], log.detail["updated"], log.detail["rejected"]) for log in logs] == [
        (org.head_a.id, 2, 0, 1), (org.head_a.id, 0, 2, 0)]


@pytest.mark.parametrize("data, filename, message", [
    (PNG, "照片.xlsx", "不是 Excel 或 CSV 表格"),
    (b"x" * 100, "a.txt", "仅支持"),
])
def test_a_refused_upload_changes_nothing(app, org, data, filename, message):
    make_customer(org.a, "已有", cert_no=ID1)
    head = logged_in(app, "HA0001")
    before = stable()
    resp = upload(head, data, filename)
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert stable() == before


def test_a_zip_bomb_upload_is_refused(app, org):
    head = logged_in(app, "HA0001")
    before = stable()
    resp = upload(head, _bomb(30 * 1024 * 1024), "bomb.xlsx")
    assert resp.status_code == 422 and "压缩炸弹" in resp.get_data(as_text=True)
    assert stable() == before


def test_a_failing_import_is_marked_failed_and_does_not_block_the_next(app, org, monkeypatch):
    head = logged_in(app, "HA0001")

    def broken(self, inserts, updates, chunk):
        raise RuntimeError("database gone")

    monkeypatch.setattr(imports.CustomerImport, "_write", broken)
    with pytest.raises(RuntimeError):  # TESTING lets it through; a server answers 500
        upload(head, xlsx(GOOD), "x.xlsx")
    jobs = [import_views.load_job(p.stem) for p in Path(app.instance_path, "imports").glob("*.json")]
    assert [j["state"] for j in jobs] == ["failed"]
    monkeypatch.undo()
    assert upload(head, xlsx(GOOD), "x.xlsx").status_code == 303 and count() == 2


def test_upload_without_csrf_is_refused(app, org):
    head = logged_in(app, "HA0001")
    resp = head.post("/customers/import", {"file": (io.BytesIO(xlsx(GOOD)), "x.xlsx")}, csrf=False,
                     content_type="multipart/form-data")
    assert resp.status_code == 400 and count() == 0


def test_a_large_file_runs_in_the_background_with_progress(make_app):
    app = make_app(CRM_IMPORT_BACKGROUND_ROWS=3)
    with app.app_context():
        from tests.conftest import make_branch, make_outlet

        b1 = make_branch("B1", "甲分行")
        a = make_outlet(b1, "OA", "甲网点")
        make_user("HA0001", "outlet_head", outlet=a)
        head = logged_in(app, "HA0001")
        rows = [["个人", f"客户{i}", "", f"1381234{i:04d}", "", "", "", "", ""] for i in range(40)]
        resp = upload(head, xlsx(rows), "大文件.xlsx")
        assert resp.status_code == 303
        job_url = resp.headers["Location"]
        job_id = job_url.rsplit("/", 1)[1]
        import_views.wait(job_id, 60)
        body = head.get(job_url + "/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert 'data-count="created">40<' in body and "every 1s" not in body and "<html" not in body
        assert count() == 40
        # While running, the page polls: shown with a job file that says so.
        job = import_views.load_job(job_id)
        job.update(state="running", done=10, total=40, counts=None)
        import_views._save(job)
        body = head.get(job_url).get_data(as_text=True)
        assert 'hx-trigger="every 1s"' in body and '<progress class="progress' in body and 'value="10"' in body
        # A second upload while one runs is refused.
        resp = upload(head, xlsx(rows[:1]), "再来.xlsx")
        assert resp.status_code == 422 and "正在进行" in resp.get_data(as_text=True)


# ---------------------------------------------------------------- the command line

def test_cli_import(app, org, tmp_path, runner):
    path = tmp_path / "客户.csv"
    path.write_bytes(csv_bytes(GOOD + [["个人", "", "", "", "", "", "", "", ""]], "gbk"))
    result = runner.invoke(args=["import-customers", str(path), "--as", "HA0001"])
    assert result.exit_code == 0, result.output
    assert "新建 2" in result.output and "未导入 1" in result.output and "请输入客户名称" in result.output
    assert count() == 2
    result = runner.invoke(args=["import-customers", str(path), "--as", "NOBODY"])
    assert result.exit_code != 0
    assert count() == 2


def test_timing_is_reported(org):
    started = time.perf_counter()
    report = run(org.head_a, xlsx(GOOD))
    assert 0 <= report.seconds <= time.perf_counter() - started + 0.01

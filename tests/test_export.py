"""Customer export: scoped, masked per post, formula-safe, IDs as text, R-12 thresholds, audited."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

from python_calamine import CalamineWorkbook
from sqlalchemy import select

from crm.customers.search import keys
from crm.extensions import db
from crm.models import AuditLog, Customer
from tests.conftest import CANARY_B, make_user

FORMULA = '=HYPERLINK("http://evil.example","点我")'


def add(outlet, name, *, cert=None, phone=None, deposit="0", status="stock", has_loan=False, maintainer=None):
    db.session.add(Customer(outlet_id=outlet.id, kind="personal", name=name, cert_no=cert, phone=phone,
                            deposit_balance=Decimal(deposit), status=status, has_loan=has_loan,
                            maintainer_id=maintainer.id if maintainer else None, **keys(name, phone, cert)))
    db.session.commit()


def rows_of(resp) -> list[list]:
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(resp.data)).get_sheet_by_index(0).to_python()
    return sheet[1:]


def test_export_is_scoped_and_full_for_posts_that_may_reveal(client, org):
    add(org.a, "张三", cert="410102199001011234", phone="13812345678", deposit="125000")
    add(org.b, f"乙客户{CANARY_B}", phone="13900001111")
    client.login("HA0001")
    rows = rows_of(client.get("/customers/export.xlsx"))
    assert [r[0] for r in rows] == ["张三"]
    assert rows[0][3] == "410102199001011234" and rows[0][4] == "13812345678"  # the head may reveal
    assert rows[0][8] == 125000.0
    row = db.session.execute(select(AuditLog).where(AuditLog.action == "customer.exported")).scalar_one()
    assert row.detail["rows"] == 1 and row.detail["masked"] is False


def test_export_masks_for_posts_that_may_not_reveal(client, org):
    add(org.a, "张三", cert="410102199001011234", phone="13812345678")
    make_user("BH0001", "branch_head", branch=org.b1)
    client.login("BH0001")
    body = client.get("/customers/export.xlsx")
    rows = rows_of(body)
    assert rows[0][3] == "410***********1234" and rows[0][4] == "138****5678"
    book = zipfile.ZipFile(io.BytesIO(body.data))
    assert all(b"13812345678" not in book.read(name) for name in book.namelist())


def test_user_text_never_becomes_a_formula_and_ids_stay_text(client, org):
    add(org.a, FORMULA, cert="410102199001011234")
    client.login("HA0001")
    resp = client.get("/customers/export.xlsx")
    book = zipfile.ZipFile(io.BytesIO(resp.data))
    sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula element anywhere
    # Constant-memory mode writes strings inline: the text and the 18-digit ID are string cells.
    assert 't="inlineStr"' in sheet and "=HYPERLINK(" in sheet and "<t>410102199001011234</t>" in sheet
    assert rows_of(resp)[0][0] == FORMULA


def test_r12_stock_no_loan_export_thresholds(client, org):
    add(org.a, "恰好五万", deposit="50000.00")
    add(org.a, "差一分", deposit="49999.99")
    add(org.a, "有贷款", deposit="90000", has_loan=True)
    add(org.a, "目标客户", deposit="90000", status="target")
    client.login("HA0001")
    all_stock = rows_of(client.get("/customers/export.xlsx?status=stock&loan=no&min=0"))
    assert sorted(r[0] for r in all_stock) == ["差一分", "恰好五万"]
    big = rows_of(client.get("/customers/export.xlsx?status=stock&loan=no&min=50000"))
    assert [r[0] for r in big] == ["恰好五万"]


def test_posts_without_export_right_get_403(client, org):
    client.login("TA0001")
    assert client.get("/customers/export.xlsx").status_code == 403


def test_rm_exports_only_own_customers(client, org):
    add(org.a, "我的客户", maintainer=org.rm_a)
    add(org.a, "别人的客户", maintainer=org.teller_a)
    client.login("RA0001")
    assert [r[0] for r in rows_of(client.get("/customers/export.xlsx"))] == ["我的客户"]


def test_export_command_line(runner, org, tmp_path):
    add(org.a, "恰好五万", cert="410102199001011234", deposit="50000.00")
    add(org.a, "差一分", deposit="49999.99")
    out = tmp_path / "stock.xlsx"
    result = runner.invoke(args=["export-customers", str(out), "--as", "HA0001", "--status", "stock", "--no-loan",
                                 "--min-deposit", "50000"])
    assert result.exit_code == 0, result.output
    assert "已导出 1 位客户" in result.output and "完整" in result.output
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_index(0).to_python()[1:]
    assert [r[0] for r in rows] == ["恰好五万"] and rows[0][3] == "410102199001011234"
    denied = runner.invoke(args=["export-customers", str(out), "--as", "TA0001"])
    assert denied.exit_code != 0 and "不能导出" in denied.output
    bad = runner.invoke(args=["export-customers", str(out), "--as", "HA0001", "--min-deposit", "很多"])
    assert bad.exit_code != 0 and "存款下限" in bad.output

"""Audit rows of the scorecards figures import (issue 8, promise 6): an Excel import through the period's import page
writes exactly ONE row naming the period, with how many rows were read, saved and rejected and how many values
changed; a sheet with nothing importable and a refused file write none.

The audit label scorecards.scheme_copied (复制考核方案) was removed: there is no separate copy action — a 分行's
copy of a 全行 default is made by its first save, which writes one "scorecards.scheme_saved" row (checked below)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditLog
from plugins.scorecards import services as s
from plugins.scorecards.models import ScorecardActual, ScorecardPeriod, ScorecardScheme
from plugins.scorecards.views_schemes import form_values
from tests.audit_rows import only_row, rows_of
from tests.conftest import make_user
from tests.plugins.scorecards.conftest import as_user
from tests.plugins.scorecards.test_web_periods import _sheet as sheet

P = "/p/scorecards"
HEADER = ["工号", "姓名", "全年新增存款日均增长（%）", "贷款不良率（%）", "贷款收息率（%）"]


def upload(client, period: ScorecardPeriod, scheme_id: int, data: bytes, name: str = "考核数据.xlsx"):
    return client.post(f"{P}/periods/{period.id}/import?scheme={scheme_id}", {"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_figures_import_writes_one_row_with_the_counts(client, sc):
    period = as_user(sc.marketing, s.open_period, "year", date(2024, 6, 30))
    senior = next(x.id for x in s.current_schemes(sc.b1.id) if x.code == "003a-rm-senior")
    other = make_user("CR0009", "corporate_rm", outlet=sc.a, name="高级客户经理丁")
    other.grade = "a_senior"
    db.session.commit()
    assert client.login(sc.marketing.login).status_code == 302

    # nothing importable (the only row is bad) and a file that is not Excel: refused, nothing recorded
    resp = upload(client, period, senior, sheet([HEADER, ["CR0009", "高级客户经理丁", "三成", 0, 99.5]]))
    assert resp.status_code == 200 and "全年新增存款日均增长须为数字（当前：三成）" in resp.get_data(as_text=True)
    resp = upload(client, period, senior, b"MZ\x90\x00", "virus.xlsx")
    assert resp.status_code == 422 and "不是 Excel" in resp.get_data(as_text=True)
    assert rows_of("scorecards.actuals_imported") == []

    # one good row (three figures) and one bad row: the good one saved, one row recorded with the counts
    data = sheet([HEADER, ["CR0001", "高级客户经理甲", 33, 0, 99.8], ["CR0009", "高级客户经理丁", "三成", 0, 99.5]])
    resp = upload(client, period, senior, data)
    assert resp.status_code == 200 and "共2行：导入1行（3个数据），1行有错误未导入。" in resp.get_data(as_text=True)
    only_row("scorecards.actuals_imported", sc.marketing, ("scorecards_period", period.id),
             rows=2, saved_rows=1, values=3, changed=3, rejected_rows=1)
    saved = dict(db.session.execute(select(ScorecardActual.code, ScorecardActual.value).where(
        ScorecardActual.period_id == period.id, ScorecardActual.subject_id == sc.rm_senior.id)).all())
    assert saved == {"deposits": Decimal("33"), "npl": Decimal("0"), "collection": Decimal("99.8")}

    # the same file again is a second import (its own row) that changes no value
    assert upload(client, period, senior, data).status_code == 200
    _first, again = rows_of("scorecards.actuals_imported")
    assert (again.actor_id, again.target_id) == (sc.marketing.id, str(period.id))
    assert (again.detail["saved_rows"], again.detail["values"], again.detail["changed"]) == (1, 3, 0)


def test_a_branch_copy_of_a_default_scheme_is_one_scheme_saved_row(client, sc):
    """The 分行 "copies" a 全行 default by saving an edit of it: one scheme_saved row naming the new copy and the
    default it is based on — no separate copy row."""
    s.ensure_default_schemes()
    head = db.session.execute(select(ScorecardScheme).where(
        ScorecardScheme.code == "003a-head", ScorecardScheme.branch_id.is_(None),
        ScorecardScheme.current.is_(True))).scalar_one()
    values = form_values(head.definition)
    form = {**{k: v for k, v in values.items() if k != "posts"}, "posts": values["posts"], "posts_sent": "1",
            "i0_target": "25", "note": "2025年起目标调整"}
    assert client.login(sc.branch_admin1.login).status_code == 302
    assert client.post(f"{P}/schemes/{head.id}", form).status_code == 302
    copy = db.session.execute(select(ScorecardScheme).where(
        ScorecardScheme.code == "003a-head", ScorecardScheme.branch_id == sc.b1.id)).scalar_one()
    only_row("scorecards.scheme_saved", sc.branch_admin1, ("scorecards_scheme", copy.id), code="003a-head",
             revision=2, based_on=head.id)
    assert [r.action for r in rows_of("scorecards.scheme_saved")] == ["scorecards.scheme_saved"]
    assert not db.session.execute(select(AuditLog).where(AuditLog.action.like("scorecards.scheme_c%"))).first()

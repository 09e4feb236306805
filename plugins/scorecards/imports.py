"""A month of figures from Excel: the template (one row per person in scope, one column per figure, current values
filled in) and the import — every row checked, a row with any error rejected whole and reported (row, column,
reason), the good rows saved in one transaction; a re-run of the same file writes the same values (no duplicates)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm import audit
from crm.excel import Column, write_sheet
from crm.excel_import import SpreadsheetError, column_letter, read_table
from crm.extensions import db
from crm.models import User
from crm.timeutil import utcnow
from plugins.scorecards import services
from plugins.scorecards.models import ScorecardActual, ScorecardPeriod, ScorecardScheme

P = "scorecards."
ID_HEADERS = ("工号", "员工工号", "登录名", "身份证号码")
NAME_HEADERS = ("姓名", "员工姓名")
OUTLET_HEADERS = ("所属网点", "网点")
MAX_ROWS = 20_000


class ImportRefused(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class RowError:
    row: int
    column: str
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    saved_rows: int = 0
    values: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len({e.row for e in self.errors})


def _norm(text: Any) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).strip().replace(" ", "")


def write_template(target: IO[bytes], actor: Any, period: ScorecardPeriod, scheme: ScorecardScheme,
                   subjects: list[services.Subject]) -> int:
    fields = [f for f in services.scheme_inputs(scheme) if not f.crm]
    figures = services.actuals_of(period.id, subjects)
    staff = [s.id for s in subjects if s.kind == "staff"]
    # 工号 where the person has one, else the login (what the import matches on).
    idents = {uid: staff_no or login for uid, login, staff_no in db.session.execute(
        select(User.id, User.login, User.staff_no).where(User.id.in_(staff)))} if staff else {}
    columns = [Column("工号", 14), Column("姓名", 10, "plain"), Column("所属网点", 16, "plain"),
               *[Column(f.label + (f"（{f.unit}）" if f.unit and f.kind != "bool" else ""), 14, "plain")
                 for f in fields]]

    def rows():
        for s in subjects:
            values = figures.get((s.kind, s.id), {})
            ident = idents.get(s.id, "") if s.kind == "staff" else str(s.id)
            cells = []
            for f in fields:
                v = values.get(f.key)
                cells.append(None if v is None else ("是" if v else "否") if f.kind == "bool" else v.normalize())
            yield [ident, s.name, s.outlet_name, *cells]

    note = _("%(p)s · %(s)s：按行填写，工号和姓名须与系统一致；是否类填“是”或“否”；空白单元格不导入（不会清除已有数据）",
             p=period.label, s=scheme.name)
    return write_sheet(target, scheme.name[:31], columns, rows(), note=note)


def import_actuals(actor: Any, period: ScorecardPeriod, scheme: ScorecardScheme, data: bytes, filename: str
                   ) -> ImportReport:
    services._require("enter", actor)
    try:
        services._editable(period)
    except services.ServiceError as exc:
        raise ImportRefused(str(exc)) from None
    try:
        table = read_table(data, filename)
    except SpreadsheetError as exc:
        raise ImportRefused(exc.message) from None
    fields = [f for f in services.scheme_inputs(scheme) if not f.crm]
    by_label: dict[str, services.InputField] = {}
    for f in fields:
        by_label[_norm(f.label)] = f
        by_label[_norm(f.key)] = f
        if f.unit and f.kind != "bool":
            by_label[_norm(f"{f.label}（{f.unit}）")] = f
    try:
        rows = table.rows()  # one iterator: the header is read from it, the data rows follow
        header_row, header = _header(rows)
        id_col = _find(header, ID_HEADERS)
        name_col = _find(header, NAME_HEADERS)
        if id_col is None:
            raise ImportRefused(_("表头缺少“工号”列（可下载录入模板）"))
        columns = {i: by_label[_norm(h)] for i, h in enumerate(header) if _norm(h) in by_label}
        if not columns:
            raise ImportRefused(_("表头中没有本方案的考核指标列，请使用本方案的录入模板"))
        people, outlets = services.branch_subjects(period.branch_id)
        assessed = {s.id: s for s in services.assessed_by(scheme, people, outlets)}
        idents = _identities(list(assessed))
        allowed = services.scope_checker(actor)
        report = ImportReport()
        accepted: list[tuple[services.Subject, dict[str, Decimal]]] = []
        seen: dict[int, int] = {}
        for number, cells in rows:
            report.rows += 1
            if report.rows > MAX_ROWS:
                raise ImportRefused(_("一次最多导入 %(n)d 行", n=MAX_ROWS))
            errors = _row(number, cells, id_col, name_col, columns, assessed, idents, allowed, seen, accepted)
            report.errors.extend(errors)
    finally:
        table.close()
    _save(actor, period, accepted, report)
    return report


def _header(rows) -> tuple[int, list[str]]:
    """The header is the first row that holds a 工号 column (the template has a note row above it)."""
    for number, cells in rows:
        texts = [_norm(c) for c in cells]
        if any(t in ID_HEADERS for t in texts):
            return number, texts
        if number > 5:
            break
    raise ImportRefused(_("前5行中没有找到表头（须含“工号”列），请使用录入模板"))


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    for i, h in enumerate(header):
        if h in names:
            return i
    return None


def _identities(user_ids: list[int]) -> dict[str, tuple[int, str]]:
    """工号 (staff number) or login → (user id, name), for the people the scheme assesses."""
    out: dict[str, tuple[int, str]] = {}
    for uid, login, staff_no, name in db.session.execute(
            select(User.id, User.login, User.staff_no, User.name).where(User.id.in_(user_ids))):
        out[login.upper()] = (uid, name)
        if staff_no:
            out[staff_no.upper()] = (uid, name)
    return out


def _row(number: int, cells: list[Any], id_col: int, name_col: int | None, columns: dict[int, Any],
         assessed: dict[int, services.Subject], idents: dict[str, tuple[int, str]], allowed: Any,
         seen: dict[int, int], accepted: list) -> list[RowError]:
    def cell(i: int) -> Any:
        return cells[i] if i < len(cells) else None

    errors: list[RowError] = []
    raw_id = cell(id_col)
    ident = _norm(int(raw_id) if isinstance(raw_id, float) and raw_id.is_integer() else raw_id).upper()
    found = idents.get(ident)
    letter = column_letter(id_col)
    if not ident:
        return [RowError(number, letter, _("工号为空"))]
    if found is None:
        return [RowError(number, letter, _("工号%(i)s不是本方案考核的人员", i=ident[:30]))]
    user_id, name = found
    if name_col is not None and _norm(cell(name_col)) and _norm(cell(name_col)) != _norm(name):
        return [RowError(number, column_letter(name_col), _("姓名与工号不符（系统中为%(n)s）", n=name))]
    subject = assessed[user_id]
    if not allowed(subject):
        return [RowError(number, letter, _("%(n)s不在您的管辖范围内（本人数据由上级录入）", n=name))]
    if user_id in seen:
        return [RowError(number, letter, _("与第%(r)d行是同一人，请合并为一行", r=seen[user_id]))]
    seen[user_id] = number
    values: dict[str, Decimal] = {}
    for i, f in columns.items():
        raw = cell(i)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if isinstance(raw, float):
            raw = format(raw, ".15g")  # calamine gives numbers as float: back to the text typed (no float kept)
        try:
            values[f.key] = services.parse_value(f, raw)
        except services.ServiceError as exc:
            errors.append(RowError(number, column_letter(i), str(exc)))
    if not errors and values:
        accepted.append((subject, values))
    return errors


def _save(actor: Any, period: ScorecardPeriod, accepted: list, report: ImportReport) -> None:
    """All accepted rows in one transaction: update what exists, insert the rest (a re-run changes nothing)."""
    if not accepted:
        db.session.rollback()
        return
    ids = [s.id for s, _v in accepted]
    keys = {k for _s, v in accepted for k in v}
    existing = {(a.subject_id, a.code): a for a in db.session.execute(select(ScorecardActual).where(
        ScorecardActual.period_id == period.id, ScorecardActual.subject == "staff",
        ScorecardActual.subject_id.in_(ids), ScorecardActual.code.in_(keys))).scalars()}
    now = utcnow()
    changed = 0
    for subject, values in accepted:
        for key, value in values.items():
            row = existing.get((subject.id, key))
            if row is None:
                db.session.add(ScorecardActual(period_id=period.id, subject=subject.kind, subject_id=subject.id,
                                               user_id=subject.user_id, outlet_id=subject.outlet_id,
                                               branch_id=subject.branch_id, code=key, value=value, source="import",
                                               updated_by_id=actor.id, updated_at=now))
                changed += 1
            elif row.value != value:
                row.value, row.source, row.updated_by_id, row.updated_at = value, "import", actor.id, now
                changed += 1
            report.values += 1
    report.saved_rows = len(accepted)
    if changed:
        services._stale(period)
    audit.record(P + "actuals_imported", target=("scorecards_period", period.id), actor=actor,
                 detail={"rows": report.rows, "saved_rows": report.saved_rows, "values": report.values,
                         "changed": changed, "rejected_rows": report.rejected_rows})
    db.session.commit()

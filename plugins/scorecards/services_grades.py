"""Customer-manager grades of the people in scope: customer scale held, required minimum grade, probation,
provisional 初级, separation notice and assistant eligibility (spec §4.1–4.3, R-72–R-77); grade events recorded."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm import audit
from crm.access import can, scoped
from crm.extensions import db
from crm.models import Customer, Outlet, User
from crm.money import round_half_up
from crm.roles import GRADE_BY_CODE, GRADED_POSTS, grade_label, probation_end
from crm.timeutil import today_local
from plugins.scorecards import grades
from plugins.scorecards.models_grades import EVENT_KINDS, NOTICE_BY, ScorecardGradeEvent
from plugins.scorecards.services import FormErrors, ServiceError

P = "scorecards."
# A 分行 has a few hundred customer managers; the roster stops here and asks for an outlet filter beyond it.
ROSTER_LIMIT = 1000
# R-74 names the customer ("可负责存款800万元以上……的客户"): the required minimum grade follows the largest customer a
# manager holds ("customer"). Set to "total" to apply the thresholds to the sum of all held customers instead.
SCALE_BASIS = "customer"
A_SHORT = {"a_senior": "高级", "a_middle": "中级", "a_junior": "初级"}
YES_NO = {"1": True, "0": False}
MAX_AMOUNT = Decimal("1e15")
NOTE_MAX = 300
# The R-73 threshold ("***万元以上", blank in the source, A-16) is a plugin setting when the 分行 has one.
THRESHOLD_SETTING = "provisional_threshold"


class NotFound(ServiceError):
    """The person does not exist or is outside the actor's scope (the view answers 404, nothing of them)."""


@dataclass(frozen=True)
class Flag:
    level: str   # info | warning | danger (warning and danger are "problems")
    code: str    # gap | ungraded | probation | probation_over | provisional | lapsed | notice | assistant
    text: str

    @property
    def problem(self) -> bool:
        return self.level in ("warning", "danger")


@dataclass
class GradeRow:
    """One person's grade facts on `today` (what the roster shows in a row and the person page in full)."""

    user_id: int
    name: str
    post: str
    outlet_id: int | None
    outlet_name: str
    grade: str | None
    grade_effective_from: date | None
    scheme: str | None = None                 # A | B | P
    staff_grade: int | None = None            # 行员等级 (R-76, scheme B)
    customers: int = 0
    deposits: Decimal = Decimal(0)            # held customers' deposit balances, total
    loans: Decimal = Decimal(0)               # held customers' loan balances, total
    largest_deposit: Decimal = Decimal(0)     # the largest single held customer
    largest_loan: Decimal = Decimal(0)
    required: str | None = None               # R-74 required minimum (scheme-A code)
    gap: str | None = None                    # why the grade is too low
    probation_ends: date | None = None        # 见习 (R-76, T-29)
    provisional: grades.ProvisionalStatus | None = None  # R-73, T-58
    provisional_granted: date | None = None
    provisional_amount: Decimal | None = None
    notice_on: date | None = None             # R-75, T-59
    notice_by: str | None = None
    separation: tuple[date, date] | None = None
    assessment: dict[str, Any] | None = None  # R-77, T-60: the facts of the latest assessment
    assistant_reasons: list[str] | None = None
    flags: list[Flag] = field(default_factory=list)

    @property
    def grade_label(self) -> str:
        return grade_label(self.grade)

    @property
    def problem(self) -> bool:
        return any(f.problem for f in self.flags)

    @property
    def provisional_grade(self) -> str | None:
        """R-73: "a_junior" while a provisional 初级 runs or after it was confirmed by the exam, else None."""
        return self.provisional.grade if self.provisional is not None else None


# ---------------------------------------------------------------- helpers

def wan(amount: Decimal | None) -> str:
    """Yuan → 万元 with two decimals, half up, grouped: 8000000 → "800.00"."""
    if amount is None:
        return "—"
    return f"{round_half_up(Decimal(amount).scaleb(-4), 2):,.2f}"


def short_grade(code: str | None) -> str:
    return A_SHORT.get(code or "", grade_label(code))


def _threshold(person: Any) -> Decimal | None:
    """A-16: the provisional threshold of the person's 分行, when one is configured (a positive amount in yuan)."""
    registry = current_app.extensions["crm"]
    try:
        value = registry.settings("scorecards", person.root_branch_id).get(THRESHOLD_SETTING)
    except (KeyError, ValueError):
        return None
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount > 0 else None


def _people_stmt(viewer: Any, *, outlet_id: int | None = None, grade: str | None = None):
    """Active customer managers (crm.roles.GRADED_POSTS) the viewer may see."""
    stmt = scoped(User, viewer).where(User.post.in_(GRADED_POSTS), User.active.is_(True))
    if outlet_id is not None:
        stmt = stmt.where(User.outlet_id == outlet_id)
    if grade == "none":
        stmt = stmt.where(User.grade.is_(None) | (User.grade == ""))
    elif grade:
        stmt = stmt.where(User.grade == grade)
    return stmt


def _holdings(viewer: Any, people_ids) -> dict[int, tuple[int, Decimal, Decimal, Decimal, Decimal]]:
    """R-74: per maintainer, ONE grouped query over the customers the viewer may see: count, deposit total, loan
    total, largest deposit, largest loan. Deposits are Customer.deposit_balance, loans Customer.loan_balance (the
    balances the core keeps on the customer; product rows are detail and are not summed again)."""
    stmt = (scoped(Customer, viewer)
            .with_only_columns(Customer.maintainer_id, func.count(Customer.id),
                               func.coalesce(func.sum(Customer.deposit_balance), 0),
                               func.coalesce(func.sum(Customer.loan_balance), 0),
                               func.coalesce(func.max(Customer.deposit_balance), 0),
                               func.coalesce(func.max(Customer.loan_balance), 0))
            .where(Customer.maintainer_id.in_(people_ids))
            .group_by(Customer.maintainer_id))
    return {r[0]: (int(r[1]), _dec(r[2]), _dec(r[3]), _dec(r[4]), _dec(r[5])) for r in db.session.execute(stmt)}


def _dec(value: Any) -> Decimal:
    """An aggregate as Decimal money (SQLite may hand back an int or a str; never through float)."""
    if isinstance(value, Decimal):
        return round_half_up(value, 2)
    return round_half_up(Decimal(str(value)), 2)


def _events_of(viewer: Any, people_ids) -> dict[int, list[ScorecardGradeEvent]]:
    rows = db.session.execute(scoped(ScorecardGradeEvent, viewer)
                              .where(ScorecardGradeEvent.user_id.in_(people_ids))
                              .order_by(ScorecardGradeEvent.user_id, ScorecardGradeEvent.on,
                                        ScorecardGradeEvent.id)).scalars()
    out: dict[int, list[ScorecardGradeEvent]] = defaultdict(list)
    for e in rows:
        out[e.user_id].append(e)
    return out


def _latest(events: list[ScorecardGradeEvent], kind: str, today: date) -> ScorecardGradeEvent | None:
    found = None
    for e in events:  # in (on, id) order: the last one on or before today wins
        if e.kind == kind and e.on <= today:
            found = e
    return found


# ---------------------------------------------------------------- one person's facts

def _scale(row: GradeRow) -> None:
    """R-74, A-17: the required minimum grade of the customers held and the gap when the grade is lower.
    Only scheme-A grades are compared (scheme B has 管户对等 but no scale table, A-31); a manager without a grade
    but with a running provisional 初级 (R-73) is compared as 初级."""
    if SCALE_BASIS == "total":
        deposits, loans = row.deposits, row.loans
    else:
        deposits, loans = row.largest_deposit, row.largest_loan
    row.required = grades.required_minimum_grade(deposits, loans)
    held = row.grade if row.scheme == "A" else row.provisional_grade
    if held in grades.A_LADDER and grades.A_LADDER.index(held) < grades.A_LADDER.index(row.required):
        basis = _("所管客户存款余额合计%(d)s万元、贷款余额合计%(l)s万元") if SCALE_BASIS == "total" else \
            _("所管最大单户存款余额%(d)s万元、贷款余额%(l)s万元")
        row.gap = _("%(b)s，按客户规模须由%(r)s及以上负责，当前为%(g)s", b=basis % {"d": wan(deposits), "l": wan(loans)},
                    r=grade_label(row.required), g=grade_label(held))
        row.flags.append(Flag("danger", "gap", _("等级偏低：管户规模应达%(g)s", g=short_grade(row.required))))


def _probation(row: GradeRow, today: date) -> None:
    """R-76, T-29: 见习 lasts one year from the grade's effective date (crm.roles.probation_end)."""
    g = GRADE_BY_CODE.get(row.grade or "")
    if g is None or not g.probation:
        return
    row.probation_ends = probation_end(row.grade, row.grade_effective_from)
    if row.probation_ends is None:
        row.flags.append(Flag("warning", "probation", _("见习期起始日期未填写")))
    elif today <= row.probation_ends:
        row.flags.append(Flag("info", "probation", _("见习期至%(d)s", d=row.probation_ends.isoformat())))
    else:
        row.flags.append(Flag("warning", "probation_over",
                              _("见习期已于%(d)s届满，请评定等级", d=row.probation_ends.isoformat())))


def _provisional(row: GradeRow, events: list[ScorecardGradeEvent], today: date) -> None:
    """R-73, T-58: the latest grant on or before today; the first exam pass on or after it ends the provisional
    year (grades.provisional_status decides: pass before the anniversary → qualified, else 业务代办员)."""
    grant = _latest(events, "provisional", today)
    if grant is None:
        return
    passed = [e.on for e in events if e.kind == "qualified" and e.on >= grant.on]
    status = grades.provisional_status(grant.on, min(passed) if passed else None, today)
    row.provisional, row.provisional_granted, row.provisional_amount = status, grant.on, grant.amount
    if status.status == "provisional":
        last = status.on - timedelta(days=1)  # the provisional year's last day
        row.flags.append(Flag("warning", "provisional", _("临时初级至%(d)s（须在此前通过任职资格考试）",
                                                         d=last.isoformat())))
    elif status.status == "lapsed":
        row.flags.append(Flag("danger", "lapsed", _("已转为业务代办员（自%(d)s起，暂定初级满一年未通过考试）",
                                                   d=status.on.isoformat())))


def _notice(row: GradeRow, events: list[ScorecardGradeEvent], today: date) -> None:
    """R-75, T-59: 7 days' written notice, then hand-over within the following 7 days."""
    notice = _latest(events, "notice", today)
    if notice is None:
        return
    row.notice_on, row.notice_by = notice.on, (notice.facts or {}).get("by")
    row.separation = grades.separation_dates(notice.on)
    earliest, handover = row.separation
    text = _("离职提前通知%(n)s（%(by)s），最早离职%(e)s，交接截止%(h)s", n=notice.on.isoformat(),
             by=str(NOTICE_BY.get(row.notice_by or "", "—")), e=earliest.isoformat(), h=handover.isoformat())
    if today > handover:
        text += _("（已过交接截止日）")
    row.flags.append(Flag("warning", "notice", text))


def _assistant(row: GradeRow, events: list[ScorecardGradeEvent], today: date) -> None:
    """R-77, T-60: the latest assessment's facts checked by grades.assistant_eligibility."""
    found = _latest(events, "assessment", today)
    if found is None:
        return
    facts = dict(found.facts or {})
    row.assessment = facts
    row.assistant_reasons = grades.assistant_eligibility(facts.get("education", ""), bool(facts.get("cba_cert")),
                                                         bool(facts.get("bank_experience")),
                                                         bool(facts.get("good_conduct")))
    if row.assistant_reasons:
        row.flags.append(Flag("warning", "assistant", _("不符合个人客户经理助理条件：%(r)s",
                                                       r="；".join(row.assistant_reasons))))
    else:
        row.flags.append(Flag("info", "assistant", _("符合个人客户经理助理任职条件")))


def _build(person: Any, outlet_name: str, held: tuple | None, events: list[ScorecardGradeEvent],
           today: date) -> GradeRow:
    row = GradeRow(user_id=person.id, name=person.name, post=person.post, outlet_id=person.outlet_id,
                   outlet_name=outlet_name, grade=person.grade or None,
                   grade_effective_from=person.grade_effective_from)
    g = GRADE_BY_CODE.get(row.grade or "")
    row.scheme = g.scheme if g else None
    if g is not None and g.staff_grade is not None:
        row.staff_grade = grades.staff_grade_for(g.code)
    if held is not None:
        row.customers, row.deposits, row.loans, row.largest_deposit, row.largest_loan = held
    _provisional(row, events, today)
    if g is None and row.provisional is None and person.post in GRADED_POSTS:
        row.flags.insert(0, Flag("warning", "ungraded", _("未定级")))
    _scale(row)
    _probation(row, today)
    _notice(row, events, today)
    _assistant(row, events, today)
    return row


# ---------------------------------------------------------------- public API

def grade_roster(user: Any, outlet_id: int | None = None, *, grade: str | None = None, problems_only: bool = False,
                 today: date | None = None, limit: int = ROSTER_LIMIT) -> list[GradeRow]:
    """Every active customer manager in `user`'s scope with their grade facts on `today` (R-72–R-77).

    Set-based: one query for the people (with their outlet), one grouped query for the customers they hold (those
    the viewer may see, by maintainer_id), one for their grade events. `grade` is a grade code or "none";
    `problems_only` keeps rows with a warning. At most `limit` people are read (ordered by outlet, post, id)."""
    today = today or today_local()
    people_stmt = _people_stmt(user, outlet_id=outlet_id, grade=grade)
    people = db.session.execute(
        people_stmt.outerjoin(Outlet, Outlet.id == User.outlet_id).add_columns(Outlet.name)
        .order_by(Outlet.code, User.post, User.id).limit(limit)).all()
    if not people:
        return []
    ids = people_stmt.with_only_columns(User.id)
    held = _holdings(user, ids)
    events = _events_of(user, ids)
    rows = [_build(p, name or "", held.get(p.id), events.get(p.id, []), today) for p, name in people]
    return [r for r in rows if r.problem] if problems_only else rows


def visible_person(actor: Any, user_id: Any) -> Any:
    """The person if `actor` may see them, else NotFound (out of scope and non-existent look the same)."""
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        raise NotFound(_("员工不存在")) from None
    person = db.session.execute(scoped(User, actor).where(User.id == key)).scalar_one_or_none()
    if person is None:
        raise NotFound(_("员工不存在"))
    return person


def grade_facts(viewer: Any, person: Any, today: date | None = None) -> GradeRow:
    """One person's grade facts (the person page), through the viewer's scope like the roster."""
    today = today or today_local()
    ids = select(User.id).where(User.id == person.id)
    held = _holdings(viewer, ids).get(person.id)
    outlet = db.session.get(Outlet, person.outlet_id) if person.outlet_id else None
    return _build(person, outlet.name if outlet else "", held, _events_of(viewer, ids).get(person.id, []), today)


def events_for(viewer: Any, person_id: int) -> list[ScorecardGradeEvent]:
    """The person's grade events the viewer may see, newest first."""
    return list(db.session.execute(scoped(ScorecardGradeEvent, viewer)
                                   .where(ScorecardGradeEvent.user_id == person_id)
                                   .order_by(ScorecardGradeEvent.on.desc(), ScorecardGradeEvent.id.desc())).scalars())


def _text(data: dict[str, Any], key: str) -> str:
    return unicodedata.normalize("NFKC", str(data.get(key) or "")).strip()


def _parse_day(raw: str, errors: dict[str, str], today: date, label: str) -> date | None:
    if not raw:
        errors["on"] = _("请填写%(l)s", l=label)
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors["on"] = _("%(l)s格式不正确，应为年-月-日（如2024-03-01）", l=label)
        return None
    if day > today:
        errors["on"] = _("%(l)s不能晚于今天", l=label)
        return None
    return day


def _parse_amount(raw: str, errors: dict[str, str]) -> Decimal | None:
    """R-73: the cumulative daily-average deposits, in yuan ("3500000" or "350万")."""
    text = raw.replace(",", "").replace("元", "").strip()
    scale = Decimal(1)
    if text.endswith("万"):
        text, scale = text[:-1].strip(), Decimal(10000)
    if not text:
        errors["amount"] = _("请填写本人累计日均存款")
        return None
    try:
        value = Decimal(text) * scale
    except InvalidOperation:
        errors["amount"] = _("累计日均存款须为数字（如3500000或350万）")
        return None
    if not value.is_finite() or value >= MAX_AMOUNT:
        errors["amount"] = _("累计日均存款数值超出范围")
    elif value < 0:
        errors["amount"] = _("累计日均存款不能为负数")
    elif value != value.quantize(Decimal("0.01")):
        errors["amount"] = _("累计日均存款最多保留两位小数（分）")
    else:
        return value
    return None


def _yes_no(data: dict[str, Any], key: str, message: str, errors: dict[str, str]) -> bool | None:
    raw = _text(data, key)
    if raw not in YES_NO:
        errors[key] = message
        return None
    return YES_NO[raw]


def clean_event(person: Any, data: dict[str, Any], today: date) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate one event's fields (Chinese message per field). Returns (values, errors)."""
    errors: dict[str, str] = {}
    kind = _text(data, "kind")
    values: dict[str, Any] = {"kind": kind, "amount": None, "facts": {}, "note": None}
    if kind not in EVENT_KINDS:
        errors["kind"] = _("请选择登记事项")
        return values, errors
    labels = {"provisional": _("暂定日期"), "qualified": _("考试合格日期"), "notice": _("书面通知日期"),
              "assessment": _("审查日期")}
    values["on"] = _parse_day(_text(data, "on"), errors, today, labels[kind])
    if kind == "provisional":
        values["amount"] = _parse_amount(_text(data, "amount"), errors)
        threshold = _threshold(person)
        if values["amount"] is not None and threshold is not None \
                and not grades.provisional_eligible(values["amount"], threshold):
            errors["amount"] = _("累计日均存款未达到暂定初级门槛（%(t)s万元以上）", t=wan(threshold))
    elif kind == "qualified":
        if values["on"] is not None:
            grants = [e.on for e in db.session.execute(select(ScorecardGradeEvent).where(
                ScorecardGradeEvent.user_id == person.id, ScorecardGradeEvent.kind == "provisional")).scalars()]
            if grants and values["on"] < min(grants):
                errors["on"] = _("考试合格日期不能早于暂定初级的日期（%(d)s）", d=min(grants).isoformat())
    elif kind == "notice":
        by = _text(data, "by")
        if by not in NOTICE_BY:
            errors["by"] = _("请选择由谁提出：银行或员工本人")
        values["facts"] = {"by": by}
    elif kind == "assessment":
        education = _text(data, "education")
        if education not in grades.EDUCATION_LADDER:
            errors["education"] = _("请选择学历")
        facts: dict[str, Any] = {"education": education}
        for key, message in (("cba_cert", _("请选择是否取得中国银行业协会个人理财从业资格证书")),
                             ("bank_experience", _("请选择是否具备银行工作经验")),
                             ("good_conduct", _("请选择职业道德是否良好、有无不良记录"))):
            facts[key] = _yes_no(data, key, message, errors)
        values["facts"] = facts
    note = _text(data, "note")
    if len(note) > NOTE_MAX:
        errors["note"] = _("备注最多%(n)d个字", n=NOTE_MAX)
    values["note"] = note or None
    return values, errors


def record_event(actor: Any, user_id: Any, kind: str, data: dict[str, Any], *, today: date | None = None,
                 commit: bool = True) -> ScorecardGradeEvent:
    """Record one grade event about a person in the actor's scope (R-73 provisional/qualified, R-75 notice, R-77
    assessment). Requires scorecards.manage; out of scope → NotFound; bad fields → FormErrors (nothing written);
    audited as scorecards.grade_event. The person's outlet and 支行 are copied onto the row (its scope)."""
    if not can(P + "manage", actor):
        raise ServiceError(_("您的岗位没有此项权限"))
    person = visible_person(actor, user_id)
    if person.id == actor.id:
        raise ServiceError(_("不能为本人登记等级事项"))
    values, errors = clean_event(person, {**data, "kind": kind}, today or today_local())
    if errors:
        raise FormErrors(errors)
    event = ScorecardGradeEvent(user_id=person.id, kind=values["kind"], on=values["on"], amount=values["amount"],
                                facts=values["facts"], note=values["note"], outlet_id=person.outlet_id,
                                branch_id=person.branch_id, created_by_id=actor.id)
    db.session.add(event)
    db.session.flush()
    audit.record(P + "grade_event", target=("scorecards_grade_event", event.id), actor=actor,
                 detail={"user_id": person.id, "kind": event.kind, "on": event.on.isoformat(),
                         "amount": None if event.amount is None else str(event.amount)})
    if commit:
        db.session.commit()
    return event

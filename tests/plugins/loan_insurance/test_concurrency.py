"""Two approvers approve the same case at the same moment: exactly one moves it (the guarded UPDATE on status), the
other is told it was already handled; one transition row, one audit row. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog, User
from plugins.loan_insurance import services as s
from plugins.loan_insurance.models import LoanCase, LoanTransition
from tests.plugins.loan_insurance.test_services import to_approving


def _race(app, case_id: int, user_ids: list[int]) -> tuple[list[str], list[str]]:
    barrier = threading.Barrier(len(user_ids))
    won: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def run(user_id: int) -> None:
        try:
            with app.app_context(), app.test_request_context():
                from flask_login import login_user

                user = db.session.get(User, user_id)
                login_user(user)
                _ = (user.outlet_id, user.post, user.branch, user.login)
                barrier.wait(5)
                try:
                    s.transition(user, case_id, "disbursement_check", on=date(2024, 3, 12))
                    won.append(user.login)
                except s.ServiceError as exc:
                    refused.append(str(exc))
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(uid,)) for uid in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    return won, refused


@pytest.mark.parametrize("round_", range(5))
def test_two_simultaneous_approvals_have_exactly_one_winner(app, li, round_):
    case = to_approving(li)
    won, refused = _race(app, case.id, [li.approver.id, li.approver2.id])
    assert len(won) == 1 and refused == ["该案件已被他人处理，请刷新后查看"]
    db.session.expire_all()
    fresh = db.session.get(LoanCase, case.id)
    winner = li.approver if won == [li.approver.login] else li.approver2
    assert (fresh.status, fresh.approved_by_id) == ("disbursement_check", winner.id)
    assert db.session.scalar(select(func.count()).select_from(LoanTransition).where(
        LoanTransition.case_id == case.id, LoanTransition.to_status == "disbursement_check")) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "loan_insurance.transition", AuditLog.target_id == str(case.id),
        AuditLog.detail["to"].as_string() == "disbursement_check")) == 1


def test_the_status_update_is_guarded_by_the_status_read(app, li):
    """A writer that read 审批 but finds the row moved meanwhile changes nothing (WHERE status = :from)."""
    case = to_approving(li)
    db.session.execute(LoanCase.__table__.update().where(LoanCase.id == case.id).values(status="rejected"))
    db.session.commit()
    with pytest.raises(s.ServiceError, match="该案件已被他人处理"):
        s._move(case, li.approver, "approving", "disbursement_check", None, {"approved_by_id": li.approver.id})
    db.session.expire_all()
    fresh = db.session.get(LoanCase, case.id)
    assert (fresh.status, fresh.approved_by_id) == ("rejected", None)
    assert db.session.scalar(select(func.count()).select_from(LoanTransition).where(
        LoanTransition.case_id == case.id, LoanTransition.to_status == "disbursement_check")) == 0

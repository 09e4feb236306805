"""Two registrations for the last seat at the same moment: exactly one gets it, the other is wait-listed (the seat
is taken by a guarded UPDATE, not check-then-insert). Runs on SQLite and PostgreSQL like the claim race."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import User
from crm.timeutil import today_local
from plugins.salon_events import services
from plugins.salon_events.models import SalonCampaign, SalonRegistration, SalonRoute, SalonSession
from tests.plugins.salon_events.conftest import cust
from tests.plugins.salon_events.test_rules import SEED_ROUTES, campaign, make_round


def _race(app, user_ids: list[int], target_model, target_id: int, inputs: list[services.RegistrationInput]):
    barrier = threading.Barrier(len(inputs))
    results: list[str] = []
    errors: list[BaseException] = []

    def run(user_id: int, data: services.RegistrationInput) -> None:
        try:
            with app.app_context(), app.test_request_context():
                from flask_login import login_user

                user = db.session.get(User, user_id)
                login_user(user)
                target = db.session.get(target_model, target_id)
                _ = (user.outlet_id, user.post, user.outlet, target.campaign_id, target.seats_taken)
                barrier.wait(5)
                results.append(services.register(user, target, data).status)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(uid, data)) for uid, data in zip(user_ids, inputs, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    return results


@pytest.mark.parametrize("round_", range(3))
def test_last_seat_of_a_round_goes_to_exactly_one(app, se, round_):
    c = campaign(se)
    s = make_round(se, c, capacity=2)
    first = cust(se.a)
    services_user = se.head_a
    from tests.plugins.salon_events.conftest import as_user

    as_user(services_user, services.register, s, services.RegistrationInput(customer_id=first.id, child_name="先到",
                                                                            child_age=7))
    p1, p2 = cust(se.a), cust(se.a, maintainer=se.lobby_a)  # the lobby manager sees the customers they maintain
    results = _race(app, [se.head_a.id, se.lobby_a.id], SalonSession, s.id, [
        services.RegistrationInput(customer_id=p1.id, child_name="甲", child_age=6),
        services.RegistrationInput(customer_id=p2.id, child_name="乙", child_age=6)])
    assert sorted(results) == ["registered", "waitlisted"]
    db.session.expire_all()
    assert db.session.get(SalonSession, s.id).seats_taken == 2
    counts = dict(db.session.execute(select(SalonRegistration.status, func.count()).group_by(
        SalonRegistration.status)).all())
    assert counts == {"registered": 2, "waitlisted": 1}


def test_last_seat_of_a_study_tour_route_goes_to_exactly_one(app, se):
    c = campaign(se, kind="study_tour", name="游学")
    from tests.plugins.salon_events.conftest import as_user

    deadline = today_local() + timedelta(days=5)
    r = as_user(se.marketing1, services.save_route, db.session.get(SalonCampaign, c.id), {
        **SEED_ROUTES[0], "deadline": deadline.isoformat(), "depart_on": (deadline + timedelta(days=9)).isoformat(),
        "return_on": (deadline + timedelta(days=22)).isoformat(), "group_size": "1"})
    p1, p2 = cust(se.a), cust(se.a, maintainer=se.lobby_a)  # the lobby manager sees the customers they maintain
    results = _race(app, [se.head_a.id, se.lobby_a.id], SalonRoute, r.id, [
        services.RegistrationInput(customer_id=p1.id, child_name="甲", school_grade="m1"),
        services.RegistrationInput(customer_id=p2.id, child_name="乙", school_grade="h1")])
    assert sorted(results) == ["registered", "waitlisted"]
    db.session.expire_all()
    assert db.session.get(SalonRoute, r.id).seats_taken == 1

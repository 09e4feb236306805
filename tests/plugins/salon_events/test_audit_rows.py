"""客户沙龙 in the browser: every action of the day and of the certificate page writes exactly one audit row, naming
who did it, what it was done to and the values that matter (issue 8, promise 6). A refused action writes none —
except the refused 支行行长 signature, which is itself on record once (result "denied") and shown in Chinese."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import User
from crm.timeutil import today_local
from plugins.salon_events import certificates as certs
from plugins.salon_events import services
from plugins.salon_events.models import (
    SalonCertificate,
    SalonCertTemplate,
    SalonPhoto,
    SalonRegistration,
    SalonSignature,
)
from tests.audit_rows import only_row, rows_of
from tests.plugins.salon_events.conftest import as_user, cust
from tests.plugins.salon_events.test_rules import campaign
from tests.plugins.salon_events.test_web import png_bytes, today_round

BASE = "/p/salon-events"


def page(client, path: str) -> str:
    resp = client.get(path)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def login(client, user: User) -> None:
    assert client.login(user.login).status_code == 302


def registered(se, session, child_name: str = "赵小宝") -> SalonRegistration:
    parent = cust(se.a, name=f"{child_name}家长")
    return as_user(se.head_a, services.register, session,
                   services.RegistrationInput(customer_id=parent.id, child_name=child_name, child_age=8))


# ---------------------------------------------------------------- the day: check-in, photos, outcomes

def test_check_in_and_its_undo_write_one_row_each(client, se):
    """The lobby manager checks a child in and takes it back: one "salon_events.checked_in" and one
    "salon_events.check_in_undone" row, both naming the registration. A double tap (the child is already checked
    in) and a refused undo (a certificate was issued) add no row."""
    s = today_round(se, campaign(se))
    reg = registered(se, s)
    target = ("salon_events_registration", reg.id)
    login(client, se.lobby_a)
    assert client.post(f"{BASE}/registrations/{reg.id}/checkin", {"present": "1"}).status_code == 302
    assert "赵小宝 已签到" in page(client, f"{BASE}/rounds/{s.id}/checkin")
    only_row("salon_events.checked_in", se.lobby_a, target)
    assert rows_of("salon_events.check_in_undone") == []
    # A second tap on the same child (or a second tablet): still checked in by the first, no second row.
    first = db.session.get(SalonRegistration, reg.id).checked_in_at
    client.post(f"{BASE}/registrations/{reg.id}/checkin", {"present": "1"})
    again = db.session.get(SalonRegistration, reg.id)
    assert (again.attended, again.checked_in_at, again.checked_in_by_id) == (True, first, se.lobby_a.id)
    only_row("salon_events.checked_in", se.lobby_a, target)

    assert client.post(f"{BASE}/registrations/{reg.id}/checkin", {"present": "0"}).status_code == 302
    assert "已撤销签到" in page(client, f"{BASE}/rounds/{s.id}/checkin")
    only_row("salon_events.check_in_undone", se.lobby_a, target)
    only_row("salon_events.checked_in", se.lobby_a, target)  # the undo is its own row, not a second check-in
    assert db.session.get(SalonRegistration, reg.id).attended is False

    # Checked in again and a certificate issued: the undo is refused, in Chinese, and not recorded as done.
    client.post(f"{BASE}/registrations/{reg.id}/checkin", {"present": "1"})
    assert len(rows_of("salon_events.checked_in")) == 2  # a real second check-in after the undo
    db.session.add(SalonCertificate(registration_id=reg.id, campaign_id=reg.campaign_id, session_id=s.id,
                                    outlet_id=se.a.id, number="BBYH2026-00001", token="t" * 40,
                                    child_name="赵小宝", issued_on=today_local()))
    db.session.commit()
    client.post(f"{BASE}/registrations/{reg.id}/checkin", {"present": "0"})
    assert "已出具实习证明，不能撤销签到" in page(client, f"{BASE}/rounds/{s.id}/checkin")
    assert db.session.get(SalonRegistration, reg.id).attended is True
    only_row("salon_events.check_in_undone", se.lobby_a, target)


def test_photo_upload_writes_one_row_naming_the_round_the_photo_and_the_registration(client, se):
    s = today_round(se, campaign(se))
    reg = registered(se, s, "孙小宝")
    login(client, se.head_a)
    # Not an image: refused with the reason, nothing stored, nothing recorded.
    client.post(f"{BASE}/rounds/{s.id}/photos", {"registration_id": str(reg.id),
                                                 "photo": (io.BytesIO(b"<script>alert(1)</script>"), "x.png")},
                content_type="multipart/form-data")
    assert "文件不是有效的图片" in page(client, f"{BASE}/rounds/{s.id}")
    assert rows_of("salon_events.photo_uploaded") == []
    resp = client.post(f"{BASE}/rounds/{s.id}/photos", {"registration_id": str(reg.id),
                                                        "photo": (io.BytesIO(png_bytes((900, 600))), "合影.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    assert "照片已上传" in page(client, f"{BASE}/rounds/{s.id}")
    photo = db.session.execute(select(SalonPhoto)).scalar_one()
    only_row("salon_events.photo_uploaded", se.head_a, ("salon_events_session", s.id), photo=photo.id,
             registration=reg.id)


def test_outcome_writes_one_row_with_card_policies_and_premium(client, se):
    s = today_round(se, campaign(se))
    reg = registered(se, s, "钱小宝")
    login(client, se.head_a)
    # A wrong figure: refused in Chinese, nothing recorded.
    client.post(f"{BASE}/registrations/{reg.id}/outcome", {"card_opened": "1", "policies": "三"})
    assert "保单件数应为0至99的整数" in page(client, f"{BASE}/rounds/{s.id}")
    assert rows_of("salon_events.outcome") == []
    resp = client.post(f"{BASE}/registrations/{reg.id}/outcome", {"card_opened": "1", "policies": "2",
                                                                   "booked_premium": "12,000"})
    assert resp.status_code == 302
    assert "成效已登记" in page(client, f"{BASE}/rounds/{s.id}")
    only_row("salon_events.outcome", se.head_a, ("salon_events_registration", reg.id), card=True, policies=2,
             premium="12000.00")  # the amount as a string of the Decimal, never a float
    saved = db.session.get(SalonRegistration, reg.id)
    assert (saved.card_opened, saved.policies, str(saved.booked_premium)) == (True, 2, "12000.00")


# ---------------------------------------------------------------- the certificate page (A-10, T-10)

def test_certificate_template_save_writes_one_row_and_a_stale_save_none(client, se):
    kids = campaign(se)
    url = f"{BASE}/certificates/campaign/{kids.id}/template"
    login(client, se.marketing1)
    bad = client.post(url, {"title": "", "body": "{child}", "footer": "", "version": "0"})
    assert bad.status_code == 422 and "请填写证书标题" in bad.get_data(as_text=True)
    assert rows_of("salon_events.cert_template_saved") == []
    resp = client.post(url, {"title": "实习证明", "body": "{child}小朋友表现优秀", "footer": "甲分行", "version": "0"})
    assert resp.status_code == 303
    assert "证书模板已保存" in page(client, resp.headers["Location"])
    only_row("salon_events.cert_template_saved", se.marketing1, ("salon_events_campaign", kids.id))
    assert db.session.get(SalonCertTemplate, kids.id).updated_by_id == se.marketing1.id
    stale = client.post(url, {"title": "实习证明", "body": "{child}二", "footer": "", "version": "0"})
    assert stale.status_code == 409 and "证书模板已被他人修改" in stale.get_data(as_text=True)
    only_row("salon_events.cert_template_saved", se.marketing1, ("salon_events_campaign", kids.id))


def _upload_signature(client, camp, sub_branch, signer):
    return client.post(f"{BASE}/certificates/campaign/{camp.id}/signatures", {
        "sub_branch": str(sub_branch.id), "signer": str(signer.id),
        "image": (io.BytesIO(certs.sample_signature_png()), "sig.png"),
        "seal": (io.BytesIO(certs.sample_seal_png()), "seal.png")}, content_type="multipart/form-data")


def test_signature_refused_then_recorded_one_row_each(client, se):
    """A-10: marketing tries to sign as the 支行行长 — refused in Chinese, one "denied" row naming the campaign, the
    支行 and the would-be signer; the real 支行行长's signature then writes one row naming the signature."""
    kids = campaign(se)
    login(client, se.marketing1)
    refused = _upload_signature(client, kids, se.s1, se.marketing1)
    assert refused.status_code == 422
    assert "营销一 不是该支行的支行行长，不能作为实习证明的签名人（签名人须为支行行长）。" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SalonSignature)) == 0
    only_row("salon_events.signature_refused", se.marketing1, ("salon_events_campaign", kids.id), result="denied",
             sub_branch=se.s1.id, signer=se.marketing1.id)
    assert rows_of("salon_events.signature_recorded") == []

    resp = _upload_signature(client, kids, se.s1, se.president1)
    assert resp.status_code == 303
    assert "已登记" in page(client, resp.headers["Location"])
    sig = db.session.execute(select(SalonSignature)).scalar_one()
    only_row("salon_events.signature_recorded", se.marketing1, ("salon_events_signature", sig.id),
             campaign=kids.id, sub_branch=se.s1.id, signer=se.president1.id, seal=True)
    only_row("salon_events.signature_refused", se.marketing1, ("salon_events_campaign", kids.id), result="denied")

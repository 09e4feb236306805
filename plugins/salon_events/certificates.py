"""实习证明 (R-30 step 4, T-10): numbering, signatures, issuing, rendering through crm/pdf.py, verification.

- Certificates exist only for children who attended (registration status 'registered' and attended): never issued,
  printed or verified as genuine for anyone else.
- Each round needs the 支行行长's signature recorded BEFORE the round starts (A-10, T-10); the latest signature
  recorded before the start is the one printed. None → printing that round is refused with a message.
- A batch (a round or a whole campaign) is ONE multi-page PDF: one WeasyPrint render with crm/pdf.py's SafeFetcher
  and BASE_CSS, one page per certificate.
- Images reach WeasyPrint only as data: URLs built here from this campaign's stored files (signature, seal) and
  the QR code made by zxing-cpp; the template escapes every name, so `<img src=file:///…>` prints as text.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import gc
import io
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from PIL import Image
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError

from crm import audit, pdf, qr
from crm.access import scoped
from crm.extensions import db
from crm.models import Outlet, User
from crm.timeutil import to_local, utcnow
from plugins.salon_events import uploads
from plugins.salon_events.models import (
    SalonCampaign,
    SalonCertificate,
    SalonCertPrint,
    SalonCertTemplate,
    SalonRegistration,
    SalonSession,
    SalonSignature,
)

PDF_TEMPLATE = "salon_events/cert_pdf.html"
CSS_FILE = Path(__file__).parent / "static" / "cert.css"

DEFAULT_TITLE = "实习证明"
DEFAULT_BODY = ("{child}小朋友：\n"
                "于{date}在{outlet}参加“{campaign}”活动，在银行工作人员的带领下参观了业务办理区、自助服务区和大堂经理区，"
                "学习了识别假币、安全用卡和储蓄理财的知识，认真完成了各项实习任务，表现优秀。\n"
                "特发此证，以资鼓励。")
DEFAULT_FOOTER = "本证明由总行统一设计，扫描二维码可验证真伪。"
PLACEHOLDERS = {"child": _l("孩子姓名"), "outlet": _l("网点"), "date": _l("活动日期"), "campaign": _l("活动名称")}
_PLACEHOLDER = re.compile(r"\{(child|outlet|date|campaign)\}")
_UNKNOWN_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
MAX_TITLE, MAX_BODY, MAX_FOOTER = 20, 600, 120

SIGNER_POST = "sub_branch_president"  # the signer is the 支行行长
CERT_KINDS = ("kids",)  # 实习证明 belong to the 宝贝银行家 intern day
# Certificates in one PDF: 500 stay under 400 MB at the peak (bench/certificates.py); more, print round by round.
MAX_BATCH = 500
# More certificates than this in one print (≈3 s of rendering) become a background job (views_cert.py, crm/jobs.py):
# a campaign of 500 takes 30–90 s, beyond the web server's request timeout. Config: SALON_EVENTS_CERT_BACKGROUND.
BACKGROUND_CERTIFICATES = 30

# progress(stage, n): "issued" (n certificates to print), "rendering" (n pages laid out so far), "writing" (n pages)
Progress = Callable[[str, int], None]


class CertError(ValueError):
    """A refusal a user reads (Chinese), e.g. the signature was recorded after the round started."""


# ---------------------------------------------------------------- text of the template

def cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class CertText:
    title: str = DEFAULT_TITLE
    body: str = DEFAULT_BODY
    footer: str = DEFAULT_FOOTER


def text_of(campaign_id: int) -> CertText:
    row = db.session.get(SalonCertTemplate, campaign_id)
    if row is None:
        return CertText()
    return CertText(row.title or DEFAULT_TITLE, row.body or DEFAULT_BODY, row.footer or "")


def check_text(title: str, body: str, footer: str) -> dict[str, str]:
    """Field → error message (Chinese); empty when the template text can be saved."""
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = _("请填写证书标题。")
    elif len(title) > MAX_TITLE:
        errors["title"] = _("证书标题最多 %(n)s 个字。", n=MAX_TITLE)
    if "{child}" not in body:
        errors["body"] = _("正文必须包含 {child}（孩子姓名），否则证书上不会出现孩子的名字。")
    elif len(body) > MAX_BODY:
        errors["body"] = _("正文最多 %(n)s 个字。", n=MAX_BODY)
    else:
        unknown = [m for m in _UNKNOWN_PLACEHOLDER.findall(body) if not _PLACEHOLDER.fullmatch(m)]
        if unknown:
            errors["body"] = _("正文中的 %(p)s 不是可用的占位符；可用：{child} {outlet} {date} {campaign}。",
                               p="、".join(dict.fromkeys(unknown)))
    if len(footer) > MAX_FOOTER:
        errors["footer"] = _("页脚最多 %(n)s 个字。", n=MAX_FOOTER)
    return errors


@dataclass(frozen=True)
class Paragraph:
    html: Markup
    lead: bool  # a salutation line ("某某小朋友：") is not indented


def fill_body(body: str, values: dict[str, str]) -> list[Paragraph]:
    """The body's lines as paragraphs, placeholders replaced by the (escaped) values, everything else escaped.
    Spaces are dropped from the user's Chinese text (a space between two Chinese characters is a line-break
    opportunity and looks like a gap on paper); text indentation is done by CSS."""
    paragraphs = []
    for line in body.replace("\r\n", "\n").split("\n"):
        line = line.strip().replace("\u3000", "")
        if not line:
            continue
        parts: list[str] = []
        for i, piece in enumerate(_PLACEHOLDER.split(line)):
            if i % 2 and piece == "child":  # the child's name is written on a line, as if filled in by hand
                parts.append(str(Markup('<span class="c-fill">{}</span>').format(values.get(piece, ""))))
            elif i % 2:  # outlet, date, campaign: plain text (one element less per certificate each)
                parts.append(str(escape(values.get(piece, ""))))
            else:
                parts.append(str(escape(_squeeze(piece))))
        # Every part above is escaped (escape() or Markup.format()), so the joined line is safe HTML.
        html = Markup("".join(parts))  # nosec B704  # parts escaped above
        paragraphs.append(Paragraph(html, lead=line.endswith(("：", ":"))))
    return paragraphs


_CJK = r"\u3000-\u303f\u3400-\u9fff\uff00-\uffef“”‘’"
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")


def _squeeze(text: str) -> str:
    """Spaces next to a Chinese character go; spaces between Latin words stay ("PK 赛" → "PK赛", "A B" stays)."""
    return _SPACE_NEAR_CJK.sub("", text)


# ---------------------------------------------------------------- images and QR

@functools.lru_cache(maxsize=4096)
def qr_data_uri(url: str) -> str:
    """The QR code of `url` (error correction M) as a PNG data: URL, one pixel per module (a few hundred bytes),
    printed at 25 mm with `image-rendering: pixelated`: sharp edges, and far cheaper for WeasyPrint to lay out and
    draw than an SVG path. zxing-cpp encodes it and picks the mask with the lowest penalty in C++, 0.7 ms a code
    (segno, pure Python, took 6.5 ms: a fifth of a 500-certificate print); codes are cached for reprints."""
    return qr.qr_data_uri(url, ink=_QR_INK)


_QR_INK = [0x11] * 128 + [0xFF] * 128  # dark modules in the near-black of the printed text, light ones white


_MIME = {"png": "image/png", "jpg": "image/jpeg"}


def clear_white_background(path: Path | None) -> None:
    """A signature or seal scanned on white paper: the paper becomes transparent, so the seal overlaps the
    printed text the way ink does instead of covering it with a white disc."""
    if path is None or path.suffix != ".png":
        return
    from PIL import ImageChops

    with Image.open(path) as src:
        image = src.convert("RGBA")
    paper = image.convert("L").point(lambda v: 0 if v >= 235 else 255)
    image.putalpha(ImageChops.multiply(image.getchannel("A"), paper))
    image.save(path, format="PNG", optimize=True)


def image_data_url(stored_name: str | None) -> str | None:
    """A stored signature/seal of this campaign as a data: URL (uploads.path_of accepts only names it made)."""
    path = uploads.path_of(stored_name)
    if path is None:
        return None
    mime = _MIME[path.suffix.lstrip(".").lower()]
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


# ---------------------------------------------------------------- what one page prints

@dataclass(frozen=True)
class CertPage:
    number: str
    child_name: str
    outlet_name: str
    issuer: str  # the 支行 whose 行长 signs, printed above the seal
    campaign_name: str
    issued_on: date
    signer_name: str
    verify_url: str
    signature: str | None = None  # key into the images dict
    seal: str | None = None

    @property
    def issued_on_text(self) -> str:
        return cn_date(self.issued_on)


@dataclass
class PageView:
    """A CertPage with its template text filled in, ready for the Jinja macro."""

    page: CertPage
    title: str
    paragraphs: list[Paragraph]
    footer: str
    qr: str = ""


def page_views(pages: Sequence[CertPage], text: CertText, *, with_qr: bool = True) -> list[PageView]:
    views = []
    for p in pages:
        values = {"child": p.child_name, "outlet": p.outlet_name, "date": p.issued_on_text, "campaign": p.campaign_name}
        views.append(PageView(p, text.title, fill_body(text.body, values), text.footer,
                              qr_data_uri(p.verify_url) if with_qr else ""))
    return views


def cert_css() -> Markup:
    """The certificate design, shared by the PDF and the browser preview (static/cert.css)."""
    return Markup(CSS_FILE.read_text(encoding="utf-8"))  # nosec B704  # our packaged static/cert.css, not user input


def render_html(pages: Sequence[CertPage], text: CertText, images: dict[str, str]) -> str:
    """The HTML handed to WeasyPrint: autoescaped Jinja, no request needed (the certificate is always Chinese)."""
    return current_app.jinja_env.get_template(PDF_TEMPLATE).render(
        views=page_views(pages, text), images=_safe_images(images), cert_css=cert_css(), pdf_base_css=pdf.BASE_CSS)


def render_pdf(pages: Sequence[CertPage], text: CertText, images: dict[str, str]) -> pdf.Rendered:
    """ONE PDF, one A4-landscape page per certificate, in one WeasyPrint render with crm/pdf.py's SafeFetcher
    (static files and data: URLs only; the images here are all data: URLs)."""

    out = io.BytesIO()
    count = _render(pages, text, images, out, None)
    return pdf.Rendered(out.getvalue(), count)


def render_to_file(pages: Sequence[CertPage], text: CertText, images: dict[str, str], target: Path,
                   progress: Progress | None = None) -> int:
    """The same PDF written to `target`, returning its page count. The bytes go to a temporary file in the same
    folder, renamed to `target` only when complete: a failed render leaves no file, half-written or not."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".cert-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            count = _render(pages, text, images, fh, progress)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return count


def _render(pages: Sequence[CertPage], text: CertText, images: dict[str, str], out, progress: Progress | None) -> int:
    """Like the ledger (crm/customers/ledger.py; both use crm/pdf.py's helpers for big renders), automatic garbage collection is paused
    while WeasyPrint lays out (it would walk every box so far, again and again, and free nothing) and one
    collection runs between the layout and the writing, so the layout's leftovers are gone before the fonts are
    subset: a lower peak. With `progress`, the pages laid out so far are reported (WeasyPrint's progress log)."""
    from weasyprint import HTML


    report: Progress = progress or (lambda stage, n: None)
    root = pdf.static_root()
    html = HTML(string=render_html(pages, text, images), base_url=root.as_uri() + "/",
                url_fetcher=pdf.SafeFetcher(root))
    counting = pdf.pages_laid_out(lambda stage, n: report("rendering", n)) if progress else contextlib.nullcontext()
    with counting, pdf.gc_paused():
        document = html.render()
    del html
    count = len(document.pages)
    gc.collect()
    report("writing", count)
    document.write_pdf(target=out)
    del document
    return count


_IMAGE_KEY = re.compile(r"[a-z][a-z0-9_-]{0,40}")
_DATA_URL = re.compile(r"data:image/(png|jpeg|svg\+xml);base64,[A-Za-z0-9+/=]+")


def _safe_images(images: dict[str, str]) -> dict[str, str]:
    """Only base64 data: URLs under simple keys: they end up inside a CSS url(), where HTML escaping does not
    apply, so nothing else may get there."""
    for key, value in images.items():
        if not _IMAGE_KEY.fullmatch(key) or not _DATA_URL.fullmatch(value):
            raise ValueError(f"certificate image {key!r} is not a base64 data: URL")
    return images


# ---------------------------------------------------------------- signatures (A-10, T-10)

def check_signer(signer: User | None, sub_branch_id: int) -> None:
    """A-10: the signer is the 支行行长 of that 支行, with an active account."""
    if signer is None or not signer.active:
        raise CertError(_("请选择签名的支行行长。"))
    if signer.post != SIGNER_POST or signer.branch_id != sub_branch_id:
        raise CertError(_("%(name)s 不是该支行的支行行长，不能作为实习证明的签名人（签名人须为支行行长）。",
                          name=signer.name))


def signature_for(session: SalonSession, signatures: Iterable[SalonSignature]) -> SalonSignature | None:
    """The latest signature of the round's 支行 recorded before the round starts (T-10), or None."""
    best = None
    for sig in signatures:
        if sig.sub_branch_id != session.outlet.branch_id or not recorded_before(sig, session):
            continue
        if best is None or (sig.recorded_at, sig.id) > (best.recorded_at, best.id):
            best = sig
    return best


def recorded_before(sig: SalonSignature, session: SalonSession) -> bool:
    # recorded_at is stored in UTC, a round's start in the outlet's local wall-clock time.
    return to_local(sig.recorded_at).replace(tzinfo=None) < session.starts_at


def signature_problem(session: SalonSession, signatures: Sequence[SalonSignature]) -> str | None:
    """Why the round's certificates cannot be printed (Chinese), or None."""
    if signature_for(session, signatures) is not None:
        return None
    sub_branch = session.outlet.branch
    start = session.starts_at.strftime("%Y-%m-%d %H:%M")
    own = [s for s in signatures if s.sub_branch_id == sub_branch.id]
    if not own:
        return _("%(outlet)s %(start)s 场次：%(sub)s尚未登记支行行长签名，不能打印该场次的实习证明。"
                 "请先上传签名（须在场次开始前登记）。", outlet=session.outlet.name, start=start, sub=sub_branch.name)
    first = min(to_local(s.recorded_at) for s in own)
    return _("%(outlet)s %(start)s 场次：支行行长签名登记于 %(at)s，晚于场次开始时间。实习证明须由支行行长在场次开始前签名，"
             "不能打印该场次的证书。", outlet=session.outlet.name, start=start, at=first.strftime("%Y-%m-%d %H:%M"))


def campaign_signatures(campaign_id: int) -> list[SalonSignature]:
    return list(db.session.execute(select(SalonSignature).where(SalonSignature.campaign_id == campaign_id)
                                   .order_by(SalonSignature.recorded_at, SalonSignature.id)).scalars())


# ---------------------------------------------------------------- issuing

def attending(campaign_id: int):
    """The registrations that earn a certificate: a child, a round, registered (not wait-listed/cancelled), attended."""
    return and_(SalonRegistration.campaign_id == campaign_id, SalonRegistration.session_id.is_not(None),
                SalonRegistration.status == "registered", SalonRegistration.attended.is_(True),
                SalonRegistration.child_name.is_not(None), SalonRegistration.child_name != "")


def number_prefix(campaign: SalonCampaign) -> str:
    code = re.sub(r"[^0-9A-Za-z]", "", campaign.code or "").upper() or f"C{campaign.id}"
    return f"{code}{campaign.year}-"


def _next_sequence(campaign: SalonCampaign) -> int:
    prefix = number_prefix(campaign)
    numbers = db.session.execute(select(SalonCertificate.number).where(
        SalonCertificate.campaign_id == campaign.id, SalonCertificate.number.like(prefix + "%"))).scalars()
    tail = [int(n[len(prefix):]) for n in numbers if n[len(prefix):].isdigit()]
    return max(tail, default=0) + 1


def issue(campaign: SalonCampaign, sessions: Sequence[SalonSession], signatures: Sequence[SalonSignature],
          actor: User) -> int:
    """Create the missing certificates of the attending children of `sessions` (whose signature is valid).
    Unique number per certificate (campaign code + year + sequence), random token. Returns how many were made.
    Two people printing at once: the unique constraints make one of them retry (numbers and registrations)."""
    by_session = {s.id: s for s in sessions}
    if not by_session:
        return 0
    for attempt in range(3):
        missing = db.session.execute(
            select(SalonRegistration.id, SalonRegistration.session_id, SalonRegistration.child_name)
            .outerjoin(SalonCertificate, SalonCertificate.registration_id == SalonRegistration.id)
            .where(attending(campaign.id), SalonRegistration.session_id.in_(list(by_session)),
                   SalonCertificate.id.is_(None))
            .order_by(SalonRegistration.session_id, SalonRegistration.id)).all()
        if not missing:
            return 0
        seq = _next_sequence(campaign)
        prefix = number_prefix(campaign)
        now = utcnow()
        rows = []
        for i, (reg_id, session_id, child) in enumerate(missing):
            session = by_session[session_id]
            sig = signature_for(session, signatures)
            rows.append({
                "number": f"{prefix}{seq + i:05d}", "registration_id": reg_id, "campaign_id": campaign.id,
                "session_id": session_id, "outlet_id": session.outlet_id, "child_name": child,
                "issued_on": session.starts_at.date(), "signer_name": sig.signer.name if sig else None,
                "token": secrets.token_urlsafe(24), "issued_at": now, "issued_by_id": actor.id,
                "print_count": 0, "revoked": False})
        _open_transaction()
        try:
            with db.session.begin_nested():
                db.session.execute(SalonCertificate.__table__.insert(), rows)
        except IntegrityError:
            if attempt == 2:
                raise
            continue  # someone else issued some of them meanwhile: read again
        return len(rows)
    return 0


def _open_transaction() -> None:
    """SQLite (pysqlite) opens no transaction for SELECTs: a SAVEPOINT is then the outermost transaction and its
    RELEASE commits at once, so certificates issued for a print that fails later would stay. Open it first."""
    conn = db.session.connection()
    if conn.dialect.name == "sqlite" and not conn.connection.driver_connection.in_transaction:
        conn.exec_driver_sql("BEGIN")


# ---------------------------------------------------------------- printing

def sessions_in_scope(campaign: SalonCampaign, user: User, session_id: int | None = None) -> list[SalonSession]:
    stmt = (scoped(SalonSession, user).where(SalonSession.campaign_id == campaign.id)
            .order_by(SalonSession.starts_at, SalonSession.id))
    if session_id is not None:
        stmt = stmt.where(SalonSession.id == session_id)
    return list(db.session.execute(stmt).scalars())


def check_printable(sessions: Sequence[SalonSession], signatures: Sequence[SalonSignature],
                    with_children: set[int] | None = None) -> None:
    """T-10: every round printed needs its 支行行长's signature recorded before it started. Rounds without
    attending children are skipped (nothing to print, nothing to sign)."""
    problems = [signature_problem(s, signatures) for s in sessions if with_children is None or s.id in with_children]
    problems = [p for p in problems if p]
    if problems:
        raise CertError("\n".join(problems))


def sessions_with_attendees(campaign_id: int, session_ids: Sequence[int]) -> set[int]:
    if not session_ids:
        return set()
    return set(db.session.execute(select(SalonRegistration.session_id).where(
        attending(campaign_id), SalonRegistration.session_id.in_(list(session_ids))).distinct()).scalars())


def certificates_for(campaign_id: int, session_ids: Sequence[int], certificate_id: int | None = None
                     ) -> list[SalonCertificate]:
    """The printable certificates: issued, not revoked, and the child still counted as attending."""
    stmt = (select(SalonCertificate).join(SalonRegistration, SalonRegistration.id == SalonCertificate.registration_id)
            .where(SalonCertificate.campaign_id == campaign_id, SalonCertificate.revoked.is_(False),
                   attending(campaign_id))
            .order_by(SalonCertificate.session_id, SalonCertificate.number))
    if certificate_id is not None:
        stmt = stmt.where(SalonCertificate.id == certificate_id)
    else:
        stmt = stmt.where(SalonCertificate.session_id.in_(list(session_ids)))
    return list(db.session.execute(stmt).scalars())


def verify_url(token: str) -> str:
    return url_for("salon_events_verify.verify", token=token, _external=True)


def build_pages(campaign: SalonCampaign, certs: Sequence[SalonCertificate], sessions: dict[int, SalonSession],
                signatures: Sequence[SalonSignature], url_of: Callable[[str], str] | None = None
                ) -> tuple[list[CertPage], dict[str, str]]:
    """The pages and the images they use (each stored image read once and embedded once in the CSS). `url_of`:
    token → verification URL (a background job has no request to build URLs from: the view passes one)."""
    url_of = url_of or verify_url
    images: dict[str, str] = {}
    pages = []
    for cert in certs:
        session = sessions[cert.session_id]
        sig = signature_for(session, signatures)
        sig_key = seal_key = None
        if sig is not None:
            sig_key, seal_key = f"sig{sig.id}", f"seal{sig.id}"
            if sig_key not in images:
                url = image_data_url(sig.image)
                if url:
                    images[sig_key] = url
                seal = image_data_url(sig.seal)
                if seal:
                    images[seal_key] = seal
        outlet = session.outlet
        pages.append(CertPage(
            number=cert.number, child_name=cert.child_name, outlet_name=outlet.name,
            issuer=issuer_name(outlet), campaign_name=campaign.name, issued_on=cert.issued_on,
            signer_name=cert.signer_name or (sig.signer.name if sig else ""), verify_url=url_of(cert.token),
            signature=sig_key if sig_key in images else None, seal=seal_key if seal_key in images else None))
    return pages, images


def issuer_name(outlet: Outlet) -> str:
    sub = outlet.branch
    parent = sub.parent
    return f"{parent.name}{sub.name}" if parent is not None and sub.level != "branch" else sub.name


@dataclass(frozen=True)
class Printed:
    data: bytes
    pages: int
    count: int
    reprint: bool
    filename: str


def _batch(campaign: SalonCampaign, user: User, session_id: int | None, certificate: SalonCertificate | None
           ) -> tuple[list[SalonSession], list[SalonSignature]]:
    """The rounds printed and the campaign's signatures, after the checks made before anything is written:
    the campaign kind and T-10 (each round with children signed before it started)."""
    if campaign.kind not in CERT_KINDS:
        raise CertError(_("该活动类型不打印实习证明。"))
    signatures = campaign_signatures(campaign.id)
    if certificate is not None:
        session = db.session.get(SalonSession, certificate.session_id)
        sessions = [session] if session is not None else []
    else:
        sessions = sessions_in_scope(campaign, user, session_id)
    check_printable(sessions, signatures, sessions_with_attendees(campaign.id, [s.id for s in sessions]))
    return sessions, signatures


def count_printable(campaign: SalonCampaign, user: User, *, session_id: int | None = None) -> int:
    """How many certificates printing a round / the campaign would give, without writing anything: the attending
    children of the rounds in scope, except those whose certificate was revoked (issued ones and still missing
    ones alike). Raises CertError for what print_certificates would refuse (T-10, nothing to print, too many)."""
    sessions, _signatures = _batch(campaign, user, session_id, None)
    ids = [s.id for s in sessions]
    count = 0
    if ids:
        count = db.session.scalar(
            select(func.count()).select_from(SalonRegistration)
            .outerjoin(SalonCertificate, SalonCertificate.registration_id == SalonRegistration.id)
            .where(attending(campaign.id), SalonRegistration.session_id.in_(ids),
                   SalonCertificate.id.is_(None) | (SalonCertificate.revoked.is_(False)
                                                    & SalonCertificate.session_id.in_(ids)))) or 0
    _check_count(count)
    return count


def _check_count(count: int) -> None:
    if not count:
        raise CertError(_("没有可打印的实习证明：只有已签到（实际参加）的孩子才有证书。"))
    if count > MAX_BATCH:
        raise CertError(_("一次最多打印 %(n)s 张证书（本次 %(m)s 张），请按场次分批打印。", n=MAX_BATCH, m=count))


def print_certificates(campaign: SalonCampaign, user: User, *, session_id: int | None = None,
                       certificate: SalonCertificate | None = None, target: Path | None = None,
                       progress: Progress | None = None, url_of: Callable[[str], str] | None = None) -> Printed:
    """Issue what is missing, then print a round, the whole campaign (the rounds in the user's scope) or one
    certificate as ONE PDF. Validates first (T-10 signatures, something to print), writes second, once:
    certificates issued, print_count, the SalonCertPrint row and the audit row are committed together, after the
    PDF is complete.

    With `target` (a background job) the PDF is written to that file (temporary file renamed when complete; on
    any failure no file and nothing committed) and `Printed.data` is empty; `progress` reports the stages."""
    report: Progress = progress or (lambda stage, n: None)
    sessions, signatures = _batch(campaign, user, session_id, certificate)
    session_ids = [s.id for s in sessions]
    issue(campaign, sessions, signatures, user)
    certs = certificates_for(campaign.id, session_ids, certificate.id if certificate is not None else None)
    try:
        _check_count(len(certs))
    except CertError:
        db.session.rollback()
        raise
    report("issued", len(certs))
    pages, images = build_pages(campaign, certs, {s.id: s for s in sessions}, signatures, url_of)
    text = text_of(campaign.id)
    if target is None:
        rendered = render_pdf(pages, text, images)
        data, page_count = rendered.data, rendered.pages
    else:
        report("rendering", 0)
        data, page_count = b"", render_to_file(pages, text, images, target, progress)
    del pages, images
    try:
        reprint = any(c.print_count > 0 for c in certs)
        now = utcnow()
        ids = [c.id for c in certs]
        db.session.execute(update(SalonCertificate).where(SalonCertificate.id.in_(ids)).values(
            print_count=SalonCertificate.print_count + 1, last_printed_at=now)
            .execution_options(synchronize_session=False))
        db.session.add(SalonCertPrint(campaign_id=campaign.id, session_id=session_id or (
            certificate.session_id if certificate is not None else None), certificate_id=certificate.id if certificate
            else None, count=len(certs), printed_by_id=user.id, printed_at=now, reprint=reprint))
        audit.record("salon_events.certificates_printed", target=("salon_events_campaign", campaign.id), detail={
            "session": session_id, "certificate": certificate.number if certificate is not None else None,
            "count": len(certs), "pages": page_count, "reprint": reprint}, actor=user)
        db.session.commit()
    except BaseException:
        if target is not None:  # not recorded as printed: the finished file is not kept either
            with contextlib.suppress(OSError):
                target.unlink()
        raise
    if certificate is not None:
        name = f"实习证明_{certificate.number}.pdf"
    elif session_id is not None:
        name = f"实习证明_{campaign.name}_{sessions[0].outlet.name}_{sessions[0].starts_at:%Y%m%d%H%M}.pdf"
    else:
        name = f"实习证明_{campaign.name}.pdf"
    return Printed(data, page_count, len(certs), reprint, name)


# ---------------------------------------------------------------- overview for the page

@dataclass(frozen=True)
class RoundRow:
    session: SalonSession
    attending: int
    issued: int
    printed: int
    problem: str | None


def round_rows(campaign: SalonCampaign, user: User) -> list[RoundRow]:
    """Per round in scope: attending children, certificates issued and printed, and the signature problem."""
    sessions = sessions_in_scope(campaign, user)
    if not sessions:
        return []
    ids = [s.id for s in sessions]
    att = dict(db.session.execute(select(SalonRegistration.session_id, func.count()).where(
        attending(campaign.id), SalonRegistration.session_id.in_(ids)).group_by(SalonRegistration.session_id)).all())
    issued = {sid: (n, p) for sid, n, p in db.session.execute(
        select(SalonCertificate.session_id, func.count(),
               func.count().filter(SalonCertificate.print_count > 0))
        .where(SalonCertificate.campaign_id == campaign.id, SalonCertificate.session_id.in_(ids),
               SalonCertificate.revoked.is_(False)).group_by(SalonCertificate.session_id)).all()}
    signatures = campaign_signatures(campaign.id)
    return [RoundRow(s, att.get(s.id, 0), issued.get(s.id, (0, 0))[0], issued.get(s.id, (0, 0))[1],
                     signature_problem(s, signatures) if att.get(s.id) else None) for s in sessions]


# ---------------------------------------------------------------- verification (public)

@dataclass(frozen=True)
class Verification:
    genuine: bool
    number: str
    masked_child: str
    campaign_name: str
    outlet_name: str
    issued_on: date
    reason: str | None = None


_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


def verify(token: str) -> Verification | None:
    """What the public page shows for a QR token: None when no such certificate (or its 分行 has the plugin off).
    Only the child's masked name is shown: no parent, phone, age or school."""
    from crm.masking import mask_name

    if not _TOKEN.fullmatch(token or ""):
        return None
    row = db.session.execute(
        select(SalonCertificate, SalonCampaign, Outlet, SalonRegistration)
        .join(SalonCampaign, SalonCampaign.id == SalonCertificate.campaign_id)
        .join(Outlet, Outlet.id == SalonCertificate.outlet_id)
        .join(SalonRegistration, SalonRegistration.id == SalonCertificate.registration_id)
        .where(SalonCertificate.token == token)).first()
    if row is None:
        return None
    cert, campaign, outlet, reg = row
    registry = current_app.extensions["crm"]
    if "salon_events" not in registry.enabled_names(campaign.branch_id):
        return None
    reason = None
    if cert.revoked:
        reason = _("该证书已作废。")
    elif not (reg.attended and reg.status == "registered"):
        reason = _("该证书对应的报名未登记实际参加，证书无效。")
    return Verification(reason is None, cert.number, mask_name(cert.child_name), campaign.name, outlet.name,
                        cert.issued_on, reason)


# ---------------------------------------------------------------- sample images (demo data, tests, bench)

def sample_signature_png(name: str = "张建国") -> bytes:
    """A handwriting-like signature on a transparent background (Pillow), for demos, tests and the bench."""
    import math

    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.truetype("NotoSansCJK-Regular.ttc", 120, index=2)
    except OSError:
        font = ImageFont.load_default()
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((40, 20), name, font=font, fill=(20, 30, 90, 255))
    img.alpha_composite(layer.transform(img.size, Image.AFFINE, (1, 0.35, -40, 0, 1, 0)))  # slanted, like a pen
    points = [(60 + x * 4.8, 165 + 14 * math.sin(x / 9)) for x in range(110)]
    draw.line(points, fill=(20, 30, 90, 255), width=5)
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def sample_seal_png(text: str = "网点客户关系管理示例专用章") -> bytes:
    """A round red seal: ring, star and the text along the arc (demo only: real seals are scanned)."""
    import math

    from PIL import Image, ImageDraw, ImageFont

    size, red = 480, (200, 20, 30, 235)
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((12, 12, size - 12, size - 12), outline=red, width=16)
    cx = cy = size / 2
    star = [(cx + (70 if i % 2 == 0 else 28) * math.sin(i * math.pi / 5),
             cy - (70 if i % 2 == 0 else 28) * math.cos(i * math.pi / 5)) for i in range(10)]
    draw.polygon(star, fill=red)
    try:
        font = ImageFont.truetype("NotoSansCJK-Bold.ttc", 54, index=2)
    except OSError:
        font = ImageFont.load_default()
    span = 250  # degrees of arc the text covers, centred on the top
    for i, ch in enumerate(text):
        angle = -span / 2 + span * (i + 0.5) / len(text)
        tile = Image.new("RGBA", (70, 70), (0, 0, 0, 0))
        ImageDraw.Draw(tile).text((35, 35), ch, font=font, fill=red, anchor="mm")
        tile = tile.rotate(-angle, resample=Image.BICUBIC)
        r = size / 2 - 82
        x = cx + r * math.sin(math.radians(angle)) - 35
        y = cy - r * math.cos(math.radians(angle)) - 35
        img.alpha_composite(tile, (int(x), int(y)))
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def png_data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")

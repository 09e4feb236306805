"""银保贷 document uploads (R-61) keep only the picture: a JPEG or PNG is decoded and saved afresh, so a phone
photo's EXIF (GPS position, camera) and bytes hidden after the image are not stored, the photo is turned upright,
and what the case's reviewers download is the clean picture at the same size. A PDF is stored as sent."""

from __future__ import annotations

import io

from PIL import Image, ImageChops
from sqlalchemy import select

from crm.extensions import db
from plugins.loan_insurance import uploads
from plugins.loan_insurance.models import LoanDocument
from tests.plugins.loan_insurance.test_services import create
from tests.plugins.loan_insurance.test_web_panel_claims import PDF_BYTES, P, login, upload

PNG_END = b"IEND\xaeB`\x82"  # the PNG end chunk with its CRC: nothing may follow it
TAIL = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def picture(size=(60, 40), mode="RGB") -> Image.Image:
    """A picture with distinct quadrants, so a rotation or a lost pixel shows."""
    im = Image.new(mode, size, (200, 30, 30, 255)[: len(mode)])
    w, h = size
    im.paste((30, 160, 40, 128)[: len(mode)], (w // 2, 0, w, h // 2))
    im.paste((20, 40, 220, 255)[: len(mode)], (0, h // 2, w // 2, h))
    return im


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def stored(case_id: int, code: str = "01") -> LoanDocument:
    db.session.expire_all()
    return db.session.execute(select(LoanDocument).where(LoanDocument.case_id == case_id,
                                                         LoanDocument.code == code)).scalar_one()


def uploaded(client, li, data: bytes, name: str) -> tuple[LoanDocument, bytes]:
    """Upload `data` for line 01 of a new case as the corporate RM: the row and the bytes on disk."""
    case = create(li)
    login(client, li.corp_rm)
    resp = upload(client, case.id, "01", data, name)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    doc = stored(case.id)
    assert doc.received
    return doc, uploads.path_of(doc.stored_name).read_bytes()


def test_a_phone_photo_is_stored_upright_without_its_gps_position(client, li):
    exif = Image.Exif()
    exif[0x0110] = "Phone X"  # Model
    exif[0x0112] = 6  # Orientation: the camera was held upright, the pixels lie on their side
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (31.0, 14.0, 15.5), 3: "E", 4: (121.0, 28.0, 40.2)})
    sent = encode(picture((60, 40)), "JPEG", exif=exif, quality=95)
    assert Image.open(io.BytesIO(sent)).getexif().get_ifd(0x8825)  # the upload really carries a position
    doc, data = uploaded(client, li, sent, "营业执照照片.jpg")
    assert doc.stored_name.endswith(".jpg") and doc.file_name == "营业执照照片.jpg"
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.size == (40, 60)  # turned upright, nothing cut
        assert not im.getexif() and "exif" not in im.info
    assert b"Exif" not in data and b"Phone X" not in data
    got = client.get(f"{P}/documents/{doc.id}")
    assert got.status_code == 200 and got.data == data and got.mimetype == "image/jpeg"
    got.close()


def test_a_png_with_an_html_tail_is_stored_without_the_tail(client, li):
    image = picture()
    sent = encode(image, "PNG") + TAIL
    doc, data = uploaded(client, li, sent, "扫描件.png")
    assert doc.stored_name.endswith(".png")
    assert data.endswith(PNG_END) and b"<script" not in data and b"<html" not in data
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG" and im.size == image.size
        assert ImageChops.difference(im.convert("RGB"), image).getbbox() is None
    got = client.get(f"{P}/documents/{doc.id}")
    assert got.data == data and got.mimetype == "image/png" and got.headers["X-Content-Type-Options"] == "nosniff"
    got.close()


def test_a_normal_png_round_trips_at_the_same_size_and_pixels(client, li):
    image = picture((123, 77), "RGBA")  # a half-transparent quadrant: the alpha channel is kept
    doc, data = uploaded(client, li, encode(image, "PNG"), "印章.png")
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (123, 77) and im.mode == "RGBA"
        assert ImageChops.difference(im, image).getbbox() is None
    assert doc.file_name == "印章.png"


def test_a_png_text_chunk_and_a_jpeg_comment_are_not_kept(client, li):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    _doc, data = uploaded(client, li, encode(picture(), "PNG", pnginfo=info), "a.png")
    assert b"<script" not in data and b"tEXt" not in data
    _doc, data = uploaded(client, li, encode(picture(), "JPEG", comment=b"<script>alert(2)</script>"), "b.jpg")
    assert b"<script" not in data


def test_a_phone_photo_with_a_second_picture_mpo_is_accepted_as_a_jpeg(client, li):
    """Many phones save the photo with a preview or depth picture; Pillow reads that JPEG as MPO."""
    sent = encode(picture((64, 48)), "MPO", save_all=True, append_images=[picture((32, 24))])
    assert Image.open(io.BytesIO(sent)).format == "MPO"
    doc, data = uploaded(client, li, sent, "手机照片.jpg")
    assert doc.stored_name.endswith(".jpg")
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.size == (64, 48) and getattr(im, "n_frames", 1) == 1


def test_a_pdf_is_stored_byte_for_byte(client, li):
    doc, data = uploaded(client, li, PDF_BYTES, "章程.pdf")
    assert doc.stored_name.endswith(".pdf") and data == PDF_BYTES


def test_an_over_large_picture_is_refused_with_nothing_stored(client, li, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_PIXELS", 100 * 100)
    case = create(li)
    login(client, li.corp_rm)
    before = set(uploads.upload_dir().iterdir())
    resp = upload(client, case.id, "01", encode(picture((101, 100)), "PNG"), "大图.png")
    assert resp.status_code == 422 and "图片像素过大，请压缩后再上传。" in resp.get_data(as_text=True)
    assert set(uploads.upload_dir().iterdir()) == before and not stored(case.id).received
    assert upload(client, case.id, "01", encode(picture((100, 100)), "PNG"), "刚好.png").status_code == 302

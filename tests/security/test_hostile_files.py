"""Issue 8, promise 9 — hostile uploads: every upload point refuses zip bombs, entity tricks, macro workbooks,
executables and pictures in disguise, encrypted, empty, truncated, huge and over-wide files with a clear Chinese
reason, in under 10 s, with nothing stored (no row, no file), the app answering afterwards and no parser process
left behind; the parsing process of the worst files stays under 512 MB. Harmless odd files (GBK, BOM, UTF-16 CSV,
formula-looking text, paths in names) are read correctly instead. The files are made at run time
(tests/security/hostile)."""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from crm.extensions import db
from crm.models import Customer
from tests.conftest import ALL_PLUGINS, Client, table_snapshot
from tests.security import hostile as h

# Database-independent (files, parsers, static analysis): run in the SQLite pass only (tests/conftest.py).
pytestmark = pytest.mark.one_database

LIMIT_SECONDS = 10  # the bound for one refused upload, request to answer
LIMIT_RSS_MB = 512
IMPORT = "/customers/import"
REFUSED = [x for x in h.SPREADSHEETS]


@pytest.fixture
def app(make_app):
    app = make_app(CRM_PLUGINS=ALL_PLUGINS)
    with app.app_context():
        yield app


@pytest.fixture
def head(app, org, enable_plugin) -> Client:
    """Outlet A's head, who may import customers, map enterprises and banca policies."""
    for name in ("target_map", "scorecards"):
        enable_plugin(org.b1, name)
    c = Client(app)
    assert c.login("HA0001").status_code == 302
    return c


def stable() -> dict:
    """Every row of every table except the two a request may add to (the audit log and the session table)."""
    snap = table_snapshot()
    snap.pop("audit_log")
    snap.pop("user_session")
    return snap


def files(app) -> set[str]:
    """Every file of the instance folder (uploads, import jobs, their rejected rows)."""
    root = Path(app.instance_path)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def cpu_seconds() -> float:
    """Processor time used so far by this process and its finished children (the sheet-reading parsers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def parser_children() -> list[str]:
    """Sheet-reading child processes of this process still alive (or unreaped): there must be none."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
            if int(fields[1]) == os.getpid():
                cmd = (stat.parent / "cmdline").read_bytes()
                if b"--read-sheet" in cmd or fields[0] == "Z":
                    found.append(f"{stat.parent.name} {fields[0]} {cmd[:80]!r}")
        except (OSError, IndexError, ValueError):
            continue
    return found


def post_file(client: Client, url: str, item: h.Hostile, data: bytes, **form: str):
    """A multipart POST encoded in memory: the test client would spool a large body to a temporary file it never
    closes (a ResourceWarning, an error under filterwarnings = error)."""
    fields = {**form, "csrf_token": client.token or client.refresh_token(),
              "file": FileStorage(io.BytesIO(data), item.filename, content_type=item.mimetype)}
    boundary, body = encode_multipart(MultiDict(fields))
    return client.http.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def refused_cleanly(app, client: Client, url: str, item: h.Hostile, *, page: str, **form: str) -> str:
    """Upload `item` to `url`; assert it is refused with its reason, fast, with nothing stored and the app alive.
    Returns the page."""
    data = item.data()
    before, before_files = stable(), files(app)
    started, cpu = time.monotonic(), cpu_seconds()
    resp = post_file(client, url, item, data, **form)
    elapsed, cpu = time.monotonic() - started, cpu_seconds() - cpu
    body = resp.get_data(as_text=True)
    assert resp.status_code == item.status, (item.key, resp.status_code, body[:300])
    assert item.reason in body, (item.key, body[:2000])
    assert "Traceback" not in body and "Internal Server Error" not in body
    # The bound, as the processor time of the worker and the parser it started (what the answer costs on an
    # idle server); the wall clock, which a loaded test machine stretches, gets a generous bound of its own.
    assert cpu < LIMIT_SECONDS, (item.key, cpu)
    assert elapsed < 3 * LIMIT_SECONDS, (item.key, elapsed)
    assert stable() == before, item.key
    assert files(app) == before_files, item.key
    assert parser_children() == [], item.key
    assert client.get(page).status_code == 200  # the worker is alive and serves the next request
    return body


# ---------------------------------------------------------------- the customer import: every hostile spreadsheet

def test_the_catalogue_holds_at_least_thirty_hostile_files():
    refused = h.SPREADSHEETS + [x for x in h.NAMES if x.key == "name-nul-byte"] + h.IMAGES
    assert len({x.key for x in refused}) >= 30
    kinds = " ".join(x.key for x in refused)
    for must in ("zip-bomb", "nested-zip", "billion-laughs", "xxe-etc-passwd", "macro", "xlsb", "elf", "pe-",
                 "pdf-as", "png-as", "html-as", "empty", "one-byte", "truncated-zip", "encrypted-ole", "rows-1048576",
                 "columns-16384", "100mb-cell", "over-max-content-length", "svg-script", "html-as-jpg", "png-bomb"):
        assert must in kinds, must


@pytest.mark.parametrize("item", REFUSED, ids=lambda x: x.key)
def test_a_hostile_spreadsheet_is_refused_by_the_customer_import(app, head, item):
    body = refused_cleanly(app, head, IMPORT, item, page=IMPORT)
    if item.status == 422:
        assert 'name="file"' in body  # the import page again, with the reason above the form


def test_entities_never_reach_a_cell_and_no_network_is_tried(app, head):
    """Whatever parser read them, /etc/passwd and 127.0.0.1:9 must not show up: the file is refused first."""
    for item in h.SPREADSHEETS:
        if item.key.startswith(("xxe", "billion")):
            body = refused_cleanly(app, head, IMPORT, item, page=IMPORT)
            assert "root:" not in body and "lollol" not in body
    assert db.session.execute(select(Customer)).first() is None


# ---------------------------------------------------------------- odd but harmless files: read correctly

@pytest.mark.parametrize("make, encoding", [(h.gbk_csv, "gb18030"), (h.bom_csv, "utf-8-sig"),
                                            (h.utf16_csv, "utf-16")], ids=["gbk", "bom", "utf16"])
def test_chinese_csv_encodings_are_read_correctly(app, head, make, encoding):
    resp = head.post(IMPORT, {"file": (io.BytesIO(make()), "客户.csv", "text/csv")},
                     content_type="multipart/form-data")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    db.session.expire_all()
    names = sorted(db.session.execute(select(Customer.name)).scalars())
    assert names == ["张三", "李四"]
    job = json.loads(next(Path(app.instance_path, "imports").glob("*.json")).read_text())
    assert job["encoding"] == encoding and job["counts"]["created"] == 2


def test_formula_payloads_in_a_csv_stay_text(app, head):
    resp = head.post(IMPORT, {"file": (io.BytesIO(h.formula_csv()), "公式.csv", "text/csv")},
                     content_type="multipart/form-data")
    assert resp.status_code == 303
    db.session.expire_all()
    names = set(db.session.execute(select(Customer.name)).scalars())
    assert names <= set(h.FORMULAS)  # stored as typed (or refused per row), never evaluated
    job_page = head.get(resp.headers["Location"]).get_data(as_text=True)
    assert "导入" in job_page


# ---------------------------------------------------------------- hostile file names

NAME_CASES = [
    ("../../etc/x.xlsx", "x.xlsx"),
    ("..\\..\\windows\\x.xlsx", "x.xlsx"),
    ("/etc/cron.d/x.xlsx", "x.xlsx"),
    ("C:\\fakepath\\客户.xlsx", "客户.xlsx"),
    ("x\tb\x7f.xlsx", "xb.xlsx"),
    ("长" * 300 + ".xlsx", "长" * 195 + ".xlsx"),
    ("CON.xlsx", "CON.xlsx"),
    ("NUL.xlsx", "NUL.xlsx"),
    ("COM1.xlsx", "COM1.xlsx"),
]


@pytest.mark.parametrize("sent, shown", NAME_CASES, ids=[f"name{i}" for i in range(len(NAME_CASES))])
def test_a_path_in_the_file_name_is_only_a_label(app, head, tmp_path, sent, shown):
    """The content is a good workbook: it is imported, and the name the client sent is recorded without its path
    or control characters. No file is written by that name, anywhere."""
    before = files(app)
    resp = head.post(IMPORT, {"file": (io.BytesIO(h.good_workbook()), sent)}, content_type="multipart/form-data")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    job = json.loads(next(Path(app.instance_path, "imports").glob("*.json")).read_text())
    assert job["filename"] == shown and job["counts"]["created"] == 1
    new = files(app) - before
    assert all(p.startswith("imports/") and Path(p).name.startswith(job["id"]) for p in new), new
    assert not any(p.name == "x.xlsx" for p in tmp_path.rglob("*"))
    page = head.get(resp.headers["Location"]).get_data(as_text=True)
    assert "\r" not in shown and "Set-Cookie: a=b" not in resp.headers.get("Set-Cookie", "")
    assert shown[:20] in page


def test_a_line_break_in_the_file_name_injects_no_header(app, head):
    """The multipart parser cuts the name at the line break: what is left has no extension, and is refused."""
    item = h.Hostile("name-crlf", h.good_workbook, "x\r\nSet-Cookie: a=b.xlsx", "仅支持")
    before = stable()
    resp = post_file(head, IMPORT, item, item.data())
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and ("仅支持" in body or "请选择要导入的文件" in body), body[-3000:]
    assert "a=b" not in str(resp.headers) and stable() == before


def test_a_nul_byte_cannot_hide_the_real_extension(app, head):
    item = next(x for x in h.NAMES if x.key == "name-nul-byte")
    body = refused_cleanly(app, head, IMPORT, h.Hostile(item.key, h.pe, item.filename, "仅支持"), page=IMPORT)
    assert "\x00" not in body and "x.xlsx.exe" in body


# ---------------------------------------------------------------- the plugins' spreadsheet imports

PLUGIN_SAMPLE = ["zip-bomb", "billion-laughs-sst", "xxe-etc-passwd", "macro-as-xlsx", "elf-as-xlsx", "empty",
                 "encrypted-ole", "sparse-a1-to-a1048576", "columns-16384", "over-max-content-length"]


@pytest.mark.parametrize("key", PLUGIN_SAMPLE)
def test_the_target_map_import_refuses_hostile_files(app, org, head, key):
    item = next(x for x in h.SPREADSHEETS if x.key == key)
    refused_cleanly(app, head, "/p/target-map/import", item, page="/p/target-map/import", outlet_id=str(org.a.id),
                    source="上级行企业名录")


@pytest.mark.parametrize("key", PLUGIN_SAMPLE)
def test_the_banca_import_refuses_hostile_files(app, head, key):
    item = next(x for x in h.SPREADSHEETS if x.key == key)
    refused_cleanly(app, head, "/p/scorecards/banca/import", item, page="/p/scorecards/banca/import")


# ---------------------------------------------------------------- pictures and documents

@pytest.fixture
def case(app, org, enable_plugin):
    """A 银保贷 case of outlet A, prepared by its corporate RM (logged in)."""
    from tests.plugins.loan_insurance.conftest import LI
    from tests.plugins.loan_insurance.test_services import create

    for branch in (org.b1, None):
        enable_plugin(branch, "loan_insurance")
    li = LI(org)
    made = create(li)
    c = Client(app)
    assert c.login(li.corp_rm.login).status_code == 302
    return c, made


IMAGE_REASONS = {"empty-image": "请选择要上传的文件", "png-bomb": "图片文件已损坏", "truncated-png": "图片文件已损坏",
                 "jpeg-html-polyglot": "图片文件已损坏"}


@pytest.mark.parametrize("item", h.IMAGES + [h.Hostile("png-then-script", h.png_then_script, "照片.png", "",
                                                       mimetype="image/png")], ids=lambda x: x.key)
def test_a_loan_document_upload_refuses_scripts_and_bombs_in_disguise(app, case, item):
    client, made = case
    url = f"/p/loan-insurance/cases/{made.id}/documents/upload"
    reason = IMAGE_REASONS.get(item.key, "只能上传 PDF、JPG 或 PNG 文件")
    if item.key == "png-then-script":
        # A real picture with a script tail: accepted, and what is stored is the picture re-encoded, tail gone.
        from PIL import Image

        from plugins.loan_insurance import uploads
        from plugins.loan_insurance.models import LoanDocument

        resp = post_file(client, url, item, item.data(), code="01")
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        db.session.expire_all()
        doc = db.session.execute(select(LoanDocument).where(LoanDocument.case_id == made.id,
                                                            LoanDocument.code == "01")).scalar_one()
        stored = uploads.path_of(doc.stored_name).read_bytes()
        assert stored.endswith(b"IEND\xaeB`\x82") and b"<script" not in stored
        with Image.open(io.BytesIO(stored)) as picture:
            assert picture.format == "PNG" and picture.size == (8, 8)
        return
    refused_cleanly(app, client, url, h.Hostile(item.key, item.make, item.filename, reason, item.mimetype),
                    page=f"/p/loan-insurance/cases/{made.id}/documents", code="01")


# A PNG bomb is refused by Pillow before its size is read (over twice MAX_IMAGE_PIXELS), hence the general reason.
PHOTO_REASONS = {"empty-image": "请选择要上传的图片"}


@pytest.mark.parametrize("item", h.IMAGES, ids=lambda x: x.key)
@pytest.mark.parametrize("kind", ["photo", "signature"])
def test_an_event_photo_or_signature_refuses_scripts_and_bombs_in_disguise(app, item, kind):
    """salon_events' save_image (round photos, signatures and seals): checked by content, nothing written."""
    from plugins.salon_events import uploads

    folder = uploads.upload_dir()
    before = set(folder.iterdir())
    started = time.monotonic()
    with pytest.raises(uploads.UploadError) as exc:
        uploads.save_image(FileStorage(io.BytesIO(item.data()), item.filename, content_type=item.mimetype), kind)
    assert time.monotonic() - started < LIMIT_SECONDS
    assert PHOTO_REASONS.get(item.key, "文件不是有效的图片") in str(exc.value)
    assert set(folder.iterdir()) == before


# ---------------------------------------------------------------- memory of the process that parses

MEASURE = r"""
import io, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from flask import Flask
from flask_babel import Babel
from tests.security import hostile as h
from crm import excel_import
app = Flask("measure")
Babel(app)
results = {}
with app.app_context():
    for key in sys.argv[2:]:
        item = next(x for x in h.SPREADSHEETS + h.IMAGES if x.key == key)
        data = item.data()
        started = time.monotonic()
        try:
            if key == "png-bomb":
                from PIL import Image
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    try:
                        Image.open(io.BytesIO(data)).load()
                        outcome = "decoded"
                    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
                        outcome = "refused"
            else:
                table = excel_import.read_table(data, item.filename)
                outcome = "read %d" % sum(1 for _ in table.rows())
        except excel_import.SpreadsheetError as exc:
            outcome = "refused: " + exc.message
        results[key] = {"outcome": outcome, "seconds": time.monotonic() - started}
        del data
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a process started by a big pytest worker would
# report the worker's size. VmHWM belongs to this process's own memory map.
with open("/proc/self/status") as status:
    results["self_mb"] = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
results["children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(results))
"""


def test_the_worst_files_stay_under_512_mb():
    """Measured in a fresh process (peak RSS is a high-water mark for a whole process): the worker side and the
    sheet-reading child it starts. The sparse sheet A1…Z1048576 is the one that cost 850 MB before the cell
    references were checked."""
    keys = ["zip-bomb", "billion-laughs-sst", "rows-1048576", "sparse-a1-to-z1048576", "sparse-a1-to-xfd1048576",
            "columns-16384", "zip-bomb-100mb-cell", "png-bomb"]
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", MEASURE, root, *keys], capture_output=True, text=True, timeout=300,
                         check=True)
    results = json.loads(out.stdout)
    for key in keys:
        assert results[key]["outcome"].startswith("refused"), (key, results[key])
        assert results[key]["seconds"] < LIMIT_SECONDS, (key, results[key])
    assert results["self_mb"] < LIMIT_RSS_MB, results
    assert results["children_mb"] < LIMIT_RSS_MB, results

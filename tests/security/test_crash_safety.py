"""Crash safety of the customer import (issue 8, promise 8): `kill -9` of an import at 50 random points of a
5,000-row file, then re-run → the database equals one clean import (0 duplicates, 0 half batches).

How: one 5,000-row .xlsx with every column of the import template (personal, corporate and certificate-less
customers, outlets, maintainers, a few rows that must be refused), uploaded through the import page by a process
of its own, killed with SIGKILL. Starting a Python process that imports the application takes seconds on this
machine, so a "zygote" process imports and builds the app once, logs in, and forks one child per upload (as
gunicorn's --preload does); the test kills the child itself. Each child is a whole process of its own: its own
database connections (PostgreSQL sees the connection drop), its own sheet-reading child process, its own files.

One clean import into an empty database is the reference (and measures how long an import takes). Then 10 rounds:
the customers are deleted, then uploads are killed after a random delay (seeded, uniform over the measured
duration) until 5 were killed (one that ends before its kill is no kill point) — each upload after the first one
is the re-run of the killed one before it — and after each kill:
- no half batch: the customers stored are exactly those of the first m batches of the file for some m, each equal
  (every column) to the reference; no duplicate;
- the job of the killed upload shows as interrupted on its page (not "running" for ever), its progress never
  claims more rows than the committed batches hold, its rejected-rows download is a 404, never a partial file;
- no temporary file is left behind: none in the process's temporary folder, none in a folder the app serves, and
  the sheet-reading child is gone too;
then a last, complete upload makes the database equal to the reference (customers compared column by column with
ids and timestamps left out; every other table unchanged; no duplicate). Half of the rounds use the import's
default batch (`CHUNK`, 4,000 rows: two transactions for this file), half 500-row batches (ten), to kill at many
more commit boundaries.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import python_calamine as pc
from sqlalchemy import delete, func, select
from stdnum.cn import ric, uscc

from crm.customers import import_views, imports
from crm.extensions import db
from crm.models import AuditLog, Customer, Outlet, User
from tests.conftest import ALL_PLUGINS, PASSWORD, TEST_PLUGINS, Client, table_snapshot

ROOT = Path(__file__).resolve().parents[2]
ROWS = 5_000
POINTS = 50  # the number of kill points
ROUNDS = 10  # POINTS kills in ROUNDS rounds, each ended by a complete re-run
SMALL_CHUNK = 500
SEED = 8
IMPORTER = "BA0001"  # 分管一, scope 甲分行: outlets OA and OA2
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕鹏辉建国海波宁欣怡浩然子涵梓轩"
STAFF = {"OA": ["RA0001", "HA0001", "", "LA0001"], "OA2": ["RA0002", "HA0002", ""]}
OUTLET_TEXT = {"OA": "OA 甲网点", "OA2": "OA2"}
# What an import may leave in its job folder when killed: the job, a job save's scratch file, the rejects file's
# scratch file, XlsxWriter's own scratch files (tempfile.mkstemp names) and — killed between publishing the rejects
# file and the job's last save — the whole rejects file of a job that reads as interrupted (checked below).
SCRATCH = re.compile(r"[A-Za-z0-9_-]{20,40}(\.json|-rejects\.xlsx)|\.job-\w+\.tmp"
                     r"|\.[A-Za-z0-9_-]{20,40}-rejects\.xlsx\.part|tmp\w{8}")


# ---------------------------------------------------------------- the file

def _id_card(i: int) -> str:
    body = "110105" + (date(1960, 1, 1) + timedelta(days=3 * i)).strftime("%Y%m%d") + f"{i % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def _uscc(i: int) -> str:
    body = "91110105" + f"{i:09d}"
    return body + uscc.calc_check_digit(body + "0")


def _choice(field: str, i: int) -> str:
    choices = imports.COLUMN_BY_FIELD[field].choices
    return choices[i % len(choices)]


def make_rows() -> tuple[list[dict[str, Any]], dict[Any, int], int]:
    """The file's rows (field → cell), the key of each row that must be imported (certificate, or outlet code,
    type, name and phone for a customer without one) → its index, and how many rows must be refused."""
    rows: list[dict[str, Any]] = []
    keys: dict[Any, int] = {}
    refused = 0
    for i in range(ROWS):
        outlet = "OA" if i % 2 == 0 else "OA2"
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)] + GIVEN[(i // 3) % len(GIVEN)]
        row: dict[str, Any] = {
            "status": _choice("status", i), "outlet": OUTLET_TEXT[outlet],
            "maintainer": STAFF[outlet][i % len(STAFF[outlet])], "tier": f"T{i % 3}",
            "maintenance_target": f"年末日均存款提升{i % 30}%", "vip": "是" if i % 9 == 0 else "否",
            "deposit_balance": "12.5万" if i % 7 == 0 else f"{(i * 3_700) % 900_000}.{i % 100:02d}",
            "deposit_daily_avg": f"{(i * 1_300) % 500_000}.5", "has_loan": "是" if i % 5 == 0 else "否",
            "loan_balance": f"{(i % 5 == 0) * i * 100}", "notes": f"=第{i}行备注" if i % 97 == 0 else f"备注{i}",
        }
        kind = i % 20
        if kind < 16 or kind >= 18:
            row.update(kind="个人", name=name, phone=f"{138 + kind // 18}{i:08d}", aum=f"{i * 250}",
                       employer=f"某某实业有限公司{i % 50}", employer_type=_choice("employer_type", i),
                       occupation="教师", retired="是" if i % 11 == 0 else "否",
                       risk_preference=_choice("risk_preference", i),
                       family_risk_preference=_choice("family_risk_preference", i + 1),
                       product_needs="大额存单", family_info=f"子女{i % 3}人", preferences="书法")
            if kind < 16:
                row["cert_no"] = _id_card(i)
                key: Any = row["cert_no"]
            else:
                key = (outlet, "personal", name, row["phone"])
        else:
            row.update(kind="对公", name=f"{name}科技有限公司{i}", cert_no=_uscc(i), legal_rep=name,
                       registered_on=date(2000, 1, 1) + timedelta(days=i), industry="制造业",
                       annual_revenue=f"{i * 10_000}", eco_module=_choice("eco_module", i),
                       basic_account="是" if i % 2 else "否", ebanking="是")
            key = row["cert_no"]
        if i % 200 == 7:  # refused: the 身份证 check digit is wrong
            row.update(kind="个人", cert_no=_id_card(i)[:-1] + ("0" if _id_card(i)[-1] != "0" else "1"))
            row.pop("legal_rep", None)
            key = None
        elif i % 200 == 106 and "cert_no" in rows[-1]:  # refused: the row before's certificate again
            row.update(kind=rows[-1]["kind"], cert_no=rows[-1]["cert_no"])
            key = None
        elif i % 500 == 250:  # refused: no name
            row["name"] = ""
            key = None
        elif i % 500 == 333:  # refused: not a mobile number
            row["phone"] = "1381234"
            key = None
        if key is None:
            refused += 1
        else:
            keys[key] = i
        rows.append(row)
    return rows, keys, refused


def write_file(path: Path, rows: list[dict[str, Any]]) -> None:
    """The rows under the template's header, written the way the project writes its own files (text columns as
    text, dates as dates)."""
    book = imports._workbook(str(path))
    text = book.add_format({"num_format": "@"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet = book.add_worksheet("客户")
    for col, column in enumerate(imports.COLUMNS):
        sheet.write_string(0, col, column.header)
    for r, row in enumerate(rows, start=1):
        for col, column in enumerate(imports.COLUMNS):
            imports._write_cell(sheet, r, col, row.get(column.field), text if column.text else None, day)
    book.close()


# ---------------------------------------------------------------- the zygote: one app, one child per upload

ZYGOTE = r"""
import io, json, os, sys, time, traceback

config = json.loads(sys.argv[1])
from crm import create_app
from crm.customers import imports
from crm.extensions import db
from tests.conftest import Client

app = create_app(config)
client = Client(app)
out = sys.stdout


def reply(**message):
    out.write("@@" + json.dumps(message) + "\n")
    out.flush()


for line in sys.stdin:
    order = json.loads(line)
    if order["op"] == "login":
        assert client.login(order["login"], order["password"]).status_code == 302
        client.refresh_token("/customers/import")  # the children inherit the session and its CSRF token
        with app.app_context():
            db.engine.dispose()  # no connection crosses a fork
        reply(ok=True)
    elif order["op"] == "run":
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.setpgid(0, 0)  # its own process group: the sheet reader it starts can be found and killed
                imports.CustomerImport.__init__.__kwdefaults__["chunk_size"] = order["chunk"]
                data = open(order["file"], "rb").read()
                started = time.perf_counter()
                resp = client.post("/customers/import", {"file": (io.BytesIO(data), "客户名单.xlsx")},
                                   content_type="multipart/form-data")
                result = {"status": resp.status_code, "location": resp.headers.get("Location"),
                          "seconds": time.perf_counter() - started}
                code = 0
            except BaseException:
                result = {"error": traceback.format_exc()}
            with open(order["result"], "w") as fh:
                json.dump(result, fh)
            os._exit(code)
        reply(pid=pid)
    elif order["op"] == "wait":
        _pid, status = os.waitpid(order["pid"], 0)
        reply(signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
              code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None)
    elif order["op"] == "quit":
        break
"""


class Zygote:
    def __init__(self, config: dict[str, Any], tmp: Path) -> None:
        self.tmp = tmp
        self.tmpdir = tmp / "child-tmp"  # the children's temporary folder: must stay empty
        self.tmpdir.mkdir()
        self.log = (tmp / "zygote.log").open("wb")
        env = {**os.environ, "TMPDIR": str(self.tmpdir), "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE, json.dumps(config)], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.runs = 0

    def ask(self, **order: Any) -> dict[str, Any]:
        self.proc.stdin.write(json.dumps(order) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("the zygote died: " + (self.tmp / "zygote.log").read_text(errors="replace"))
            if line.startswith("@@"):
                return json.loads(line[2:])

    def start(self, file: Path, chunk: int) -> tuple[int, Path]:
        self.runs += 1
        result = self.tmp / f"result-{self.runs}.json"
        pid = self.ask(op="run", file=str(file), chunk=chunk, result=str(result))["pid"]
        return pid, result

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
        except OSError:
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
        finally:
            for stream in (self.proc.stdin, self.proc.stdout):
                stream.close()
            self.log.close()


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group: the upload's child and its sheet reader."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found


# ---------------------------------------------------------------- the database, canonically

def dump() -> tuple[dict[Any, dict[str, Any]], list[Any]]:
    """Every customer by its key (certificate, or outlet code, type, name and phone), every column but the id and
    the timestamps, with outlets and staff by code and login; and the keys met more than once."""
    db.session.commit()
    t = Customer.__table__
    outlets = dict(db.session.execute(select(Outlet.id, Outlet.code)).all())
    logins = dict(db.session.execute(select(User.id, User.login)).all())
    columns = [c for c in t.c if c.name not in ("id", "created_at", "updated_at")]
    found: dict[Any, dict[str, Any]] = {}
    twice = []
    for row in db.session.execute(select(*columns)).mappings():
        values = dict(row)
        values["outlet_id"] = outlets[values["outlet_id"]]
        values["maintainer_id"] = logins.get(values["maintainer_id"])
        values["created_by_id"] = logins.get(values["created_by_id"])
        key = values["cert_no"] or (values["outlet_id"], values["kind"], values["name"], values["phone"])
        if key in found:
            twice.append(key)
        found[key] = values
    db.session.commit()
    return found, twice


def others() -> dict[str, list]:
    """Every table but the customers, the audit log and the sessions: an import writes none of them."""
    snap = table_snapshot()
    for name in (Customer.__tablename__, AuditLog.__tablename__, "user_session"):
        snap.pop(name, None)
    db.session.commit()
    return snap


def imported_audits() -> list[dict]:
    rows = db.session.execute(select(AuditLog.detail).where(AuditLog.action == "customer.imported")
                              .order_by(AuditLog.id)).scalars().all()
    db.session.commit()
    return list(rows)


def last_audit_id() -> int:
    found = db.session.execute(select(func.max(AuditLog.id))).scalar() or 0
    db.session.commit()
    return found


def batch_ranges(after_id: int) -> list[tuple[int, int]]:
    """The file rows (first, last) of each saved batch audited since `after_id` (customer.import_batch)."""
    rows = db.session.execute(select(AuditLog.detail).where(AuditLog.action == "customer.import_batch",
                                                            AuditLog.id > after_id)).scalars().all()
    db.session.commit()
    return [tuple(d["rows"]) for d in rows]


def served_files(app) -> set[str]:
    """Every file under a folder the app serves (its static folder and each blueprint's)."""
    folders = {app.static_folder, *(bp.static_folder for bp in app.blueprints.values())}
    return {str(p) for folder in folders if folder and Path(folder).is_dir() for p in Path(folder).rglob("*")}


# ---------------------------------------------------------------- the test

@pytest.fixture
def world(org, app):
    """The test's own app (the page checks), the file, and the zygote on the same database and instance folder."""
    rows, keys, refused = make_rows()
    tmp = Path(app.instance_path).parent / "crash"
    tmp.mkdir()
    file = tmp / "客户名单.xlsx"
    write_file(file, rows)
    config = {"TESTING": True, "CRM_ENV": "development", "INSTANCE_PATH": app.instance_path,
              "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
              "SECRET_KEY": app.config["SECRET_KEY"], "CRM_PASSWORD_HASH": "pbkdf2:sha256:1000",
              "CRM_PLUGINS": TEST_PLUGINS, "CRM_LOGIN_LIMIT_ACCOUNT": "1000 per minute",
              "CRM_LOGIN_LIMIT_IP": "1000 per minute"}
    assert TEST_PLUGINS in ALL_PLUGINS
    db.session.commit()
    zygote = Zygote(config, tmp)
    try:
        assert zygote.ask(op="login", login=IMPORTER, password=PASSWORD) == {"ok": True}
        client = Client(app)
        assert client.login(IMPORTER).status_code == 302
        yield {"file": file, "keys": keys, "refused": refused, "zygote": zygote, "client": client}
    finally:
        zygote.close()


def run_to_the_end(w: dict[str, Any], chunk: int) -> dict[str, Any]:
    zygote = w["zygote"]
    pid, result = zygote.start(w["file"], chunk)
    assert zygote.ask(op="wait", pid=pid) == {"signal": None, "code": 0}, result.read_text()
    outcome = json.loads(result.read_text())
    assert outcome["status"] == 303, outcome
    return outcome


def job_files(app) -> set[str]:
    folder = Path(app.instance_path, "imports")
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_an_import_killed_at_50_random_points_then_run_again_equals_one_clean_import(app, world):
    started = time.perf_counter()
    keys, client, zygote = world["keys"], world["client"], world["zygote"]
    served_before = served_files(app)
    before = others()

    # The reference: one clean import into an empty database, which also says how long an import takes.
    outcome = run_to_the_end(world, imports.CHUNK)
    duration = outcome["seconds"]
    page = client.get(outcome["location"]).get_data(as_text=True)
    valid = len(keys)
    assert f'data-count="rows">{ROWS:,}<' in page and f'data-count="created">{valid:,}<' in page
    assert f'data-count="rejected">{world["refused"]}<' in page
    reference, twice = dump()
    assert not twice and len(reference) == valid == ROWS - world["refused"]
    assert set(reference) == set(keys)  # exactly the rows meant to be imported
    assert others() == before
    audits = imported_audits()
    assert [(a["rows"], a["created"], a["rejected"]) for a in audits] == [(ROWS, valid, world["refused"])]

    rng = random.Random(SEED)
    kills = 0
    seen: Counter[str] = Counter()  # what the kills left: for the summary line
    for round_ in range(ROUNDS):
        chunk = imports.CHUNK if round_ % 2 == 0 else SMALL_CHUNK
        db.session.execute(delete(Customer))
        db.session.commit()
        audits_before = len(imported_audits())
        round_audit = last_audit_id()
        round_kills = 0
        while round_kills < POINTS // ROUNDS:
            assert zygote.runs < 4 * POINTS, f"{kills} kills in {zygote.runs} uploads"
            jobs_before = job_files(app)
            pid, result = zygote.start(world["file"], chunk)
            time.sleep(rng.uniform(0, duration))
            members = group_members(pid)
            os.kill(pid, signal.SIGKILL)
            ended = zygote.ask(op="wait", pid=pid)
            if ended["signal"] != signal.SIGKILL:  # it finished before the kill: not a kill point, draw again
                assert ended["code"] == 0, result.read_text()
                continue
            kills += 1
            round_kills += 1
            # The sheet reader the killed upload started dies with it.
            deadline = time.monotonic() + 10
            while group_members(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not group_members(pid), f"left running after the kill: {members}"

            # No half batch: the first m batches of the file, whole, each customer as the reference has it.
            stored, twice = dump()
            assert not twice
            committed = 0
            while any(i // chunk == committed for i in keys.values()) and all(
                    k in stored for k, i in keys.items() if i // chunk == committed):
                committed += 1
            expected = {k for k, i in keys.items() if i // chunk < committed}
            assert set(stored) == expected, (
                f"kill {kills}: {len(stored)} customers stored, not whole batches of {chunk} "
                f"({len(expected)} in the first {committed})")
            assert all(stored[k] == reference[k] for k in stored)
            # Every saved customer is audited: its batch wrote its row in the batch's own transaction (the file's
            # row of keys[k] is keys[k] + 2, under the header).
            covered = batch_ranges(round_audit)
            unaudited = [k for k in stored if not any(a <= keys[k] + 2 <= b for a, b in covered)]
            assert not unaudited, f"kill {kills}: {len(unaudited)} saved customers without a batch audit row"
            seen["no batch" if not committed else "every batch" if len(stored) == valid else "some batches"] += 1

            # The killed upload's job: interrupted on its page, claiming no more than was committed. In its folder
            # (never served), the job and what a kill may leave there: a job save's or the rejects file's scratch
            # file, XlsxWriter's scratch files — deleted by the store's cleanup, and never downloadable.
            new = job_files(app) - jobs_before
            assert not {n for n in new if not SCRATCH.fullmatch(n)}, new
            seen["scratch files left"] += any(not n.endswith(".json") for n in new)
            seen["no job yet"] += not any(n.endswith(".json") for n in new)
            for name in (n for n in new if n.endswith(".json")):
                job_id = name.removesuffix(".json")
                job = import_views.load_job(job_id)
                if job["state"] == "done":  # killed after its very last step: a whole import
                    assert len(stored) == valid
                    seen["job done"] += 1
                    continue
                assert job["state"] == "interrupted", job
                assert job["done"] <= min(committed * chunk, ROWS), (job["done"], committed)
                page = client.get(f"/customers/import/{job_id}").get_data(as_text=True)
                assert "导入已中断" in page and "every 1s" not in page and "导入完成" not in page
                assert client.get(f"/customers/import/{job_id}/rejects.xlsx").status_code == 404
                left = Path(app.instance_path, "imports", f"{job_id}-rejects.xlsx")
                if left.exists():  # published whole (put_file renames), never half written; cleanup deletes it
                    pc.CalamineWorkbook.from_path(str(left)).get_sheet_by_index(0).to_python()
                    seen["whole rejects file of an interrupted job"] += 1
                seen["job interrupted"] += 1
            # No temporary file left: none in the child's temporary folder, none where the app serves files.
            assert not list(zygote.tmpdir.iterdir()), list(zygote.tmpdir.iterdir())
            assert served_files(app) == served_before

        # The re-run to the end: one clean import's database.
        outcome = run_to_the_end(world, chunk)
        page = client.get(outcome["location"]).get_data(as_text=True)
        assert f'data-count="rows">{ROWS:,}<' in page and f'data-count="rejected">{world["refused"]}<' in page
        stored, twice = dump()
        assert not twice, twice[:5]
        assert stored == reference
        assert others() == before
        assert not list(zygote.tmpdir.iterdir())
        # Each completed import is audited once, as a whole file (a kill never leaves half an audit).
        audits = imported_audits()[audits_before:]
        assert audits and all(a["rows"] == ROWS and a["rejected"] == world["refused"] for a in audits)
        rejects = client.get(outcome["location"] + "/rejects.xlsx")
        assert rejects.status_code == 200
        book = pc.CalamineWorkbook.from_filelike(io.BytesIO(rejects.data))
        assert len(book.get_sheet_by_index(0).to_python()) == world["refused"] + 1

    elapsed = time.perf_counter() - started
    print(f"\ncrash safety on {db.engine.dialect.name}: clean import {duration:.2f} s, {kills} kills in "
          f"{zygote.runs} uploads ({dict(sorted(seen.items()))}), {elapsed:.0f} s")
    assert kills == POINTS

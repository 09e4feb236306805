"""Customer import from Excel/CSV: header mapping, per-row validation, upsert in chunks, rejected-row report,
and the .xlsx template and rejects files.

Rules (the same as the customer form, `services.clean`, with the same messages):
- every row is validated with the form's rules and validators; a row with any error is rejected as a whole and
  reported with its row number, column and reason; valid rows are saved;
- a row whose certificate number (身份证号码 / 统一社会信用代码) is already registered updates that customer if it
  is in the importer's scope; if it belongs to a customer out of scope, the row is rejected with the form's
  neutral message and that customer is untouched. A row without a certificate updates the one in-scope customer
  of the same outlet, type, name and mobile number that has no certificate either; otherwise it is created. So
  importing the same file again creates nothing new: it updates;
- on update, a column missing from the file leaves that field alone; a blank cell clears it (as a blank form
  field does), except 证件号码, 手机号码 and 维护人, where blank keeps the stored value (as in the edit form);
- 所属网点 is an outlet code (or "code name", or the exact name) in the importer's scope; blank: the importer's
  own outlet (new customers) or the current one (updates). 维护人 is an active staff member of that outlet, by
  staff number or login (or "number name", as the template's list offers); staff who see only their own
  customers maintain what they import, as in the form;
- 100,000 rows: validation without a query per row (existing certificates, outlets and staff are looked up per
  chunk), Core INSERT/UPDATE executemany (COPY on PostgreSQL), one transaction per chunk of `CHUNK` rows; a chunk
  that collides with a certificate saved concurrently is rolled back and redone. On PostgreSQL the next chunk is
  validated while the server saves one (`_Writer`);
- after each committed chunk, the plugins enabled for the customers' 分行 are told which customers it created and
  which it changed (`crm_customers_imported`);
- audit: each chunk that saved something writes its own row (`customer.import_batch`: file, first and last row,
  created, updated) in its own transaction, so an import killed after some chunks leaves no saved row unaudited;
  the import's summary row (`customer.imported`) follows its last chunk.
"""

from __future__ import annotations

import queue
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Boolean, Date, DateTime, bindparam, func, insert, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError

from crm import audit
from crm.access import SCOPE_OWN, can, scope_filter, scoped
from crm.customers import search
from crm.customers.services import (
    BOOL_FIELDS,
    CHOICE_FIELDS,
    CORPORATE_ONLY,
    DATE_FIELDS,
    MONEY_FIELDS,
    PERSONAL_ONLY,
    TEXT_FIELDS,
    birth_md,
    check_fields,
)
from crm.excel_import import MAX_BYTES, MAX_ROWS, SpreadsheetError, Table, read_table
from crm.extensions import db
from crm.models import AuditLog, Branch, Customer, Outlet, User
from crm.models.customers import ECO_MODULES, EMPLOYER_TYPES, KINDS, RISK_PREFERENCES, STATUSES
from crm.timeutil import utcnow

CHUNK = 4_000
SQLITE_CACHE_KB = 16 * 1024
SQLITE_WAL_PAGES = 10_000
HEADER_SEARCH_ROWS = 10
XLSX_OPTIONS = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT_COLUMNS = ("行号", "出错的列", "原因")  # the rejects file's own columns, ignored when it is imported again


class ImportRefused(ValueError):
    """The whole file is refused (nothing was written); `message` is for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _msgid(label: Any) -> str:
    """The Chinese source text of a lazy label (the import format is Chinese whatever the UI language)."""
    args = getattr(label, "_args", None)
    return args[0] if args else str(label)


# ---------------------------------------------------------------- the columns

@dataclass(frozen=True)
class Column:
    field: str
    header: str
    aliases: tuple[str, ...] = ()
    note: str = ""
    example: str = ""
    width: int = 12
    text: bool = False  # the template formats it as text ('@'): long numbers keep every digit
    choices: tuple[str, ...] = ()  # the template's dropdown
    date: bool = False
    applies: str = ""  # "" both | personal | corporate
    required: bool = False


def _labels(choices: dict) -> tuple[str, ...]:
    return tuple(_msgid(v) for v in choices.values())


YES_NO = ("是", "否")
COLUMNS: tuple[Column, ...] = (
    Column("kind", "客户类型", ("类型", "客户性质"), "个人 或 对公；已登记的客户按原类型", "个人", 10,
           choices=_labels(KINDS), required=True),
    Column("name", "客户名称", ("客户姓名", "姓名", "企业名称", "单位名称", "名称", "户名"),
           "个人填姓名，对公填企业全称；最多100个字", "张三", 16, required=True),
    Column("cert_no", "证件号码", ("身份证号码", "身份证号", "身份证", "统一社会信用代码", "信用代码", "证件号"),
           "个人填18位身份证号码，对公填18位统一社会信用代码；用于识别已登记的客户（重复导入时更新而不新增）。"
           "请保持本列为“文本”格式：Excel 把长数字存成数值时只保留15位有效数字，后几位会丢失",
           "410102198506120036", 22, text=True),
    Column("phone", "手机号码", ("手机号", "手机", "联系电话", "移动电话"), "11位中国大陆手机号码", "13812345678", 14,
           text=True),
    Column("status", "客户类别", ("存量/目标", "类别"), "存量 或 目标；留空为存量", "存量", 10, choices=_labels(STATUSES)),
    Column("outlet", "所属网点", ("网点", "网点代码", "网点编号", "网点名称"),
           "网点代码（可从下拉列表选择）；留空：新客户归入您所在的网点，已登记客户保持不变", "", 22, text=True),
    Column("maintainer", "维护人", ("维护人工号", "维护人员工号", "客户经理", "管户人", "管户客户经理"),
           "该网点在岗员工的员工号或登录名（可从下拉列表选择）；留空：新客户暂不分配，已登记客户保持不变", "", 24,
           text=True),
    Column("tier", "客户层级", ("层级",), "如 T1、T0；最多20个字", "T1", 10, text=True),
    Column("maintenance_target", "维护目标", (), "最多200个字", "年末日均存款提升20%", 24),
    Column("vip", "VIP客户", ("VIP", "是否VIP"), "是 或 否", "否", 9, choices=YES_NO),
    Column("deposit_balance", "存款余额", ("存款余额(元)",), "单位：元，可写 12.5万；最多两位小数；留空为0", "50000", 14),
    Column("deposit_daily_avg", "存款日均", ("存款日均(元)", "日均存款"), "单位：元；留空为0", "48000.50", 14),
    Column("has_loan", "是否有贷款", ("有无贷款", "贷款户", "在我行有贷款", "有贷款"), "是 或 否（否 即无贷户）", "否", 11,
           choices=YES_NO),
    Column("loan_balance", "贷款余额", ("贷款余额(元)",), "单位：元；留空为0", "0", 14),
    Column("aum", "金融资产", ("AUM", "金融资产(AUM)", "金融资产AUM"), "个人客户，单位：元", "200000", 14,
           applies="personal"),
    Column("birthday", "生日", ("出生日期",), "个人客户，年-月-日；留空则按身份证号码", "1985-06-12", 12, date=True,
           applies="personal"),
    Column("gender", "性别", (), "个人客户：男 或 女；留空则按身份证号码", "男", 8, choices=("男", "女"),
           applies="personal"),
    Column("employer", "工作单位", (), "个人客户；最多100个字", "", 20, applies="personal"),
    Column("employer_type", "单位性质", (), "个人客户，从下拉列表选择", "", 12, choices=_labels(EMPLOYER_TYPES),
           applies="personal"),
    Column("occupation", "职业", (), "个人客户；最多50个字", "", 12, applies="personal"),
    Column("retired", "是否退休", ("已退休", "退休"), "个人客户：是 或 否", "否", 10, choices=YES_NO, applies="personal"),
    Column("risk_preference", "风险偏好", (), "个人客户，从下拉列表选择", "稳健型", 11,
           choices=_labels(RISK_PREFERENCES), applies="personal"),
    Column("family_risk_preference", "家庭风险偏好", (), "个人客户，从下拉列表选择", "", 13,
           choices=_labels(RISK_PREFERENCES), applies="personal"),
    Column("product_needs", "产品需求", (), "个人客户；最多500个字", "大额存单", 20, applies="personal"),
    Column("family_info", "家庭资料", ("家庭信息",), "个人客户：家庭成员、子女年龄与就读年级等；最多500个字", "", 20,
           applies="personal"),
    Column("preferences", "兴趣爱好", ("爱好",), "个人客户；最多500个字", "", 16, applies="personal"),
    Column("legal_rep", "法定代表人", ("法人代表", "法人"), "对公客户；最多50个字", "", 12, applies="corporate"),
    Column("registered_on", "成立日期", ("注册日期",), "对公客户，年-月-日", "", 12, date=True, applies="corporate"),
    Column("industry", "行业", ("所属行业",), "对公客户；最多50个字", "", 16, applies="corporate"),
    Column("annual_revenue", "年销售收入", ("年销售收入(元)", "年营业收入"), "对公客户，单位：元", "", 14,
           applies="corporate"),
    Column("eco_module", "生态图模块", (), "对公客户，从下拉列表选择", "", 12, choices=_labels(ECO_MODULES),
           applies="corporate"),
    Column("basic_account", "基本户在我行", ("基本户",), "对公客户：是 或 否", "", 12, choices=YES_NO, applies="corporate"),
    Column("ebanking", "网银用户", ("网银",), "对公客户：是 或 否", "", 10, choices=YES_NO, applies="corporate"),
    Column("near_term_target", "近期拓展目标", (), "对公客户；最多200个字", "", 24, applies="corporate"),
    Column("notes", "备注", (), "", "", 24),
)
COLUMN_BY_FIELD = {c.field: c for c in COLUMNS}
# Where a field's error is reported: outlet_id / maintainer_id are the form's names of these two columns.
ERROR_FIELD = {"outlet_id": "outlet", "maintainer_id": "maintainer"}
# What an update may write, read back to compare (so only changed columns are written).
STORED = tuple(Customer.__table__.c[name] for name in (
    "id", "kind", "outlet_id", "maintainer_id", "phone", "cert_no", *TEXT_FIELDS,
    *(n for n in CHOICE_FIELDS if n != "kind"), *MONEY_FIELDS, *BOOL_FIELDS, *DATE_FIELDS, "gender", "birth_md",
    "name_pinyin", "name_initials", "phone_rev", "cert_rev"))
ID_LIKE = re.compile(r"[0-9]{17}[0-9Xx]")
_ABSENT = object()  # unequal to any value


def header_key(text: Any) -> str:
    """'客户名称*', ' 存款余额（元） ', 'aum' → comparable keys."""
    key = unicodedata.normalize("NFKC", str(text if text is not None else "")).strip()
    key = re.sub(r"\s+", "", key).replace("*", "").lower()
    for suffix in ("(必填)", "(选填)", "(元)"):
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
    return key


HEADER_INDEX: dict[str, str] = {}
for _col in COLUMNS:
    for _name in (_col.header, *_col.aliases):
        HEADER_INDEX.setdefault(header_key(_name), _col.field)
IGNORED_HEADERS = {header_key(h) for h in REPORT_COLUMNS}


def _choice_index(choices: dict, *extra: tuple[str, str]) -> dict[str, str]:
    index: dict[str, str] = {}
    for code, label in choices.items():
        index[_value_key(code)] = code
        index[_value_key(str(label))] = code  # the UI language's label too
        index[_value_key(_msgid(label))] = code
    for text, code in extra:
        index[_value_key(text)] = code
    return index


SPACES = re.compile(r"\s+")
CERT_NOISE = re.compile(r"[\s-]+")


def _value_key(text: str) -> str:
    return SPACES.sub("", unicodedata.normalize("NFKC", text)).lower()


TRUE_WORDS = {"是", "y", "yes", "true", "1", "有", "√"}
FALSE_WORDS = {"否", "n", "no", "false", "0", "无", "×"}


# ---------------------------------------------------------------- cells to text

def cell_text(value: Any) -> str:
    """A cell as the text a person sees: 13812345678.0 → '13812345678', 1234.56 → '1234.56', a date → ISO."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == dtime(0) else value.isoformat(sep=" ")
    if isinstance(value, date | dtime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _float_text(value: float) -> str:
    """Excel keeps 15 significant digits: show a number as Excel would (1234.5600000000002 → '1234.56')."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = format(value, ".15g")
    if "e" in text or "E" in text:
        try:
            text = format(Decimal(text), "f")
        except InvalidOperation:
            pass
    return text


def _lost_digits(value: Any) -> bool:
    """Is this certificate cell a number too long for Excel (more than 15 digits, so the last ones are gone)?"""
    if isinstance(value, str):
        if value.isascii() and "e" not in value and "E" not in value:
            return False  # the usual text cell: no exponent, so not a number Excel cut short
        text = unicodedata.normalize("NFKC", value).strip()
        return bool(re.fullmatch(r"[0-9](?:\.[0-9]+)?[eE]\+?1[5-9]", text))
    if isinstance(value, bool):
        return False
    if isinstance(value, (float, int)):
        return abs(value) >= 1e15
    return False


# ---------------------------------------------------------------- pinyin, fast

class PinyinCache:
    """`search.pinyin_keys` for many names, with the same result, fast: pypinyin cuts a name into phrases and
    characters and reads each piece on its own; here each piece is read once and cached."""

    def __init__(self) -> None:
        try:
            from pypinyin.constants import RE_HANS
            from pypinyin.seg.mmseg import seg
            from pypinyin.seg.simpleseg import simple_seg

            self.runs: Callable[[str], Iterable[str]] | None = simple_seg
            self.cut = seg.cut
            # simple_seg tests each character against this; a name of Chinese characters only is one run.
            self.all_hans = RE_HANS.match
        except ImportError:  # another pypinyin: whole names (slower, same result)
            self.runs = None
        self.pieces: dict[str, tuple[str, str]] = {}
        self.names: dict[str, tuple[str, str]] = {}

    def __call__(self, name: str) -> tuple[str, str]:
        hit = self.names.get(name)
        if hit is not None:
            return hit
        if self.runs is None:
            keys = search.pinyin_keys(name)
        else:
            full: list[str] = []
            initials: list[str] = []
            text = unicodedata.normalize("NFKC", name)
            for run in (text,) if "\n" not in text and self.all_hans(text) else self.runs(text):
                for piece in self.cut(run):
                    got = self.pieces.get(piece)
                    if got is None:
                        got = self.pieces[piece] = search.pinyin_keys(piece)
                    full.append(got[0])
                    initials.append(got[1])
            keys = ("".join(full)[:200], "".join(initials)[:100])
        if len(self.names) < 200_000:
            self.names[name] = keys
        return keys

    def keys(self, name: str, phone: str | None, cert_no: str | None) -> dict[str, Any]:
        full, initials = self(name)
        return {"name_pinyin": full, "name_initials": initials, "phone_rev": search.reverse_digits(phone),
                "cert_rev": search.reverse_digits(cert_no)}


# ---------------------------------------------------------------- the form's rules, without queries

@dataclass(slots=True)
class Existing:
    """What the import needs to know of a stored customer."""

    id: int
    kind: str
    outlet_id: int
    maintainer_id: int | None
    phone: str | None
    cert_no: str | None
    visible: bool = True
    stored: dict[str, Any] | None = None  # its columns as stored, to write only what changes


check_values = check_fields  # the form's rules, without queries (kept under the import's name)


def cert_key(text: str) -> str:
    """How a certificate is looked up before it is validated (the validators store it this way)."""
    return CERT_NOISE.sub("", unicodedata.normalize("NFKC", text)).upper()


# ---------------------------------------------------------------- the report

@dataclass
class Rejected:
    row: int
    problems: list[tuple[str, str]]  # (column, reason)
    values: list[Any]  # the row's cells as read

    @property
    def columns(self) -> str:
        return "、".join(dict.fromkeys(column for column, _reason in self.problems if column))

    @property
    def reasons(self) -> str:
        return "；".join(f"{c}：{r}" if c else r for c, r in self.problems)


@dataclass
class ImportReport:
    filename: str
    fmt: str = ""
    encoding: str | None = None
    headers: list[str] = field(default_factory=list)
    field_columns: dict[str, int] = field(default_factory=dict)  # field → column index in the file
    ignored: list[str] = field(default_factory=list)
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # of the updated rows, those whose every value was already stored (nothing written)
    rejected: list[Rejected] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # open (checks + calamine), write, validate

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    def counts(self) -> dict[str, int]:
        return {"rows": self.total, "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "rejected": self.rejected_count}


@dataclass(slots=True, eq=False)
class _Row:
    number: int
    cells: list[Any]
    raw: dict[str, Any]
    errors: dict[str, str]
    cert: str = ""
    existing: Existing | None = None
    values: dict[str, Any] | None = None
    loose: bool = False  # no certificate match: matched by outlet, type, name and phone instead


@dataclass(slots=True)
class _Prepared:
    """A chunk read and validated, ready to be written."""

    chunk: list[tuple[int, list[Any]]]
    rows: list[_Row]
    inserts: list[dict]
    updates: list[dict]
    unchanged: int
    accepted: list[tuple[Any, int]]
    updated_outlets: list[int]


class _Writer:
    """Writes the chunks of one import, one at a time. On PostgreSQL in a second thread with its own connection:
    the server maintains the 13 indexes in its own process (40–45% of an import) while this process validates the
    next chunk, and the thread waits for it with Python's lock released. Elsewhere in the importer's thread: on
    SQLite the database works inside this process, and a writer thread took Python's lock back row by row, which
    made the import slower, not faster. `submit` a chunk, then take its `result` (True: committed; False: it
    collided and was rolled back; an error is raised here)."""

    def __init__(self, importer: CustomerImport) -> None:
        self.importer = importer
        self.waited = 0.0  # how long the importer waited for the database
        self.threaded = db.engine.dialect.name == "postgresql"
        self.jobs: queue.SimpleQueue[_Prepared | None] = queue.SimpleQueue()
        self.results: queue.SimpleQueue[bool | BaseException] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> _Writer:
        if self.threaded:
            self.thread = threading.Thread(target=self._run, args=(current_app._get_current_object(),),
                                           name="customer-import-writer", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.thread is not None:
            self.jobs.put(None)
            self.thread.join()

    def submit(self, prepared: _Prepared) -> None:
        if self.thread is not None:
            self.jobs.put(prepared)
        else:
            started = time.perf_counter()
            self.results.put(self._write(prepared))
            self.waited += time.perf_counter() - started

    def result(self) -> bool:
        started = time.perf_counter()
        outcome = self.results.get()
        self.waited += time.perf_counter() - started
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _write(self, prepared: _Prepared) -> bool | BaseException:
        try:
            return self.importer._write(prepared.inserts, prepared.updates, prepared.chunk)
        except BaseException as exc:  # handed to the importer's thread, which raises it
            db.session.rollback()
            return exc

    def _run(self, app: Any) -> None:
        with app.app_context():  # this thread's own session and connection
            try:
                while (prepared := self.jobs.get()) is not None:
                    self.results.put(self._write(prepared))
            except BaseException as exc:  # noqa: BLE001 - never leave the importer waiting for a result
                self.results.put(exc)
            finally:
                db.session.remove()


# ---------------------------------------------------------------- the import

Progress = Callable[[int, int], None]


class CustomerImport:
    """One import by one actor. `run(data, filename)` → ImportReport; ImportRefused / SpreadsheetError for a
    file refused as a whole (then nothing was written)."""

    def __init__(self, actor: Any, *, progress: Progress | None = None, chunk_size: int = CHUNK) -> None:
        self.actor = actor
        self.progress = progress
        self.chunk_size = chunk_size
        self.own_only = actor.scope == SCOPE_OWN
        self.pinyin = PinyinCache()
        self.kinds = _choice_index(KINDS, ("个人客户", "personal"), ("对私", "personal"), ("对公客户", "corporate"),
                                   ("企业", "corporate"), ("公司", "corporate"), ("单位", "corporate"))
        self.choices = {name: _choice_index(choices) for name, choices in CHOICE_FIELDS.items() if name != "kind"}
        self.choices["status"].update({"存量客户": "stock", "目标客户": "target"})
        self.outlets_by_key: dict[str, int] = {}
        self.outlet_branch: dict[int, int] = {}  # outlet id → its 分行 (for crm_customers_imported)
        self.staff: dict[int, dict[str, list[int]]] = {}  # outlet id → token → active staff ids
        self.staff_ids: dict[int, set[int]] = {}  # outlet id → active staff ids
        self.seen_certs: dict[str, int] = {}
        self.seen_keys: dict[tuple, int] = {}
        self.report: ImportReport | None = None
        self.table: Table | None = None
        self.rows: Iterator[tuple[int, list[Any]]] = iter(())
        self.header_cells: list[Any] = []
        self.estimated_rows = 0
        self.plan: list[tuple[int, str, str, dict | None]] = []
        self.update_fields: tuple[str, ...] = ()
        self.opened = self.write_seconds = 0.0
        self.stored = STORED
        self.started = time.perf_counter()
        self.now = utcnow()
        self.sqlite_saved: dict[str, int] = {}

    # -- the file

    def run(self, data: bytes, filename: str) -> ImportReport:
        self.open(data, filename)
        return self.process()

    def open(self, data: bytes, filename: str) -> ImportReport:
        """Check the file and read its header. Raises SpreadsheetError / ImportRefused; writes nothing."""
        self.started = time.perf_counter()
        if not can("customers.edit", self.actor):
            raise ImportRefused(_("您没有新建客户的权限"))
        table = self.table = read_table(data, filename)
        try:
            report = self.report = ImportReport(filename=filename, fmt=table.fmt, encoding=table.encoding)
            self.rows = table.rows()
            header_row = self._find_header(self.rows)
            self.estimated_rows = max(table.height - (header_row - table.first_row + 1), 0)
            self._map_header(self.header_cells, report)
            self._make_plan()
        except BaseException:
            table.close()
            raise
        self.opened = time.perf_counter() - self.started
        return report

    def close(self) -> None:
        if self.table is not None:
            self.table.close()

    def process(self) -> ImportReport:
        """Validate and save every row, chunk by chunk (one transaction each); audit the import."""
        self._tune_sqlite(True)
        try:
            return self._process()
        except BaseException:
            db.session.rollback()  # a chunk cut short by an error is not half saved
            raise
        finally:
            self.close()
            self._tune_sqlite(False)

    def _tune_sqlite(self, on: bool) -> None:
        """SQLite: settings of this connection for this import only, then as they were; neither touches
        durability. 13 indexes take random inserts, so a bigger page cache; and a checkpoint every 40 MB of WAL
        instead of 4 MB, so that index pages rewritten by successive chunks are copied back once (the commits of
        100,000 rows took 1.7 s, 0.6 s so). Set back before the import's last commit, which then checkpoints
        what is left (SQLite's automatic checkpoint, within the import's time)."""
        if db.engine.dialect.name != "sqlite" or on == bool(self.sqlite_saved):
            return
        conn = db.session.connection()
        if on:
            self.sqlite_saved = {name: int(conn.exec_driver_sql(f"PRAGMA {name}").scalar())
                                 for name in ("cache_size", "wal_autocheckpoint")}
            conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
            conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_PAGES}")
        else:
            for name, value in self.sqlite_saved.items():
                conn.exec_driver_sql(f"PRAGMA {name}={value}")
            self.sqlite_saved = {}

    def _chunks(self) -> Iterator[list[tuple[int, list[Any]]]]:
        chunk: list[tuple[int, list[Any]]] = []
        for number, cells in self.rows:
            chunk.append((number, cells))
            if len(chunk) >= self.chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _process(self) -> ImportReport:
        """Chunk by chunk. On PostgreSQL in a pipeline: while the database saves one chunk, the next one is read
        and validated — as if the one being saved were saved (the rows of one file are told apart in memory,
        `seen_certs`/`seen_keys`). Should a chunk collide with a concurrent save, the next one is set aside, the
        chunk is redone, then the next one is validated again: the same result as one after the other."""
        report = self.report
        # Built here, in the importer's thread: the writer thread must not load the actor's outlet.
        self.batch_audit = audit.row_values(audit.build("customer.import_batch", actor=self.actor))
        self._load_outlets()
        total = max(self.estimated_rows, 1)
        done = 0
        self._tick(0, total)
        with _Writer(self) as writer:
            flying: _Prepared | None = None
            for chunk in self._chunks():
                prepared = self._prepare(chunk)
                if flying is not None:
                    prepared = self._land(flying, writer, prepared)
                    done += len(flying.chunk)
                    self._tick(done, total)
                writer.submit(prepared)
                flying = prepared
                if not writer.threaded:  # nothing to overlap: settle it now, one chunk in memory at a time
                    self._land(flying, writer, None)
                    done += len(flying.chunk)
                    self._tick(done, total)
                    flying = prepared = None
            if flying is not None:
                self._land(flying, writer, None)
                done += len(flying.chunk)
        report.total = done
        report.seconds = round(time.perf_counter() - self.started, 2)
        self._tune_sqlite(False)
        # write: the database's time; waited: the part of it the import waited for (all of it, but on PostgreSQL).
        report.timings = {"open": round(self.opened, 2), "write": round(self.write_seconds, 2),
                          "waited": round(writer.waited, 2),
                          "validate": round(report.seconds - self.opened - writer.waited, 2)}
        audit.record("customer.imported", actor=self.actor,
                     detail={"file": report.filename[:100], "format": report.fmt, **report.counts()})
        db.session.commit()
        self._tick(done, done)
        return report

    def _tick(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, max(total, done))

    def _find_header(self, rows: Iterator[tuple[int, list[Any]]]) -> int:
        """The header is the first row (of the first ten) naming the 客户名称 column; returns its row number."""
        for _i in range(HEADER_SEARCH_ROWS):
            try:
                number, cells = next(rows)
            except StopIteration:
                break
            if "name" in {HEADER_INDEX.get(header_key(c)) for c in cells}:
                self.header_cells = cells
                return number
        raise ImportRefused(_("找不到表头：表格的第一行应是列名，且包含“客户名称”列（请使用导入模板）"))

    def _map_header(self, cells: list[Any], report: ImportReport) -> None:
        report.headers = [cell_text(c).strip() for c in cells]
        for index, text in enumerate(report.headers):
            key = header_key(text)
            if not key or key in IGNORED_HEADERS:
                continue
            name = HEADER_INDEX.get(key)
            if name is None:
                report.ignored.append(text)
                continue
            if name in report.field_columns:
                first = report.headers[report.field_columns[name]]
                raise ImportRefused(_("列“%(a)s”和“%(b)s”是同一项内容，请只保留一列", a=first, b=text))
            report.field_columns[name] = index

    def _load_outlets(self) -> None:
        stmt = scoped(Outlet, self.actor).with_only_columns(Outlet.id, Outlet.code, Outlet.name, Outlet.root_branch_id)
        found = list(db.session.execute(stmt).all())
        if self.actor.outlet_id is not None and all(o.id != self.actor.outlet_id for o in found):
            own = self.actor.outlet  # one's own outlet, even for posts that see only their own customers
            found.append((own.id, own.code, own.name, own.root_branch_id))
        self.outlet_branch.update({row[0]: row[3] for row in found})
        for oid, _code, name, _branch in found:
            self.outlets_by_key.setdefault(_value_key(name), oid)
        for oid, code, _name, _branch in found:
            self.outlets_by_key[_value_key(code)] = oid  # codes win over names

    # -- rows

    def _column_name(self, name: str) -> str:
        name = ERROR_FIELD.get(name, name)
        report = self.report
        index = report.field_columns.get(name) if report else None
        if index is not None and report.headers[index]:
            return report.headers[index]
        column = COLUMN_BY_FIELD.get(name)
        return column.header if column else ""

    def _read_row(self, number: int, cells: list[Any]) -> _Row:
        """Cells → the form's raw values (codes for choices, booleans, dates), plus what only a file can get
        wrong (a certificate stored as a number, a yes/no that is neither). Blank cells are left out: the form's
        rules treat a missing value and a blank one alike."""
        raw: dict[str, Any] = {}
        errors: dict[str, str] = {}
        width = len(cells)
        for index, name, how, memo in self.plan:
            value = cells[index] if index < width else ""
            if value == "" or value is None:
                continue
            if how == "cert" and _lost_digits(value):
                errors["cert_no"] = _("证件号码被 Excel 存成了数字，只保留了15位有效数字，后几位已丢失；"
                                      "请把该列设置为“文本”格式后重新填写完整号码")
                continue
            if how == "date" and isinstance(value, date):
                raw[name] = value.date() if isinstance(value, datetime) else value
                continue
            text = value if type(value) is str else cell_text(value)
            if "\x00" in text:
                text = text.replace("\x00", "")
            text = text.strip()
            if how == "text" or how == "cert" or not text:
                raw[name] = text
            elif how == "choice":
                code = memo.get(text)
                if code is None:
                    code = memo[text] = memo.get(_value_key(text), text)
                raw[name] = code
            elif how == "bool":
                flag = memo.get(text)
                if flag is None:
                    word = _value_key(text)
                    flag = memo[text] = True if word in TRUE_WORDS else False if word in FALSE_WORDS else ""
                if flag == "":
                    errors[name] = _("请填写“是”或“否”")
                else:
                    raw[name] = flag
            else:  # date
                raw[name] = _date(text)
        row = _Row(number, cells, raw, errors)
        cert = raw.get("cert_no")
        if cert:
            row.cert = cert if cert.isdigit() and cert.isascii() else cert_key(cert)
        return row

    def _make_plan(self) -> None:
        """How each column of the file is read: (index, field, how, lookup table); and which stored columns an
        update may change (read back with the lookups, to write only what differs)."""
        present = self.report.field_columns
        may_change = {"id", "kind", "outlet_id", "maintainer_id", "phone", "cert_no", "name", "name_pinyin",
                      "name_initials", "phone_rev", "cert_rev", *PERSONAL_ONLY, *CORPORATE_ONLY}
        may_change.update(name for name in present if name in Customer.__table__.c)
        if "cert_no" in present or "birthday" in present:
            may_change.update(("birthday", "gender", "birth_md"))
        self.stored = tuple(c for c in STORED if c.name in may_change)
        plan = []
        for name, index in self.report.field_columns.items():
            if name == "cert_no":
                plan.append((index, name, "cert", None))
            elif name in DATE_FIELDS:
                plan.append((index, name, "date", None))
            elif name == "kind":
                plan.append((index, name, "choice", dict(self.kinds)))
            elif name in self.choices:
                plan.append((index, name, "choice", dict(self.choices[name])))
            elif name in BOOL_FIELDS:
                plan.append((index, name, "bool", {}))
            else:
                plan.append((index, name, "text", None))
        self.plan = plan
        # The file's columns an update writes (those it lacks stay as they are, see the module docstring).
        self.update_fields = tuple(
            name for name in (*TEXT_FIELDS, *CHOICE_FIELDS, *MONEY_FIELDS, *BOOL_FIELDS, *DATE_FIELDS, "gender")
            if name in present and name != "kind")

    def _prepare(self, chunk: list[tuple[int, list[Any]]]) -> _Prepared:
        """Read and validate a chunk (its certificates count as seen from now on, see `_forget`)."""
        rows = [self._read_row(n, c) for n, c in chunk]
        return _Prepared(chunk, rows, *self._validate(rows))

    def _forget(self, prepared: _Prepared) -> None:
        for key, _number in prepared.accepted:
            (self.seen_certs if isinstance(key, str) else self.seen_keys).pop(key, None)

    def _settle(self, prepared: _Prepared, saved: bool) -> bool:
        """Account for a chunk the writer is done with; False if it collided with a concurrent save (rolled back:
        its certificates are forgotten, to be looked up again)."""
        if not saved:
            self._forget(prepared)
            return False
        self._announce([(r["id"], r["outlet_id"]) for r in prepared.inserts],
                       [(r["_id"], outlet) for r, outlet in zip(prepared.updates, prepared.updated_outlets,
                                                                strict=True)])
        self.report.created += len(prepared.inserts)
        self.report.updated += len(prepared.updates) + prepared.unchanged
        self.report.unchanged += prepared.unchanged
        for row in prepared.rows:
            if row.values is None:
                self._reject(row)
        return True

    def _land(self, flying: _Prepared, writer: _Writer, following: _Prepared | None) -> _Prepared | None:
        """Settle the chunk the writer has; returns `following` (the next chunk, validated as if this one were
        saved), validated again if this one had to be redone."""
        if self._settle(flying, writer.result()):
            return following
        if following is not None:
            self._forget(following)
        self._redo(flying.chunk, writer)
        return self._prepare(following.chunk) if following is not None else None

    def _redo(self, chunk: list[tuple[int, list[Any]]], writer: _Writer) -> None:
        """A chunk that collided with a certificate saved by someone else meanwhile: look everything up again and
        save it again, twice more at most; then its rows are reported as not saved."""
        for _attempt in range(2):
            prepared = self._prepare(chunk)
            writer.submit(prepared)
            if self._settle(prepared, writer.result()):
                return
        for number, cells in chunk:
            self.report.rejected.append(Rejected(number, [("", _("保存失败：该批数据与同时录入的客户冲突，请重新导入"))],
                                                 cells))

    def _reject(self, row: _Row) -> None:
        where = self.report.field_columns
        names = sorted(row.errors, key=lambda name: where.get(ERROR_FIELD.get(name, name), -1))  # file order
        problems = [(self._column_name(name), row.errors[name]) for name in names]
        self.report.rejected.append(Rejected(row.number, problems, row.cells))

    def _validate(self, rows: list[_Row]) -> tuple[list[dict], list[dict], int, list[tuple[Any, int]], list[int]]:
        """The chunk's rows → (inserts, updates, unchanged count, accepted keys, the outlet of each update)."""
        existing = self._existing_by_cert({r.cert for r in rows if r.cert})
        present = self.report.field_columns
        inserts: list[dict] = []
        updates: list[dict] = []
        updated_outlets: list[int] = []
        unchanged = 0
        accepted: list[tuple[Any, int]] = []
        pending: list[_Row] = []
        for row in rows:
            found = existing.get(row.cert) if row.cert else None
            if found is not None and not found.visible:
                row.errors["cert_no"] = _("该证件号码的客户已在本行登记，不在您的管辖范围内；如需办理请联系其所属网点")
                found = None
            row.existing = found
            values, errors = check_values(row.raw, found)
            for name, message in errors.items():
                row.errors.setdefault(name, message)
            self._place(row, values)
            row.values = values
            pending.append(row)
        # Rows matched by no certificate: the in-scope customer without one, of the same outlet, type, name, phone.
        loose = [r for r in pending if r.existing is None and not r.errors
                 and (not r.values["cert_no"] or r.values["phone"])]
        for row in loose:
            row.loose = True
        matches = self._existing_by_name(loose)
        staff_needed = {r.values["outlet_id"] for r in pending if r.values.get("outlet_id")}
        self._load_staff(staff_needed)
        for row in pending:
            values = row.values
            if row.loose:
                candidates = matches.get(self._loose_key(values), [])
                if len(candidates) > 1:
                    row.errors["name"] = _("有多位同名、同手机号且无证件号码的客户，无法确定更新哪一位；请填写证件号码")
                elif candidates:
                    row.existing = candidates[0]
            self._maintainer(row, values)
            key: Any
            if values.get("cert_no"):
                key = values["cert_no"]
                first = self.seen_certs.get(key)
                if first is not None and first != row.number:
                    row.errors.setdefault("cert_no", _("与第%(row)d行的证件号码重复", row=first))
            else:
                key = self._loose_key(values)
                first = self.seen_keys.get(key)
                if first is not None and first != row.number:
                    row.errors.setdefault("name", _("与第%(row)d行是同一客户（名称、手机号码相同且无证件号码）", row=first))
            if row.errors:
                row.values = None
                continue
            if isinstance(key, str):
                self.seen_certs[key] = row.number
            else:
                self.seen_keys[key] = row.number
            accepted.append((key, row.number))
            if row.existing is None:
                inserts.append(self._insert_values(values))
            else:
                changes = self._update_values(values, row.existing, present)
                if changes is None:
                    unchanged += 1
                else:
                    updates.append(changes)
                    updated_outlets.append(values["outlet_id"])
        return inserts, updates, unchanged, accepted, updated_outlets

    @staticmethod
    def _loose_key(values: dict[str, Any]) -> tuple:
        return (values.get("outlet_id"), values["kind"], values["name"], values.get("phone"))

    def _place(self, row: _Row, values: dict[str, Any]) -> None:
        """The outlet, as `clean` decides it: in scope, one's own; blank keeps the current one or is one's own."""
        text = row.raw.get("outlet") or ""
        outlet_id: int | None = None
        if text:
            outlet_id = self.outlets_by_key.get(_value_key(text))
            if outlet_id is None and " " in text.strip():
                outlet_id = self.outlets_by_key.get(_value_key(text.split()[0]))
        elif row.existing is not None:
            outlet_id = row.existing.outlet_id
        elif self.actor.outlet_id:
            outlet_id = self.actor.outlet_id
        if outlet_id is None:
            row.errors.setdefault("outlet_id", _("请选择您管辖范围内的网点"))
        values["outlet_id"] = outlet_id

    def _maintainer(self, row: _Row, values: dict[str, Any]) -> None:
        outlet_id = values.get("outlet_id")
        text = (row.raw.get("maintainer") or "").strip()
        maintainer_id: int | None = None
        check = True
        if self.own_only:
            maintainer_id = self.actor.id  # staff who see only their own customers maintain what they import
        elif text:
            tokens = self.staff.get(outlet_id, {})
            ids = tokens.get(text) or tokens.get(text.upper()) or tokens.get(text.split()[0]) or []
            maintainer_id = ids[0] if len(ids) == 1 else -1
        elif row.existing is not None:
            maintainer_id = row.existing.maintainer_id  # blank keeps the maintainer
            check = outlet_id != row.existing.outlet_id  # ... who must work at the new outlet, if it changes
        if maintainer_id is not None and outlet_id is not None and check \
                and maintainer_id not in self.staff_ids.get(outlet_id, ()):
            row.errors.setdefault("maintainer_id", _("维护人必须是该网点的在岗员工"))
        values["maintainer_id"] = maintainer_id if maintainer_id != -1 else None

    def _announce(self, created: list[tuple[int, int]], updated: list[tuple[int, int]]) -> None:
        """Tell the plugins enabled for each 分行 which of its customers this committed chunk created and changed
        (crm_customers_imported: once per chunk and 分行, see its docstring)."""
        if not created and not updated:
            return
        registry = current_app.extensions["crm"]
        if not registry.pm.hook.crm_customers_imported.get_hookimpls():
            return
        missing = {outlet for _id, outlet in (*created, *updated)} - self.outlet_branch.keys()
        if missing:  # an updated customer's outlet outside the importer's outlets (maintained by them)
            self.outlet_branch.update(db.session.execute(
                select(Outlet.id, Outlet.root_branch_id).where(Outlet.id.in_(sorted(missing)))).all())
        by_branch: dict[int, tuple[list[int], list[int]]] = {}
        for which, pairs in enumerate((created, updated)):
            for customer_id, outlet in pairs:
                by_branch.setdefault(self.outlet_branch[outlet], ([], []))[which].append(customer_id)
        for branch_id, (created_ids, updated_ids) in sorted(by_branch.items()):
            hook = registry.hook_for_names("crm_customers_imported", registry.enabled_names(branch_id))
            hook(created_ids=created_ids, updated_ids=updated_ids, user=self.actor,
                 branch=db.session.get(Branch, branch_id))

    # -- lookups, one query per chunk

    def _existing_by_cert(self, certs: set[str]) -> dict[str, Existing]:
        if not certs:
            return {}
        t = Customer.__table__
        # Every customer holding one of these certificates, and whether the importer may see it (in scope: its
        # values, to compare; out of scope: only that it exists, for the form's neutral message).
        visible = scope_filter(Customer, self.actor).label("visible_to_importer")
        rows = db.session.execute(select(*self.stored, visible).where(t.c.cert_no.in_(sorted(certs)))).all()
        names = [c.name for c in self.stored]
        found = {}
        for r in rows:
            stored = dict(zip(names, r, strict=False))  # the last value, visible, is left out
            seen = bool(r[-1])
            found[stored["cert_no"]] = Existing(stored["id"], stored["kind"], stored["outlet_id"],
                                                stored["maintainer_id"], stored["phone"], stored["cert_no"], seen,
                                                stored if seen else None)
        return found

    def _existing_by_name(self, rows: list[_Row]) -> dict[tuple, list[Existing]]:
        if not rows:
            return {}
        t = Customer.__table__
        names = sorted({r.values["name"] for r in rows})
        outlets = sorted({r.values["outlet_id"] for r in rows if r.values.get("outlet_id")})
        found = db.session.execute(
            select(*self.stored).where(t.c.cert_no.is_(None), t.c.name.in_(names), t.c.outlet_id.in_(outlets),
                                  scope_filter(Customer, self.actor))).all()
        out: dict[tuple, list[Existing]] = {}
        for r in found:
            out.setdefault((r.outlet_id, r.kind, r.name, r.phone), []).append(
                Existing(r.id, r.kind, r.outlet_id, r.maintainer_id, r.phone, None, True, dict(r._mapping)))
        return out

    def _load_staff(self, outlet_ids: set[int]) -> None:
        missing = sorted(outlet_ids - self.staff.keys())
        if not missing:
            return
        for oid in missing:
            self.staff[oid] = {}
            self.staff_ids[oid] = set()
        rows = db.session.execute(select(User.id, User.login, User.staff_no, User.outlet_id).where(
            User.active, User.outlet_id.in_(missing))).all()
        for uid, login, staff_no, oid in rows:
            self.staff_ids[oid].add(uid)
            tokens = self.staff[oid]
            for token in {login, login.upper(), staff_no, (staff_no or "").upper()}:
                if token and uid not in tokens.setdefault(token, []):
                    tokens[token].append(uid)

    # -- writing

    def _insert_values(self, values: dict[str, Any]) -> dict[str, Any]:
        row = dict(values)
        row.update(self.pinyin.keys(values["name"], values["phone"], values["cert_no"]))
        row.update(birth_md=birth_md(values.get("birthday")), created_by_id=self.actor.id, created_at=self.now,
                   updated_at=self.now, version=1, duplicate_claim=False)
        return row

    def _update_values(self, values: dict[str, Any], existing: Existing,
                       present: dict[str, int]) -> dict[str, Any] | None:
        """Only what the file says (columns it lacks stay as they are, see the module docstring), and of that
        only what differs from the stored values; None when nothing does (then nothing is written)."""
        row: dict[str, Any] = {"name": values["name"], "outlet_id": values["outlet_id"],
                               "maintainer_id": values["maintainer_id"], "cert_no": values["cert_no"],
                               "phone": values["phone"]}
        for name in self.update_fields:
            row[name] = values[name]
        if "cert_no" in present and values["kind"] == "personal" and values["cert_no"]:
            row["birthday"], row["gender"] = values["birthday"], values["gender"]  # as read from the ID
        for name in CORPORATE_ONLY if values["kind"] == "personal" else PERSONAL_ONLY:
            row[name] = values[name]  # the other type's fields are cleared, as the form does
        if "birthday" in row:
            row["birth_md"] = birth_md(row["birthday"])
        row.update(self.pinyin.keys(values["name"], values["phone"], values["cert_no"]))
        stored = existing.stored
        if stored is not None:
            get = stored.get
            row = {k: v for k, v in row.items() if get(k, _ABSENT) != v}  # a column not read back is written
            if not row:
                return None
        row["_id"] = existing.id
        row["updated_at"] = self.now
        return row

    def _write(self, inserts: list[dict], updates: list[dict], chunk: list[tuple[int, list[Any]]]) -> bool:
        """One transaction for the chunk, with its own audit row: a batch saved is audited even if the import
        is killed before its last batch and its summary row. False if a certificate was saved concurrently (rolled
        back, audit row included)."""
        t = Customer.__table__
        started = time.perf_counter()
        try:
            if inserts or updates:
                db.session.execute(AuditLog.__table__.insert().values(**audit.restamped(self.batch_audit, {
                    "file": self.report.filename[:100], "rows": [chunk[0][0], chunk[-1][0]],
                    "created": len(inserts), "updated": len(updates)})))
            if inserts:
                _assign_ids(t, inserts)
                _insert(t, inserts)
            groups: dict[tuple[str, ...], list[dict]] = {}
            for row in updates:
                groups.setdefault(tuple(row), []).append(row)
            dialect = db.engine.dialect.name
            for group in groups.values():
                if dialect == "postgresql":
                    _update_from_arrays(t, group)
                elif dialect == "sqlite":
                    _sqlite_executemany(t, group, by_id=True)
                else:
                    stmt = update(t).where(t.c.id == bindparam("_id")).values(version=t.c.version + 1)
                    db.session.execute(stmt, group)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return False
        except Exception as exc:
            if not _is_psycopg_integrity_error(exc):
                raise
            db.session.rollback()
            return False
        finally:
            self.write_seconds += time.perf_counter() - started
        return True


def _assign_ids(table: Any, rows: list[dict[str, Any]]) -> None:
    """The new rows' ids, chosen before the INSERT so that the chunk knows them (for crm_customers_imported)
    without RETURNING, which neither SQLite's executemany nor COPY gives. PostgreSQL: drawn from the id sequence,
    as a default insert would. SQLite: max(id) + 1…, what SQLite itself assigns; should someone insert a customer
    between that read and this chunk's INSERT, the key collides, and the chunk is rolled back and redone like any
    other collision."""
    if db.engine.dialect.name == "postgresql":
        ids = db.session.execute(sql_text(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, :n)"),  # nosec B608  # identifier is Customer.__table__.name; n is bound
            {"n": len(rows)}).scalars().all()
    else:
        top = db.session.execute(select(func.max(table.c.id))).scalar() or 0
        ids = range(top + 1, top + 1 + len(rows))
    for row, new_id in zip(rows, ids, strict=True):
        row["id"] = new_id


def _insert(table: Any, rows: list[dict[str, Any]]) -> None:
    """Core INSERT executemany; on PostgreSQL with psycopg 3, COPY (≈30% faster with the customer indexes)."""
    dialect = db.engine.dialect
    if dialect.name == "sqlite":
        _sqlite_executemany(table, rows)
        return
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        db.session.execute(insert(table), rows)
        return
    names = list(rows[0])
    raw = db.session.connection().connection.driver_connection
    columns = ", ".join(f'"{n}"' for n in names)
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[n] for n in names])


MEMO_TYPES = (Boolean, Date, DateTime)  # few distinct values, processed in Python: worth remembering


def _sqlite_executemany(table: Any, rows: list[dict[str, Any]], *, by_id: bool = False) -> None:
    """SQLite: the INSERT (or, with `by_id`, the UPDATE … WHERE id = :_id of rows changing the same columns) as
    one executemany of plain tuples. Each value goes through its column type's own bind processor, as SQLAlchemy
    would do, once; what is skipped is SQLAlchemy's per-row parameter handling (≈10% of an import). Rows must
    carry every column that has a Python-side default (the import sets them all): otherwise SQLAlchemy does it."""
    names = [name for name in rows[0] if name != "_id"]
    if by_id and "updated_at" not in names \
            or not by_id and any(c.default is not None and c.name not in rows[0] for c in table.c):
        stmt = (update(table).where(table.c.id == bindparam("_id")).values(version=table.c.version + 1)
                if by_id else insert(table))
        db.session.execute(stmt, rows)
        return
    dialect = db.engine.dialect
    quote = dialect.identifier_preparer.quote
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    if by_id:
        sets = ", ".join(f"{quote(name)} = ?" for name in names)
        sql = f"UPDATE {quote(table.name)} SET {sets}, version = version + 1 WHERE id = ?"  # nosec B608  # quoted Customer column names; values bound (?)
        names.append("_id")
        processors.append(None)
    else:
        sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "  # nosec B608  # quoted Customer column names; values bound (?)
               f"VALUES ({', '.join('?' * len(names))})")
    # Column by column: SQLAlchemy's Python-level processors (booleans, dates, times: ≈0.8 s of 100,000 rows) run
    # once per distinct value — a chunk holds two booleans, one timestamp and a few thousand birthdays.
    columns = []
    for name, process in zip(names, processors, strict=True):
        values = [row[name] for row in rows]
        if process is not None:
            if isinstance(table.c[name].type, MEMO_TYPES):
                done: dict[Any, Any] = {}
                for value in values:
                    if value not in done:
                        done[value] = None if value is None else process(value)
                values = [done[value] for value in values]
            else:
                values = [None if value is None else process(value) for value in values]
        columns.append(values)
    db.session.connection().exec_driver_sql(sql, list(zip(*columns, strict=True)))


def _is_psycopg_integrity_error(exc: BaseException) -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(exc, psycopg.errors.IntegrityError)


def _update_from_arrays(table: Any, group: list[dict[str, Any]]) -> None:
    """PostgreSQL: the rows of one chunk that change the same columns, as ONE statement
    (UPDATE … FROM unnest(arrays)), instead of one UPDATE per row: one array parameter per column."""
    names = [k for k in group[0] if k != "_id"]
    dialect = db.engine.dialect
    casts = []
    for i, name in enumerate(names):
        sql_type = table.c[name].type.compile(dialect=dialect).split(" COLLATE")[0]
        casts.append(f"CAST(:p{i} AS {sql_type}[])")
    sets = ", ".join(f'"{n}" = v."{n}"' for n in names)
    columns = ", ".join(f'"{n}"' for n in names)
    sql = (f'UPDATE {table.name} AS c SET {sets}, version = c.version + 1 '  # nosec B608  # Customer table/column names and their SQL types; values bound
           f'FROM unnest(CAST(:ids AS INTEGER[]), {", ".join(casts)}) AS v(_id, {columns}) WHERE c.id = v._id')
    params: dict[str, Any] = {"ids": [row["_id"] for row in group]}
    for i, name in enumerate(names):
        params[f"p{i}"] = [row[name] for row in group]
    db.session.execute(sql_text(sql), params)


def _date(text: str) -> date | str:
    """2026-11-23, 2026/11/23, 2026.11.23, 2026年11月23日 → a date; anything else stays text (and `check_values`
    says what format it wants)."""
    if not text:
        return ""
    norm = unicodedata.normalize("NFKC", text).strip()
    match = re.fullmatch(r"([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?(?:[ T]0{1,2}:00(?::00)?)?", norm)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return text
    return text


def import_customers(actor: Any, data: bytes, filename: str, progress: Progress | None = None) -> ImportReport:
    return CustomerImport(actor, progress=progress).run(data, filename)


# ---------------------------------------------------------------- the files we write

def _workbook(out: IO[bytes] | str, tmpdir: str | None = None):
    """`tmpdir`: where XlsxWriter keeps its scratch files (the sheet's rows, then each part of the zip) until
    `close`; by default the system's temporary folder, where a process killed mid-way (kill -9) leaves them,
    rows and all."""
    import xlsxwriter

    return xlsxwriter.Workbook(out, {**XLSX_OPTIONS, "tmpdir": tmpdir} if tmpdir else XLSX_OPTIONS)


def _write_cell(sheet: Any, row: int, col: int, value: Any, fmt: Any = None, date_fmt: Any = None) -> None:
    """Every value as what it is, and text always as text: '=HYPERLINK(…)' stays a string, never a formula."""
    if value is None or value == "":
        if fmt is not None:
            sheet.write_blank(row, col, None, fmt)
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value, fmt)
    elif isinstance(value, int | float):
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            sheet.write_string(row, col, str(value), fmt)
        else:
            sheet.write_number(row, col, value, fmt)
    elif isinstance(value, datetime | date):
        sheet.write_datetime(row, col, value, date_fmt)
    else:
        sheet.write_string(row, col, str(value)[:32767], fmt)


def template_choices(actor: Any) -> tuple[list[str], list[str]]:
    """The template's dropdown entries: in-scope outlets ("code name") and their active staff ("number name"),
    by staff number, or by login unless the login is a 身份证号码 (never put in a file)."""
    outlets = db.session.execute(
        scoped(Outlet, actor).with_only_columns(Outlet.id, Outlet.code, Outlet.name).where(Outlet.active)
        .order_by(Outlet.code).limit(2000)).all()
    if actor.outlet_id is not None and all(o.id != actor.outlet_id for o in outlets):
        own = actor.outlet
        outlets.insert(0, (own.id, own.code, own.name))
    names = {o[0]: o[2] for o in outlets}
    staff: list[str] = []
    if actor.scope != SCOPE_OWN and names:
        rows = db.session.execute(select(User.login, User.staff_no, User.name, User.outlet_id).where(
            User.active, User.outlet_id.in_(list(names))).order_by(User.outlet_id, User.name).limit(5000)).all()
        for login, staff_no, name, oid in rows:
            token = staff_no or (login if not ID_LIKE.fullmatch(login or "") else None)
            if token:
                staff.append(f"{token} {name}（{names[oid]}）")
    return [f"{code} {name}" for _id, code, name in outlets], staff


def write_template(out: IO[bytes] | str, actor: Any) -> None:
    """The import template: the customer sheet (header, dropdowns, text-formatted number columns), the
    instructions, and a hidden sheet holding the outlet and staff lists the dropdowns point at."""
    outlets, staff = template_choices(actor)
    book = _workbook(out)
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                            "valign": "vcenter"})
    head_required = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1, "font_color": "#C00000",
                                     "text_wrap": True, "valign": "vcenter"})
    text = book.add_format({"num_format": "@"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet = book.add_worksheet("客户")
    guide = book.add_worksheet("填写说明")
    hidden = book.add_worksheet("选项")
    last = 1_048_575
    for col, column in enumerate(COLUMNS):
        sheet.set_column(col, col, column.width, text if column.text else day if column.date else None)
    sheet.set_row(0, 30)
    for col, column in enumerate(COLUMNS):
        sheet.write_string(0, col, column.header, head_required if column.required else head)
        if column.choices:
            sheet.data_validation(1, col, last, col, {
                "validate": "list", "source": list(column.choices), "error_type": "stop",
                "error_title": "选项无效", "error_message": "请从下拉列表中选择：" + "、".join(column.choices)})
        elif column.date:
            sheet.data_validation(1, col, last, col, {
                "validate": "date", "criteria": "between", "minimum": date(1900, 1, 1),
                "maximum": date(2100, 12, 31), "error_type": "warning", "error_title": "日期",
                "error_message": "请填写日期，如 2026-11-23"})
        elif column.field in ("outlet", "maintainer"):
            values = outlets if column.field == "outlet" else staff
            if values:
                letter = "A" if column.field == "outlet" else "B"
                sheet.data_validation(1, col, last, col, {
                    "validate": "list", "source": f"='选项'!${letter}$2:${letter}${len(values) + 1}",
                    "error_type": "information", "show_error": False})
    sheet.freeze_panes(1, 2)

    guide.set_column(0, 0, 16)
    guide.set_column(1, 1, 8)
    guide.set_column(2, 2, 80)
    guide.set_column(3, 3, 22)
    bold = book.add_format({"bold": True, "font_size": 13})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    general = (
        "客户导入说明",
        "1. 在“客户”工作表中每行填写一位客户；第一行是列名，请勿修改。可以删除用不到的列（客户名称必须保留）。",
        "2. 红色列名为必填：客户类型、客户名称。对公客户不填个人信息列，个人客户不填对公信息列。",
        "3. 证件号码和手机号码列已设为“文本”格式，请不要改成数值，否则 Excel 会丢失身份证号码的后几位。",
        "4. 重复导入同一文件不会新增重复客户：证件号码已登记的客户会被更新；没有证件号码时，按同一网点、"
        "同名、同手机号码识别。",
        "5. 更新已登记客户时：文件中没有的列保持不变；空白单元格会清空该项（证件号码、手机号码、维护人留空则保持不变）。",
        "6. 每一行都会校验（身份证校验位、手机号码、金额格式等）；有错误的行不会导入，导入后可下载“未导入的行”，"
        "改正后直接重新导入即可。",
        f"7. 文件格式：.xlsx、.xls 或 .csv（UTF-8 或 GBK 编码），不超过 {MAX_BYTES // 1024 // 1024} MB、"
        f"{MAX_ROWS:,} 行。",
        "8. 金额单位为元，可写“12.5万”；日期写成 2026-11-23。",
    )
    row = 0
    for line in general:
        guide.write_string(row, 0, line, bold if row == 0 else None)
        row += 1
    row += 1
    guide.write_row(row, 0, ("列名", "必填", "说明", "示例"), head)
    row += 1
    applies = {"": "", "personal": "（个人）", "corporate": "（对公）"}
    for column in COLUMNS:
        guide.write_string(row, 0, column.header + applies[column.applies])
        guide.write_string(row, 1, "是" if column.required else "")
        note = column.note + ("；可选：" + "、".join(column.choices) if column.choices and len(column.choices) > 2
                              else "")
        guide.write_string(row, 2, note, wrap)
        guide.write_string(row, 3, column.example)
        row += 1

    hidden.write_row(0, 0, ("网点", "维护人"), head)
    for i in range(max(len(outlets), len(staff))):
        if i < len(outlets):
            hidden.write_string(i + 1, 0, outlets[i])
        if i < len(staff):
            hidden.write_string(i + 1, 1, staff[i])
    hidden.hide()
    sheet.activate()
    book.close()


def write_rejects(out: IO[bytes] | str, report: ImportReport, *, tmpdir: str | None = None) -> None:
    """The rejected rows as .xlsx: 行号 / 出错的列 / 原因, then the row's original cells (bad ones in red), so
    the file can be corrected and imported again; a second sheet lists each problem on its own line. The rows
    hold personal data: a job passes its own folder as `tmpdir`, so that the scratch files of a writer killed
    mid-way are not left in the system's temporary folder but where the job store's cleanup deletes them."""
    book = _workbook(out, tmpdir)
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    bad = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
    bad_text = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006", "num_format": "@"})
    text = book.add_format({"num_format": "@"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    bad_day = book.add_format({"num_format": "yyyy-mm-dd", "bg_color": "#FFC7CE", "font_color": "#9C0006"})
    sheet = book.add_worksheet("未导入的行")
    detail = book.add_worksheet("错误明细")
    offset = len(REPORT_COLUMNS)
    text_cols = {report.field_columns[c.field] for c in COLUMNS if c.text and c.field in report.field_columns}
    header_of = {i: h for i, h in enumerate(report.headers)}
    sheet.set_column(0, 0, 8)
    sheet.set_column(1, 1, 14)
    sheet.set_column(2, 2, 40)
    for i in range(len(report.headers)):
        sheet.set_column(offset + i, offset + i, 14, text if i in text_cols else None)
    sheet.write_row(0, 0, REPORT_COLUMNS, head)
    for i, name in enumerate(report.headers):
        sheet.write_string(0, offset + i, name, head)
    sheet.freeze_panes(1, offset)
    for r, item in enumerate(report.rejected, start=1):
        sheet.write_number(r, 0, item.row)
        sheet.write_string(r, 1, item.columns)
        sheet.write_string(r, 2, item.reasons)
        marked = {column for column, _reason in item.problems}
        for i, value in enumerate(item.values[:len(report.headers)] if report.headers else item.values):
            is_bad = header_of.get(i) in marked
            fmt = (bad_text if i in text_cols else bad) if is_bad else (text if i in text_cols else None)
            _write_cell(sheet, r, offset + i, value, fmt, bad_day if is_bad else day)
    detail.set_column(0, 0, 8)
    detail.set_column(1, 1, 14)
    detail.set_column(2, 2, 60)
    detail.write_row(0, 0, ("行号", "列", "原因"), head)
    r = 1
    for item in report.rejected:
        for column, reason in item.problems:
            detail.write_number(r, 0, item.row)
            detail.write_string(r, 1, column)
            detail.write_string(r, 2, reason)
            r += 1
    book.close()


__all__ = ["COLUMNS", "CustomerImport", "ImportRefused", "ImportReport", "Rejected", "SpreadsheetError", "Table",
           "XLSX_MIME", "check_values", "import_customers", "write_rejects", "write_template"]

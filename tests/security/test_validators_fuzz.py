"""Property tests (hypothesis) of the validators, the masks and the import row parser (issue 8, promise 10).

Each property runs a fixed number of examples (`derandomize=True`: the same examples every CI run), ≥ 1,000 in all
(see EXAMPLES): 0 unhandled exceptions, and the 身份证 (GB 11643) and USCC (GB 32100) verdicts agree with
python-stdnum's check-digit functions (design §6: stdnum.cn.ric.validate itself is too strict on birthplaces, so
the check digit is compared, not its verdict).
"""

from __future__ import annotations

import datetime
import os
import string
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from crm import create_app
from crm.access import SCOPE_OUTLET
from crm.customers import imports
from crm.customers.services import MONEY_FIELDS
from crm.masking import mask_account, mask_id_card, mask_login, mask_mobile, mask_name, mask_text
from crm.validators import (
    ValidationError,
    is_id_card,
    validate_cn_mobile,
    validate_id_card,
    validate_uscc,
)
from tests.conftest import base_config

# Database-independent (files, parsers, static analysis): run in the SQLite pass only (tests/conftest.py).
pytestmark = pytest.mark.one_database

# Examples per property; the sum is what one CI run tries (promise 10: ≥ 1,000).
EXAMPLES = {
    "id_text": 150, "id_body": 150, "id_18": 100,
    "uscc_text": 100, "uscc_body": 150, "uscc_18": 100,
    "phone_text": 100, "phone_mobile": 100,
    "mask_any": 80, "mask_id": 40, "mask_mobile": 40, "mask_text": 40,
    "row": 200,
}
assert sum(EXAMPLES.values()) >= 1_000


# A deeper run on demand (e.g. nightly): CRM_FUZZ_SCALE=20 tries twenty times as many examples.
SCALE = max(int(os.environ.get("CRM_FUZZ_SCALE") or 1), 1)


def fuzz(name: str) -> settings:
    return settings(max_examples=EXAMPLES[name] * SCALE, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


TODAY = datetime.date.today()
DIGITS = "0123456789"
FULL_WIDTH = str.maketrans(DIGITS + "X", "０１２３４５６７８９Ｘ")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Text that looks like what people type: ID/USCC characters, full-width digits, separators, case, control chars.
CODE_CHARS = DIGITS + "Xx０１２３４５６７８９Ｘｘ -—\t\n\u3000ABCDEFGHIOSVZabcz*+.,/\x00"
code_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=CODE_CHARS, max_size=24),
    st.text(alphabet=DIGITS, min_size=14, max_size=19),
    st.sampled_from(["", " ", "None", "null", "NULL", "nan", "undefined", "0", "-", "N/A", "无", "＝1+1",
                     "=cmd|' /C calc'!A0", "1" * 15, "1" * 18, "X" * 18]),
)
birth_dates = st.dates(min_value=datetime.date(1900, 1, 1), max_value=TODAY)
# Real county codes (no birthplace warning) and any six digits (a warning at most, never a refusal).
area_codes = st.one_of(st.sampled_from(["110105", "310115", "440305", "410102", "320106", "650102"]),
                       st.text(alphabet=DIGITS, min_size=6, max_size=6))


@st.composite
def id_bodies(draw: Any) -> str:
    """17 characters: a 6-digit area code, a valid birth date (1900 … today), a 3-digit sequence."""
    day = draw(birth_dates)
    return f"{draw(area_codes)}{day:%Y%m%d}{draw(st.integers(0, 999)):03d}"


def id_verdict(value: Any) -> bool:
    """validate_id_card's verdict; anything but its documented ValidationError fails the test."""
    try:
        result = validate_id_card(value)
    except ValidationError as exc:
        assert isinstance(exc.message, str) and exc.message
        return False
    assert len(result.number) == 18 and result.gender in ("男", "女")
    assert all(isinstance(w, str) and w for w in result.warnings)
    return True


def uscc_verdict(value: Any) -> bool:
    try:
        code = validate_uscc(value)
    except ValidationError as exc:
        assert isinstance(exc.message, str) and exc.message
        return False
    assert len(code) == 18 and uscc.is_valid(code)
    return True


# ---------------------------------------------------------------- 身份证 (GB 11643, design §6)

@fuzz("id_text")
@given(code_text)
def test_id_card_any_text_gives_a_verdict_or_a_validation_error(value: str) -> None:
    valid = id_verdict(value)
    assert is_id_card(value) is valid
    if valid:  # what was accepted is an 18-character ID whose check digit stdnum computes the same
        number = validate_id_card(value).number
        assert number[-1] == ric.calc_check_digit(number)


@pytest.mark.parametrize("value", [None, 410102199001011234, b"410102199001011234", 4.1e17, Decimal("4.1E+17")])
def test_id_card_non_text_raises_only_its_documented_errors(value: Any) -> None:
    """None: ValidationError (nothing entered); any other non-str: TypeError, which is_id_card answers False."""
    with pytest.raises(ValidationError if value is None else TypeError):
        validate_id_card(value)
    assert is_id_card(value) is False


@fuzz("id_body")
@given(id_bodies())
def test_id_card_accepts_exactly_the_stdnum_check_digit(body: str) -> None:
    check = ric.calc_check_digit(body + "0")
    for last in DIGITS + "X":
        assert id_verdict(body + last) is (last == check), body + last
    # Lowercase x, full-width digits and spaces are normalised, not refused (A Chinese IME types them).
    assert id_verdict(body + check.lower()) is True
    assert id_verdict((body + check).translate(FULL_WIDTH)) is True
    assert id_verdict(f" {body[:6]} {body[6:14]} {body[14:]}{check} ") is True
    for last in "AYZ*-x" if check != "X" else "AYZ*-":
        assert id_verdict(body + last) is False
    assert id_verdict(body) is False  # 17 characters
    assert id_verdict(body + check + "0") is False  # 19


@fuzz("id_18")
@given(st.text(alphabet=DIGITS + "X", min_size=18, max_size=18))
def test_id_card_agrees_with_stdnum_on_every_18_character_candidate(number: str) -> None:
    try:
        day = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        date_ok = datetime.date(1900, 1, 1) <= day <= TODAY
    except ValueError:
        date_ok = False
    format_ok = "X" not in number[:17]
    expected = format_ok and date_ok and number[-1] == ric.calc_check_digit(number)
    assert id_verdict(number) is expected
    if ric.is_valid(number):  # stdnum's stricter verdict implies ours
        assert expected


def test_id_card_15_digit_old_numbers_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="15位"):
        validate_id_card("410102900101123")


# ---------------------------------------------------------------- USCC (GB 32100)

@st.composite
def uscc_bodies(draw: Any) -> str:
    """17 characters: 8 digits (registration authority, type, area) and 9 of the USCC alphabet."""
    head = draw(st.text(alphabet=DIGITS, min_size=8, max_size=8))
    return head + draw(st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9))


@fuzz("uscc_text")
@given(code_text)
def test_uscc_any_text_gives_a_verdict_or_a_validation_error(value: str) -> None:
    valid = uscc_verdict(value)
    if valid:
        assert validate_uscc(value)[-1] == uscc.calc_check_digit(validate_uscc(value))


@fuzz("uscc_body")
@given(uscc_bodies())
def test_uscc_accepts_exactly_the_stdnum_check_digit(body: str) -> None:
    check = uscc.calc_check_digit(body)
    for last in USCC_ALPHABET + "IOSVZ":
        assert uscc_verdict(body + last) is (last == check), body + last
        assert uscc_verdict(body + last) is uscc.is_valid(body + last)
    code = body + check
    assert validate_uscc(code.lower()) == code
    assert validate_uscc(f" {code[:9]}-{code[9:]} ") == code
    assert validate_uscc(code.translate(str.maketrans(string.ascii_uppercase + DIGITS,
                                                      "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ０１２３４５６７８９"))) == code
    assert uscc_verdict(body) is False
    assert uscc_verdict(code + "0") is False


@fuzz("uscc_18")
@given(st.text(alphabet=DIGITS + string.ascii_uppercase, min_size=18, max_size=18))
def test_uscc_agrees_with_stdnum_on_every_18_character_candidate(code: str) -> None:
    assert uscc_verdict(code) is uscc.is_valid(code)
    assert uscc_verdict(code.lower()) is uscc.is_valid(code)


@pytest.mark.parametrize("value", [None, "", "   ", "-"])
def test_uscc_blank_is_a_validation_error(value: Any) -> None:
    with pytest.raises(ValidationError):
        validate_uscc(value)


# ---------------------------------------------------------------- mobiles

def phone_verdict(value: Any) -> str | None:
    try:
        national = validate_cn_mobile(value)
    except ValidationError as exc:
        assert isinstance(exc.message, str) and exc.message
        return None
    assert len(national) == 11 and national.isascii() and national.isdigit() and national[0] == "1"
    return national


phone_text = st.one_of(
    st.text(max_size=25),
    st.text(alphabet=DIGITS + " -+()（）０１２３４５６７８９\u3000.xX#*", max_size=22),
    st.text(alphabet=DIGITS, min_size=10, max_size=14),
    st.sampled_from(["", " ", "None", "+", "+86", "()", "--", "+86 ", "0086", "1" * 200, "+86" + "1" * 30]),
)


@fuzz("phone_text")
@given(phone_text)
def test_mobile_any_text_gives_a_number_or_a_validation_error(value: str) -> None:
    phone_verdict(value)


def test_mobile_none_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        validate_cn_mobile(None)


# Prefixes in service for decades (中国移动 134–139/150–152/157–159/182–184/187/188, 联通 130–132/155/156/185/186,
# 电信 133/153/180/181/189): always mobile numbers, whatever the phonenumbers release.
ALLOCATED = ["130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153",
             "155", "156", "157", "158", "159", "180", "181", "182", "183", "184", "185", "186", "187", "188", "189"]


def phonenumbers_says_mobile(number: str) -> bool:
    parsed = phonenumbers.parse(number, "CN")
    return phonenumbers.is_valid_number(parsed) and \
        phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE


@fuzz("phone_mobile")
@given(st.one_of(st.sampled_from(ALLOCATED).map(lambda p: (p, True)),
                 st.integers(130, 199).map(lambda p: (str(p), False))),
       st.text(alphabet=DIGITS, min_size=8, max_size=8))
def test_mobile_numbers_are_accepted_in_every_documented_spelling(prefix: tuple[str, bool], rest: str) -> None:
    head, allocated = prefix
    number = head + rest
    expected = number if allocated or phonenumbers_says_mobile(number) else None
    spellings = [number, f"+86{number}", f"+86 {number}", f"{number[:3]} {number[3:7]} {number[7:]}",
                 f"{number[:3]}-{number[3:7]}-{number[7:]}", f"+86-{number[:3]}-{number[3:7]}-{number[7:]}",
                 f"  {number}\t", number.translate(FULL_WIDTH), f"0086 {number}"]
    for spelling in spellings:
        assert phone_verdict(spelling) == expected, spelling
    assert phone_verdict(number[:-1]) is None  # 10 digits
    assert phone_verdict(number + "0") is None  # 12 digits


# ---------------------------------------------------------------- masks

any_input = st.one_of(st.none(), st.text(max_size=40), st.text(alphabet=CODE_CHARS, max_size=24),
                      st.integers(), st.sampled_from(["", " ", "张", "欧阳", "欧阳娜娜", "\u3000", "x" * 500]))
MASKS = (mask_id_card, mask_mobile, mask_account, mask_name, mask_login, mask_text)


def revealed(masked: str) -> int:
    return len(masked) - masked.count("*")


@fuzz("mask_any")
@given(any_input)
def test_masks_never_raise_and_never_reveal_more_than_their_pattern(value: Any) -> None:
    for mask in MASKS:
        assert isinstance(mask(value), str)
    if isinstance(value, str) and "*" not in value:
        text = value.strip()
        plain = "".join(value.split()).replace("-", "")
        masked = mask_id_card(value)
        assert revealed(masked) <= 7 and len(masked) == len(text)
        if len(text) > 7:
            assert masked == text[:3] + "*" * (len(text) - 7) + text[-4:] and text not in masked
        masked = mask_mobile(value)
        assert revealed(masked) <= 7
        if len(plain) > 4:
            assert plain not in masked
        masked = mask_account(value)
        assert revealed(masked) <= 8
        if plain:
            assert plain not in masked
        masked = mask_name(value)
        assert revealed(masked) <= 2 and len(masked) == len(text)
        if len(text) > 1:
            assert text not in masked


@fuzz("mask_id")
@given(id_bodies())
def test_an_id_number_is_masked_to_its_head_and_tail_everywhere(body: str) -> None:
    number = body + ric.calc_check_digit(body + "0")
    expected = number[:3] + "*" * 11 + number[-4:]
    assert mask_id_card(number) == expected
    assert mask_id_card(f" {number} ") == expected
    assert mask_login(number) == expected
    assert mask_text(f"客户身份证{number}，已核实") == f"客户身份证{expected}，已核实"


@fuzz("mask_mobile")
@given(st.sampled_from(ALLOCATED), st.text(alphabet=DIGITS, min_size=8, max_size=8))
def test_a_mobile_number_is_masked_to_its_head_and_tail_in_every_spelling(head: str, rest: str) -> None:
    number = head + rest
    expected = number[:3] + "****" + number[-4:]
    for spelling in (number, f"+86 {number}", f"+86{number}", f"0086{number}",
                     f"{number[:3]} {number[3:7]} {number[7:]}", f"{number[:3]}-{number[3:7]}-{number[7:]}"):
        assert mask_mobile(spelling) == expected
        assert mask_mobile(spelling)[3:7] == "****"
    for spelling in (number, f"+86 {number}", f"{number[:3]} {number[3:7]} {number[7:]}",
                     f"{number[:3]}-{number[3:7]}-{number[7:]}"):
        masked = mask_text(f"请回电{spelling}。")
        assert spelling not in masked and number not in "".join(masked.split()).replace("-", "")


# Text around an embedded number: anything that does not run on into it (digits or a leading "+" would make it part
# of a longer number, which the masks leave alone by design: order numbers, card numbers, timestamps).
edge_text = st.text(max_size=15).filter(lambda t: not t or t[-1] not in "0123456789+")
tail_text = st.text(max_size=15).filter(lambda t: not t or t[0] not in "0123456789")


@fuzz("mask_text")
@given(edge_text, id_bodies(), st.sampled_from(ALLOCATED), st.text(alphabet=DIGITS, min_size=8, max_size=8),
       tail_text)
def test_free_text_never_shows_a_whole_id_or_mobile(before: str, body: str, head: str, rest: str,
                                                    after: str) -> None:
    number = body + ric.calc_check_digit(body + "0")
    mobile = head + rest
    for embedded in (number, mobile):
        masked = mask_text(before + embedded + after)
        assert embedded not in masked
    masked = mask_text(f"{before}{number} {mobile}{after}")
    assert number not in masked and mobile not in masked
    # Every spelling the validators accept is masked in free text too: full-width digits (a Chinese IME), mixed
    # gaps in a mobile ("138 12345678"), full-width +86 and spaces.
    wide_id, wide_mobile = number.translate(FULL_WIDTH), mobile.translate(FULL_WIDTH)
    for embedded in (wide_id, wide_mobile, f"{head} {rest}", f"{head}-{rest[:4]} {rest[4:]}",
                     f"＋８６\u3000{wide_mobile}"):
        masked = mask_text(before + embedded + after)
        assert embedded not in masked and masked.count("*") - (before + after).count("*") >= 4, (embedded, masked)


@pytest.mark.parametrize(("text", "expected"), [
    # Found by the property above: before the fix these were logged and shown in full (audit details, notes).
    ("客户手机１３８１２３４５６７８", "客户手机１３８****５６７８"),
    ("身份证４１０１０２１９９００１０１１２３４", "身份证４１０***********１２３４"),
    ("身份证1101051980010101８Ｘ", "身份证110***********01８Ｘ"),
    ("手机138 12345678", "手机138 ****5678"),
    ("手机138-1234 5678", "手机138-**** 5678"),
    ("电话＋８６\u3000１３８１２３４５６７８", "电话＋８６\u3000１３８****５６７８"),
    # ... while longer runs of digits stay as they are, full-width or not.
    ("流水号２０１３８１２３４５６７８", "流水号２０１３８１２３４５６７８"),
    ("卡号６２２２０２１２３４５６７８９０１２３", "卡号６２２２０２１２３４５６７８９０１２３"),
])
def test_free_text_masks_full_width_and_mixed_gap_numbers(text: str, expected: str) -> None:
    assert mask_text(text) == expected


# ---------------------------------------------------------------- the import row parser

@pytest.fixture(scope="module")
def importer(tmp_path_factory: pytest.TempPathFactory):
    """A CustomerImport whose header names every column, with one outlet (code 0101) and one staff member (S001):
    the row parser runs without a database (lookups of a chunk are in memory)."""
    folder = tmp_path_factory.mktemp("fuzz")
    app = create_app(base_config(folder, f"sqlite:///{folder / 'unused.sqlite3'}"))
    with app.app_context():
        actor = SimpleNamespace(id=7, scope=SCOPE_OUTLET, outlet_id=1)
        imp = imports.CustomerImport(actor)
        imp.report = imports.ImportReport(filename="客户.xlsx", fmt="xlsx",
                                          headers=[c.header for c in imports.COLUMNS],
                                          field_columns={c.field: i for i, c in enumerate(imports.COLUMNS)})
        imp._make_plan()
        imp.outlets_by_key = {"0101": 1, "城关支行营业部": 1}
        imp.staff = {1: {"S001": [7], "zhangsan": [7]}}
        imp.staff_ids = {1: {7}}
        yield imp


def parse_row(imp: imports.CustomerImport, cells: list[Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """One spreadsheet row → (values, errors by field), as `CustomerImport._prepare`/`_validate` do it for a row
    that matches no stored customer."""
    row = imp._read_row(2, cells)
    values, errors = imports.check_values(row.raw, None)
    for name, message in errors.items():
        row.errors.setdefault(name, message)
    imp._place(row, values)
    imp._maintainer(row, values)
    return values, row.errors


FORMULAS = ["=cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\",\"点我\")", "+1+1", "-2+3", "@SUM(A1)", "=1+1",
            "\t=1", "<script>alert(1)</script>", "{{7*7}}", "'; DROP TABLE customer;--"]
hostile = st.one_of(
    st.none(), st.just(""), st.text(max_size=30), st.sampled_from(FORMULAS),
    st.integers(min_value=-(10 ** 20), max_value=10 ** 20), st.decimals(allow_nan=True, places=None),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.dates(), st.datetimes(), st.times(),
    st.timedeltas(), st.text(min_size=300, max_size=600).map(lambda t: t * 20),
)


def id_card(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


MEANINGFUL: dict[str, Any] = {
    "kind": st.sampled_from(["个人", "对公", "personal", "个人客户", "企业", "对私", "其他"]),
    "name": st.sampled_from(["张三", "欧阳娜娜", "甲科技有限公司", "=cmd|' /C calc'!A0", "李" * 101]),
    "cert_no": st.one_of(id_bodies().map(id_card), id_bodies().map(lambda b: id_card(b).lower()),
                         uscc_bodies().map(lambda b: b + uscc.calc_check_digit(b)),
                         st.integers(10 ** 16, 10 ** 18), st.floats(1e14, 1e18)),
    "phone": st.one_of(st.sampled_from(["13812345678", "+86 138 1234 5678", "010-12345678", "1381234567"]),
                       st.integers(13000000000, 19999999999), st.floats(1e10, 2e10)),
    "status": st.sampled_from(["存量", "目标", "目标客户", "潜在"]),
    "outlet": st.sampled_from(["0101", "0101 城关支行营业部", "9999", "城关支行营业部"]),
    "maintainer": st.sampled_from(["S001", "s001", "zhangsan", "S001 张三", "S999"]),
    "vip": st.sampled_from(["是", "否", "Y", "n", "√", "maybe", True, False, 1, 0]),
    "deposit_balance": st.one_of(st.sampled_from(["50,000.00", "12.5万", "1亿", "-1", "12,34", "0.001", "¥100元"]),
                                 st.decimals(min_value=0, max_value=10 ** 12, places=2),
                                 st.integers(0, 10 ** 15), st.floats(0, 1e12)),
    "birthday": st.one_of(st.dates(), st.datetimes(), st.sampled_from(["1985-06-12", "1985/6/12", "1985年6月12日",
                                                                       "1985-02-30", "85-6-12", "0000-01-01"])),
}
for _money in MONEY_FIELDS:
    MEANINGFUL.setdefault(_money, MEANINGFUL["deposit_balance"])
MEANINGFUL.setdefault("registered_on", MEANINGFUL["birthday"])
for _flag in ("has_loan", "retired", "basic_account", "ebanking"):
    MEANINGFUL.setdefault(_flag, MEANINGFUL["vip"])


@st.composite
def spreadsheet_rows(draw: Any) -> list[Any]:
    """A row of every column: mostly blank, otherwise a value meaningful for its column or anything hostile;
    sometimes cut short (a row with fewer cells than the header) or longer."""
    cells = []
    for column in imports.COLUMNS:
        choice = draw(st.integers(0, 5))
        if choice <= 2 and column.field not in ("kind", "name"):
            cells.append(None)
        elif choice <= 4 and column.field in MEANINGFUL:
            cells.append(draw(MEANINGFUL[column.field]))
        else:
            cells.append(draw(hostile))
    width = draw(st.sampled_from([len(cells), len(cells), len(cells), 2, 5, len(cells) + 3]))
    return (cells + [draw(hostile) for _ in range(3)])[:width]


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@fuzz("row")
@given(spreadsheet_rows())
def test_a_row_is_values_or_chinese_errors_per_column_never_an_exception(importer, cells: list[Any]) -> None:
    values, errors = parse_row(importer, cells)
    for name, message in errors.items():
        assert isinstance(message, str) and has_chinese(message), (name, message)
        assert has_chinese(importer._column_name(name)), name  # reported under the file's column header
    for name in MONEY_FIELDS:  # Decimal or nothing: never a float
        assert values.get(name) is None or type(values[name]) is Decimal, (name, values.get(name))
    assert not any(isinstance(v, float) for v in values.values())
    if not errors:
        assert values["kind"] in ("personal", "corporate") and values["name"]
        assert values["outlet_id"] == 1
        row = importer._insert_values(values)  # what would be written
        assert not any(isinstance(v, float) for v in row.values())
        for name in ("name", "notes", "maintenance_target"):
            index = importer.report.field_columns[name]
            cell = cells[index] if index < len(cells) else None
            if isinstance(cell, str) and cell.startswith("="):
                assert values[name] == cell.strip()  # formula-looking text is kept as text, never evaluated
    else:  # reported as the rejects file reports it: row number, column header, reason
        row = importer._read_row(2, cells)
        row.errors.update(errors)
        report = importer.report
        importer._reject(row)
        rejected = report.rejected.pop()
        assert rejected.row == 2 and rejected.reasons and has_chinese(rejected.columns)

"""Validation and test-data generation for Chinese IDs, USCCs, mobiles and amounts."""

from __future__ import annotations

import datetime
import functools
import random
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import phonenumbers
from stdnum import numdb
from stdnum.cn import ric, uscc

__all__ = [
    "IdCardResult",
    "ValidationError",
    "generate_id_card",
    "generate_uscc",
    "is_id_card",
    "parse_amount",
    "validate_cn_mobile",
    "validate_id_card",
    "validate_uscc",
]

# Real county-level codes that exist today, so that generated numbers never
# trigger the unknown-birthplace warning.
_AREA_CODES = (
    "110105",  # 北京市朝阳区
    "310115",  # 上海市浦东新区
    "440305",  # 深圳市南山区
    "410102",  # 郑州市中原区
    "320106",  # 南京市鼓楼区
    "330106",  # 杭州市西湖区
    "510107",  # 成都市武侯区
    "420106",  # 武汉市武昌区
)

_ID_FORMAT = re.compile(r"[0-9]{17}[0-9X]")
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: digits and capitals but I, O, S, V, Z
_USCC_FORMAT = re.compile(r"[0-9]{8}[0-9A-HJ-NP-RT-UW-Y]{10}")
_USCC_VALUES = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_MIN_BIRTH_YEAR = 1900
_GENDERS = ("男", "女")

# GB 11714 organisation code: 8 body chars weighted, 9th is the check char.
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Any grouping other than proper thousands groups is more likely a typo than
# an amount, so "12,34" is rejected instead of silently read as 1234.
_AMOUNT_FORMAT = re.compile(
    r"(?P<sign>[+-]?)¥?(?P<number>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?P<fraction>\.[0-9]+)?"
    r"(?P<unit>万|亿)?元?"
)
_AMOUNT_UNITS = {"": Decimal(1), "万": Decimal(10) ** 4, "亿": Decimal(10) ** 8}
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,2})?")
_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(5)}


class ValidationError(ValueError):
    """Invalid user input; ``message`` is the Chinese text shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class IdCardResult:
    """A validated resident ID number (GB 11643) and what it encodes."""

    number: str
    birth_date: datetime.date
    gender: str
    warnings: tuple[str, ...] = ()


def _normalise_code(value: str) -> str:
    # NFKC turns full-width digits/letters typed with a Chinese IME into ASCII.
    text = unicodedata.normalize("NFKC", value)
    return re.sub(r"\s+", "", text).upper()


def _birthplace_warning(number: str) -> str | None:
    return _area_code_warning(number[:6])


# The warning depends on the 6-digit area code alone, and a file of 100,000 customers holds a few thousand
# codes at most: the division table (≈11% of an import's time when searched per row) is searched once per code.
@functools.lru_cache(maxsize=8192)
def _area_code_warning(code: str) -> str | None:
    # ric.get_birth_place() also rejects codes that did not exist yet in the
    # birth year, but real people are re-registered under newer county codes,
    # so only a code missing from the division table altogether is suspicious.
    info: dict[str, str] = {}
    for _part, props in numdb.get("cn/loc").info(code):
        info.update(props)
    if "county" in info:
        return None
    if "province" not in info:
        return f"身份证号码中的出生地代码（{code}）不属于任何省级行政区，请核对"
    return f"身份证号码中的出生地代码（{code}）未能识别，请核对"


def validate_id_card(value: str) -> IdCardResult:
    """Validate an 18-digit resident ID number; raise ValidationError if invalid."""
    if value is None:
        raise ValidationError("请输入身份证号码")
    if not isinstance(value, str):
        raise TypeError(f"身份证号码必须是字符串，而不是 {type(value).__name__}")
    # A number already in its normal form (most are) is left as it is: normalising would not change it.
    number = value if _ID_FORMAT.fullmatch(value) else _normalise_code(value)
    if not number:
        raise ValidationError("请输入身份证号码")
    if len(number) == 15 and number.isdigit():
        raise ValidationError("身份证号码应为18位（不支持15位旧版号码）")
    if len(number) != 18:
        raise ValidationError(f"身份证号码应为18位（当前为{len(number)}位）")
    if not _ID_FORMAT.fullmatch(number):
        raise ValidationError("身份证号码格式不正确（前17位应为数字，末位为数字或X）")
    try:
        birth_date = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError("身份证号码中的出生日期无效") from None
    if birth_date.year < _MIN_BIRTH_YEAR:
        raise ValidationError(f"身份证号码中的出生日期无效（不能早于{_MIN_BIRTH_YEAR}年）")
    if birth_date > datetime.date.today():
        raise ValidationError("身份证号码中的出生日期无效（不能晚于今天）")
    if number[-1] != ric.calc_check_digit(number):
        raise ValidationError("身份证号码校验位不正确")
    warning = _birthplace_warning(number)
    return IdCardResult(
        number=number,
        birth_date=birth_date,
        gender="男" if int(number[16]) % 2 else "女",
        warnings=(warning,) if warning else (),
    )


def is_id_card(value: str) -> bool:
    """Return True when ``value`` is a valid resident ID number."""
    try:
        validate_id_card(value)
    except (ValidationError, TypeError):
        return False
    return True


def validate_uscc(value: str) -> str:
    """Validate a Unified Social Credit Code (GB 32100); return it normalised."""
    if value is None:
        raise ValidationError("请输入统一社会信用代码")
    if type(value) is str and _USCC_FORMAT.fullmatch(value):
        # Already normal and well formed (most are): only the check digit is left to check, as uscc.validate
        # would (the GB 32100 weights, modulo 31); its clean-up passes cost more than the check itself.
        total = sum(_USCC_VALUES[c] * w for c, w in zip(value, _USCC_WEIGHTS, strict=False))
        if value[-1] != _USCC_ALPHABET[-total % 31]:
            raise ValidationError("统一社会信用代码校验位不正确")
        return value
    code = _normalise_code(value).replace("-", "")
    if not code:
        raise ValidationError("请输入统一社会信用代码")
    if len(code) != 18:
        raise ValidationError(f"统一社会信用代码应为18位（当前为{len(code)}位）")
    try:
        return uscc.validate(code)
    except uscc.InvalidChecksum:
        raise ValidationError("统一社会信用代码校验位不正确") from None
    except uscc.ValidationError:
        raise ValidationError(
            "统一社会信用代码格式不正确（前8位应为数字，其余为数字或大写字母，不含I、O、S、V、Z）"
        ) from None


def _plain_mobile_check() -> re.Pattern[str] | None:
    """A regex that accepts exactly those plain 11-digit numbers (digits only, as most files and forms hold them)
    that phonenumbers reads as CN mobile numbers unchanged — built from phonenumbers' own CN metadata, so it
    follows the installed version. None (no fast path) if the metadata is not shaped as this expects.

    phonenumbers, for such a number: no international or country prefix to strip (it starts with 1); no national
    prefix or carrier code to strip (`national_prefix_for_parsing` must not match its start: checked by the
    caller); valid = it matches the general pattern and some type; the type is MOBILE when it matches the mobile
    pattern and none of the patterns tried before it (premium rate … voicemail, fixed line). Any pattern that
    matches regardless of its possible lengths counts here, so the fast path can only be stricter."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    if meta is None or meta.same_mobile_and_fixed_line_pattern or meta.national_prefix_transform_rule:
        return None
    mobile, general = meta.mobile, meta.general_desc
    if not (mobile and mobile.national_number_pattern and 11 in (mobile.possible_length or ())
            and general and general.national_number_pattern and 11 in (general.possible_length or ())):
        return None
    others = [d.national_number_pattern for d in (
        meta.premium_rate, meta.toll_free, meta.shared_cost, meta.voip, meta.personal_number, meta.pager,
        meta.uan, meta.voicemail, meta.fixed_line) if d is not None and d.national_number_pattern]
    not_other = "".join(f"(?!(?:{p})\\Z)" for p in others)
    prefix = meta.national_prefix_for_parsing
    not_prefix = f"(?!(?:{prefix}))" if prefix else ""
    return re.compile(f"(?=1[0-9]{{10}}\\Z){not_prefix}{not_other}(?=(?:{general.national_number_pattern})\\Z)"
                      f"(?:{mobile.national_number_pattern})\\Z")


# ≈17% of an import's time was phonenumbers reading plain mobile numbers; this fast path gives the same verdict
# (tests/test_validators.py compares the two over every 5-digit prefix), anything else goes to phonenumbers.
_PLAIN_MOBILE = _plain_mobile_check()


def validate_cn_mobile(value: str) -> str:
    """Validate a mainland China mobile number; return its 11 digits."""
    if _PLAIN_MOBILE is not None and type(value) is str and len(value) == 11 and _PLAIN_MOBILE.match(value):
        return value
    return _validate_cn_mobile_slowly(value)


def _validate_cn_mobile_slowly(value: str) -> str:
    """`validate_cn_mobile` through phonenumbers alone (every input; the reference of the fast path)."""
    if value is None:
        raise ValidationError("请输入手机号码")
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        raise ValidationError("请输入手机号码")
    # phonenumbers would read letters as a vanity number and strip
    # extensions, neither of which belongs in a mobile field.
    if not re.fullmatch(r"\+?[0-9 ()\-]+", text):
        raise ValidationError("手机号码无效：只能包含数字、空格、短横线和开头的+号")
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise ValidationError("手机号码无效，请输入11位中国大陆手机号码") from None
    if parsed.country_code != 86:
        raise ValidationError("手机号码无效：仅支持中国大陆手机号码")
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError("手机号码无效，请输入11位中国大陆手机号码")
    if phonenumbers.number_type(parsed) != phonenumbers.PhoneNumberType.MOBILE:
        raise ValidationError("手机号码无效：该号码不是手机号码（如固定电话），请填写手机号码")
    national = phonenumbers.national_significant_number(parsed)
    if len(national) != 11:
        raise ValidationError("手机号码无效，请输入11位中国大陆手机号码")
    return national


def _format_limit(limit: Decimal, places: int) -> str:
    return f"{limit.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,}"


def parse_amount(
    value: str | int | Decimal,
    *,
    places: int = 2,
    min_value: Decimal | None = None,
    max_value: Decimal | None = None,
) -> Decimal:
    """Parse a user-entered amount (e.g. "1,234.50", "12.5万") into a Decimal."""
    # bool is an int subclass; True as "1 元" is always a bug upstream.
    if isinstance(value, (float, bool)):
        raise TypeError(f"金额不能使用 {type(value).__name__} 类型，请使用 str、int 或 Decimal")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str) and _PLAIN_AMOUNT.fullmatch(value):
        # What most cells and form fields hold ("50000", "1234.56"): the general branch below would read the
        # same Decimal (no unit, and at most 20 digits, so its "× 1" is exact); ≈4% of an import is spared.
        amount = Decimal(value)
    elif isinstance(value, str):
        text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", value))
        if not text:
            raise ValidationError("请输入金额")
        match = _AMOUNT_FORMAT.fullmatch(text)
        if not match:
            raise ValidationError("金额格式不正确，请输入如 1,234.50、12.5万 的数字")
        digits = match["number"].replace(",", "") + (match["fraction"] or "")
        amount = Decimal(match["sign"] + digits) * _AMOUNT_UNITS[match["unit"] or ""]
    else:
        raise TypeError(f"金额不能使用 {type(value).__name__} 类型，请使用 str、int 或 Decimal")

    if not amount.is_finite():
        raise ValidationError("金额无效")
    quantum = _QUANTA[places] if places in _QUANTA else Decimal(1).scaleb(-places)
    try:
        quantized = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValidationError("金额超出允许范围") from None
    # Comparing values, not digits, so "1.230" is fine but "1.234" is not.
    if quantized != amount:
        raise ValidationError("金额必须为整数" if places <= 0 else f"金额最多保留{places}位小数")
    if min_value is not None and quantized < min_value:
        raise ValidationError(f"金额不能小于{_format_limit(min_value, places)}")
    if max_value is not None and quantized > max_value:
        raise ValidationError(f"金额不能大于{_format_limit(max_value, places)}")
    return quantized


def generate_id_card(
    rng: random.Random,
    *,
    birth_date: datetime.date | None = None,
    gender: str | None = None,
    area_code: str | None = None,
) -> str:
    """Generate a resident ID number with a correct check digit (test data)."""
    if gender is not None and gender not in _GENDERS:
        raise ValueError(f"gender must be '男', '女' or None, not {gender!r}")
    if area_code is None:
        area_code = rng.choice(_AREA_CODES)
    elif not re.fullmatch(r"[0-9]{6}", area_code):
        raise ValueError(f"area_code must be 6 digits, not {area_code!r}")
    if birth_date is None:
        start = datetime.date(1960, 1, 1).toordinal()
        end = datetime.date(2003, 12, 31).toordinal()
        birth_date = datetime.date.fromordinal(rng.randint(start, end))
    if gender is None:
        gender = rng.choice(_GENDERS)
    # Odd sequence numbers are men, even are women; 000 is never issued.
    half = rng.randint(0, 499) if gender == "男" else rng.randint(1, 499)
    sequence = half * 2 + (1 if gender == "男" else 0)
    body = f"{area_code}{birth_date.year:04d}{birth_date.month:02d}{birth_date.day:02d}{sequence:03d}"
    # calc_check_digit ignores the last character, so any placeholder works.
    return body + ric.calc_check_digit(body + "0")


def _org_code_check_char(body: str) -> str:
    total = sum(_ORG_CODE_ALPHABET.index(c) * w for c, w in zip(body, _ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def generate_uscc(rng: random.Random) -> str:
    """Generate a valid enterprise USCC (GB 32100) for test data."""
    # Digit-only bodies keep the embedded organisation code inside the USCC
    # alphabet, which has no I, O, S, V or Z.
    org_body = "".join(rng.choice("0123456789") for _ in range(8))
    partial = "91" + rng.choice(_AREA_CODES) + org_body + _org_code_check_char(org_body)
    return partial + uscc.calc_check_digit(partial)

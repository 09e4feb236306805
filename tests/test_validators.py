"""Tests for crm.validators: ID cards, USCC, mobiles, amounts and generators."""

from __future__ import annotations

import dataclasses
import datetime
import random
from decimal import Decimal

import pytest
from stdnum.cn import ric, uscc

from crm.validators import (
    IdCardResult,
    ValidationError,
    generate_id_card,
    generate_uscc,
    is_id_card,
    parse_amount,
    validate_cn_mobile,
    validate_id_card,
    validate_uscc,
)

SPEC_ID = "410102199001011234"


def with_check(body: str) -> str:
    """Append the correct GB 11643 check digit to a 17-digit body."""
    assert len(body) == 17
    return body + ric.calc_check_digit(body + "0")


# --- 身份证 -----------------------------------------------------------------


def test_spec_example_id_has_a_valid_check_digit() -> None:
    assert ric.calc_check_digit(SPEC_ID) == "4"
    result = validate_id_card(SPEC_ID)
    assert result == IdCardResult(number=SPEC_ID, birth_date=datetime.date(1990, 1, 1), gender="男", warnings=())


def test_spec_example_with_wrong_check_digit_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_id_card("410102199001011235")
    assert exc.value.message == "身份证号码校验位不正确"
    assert str(exc.value) == "身份证号码校验位不正确"


def test_validation_error_is_a_value_error() -> None:
    assert issubclass(ValidationError, ValueError)


def test_result_is_frozen() -> None:
    result = validate_id_card(SPEC_ID)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.number = "x"  # type: ignore[misc]


def test_stdnum_example_and_female_gender() -> None:
    result = validate_id_card("360426199101010071")
    assert result.gender == "男"  # 17th digit 7
    female = validate_id_card(with_check("11010519900101122"))
    assert female.gender == "女"


def test_whitespace_is_stripped_and_lowercase_x_normalised() -> None:
    number = with_check("11010519800101018")
    assert number.endswith("X")
    result = validate_id_card(f"  {number[:6]} {number[6:14]} {number[14:-1]}x \n")
    assert result.number == number


def test_full_width_digits_are_accepted() -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in SPEC_ID)
    assert validate_id_card(full_width).number == SPEC_ID


@pytest.mark.parametrize("value", [SPEC_ID[:17], SPEC_ID + "0", "1"])
def test_wrong_length_is_rejected(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_id_card(value)
    assert exc.value.message.startswith("身份证号码应为18位")
    assert f"{len(value)}位" in exc.value.message


def test_legacy_15_digit_number_is_rejected_with_clear_message() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_id_card("410102900101123")
    assert exc.value.message == "身份证号码应为18位（不支持15位旧版号码）"


@pytest.mark.parametrize(
    "value", ["41010219900101123A", "4101021990O1011234", "X10102199001011234", "41010219900101123-"]
)
def test_letters_inside_are_rejected(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_id_card(value)
    assert exc.value.message == "身份证号码格式不正确（前17位应为数字，末位为数字或X）"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_is_rejected(value: str | None) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_id_card(value)  # type: ignore[arg-type]
    assert exc.value.message == "请输入身份证号码"


def test_feb_29_in_leap_year_is_valid() -> None:
    number = with_check("41010220000229123")
    assert validate_id_card(number).birth_date == datetime.date(2000, 2, 29)


@pytest.mark.parametrize("body", ["41010220230229123", "41010219000229123"])  # 1900 is not a leap year
def test_feb_29_in_non_leap_year_is_rejected(body: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_id_card(with_check(body))
    assert exc.value.message == "身份证号码中的出生日期无效"


@pytest.mark.parametrize("date_part", ["19901301", "19900100", "19900431", "00000000"])
def test_impossible_dates_are_rejected(date_part: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_id_card(with_check(f"410102{date_part}123"))
    assert exc.value.message == "身份证号码中的出生日期无效"


def test_future_birth_date_is_rejected() -> None:
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    number = generate_id_card(random.Random(1), birth_date=tomorrow)
    with pytest.raises(ValidationError) as exc:
        validate_id_card(number)
    assert exc.value.message == "身份证号码中的出生日期无效（不能晚于今天）"


def test_birth_today_is_accepted() -> None:
    today = datetime.date.today()
    number = generate_id_card(random.Random(1), birth_date=today)
    assert validate_id_card(number).birth_date == today


def test_birth_year_before_1900_is_rejected() -> None:
    old = generate_id_card(random.Random(1), birth_date=datetime.date(1899, 12, 31))
    with pytest.raises(ValidationError) as exc:
        validate_id_card(old)
    assert exc.value.message == "身份证号码中的出生日期无效（不能早于1900年）"
    assert is_id_card(generate_id_card(random.Random(1), birth_date=datetime.date(1900, 1, 1)))


def test_date_is_checked_before_check_digit() -> None:
    body = "41010220230229123"
    wrong = body + ("0" if ric.calc_check_digit(body + "0") != "0" else "1")
    with pytest.raises(ValidationError, match="出生日期无效"):
        validate_id_card(wrong)


def test_unknown_province_is_only_a_warning() -> None:
    number = with_check("99010119900101123")
    result = validate_id_card(number)
    assert result.number == number
    assert len(result.warnings) == 1
    assert "990101" in result.warnings[0]
    assert is_id_card(number)


def test_unknown_county_in_known_province_is_only_a_warning() -> None:
    result = validate_id_card(with_check("11019919900101123"))
    assert len(result.warnings) == 1
    assert "110199" in result.warnings[0]


def test_county_created_after_birth_year_gives_no_warning() -> None:
    # 浦东新区 (310115) dates from 1992; people born earlier were re-registered
    # under it, which stdnum's own validate() wrongly rejects.
    number = with_check("31011519600101123")
    assert not ric.is_valid(number)
    assert validate_id_card(number).warnings == ()


def test_is_id_card() -> None:
    assert is_id_card(SPEC_ID)
    assert not is_id_card("410102199001011235")
    assert not is_id_card("")
    assert not is_id_card(None)  # type: ignore[arg-type]
    assert not is_id_card(410102199001011234)  # type: ignore[arg-type]


def test_generated_ids_all_validate_without_warnings() -> None:
    rng = random.Random(20240501)
    numbers = [generate_id_card(rng) for _ in range(200)]
    assert len(set(numbers)) == 200
    for number in numbers:
        result = validate_id_card(number)
        assert result.number == number
        assert result.warnings == ()
        assert datetime.date(1960, 1, 1) <= result.birth_date <= datetime.date(2003, 12, 31)


def test_generator_is_deterministic_for_a_seed() -> None:
    assert generate_id_card(random.Random(7)) == generate_id_card(random.Random(7))


def test_generator_honours_arguments() -> None:
    rng = random.Random(3)
    for gender in ("男", "女"):
        for _ in range(50):
            number = generate_id_card(rng, birth_date=datetime.date(1985, 6, 15), gender=gender, area_code="440305")
            result = validate_id_card(number)
            assert result.gender == gender
            assert result.birth_date == datetime.date(1985, 6, 15)
            assert number.startswith("440305")
            assert number[14:17] != "000"


@pytest.mark.parametrize("kwargs", [{"gender": "M"}, {"area_code": "11010"}, {"area_code": "11010A"}])
def test_generator_rejects_bad_arguments(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        generate_id_card(random.Random(1), **kwargs)  # type: ignore[arg-type]


# --- 统一社会信用代码 -------------------------------------------------------


def test_valid_uscc_is_normalised() -> None:
    assert validate_uscc("91110000600037341L") == "91110000600037341L"
    assert validate_uscc(" 91110000 600037341l ") == "91110000600037341L"
    assert validate_uscc("9 1 110000 600037341-L") == "91110000600037341L"


def test_uscc_wrong_check_char() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_uscc("91110000600037341M")
    assert exc.value.message == "统一社会信用代码校验位不正确"


@pytest.mark.parametrize("value", ["A1110000600037341L", "9111000060003734IL", "91110000600037341O"])
def test_uscc_bad_format(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_uscc(value)
    assert exc.value.message.startswith("统一社会信用代码格式不正确")


@pytest.mark.parametrize("value", ["91110000600037341", "91110000600037341L0"])
def test_uscc_wrong_length(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_uscc(value)
    assert exc.value.message.startswith("统一社会信用代码应为18位")


def test_uscc_empty() -> None:
    with pytest.raises(ValidationError, match="请输入统一社会信用代码"):
        validate_uscc("")


def _org_code_valid(code: str) -> bool:
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c, 36) * w for c, w in zip(code[:8], weights, strict=True))
    check = 11 - total % 11
    return code[8] == {10: "X", 11: "0"}.get(check, str(check))


def test_generated_usccs_all_validate() -> None:
    rng = random.Random(42)
    codes = [generate_uscc(rng) for _ in range(200)]
    assert len(set(codes)) == 200
    for code in codes:
        assert validate_uscc(code) == code
        assert uscc.is_valid(code)
        assert code.startswith("91")
        assert _org_code_valid(code[8:17]), code


def test_org_code_check_matches_known_real_code() -> None:
    # The organisation code inside the stdnum example 91110000600037341L.
    assert _org_code_valid("600037341")


# --- 手机号码 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "13812345678",
        "+86 138 1234 5678",
        "138-1234-5678",
        " 138 1234 5678 ",
        "+8613812345678",
        "１３８１２３４５６７８",
    ],
)
def test_valid_mobile_formats(value: str) -> None:
    assert validate_cn_mobile(value) == "13812345678"


@pytest.mark.parametrize("value", ["19912345678", "16612345678", "17012345678"])
def test_newer_mobile_prefixes(value: str) -> None:
    assert validate_cn_mobile(value) == value


@pytest.mark.parametrize("value", ["010-12345678", "(010) 1234 5678", "400-810-8888"])
def test_non_mobile_numbers_are_rejected(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_cn_mobile(value)
    assert exc.value.message.startswith("手机号码无效")
    assert "不是手机号码" in exc.value.message


@pytest.mark.parametrize("value", ["1381234567", "138123456789", "12345678901", "10086"])
def test_invalid_mobile_numbers_are_rejected(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_cn_mobile(value)
    assert exc.value.message.startswith("手机号码无效")


def test_foreign_mobile_is_rejected() -> None:
    with pytest.raises(ValidationError, match="仅支持中国大陆"):
        validate_cn_mobile("+1 650 253 0000")


@pytest.mark.parametrize("value", ["138-FLOWERS1", "13812345678 ext 12", "tel:13812345678"])
def test_letters_in_mobile_are_rejected(value: str) -> None:
    with pytest.raises(ValidationError, match="手机号码无效"):
        validate_cn_mobile(value)


def test_empty_mobile() -> None:
    with pytest.raises(ValidationError, match="请输入手机号码"):
        validate_cn_mobile("  ")


def _verdict(check, value: str) -> str:
    try:
        return "accepted " + check(value)
    except ValidationError as exc:
        return "refused: " + exc.message


def test_mobile_fast_path_gives_phonenumbers_verdict_for_every_prefix() -> None:
    """The plain-11-digit fast path accepts only what phonenumbers accepts, with the same result, and everything
    else still gets phonenumbers' verdict: every 6-digit prefix (1xxxxx, all edges: 10…, 11…/12… carrier codes,
    140…, 1610, 1740x, 179…, satellite 1349) with a random tail, every 4-digit prefix with all-0 and all-9 tails,
    and the same numbers as people type them (spaces, +86, full-width digits, a newline)."""
    from crm.validators import _PLAIN_MOBILE, _validate_cn_mobile_slowly

    assert _PLAIN_MOBILE is not None  # the installed phonenumbers has the CN metadata the fast path reads
    rng = random.Random(11643)
    numbers = [f"{p}{rng.randrange(10**5):05d}" for p in range(100_000, 200_000)]
    numbers += [f"{p}{tail}" for p in range(1000, 2000) for tail in ("0000000", "9999999")]
    numbers += [f"0{p}{rng.randrange(10**6):06d}" for p in range(1000, 1100)]  # 11 digits, not starting with 1
    differ, fast = [], 0
    for number in numbers:
        fast += bool(_PLAIN_MOBILE.match(number))
        if _verdict(validate_cn_mobile, number) != _verdict(_validate_cn_mobile_slowly, number):
            differ.append(number)
    assert differ == []
    assert 50_000 < fast < 60_000  # about half of the prefixes are mobile ones: the fast path is really used
    for number in numbers[::997]:
        for typed in (f"{number[:3]} {number[3:7]} {number[7:]}", f"+86{number}", f"{number}\n",
                      number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))):
            assert _verdict(validate_cn_mobile, typed) == _verdict(_validate_cn_mobile_slowly, typed), typed
    assert validate_cn_mobile("17405123456") == "17405123456"  # 1740[0-5]: mobile
    assert _verdict(validate_cn_mobile, "17406123456").startswith("refused")  # 17406: satellite, not mobile
    assert _verdict(validate_cn_mobile, "12593812345").startswith("refused")  # a carrier code, not a mobile


def test_uscc_shortcut_gives_the_general_verdict() -> None:
    """A well-formed code takes a shortcut (its check digit only); with spaces around it, it goes through
    stdnum's validate: valid codes, wrong check digits and random characters (I, O, S, V, Z too) agree."""
    rng = random.Random(32100)
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXYIOSVZ"
    codes = [generate_uscc(rng) for _ in range(5000)]
    codes += [code[:-1] + rng.choice(chars) for code in codes]
    codes += ["".join(rng.choice("0123456789") for _ in range(8)) + "".join(rng.choice(chars) for _ in range(10))
              for _ in range(5000)]
    assert [_verdict(validate_uscc, c) for c in codes] == [_verdict(validate_uscc, f" {c} ") for c in codes]
    assert sum(_verdict(validate_uscc, c).startswith("accepted") for c in codes) > 5000


@pytest.mark.parametrize("area", ["410102", "110105", "999999", "110000", "410199"])
def test_birthplace_warning_is_the_same_for_every_number_of_an_area(area: str) -> None:
    """The birthplace lookup is cached by area code: two people of one area get the same (or no) warning."""
    first = validate_id_card(with_check(f"{area}19850612003"))
    second = validate_id_card(with_check(f"{area}19900307124"))
    assert first.warnings == second.warnings
    if area == "999999":
        assert first.warnings == ("身份证号码中的出生地代码（999999）不属于任何省级行政区，请核对",)
    if area == "410102":
        assert first.warnings == ()


# --- 金额 -------------------------------------------------------------------


def test_plain_amounts_read_the_same_as_typed_ones() -> None:
    """"50000" and "1234.56" take a shortcut; with a space around them they go the general way: same verdicts."""
    rng = random.Random(32100)
    texts = ["0", "00", "007", "0.5", "0.05", "12.30", "1.234", "123456789012345678", "999999999999999999.99",
             "1000000000000000.00", "9999999999999999.99", "1" * 18 + ".5"]
    texts += [f"{rng.randrange(10 ** rng.randrange(1, 19))}.{rng.randrange(100):02d}" for _ in range(2000)]
    texts += [str(rng.randrange(10 ** 12)) for _ in range(500)]
    for text in texts:
        for kwargs in ({}, {"places": 0}, {"min_value": Decimal("0"), "max_value": Decimal("9999999999999999.99")}):
            plain, typed = (_verdict(lambda v, kw=kwargs: str(parse_amount(v, **kw)), t) for t in (text, f" {text} "))
            assert plain == typed, (text, kwargs)
            if not plain.startswith("refused"):
                assert parse_amount(text, **kwargs).as_tuple() == parse_amount(f" {text} ", **kwargs).as_tuple()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.5万", Decimal("125000.00")),
        ("12.5万元", Decimal("125000.00")),
        ("1.2亿", Decimal("120000000.00")),
        ("1,234.5", Decimal("1234.50")),
        ("1,234.50", Decimal("1234.50")),
        ("1234", Decimal("1234.00")),
        ("１２３", Decimal("123.00")),
        ("１，２３４.５", Decimal("1234.50")),
        ("￥1,234.50", Decimal("1234.50")),
        ("100元", Decimal("100.00")),
        ("-1,234.50", Decimal("-1234.50")),
        ("0", Decimal("0.00")),
        ("1.230", Decimal("1.23")),
        ("1.23456万", Decimal("12345.60")),
        (1234, Decimal("1234.00")),
        (Decimal("99.9"), Decimal("99.90")),
    ],
)
def test_parse_amount(value: str | int | Decimal, expected: Decimal) -> None:
    result = parse_amount(value)
    assert result == expected
    assert result.as_tuple().exponent == -2


def test_parse_amount_places() -> None:
    assert parse_amount("1.234", places=3) == Decimal("1.234")
    assert str(parse_amount("5", places=0)) == "5"
    with pytest.raises(ValidationError, match="金额必须为整数"):
        parse_amount("1.5", places=0)


@pytest.mark.parametrize("value", ["1.234", Decimal("1.234"), "1.2345678万"])
def test_parse_amount_too_many_places(value: str | Decimal) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_amount(value)
    assert exc.value.message == "金额最多保留2位小数"


@pytest.mark.parametrize("value", [1.5, 0.1, True])
def test_parse_amount_rejects_float_and_bool(value: float) -> None:
    with pytest.raises(TypeError):
        parse_amount(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", "12,34", "1.2.3", "1e5", "NaN", "Infinity", "万", "1万亿", "--1", ".5"])
def test_parse_amount_rejects_garbage(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_amount(value)
    assert exc.value.message.startswith("金额格式不正确")


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_parse_amount_rejects_non_finite_decimal(value: Decimal) -> None:
    with pytest.raises(ValidationError, match="金额无效"):
        parse_amount(value)


def test_parse_amount_empty() -> None:
    with pytest.raises(ValidationError, match="请输入金额"):
        parse_amount("  ")


def test_parse_amount_range() -> None:
    assert parse_amount("0.01", min_value=Decimal("0.01")) == Decimal("0.01")
    assert parse_amount("5万", max_value=Decimal("50000")) == Decimal("50000.00")
    with pytest.raises(ValidationError) as low:
        parse_amount("0", min_value=Decimal("0.01"))
    assert low.value.message == "金额不能小于0.01"
    with pytest.raises(ValidationError) as high:
        parse_amount("5.01万", max_value=Decimal("50000"))
    assert high.value.message == "金额不能大于50,000.00"


def test_parse_amount_huge_value_is_rejected_not_crashing() -> None:
    with pytest.raises(ValidationError, match="金额超出允许范围"):
        parse_amount("9" * 40)

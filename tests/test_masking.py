"""Tests for crm.masking."""

from __future__ import annotations

import pytest

from crm.masking import mask_account, mask_id_card, mask_login, mask_mobile, mask_name, mask_text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("110105199001011234", "110***********1234"),
        ("11010519800101018X", "110***********018X"),
        ("410102900101123", "410********1123"),
        ("12345678", "123*5678"),
        ("1234567", "*******"),
        ("1", "*"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id_card(value: str | None, expected: str) -> None:
    assert mask_id_card(value) == expected


def test_mask_id_card_keeps_length() -> None:
    assert len(mask_id_card("110105199001011234")) == 18


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("010-12345678", "010****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("0086 138 1234 5678", "138****5678"),
        ("+1 650 253 0000", "********0000"),
        ("12345", "*2345"),
        ("1234", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_mobile(value: str | None, expected: str) -> None:
    assert mask_mobile(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6222 0212 3456 7890 123", "6222***********0123"),
        ("6222021234567890123", "6222***********0123"),
        ("6222-0212-3456-7890", "6222********7890"),
        ("123456789012", "1234****9012"),
        ("12345678", "****5678"),
        ("1234567", "*******"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_account(value: str | None, expected: str) -> None:
    assert mask_account(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("张三", "张*"),
        ("张三丰", "张**"),
        ("欧阳娜娜", "欧阳**"),
        ("欧阳修", "欧阳*"),
        ("欧阳", "欧*"),
        ("诸葛亮", "诸葛*"),
        (" 李四 ", "李*"),
        ("张", "*"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_name(value: str | None, expected: str) -> None:
    assert mask_name(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("110105199001011234", "110***********1234"),
        ("11010519800101018x", "110***********018x"),
        ("A10086", "A10086"),
        ("zhangsan", "zhangsan"),
        ("1101051990010112345", "1101051990010112345"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_login(value: str | None, expected: str) -> None:
    assert mask_login(value) == expected


def test_mask_text_masks_id_and_mobile_but_not_longer_numbers() -> None:
    text = "客户张三（身份证410102199001011234，手机13812345678）办理业务，流水号201381234567。"
    assert mask_text(text) == "客户张三（身份证410***********1234，手机138****5678）办理业务，流水号201381234567。"


def test_mask_text_leaves_12_digit_number_starting_like_a_mobile() -> None:
    assert mask_text("订单138123456789已完成") == "订单138123456789已完成"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tel=13912345678&x=1", "tel=139****5678&x=1"),
        ("电话 +86 13812345678", "电话 +86 138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("手机 138 1234 5678", "手机 138 **** 5678"),
        ("手机 138-1234-5678", "手机 138-****-5678"),
        ("ids 11010519800101018X,11010519800101018x", "ids 110***********018X,110***********018x"),
        ("12812345678 is not a mobile", "12812345678 is not a mobile"),
        ("card 6222021234567890123", "card 6222021234567890123"),
        ("两个号码13812345678、13912345678", "两个号码138****5678、139****5678"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_text_cases(text: str | None, expected: str) -> None:
    assert mask_text(text) == expected

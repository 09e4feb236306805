"""PII masking shared by pages, exports, PDFs and audit logs."""

from __future__ import annotations

import re

__all__ = [
    "mask_account",
    "mask_id_card",
    "mask_login",
    "mask_mobile",
    "mask_name",
    "mask_text",
]

_ID_CARD = re.compile(r"[0-9]{17}[0-9Xx]")
_SEPARATORS = re.compile(r"[\s\-]+")
# The country code is dropped so "+86 138…" and "138…" mask identically.
_MOBILE_WITH_PREFIX = re.compile(r"(?:\+86|0086)?([0-9]{11})")

# Compound surnames stay visible so "欧阳娜娜" reads "欧阳**" and still hides
# the given name; otherwise only the first character is kept.
_COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 令狐 夏侯 "
    "端木 轩辕 独孤 南宫 西门 呼延 澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 "
    "仲孙 钟离 闻人 赫连 百里 东郭 万俟 拓跋 第五".split()
)

# Lookarounds keep digits that belong to longer runs (order numbers, card
# numbers, timestamps) from being read as an ID or a mobile. Full-width digits,
# signs and separators (typed with a Chinese IME) count too, and the two gaps of a
# mobile may differ ("138 12345678"): the validators accept all of these spellings.
_D = "[0-9０-９]"
_GAP = "[ \\-\u3000－]?"
_TEXT_ID_CARD = re.compile(f"(?<!{_D}){_D}{{17}}[0-9０-９XxＸｘ](?!{_D})")
_TEXT_MOBILE = re.compile(
    f"(?<![0-9０-９+＋])(?P<prefix>[+＋][8８][6６]{_GAP})?"
    f"(?P<head>[1１][3-9３-９]{_D})(?P<sep>{_GAP}){_D}{{4}}(?P<sep2>{_GAP})(?P<tail>{_D}{{4}})(?!{_D})"
)


def _stars(count: int) -> str:
    return "*" * max(count, 0)


def mask_id_card(v: str | None) -> str:
    """Mask an ID number as first 3 + stars + last 4, e.g. "110***********1234"."""
    if not v:
        return ""
    text = str(v).strip()
    if len(text) < 8:
        return _stars(len(text))
    return text[:3] + _stars(len(text) - 7) + text[-4:]


def mask_mobile(v: str | None) -> str:
    """Mask a mobile number as "138****5678"; other lengths keep the last 4 only."""
    if not v:
        return ""
    text = _SEPARATORS.sub("", str(v))
    national = _MOBILE_WITH_PREFIX.fullmatch(text)
    if national:
        return national[1][:3] + "****" + national[1][-4:]
    if len(text) <= 4:
        return _stars(len(text))
    return _stars(len(text) - 4) + text[-4:]


def mask_account(v: str | None) -> str:
    """Mask a bank account/card number as first 4 + stars + last 4, separators removed."""
    if not v:
        return ""
    text = _SEPARATORS.sub("", str(v))
    # Short numbers would be almost fully revealed by 4+4, so they show less.
    if len(text) >= 12:
        return text[:4] + _stars(len(text) - 8) + text[-4:]
    if len(text) >= 8:
        return _stars(len(text) - 4) + text[-4:]
    return _stars(len(text))


def mask_name(v: str | None) -> str:
    """Mask a person's name keeping the surname: "张*", "张**", "欧阳**"."""
    if not v:
        return ""
    text = str(v).strip()
    if len(text) <= 1:
        return _stars(len(text))
    keep = 2 if len(text) > 2 and text[:2] in _COMPOUND_SURNAMES else 1
    return text[:keep] + _stars(len(text) - keep)


def mask_login(v: str | None) -> str:
    """Mask a login only when it is an ID number; staff numbers are not PII."""
    if not v:
        return ""
    text = str(v)
    if _ID_CARD.fullmatch(text.strip()):
        return mask_id_card(text)
    return text


def _mask_text_mobile(match: re.Match[str]) -> str:
    return f"{match['prefix'] or ''}{match['head']}{match['sep']}****{match['sep2']}{match['tail']}"


def mask_text(text: str | None) -> str:
    """Mask every 18-char ID number and mainland mobile number inside free text."""
    if not text:
        return ""
    masked = _TEXT_ID_CARD.sub(lambda m: mask_id_card(m.group()), str(text))
    return _TEXT_MOBILE.sub(_mask_text_mobile, masked)

"""Log masking: no ID number, mobile, password or search term reaches a log line, whoever logs it."""

from __future__ import annotations

import logging
import re
from typing import Any

from crm.masking import mask_text

__all__ = ["SAFE_QUERY_PARAMS", "MaskingFilter", "install_log_masking", "mask_log_text"]

# Query parameters whose values are kept in request lines: paging, sorting and filters by code or internal id.
# Every other value (q, who, next, find, tag, …, and any parameter added later) becomes "***": a search box may
# hold a customer's name, ID or mobile, and a deny-list would miss the next such parameter.
SAFE_QUERY_PARAMS = frozenset(
    "page per_page after before sort dir order status outlet outlet_id branch branch_id customer_id kind year month "
    "day date from to start end view tab product perspective payment_mode module tier thumb result post parent "
    "on mode level grade action format lang".split()
)

_QUERY_PAIR = re.compile(r"(?P<sep>[?&;])(?P<name>[A-Za-z0-9_.\-\[\]%]+)=(?P<value>[^&;#\s\"'<>]*)")
# "password=…", "'password': '…'", "totp_code: …" in messages, reprs and tracebacks.
_SECRET_PAIR = re.compile(
    r"(?P<key>\b[\w-]*(?:password|passwd|pwd|secret|token|totp|otp|csrf)[\w-]*[\"']?\s*[=:]\s*)"
    r"(?P<value>[\"'][^\"']*[\"']|[^\s,&;)}\]]+)", re.IGNORECASE)
# SQLAlchemy errors carry the bound values ("[parameters: ('张三', '1101…')]") and PostgreSQL the offending key
# ("Key (name)=(张三) already exists"): a customer's name would pass every number mask.
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\n|\(Background|$))", re.DOTALL)
_PG_KEY_DETAIL = re.compile(r"(Key \([^)]*\)=\().*?(\)( already exists| is not present| is still referenced))")


def _query_value(match: re.Match[str]) -> str:
    name = match["name"]
    if name in SAFE_QUERY_PARAMS or not match["value"]:
        return match.group(0)
    return f"{match['sep']}{name}=***"


def mask_log_text(text: str) -> str:
    """The masked form of one log message (or traceback)."""
    if not text:
        return text
    text = _SQL_PARAMETERS.sub("[parameters: ***]", text)
    text = _PG_KEY_DETAIL.sub(r"\1***\2", text)
    text = _QUERY_PAIR.sub(_query_value, text)
    text = _SECRET_PAIR.sub(lambda m: f"{m['key']}***", text)
    return mask_text(text)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Replace a record's message (and formatted traceback) by its masked form, in place."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: logging itself reports it later; leave the record as it is
        return record
    masked = mask_log_text(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        # Formatted once here, masked, and cached where every Formatter looks first (LogRecord.exc_text).
        record.exc_text = mask_log_text(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = mask_log_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_log_text(record.stack_info)
    return record


class MaskingFilter(logging.Filter):
    """The same masking as a filter, for handlers configured outside the app (e.g. gunicorn's logconfig_dict)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def install_log_masking() -> None:
    """Mask every log record of the process when it is created — werkzeug's and gunicorn's request logs, library
    warnings and tracebacks included — whatever handlers are attached later. Idempotent."""
    current = logging.getLogRecordFactory()
    if getattr(current, "crm_masking", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(current(*args, **kwargs))

    factory.crm_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)

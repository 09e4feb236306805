"""Language choice: the user's pick (session, then profile), else the configured default (zh_Hans_CN)."""

from __future__ import annotations

from typing import Any

import flask_babel
from flask import current_app, has_request_context, request, session
from flask_login import current_user

LOCALES = {"zh_Hans_CN": "中文", "en": "English"}


def normalise(tag: str) -> str | None:
    """zh, zh-CN, zh_Hans_CN → zh_Hans_CN; en, en-US → en (Flask-Babel never matches zh-CN by itself)."""
    tag = (tag or "").replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_Hans_CN"
    if tag.startswith("en"):
        return "en"
    return None


def select_locale() -> str:
    if not has_request_context():  # CLI output and background work use the default language
        return current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_Hans_CN")
    chosen = session.get("lang")
    if chosen in LOCALES:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale in LOCALES:
        return current_user.locale
    # The browser's Accept-Language is not consulted: bank PCs often run English-language browsers, and the
    # product's language is Chinese unless the user picks English. CRM_DEFAULT_LOCALE changes the default.
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_Hans_CN")


def translations() -> Any:
    """The request's translations, resolved once per request (Flask-Babel resolves them on every call,
    which cost a fifth of a 50-row page's rendering)."""
    if not has_request_context():
        return flask_babel.get_translations()
    environ = request.environ
    found = environ.get("crm.translations")
    if found is None:
        found = environ["crm.translations"] = flask_babel.get_translations()
    return found


def gettext(string: str, **variables: Any) -> str:
    text = translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    return translations().ungettext(singular, plural, num) % variables


def label(value: Any) -> str:
    """A lazy_gettext label (kept lazy so extraction finds it) translated through the per-request cache."""
    args = getattr(value, "_args", None)
    if args and isinstance(args[0], str) and len(args) == 1:
        return gettext(args[0])
    return str(value)

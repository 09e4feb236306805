"""Language choice: the user's pick (session, then profile), else the configured default (zh_Hans_CN)."""

from __future__ import annotations

from flask import current_app, has_request_context, session
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

"""The refusals services raise for the views to show: one message, or one message per form field (in Chinese)."""

from __future__ import annotations


class ServiceError(ValueError):
    """A refused action; the message says in Chinese what was wrong."""


class FormErrors(ServiceError):
    """Several fields are wrong: field name → Chinese message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors

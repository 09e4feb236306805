"""Helpers shared by the blueprints' forms."""

from __future__ import annotations

from flask_wtf import FlaskForm


def apply_errors(form: FlaskForm, errors: dict[str, str]) -> list[str]:
    """Attach a service's field → message errors to the form; return the ones that belong to no field."""
    general = []
    for name, message in errors.items():
        if name in form._fields:
            form._fields[name].errors = [*form._fields[name].errors, message]
        else:
            general.append(message)
    return general

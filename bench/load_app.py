"""WSGI entry of the load benchmark: the CRM app, with a bare Flask page at /bare served by the same gunicorn."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from crm import create_app

bare = Flask("bare")


@bare.route("/")
def bare_page() -> str:
    # The reference: a Flask view with no session, database or template (what the server and framework cost).
    return "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>ok</title></head><body>ok</body></html>"


crm_app = create_app()
app = DispatcherMiddleware(crm_app, {"/bare": bare})

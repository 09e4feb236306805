"""Per-request shortcuts of crm/web.py: template links built once, security headers, translated strings."""

from __future__ import annotations

from flask import render_template_string

from crm.access import policy


def test_template_links_follow_the_script_root_and_the_host(client, org):
    """Links without arguments are built once per host and script root: a deployment under /crm gets its own."""
    client.login("HA0001")
    plain = client.get("/customers").get_data(as_text=True)
    mounted = client.get("/customers", base_url="http://localhost/crm/").get_data(as_text=True)
    assert 'href="/static/vendor/tabler/tabler.min.css"' in plain
    assert 'href="/crm/static/vendor/tabler/tabler.min.css"' in mounted and 'href="/static/' not in mounted
    assert 'href="/crm/customers"' in mounted and 'href="/crm/users"' in mounted  # the menu
    again = client.get("/customers").get_data(as_text=True)
    assert 'href="/static/vendor/tabler/tabler.min.css"' in again and "/crm/" not in again


def test_template_links_with_values_and_outside_requests(app):
    with app.test_request_context("/"):
        html = render_template_string("{{ url_for('customers.index', q='张', sort='deposit') }}|"
                                      "{{ url_for('customers.index') }}")
    assert html == "/customers?q=%E5%BC%A0&amp;sort=deposit|/customers"
    app.config["SERVER_NAME"] = "crm.bank.example"
    url_for = app.jinja_env.globals["url_for"]
    with app.app_context():  # PDFs and background jobs build links without a request
        assert url_for("customers.index") == "http://crm.bank.example/customers"


def test_a_view_keeps_its_own_security_headers(make_app):
    app = make_app()

    @policy("public")
    def framed():
        return "x", 200, {"X-Frame-Options": "SAMEORIGIN", "Vary": "Accept"}

    app.add_url_rule("/framed", "framed", framed)
    resp = app.test_client().get("/framed")
    assert resp.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert "Accept" in resp.headers["Vary"] and "HX-Request" not in resp.headers["Vary"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and "frame-ancestors" in resp.headers[
        "Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"


def test_translated_strings_with_and_without_placeholders(app):
    with app.test_request_context("/"):
        html = render_template_string("{{ _('共 %(n)s 位客户', n='1,000') }}|{{ _('全部维护人') }}|"
                                      "{{ _('没有找到“%(find)s”', find='<b>') }}")
    assert html == "共 1,000 位客户|全部维护人|没有找到“&lt;b&gt;”"

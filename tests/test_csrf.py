"""CSRF: every state-changing route refuses a request without the token, and changes nothing."""

from __future__ import annotations

from flask import url_for

from tests.conftest import table_snapshot

IDS = {"user_id": "rm_a", "outlet_id": "a", "branch_id": "s1", "note_id": None, "customer_id": None,
       "field_name": None, "activity_id": None, "job_id": None,
       "row_id": None}


def post_routes(app, org):
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        values = {}
        for arg in rule.arguments:
            if arg == "name":
                values[arg] = "example"
            elif arg == "field_name":
                values[arg] = "phone"
            elif arg == "section":
                values[arg] = "products"
            elif arg == "kind":
                values[arg] = "imports"  # a background-job kind (admin failed-job view)
            else:
                attr = IDS[arg]
                values[arg] = getattr(org, attr).id if attr else 1
        with app.test_request_context():
            yield url_for(rule.endpoint, **values)


def test_every_post_without_token_is_400_and_changes_nothing(client, org, enable_plugin):
    enable_plugin(org.b1, "example")
    client.login("ADM001")
    urls = list(post_routes(client.app, org))
    assert len(urls) >= 12
    for url in urls:
        before = table_snapshot()
        resp = client.post(url, {"enabled": "1", "active": "0", "branch": str(org.b1.id), "lang": "en",
                                 "text": "x", "login": "ADM001", "password": "Kaihu-2026x"}, csrf=False)
        assert resp.status_code == 400, url
        assert "安全校验未通过" in resp.get_data(as_text=True), url
        after = table_snapshot()
        before.pop("user_session"), after.pop("user_session")
        assert before == after, url


def test_wrong_token_is_refused_too(client, org):
    client.login("HA0001")
    resp = client.post(f"/users/{org.teller_a.id}/active", {"active": "0", "csrf_token": "forged"}, csrf=False)
    assert resp.status_code == 400
    assert client.post(f"/users/{org.teller_a.id}/active", {"active": "0"}).status_code == 302


def test_htmx_requests_carry_the_token_in_a_header(client, org):
    client.login("ADM001")
    page = client.get("/admin/plugins").get_data(as_text=True)
    assert "hx-headers='{&#34;X-CSRFToken&#34;: &#34;" in page  # JSON, HTML-escaped inside the attribute
    token = client.refresh_token("/admin/plugins")
    resp = client.http.post("/admin/plugins/example/toggle", data={"branch": "global", "enabled": "1"},
                            headers={"HX-Request": "true", "X-CSRFToken": token})
    assert resp.status_code == 200

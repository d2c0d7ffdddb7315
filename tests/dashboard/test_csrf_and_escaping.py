"""Forged forms are refused, and nothing a WhatsApp user wrote can become markup or script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.cloud import ROOT
from tests.support.dashboard import XSS
from tests.support.seed import conversation, store_ai_reply, store_inbound

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
TEMPLATES = ROOT / "functions" / "dashboard" / "templates"


@pytest.fixture
def conv(firestore_db) -> str:
    conv_id, _ = store_inbound(firestore_db, wa_id="15550003333", name="Mallory")
    return conv_id


# -- CSRF ------------------------------------------------------------------------------------


def test_a_post_without_a_csrf_token_is_refused_and_changes_nothing(operator, firestore_db, conv) -> None:
    response = operator.client.post(f"/conversations/{conv}/pause")
    assert response.status_code == 403
    assert not conversation(firestore_db, conv).get("ai_paused")


def test_a_post_with_a_wrong_csrf_token_is_refused(operator, firestore_db, conv) -> None:
    response = operator.client.post(f"/conversations/{conv}/pause", data={"csrf_token": "x" * 43})
    assert response.status_code == 403
    assert not conversation(firestore_db, conv).get("ai_paused")


def test_a_post_with_the_token_in_the_header_is_accepted(operator, firestore_db, conv) -> None:
    response = operator.client.post(f"/conversations/{conv}/pause", headers={"X-CSRF-Token": operator.csrf()})
    assert response.status_code == 303
    assert conversation(firestore_db, conv)["ai_paused"] is True


def test_a_cross_site_post_is_refused_even_with_the_right_token(operator, firestore_db, conv) -> None:
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}, {"Origin": "null"}):
        response = operator.post(f"/conversations/{conv}/pause", headers=headers)
        assert response.status_code == 403, headers
    assert not conversation(firestore_db, conv).get("ai_paused")


def test_the_login_form_needs_a_csrf_token_too(app) -> None:
    client = app.test_client()
    assert client.post("/login", data={"password": "whatever"}).status_code == 403


def test_the_csrf_cookie_is_http_only_and_strict(app) -> None:
    response = app.test_client().get("/login")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("dashboard_csrf="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


# -- escaping ----------------------------------------------------------------------------------


def test_a_script_in_a_message_is_shown_as_text_everywhere(operator, firestore_db) -> None:
    conv_id, wamid = store_inbound(firestore_db, wa_id="15550004444", name=XSS, text=XSS)
    store_ai_reply(firestore_db, conv_id, "15550004444", XSS, answered=[wamid])
    for url in ("/", "/conversations", f"/conversations/{conv_id}", "/conversations?q=%3Cscript"):
        body = operator.get(url).get_data(as_text=True)
        assert XSS not in body, url
        assert "<img src=x" not in body and "<script>alert" not in body, url
    thread = operator.get(f"/conversations/{conv_id}").get_data(as_text=True)
    assert ESCAPED in thread


def test_live_json_carries_user_text_with_html_characters_escaped(operator, firestore_db) -> None:
    conv_id, _ = store_inbound(firestore_db, wa_id="15550004444", name="x", text=XSS)
    response = operator.get(f"/conversations/{conv_id}/live")
    assert response.mimetype == "application/json"
    raw = response.get_data(as_text=True)
    assert "<" not in raw and ">" not in raw
    assert response.get_json()["messages"][0]["text"] == XSS


def test_a_search_for_markup_is_echoed_escaped(operator) -> None:
    body = operator.get("/conversations", query_string={"q": '"><script>alert(3)</script>'}).get_data(
        as_text=True
    )
    assert "<script>alert(3)" not in body
    assert "&lt;script&gt;alert(3)" in body


def test_no_template_marks_anything_safe_or_carries_inline_code() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert "|safe" not in text.replace(" ", ""), template.name
        assert "autoescape false" not in text, template.name
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script in {template.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {template.name}"
        assert not re.search(r"\sstyle\s*=|<style", text), f"inline style in {template.name}"


def test_the_script_never_puts_text_into_the_page_as_html() -> None:
    script = (ROOT / "functions" / "dashboard" / "assets" / "js" / "dashboard.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink


# -- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/conversations", "/quarantine"])
def test_pages_carry_a_strict_content_security_policy_and_the_usual_headers(operator, path: str) -> None:
    headers = operator.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers  # plain http: HSTS would be ignored anyway


def test_vendored_assets_are_served_by_the_function_with_their_licenses(app) -> None:
    client = app.test_client()
    css = client.get("/assets/vendor/bootstrap/bootstrap.min.css")
    assert css.status_code == 200 and "Licensed under MIT" in css.get_data(as_text=True)[:400]
    js = client.get("/assets/vendor/bootstrap/bootstrap.bundle.min.js")
    assert js.status_code == 200 and js.headers["X-Content-Type-Options"] == "nosniff"
    sprite = client.get("/assets/vendor/feather/feather-sprite.svg")
    assert sprite.status_code == 200 and "MIT License" in sprite.get_data(as_text=True)[:300]
    for name in ("bootstrap", "feather"):
        assert (Path(TEMPLATES.parent / "assets" / "vendor" / name / "LICENSE")).is_file()


def test_pages_load_nothing_from_another_site(operator, conv) -> None:
    for url in ("/", "/conversations", f"/conversations/{conv}", "/login"):
        body = operator.get(url).get_data(as_text=True)
        for match in re.finditer(r'(?:src|href)="([^"]+)"', body):
            assert match.group(1).startswith(("/", "#", "https://www.openstreetmap.org/")), match.group(1)

"""Driving the dashboard as an operator's browser would, short of a real browser."""

from __future__ import annotations

import re
from typing import Any

import flask
from flask.testing import FlaskClient

from tests.support.cloud import ROOT

SOURCE = str(ROOT / "functions" / "dashboard" / "main.py")
PASSWORD = "correct horse battery staple"
SESSION_SECRET = "dashboard-test-session-secret-0123456789"
XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def inner_app() -> flask.Flask:
    """The dashboard's own Flask app inside the function module functions-framework loaded."""
    import sys

    return sys.modules["main"].APP


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


class Operator:
    """A logged-in operator's browser, as far as a test client can be one."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, password: str = PASSWORD, **extra: str) -> Any:
        token = csrf_from(self.client.get("/login").get_data(as_text=True))
        return self.client.post("/login", data={"password": password, "csrf_token": token, **extra})

    def csrf(self) -> str:
        cookie = self.client.get_cookie("dashboard_csrf")
        assert cookie is not None, "no CSRF cookie yet"
        return cookie.value

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.client.post(url, data={"csrf_token": self.csrf(), **(data or {})}, **kwargs)

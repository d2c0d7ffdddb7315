"""Cross-site request forgery protection for every state-changing request.

A double-submit token: a random value lives in an HttpOnly, SameSite=Strict cookie and every
form (or fetch) sends the same value back; another site can neither read the cookie nor make
the browser attach it to a cross-site request. Over https the cookie takes the `__Host-` prefix,
so no sibling domain can plant its own value. It works the same behind IAP (no session of ours)
and with the local login, and needs no server state across instances. As a second line, a
request whose Origin names another site is refused outright.
"""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import urlsplit

import flask

COOKIE = "dashboard_csrf"
SECURE_COOKIE = "__Host-dashboard_csrf"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


class CsrfError(Exception):
    pass


def _cookie_name(request: flask.Request) -> str:
    return SECURE_COOKIE if request.is_secure else COOKIE


def _cookie_token(request: flask.Request) -> str | None:
    token = request.cookies.get(_cookie_name(request), "")
    return token if _TOKEN.match(token) else None


def token_for(request: flask.Request) -> str:
    """The token to render into this response's forms (created on first use in the request)."""
    token = flask.g.get("csrf_token")
    if token is None:
        token = _cookie_token(request) or secrets.token_urlsafe(32)
        flask.g.csrf_token = token
    return token


def rotate(request: flask.Request) -> str:
    """A fresh token, e.g. after logging in, so a token planted before login is worthless."""
    flask.g.csrf_token = secrets.token_urlsafe(32)
    return flask.g.csrf_token


def set_cookie(request: flask.Request, response: flask.Response) -> None:
    """Store the token rendered in this request (if any) for the next request to check against."""
    token = flask.g.get("csrf_token")
    if token is None or token == _cookie_token(request):
        return
    response.set_cookie(
        _cookie_name(request),
        token,
        path="/",
        secure=request.is_secure,
        httponly=True,
        samesite="Strict",
    )


def _same_origin(request: flask.Request) -> bool:
    # Browsers say where a request comes from in Sec-Fetch-Site; it survives a proxy that
    # rewrites Host, which would make comparing Origin with Host refuse our own forms.
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.host


def check(request: flask.Request) -> None:
    """Raise CsrfError unless a state-changing request carries the cookie's token."""
    if request.method in SAFE_METHODS:
        return
    if not _same_origin(request):
        raise CsrfError("cross-origin request")
    expected = _cookie_token(request)
    given = request.headers.get(HEADER) or request.form.get(FORM_FIELD, "")
    if not expected or not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfError("missing or wrong CSRF token")

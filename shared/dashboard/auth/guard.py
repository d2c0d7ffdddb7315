"""The gate every request passes: who is asking, is the form genuine, which headers go back.

Authentication is the default: only the endpoints named in PUBLIC answer without an operator
(the health check, the login form and the static files the login page needs). A new route is
therefore protected without anyone remembering to protect it, and a URL that matches no route
is refused like any other before it can say that it does not exist.
"""

from __future__ import annotations

import hashlib
import logging

import flask

from shared.dashboard import state
from shared.dashboard.audit import Action
from shared.dashboard.auth import csrf
from shared.dashboard.config import AuthMode
from shared.dashboard.headers import add_security_headers

log = logging.getLogger(__name__)

SIGNED_IN = "__Host-signed-in"  # behind IAP: this browser's sign-in is in the audit trail already
SIGNED_IN_SECONDS = 12 * 3600
PUBLIC = frozenset({"static", "auth.health", "auth.login", "auth.login_submit"})


def _wants_html(request: flask.Request) -> bool:
    # A browser navigating gets the login form; scripts (the live JSON) and forms get a plain 401.
    return (
        request.method == "GET"
        and request.accept_mimetypes.best_match(["text/html", "application/json"]) == "text/html"
    )


def _refuse_unauthenticated(request: flask.Request) -> flask.Response:
    if state.current().auth.mode is AuthMode.PASSWORD and _wants_html(request):
        target = request.full_path.rstrip("?") if request.query_string else request.path
        return flask.redirect(flask.url_for("auth.login", next=target))
    return flask.Response("authentication required", status=401, mimetype="text/plain")


def before_request() -> flask.Response | None:
    request = flask.request
    if request.endpoint in PUBLIC:
        if request.endpoint == "auth.login_submit":
            return _check_csrf(request)
        return None
    operator = state.current().auth.operator(request)
    if operator is None:
        return _refuse_unauthenticated(request)
    flask.g.operator = operator
    refused = _check_csrf(request)
    if (
        refused is None
        and operator.via is AuthMode.IAP
        and request.cookies.get(SIGNED_IN) != _seen(operator.name)
    ):
        # IAP signs operators in itself; their first request of a working day is their login.
        state.audit(Action.LOGIN, "dashboard", detail="through Identity-Aware Proxy")
        flask.g.signed_in = True
    return refused


def _check_csrf(request: flask.Request) -> flask.Response | None:
    try:
        csrf.check(request)
    except csrf.CsrfError as exc:
        log.warning("request refused: %s", exc, extra={"path": request.path, "method": request.method})
        return flask.Response(
            "the form has expired; reload the page and try again", status=403, mimetype="text/plain"
        )
    return None


def _seen(operator: str) -> str:
    return hashlib.sha256(f"signed-in:{operator}".encode()).hexdigest()[:32]


def after_request(response: flask.Response) -> flask.Response:
    csrf.set_cookie(flask.request, response)
    if flask.g.get("signed_in"):
        response.set_cookie(
            SIGNED_IN,
            _seen(flask.g.operator.name),
            max_age=SIGNED_IN_SECONDS,
            path="/",
            secure=True,
            httponly=True,
            samesite="Lax",
        )
    return add_security_headers(flask.request, response)


def install(app: flask.Flask) -> None:
    app.before_request(before_request)
    app.after_request(after_request)

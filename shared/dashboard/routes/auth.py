"""Health check, and the local login form (used only when IAP is not in front)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import flask

from shared.dashboard import state
from shared.dashboard.audit import Action
from shared.dashboard.auth import csrf
from shared.dashboard.auth.operators import Operator
from shared.dashboard.auth.session import LOCAL_OPERATOR
from shared.dashboard.config import AuthMode

log = logging.getLogger(__name__)

auth = flask.Blueprint("auth", __name__)


@auth.get("/healthz")
@auth.get("/health")  # Cloud Run's front end answers /healthz itself; this one reaches the function
def health() -> flask.Response:
    return flask.Response("ok", mimetype="text/plain")


def _safe_next(target: str | None) -> str:
    """Only a path on this site: `//evil.example` or `https://...` would make an open redirect."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return flask.url_for("pages.overview")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return flask.url_for("pages.overview")
    return target


def _password_mode() -> None:
    if state.current().auth.mode is not AuthMode.PASSWORD:
        flask.abort(404)


@auth.get("/login")
def login() -> flask.Response | str:
    _password_mode()
    return flask.render_template("login.html", next=_safe_next(flask.request.args.get("next")), error="")


@auth.post("/login")
def login_submit() -> flask.Response | tuple[str, int, dict[str, str]]:
    _password_mode()
    dashboard = state.current()
    request = flask.request
    client = request.remote_addr or "unknown"
    next_page = _safe_next(request.form.get("next"))
    # Charged before the password is checked, so parallel guesses cannot all slip through.
    wait = dashboard.throttle.try_attempt(client)
    if wait > 0:
        message = f"Too many wrong passwords. Try again in {int(wait) + 1} seconds."
        return (
            flask.render_template("login.html", next=next_page, error=message),
            429,
            {"Retry-After": str(int(wait) + 1)},
        )
    sessions = dashboard.auth.sessions
    assert sessions is not None
    if not sessions.check_password(request.form.get("password", "")):
        log.warning("wrong dashboard password", extra={"client": client})
        return flask.render_template("login.html", next=next_page, error="Wrong password."), 401, {}
    dashboard.throttle.succeeded(client)
    response = flask.redirect(next_page)
    sessions.start(request, response)
    csrf.rotate(request)
    log.info("operator logged in", extra={"client": client})
    state.audit(
        Action.LOGIN, "dashboard", detail=f"from {client}", who=Operator(LOCAL_OPERATOR, AuthMode.PASSWORD)
    )
    return response


# IAP keeps its own login; this query parameter asks IAP to forget it.
IAP_SIGN_OUT = "/?gcp-iap-mode=CLEAR_LOGIN_COOKIE"


@auth.post("/logout")
def logout() -> flask.Response:
    sessions = state.current().auth.sessions
    if sessions is None:
        return flask.redirect(IAP_SIGN_OUT)
    response = flask.redirect(flask.url_for("auth.login"))
    if name := sessions.operator(flask.request):
        state.audit(Action.LOGOUT, "dashboard", who=Operator(name, AuthMode.PASSWORD))
    sessions.end(flask.request, response)
    return response

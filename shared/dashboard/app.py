"""The dashboard's Flask app, and how functions-framework's request reaches it.

functions-framework serves one function on its own Flask app; the dashboard needs routes,
templates and static files of its own, so it is a Flask app of its own too, called as a WSGI
application with the request's environ. The function's main.py stays two lines.
"""

from __future__ import annotations

import logging
from pathlib import Path

import flask
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.clients import Clients
from shared.config import Settings
from shared.dashboard import templating
from shared.dashboard.audit import AuditTrail
from shared.dashboard.auth import guard
from shared.dashboard.auth.operators import Authenticator
from shared.dashboard.auth.throttle import LoginThrottle
from shared.dashboard.config import DashboardConfig
from shared.dashboard.routes.actions import operator_actions
from shared.dashboard.routes.auth import auth
from shared.dashboard.routes.guardrails import guardrails
from shared.dashboard.routes.handoff import handoff_settings
from shared.dashboard.routes.knowledge import UPLOAD_ENDPOINTS, knowledge, upload_limit
from shared.dashboard.routes.live import live
from shared.dashboard.routes.media import media
from shared.dashboard.routes.pages import pages
from shared.dashboard.routes.rates import rates
from shared.dashboard.routes.settings import settings_pages
from shared.dashboard.routes.templates import message_templates
from shared.dashboard.state import EXTENSION, DashboardState
from shared.log import trace_context, trace_from_header

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 64 * 1024  # a 4096-character reply is at most ~16 KB of UTF-8
STATIC_MAX_AGE_SECONDS = 365 * 24 * 3600  # asset URLs carry a content hash (templating.static_url)


def create_dashboard(settings: Settings, clients: Clients, *, root: Path) -> flask.Flask:
    """The app, with templates and static files under `root`; ConfigError without authentication."""
    config = DashboardConfig.from_settings(settings)
    app = flask.Flask(
        "dashboard",
        root_path=str(root),
        template_folder="templates",
        static_folder="assets",  # not "static": functions-framework would serve that folder itself, unauthenticated
        static_url_path="/assets",
    )
    app.config.update(MAX_CONTENT_LENGTH=MAX_FORM_BYTES, SEND_FILE_MAX_AGE_DEFAULT=STATIC_MAX_AGE_SECONDS)
    # Behind Google's front end the scheme arrives in X-Forwarded-Proto: trust exactly that one
    # hop for it (Secure cookies, HSTS) and nothing else (not the client address, not the host).
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=0, x_proto=1, x_host=0, x_port=0, x_prefix=0)  # type: ignore[method-assign]
    app.extensions[EXTENSION] = DashboardState(
        config=config,
        auth=Authenticator(config),
        throttle=LoginThrottle(),
        clients=clients,
        audit=AuditTrail(lambda: clients.storage, settings.audit_bucket),
    )
    templating.install(app)
    app.before_request(_upload_limit)  # before the guard reads the form
    guard.install(app)
    for blueprint in (
        auth,
        pages,
        operator_actions,
        live,
        media,
        settings_pages,
        knowledge,
        handoff_settings,
        guardrails,
        message_templates,
        rates,
    ):
        app.register_blueprint(blueprint)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(413, _too_large)
    app.register_error_handler(500, _server_error)
    log.info("dashboard ready", extra={"auth_mode": config.auth_mode.value})
    return app


def _upload_limit() -> None:
    """Forms carry a few KB; a document upload may carry the whole file."""
    if flask.request.endpoint in UPLOAD_ENDPOINTS:
        flask.request.max_content_length = upload_limit()


def _too_large(error: Exception) -> flask.Response | tuple[str, int]:
    if flask.request.endpoint in UPLOAD_ENDPOINTS:
        return flask.redirect(flask.url_for("knowledge.page", notice="knowledge_too_large"), code=303)
    return flask.render_template("error.html", title="Too large", message="The form is too large."), 413


def _not_found(error: Exception) -> tuple[str, int]:
    return flask.render_template("error.html", title="Not found", message="There is nothing here."), 404


def _server_error(error: Exception) -> tuple[str, int]:
    # The details go to the log; the page says only that it went wrong.
    return flask.render_template(
        "error.html", title="Something went wrong", message="Try again in a moment."
    ), 500


def dispatch(app: flask.Flask, request: flask.Request) -> flask.Response:
    """Run `app` on the request functions-framework received, streaming its answer back."""
    project = app.extensions[EXTENSION].config.project
    with trace_context(trace_from_header(request.headers.get("X-Cloud-Trace-Context"), project)):
        return flask.Response.from_app(app, request.environ, buffered=False)

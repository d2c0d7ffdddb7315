"""The templates page and its Sync button."""

from __future__ import annotations

import flask

from shared.dashboard import state
from shared.dashboard.audit import Action
from shared.dashboard.notices import notice_from
from shared.dashboard.templates_page import sync_from_whatsapp
from shared.store.templates import list_templates

message_templates = flask.Blueprint("message_templates", __name__)


@message_templates.get("/templates")
def templates_page() -> str:
    dashboard = state.current()
    return flask.render_template(
        "message_templates.html",
        templates=list_templates(dashboard.db),
        waba_id=dashboard.config.waba_id,
        notice=notice_from(flask.request.args),
    )


@message_templates.post("/templates/sync")
def sync() -> flask.Response:
    dashboard = state.current()
    if not dashboard.config.waba_id:
        notice = "no_waba"
    else:
        report = sync_from_whatsapp(dashboard.db, dashboard.config.waba_id, dashboard.clients.whatsapp)
        notice = "synced" if report.ok else "sync_failed"
    state.audit(Action.SETTINGS, "templates", outcome=notice)
    return flask.redirect(flask.url_for("message_templates.templates_page", notice=notice), code=303)

"""JSON for live updates, polled by the pages' script every two seconds.

The JSON carries text, never markup: the script puts every string into the page with
textContent, so a customer's message cannot become HTML on the way.
"""

from __future__ import annotations

from datetime import UTC, datetime

import flask
from jinja2.utils import htmlsafe_json_dumps

from shared.dashboard import state
from shared.dashboard.conversations import ConversationRow, changed_since
from shared.dashboard.routes.pages import media_urls
from shared.dashboard.templating import ago, iso
from shared.dashboard.thread import read_updates

live = flask.Blueprint("live", __name__)


def _time(name: str) -> datetime | None:
    value = flask.request.args.get(name, "")
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        flask.abort(400)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json(data: dict[str, object]) -> flask.Response:
    # `<`, `>`, `&` and `'` as \u escapes: even read as HTML, this JSON could not open a tag.
    return flask.Response(str(htmlsafe_json_dumps(data)), mimetype="application/json")


def _answering_json(row: ConversationRow) -> dict[str, str]:
    answering = row.answering()
    return {"who": answering.who, "label": answering.label, "until": iso(answering.until)}


def _row_json(row: ConversationRow) -> dict[str, object]:
    return {
        "id": row.id,
        "url": flask.url_for("pages.conversation", conversation_id=row.id),
        "title": row.title,
        "wa_id": row.wa_id,
        "identity": row.identity_line,
        "answering": _answering_json(row),
        "preview": row.preview,
        "last_message_at": iso(row.last_message_at),
        "ago": ago(row.last_message_at),
        "message_count": row.message_count,
        "ai_paused": row.ai_paused,
        "needs_attention": row.needs_attention,
        "window": row.window_state(),
        "has_failure": row.has_failure,
        "opted_out": row.opted_out,
        "handoff_waiting": row.handoff_waiting,
        "handoff_reason": row.handoff_reason,
    }


@live.get("/conversations/<conversation_id>/live")
def conversation_updates(conversation_id: str) -> flask.Response:
    update = read_updates(
        state.current().db,
        conversation_id,
        media_url=media_urls(conversation_id),
        seen_activity=_time("seen"),
        newest_shown=_time("newest"),
        watched=flask.request.args.getlist("watch"),
    )
    if update is None:
        flask.abort(404)
    return _json(
        {
            "conversation": _row_json(update.conversation),
            "seen": iso(update.conversation.last_message_at),
            "messages": [m.to_json() for m in update.messages],
        }
    )


@live.get("/conversations/live")
def list_updates() -> flask.Response:
    since = _time("since")
    rows = changed_since(state.current().db, since) if since else []
    newest = max((r.last_message_at for r in rows if r.last_message_at), default=since)
    return _json({"conversations": [_row_json(r) for r in rows], "since": iso(newest)})

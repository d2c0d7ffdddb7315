"""The pages: overview, conversations, one conversation, quarantine, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime

import flask

from shared.dashboard import state
from shared.dashboard.conversations import (
    ConversationFilter,
    costliest_conversations,
    list_conversations,
    search_conversations,
    waiting_for_a_person,
)
from shared.dashboard.costs import conversation_cost
from shared.dashboard.cursors import BadCursor, Cursor
from shared.dashboard.dead_letters import list_dead_letters
from shared.dashboard.message_view import MediaUrl
from shared.dashboard.notices import notice_from
from shared.dashboard.overview import read_overview
from shared.dashboard.quarantine import get_quarantine_entry, list_quarantine
from shared.dashboard.sending import new_send_key
from shared.dashboard.thread import read_thread
from shared.store.quarantine import whole_body
from shared.store.rates import read_rate_card
from shared.store.templates import approved_templates

pages = flask.Blueprint("pages", __name__)


def _cursor(name: str) -> Cursor | None:
    try:
        return Cursor.decode(flask.request.args.get(name))
    except BadCursor:
        flask.abort(400)


def media_urls(conversation_id: str) -> MediaUrl:
    def url(message_id: str, variant: str) -> str:
        return flask.url_for(
            "media.media_file", conversation_id=conversation_id, message_id=message_id, variant=variant
        )

    return url


@pages.get("/")
def overview() -> str:
    return flask.render_template("overview.html", overview=read_overview(state.current().db))


@pages.get("/conversations")
def conversations() -> str:
    args = flask.request.args
    query = " ".join(args.get("q", "").split())[:64]
    only = ConversationFilter.parse(args.get("filter"))
    db = state.current().db
    by_cost = args.get("sort") == "cost"
    waiting = []
    if query:
        rows, next_cursor = search_conversations(db, query), None
    elif by_cost:
        rows, next_cursor = costliest_conversations(db), None
    else:
        page = list_conversations(db, only=only, after=_cursor("after"))
        rows, next_cursor = page.rows, page.next_cursor
        if only is ConversationFilter.ALL and not args.get("after"):
            waiting = waiting_for_a_person(db)  # handed over by the assistant: first, always
            pinned = {row.id for row in waiting}
            rows = [row for row in rows if row.id not in pinned]
    return flask.render_template(
        "conversations.html",
        rows=rows,
        waiting=waiting,
        query=query,
        only=only,
        filters=list(ConversationFilter),
        next_cursor=next_cursor.encode() if next_cursor else None,
        first_page=not query and not args.get("after"),
        by_cost=by_cost,
        now=datetime.now(UTC),
    )


@pages.get("/conversations/<conversation_id>")
def conversation(conversation_id: str) -> str:
    page = read_thread(
        state.current().db, conversation_id, media_url=media_urls(conversation_id), before=_cursor("before")
    )
    if page is None:
        flask.abort(404)
    db = state.current().db
    return flask.render_template(
        "conversation.html",
        page=page,
        conversation=page.conversation,
        notice=notice_from(flask.request.args),
        send_key=new_send_key(),
        template_key=new_send_key(),
        window_closed=state.current().clients.settings.has_service_window(page.conversation.phone_number_id)
        and not page.conversation.window_open(),
        templates=approved_templates(db),
        cost=conversation_cost(page.conversation, read_rate_card(db)),
        newest=page.messages[-1].at if page.messages else None,
        live=not flask.request.args.get("before"),
    )


@pages.get("/quarantine")
def quarantine() -> str:
    page = list_quarantine(state.current().db, after=_cursor("after"))
    return flask.render_template(
        "quarantine.html", page=page, next_cursor=page.next_cursor.encode() if page.next_cursor else None
    )


@pages.get("/dead-letters")
def dead_letters() -> str:
    dashboard = state.current()
    page = list_dead_letters(dashboard.db, dashboard.clients.dead_letters, dashboard.config.job_topics)
    return flask.render_template(
        "dead_letters.html", rows=page.rows, missing=page.missing, notice=notice_from(flask.request.args)
    )


@pages.get("/quarantine/<entry_id>")
def quarantine_entry(entry_id: str) -> str:
    entry = get_quarantine_entry(state.current().db, entry_id)
    if entry is None:
        flask.abort(404)
    return flask.render_template("quarantine_entry.html", entry=entry)


@pages.get("/quarantine/<entry_id>/body")
def quarantine_body(entry_id: str) -> flask.Response:
    """The delivery exactly as Meta sent it, however large, for an operator to replay or report."""
    db = state.current().db
    entry = get_quarantine_entry(db, entry_id)
    if entry is None:
        flask.abort(404)
    return flask.Response(
        whole_body(db, entry.id, entry.body, entry.body_chunks),  # needs no request context
        mimetype="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="quarantine-{entry.id}.json"',
            "Content-Length": str(entry.size_bytes),
        },
    )

"""The operator's actions; each answers with a redirect back to the conversation and a notice."""

from __future__ import annotations

import flask

from shared.dashboard import actions, state
from shared.dashboard.audit import Action
from shared.dashboard.conversations import get_conversation
from shared.dashboard.dead_letters import replay
from shared.dashboard.sending import (
    SendOutcome,
    SendResult,
    resend_failed,
    send_operator_reply,
    send_operator_template,
)
from shared.store.schema import Direction
from shared.store.templates import approved_templates

operator_actions = flask.Blueprint("actions", __name__)


def _back(conversation_id: str, notice: str, **extra: str | int) -> flask.Response:
    url = flask.url_for("pages.conversation", conversation_id=conversation_id, notice=notice, **extra)
    return flask.redirect(url, code=303)


@operator_actions.post("/conversations/<conversation_id>/pause")
def pause(conversation_id: str) -> flask.Response:
    outcome = actions.set_ai_paused(state.current().db, conversation_id, True, state.operator().name)
    state.audit(Action.PAUSE, conversation_id, outcome=outcome.value)
    return _back(conversation_id, "paused" if outcome is actions.Outcome.DONE else outcome.value)


@operator_actions.post("/conversations/<conversation_id>/resume")
def resume(conversation_id: str) -> flask.Response:
    outcome = actions.set_ai_paused(state.current().db, conversation_id, False, state.operator().name)
    state.audit(Action.RESUME, conversation_id, outcome=outcome.value)
    return _back(conversation_id, "resumed" if outcome is actions.Outcome.DONE else outcome.value)


@operator_actions.post("/conversations/<conversation_id>/clear")
def clear(conversation_id: str) -> flask.Response:
    outcome = actions.clear_flags(state.current().db, conversation_id, state.operator().name)
    state.audit(Action.MARK_HANDLED, conversation_id, outcome=outcome.value)
    return _back(conversation_id, "cleared" if outcome is actions.Outcome.DONE else outcome.value)


def _sent_notice(conversation_id: str, result: SendResult, success: str) -> flask.Response:
    if result.outcome is SendOutcome.SENT:
        return _back(conversation_id, success)
    if result.outcome is SendOutcome.REFUSED and result.error_code is not None:
        return _back(conversation_id, "refused", code=result.error_code)
    return _back(conversation_id, result.outcome.value)


@operator_actions.post("/conversations/<conversation_id>/reply")
def reply(conversation_id: str) -> flask.Response:
    dashboard = state.current()
    conversation = get_conversation(dashboard.db, conversation_id)
    if conversation is None:
        flask.abort(404)
    result = send_operator_reply(
        dashboard.db,
        conversation,
        flask.request.form.get("text", ""),
        key=flask.request.form.get("send_key", ""),
        operator=state.operator().name,
        sender=dashboard.clients.provider(conversation.phone_number_id),
        pause_minutes=dashboard.config.human_reply_pause_minutes,
        service_window=dashboard.clients.settings.has_service_window(conversation.phone_number_id),
    )
    state.audit(Action.REPLY, conversation_id, outcome=result.outcome.value, detail=result.wamid)
    return _sent_notice(conversation_id, result, "sent")


@operator_actions.post("/conversations/<conversation_id>/template")
def send_template(conversation_id: str) -> flask.Response:
    """An approved template with the operator's values: the way to write once the window closed."""
    dashboard = state.current()
    conversation = get_conversation(dashboard.db, conversation_id)
    if conversation is None:
        flask.abort(404)
    form = flask.request.form
    chosen = form.get("template_id", "")
    template = next((t for t in approved_templates(dashboard.db) if t.id == chosen), None)
    prefix = f"{chosen}."
    values = {name.removeprefix(prefix): value for name, value in form.items() if name.startswith(prefix)}
    result = send_operator_template(
        dashboard.db,
        conversation,
        template,
        values,
        key=form.get("send_key", ""),
        operator=state.operator().name,
        sender=dashboard.clients.whatsapp,
    )
    name = f"{template.name}:{template.language}" if template else chosen
    state.audit(
        Action.TEMPLATE,
        conversation_id,
        outcome=result.outcome.value,
        detail=f"{name} {result.wamid}".strip(),
    )
    return _sent_notice(conversation_id, result, "template_sent")


@operator_actions.post("/conversations/<conversation_id>/messages/<message_id>/retry")
def retry(conversation_id: str, message_id: str) -> flask.Response:
    dashboard = state.current()
    db = dashboard.db
    conversation = get_conversation(db, conversation_id)
    if conversation is None:
        flask.abort(404)
    message = actions.failed_message(db, conversation_id, message_id)
    if message is None:
        return _back(conversation_id, "not_found")
    if message.data.get("direction") == Direction.OUTBOUND:
        result = resend_failed(
            db,
            conversation,
            message,
            operator=state.operator().name,
            sender=dashboard.clients.provider(conversation.phone_number_id),
        )
        state.audit(Action.RETRY, f"{conversation_id}/{message_id}", outcome=result.outcome.value)
        return _sent_notice(conversation_id, result, "resent")
    outcome = actions.retry_inbound(
        db,
        message,
        conversation_id=conversation_id,
        reply_topic=dashboard.config.reply_topic,
        media_topic=dashboard.config.media_topic,
        bus=dashboard.clients.bus,
        operator=state.operator().name,
    )
    state.audit(Action.RETRY, f"{conversation_id}/{message_id}", outcome=outcome.value)
    return _back(conversation_id, "retry_queued" if outcome is actions.Outcome.DONE else outcome.value)


@operator_actions.post("/dead-letters/replay")
def replay_dead_letters() -> flask.Response:
    """Replay one dead letter (`message_id`, its Pub/Sub id) or, with `all`, every one waiting."""
    dashboard = state.current()
    form = flask.request.form
    chosen = form.get("message_id", "")
    if not form.get("all") and not chosen.isdigit():
        flask.abort(400)
    report = replay(
        dashboard.db,
        dashboard.clients.bus,
        dashboard.clients.dead_letters,
        dashboard.config.job_topics,
        operator=state.operator().name,
        message_ids=None if form.get("all") else {chosen},
    )
    state.audit(
        Action.REPLAY,
        "all dead letters" if form.get("all") else f"dead letter {chosen}",
        outcome="failed" if report.failed else "done",
        detail=f"{len(report.replayed)} replayed, {len(report.settled)} settled, {len(report.failed)} failed",
    )
    if report.failed:
        notice = "replay_failed"
    elif report.replayed:
        notice = "replayed"
    elif report.settled:
        notice = "replayed_settled"
    else:
        notice = "replay_gone"
    return flask.redirect(flask.url_for("pages.dead_letters", notice=notice), code=303)

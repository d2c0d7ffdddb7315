"""The guardrails' pages and actions: the audit trail, a number's limits, a customer's erasure and export."""

from __future__ import annotations

from datetime import UTC, date, datetime

import flask

from shared.dashboard import erasure, state
from shared.dashboard.audit import DAY, PAGE_SIZE, Action
from shared.dashboard.conversations import get_conversation
from shared.dashboard.export import export_zip
from shared.dashboard.routes.settings import phone_number_id_from, render_settings
from shared.dashboard.settings import Refused, saved
from shared.store import erasure as erasure_records
from shared.store.limits import Limits, limits_for, save_limits
from shared.store.usage import spend_today

guardrails = flask.Blueprint("guardrails", __name__)

AUDIT_DAYS = 7
MAX_NOTICE_CHARS = 1000


@guardrails.get("/audit")
def audit() -> str:
    args = flask.request.args
    today = datetime.now(UTC).date()
    day = date.fromisoformat(args["day"]) if DAY.match(args.get("day", "")) else today
    action = args.get("action", "") if args.get("action", "") in set(Action) else ""
    operator = args.get("operator", "").strip()[:200]
    target = args.get("target", "").strip()[:200]
    trail = state.current().audit
    records = trail.recent(
        until=min(day, today),
        days=AUDIT_DAYS,
        action=action,
        operator=operator,
        target=target,
        limit=PAGE_SIZE + 1,
    )
    return flask.render_template(
        "audit.html",
        records=records[:PAGE_SIZE],
        more=len(records) > PAGE_SIZE,
        enabled=trail.enabled,
        day=min(day, today),
        days=AUDIT_DAYS,
        actions=list(Action),
        action=action,
        operator_filter=operator,
        target=target,
    )


@guardrails.app_context_processor
def _limits_of() -> dict[str, object]:
    """`limits_of(phone_number_id)` for the Settings page's limits section: the limits in force, the
    environment's defaults and today's model spend."""

    def limits_of(phone_number_id: str) -> dict[str, object]:
        dashboard = state.current()
        settings = dashboard.clients.settings
        return {
            "limits": limits_for(dashboard.db, phone_number_id, settings),
            "defaults": Limits.defaults(settings),
            "spent": spend_today(dashboard.db, phone_number_id),
        }

    return {"limits_of": limits_of}


LIMIT_FIELDS = ("messages_per_minute", "messages_per_hour", "tokens_per_day", "spend_cap_usd_per_day")


@guardrails.post("/settings/<phone_number_id>/limits")
def save_limits_route(phone_number_id: str) -> flask.Response | tuple[str, int]:
    phone_number_id = phone_number_id_from(phone_number_id)
    form = flask.request.form
    errors: dict[str, str] = {}
    values: dict[str, float] = {}
    for name in LIMIT_FIELDS:
        try:
            values[name] = (
                _amount(form.get(name)) if name == "spend_cap_usd_per_day" else _whole(form.get(name))
            )
        except ValueError:
            errors[name] = f"{name.replace('_', ' ').capitalize()} must be a number, 0 or more."
    if errors:
        sent = {name: form.get(name, "") for name in (*LIMIT_FIELDS, "notice")}
        return render_settings(Refused(phone_number_id, "limits", sent, errors), 422)
    limits = Limits(
        messages_per_minute=int(values["messages_per_minute"]),
        messages_per_hour=int(values["messages_per_hour"]),
        tokens_per_day=int(values["tokens_per_day"]),
        spend_cap_usd_per_day=round(values["spend_cap_usd_per_day"], 2),
        notice=" ".join(form.get("notice", "").split())[:MAX_NOTICE_CHARS],
    )
    save_limits(state.current().db, phone_number_id, limits, operator=state.operator().name)
    state.audit(
        Action.SETTINGS,
        f"business number {phone_number_id}: limits",
        detail=(
            f"{limits.messages_per_minute}/min, {limits.messages_per_hour}/h, {limits.tokens_per_day} tokens/day, "
            f"cap {limits.spend_cap_usd_per_day:.2f} USD/day"
        ),
    )
    return saved(phone_number_id, "limits")


def _whole(raw: str | None) -> int:
    value = int((raw or "").strip())
    if value < 0:
        raise ValueError(raw)
    return value


def _amount(raw: str | None) -> float:
    value = float((raw or "").strip())
    if not value >= 0 or value == float("inf"):
        raise ValueError(raw)
    return value


# -- a customer's data ----------------------------------------------------------------------------


@guardrails.get("/conversations/<conversation_id>/export")
def export(conversation_id: str) -> flask.Response:
    dashboard = state.current()
    conversation = get_conversation(dashboard.db, conversation_id)
    if conversation is None:
        flask.abort(404)
    chunks = export_zip(dashboard.db, dashboard.clients.bucket, conversation_id)
    state.audit(Action.EXPORT, conversation_id)
    filename = f"whatsapp-{conversation.address}-{datetime.now(UTC):%Y%m%d}.zip"
    # The chunks need no request context (their clients are the instance's), so they are
    # streamed as they are, the way the media proxy streams a file.
    return flask.Response(
        chunks,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@guardrails.post("/conversations/<conversation_id>/erase")
def erase(conversation_id: str) -> flask.Response | tuple[str, int]:
    dashboard = state.current()
    conversation = get_conversation(dashboard.db, conversation_id)
    if conversation is None:
        flask.abort(404)
    form = flask.request.form
    if not erasure.confirms(form.get("confirm", ""), conversation.address):
        url = flask.url_for(
            "pages.conversation",
            conversation_id=conversation_id,
            notice="erase_unconfirmed",
            _anchor="customer-data",
        )
        return flask.redirect(url, code=303)
    every_number = form.get("scope") == "all"
    operator = state.operator()
    if pending := conversation.erasure_id and erasure_records.load(dashboard.db, conversation.erasure_id):
        done = erasure.resume(dashboard.db, dashboard.clients.bucket, pending)
    else:
        done = erasure.erase_customer(
            dashboard.db,
            dashboard.clients.bucket,
            [i for i in (conversation.wa_id, conversation.user_id) if i] or [conversation.address],
            phone_number_id=None if every_number else conversation.phone_number_id,
            operator=operator.name,
            via=operator.via.value,
        )
    # The record names the erasure, never the customer: the trail keeps no trace of whom it erased.
    state.audit(Action.ERASURE, f"erasure {done.id}", outcome=done.state, detail=erasure.summary(done))
    return flask.render_template("erasure.html", erasure=done), 200

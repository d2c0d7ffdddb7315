"""The guardrails' pages and actions: the audit trail, a number's limits, a customer's erasure and export."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import flask

from shared.dashboard import state
from shared.dashboard.audit import DAY, PAGE_SIZE, Action
from shared.dashboard.conversations import latest_conversations
from shared.dashboard.notices import notice_from
from shared.store.limits import Limits, limits_for, save_limits
from shared.store.usage import spend_today

guardrails = flask.Blueprint("guardrails", __name__)

AUDIT_DAYS = 7
PHONE_NUMBER_ID = re.compile(r"^[0-9]{1,32}$")
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


def _number(value: str | None) -> str:
    if value and PHONE_NUMBER_ID.match(value):
        return value
    return ""


@guardrails.get("/settings/limits")
def limits_page() -> str:
    dashboard = state.current()
    number = _number(flask.request.args.get("number"))
    if not number:
        latest = latest_conversations(dashboard.db, 1)
        number = latest[0].phone_number_id if latest else ""
    settings = dashboard.clients.settings
    defaults = Limits.defaults(settings)
    return flask.render_template(
        "settings_limits.html",
        number=number,
        limits=limits_for(dashboard.db, number, settings) if number else defaults,
        defaults=defaults,
        spent=spend_today(dashboard.db, number) if number else 0.0,
        notice=notice_from(flask.request.args),
    )


@guardrails.post("/settings/<phone_number_id>/limits")
def save_limits_route(phone_number_id: str) -> flask.Response:
    if not PHONE_NUMBER_ID.match(phone_number_id):
        flask.abort(404)
    form = flask.request.form
    try:
        limits = Limits(
            messages_per_minute=_whole(form.get("messages_per_minute")),
            messages_per_hour=_whole(form.get("messages_per_hour")),
            tokens_per_day=_whole(form.get("tokens_per_day")),
            spend_cap_usd_per_day=round(_amount(form.get("spend_cap_usd_per_day")), 2),
            notice=" ".join(form.get("notice", "").split())[:MAX_NOTICE_CHARS],
        )
    except ValueError:
        return flask.redirect(
            flask.url_for("guardrails.limits_page", number=phone_number_id, notice="limits_invalid"), code=303
        )
    dashboard = state.current()
    save_limits(dashboard.db, phone_number_id, limits, operator=state.operator().name)
    state.audit(
        Action.SETTINGS,
        f"business number {phone_number_id}: limits",
        detail=(
            f"{limits.messages_per_minute}/min, {limits.messages_per_hour}/h, {limits.tokens_per_day} tokens/day, "
            f"cap {limits.spend_cap_usd_per_day:.2f} USD/day"
        ),
    )
    return flask.redirect(
        flask.url_for("guardrails.limits_page", number=phone_number_id, notice="limits_saved"), code=303
    )


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

"""The guardrails' pages and actions: the audit trail, a number's limits, a customer's erasure and export."""

from __future__ import annotations

from datetime import UTC, date, datetime

import flask

from shared.dashboard import state
from shared.dashboard.audit import DAY, PAGE_SIZE, Action
from shared.dashboard.routes.settings import phone_number_id_from, render_settings
from shared.dashboard.settings import Refused, saved
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

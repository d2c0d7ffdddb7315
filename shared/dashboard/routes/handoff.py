"""The Settings page's handoff section: the message a number sends, once, when the assistant
hands a conversation to a person (shared/ai_reply/handoff.py)."""

from __future__ import annotations

import flask

from shared.dashboard import state
from shared.dashboard.routes.settings import phone_number_id_from, render_settings
from shared.dashboard.settings import Refused, saved
from shared.store import business_numbers
from shared.store.business_numbers import HANDOFF

handoff_settings = flask.Blueprint("handoff_settings", __name__)


@handoff_settings.app_context_processor
def _handoff_fields() -> dict[str, object]:
    return {"handoff_fields": HANDOFF}  # the section's template lays out these settings


@handoff_settings.post("/settings/<phone_number_id>/handoff")
def save_handoff(phone_number_id: str) -> flask.Response | tuple[str, int]:
    phone_number_id = phone_number_id_from(phone_number_id)
    form = flask.request.form
    change = business_numbers.text_changes(HANDOFF, form)
    if change.errors:
        sent = {s.name: form.get(s.name, "") for s in HANDOFF}
        return render_settings(Refused(phone_number_id, "handoff", sent, change.errors), 422)
    business_numbers.save(state.current().db, phone_number_id, change.values, operator=state.operator().name)
    return saved(phone_number_id, "handoff")

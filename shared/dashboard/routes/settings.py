"""The Settings page and the forms of its voice section (shared/dashboard/settings.py)."""

from __future__ import annotations

import flask

from shared.dashboard import state
from shared.dashboard.notices import notice_from
from shared.dashboard.settings import NUMBER_SECTIONS, PAGE_SECTIONS, Refused, saved
from shared.store import business_numbers
from shared.store.business_numbers import VOICE

settings_pages = flask.Blueprint("settings", __name__)

MAX_PHONE_NUMBER_ID_CHARS = 20  # Meta's ids are 15 to 16 digits


def render_settings(refused: Refused | None = None, status: int = 200) -> tuple[str, int]:
    """The page; with `refused`, that form is shown again as sent, with its errors."""
    dashboard = state.current()
    defaults = dashboard.config.number_defaults
    numbers = business_numbers.list_numbers(dashboard.db, defaults)
    html = flask.render_template(
        "settings.html",
        numbers=numbers,
        defaults=defaults,
        voice=VOICE,
        number_sections=NUMBER_SECTIONS,
        page_sections=PAGE_SECTIONS,
        refused=refused,
        notice=None if refused else notice_from(flask.request.args),
    )
    return html, status


def phone_number_id_from(raw: str) -> str:
    value = raw.strip()
    if not value.isdigit() or len(value) > MAX_PHONE_NUMBER_ID_CHARS:
        flask.abort(404)
    return value


@settings_pages.get("/settings")
def settings() -> tuple[str, int]:
    return render_settings()


@settings_pages.post("/settings/<phone_number_id>/voice")
def save_voice(phone_number_id: str) -> flask.Response | tuple[str, int]:
    phone_number_id = phone_number_id_from(phone_number_id)
    form = flask.request.form
    change = business_numbers.text_changes(VOICE, form)
    if change.errors:
        sent = {s.name: form.get(s.name, "") for s in VOICE}
        return render_settings(Refused(phone_number_id, "voice", sent, change.errors), 422)
    business_numbers.save(state.current().db, phone_number_id, change.values, operator=state.operator().name)
    return saved(phone_number_id, "voice")


@settings_pages.post("/settings/numbers")
def add_number() -> flask.Response | tuple[str, int]:
    """A number configured before its first customer writes (a new line about to go live)."""
    raw = flask.request.form.get("phone_number_id", "").strip()
    if not raw.isdigit() or len(raw) > MAX_PHONE_NUMBER_ID_CHARS:
        error = "A phone number ID is the number's id in Meta's WhatsApp Manager: digits only."
        return render_settings(Refused("", "add", {"phone_number_id": raw}, {"phone_number_id": error}), 422)
    business_numbers.record_seen(state.current().db, raw)
    return saved(raw, "voice")

"""The rate card: a section of the settings page (`_settings_rates.html`), saved by a route of its own."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import flask

from shared.dashboard import state
from shared.dashboard.audit import Action
from shared.dashboard.rates_form import RateFormError, card_from_form
from shared.dashboard.routes.settings import render_settings
from shared.dashboard.settings import Refused, saved
from shared.store.ledger import CATEGORIES, TOKEN_KINDS
from shared.store.rates import RateCard, read_rate_card, save_rate_card

log = logging.getLogger(__name__)

rates = flask.Blueprint("rates", __name__)


@dataclass(frozen=True)
class RatesSection:
    rate_card: RateCard
    categories: tuple[str, ...] = CATEGORIES
    token_kinds: tuple[str, ...] = TOKEN_KINDS


def rates_section() -> RatesSection:
    """What the section shows: today's card (read when the section is rendered, not on every page)."""
    return RatesSection(read_rate_card(state.current().db))


@rates.app_context_processor
def _section() -> dict[str, object]:
    return {"rates_section": rates_section}


@rates.get("/settings/rates")
def rates_page() -> flask.Response:
    return flask.redirect(flask.url_for("settings.settings", _anchor="settings-rates"), code=303)


@rates.post("/settings/rates")
def save_rates() -> flask.Response | tuple[str, int]:
    dashboard = state.current()
    try:
        card = card_from_form(flask.request.form, read_rate_card(dashboard.db))
    except RateFormError as exc:
        return render_settings(Refused("", "rates", dict(flask.request.form), {"rates": f"{exc}."}), 422)
    save_rate_card(dashboard.db, card, state.operator().name)
    state.audit(Action.SETTINGS, "rate_card", detail=f"as of {card.as_of}")
    log.info("rate card saved", extra={"operator": state.operator().name})
    return saved("", "rates")

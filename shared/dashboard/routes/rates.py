"""The rate card: a section of the settings page, with its own route to save it."""

from __future__ import annotations

import logging

import flask

from shared.dashboard import state
from shared.dashboard.notices import notice_from
from shared.dashboard.rates_form import RateFormError, card_from_form
from shared.store.ledger import CATEGORIES, TOKEN_KINDS
from shared.store.rates import read_rate_card, save_rate_card

log = logging.getLogger(__name__)

rates = flask.Blueprint("rates", __name__)


def section_context() -> dict[str, object]:
    """What `_settings_rates.html` needs, for whichever page includes it."""
    return {
        "rate_card": read_rate_card(state.current().db),
        "categories": CATEGORIES,
        "token_kinds": TOKEN_KINDS,
    }


@rates.get("/settings/rates")
def rates_page() -> str:
    return flask.render_template(
        "settings_rates.html", notice=notice_from(flask.request.args), error=None, **section_context()
    )


@rates.post("/settings/rates")
def save_rates() -> flask.Response | tuple[str, int]:
    dashboard = state.current()
    try:
        card = card_from_form(flask.request.form, read_rate_card(dashboard.db))
    except RateFormError as exc:
        context = section_context()
        return flask.render_template(
            "settings_rates.html", notice=notice_from({"notice": "rates_invalid"}), error=str(exc), **context
        ), 400
    save_rate_card(dashboard.db, card, state.operator().name)
    log.info("rate card saved", extra={"operator": state.operator().name})
    return flask.redirect(
        flask.url_for("rates.rates_page", notice="rates_saved", _anchor="settings-rates"), code=303
    )

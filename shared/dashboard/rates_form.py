"""The rate card's form: prices per category and market, and per token kind for each model.

Field names carry the table, row and column (`msg.north_america.marketing`,
`tok.gemini-3.8-flash.output`), so the form posts the whole card back; a new market or model
comes as one more row. Every price must be a number of zero or more, or nothing is saved.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from shared.store.ledger import CATEGORIES, TOKEN_KINDS
from shared.store.rates import RateCard

ROW = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class RateFormError(ValueError):
    """A price that is not a number of zero or more (the message names it)."""


def _price(name: str, raw: str) -> float:
    try:
        value = float(raw.strip().replace(",", "."))
    except ValueError:
        raise RateFormError(f"{name} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise RateFormError(f"{name} must be zero or more")
    return value


def card_from_form(form: Mapping[str, str], current: RateCard) -> RateCard:
    """The card the operator submitted; RateFormError when a price is not usable."""
    messages: dict[str, dict[str, float]] = {}
    tokens: dict[str, dict[str, float]] = {}
    for name, raw in form.items():
        table, _, rest = name.partition(".")
        row, _, column = rest.rpartition(".")
        if table not in ("msg", "tok") or not raw.strip():
            continue
        columns = CATEGORIES if table == "msg" else TOKEN_KINDS
        if column not in columns or not ROW.match(row):
            continue
        (messages if table == "msg" else tokens).setdefault(row, {})[column] = _price(
            f"{row} / {column}", raw
        )
    new_market = " ".join(form.get("new_market", "").split()).lower().replace(" ", "_")
    if new_market and ROW.match(new_market):
        messages.setdefault(new_market, {})
        for category in CATEGORIES:
            if raw := form.get(f"new_market.{category}", "").strip():
                messages[new_market][category] = _price(f"{new_market} / {category}", raw)
    if not messages or not tokens:
        raise RateFormError("the card needs message prices and token prices")
    return RateCard(
        messages=messages,
        tokens=tokens,
        source=" ".join(form.get("source", current.source).split())[:300],
        as_of=" ".join(form.get("as_of", current.as_of).split())[:32],
        currency=current.currency,
    )

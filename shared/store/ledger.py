"""The cost ledger's quantities: what Meta billed and what the model used, counted as they happen.

Costs are never stored as the truth: the quantities are (messages billed by category and
market, tokens by model and kind), on the daily counters (`stats`) and on the conversation, and
the dashboard prices them with today's rate card (`shared.store.rates`). Each conversation also
keeps `cost_micros`, its cost at the card in force when each quantity was recorded, so the list
can be sorted by cost without reading anything else.

A message is billed once even though Meta attaches `pricing` to two of its statuses (`sent`
and one of `delivered`/`read`): the first status with pricing records it on the message
(`pricing`), in the same conditional write that moves its status, and later ones find it there.
"""

from __future__ import annotations

import re

from shared.store.stats import Number

# Market of a customer, from the calling code their WhatsApp id starts with (Meta prices by the
# recipient's country). The codes of the markets on Meta's rate card; the rest is "other".
MARKETS: dict[str, str] = {
    "1": "north_america",
    "52": "mexico",
    "55": "brazil",
    "57": "colombia",
    "54": "argentina",
    "56": "chile",
    "51": "peru",
    "44": "united_kingdom",
    "49": "germany",
    "33": "france",
    "34": "spain",
    "39": "italy",
    "31": "netherlands",
    "90": "turkey",
    "7": "russia",
    "91": "india",
    "62": "indonesia",
    "60": "malaysia",
    "92": "pakistan",
    "234": "nigeria",
    "27": "south_africa",
    "20": "egypt",
    "966": "saudi_arabia",
    "971": "united_arab_emirates",
    "972": "israel",
}
OTHER_MARKET = "other"
CATEGORIES = ("marketing", "utility", "authentication", "service")
TOKEN_KINDS = ("input", "cached", "output", "thinking")


def market_of(wa_id: str) -> str:
    """The pricing market of a WhatsApp id (its longest known calling-code prefix)."""
    digits = re.sub(r"\D", "", wa_id)
    for length in (3, 2, 1):
        market = MARKETS.get(digits[:length])
        if market:
            return market
    return OTHER_MARKET


def field_key(name: str) -> str:
    """A name as a Firestore map key: model ids hold dots (`gemini-3.8-flash`), which split paths."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def billed_message(category: str, market: str) -> dict[str, Number]:
    """One message Meta billed: counted by category and market (the rate card's two axes)."""
    return {f"billed.{field_key(category)}.{field_key(market)}": 1}


def model_tokens(
    model: str, *, input_tokens: int, cached_tokens: int, output_tokens: int, thinking_tokens: int
) -> dict[str, Number]:
    """One answer's tokens by kind: input not cached, cached input, the answer, its thinking."""
    key = field_key(model.removeprefix("models/"))
    counts = {
        "input": max(0, input_tokens - cached_tokens),
        "cached": cached_tokens,
        "output": output_tokens,
        "thinking": thinking_tokens,
    }
    return {f"tokens_by_model.{key}.{kind}": n for kind, n in counts.items() if n}


def as_table(increments: dict[str, Number]) -> dict[str, dict[str, Number]]:
    """`{"tokens_by_model.m.input": 3}` -> `{"m": {"input": 3}}`: the two-level form a card prices."""
    table: dict[str, dict[str, Number]] = {}
    for path, amount in increments.items():
        _, row, column = path.split(".")
        table.setdefault(row, {})[column] = amount
    return table

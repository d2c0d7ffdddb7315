"""The rate card the cost ledger prices its quantities with (`rate_cards/current`).

Meta bills per delivered message by category and by the recipient's market; Gemini bills per
million tokens by kind (input, cached input, output, thinking billed as output). Operators edit
the card on the dashboard's settings page; until they do, `DEFAULT_CARD` applies, and says
where its numbers come from and as of when. A cost is always computed from the recorded
quantities and the card of today, so a corrected price corrects every day shown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

from shared.store.ledger import CATEGORIES, OTHER_MARKET, TOKEN_KINDS, field_key
from shared.store.schema import CALL, rate_card_ref

MICROS = 1_000_000
CACHE_SECONDS = 60.0  # how long an instance prices with a card it read (the webhook reads it often)

# USD per delivered message, by market: Meta's rate card (developers.facebook.com/docs/whatsapp/
# pricing), October 2026. Service messages are billed at the market's utility rate since then.
DEFAULT_MESSAGE_RATES: dict[str, dict[str, float]] = {
    "north_america": {"marketing": 0.0250, "utility": 0.0034, "authentication": 0.0135, "service": 0.0034},
    "brazil": {"marketing": 0.0625, "utility": 0.0068, "authentication": 0.0315, "service": 0.0068},
    "india": {"marketing": 0.0118, "utility": 0.0014, "authentication": 0.0014, "service": 0.0014},
    "mexico": {"marketing": 0.0305, "utility": 0.0085, "authentication": 0.0239, "service": 0.0085},
    "united_kingdom": {"marketing": 0.0529, "utility": 0.0220, "authentication": 0.0358, "service": 0.0220},
    "germany": {"marketing": 0.1365, "utility": 0.0550, "authentication": 0.0768, "service": 0.0550},
    OTHER_MARKET: {"marketing": 0.0604, "utility": 0.0077, "authentication": 0.0424, "service": 0.0077},
}
# USD per million tokens of the default model (ai.google.dev/gemini-api/docs/pricing, November
# 2026, prompts up to 200k tokens); thinking is billed as output.
DEFAULT_TOKEN_RATES: dict[str, dict[str, float]] = {
    "gemini-3.8-flash": {"input": 0.50, "cached": 0.05, "output": 3.00, "thinking": 3.00},
}
DEFAULT_SOURCE = (
    "Meta WhatsApp Business Platform rate card (USD, October 2026) and Gemini API pricing "
    "(USD per million tokens, November 2026)"
)
DEFAULT_AS_OF = "2026-11-01"


@dataclass(frozen=True)
class RateCard:
    """Prices in USD: per message by (category, market), per million tokens by (model, kind)."""

    messages: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: DEFAULT_MESSAGE_RATES)
    tokens: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: DEFAULT_TOKEN_RATES)
    source: str = DEFAULT_SOURCE
    as_of: str = DEFAULT_AS_OF
    currency: str = "USD"
    updated_by: str | None = None
    updated_at: datetime | None = None

    def message_rate(self, category: str, market: str) -> float:
        """The price of one message; a market off the card pays the "other" row, a category off
        the card its nearest (marketing_lite as marketing, service as utility)."""
        row = self.messages.get(market) or self.messages.get(OTHER_MARKET) or {}
        category = {"marketing_lite": "marketing"}.get(category, category)
        if category in row:
            return float(row[category])
        return float(row.get("utility", 0.0)) if category == "service" else 0.0

    def token_rate(self, model: str, kind: str) -> float:
        """USD per million tokens of `kind` for `model` (by its id or its field key); 0 when unknown."""
        for name, row in self.tokens.items():
            if name == model or field_key(name) == model:
                return float(row.get(kind, row.get("output", 0.0) if kind == "thinking" else 0.0))
        return 0.0

    def model_name(self, key: str) -> str:
        """A model's id from its field key, when the card names it."""
        return next((name for name in self.tokens if field_key(name) == key), key)

    def messages_cost(self, billed: Mapping[str, Mapping[str, int | float]]) -> float:
        """`billed.{category}.{market}` counts -> USD."""
        return sum(
            self.message_rate(category, market) * count
            for category, markets in billed.items()
            for market, count in markets.items()
        )

    def tokens_cost(self, tokens: Mapping[str, Mapping[str, int | float]]) -> float:
        """`tokens_by_model.{model}.{kind}` counts -> USD."""
        return sum(
            self.token_rate(model, kind) * count / 1_000_000
            for model, kinds in tokens.items()
            for kind, count in kinds.items()
        )

    def as_document(self) -> dict[str, Any]:
        return {
            "messages": {m: dict(r) for m, r in self.messages.items()},
            "tokens": {m: dict(r) for m, r in self.tokens.items()},
            "source": self.source,
            "as_of": self.as_of,
            "currency": self.currency,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_document(cls, data: Mapping[str, Any]) -> RateCard:
        def table(value: Any) -> dict[str, dict[str, float]]:
            if not isinstance(value, Mapping):
                return {}
            return {
                str(k): {str(c): float(p) for c, p in row.items() if isinstance(p, int | float)}
                for k, row in value.items()
                if isinstance(row, Mapping)
            }

        return cls(
            messages=table(data.get("messages")) or DEFAULT_MESSAGE_RATES,
            tokens=table(data.get("tokens")) or DEFAULT_TOKEN_RATES,
            source=str(data.get("source") or ""),
            as_of=str(data.get("as_of") or ""),
            currency=str(data.get("currency") or "USD"),
            updated_by=data.get("updated_by"),
            updated_at=data.get("updated_at") if isinstance(data.get("updated_at"), datetime) else None,
        )


class RateCardError(ValueError):
    """A price that is not a number of zero or more; the message names it."""


def read_rate_card(db: firestore.Client) -> RateCard:
    """Today's card: the operators' edits, or the defaults."""
    snap = rate_card_ref(db).get(**CALL)
    return RateCard.from_document(snap.to_dict() or {}) if snap.exists else RateCard()


def save_rate_card(db: firestore.Client, card: RateCard, operator: str) -> RateCard:
    for table in (card.messages, card.tokens):
        for row, prices in table.items():
            for column, price in prices.items():
                if not price >= 0:  # also refuses NaN
                    raise RateCardError(f"the price of {row} / {column} must be zero or more")
    saved = RateCard(
        messages=card.messages,
        tokens=card.tokens,
        source=card.source,
        as_of=card.as_of,
        currency=card.currency,
        updated_by=operator,
        updated_at=datetime.now(UTC),
    )
    rate_card_ref(db).set(saved.as_document(), **CALL)
    _CACHE.clear()
    return saved


class _CardCache:
    """The card as an instance last read it, kept for CACHE_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._card: RateCard | None = None
        self._read_at = 0.0

    def get(self, db: firestore.Client) -> RateCard:
        with self._lock:
            if self._card is None or time.monotonic() - self._read_at > CACHE_SECONDS:
                self._card = read_rate_card(db)
                self._read_at = time.monotonic()
            return self._card

    def clear(self) -> None:
        with self._lock:
            self._card = None


_CACHE = _CardCache()


def current_rate_card(db: firestore.Client) -> RateCard:
    """Today's card, read at most once a minute per instance (for pricing as events are recorded)."""
    return _CACHE.get(db)


def forget_cached_card() -> None:
    """Read the card afresh on next use (after it changed outside this instance, in tests)."""
    _CACHE.clear()


def micros(usd: float) -> int:
    return round(usd * MICROS)


__all__ = ["CATEGORIES", "TOKEN_KINDS", "RateCard", "RateCardError", "current_rate_card", "read_rate_card"]

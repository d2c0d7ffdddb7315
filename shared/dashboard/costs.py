"""What conversations and days cost: recorded quantities priced with today's rate card.

Nothing here reads a message: a day's quantities come from its counters (`stats`), a
conversation's from its own document (`billed`, `tokens_by_model`); `RateCard` prices them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shared.dashboard.conversations import ConversationRow
from shared.store.rates import RateCard
from shared.store.stats import DailyStats


@dataclass(frozen=True)
class Cost:
    """USD: what Meta billed by category, and what the model used by model."""

    by_category: Mapping[str, float] = field(default_factory=dict)
    by_model: Mapping[str, float] = field(default_factory=dict)
    messages_billed: int = 0

    @property
    def whatsapp(self) -> float:
        return sum(self.by_category.values())

    @property
    def model(self) -> float:
        return sum(self.by_model.values())

    @property
    def total(self) -> float:
        return self.whatsapp + self.model


def price(
    card: RateCard, billed: Mapping[str, Mapping[str, int]], tokens: Mapping[str, Mapping[str, int]]
) -> Cost:
    by_category = {
        category: card.messages_cost({category: markets}) for category, markets in sorted(billed.items())
    }
    by_model = {
        card.model_name(model): card.tokens_cost({model: kinds}) for model, kinds in sorted(tokens.items())
    }
    return Cost(
        by_category=by_category,
        by_model=by_model,
        messages_billed=sum(n for markets in billed.values() for n in markets.values()),
    )


def conversation_cost(conversation: ConversationRow, card: RateCard) -> Cost:
    return price(card, conversation.billed, conversation.tokens_by_model)


def day_cost(day: DailyStats, card: RateCard) -> Cost:
    return price(card, day.billed, day.tokens_by_model)


@dataclass(frozen=True)
class CostTable:
    """Cost per day, by category and by model, for the overview (oldest day first)."""

    days: list[tuple[DailyStats, Cost]]
    categories: list[str]
    models: list[str]

    @property
    def total(self) -> float:
        return sum(cost.total for _, cost in self.days)


def cost_table(days: Sequence[DailyStats], card: RateCard) -> CostTable:
    priced = [(day, day_cost(day, card)) for day in days]
    categories = sorted({c for _, cost in priced for c in cost.by_category})
    models = sorted({m for _, cost in priced for m in cost.by_model})
    return CostTable(priced, categories, models)

"""The overview's numbers: counts by aggregation query, everything else from the daily counters.

Nothing here reads messages: conversations come from a lifetime counter, the ones active in
the last day are counted by the server (`count()`), and messages, replies, failures, tokens
and latency come from `shared.store.stats`, a few small documents per day. The reads are
independent, so they run at the same time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.dashboard import charts
from shared.dashboard.conversations import ConversationRow, latest_conversations
from shared.dashboard.costs import CostTable, cost_table
from shared.dashboard.pool import in_parallel
from shared.store.consent import OPTED_OUT
from shared.store.rates import RateCard, read_rate_card
from shared.store.schema import CALL_TIMEOUT, conversations
from shared.store.stats import DailyStats, read_daily_stats, read_lifetime, total

CHART_DAYS = 14
WEEK = 7
LATEST = 8


@dataclass(frozen=True)
class Overview:
    conversations: int
    active_24h: int
    opted_out: int  # customers opted out now (a lifetime counter moved with each STOP and START)
    today: DailyStats
    week: DailyStats
    days: list[DailyStats]
    latest: list[ConversationRow]
    messages_chart: charts.Chart
    latency_chart: charts.Chart
    costs: CostTable  # per day, by category and by model, priced with today's card
    rate_card: RateCard

    @property
    def week_cost(self) -> float:
        return sum(cost.total for _, cost in self.costs.days[-WEEK:])

    @property
    def today_cost(self) -> float:
        return self.costs.days[-1][1].total if self.costs.days else 0.0

    @property
    def model_ms_per_reply(self) -> float | None:
        week = self.week
        return week.model_latency_ms_sum / week.model_answers if week.model_answers else None

    @property
    def types_this_week(self) -> list[tuple[str, int, int]]:
        """(type, today, 7 days) for every type seen this week, most frequent first."""
        week = self.week.messages_in_by_type
        return [
            (kind, self.today.messages_in_by_type.get(kind, 0), count)
            for kind, count in sorted(week.items(), key=lambda item: (-item[1], item[0]))
        ]


def _count(query: Any) -> int:
    result = query.count(alias="n").get(timeout=CALL_TIMEOUT)
    return int(result[0][0].value)


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def read_overview(db: firestore.Client, now: datetime | None = None) -> Overview:
    now = now or datetime.now(UTC)
    listed = conversations(db)
    lifetime, active, days, latest, card = in_parallel(
        [
            lambda: read_lifetime(db),
            lambda: _count(
                listed.where(filter=FieldFilter("last_message_at", ">=", now - timedelta(hours=24)))
            ),
            lambda: read_daily_stats(db, CHART_DAYS, today=now.date()),
            lambda: latest_conversations(db, LATEST),
            lambda: read_rate_card(db),
        ]
    )
    labels = [d.day.strftime("%d %b") for d in days]
    return Overview(
        conversations=lifetime.get("conversations", 0),
        active_24h=active,
        opted_out=max(0, lifetime.get(OPTED_OUT, 0)),
        today=days[-1],
        week=total(days[-WEEK:]) or days[-1],
        days=days,
        latest=latest,
        messages_chart=charts.stacked_bars(
            labels, {"received": [d.messages_in for d in days], "sent": [d.messages_out for d in days]}
        ),
        latency_chart=charts.lines(
            labels,
            {
                "median": [_seconds(d.latency_percentile_ms(0.5)) for d in days],
                "95th percentile": [_seconds(d.latency_percentile_ms(0.95)) for d in days],
            },
            unit="s",
        ),
        costs=cost_table(days, card),
        rate_card=card,
    )

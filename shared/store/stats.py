"""Daily counters for the dashboard: messages, replies, failures, tokens and reply latency.

The dashboard must not read every message to say how many there were, so each writer adds its
increments to a counter document in the same batch (or transaction) that records the event:
the counter moves exactly when the event is stored, and a redelivery that stores nothing counts
nothing. One Firestore document sustains about one write per second, so every day is split
into `SHARDS` documents and a writer picks one from a key of the event (its message id);
the reader adds the shards up.

Documents: `stats_shards/{YYYY-MM-DD}_{shard}` with a `date` field (the UTC day) and the
counters below, as nested maps where a name has a dot (`messages_in_by_type.text`). Reply latency
is kept as a histogram in fixed buckets, so the median and 95th percentile of a day (or a week)
come from a few numbers instead of from every reply.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from google.cloud import firestore

from shared.store.schema import CALL_TIMEOUT, stats_shard_ref

SHARDS = 8

# Upper bounds (inclusive) of the reply latency buckets, in milliseconds; one more bucket holds
# everything slower. Denser where WhatsApp replies usually land (one to ten seconds).
LATENCY_BUCKETS_MS: tuple[int, ...] = (
    250,
    500,
    1_000,
    1_500,
    2_000,
    3_000,
    4_000,
    5_000,
    7_500,
    10_000,
    15_000,
    20_000,
    30_000,
    60_000,
    120_000,
    300_000,
)
OVERFLOW_BUCKET = "gt_" + str(LATENCY_BUCKETS_MS[-1])

Number = int | float


class Writes(Protocol):
    """A WriteBatch or a Transaction: anything the writer is already committing its event with."""

    def set(self, reference: firestore.DocumentReference, document_data: dict, merge: bool = ...) -> Any: ...


def latency_bucket(latency_ms: float) -> str:
    """The histogram field a reply latency is counted in, e.g. `le_2000`."""
    index = bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)
    return OVERFLOW_BUCKET if index == len(LATENCY_BUCKETS_MS) else f"le_{LATENCY_BUCKETS_MS[index]}"


# -- what each event counts (writers call these, so field names live in this module only) ----------


def inbound_message_stored(message_type: str) -> dict[str, Number]:
    """A WhatsApp user's message was recorded for the first time (not on a redelivery)."""
    return {"messages_in": 1, f"messages_in_by_type.{message_type}": 1}


def outbound_message_recorded(sent_by: str) -> dict[str, Number]:
    """WhatsApp accepted a message we sent; `sent_by` is "ai" or "operator"."""
    return {"messages_out": 1, f"messages_out_by_sender.{sent_by}": 1}


def model_answered(
    *,
    input_tokens: int | None,
    output_tokens: int | None,
    latency_ms: float | None,
    thinking_tokens: int | None = 0,
    cached_tokens: int | None = 0,
) -> dict[str, Number]:
    """Gemini answered (once per reply record, when its answer is saved), sent or not.

    Thinking tokens are billed as output but counted apart from the answer's; cached tokens are
    the part of the input read from Gemini's cache (billed at its lower rate).
    """
    return {
        "model_answers": 1,
        "tokens_in": int(input_tokens or 0),
        "tokens_out": int(output_tokens or 0),
        "tokens_thinking": int(thinking_tokens or 0),
        "tokens_cached": int(cached_tokens or 0),
        "model_latency_ms_sum": round(latency_ms or 0),
    }


def ai_reply_sent(*, reply_latency_ms: float) -> dict[str, Number]:
    """A reply reached WhatsApp; its latency runs from the first answered message's `received_at`
    to WhatsApp accepting the reply's last part: how long the customer waited."""
    return {
        "ai_replies": 1,
        "reply_latency_ms_sum": round(reply_latency_ms),
        "reply_latency_count": 1,
        f"reply_latency_histogram.{latency_bucket(reply_latency_ms)}": 1,
    }


def conversation_started() -> dict[str, Number]:
    """A WhatsApp user wrote to the business for the first time (a lifetime counter)."""
    return {"conversations": 1}


def message_failed(direction: str, count: int = 1) -> dict[str, Number]:
    """`count` messages ended failed: inbound ones we could not answer, or an outbound one WhatsApp refused."""
    return {"failures": count, f"failures_by_direction.{direction}": count}


# -- writing -------------------------------------------------------------------------------------


def day_of(when: datetime) -> str:
    return when.astimezone(UTC).date().isoformat()


def shard_of(shard_key: str) -> int:
    # A stable hash (not Python's salted hash()) so one event always lands on the same shard.
    return int.from_bytes(hashlib.sha256(shard_key.encode()).digest()[:4], "big") % SHARDS


def shard_ref(db: firestore.Client, day: str, shard: int) -> firestore.DocumentReference:
    return stats_shard_ref(db, f"{day}_{shard:02d}")


def nested_increments(increments: Mapping[str, Number]) -> dict[str, Any]:
    """`{"a.b": 1}` -> `{"a": {"b": Increment(1)}}`: set(merge=True) takes maps, not field paths."""
    tree: dict[str, Any] = {}
    for path, amount in increments.items():
        *parents, leaf = path.split(".")
        node = tree
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = firestore.Increment(amount)
    return tree


def add_stat_increments(
    batch: Writes,
    db: firestore.Client,
    when: datetime,
    increments: Mapping[str, Number],
    shard_key: str,
) -> None:
    """Add `increments` to the day of `when`, as one more write of the caller's `batch`."""
    if not increments:
        return
    day = day_of(when)
    batch.set(
        shard_ref(db, day, shard_of(shard_key)), {"date": day, **nested_increments(increments)}, merge=True
    )


LIFETIME = "lifetime"  # the shard documents of counters that never reset: `lifetime_{shard}`


def add_lifetime_increments(
    batch: Writes, db: firestore.Client, increments: Mapping[str, Number], shard_key: str
) -> None:
    """Like add_stat_increments, for totals since the beginning (the overview's conversations)."""
    batch.set(shard_ref(db, LIFETIME, shard_of(shard_key)), nested_increments(increments), merge=True)


# -- reading -------------------------------------------------------------------------------------


def read_lifetime(db: firestore.Client) -> dict[str, int]:
    """The lifetime counters, added up over their shards (read by key, no query)."""
    totals: dict[str, int] = {}
    refs = [shard_ref(db, LIFETIME, shard) for shard in range(SHARDS)]
    for snap in db.get_all(refs, timeout=CALL_TIMEOUT):
        for name, value in (snap.to_dict() or {}).items() if snap.exists else ():
            if isinstance(value, int | float):
                totals[name] = totals.get(name, 0) + int(value)
    return totals


@dataclass(frozen=True)
class DailyStats:
    """The counters of one UTC day (or of several days added together)."""

    day: date
    messages_in: int = 0
    messages_in_by_type: Mapping[str, int] = field(default_factory=dict)
    messages_out: int = 0
    messages_out_by_sender: Mapping[str, int] = field(default_factory=dict)
    ai_replies: int = 0
    model_answers: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_thinking: int = 0  # billed as output
    tokens_cached: int = 0  # of tokens_in, read from the cache
    model_latency_ms_sum: int = 0
    reply_latency_ms_sum: int = 0
    reply_latency_count: int = 0
    reply_latency_histogram: Mapping[str, int] = field(default_factory=dict)
    failures: int = 0
    failures_by_direction: Mapping[str, int] = field(default_factory=dict)
    # The cost ledger's quantities (shared.store.ledger): messages Meta billed by category and
    # market, and tokens by model and kind.
    billed: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    tokens_by_model: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    replies_split: int = 0  # replies that did not fit one WhatsApp message
    reply_parts_extra: int = 0  # the messages beyond the first that those replies took

    @property
    def tokens(self) -> int:
        """Every token billed: input, the answers and the thinking behind them."""
        return self.tokens_in + self.tokens_out + self.tokens_thinking

    def latency_percentile_ms(self, fraction: float) -> float | None:
        """Reply latency at `fraction` (0.5 = median), interpolated inside its bucket; None if no reply."""
        counts = [self.reply_latency_histogram.get(f"le_{b}", 0) for b in LATENCY_BUCKETS_MS]
        counts.append(self.reply_latency_histogram.get(OVERFLOW_BUCKET, 0))
        total = sum(counts)
        if total == 0:
            return None
        rank = fraction * total
        seen = 0
        lower = 0.0
        for index, count in enumerate(counts):
            if index == len(LATENCY_BUCKETS_MS):
                return float(LATENCY_BUCKETS_MS[-1])  # slower than the last bound: report the bound
            upper = float(LATENCY_BUCKETS_MS[index])
            if count and seen + count >= rank:
                return lower + (upper - lower) * (rank - seen) / count
            seen += count
            lower = upper
        return float(LATENCY_BUCKETS_MS[-1])

    def plus(self, other: DailyStats) -> DailyStats:
        """Both days' counters added together, dated `self.day`."""
        return DailyStats(
            day=self.day,
            messages_in=self.messages_in + other.messages_in,
            messages_in_by_type=_add_maps(self.messages_in_by_type, other.messages_in_by_type),
            messages_out=self.messages_out + other.messages_out,
            messages_out_by_sender=_add_maps(self.messages_out_by_sender, other.messages_out_by_sender),
            ai_replies=self.ai_replies + other.ai_replies,
            model_answers=self.model_answers + other.model_answers,
            tokens_in=self.tokens_in + other.tokens_in,
            tokens_out=self.tokens_out + other.tokens_out,
            tokens_thinking=self.tokens_thinking + other.tokens_thinking,
            tokens_cached=self.tokens_cached + other.tokens_cached,
            model_latency_ms_sum=self.model_latency_ms_sum + other.model_latency_ms_sum,
            reply_latency_ms_sum=self.reply_latency_ms_sum + other.reply_latency_ms_sum,
            reply_latency_count=self.reply_latency_count + other.reply_latency_count,
            reply_latency_histogram=_add_maps(self.reply_latency_histogram, other.reply_latency_histogram),
            failures=self.failures + other.failures,
            failures_by_direction=_add_maps(self.failures_by_direction, other.failures_by_direction),
            billed=_add_tables(self.billed, other.billed),
            tokens_by_model=_add_tables(self.tokens_by_model, other.tokens_by_model),
            replies_split=self.replies_split + other.replies_split,
            reply_parts_extra=self.reply_parts_extra + other.reply_parts_extra,
        )

    @classmethod
    def from_document(cls, day: date, data: Mapping[str, Any]) -> DailyStats:
        def count(name: str) -> int:
            value = data.get(name)
            return int(value) if isinstance(value, int | float) else 0

        def counts(name: str) -> dict[str, int]:
            value = data.get(name)
            if not isinstance(value, Mapping):
                return {}
            return {str(k): int(v) for k, v in value.items() if isinstance(v, int | float)}

        return cls(
            day=day,
            messages_in=count("messages_in"),
            messages_in_by_type=counts("messages_in_by_type"),
            messages_out=count("messages_out"),
            messages_out_by_sender=counts("messages_out_by_sender"),
            ai_replies=count("ai_replies"),
            model_answers=count("model_answers"),
            tokens_in=count("tokens_in"),
            tokens_out=count("tokens_out"),
            tokens_thinking=count("tokens_thinking"),
            tokens_cached=count("tokens_cached"),
            model_latency_ms_sum=count("model_latency_ms_sum"),
            reply_latency_ms_sum=count("reply_latency_ms_sum"),
            reply_latency_count=count("reply_latency_count"),
            reply_latency_histogram=counts("reply_latency_histogram"),
            failures=count("failures"),
            failures_by_direction=counts("failures_by_direction"),
            billed=table_of(data.get("billed")),
            tokens_by_model=table_of(data.get("tokens_by_model")),
            replies_split=count("replies_split"),
            reply_parts_extra=count("reply_parts_extra"),
        )


def table_of(value: Any) -> dict[str, dict[str, int]]:
    """A two-level map of counts as stored (`billed`, `tokens_by_model`); anything else is dropped."""
    if not isinstance(value, Mapping):
        return {}
    return {
        str(row): {str(k): int(v) for k, v in cells.items() if isinstance(v, int | float)}
        for row, cells in value.items()
        if isinstance(cells, Mapping)
    }


def _add_tables(
    a: Mapping[str, Mapping[str, int]], b: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, int]]:
    total = {row: dict(cells) for row, cells in a.items()}
    for row, cells in b.items():
        total[row] = _add_maps(total.get(row, {}), cells)
    return total


def reply_split(parts: int) -> dict[str, Number]:
    """An answer that took `parts` WhatsApp messages (counted only when more than one)."""
    return {"replies_split": 1, "reply_parts_extra": parts - 1} if parts > 1 else {}


def _add_maps(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    total = dict(a)
    for key, value in b.items():
        total[key] = total.get(key, 0) + value
    return total


def total(days: Iterable[DailyStats]) -> DailyStats | None:
    """Every day's counters added together (dated like the first day), or None for no days."""
    result: DailyStats | None = None
    for day in days:
        result = day if result is None else result.plus(day)
    return result


def read_daily_stats(db: firestore.Client, days: int, *, today: date | None = None) -> list[DailyStats]:
    """The last `days` UTC days up to `today`, oldest first, one entry per day (zeros where quiet).

    The shard documents have known ids, so they are read by key in one batch (`days * SHARDS`
    small documents): no query, no index, and a day nobody wrote to simply does not exist.
    """
    last = today or datetime.now(UTC).date()
    all_days = [last - timedelta(days=days - 1 - i) for i in range(days)]
    by_day = {day: DailyStats(day) for day in all_days}
    refs = [shard_ref(db, day.isoformat(), shard) for day in all_days for shard in range(SHARDS)]
    for snap in db.get_all(refs, timeout=CALL_TIMEOUT):
        if not snap.exists:
            continue
        day = date.fromisoformat(snap.id.rsplit("_", 1)[0])
        by_day[day] = by_day[day].plus(DailyStats.from_document(day, snap.to_dict() or {}))
    return [by_day[day] for day in all_days]

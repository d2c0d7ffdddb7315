"""Daily counters: writers add increments inside their own batch; the reader adds up the shards."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shared.store import stats
from shared.store.schema import STATS_SHARDS
from shared.store.stats import DailyStats, latency_bucket


def test_latency_buckets_are_inclusive_upper_bounds_with_an_overflow() -> None:
    assert latency_bucket(0) == "le_250"
    assert latency_bucket(250) == "le_250"
    assert latency_bucket(251) == "le_500"
    assert latency_bucket(299_999) == "le_300000"
    assert latency_bucket(10**7) == stats.OVERFLOW_BUCKET


def test_median_and_95th_percentile_come_from_the_histogram() -> None:
    day = DailyStats(date(2026, 1, 1), reply_latency_histogram={"le_1000": 50, "le_2000": 45, "le_5000": 5})
    assert day.latency_percentile_ms(0.5) == pytest.approx(1000.0)
    assert 1000 < day.latency_percentile_ms(0.95) <= 2000
    assert DailyStats(date(2026, 1, 1)).latency_percentile_ms(0.5) is None
    slow = DailyStats(date(2026, 1, 1), reply_latency_histogram={stats.OVERFLOW_BUCKET: 3})
    assert slow.latency_percentile_ms(0.5) == stats.LATENCY_BUCKETS_MS[-1]


def test_the_shard_of_an_event_is_stable_and_events_spread_over_all_shards() -> None:
    assert stats.shard_of("wamid.A") == stats.shard_of("wamid.A")
    assert {stats.shard_of(f"wamid.{i}") for i in range(200)} == set(range(stats.SHARDS))


def test_a_model_answer_counts_tokens_and_a_sent_reply_its_latency() -> None:
    assert stats.model_answered(
        input_tokens=10, output_tokens=None, thinking_tokens=48, cached_tokens=4, latency_ms=812.4
    ) == {
        "model_answers": 1,
        "tokens_in": 10,
        "tokens_out": 0,
        "tokens_thinking": 48,
        "tokens_cached": 4,
        "model_latency_ms_sum": 812,
    }
    assert stats.ai_reply_sent(reply_latency_ms=2100) == {
        "ai_replies": 1,
        "reply_latency_ms_sum": 2100,
        "reply_latency_count": 1,
        "reply_latency_histogram.le_3000": 1,
    }
    assert stats.message_failed("inbound", 3) == {"failures": 3, "failures_by_direction.inbound": 3}


def test_increments_written_in_a_batch_add_up_per_day_across_shards(firestore_db) -> None:
    today = datetime(2026, 3, 10, 23, 59, tzinfo=UTC)
    batch = firestore_db.batch()
    for i in range(20):
        stats.add_stat_increments(batch, firestore_db, today, stats.inbound_message_stored("text"), f"m{i}")
    stats.add_stat_increments(batch, firestore_db, today, stats.inbound_message_stored("image"), "img")
    stats.add_stat_increments(
        batch,
        firestore_db,
        today,
        {
            **stats.model_answered(
                input_tokens=100, output_tokens=20, thinking_tokens=30, cached_tokens=60, latency_ms=500
            ),
            **stats.ai_reply_sent(reply_latency_ms=900),
        },
        "r1",
    )
    stats.add_stat_increments(
        batch, firestore_db, today - timedelta(days=2), stats.message_failed("inbound"), "f"
    )
    stats.add_stat_increments(
        batch, firestore_db, today - timedelta(days=30), stats.inbound_message_stored("text"), "old"
    )
    batch.commit()

    days = stats.read_daily_stats(firestore_db, 7, today=today.date())
    assert [d.day for d in days] == [today.date() - timedelta(days=6 - i) for i in range(7)]
    last = days[-1]
    assert (last.messages_in, dict(last.messages_in_by_type)) == (21, {"text": 20, "image": 1})
    assert (last.ai_replies, last.tokens, last.reply_latency_count) == (1, 150, 1)  # thinking is billed
    assert (last.tokens_thinking, last.tokens_cached) == (30, 60)
    assert dict(last.reply_latency_histogram) == {"le_1000": 1}
    assert days[-3].failures == 1 and dict(days[-3].failures_by_direction) == {"inbound": 1}
    week = stats.total(days)
    assert week.messages_in == 21  # the message 30 days ago is outside the window
    shards = list(firestore_db.collection(STATS_SHARDS).stream())
    assert 1 < len(shards) <= stats.SHARDS + 3


def test_a_batch_that_fails_counts_nothing(firestore_db) -> None:
    from google.api_core import exceptions as gexc

    ref = firestore_db.collection("conversations").document("c").collection("messages").document("m")
    ref.set({"x": 1})
    batch = firestore_db.batch()
    batch.create(ref, {"x": 2})  # the redelivery of a stored message
    stats.add_stat_increments(
        batch, firestore_db, datetime.now(UTC), stats.inbound_message_stored("text"), "m"
    )
    with pytest.raises(gexc.AlreadyExists):
        batch.commit()
    assert stats.read_daily_stats(firestore_db, 1)[-1].messages_in == 0

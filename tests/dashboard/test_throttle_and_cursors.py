"""Small pieces with no cloud behind them: the login throttle and page cursors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.dashboard.auth.throttle import (
    FREE_ATTEMPTS,
    GLOBAL_FREE_ATTEMPTS,
    MAX_DELAY_SECONDS,
    LoginThrottle,
)
from shared.dashboard.cursors import BadCursor, Cursor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_gets_a_few_free_attempts_then_waits_twice_as_long_each_time() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(FREE_ATTEMPTS - 1):
        throttle.failed("1.2.3.4")
        assert throttle.retry_after("1.2.3.4") == 0
    waits = []
    for _ in range(4):
        throttle.failed("1.2.3.4")
        waits.append(throttle.retry_after("1.2.3.4"))
    assert waits == [1, 2, 4, 8]
    assert throttle.retry_after("5.6.7.8") == 0  # another client is not slowed by this one


def test_the_wait_is_capped_and_a_success_forgets_the_client() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(40):
        throttle.failed("a")
    assert throttle.retry_after("a") == MAX_DELAY_SECONDS
    clock.now += MAX_DELAY_SECONDS
    throttle.succeeded("a")
    assert throttle.retry_after("a") == 0


def test_a_guesser_that_changes_address_is_slowed_down_globally() -> None:
    throttle = LoginThrottle(Clock())
    for i in range(GLOBAL_FREE_ATTEMPTS):
        throttle.failed(f"10.0.0.{i}")
    assert throttle.retry_after("10.9.9.9") > 0


def test_a_cursor_round_trips_and_tampered_ones_are_refused() -> None:
    cursor = Cursor(datetime(2026, 5, 1, 12, 30, 0, 123456, tzinfo=UTC), "100_15551234567")
    assert Cursor.decode(cursor.encode()) == cursor
    assert Cursor.decode("") is None
    for bad in (
        "%%%",
        "bm90LWpzb24",
        Cursor(cursor.at, "../x").encode(),
        Cursor(cursor.at, "__x__").encode(),
    ):
        with pytest.raises(BadCursor):
            Cursor.decode(bad)

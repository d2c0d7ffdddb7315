"""Small pieces with no cloud behind them: the login throttle and page cursors."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from shared.dashboard.auth.throttle import (
    FORGET_AFTER_SECONDS,
    FREE_ATTEMPTS,
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
        assert throttle.try_attempt("1.2.3.4") == 0
        assert throttle.retry_after("1.2.3.4") == 0
    waits = []
    for _ in range(4):
        assert throttle.try_attempt("1.2.3.4") == 0
        waits.append(throttle.retry_after("1.2.3.4"))
        clock.now += waits[-1]
    assert waits == [1, 2, 4, 8]
    assert throttle.retry_after("5.6.7.8") == 0  # another client is not slowed by this one


def test_an_attempt_while_waiting_is_refused_and_not_charged() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(FREE_ATTEMPTS):
        throttle.try_attempt("1.2.3.4")
    assert [throttle.try_attempt("1.2.3.4") for _ in range(3)] == [1, 1, 1]
    clock.now += 1
    assert throttle.try_attempt("1.2.3.4") == 0
    assert throttle.retry_after("1.2.3.4") == 2  # the next delay, not one grown by the refused tries


def test_the_wait_is_capped_and_a_success_forgets_the_client() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(40):
        assert throttle.try_attempt("10.0.0.1") == 0
        clock.now += throttle.retry_after("10.0.0.1")
    throttle.try_attempt("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == MAX_DELAY_SECONDS
    clock.now += MAX_DELAY_SECONDS
    throttle.succeeded("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 0


def test_parallel_guesses_are_charged_before_they_are_checked() -> None:
    throttle = LoginThrottle(Clock())
    start = threading.Barrier(50)

    def guess(_: int) -> float:
        start.wait()
        return throttle.try_attempt("1.2.3.4")

    with ThreadPoolExecutor(50) as pool:
        waits = list(pool.map(guess, range(50)))
    assert waits.count(0) == FREE_ATTEMPTS  # the rest were refused before their password was looked at


def test_a_guesser_elsewhere_never_locks_the_operator_out() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for i in range(5000):
        throttle.try_attempt(f"10.0.{i // 250}.{i % 250}")
        throttle.try_attempt("203.0.113.7")  # one address hammering as fast as it may
    assert throttle.retry_after("192.0.2.10") == 0
    assert throttle.try_attempt("192.0.2.10") == 0


def test_the_addresses_of_one_ipv6_network_share_a_record() -> None:
    throttle = LoginThrottle(Clock())
    for host in range(FREE_ATTEMPTS):
        throttle.try_attempt(f"2001:db8:1:2::{host + 1:x}")
    assert throttle.retry_after("2001:db8:1:2:ffff::1") > 0  # the same /64
    assert throttle.retry_after("2001:db8:1:3::1") == 0  # the neighbouring network
    for _ in range(FREE_ATTEMPTS):
        throttle.try_attempt("::ffff:198.51.100.4")
    assert throttle.retry_after("198.51.100.4") > 0  # an IPv4-mapped address is that IPv4 address


def test_memory_stays_bounded_and_quiet_clients_are_forgotten() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock, max_clients=100)
    for i in range(1000):
        throttle.try_attempt(f"10.1.{i // 250}.{i % 250}")
    assert throttle.tracked() == 100
    clock.now += FORGET_AFTER_SECONDS + 1
    throttle.try_attempt("10.9.9.9")
    assert throttle.tracked() == 1


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

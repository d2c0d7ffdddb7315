"""Slowing down password guessing, per instance and in memory.

After a few wrong passwords from one client, each further attempt must wait twice as long as
the last (up to a cap). A global budget catches a guesser who varies its address (locally the
address is whatever the socket says; behind a proxy it may be the proxy's). A success clears
the client's record. Memory stays bounded: old records are forgotten.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FREE_ATTEMPTS = 5
MAX_DELAY_SECONDS = 15 * 60.0
FORGET_AFTER_SECONDS = 30 * 60.0
GLOBAL_KEY = "*"
GLOBAL_FREE_ATTEMPTS = 50
MAX_TRACKED_CLIENTS = 10_000


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    last_failure: float = 0.0


def _delay(failures: int, free: int) -> float:
    if failures < free:
        return 0.0
    return min(MAX_DELAY_SECONDS, 2.0 ** (failures - free))


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}

    def retry_after(self, client: str) -> float:
        """Seconds this client must wait before its next attempt is even checked (0 = go ahead)."""
        now = self._clock()
        with self._lock:
            waits = [r.blocked_until - now for k in (client, GLOBAL_KEY) if (r := self._records.get(k))]
        return max([0.0, *waits])

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            self._forget_old(now)
            for key, free in ((client, FREE_ATTEMPTS), (GLOBAL_KEY, GLOBAL_FREE_ATTEMPTS)):
                record = self._records.setdefault(key, _Record())
                record.failures += 1
                record.last_failure = now
                record.blocked_until = now + _delay(record.failures, free)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._records.pop(client, None)

    def _forget_old(self, now: float) -> None:
        stale = [k for k, r in self._records.items() if now - r.last_failure > FORGET_AFTER_SECONDS]
        for key in stale:
            del self._records[key]
        if len(self._records) > MAX_TRACKED_CLIENTS:
            # Under a spray of addresses keep the global record, which still slows everyone down.
            oldest = sorted(self._records, key=lambda k: self._records[k].last_failure)
            for key in oldest[: len(self._records) - MAX_TRACKED_CLIENTS]:
                if key != GLOBAL_KEY:
                    del self._records[key]

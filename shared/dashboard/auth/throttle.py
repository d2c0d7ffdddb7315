"""Slowing down password guessing: per client address, atomic, in bounded memory.

Every attempt is charged before its password is checked, under one lock, so parallel guesses
see each other: a burst cannot slip through while its first guesses are still being checked.
After a few attempts without a success each further one must wait twice as long as the last
(up to a cap); a success clears the client's record.

The key is the client's address: an IPv4 address, or an IPv6 /64 (one subscriber's network,
from which an attacker can draw endless addresses). There is no global key: a guesser elsewhere
slows down only itself and can never lock the operator out. Behind a proxy every client has the
proxy's address, one more reason this login is for local use only (production sits behind IAP).
Memory stays bounded: a record is forgotten after a quiet half hour, and when too many clients
are tracked the least recently seen goes first.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FREE_ATTEMPTS = 5
MAX_DELAY_SECONDS = 15 * 60.0
FORGET_AFTER_SECONDS = 30 * 60.0
MAX_TRACKED_CLIENTS = 10_000


@dataclass
class _Record:
    attempts: int = 0
    blocked_until: float = 0.0
    last_attempt: float = 0.0


def _delay(attempts: int) -> float:
    if attempts < FREE_ATTEMPTS:
        return 0.0
    return min(MAX_DELAY_SECONDS, 2.0 ** (attempts - FREE_ATTEMPTS))


def client_key(address: str) -> str:
    """The throttle's key for a client address: IPv4 as is, IPv6 by its /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class LoginThrottle:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_clients: int = MAX_TRACKED_CLIENTS
    ) -> None:
        self._clock = clock
        self._max_clients = max_clients
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _Record] = OrderedDict()  # least recently seen first

    def try_attempt(self, client: str) -> float:
        """Charge one attempt to ``client`` and return 0, or return how long it must still wait.

        A client that must wait is not charged: waiting out the delay is enough to try again.
        """
        key = client_key(client)
        now = self._clock()
        with self._lock:
            self._forget_old(now)
            record = self._records.get(key)
            if record is not None and record.blocked_until > now:
                return record.blocked_until - now
            if record is None:
                record = self._records[key] = _Record()
                if len(self._records) > self._max_clients:
                    self._records.popitem(last=False)
            self._records.move_to_end(key)
            record.attempts += 1
            record.last_attempt = now
            record.blocked_until = now + _delay(record.attempts)
            return 0.0

    def retry_after(self, client: str) -> float:
        """Seconds ``client`` must wait before its next attempt is even checked (0 = go ahead)."""
        now = self._clock()
        with self._lock:
            record = self._records.get(client_key(client))
        return max(0.0, record.blocked_until - now) if record is not None else 0.0

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._records.pop(client_key(client), None)

    def tracked(self) -> int:
        with self._lock:
            return len(self._records)

    def _forget_old(self, now: float) -> None:
        while self._records:
            key, record = next(iter(self._records.items()))
            if now - record.last_attempt <= FORGET_AFTER_SECONDS or record.blocked_until > now:
                return
            del self._records[key]

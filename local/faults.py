"""Error switches of the local stand-ins: faults a test queued, used up in order."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar


class CountedFault(Protocol):
    count: int  # how many more calls it applies to


F = TypeVar("F", bound=CountedFault)


class FaultQueue(Generic[F]):
    """Thread-safe: the servers answer requests on several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[F] = []

    def add(self, faults: Iterable[F]) -> list[dict[str, Any]]:
        with self._lock:
            self._faults.extend(faults)
        return self.snapshot()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dataclasses.asdict(f) for f in self._faults]  # type: ignore[call-overload]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, applies: Callable[[F], bool] = lambda _: True) -> F | None:
        """The first fault that applies, with one use spent (and dropped when none is left)."""
        with self._lock:
            for fault in self._faults:
                if applies(fault):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def fault_specs(body: Any) -> list[Any]:
    """The faults a control request asks for: one object, a list, or `{"faults": [...]}`."""
    if isinstance(body, list):
        return body
    body = body or {}
    return body.get("faults", [body]) if isinstance(body, dict) else [body]

"""Independent Firestore reads of one page, run at the same time.

A page that needs a count, a few counters and a list would otherwise wait for each in turn;
the client is thread-safe, and one small pool per instance bounds the extra threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dashboard-read")


def in_parallel(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Each call's result, in order; a failing call's exception is raised to the caller."""
    if len(calls) == 1:
        return [calls[0]()]
    futures = [_pool.submit(call) for call in calls]
    return [future.result() for future in futures]

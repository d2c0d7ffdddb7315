"""One deadline per job, which every slow step of the job draws its time from.

Cloud Run stops an invocation at the function's timeout, without an exception and without
running anything after it: a job cut off there leaves no trace of why, may leave a send it can
no longer record, and (before its attempt was counted) would never count. So a job starts its
`Deadline` at the function's timeout less `MARGIN_SECONDS`, the margin it keeps for recording
what happened, and each step asks it for its share: a download's and a send's timeouts, a
decoder's wall-clock limit, a storage write's timeout, the model call. A step that finds too
little time left raises `DeadlineExceeded` before it starts; the job counts that as a failed
attempt like any other, and Pub/Sub delivers it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

# What a job keeps back from its function's timeout for writing down the outcome (the failure
# counted, the message settled, the next job published) after a step ran out of time.
MARGIN_SECONDS = 15.0


class DeadlineExceeded(TimeoutError):
    """A step did not have, or did not finish within, its share of the job's time."""


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock by which the job must be done."""

    at: float
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    @classmethod
    def for_job(
        cls,
        timeout_seconds: float,
        *,
        margin: float = MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> Deadline:
        """The deadline of a job that started now in a function that times out after `timeout_seconds`."""
        return cls(clock() + max(timeout_seconds - margin, 0.0), clock)

    @classmethod
    def after(cls, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    def remaining(self) -> float:
        return max(self.at - self.clock(), 0.0)

    def expired(self) -> bool:
        return self.remaining() <= 0

    def check(self, step: str, *, needs: float = 0.0) -> None:
        """DeadlineExceeded unless more than `needs` seconds are left for `step`."""
        left = self.remaining()
        if left <= needs or left <= 0:
            raise DeadlineExceeded(f"{step}: {left:.1f} s left of the job's time, {needs:g} s needed")

    def share(self, seconds: float, step: str, *, keep: float = 0.0) -> float:
        """The time `step` may take: at most `seconds`, and never more than is left after `keep`
        seconds are kept back for what follows it. DeadlineExceeded when nothing is left."""
        left = self.remaining() - keep
        if left <= 0:
            raise DeadlineExceeded(
                f"{step}: no time left of the job's ({self.remaining():.1f} s left, {keep:g} s kept back)"
            )
        return min(seconds, left)

    def run(self, call: Callable[[], T], step: str, *, limit: float | None = None, keep: float = 0.0) -> T:
        """`call()`'s result, or DeadlineExceeded once its share (`limit`, at most) has passed."""
        seconds = self.share(limit if limit is not None else float("inf"), step, keep=keep)
        return run_within(seconds, call, step)


def run_within(seconds: float, call: Callable[[], T], what: str) -> T:
    """`call()`'s result, or DeadlineExceeded once `seconds` have passed.

    The call runs on a thread of its own; one that overruns is left to finish (each HTTP phase
    inside it still has its timeout) while the job goes on to fail or retry in time.
    """
    outcome: list[tuple[bool, object]] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=run, name=f"within-{what}", daemon=True).start()
    if not done.wait(seconds):
        raise DeadlineExceeded(f"{what} did not finish within {seconds:g} s")
    ok, value = outcome[0]
    if not ok:
        raise value  # type: ignore[misc]
    return value  # type: ignore[return-value]

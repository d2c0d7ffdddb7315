"""What every benchmark shares: how it runs, stops, keeps its logs and reports its numbers.

Each benchmark runs from the repository root as `python -m bench.<name>`, so `shared`, `local`
and `tests.support` import like anywhere else in the repository; the emulators, functions and
test data come from those packages, not from copies here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    """The `q`th percentile (0-100), interpolated between the two nearest values."""
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def load_average() -> str:
    """Other work on the machine skews the numbers; the load average says how much there was."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) {five:.1f} (5 min) on {os.cpu_count()} cores"


class RunLogs:
    """A fresh directory for the logs of everything a run starts.

    Removed when the run ends well; kept, and named on stderr, when it raised or set `keep`
    (some requests failed, say), so the failure can be read.
    """

    def __init__(self, prefix: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self.keep = False

    def __enter__(self) -> RunLogs:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None or self.keep:
            print(f"logs kept in {self.path}", file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back until the process started inside is registered for stopping.

    (Blocking them with pthread_sigmask would be simpler, but children inherit the mask and
    would then ignore the SIGTERM that stops them.)
    """
    received: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum)) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            raise KeyboardInterrupt(f"signal {received[0]}")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(main: Callable[[], int | None]) -> None:
    """Run a benchmark's `main` and exit with its status.

    Ctrl-C and SIGTERM (also when started where SIGINT is ignored) unwind through every
    `finally` and ExitStack, so whatever the benchmark started is stopped before it exits.
    """
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        status = main()
    except KeyboardInterrupt:
        print("\ninterrupted; everything started was stopped", file=sys.stderr)
        sys.exit(130)
    sys.exit(status or 0)

"""Running a decoder where a limit holds: a child process with CPU, memory and wall-time limits.

Pillow, pypdf, python-docx and ffmpeg decode whatever a customer sends. Their own limits cover
the bombs their authors thought of; a file built to make one of them spin or swell must still
cost a bounded amount. So each decoder runs in a child process: the kernel stops it at its CPU
limit (SIGXCPU), refuses it memory past its address-space limit (a MemoryError, or a failed
allocation in C), and the parent kills it, with the ffmpeg it started, at its wall-clock limit.
ffmpeg inherits the same limits.

The children are forked from a zygote (``shared.media.zygote``): one small single-threaded
process per instance, started on first use with the decoders already imported. Forking it
costs a few milliseconds, where a fresh interpreter would pay a few hundred of imports per
file; forking the function's own process would copy its gRPC and server threads mid-flight;
and multiprocessing's fork server re-runs the main module (functions-framework) in every child.

Only the function and its arguments go to the child and only its result or exception comes
back, pickled: a decoder takes paths and plain values and returns plain data.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import astuple, dataclass
from typing import Any, TypeVar

from shared.files.errors import MediaRejected, MediaTimeout, RejectCode
from shared.media.zygote import FRAME_HEADER, MAX_REQUEST_BYTES

log = logging.getLogger(__name__)

T = TypeVar("T")
MiB = 1024 * 1024

# Imported (or called) once in the zygote, so that no child pays for them.
PRELOAD = [
    "PIL.Image",
    "PIL.JpegImagePlugin",
    "PIL.PngImagePlugin",
    "PIL.WebPImagePlugin",
    "PIL.GifImagePlugin",
    "PIL.PpmImagePlugin",
    "PIL.ImageCms",
    "pypdf",
    "pypdf.filters",
    "docx",
    "charset_normalizer",
    "shared.media.images",
    "shared.files.documents",
    "shared.media.audio",
    "shared.media.video",
    "shared.media.ffmpeg:ffmpeg_exe",  # finding the binary costs ~35 ms, once
]
# After a kill, how long to wait for the zygote's report of the child's end.
REPORT_GRACE_SECONDS = 5.0
# A decoder that failed with this share of its address space resident ran out of memory (the
# rest of the space is the interpreter's and the libraries' mappings).
OUT_OF_MEMORY_SHARE = 0.75


@dataclass(frozen=True)
class Budget:
    """What one decoder run may cost. CPU and memory refuse the file; wall time is transient."""

    cpu_seconds: float
    memory_bytes: int  # address space of the child, and of each ffmpeg it starts
    wall_seconds: float
    file_bytes: int = 256 * MiB  # the largest file it may write (ffmpeg's output)


@dataclass(frozen=True)
class Usage:
    """What one run cost: the child's CPU and peak memory, its ffmpeg included (from wait4)."""

    cpu_seconds: float
    peak_rss_bytes: int
    wall_seconds: float
    limit: str | None = None  # "cpu", "memory" or "wall" when that limit ended the run


class _Recorder(threading.local):
    def __init__(self) -> None:
        self.runs: list[Usage] | None = None


_recorder = _Recorder()


@contextlib.contextmanager
def recording() -> Iterator[list[Usage]]:
    """Collect the usage of every bounded run in this thread (benchmarks and tests measure with it)."""
    outer = _recorder.runs
    runs: list[Usage] = []
    _recorder.runs = runs
    try:
        yield runs
    finally:
        _recorder.runs = outer


def run_bounded(fn: Callable[..., T], /, *args: Any, budget: Budget, noun: str, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a child held to ``budget``; ``noun`` names the file in refusals.

    Returns what ``fn`` returned and raises what it raised. A CPU or memory limit reached becomes
    ``MediaRejected`` (``too_complex``) and a crash of the decoder ``MediaRejected`` (``damaged``);
    the wall-clock limit gives ``MediaTimeout`` and a kill from outside (the instance's OOM
    killer) a ``RuntimeError``: those two are worth a retry.
    """
    request = pickle.dumps((fn, args, kwargs, astuple(budget)))
    if len(request) > MAX_REQUEST_BYTES:
        raise ValueError(
            f"a bounded call takes paths and small values, not {len(request)} bytes of arguments"
        )
    started = time.monotonic()
    result_r, result_w = os.pipe()
    status_r, status_w = os.pipe()
    try:
        try:
            pid = _zygote().fork(request, result_w, status_w)
        finally:
            os.close(result_w)
            os.close(status_w)
        message = _read_frame(result_r, started + budget.wall_seconds)
        killed = message is _TIMED_OUT
        if killed:
            _kill_group(pid, status_r)
        report = _read_frame(status_r, time.monotonic() + REPORT_GRACE_SECONDS)
    finally:
        os.close(result_r)
        os.close(status_r)
    wall = time.monotonic() - started
    exit_code, cpu, peak = report if isinstance(report, tuple) else (None, 0.0, 0)
    outcome, payload = message if isinstance(message, tuple) else (None, None)
    out_of_memory = outcome == "memory" or (outcome == "raised" and _out_of_memory(payload, peak, budget))
    limit = "wall" if killed else "memory" if out_of_memory else _limit_of(exit_code)
    _record(Usage(cpu, peak, wall, limit))
    if outcome == "ok":
        return payload  # type: ignore[no-any-return]
    if outcome == "raised" and not out_of_memory:
        raise payload
    if out_of_memory:
        log.warning("decoder stopped at its memory limit", extra={"noun": noun, "peak_mb": peak // MiB})
        error = MediaRejected(f"The {noun} needs too much memory to open safely", RejectCode.TOO_COMPLEX)
        raise error from payload
    raise _without_answer(exit_code, killed, budget, noun)


def _out_of_memory(error: BaseException, peak: int, budget: Budget) -> bool:
    """Whether a decoder's error is really its memory limit: C libraries (libxml2, libjpeg) report
    a failed allocation as a parse error or a broken file, which would read as "damaged"."""
    if isinstance(error, MediaRejected) and error.code != RejectCode.DAMAGED:
        return False
    return peak >= budget.memory_bytes * OUT_OF_MEMORY_SHARE


def _limit_of(exit_code: int | None) -> str | None:
    return "cpu" if exit_code == -signal.SIGXCPU else None


def _without_answer(exit_code: int | None, killed: bool, budget: Budget, noun: str) -> Exception:
    if killed:
        return MediaTimeout(f"opening the {noun} took longer than {budget.wall_seconds:.0f} s")
    if exit_code == -signal.SIGXCPU:
        log.warning("decoder stopped at its CPU limit", extra={"noun": noun, "cpu_s": budget.cpu_seconds})
        return MediaRejected(f"The {noun} takes too much work to open safely", RejectCode.TOO_COMPLEX)
    if exit_code is not None and -exit_code in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE):
        # The same bytes crash the same decoder again: the file's fault, not the instance's.
        error = MediaRejected(f"The {noun} is damaged and could not be read", RejectCode.DAMAGED)
        error.add_note(f"the decoder died of signal {-exit_code}")
        return error
    return RuntimeError(f"the decoder of the {noun} ended without an answer (exit code {exit_code})")


def _record(usage: Usage) -> None:
    if _recorder.runs is not None:
        _recorder.runs.append(usage)


# --- pipes --------------------------------------------------------------------------------------

_TIMED_OUT = object()


def _read_frame(fd: int, deadline: float) -> Any:
    """One length-prefixed pickle from ``fd``; None at end of file, ``_TIMED_OUT`` at the deadline."""
    buffer = bytearray()
    needed: int | None = None
    while True:
        if needed is None and len(buffer) >= FRAME_HEADER.size:
            (needed,) = FRAME_HEADER.unpack_from(buffer)
            needed += FRAME_HEADER.size
        if needed is not None and len(buffer) >= needed:
            return pickle.loads(bytes(buffer[FRAME_HEADER.size : needed]))  # noqa: S301 - our own child
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return _TIMED_OUT
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            continue
        chunk = os.read(fd, 1024 * 1024)
        if not chunk:
            return None  # the child ended without a (whole) answer
        buffer += chunk


def _kill_group(pid: int, status_r: int) -> None:
    """SIGKILL the child's process group: an ffmpeg it started must not outlive it."""
    if select.select([status_r], [], [], 0)[0]:
        return  # already reaped: its pid may belong to someone else by now
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# --- the zygote ---------------------------------------------------------------------------------


class _Zygote:
    """The parent's end of the zygote: started lazily, restarted once if it has died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None

    def fork(self, request: bytes, result_w: int, status_w: int) -> int:
        with self._lock:
            for attempt in (1, 2):
                if self._socket is None:
                    self._start()
                assert self._socket is not None
                try:
                    socket.send_fds(self._socket, [request], [result_w, status_w])
                    answer = self._socket.recv(64)
                    if answer:
                        return int(pickle.loads(answer))  # noqa: S301 - our own zygote
                except OSError:
                    if attempt == 2:
                        raise
                log.warning("the decoder zygote died; starting a new one")
                self._stop()
            raise RuntimeError("the decoder zygote is not answering")

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code = (
            f"import sys; sys.path[:0] = {sys.path!r}; "
            f"from shared.media.zygote import serve; serve({theirs.fileno()}, {PRELOAD!r})"
        )
        # A plain argv of our own interpreter and constants; the zygote keeps our stdio for its logs.
        self._process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", code], pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL
        )
        theirs.close()
        self._socket = ours

    def _stop(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=1)
            self._process = None


_the_zygote = _Zygote()


def _zygote() -> _Zygote:
    return _the_zygote

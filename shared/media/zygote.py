"""The process that bounded decoders are forked from, and what each forked child does.

It is started once per instance by ``shared.media.sandbox``, imports the decoders, and then
only forks: one child per request, never a thread, so a fork copies nothing half-done. It
reaps each child with ``wait4``, which gives the child's exact CPU time and peak memory
(its ffmpeg included) even when a limit killed it, and writes both to a pipe of the parent's.

Wire format, all of it between our own processes:
- request (parent -> zygote, one SOCK_SEQPACKET message with two file descriptors attached:
  the result pipe for the child and the status pipe for the zygote): pickle of
  ``(fn, args, kwargs, limits)``; the answer is one message, pickle of the child's pid;
- result pipe (child -> parent): frames of an 8-byte length and a pickle, here one
  ``(outcome, payload)``: ``("ok", value)``, ``("raised", exception)`` or ``("memory", None)``;
- status pipe (zygote -> parent): one frame, ``(exit_code, cpu_seconds, peak_rss_bytes)``.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import math
import os
import pickle
import resource
import select
import signal
import socket
import struct
import traceback
from typing import Any

FRAME_HEADER = struct.Struct(">Q")
MAX_REQUEST_BYTES = 64 * 1024
# A child the parent could no longer kill (it vanished with its parent) still ends by itself.
SELF_DESTRUCT_MARGIN_SECONDS = 5


def serve(sock_fd: int, preload: list[str]) -> None:
    """The zygote's loop: fork per request, reap and report, until the parent goes away.

    ``preload`` names modules to import, or ``module:function`` to call once (a cache to fill).
    """
    sock = socket.socket(fileno=sock_fd)
    for name in preload:
        module_name, _, function = name.partition(":")
        # A function without that decoder never needs it; a cache left empty fills in the child.
        with contextlib.suppress(Exception):
            module = importlib.import_module(module_name)
            if function:
                getattr(module, function)()
    # What is imported now stays put: without this, the first garbage collection in each child
    # would write to every object and copy every page it shares with the zygote.
    gc.freeze()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the select below
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the parent to handle
    running: dict[int, int] = {}  # child pid -> its status pipe
    while True:
        ready, _, _ = select.select([sock, wake_r], [], [])
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_r, 4096)
        if sock in ready:
            try:
                data, fds, _flags, _address = socket.recv_fds(sock, MAX_REQUEST_BYTES, 2)
            except ConnectionResetError:
                data, fds = b"", []
            if not data:
                return  # the parent is gone; running children end at their own limits
            result_fd, status_fd = fds
            pid = os.fork()
            if pid == 0:
                _child(data, result_fd)  # never returns
            os.close(result_fd)
            os.set_blocking(status_fd, False)
            running[pid] = status_fd
            sock.send(pickle.dumps(pid))
        _reap(running)


def _reap(running: dict[int, int]) -> None:
    while running:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        status_fd = running.pop(pid, None)
        if status_fd is None:
            continue
        cpu = usage.ru_utime + usage.ru_stime
        report = pickle.dumps((os.waitstatus_to_exitcode(status), cpu, usage.ru_maxrss * 1024))
        # The parent may have stopped listening; a report nobody reads must not block the zygote.
        with contextlib.suppress(OSError):
            os.write(status_fd, FRAME_HEADER.pack(len(report)) + report)
        os.close(status_fd)


# --- in the child -------------------------------------------------------------------------------


def _child(request: bytes, result_fd: int) -> None:
    code = 0
    try:
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_DFL)
        os.dup2(result_fd, 3)
        # Keep only stdio and the result pipe: another run's pipe held open here would keep
        # that run's parent waiting for an end of file until this child exits too.
        _close_fds_from(4)
        os.setpgid(0, 0)  # its own group, so that one kill ends the ffmpeg it starts too
        fn, args, kwargs, limits = pickle.loads(request)  # noqa: S301 - from our own parent
        apply_limits(*limits)
        # Noisy libraries (pypdf warns once per broken object) must not flood the function's log.
        logging.getLogger("pypdf").setLevel(logging.ERROR)
        _write_frame(3, _run(fn, args, kwargs))
    except BaseException:  # nothing may return into the zygote's loop
        traceback.print_exc()
        code = 70
    finally:
        os._exit(code)


def _run(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    try:
        message: tuple[str, Any] = ("ok", fn(*args, **kwargs))
    except MemoryError:
        # Not bound to a name: its traceback would keep the half-built objects alive.
        message = ("memory", None)
    except BaseException as exc:
        message = ("raised", _portable(exc))
    try:
        return pickle.dumps(message)
    except Exception as exc:  # the result does not pickle
        detail = "".join(traceback.format_exception_only(exc)).strip()
        return pickle.dumps(
            ("raised", RuntimeError(f"the decoder's answer could not be sent back: {detail}"))
        )


def _portable(exc: BaseException) -> BaseException:
    """The exception as the parent can unpickle it, with the child's traceback kept as a note."""
    from shared.files.errors import MediaRejected

    if not isinstance(exc, MediaRejected):
        exc.add_note(
            "raised in the decoder's child process:\n" + "".join(traceback.format_tb(exc.__traceback__))
        )
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, made just now
    except Exception:
        described = "".join(traceback.format_exception(exc)).strip()
        return RuntimeError(f"the decoder raised an exception that cannot be sent back: {described}")
    return exc


def apply_limits(cpu_seconds: float, memory_bytes: int, wall_seconds: float, file_bytes: int) -> None:
    """Kernel limits on this process, inherited by whatever it starts (ffmpeg)."""
    cpu = max(1, math.ceil(cpu_seconds))
    # The soft limit sends SIGXCPU, which ends Python and ffmpeg alike; the hard one SIGKILLs.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.alarm(math.ceil(wall_seconds) + SELF_DESTRUCT_MARGIN_SECONDS)


def _write_frame(fd: int, payload: bytes) -> None:
    data = memoryview(FRAME_HEADER.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


def _close_fds_from(lowest: int) -> None:
    """Close every descriptor from ``lowest`` up: those listed in /proc, else the whole range."""
    try:
        numbers = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        os.closerange(lowest, soft if soft != resource.RLIM_INFINITY else 65536)
        return
    for number in numbers:
        if number >= lowest:
            with contextlib.suppress(OSError):  # the listing's own descriptor is already gone
                os.close(number)

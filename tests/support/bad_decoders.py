"""Decoders that misbehave on purpose, for the tests of the bounded child process.

They live in an importable module because the child unpickles them by name.
"""

from __future__ import annotations

import contextlib
import ctypes
import subprocess
import sys
import time
from pathlib import Path


def add(a: int, b: int) -> int:
    return a + b


def spin() -> None:
    while True:
        pass


def swell(step_mb: int = 32) -> None:
    hoard = []
    while True:
        hoard.append(bytearray(step_mb * 1024 * 1024))


def crash() -> None:
    ctypes.string_at(0)


def refuse(reason: str) -> None:
    from shared.files.errors import MediaRejected, RejectCode

    raise MediaRejected(reason, RejectCode.DAMAGED)


def fail() -> None:
    raise LookupError("a bug in the decoder")


def hang_with_a_helper(pid_file: Path) -> None:
    """Start a helper process (as a decoder starts ffmpeg), note its pid, then wait forever."""
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    pid_file.write_text(str(helper.pid))
    time.sleep(600)


def spin_in_a_helper() -> int:
    """A helper that spins (as a hostile video would make ffmpeg do): its CPU limit is inherited."""
    return subprocess.run([sys.executable, "-c", "while True: pass"], check=False).returncode


def decode_with_pillow(path: Path) -> tuple[int, int]:
    """The bare library call, with none of our checks in front of it."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return image.size


def swell_and_call_it_damage() -> None:
    """What libxml2 and libjpeg do when an allocation fails: report a broken file."""
    from shared.files.errors import MediaRejected, RejectCode

    with contextlib.suppress(MemoryError):
        swell(step_mb=8)
    raise MediaRejected("The document is damaged and could not be read", RejectCode.DAMAGED)

"""`make test`'s first step: Debian's Chromium for the dashboard's browser tests, installed when missing.

Playwright drives the system browser at /usr/bin/chromium (its own browser download needs a
host this machine cannot reach). As root, the step installs Debian's `chromium` package with
apt-get; otherwise it stops at once and prints the one command that installs it, instead of
letting seven browser tests fail minutes later. It uses the standard library only, so it runs
with the system's python3 before the virtualenv exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
APT_UPDATE = ("apt-get", "update", "-qq")
APT_INSTALL = ("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium")
USER_COMMAND = "sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends chromium'"

Run = Callable[[Sequence[str]], None]


class ChromiumMissing(RuntimeError):
    """Chromium is not there and this step cannot install it; the message says what to run."""


def _run(command: Sequence[str]) -> None:
    subprocess.run(command, check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def ensure_chromium(
    path: Path = CHROMIUM,
    *,
    is_root: bool | None = None,
    has_apt: bool | None = None,
    run: Run = _run,
) -> str:
    """Return what was done ("found" or "installed"); ChromiumMissing when nothing could be."""
    if os.access(path, os.X_OK):
        return "found"
    is_root = os.geteuid() == 0 if is_root is None else is_root
    has_apt = shutil.which("apt-get") is not None if has_apt is None else has_apt
    if not has_apt:
        raise ChromiumMissing(
            f"the browser tests need Chromium at {path}, and this machine has no apt-get to install "
            "Debian's chromium package; install Chromium there and run `make test` again"
        )
    if not is_root:
        raise ChromiumMissing(
            f"the browser tests need Debian's Chromium at {path}; install it with\n\n    {USER_COMMAND}\n\n"
            "and run `make test` again"
        )
    print(f"installing Debian's chromium for the browser tests ({path} is missing)...", flush=True)
    run(APT_UPDATE)
    run(APT_INSTALL)
    if not os.access(path, os.X_OK):
        raise ChromiumMissing(f"apt-get installed chromium, but {path} is still missing")
    return "installed"


def main() -> int:
    try:
        ensure_chromium()
    except ChromiumMissing as exc:
        print(f"make test: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(
            f"make test: installing chromium failed ({' '.join(exc.cmd)} exited {exc.returncode})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A pytest plugin: the whole run records its Firestore queries, in every process it starts.

At start it makes a log directory and installs the recorder (firestore_queries.py) in the test
process; `child_env()` is what a test adds to the environment of a process it starts (a function
under functions-framework, `make dev`) so that process records into the same directory, through
child_site/sitecustomize.py. Tests marked `after_all_queries` (the index checks) run after every
other test and read what all processes wrote; `full_run()` says whether every test was collected,
since only then can an index that no recorded query needs be called unused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import firestore_queries

CHILD_SITE = Path(__file__).resolve().parent / "child_site"
MARKER = "after_all_queries"


@dataclass
class _Run:
    log_dir: Path | None = None
    deselected: bool = False
    full: bool = False


_run = _Run()


def log_dir() -> Path | None:
    return _run.log_dir


def full_run() -> bool:
    return _run.full


def child_env() -> dict[str, str]:
    """Environment that makes a Python process started by a test record its queries too."""
    directory = log_dir()
    if directory is None:
        return {}
    inherited = os.environ.get("PYTHONPATH")
    return {
        firestore_queries.LOG_DIR_ENV: str(directory),
        "PYTHONPATH": os.pathsep.join(p for p in (str(CHILD_SITE), inherited) if p),
    }


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: runs after every other test, to see all their queries")
    _run.log_dir = Path(tempfile.mkdtemp(prefix="firestore-queries-"))
    firestore_queries.install(_run.log_dir)


def pytest_unconfigure(config: pytest.Config) -> None:
    directory, _run.log_dir = _run.log_dir, None
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        _run.deselected = True


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once every plugin has filtered and reordered the tests: the index checks go last."""
    items = session.items
    last = [item for item in items if item.get_closest_marker(MARKER)]
    items[:] = [item for item in items if not item.get_closest_marker(MARKER)] + last
    _run.full = _collected_everything(session.config)


def _collected_everything(config: pytest.Config) -> bool:
    """No path narrower than the test folder, nothing deselected or ignored."""
    tests = config.rootpath / "tests"
    for arg in config.args:
        path = Path(arg.split("::", 1)[0])
        path = (path if path.is_absolute() else config.invocation_params.dir / path).resolve()
        if "::" in arg or path not in (tests, config.rootpath):
            return False
    ignored = config.getoption("ignore") or config.getoption("ignore_glob")
    return not ignored and not _run.deselected

"""Run at start-up by every Python process whose PYTHONPATH names this directory.

The tests put it there for the processes they start (see tests/support/query_log.py), with
FIRESTORE_QUERY_LOG_DIR naming where the test session collects Firestore query shapes; such a
process then records its own queries there. Without that variable, or in an interpreter without
the Firestore client, it does nothing. Then it runs the sitecustomize this one shadows, if any.
"""

import importlib.machinery
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDER = os.path.join(os.path.dirname(HERE), "firestore_queries.py")


def _record_firestore_queries() -> None:
    if not os.environ.get("FIRESTORE_QUERY_LOG_DIR"):
        return
    try:
        client = importlib.util.find_spec("google.cloud.firestore_v1")
    except ModuleNotFoundError:  # not even the google namespace
        client = None
    if client is None:
        return
    # By file path: the process's own sys.path need not reach the tests package.
    spec = importlib.util.spec_from_file_location("firestore_query_recorder", RECORDER)
    recorder = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = recorder  # dataclasses look their module up while being defined
    spec.loader.exec_module(recorder)
    recorder.install_from_environment()


def _run_shadowed_sitecustomize() -> None:
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


_record_firestore_queries()
_run_shadowed_sitecustomize()

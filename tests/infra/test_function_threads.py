"""Each function's gunicorn serves as many requests at once as Cloud Run sends one instance.

functions-framework runs gunicorn with THREADS threads (4 per CPU unless set), while Cloud Run
sends each instance up to max_instance_request_concurrency requests: with fewer threads the rest
queue inside the instance behind a slow model call. Terraform sets both from one value, and the
local stack runs the functions with the same numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from functions_framework._http.gunicorn import GunicornApplication

from local import emulators
from tests.infra.terraform_config import block, keys_of

FUNCTION = ("google_cloudfunctions2_function", "fn")


def _expression(text: str) -> str:
    return text.removeprefix("${").removesuffix("}")


def test_terraform_gives_each_function_as_many_threads_as_requests_per_instance(tf):
    service = block(tf.resource(*FUNCTION), "service_config")
    concurrency = _expression(service["max_instance_request_concurrency"])
    assert concurrency == "var.function_sizing[each.key].concurrency"
    env = service["environment_variables"]
    threads = re.findall(r"\bTHREADS\s*=\s*tostring\(([^()]+)\)", env)
    assert threads == [concurrency], f"THREADS must be set once, from {concurrency}: {env}"
    # It is the last map merged, so no per-function setting can override it.
    assert env.rstrip("}").rstrip(")").rstrip().endswith(f"{{THREADS = tostring({concurrency})}}")


def test_the_local_stack_runs_each_function_with_terraforms_default_concurrency(tf):
    terraform = {name: size["concurrency"] for name, size in tf.default("function_sizing").items()}
    local = dict(emulators.FUNCTION_THREADS)
    assert local == terraform
    assert set(local) == set(keys_of(tf.locals["functions"]))


def test_start_function_hands_the_threads_to_functions_framework(monkeypatch, tmp_path):
    started: list[dict[str, str]] = []
    monkeypatch.setattr(emulators, "spawn", lambda name, args, log_dir, url, env: started.append(env))
    monkeypatch.setattr(emulators, "wait_http", lambda proc, path: None)

    emulators.start_function("ai_reply", 1, {"THREADS": "99", "A": "b"}, Path(tmp_path))
    emulators.start_function("media", 1, {}, Path(tmp_path), threads=3)
    assert [env["THREADS"] for env in started] == ["20", "3"]
    assert started[0]["A"] == "b"
    with pytest.raises(ValueError, match="no THREADS default"):
        emulators.start_function("sample", 1, {}, Path(tmp_path))


def test_functions_framework_takes_its_thread_count_from_threads(monkeypatch):
    """The contract both sides rely on, held against the pinned functions-framework."""
    monkeypatch.setenv("THREADS", "20")
    app = GunicornApplication(object(), "127.0.0.1", 0, False)
    assert app.options["threads"] == 20
    assert app.options["workers"] == 1

"""`make dev` stops at once with a clear message when an emulator it is told to use is not there,
and `.env.example` and the README name the variables that really set its ports."""

from __future__ import annotations

import http.server
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from local import devstack
from local.emulators import free_port
from local.stack import DEFAULT_PORTS, EMULATOR_HOSTS, StackOptions, unreachable_emulators
from shared.config import SETTING_NAMES
from tests.support.cloud import ROOT


@pytest.fixture
def http_server() -> Iterator[int]:
    """Something that answers HTTP on a free port, as every emulator does on GET /."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_an_emulator_host_where_nothing_listens_is_named_with_how_to_fix_it() -> None:
    port = free_port()
    (problem,) = unreachable_emulators({"FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{port}"}, {})
    assert f"FIRESTORE_EMULATOR_HOST=127.0.0.1:{port}" in problem
    assert "nothing answers (connection refused)" in problem
    assert f"gcloud emulators firestore start --host-port=127.0.0.1:{port}" in problem
    assert "remove FIRESTORE_EMULATOR_HOST" in problem and "FIRESTORE_PORT, default 8086" in problem


def test_each_emulator_host_is_checked_and_the_storage_one_may_carry_its_scheme(http_server) -> None:
    dead = free_port()
    problems = unreachable_emulators(
        {
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{http_server}",
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{dead}",
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{http_server}",
            "GOOGLE_CLOUD_PROJECT": "my-project",
        },
        {"PUBSUB_EMULATOR_HOST": ".env"},
    )
    assert len(problems) == 1
    assert f"PUBSUB_EMULATOR_HOST=127.0.0.1:{dead} (set in .env)" in problems[0]
    assert f"--host-port=127.0.0.1:{dead} --project=my-project" in problems[0]


def test_an_emulator_host_without_a_port_is_refused() -> None:
    (problem,) = unreachable_emulators({"FIRESTORE_EMULATOR_HOST": "localhost"})
    assert "has no port" in problem


def test_an_address_that_never_answers_is_given_up_on_within_the_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        (problem,) = unreachable_emulators(
            {"FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{silent.getsockname()[1]}"}, timeout=0.5
        )
    assert time.monotonic() - started < 5
    assert "no answer within 0.5 s" in problem


def test_make_dev_stops_at_once_when_the_named_firestore_emulator_is_not_running(tmp_path) -> None:
    dead = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_EMULATOR_HOST") and not k.startswith(("GEMINI", "WHATSAPP"))
    }
    env.update({name: str(free_port()) for name in DEFAULT_PORTS})
    env["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{dead}"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.devstack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: make dev stops whatever it started
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"make dev did not stop at once:\n{out}\n{err}")
    assert proc.returncode == 1
    assert time.monotonic() - started < 20, "it must not wait for the emulator"
    assert f"FIRESTORE_EMULATOR_HOST=127.0.0.1:{dead} (set in the environment)" in err
    assert "nothing answers" in err and "gcloud emulators firestore start" in err
    assert "starting the emulators" not in out  # stopped before starting anything


def test_the_port_of_an_emulator_the_user_runs_is_not_reported_busy(http_server) -> None:
    ports = {name: free_port() for name in DEFAULT_PORTS} | {"FIRESTORE_PORT": http_server}
    devstack.check_ports(
        StackOptions(ports=ports, user_env={"FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{http_server}"})
    )
    with pytest.raises(SystemExit, match=f"FIRESTORE_PORT={http_server}"):
        devstack.check_ports(StackOptions(ports=ports, user_env={}))


def _example_names() -> dict[str, str]:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return dict(re.findall(r"^#\s*([A-Z][A-Z0-9_]+)=(.*)$", text, re.MULTILINE))


def test_env_example_names_only_variables_make_dev_reads() -> None:
    known = set(SETTING_NAMES) | set(DEFAULT_PORTS) | set(EMULATOR_HOSTS)
    assert set(_example_names()) <= known, set(_example_names()) - known


def test_env_example_and_the_readme_give_every_port_variable_with_its_real_default() -> None:
    example = _example_names()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, port in DEFAULT_PORTS.items():
        assert example.get(name) == str(port), name
        assert f"`{name}` ({port})" in readme, name
    # The emulator hosts are not how ports are chosen: an example value must match the default port.
    for host, (_, port_setting) in EMULATOR_HOSTS.items():
        assert example[host].endswith(f":{DEFAULT_PORTS[port_setting]}"), host

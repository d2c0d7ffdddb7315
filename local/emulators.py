"""Start and stop the Google emulators the local stack and the tests run on.

gcloud starts each emulator as a Java child of a Python wrapper; stopping only the wrapper
leaves the JVM holding its port. Each emulator therefore runs in a session (process group) of
its own, and stopping it signals the whole group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

READY_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether a server could listen on `port` now (connections in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class ManagedProcess:
    """A child process group with a name, an address and a log file."""

    name: str
    host_port: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)  # what clients need to reach it

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        # The JVM may outlive its wrapper by a moment; wait until it let go of the port.
        port = int(self.host_port.rsplit(":", 1)[1])
        deadline = time.monotonic() + timeout
        while not port_is_free(port) and time.monotonic() < deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            time.sleep(0.1)


def spawn(
    name: str, args: list[str], log_dir: Path, host_port: str, env: dict[str, str] | None = None
) -> ManagedProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log_file = log_path.open("ab")
    process = subprocess.Popen(
        args,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    log_file.close()
    return ManagedProcess(name, host_port, process, log_path)


def wait_http(proc: ManagedProcess, path: str = "/", timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.running():
            raise RuntimeError(f"{proc.name} exited early; see {proc.log_path}:\n{_tail(proc.log_path)}")
        try:
            if requests.get(proc.url + path, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.stop()
    raise TimeoutError(f"{proc.name} did not become ready in {timeout:.0f}s; see {proc.log_path}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _gcloud() -> str:
    gcloud = shutil.which("gcloud")
    if not gcloud:
        raise RuntimeError(
            "gcloud is not installed; the Firestore and Pub/Sub emulators come with the Google Cloud SDK"
        )
    return gcloud


def start_firestore(port: int, log_dir: Path) -> ManagedProcess:
    host_port = f"127.0.0.1:{port}"
    proc = spawn(
        "firestore",
        [_gcloud(), "emulators", "firestore", "start", f"--host-port={host_port}", "--quiet"],
        log_dir,
        host_port,
    )
    proc.env = {"FIRESTORE_EMULATOR_HOST": host_port}
    return proc


def start_pubsub(port: int, project: str, log_dir: Path) -> ManagedProcess:
    host_port = f"127.0.0.1:{port}"
    proc = spawn(
        "pubsub",
        [
            _gcloud(),
            "beta",
            "emulators",
            "pubsub",
            "start",
            f"--host-port={host_port}",
            f"--project={project}",
            "--quiet",
        ],
        log_dir,
        host_port,
    )
    proc.env = {"PUBSUB_EMULATOR_HOST": host_port}
    return proc


def start_storage(port: int, bucket: str, log_dir: Path) -> ManagedProcess:
    host_port = f"127.0.0.1:{port}"
    exe = Path(sys.executable).with_name("gcp-storage-emulator")
    proc = spawn(
        "storage",
        [
            str(exe),
            "start",
            "--host=127.0.0.1",
            f"--port={port}",
            "--in-memory",
            f"--default-bucket={bucket}",
        ],
        log_dir,
        host_port,
    )
    proc.env = {"STORAGE_EMULATOR_HOST": f"http://{host_port}"}
    return proc


def create_bucket(storage_url: str, project: str, name: str) -> None:
    """Create bucket `name` in the storage emulator at `storage_url` (http://host:port); one that
    exists already is fine."""
    response = requests.post(
        f"{storage_url.rstrip('/')}/storage/v1/b",
        params={"project": project},
        json={"name": name},
        timeout=10,
    )
    if response.status_code != 409:
        response.raise_for_status()


def reset_firestore(host_port: str, project: str) -> None:
    """Delete every document of `project` in the emulator (its documented reset endpoint).

    The emulator deletes everything in one request; after a test that wrote thousands of
    documents (the knowledge base's) on a loaded machine that takes well over ten seconds.
    """
    url = f"http://{host_port}/emulator/v1/projects/{project}/databases/(default)/documents"
    requests.delete(url, timeout=120).raise_for_status()


# Requests one instance of each function serves at once: the `concurrency` defaults of
# function_sizing in terraform/variables.tf, which production hands functions-framework as
# THREADS (its gunicorn otherwise runs 4 threads per CPU). tests/infra holds the two equal.
FUNCTION_THREADS = {"webhook": 40, "media": 2, "ai_reply": 20, "dashboard": 20}


def start_function(
    name: str,
    port: int,
    env: dict[str, str],
    log_dir: Path,
    *,
    signature_type: str = "http",
    threads: int | None = None,
    source: Path | None = None,
) -> ManagedProcess:
    """Run `functions/<name>/main.py` under functions-framework, the way Cloud Functions runs it.

    `threads` defaults to the function's production concurrency (FUNCTION_THREADS); `source`
    runs another file's function `name` the same way (the benchmark's floor).
    """
    if threads is None:
        if name not in FUNCTION_THREADS:
            raise ValueError(f"no THREADS default for the function {name!r}; pass threads=")
        threads = FUNCTION_THREADS[name]
    root = Path(__file__).resolve().parent.parent
    exe = Path(sys.executable).with_name("functions-framework")
    args = [
        str(exe),
        f"--source={source or root / 'functions' / name / 'main.py'}",
        f"--target={name}",
        f"--port={port}",
        "--host=127.0.0.1",
        f"--signature-type={signature_type}",
    ]
    # The PYTHONPATH the process would inherit comes first (the tests add one that records queries).
    inherited = {**os.environ, **env}.get("PYTHONPATH")
    pythonpath = os.pathsep.join(p for p in (inherited, str(root)) if p)
    full_env = {**env, "THREADS": str(threads), "PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"}
    proc = spawn(name, args, log_dir, f"127.0.0.1:{port}", env=full_env)
    wait_http(proc, "/healthz" if signature_type == "http" else "/")
    return proc

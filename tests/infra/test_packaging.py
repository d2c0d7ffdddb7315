"""Each packaged function starts with nothing but its own folder and its own requirements.

`make package` builds build/functions/<name>/ (function files + shared/ + requirements.txt);
these tests build the same folders, install each one's requirements into a fresh venv of the
runtime's Python (cached by requirements hash, created in parallel), and start the function there
the way Cloud Functions would, with only the environment Terraform gives it (dummy values) and the
network limited to loopback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest

from deploy import package
from shared.config import Settings
from tests.infra import terraform_config, venvs

ROOT = terraform_config.ROOT
PROBE = Path(__file__).with_name("function_probe.py")
PROBE_TIMEOUT_SECONDS = 120

# Functions called by our Pub/Sub push subscriptions: they must be CloudEvent functions.
WORKERS = {"media", "ai_reply"}


# ----- the packager itself (fast, no venvs) -----------------------------------------------------


def make_repo(root: Path, functions: dict[str, dict[str, str]]) -> Path:
    (root / "shared" / "tests").mkdir(parents=True)
    (root / "shared" / "__init__.py").write_text("")
    (root / "shared" / "config.py").write_text("X = 1\n")
    (root / "shared" / "tests" / "test_config.py").write_text("")
    (root / "shared" / "__pycache__").mkdir()
    (root / "shared" / "__pycache__" / "config.cpython-311.pyc").write_bytes(b"")
    for name, files in functions.items():
        folder = root / "functions" / name
        folder.mkdir(parents=True)
        for relative, text in files.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(text)
    return root


def test_packaging_copies_the_function_files_shared_and_its_requirements_only(tmp_path):
    repo = make_repo(
        tmp_path,
        {
            "dashboard": {
                "main.py": "import shared\n",
                "requirements.txt": "flask\n",
                "templates/index.html": "<html></html>",
                "static/app.css": "body{}",
                "tests/test_main.py": "",
            },
            "empty": {},
        },
    )
    built = package.package_all(repo, tmp_path / "out")

    assert [p.name for p in built] == ["dashboard"]
    files = sorted(p.relative_to(built[0]).as_posix() for p in built[0].rglob("*") if p.is_file())
    assert files == [
        "main.py",
        "requirements.txt",
        "shared/__init__.py",
        "shared/config.py",
        "static/app.css",
        "templates/index.html",
    ]


def test_packaging_refuses_a_function_without_requirements(tmp_path):
    repo = make_repo(tmp_path, {"webhook": {"main.py": ""}})
    with pytest.raises(package.PackagingError, match=r"requirements\.txt is missing"):
        package.package_all(repo, tmp_path / "out")


def test_packaging_refuses_requirements_that_point_outside_the_folder(tmp_path):
    repo = make_repo(
        tmp_path, {"webhook": {"main.py": "", "requirements.txt": "-r ../../requirements.txt\n"}}
    )
    with pytest.raises(package.PackagingError, match="outside the packaged folder"):
        package.package_all(repo, tmp_path / "out")


def test_a_full_packaging_run_removes_folders_of_deleted_functions(tmp_path):
    repo = make_repo(tmp_path, {"media": {"main.py": "", "requirements.txt": ""}})
    stale = tmp_path / "out" / "gone"
    stale.mkdir(parents=True)
    package.package_all(repo, tmp_path / "out")
    assert not stale.exists()


def test_every_function_with_code_lists_its_requirements():
    for main in sorted((ROOT / "functions").glob("*/main.py")):
        assert (main.parent / "requirements.txt").is_file(), f"{main.parent.name} has no requirements.txt"


# ----- the real functions, each in its own venv -------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on: clients pointed at it fail fast and stay local."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dummy_env(names: set[str], port: int) -> dict[str, str]:
    """Values of the right type for `names`, plus emulator hosts that keep every client local."""
    settings = {f.name.upper(): f.default for f in fields(Settings)}
    special = {
        "GOOGLE_CLOUD_PROJECT": "demo-infra-probe",
        "MEDIA_BUCKET": "demo-infra-probe-media",
        "IAP_AUDIENCE": "/projects/123/global/backendServices/456",
        "OPERATOR_EMAILS": "operator@example.com",
        "WHATSAPP_API_URL": f"http://127.0.0.1:{port}/v27.0",
        "WAHA_URL": f"http://127.0.0.1:{port}",  # as var.waha sets it, when a WAHA server is there
        "WAHA_SESSION": "default",
        "LOG_EXECUTION_ID": "true",
        "REENGAGE_TEMPLATE": "probe_template:en_US",  # name:language, or the function refuses to start
    }
    env = {}
    for name in sorted(names):
        default = settings.get(name, "")
        if name in special:
            env[name] = special[name]
        elif isinstance(default, bool):
            env[name] = "false"
        elif default != "":
            env[name] = str(default)
        else:
            env[name] = f"probe-{name.lower().replace('_', '-')}"
    local = f"127.0.0.1:{port}"
    env.update(
        {
            "FIRESTORE_EMULATOR_HOST": local,
            "PUBSUB_EMULATOR_HOST": local,
            "STORAGE_EMULATOR_HOST": f"http://{local}",
            # google-auth must not look for the metadata server (169.254.169.254).
            "GCE_METADATA_HOST": local,
            "GCE_METADATA_IP": local,
            "NO_GCE_CHECK": "true",
            "GOOGLE_CLOUD_PROJECT": "demo-infra-probe",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(Path.home()),
        }
    )
    return env


def run_probe(interpreter: Path, package_dir: Path, target: str, env_names: set[str]) -> dict:
    done = subprocess.run(
        [str(interpreter), "-I", str(PROBE), str(package_dir), target],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_SECONDS,
        env=dummy_env(env_names, free_port()),
        cwd=package_dir,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, f"probe crashed:\n{done.stdout}\n{done.stderr[-4000:]}"
    return json.loads(lines[-1])


@pytest.mark.parametrize("name", package.discover_functions(ROOT))
def test_packaged_function_starts_with_only_its_requirements_and_terraform_env(
    name, tf, packaged, function_venv
):
    env_names = terraform_config.function_env_names(tf, name)
    result = run_probe(function_venv(name), packaged[name], name, env_names)

    assert result["ok"], f"{name} does not start from its package:\n{result.get('error')}"
    assert not result["blocked"], f"{name} tried to reach the network at start: {result['blocked']}"
    if result["shared_from"] is not None:
        assert Path(result["shared_from"]).parent == packaged[name], "shared/ came from outside the package"
    if name in WORKERS:
        # A CloudEvent function routes only POST; GET reaching the handler means it is a plain
        # HTTP function, and the Pub/Sub push body would arrive as a Flask request.
        assert result["get_status"] == 405, f"{name} must be decorated with @functions_framework.cloud_event"
    else:
        assert result["get_status"] < 500, f"{name} answered GET / with {result['get_status']}"


def test_the_probe_recognises_a_cloud_event_worker(packaged, function_venv):
    result = run_probe(function_venv("sample_worker"), packaged["sample_worker"], "sample_worker", set())
    assert result["ok"], result.get("error")
    assert result["get_status"] == 405
    # The venvs use the runtime's Python (3.12) when this machine has it.
    assert result["python"] == venvs.python_version(venvs.runtime_python())

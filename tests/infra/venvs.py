"""Throwaway virtualenvs for tools and packaged functions, reused while their inputs are unchanged.

A venv is rebuilt only when its key (interpreter + requirements) changes: the key is written to a
marker file as the very last step, so an interrupted build is never mistaken for a finished one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = ".ready"
PIP_TIMEOUT_SECONDS = 600


class VenvError(RuntimeError):
    """A venv could not be created or its requirements not installed; the message has pip's tail."""


def cache_root() -> Path:
    """Where function venvs live: outside the checkout so a fresh clone (CI) reuses them."""
    configured = os.environ.get("INFRA_VENV_CACHE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "whatsapp-assistant" / "infra-venvs"


def runtime_python() -> str:
    """An interpreter of the functions' runtime (python312), else the one running the tests."""
    candidates = [os.environ.get("FUNCTION_PYTHON", "")]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    candidates += ["/usr/bin/python3.12", "/usr/local/bin/python3.12", shutil.which("python3.12") or ""]
    for candidate in filter(None, candidates):
        if python_version(candidate) == "3.12":
            return candidate
    return sys.executable


def python_version(python: str) -> str | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def venv_key(python: str, requirements: str) -> str:
    digest = hashlib.sha256()
    digest.update((python_version(python) or python).encode())
    digest.update(b"\0")
    digest.update(requirements.encode())
    return digest.hexdigest()[:16]


def ensure_venv(path: Path, python: str, requirements: str) -> Path:
    """A venv at `path` with `requirements` (requirements.txt text) installed; its interpreter."""
    key = venv_key(python, requirements)
    interpreter = path / "bin" / "python"
    marker = path / MARKER
    if marker.is_file() and marker.read_text().strip() == key and interpreter.exists():
        return interpreter

    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    _run([python, "-m", "venv", str(path)], f"creating {path}")
    requirements_file = path / "requirements.txt"
    requirements_file.write_text(requirements)
    _run(
        [str(interpreter), "-m", "pip", "install", "--quiet", "--no-input", "-r", str(requirements_file)],
        f"installing into {path}",
    )
    marker.write_text(key)
    return interpreter


def _run(command: list[str], what: str) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise VenvError(f"{what}: timed out after {PIP_TIMEOUT_SECONDS}s") from exc
    if done.returncode != 0:
        # pip's config here lists local indexes that may be absent; drop those lines from the report.
        noise = "is ignored: it is neither a file nor a directory"
        tail = "\n".join(line for line in (done.stdout + done.stderr).splitlines() if noise not in line)
        raise VenvError(f"{what} failed ({done.returncode}):\n{tail[-4000:]}")

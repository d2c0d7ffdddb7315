"""Fixtures of the infrastructure checks: the parsed Terraform, packaged functions, and venvs.

The venvs (checkov's, and one per packaged function) are slow only the first time; whichever
test needs one first starts all of them at once, in parallel, so a cold run pays for the slowest
install rather than the sum.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from deploy import package
from tests.infra import terraform_config, venvs
from tests.infra.terraform_config import ROOT, TerraformConfig

CHECKOV_REQUIREMENTS = ROOT / "tests" / "infra" / "checkov-requirements.txt"
CHECKOV_VENV = ROOT / "build" / "checkov-venv"

# What the deploy-time buildpack adds when a requirements.txt forgets it; without it no function
# starts, so the probe venvs get it the same way.
FRAMEWORK = "functions-framework"

# The harness's own sample: a decorated CloudEvent function, as media and ai_reply must be.
SAMPLE_WORKER = """
import functions_framework

@functions_framework.cloud_event
def sample_worker(event):
    return None
"""


@pytest.fixture(scope="session")
def tf() -> TerraformConfig:
    return terraform_config.load()


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every function packaged as `make package` does, plus the harness's sample worker."""
    out = tmp_path_factory.mktemp("packaged")
    built = {p.name: p for p in package.package_all(ROOT, out)}
    sample = out / "sample_worker"
    sample.mkdir()
    (sample / "main.py").write_text(SAMPLE_WORKER)
    (sample / "requirements.txt").write_text(f"{FRAMEWORK}\n")
    return {**built, "sample_worker": sample}


def requirements_for(package_dir: Path) -> str:
    text = (package_dir / "requirements.txt").read_text(encoding="utf-8")
    listed = {
        line.split("#")[0].split(";")[0].split("[")[0].strip().split("=")[0].split(">")[0].split("<")[0]
        for line in text.splitlines()
    }
    if not {FRAMEWORK, FRAMEWORK.replace("-", "_")} & {name.strip().lower() for name in listed}:
        text += f"\n{FRAMEWORK}\n"
    return text


@pytest.fixture(scope="session")
def venv_builds(request: pytest.FixtureRequest) -> Iterator[dict[str, Future[Path]]]:
    """Futures of the venvs the selected tests need, all started together."""
    modules = {Path(str(item.fspath)).stem for item in request.session.items}
    jobs: dict[str, tuple[Path, str, str]] = {}
    if "test_checkov" in modules:
        jobs["checkov"] = (CHECKOV_VENV, sys.executable, CHECKOV_REQUIREMENTS.read_text(encoding="utf-8"))
    if "test_packaging" in modules:
        python = venvs.runtime_python()
        try:
            folders = request.getfixturevalue("packaged")
        except package.PackagingError:
            folders = {}  # the packaging tests report it; checkov still runs
        for name, folder in folders.items():
            requirements = requirements_for(folder)
            path = venvs.cache_root() / f"{name}-{venvs.venv_key(python, requirements)}"
            jobs[f"function:{name}"] = (path, python, requirements)

    with ThreadPoolExecutor(max_workers=4) as pool:
        yield {key: pool.submit(venvs.ensure_venv, *job) for key, job in jobs.items()}


@pytest.fixture(scope="session")
def checkov(venv_builds: dict[str, Future[Path]]) -> list[str]:
    return [str(venv_builds["checkov"].result()), "-m", "checkov.main"]


@pytest.fixture(scope="session")
def function_venv(venv_builds: dict[str, Future[Path]]):
    """`function_venv(name)`: that function's venv interpreter; fails its test if pip failed."""

    def lookup(name: str) -> Path:
        try:
            return venv_builds[f"function:{name}"].result()
        except venvs.VenvError as exc:
            pytest.fail(f"{name}: its requirements.txt does not install:\n{exc}")

    return lookup

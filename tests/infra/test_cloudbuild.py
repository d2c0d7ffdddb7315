"""cloudbuild.yaml runs the pipeline the deploy guide describes, in the order it must run."""

from __future__ import annotations

import re

import pytest

from tests.infra.terraform_config import ROOT

# PyYAML is not a project dependency yet (requirements-dev.txt should list it); skip, loudly.
yaml = pytest.importorskip(
    "yaml", reason="PyYAML is needed to read cloudbuild.yaml; add it to requirements-dev.txt"
)

CONFIG = ROOT / "cloudbuild.yaml"


@pytest.fixture(scope="module")
def build() -> dict:
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


def script(step: dict) -> str:
    return " ".join(str(a) for a in step.get("args", []))


def step_index(build: dict, needle: str) -> int:
    for index, step in enumerate(build["steps"]):
        if needle in f"{step.get('entrypoint', '')} {script(step)}":
            return index
    raise AssertionError(f"no step runs {needle!r}")


def test_steps_lint_test_package_then_plan_and_apply_in_that_order(build):
    order = [
        step_index(build, "ruff check"),
        step_index(build, "pytest"),
        step_index(build, "make package"),
        step_index(build, "init -input=false"),
        step_index(build, "plan -input=false"),
        step_index(build, "terraform apply"),
    ]
    assert order == sorted(order)
    assert len(set(order[:2])) == 1, "lint and tests share the step that installs the venv"


def test_tests_run_in_an_image_with_the_emulators(build):
    test_step = build["steps"][step_index(build, "pytest")]
    assert "emulators" in test_step["name"]


def test_terraform_state_bucket_and_project_come_from_substitutions(build):
    init = script(build["steps"][step_index(build, "init -input=false")])
    assert "-backend-config=bucket=${_TF_STATE_BUCKET}" in init
    plan = script(build["steps"][step_index(build, "plan -input=false")])
    assert "-var=project_id=${_PROJECT_ID}" in plan and "-var=region=${_REGION}" in plan
    assert {"_PROJECT_ID", "_REGION", "_TF_STATE_BUCKET"} <= set(build["substitutions"])


def test_apply_uses_the_reviewed_plan_and_only_on_the_deploy_branch(build):
    apply = script(build["steps"][step_index(build, "terraform apply")])
    assert "apply -input=false tfplan" in apply
    assert "${BRANCH_NAME}" in apply and "${_DEPLOY_BRANCH}" in apply


def test_logs_go_to_cloud_logging_so_a_custom_service_account_can_run_it(build):
    assert build["options"]["logging"] == "CLOUD_LOGGING_ONLY"


def test_every_substitution_used_is_declared(build):
    used = set(re.findall(r"\$\{(_[A-Z0-9_]+)\}", CONFIG.read_text(encoding="utf-8")))
    assert used <= set(build["substitutions"])


def test_the_test_step_installs_debians_chromium_before_it_runs_the_tests(build):
    """The browser tests look for /usr/bin/chromium; Playwright's own browser download is not used."""
    lines = _test_step_lines(build)
    install = next(i for i, line in enumerate(lines) if line.startswith("apt-get install"))
    assert "chromium" in lines[install].split()
    assert lines.index(".venv/bin/python -m pytest -q") > install
    assert not [line for line in lines if "playwright install" in line]
    assert "CI=true" in build["options"]["env"], "without CI the browser tests skip instead of failing"


def test_the_test_step_image_runs_python_3_13_so_pydub_gets_audioop_lts_there(build):
    """The emulators image is Debian trixie: its python3 is 3.13, where audioop is gone."""
    lines = _test_step_lines(build)
    install = next(line for line in lines if line.startswith("apt-get install"))
    assert "python3" in install.split(), "the venv is made from the image's own python3"
    requirements = _requirements(ROOT / "requirements-dev.txt")
    assert "pydub" in requirements
    marker = requirements.get("audioop-lts")
    assert marker is not None, "pydub cannot be imported on 3.13 without audioop-lts"
    assert re.fullmatch(r'==[0-9.]+; python_version >= "3\.13"', marker), marker


def _test_step_lines(build: dict) -> list[str]:
    step = build["steps"][step_index(build, "pytest")]
    return [line.strip() for line in step["args"][-1].splitlines() if line.strip()]


def _requirements(path) -> dict[str, str]:
    """name -> the rest of its line (version pin and marker), following -r includes."""
    found: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found.update(_requirements(path.parent / line.removeprefix("-r ").strip()))
            continue
        name = re.match(r"[A-Za-z0-9_.-]+", line)
        assert name, line
        found[name[0].lower()] = line[name.end() :].strip()
    return found

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

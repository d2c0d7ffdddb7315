"""The whole system, as `make dev` runs it, on the test session's emulators and free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from local.stack import LocalStack, StackOptions
from tests.support.cloud import ARTIFACTS, PROJECT, Emulators
from tests.support.query_log import child_env
from tests.support.system import E2E_ENV, System


@pytest.fixture(scope="session")
def stack(emulators: Emulators) -> Iterator[LocalStack]:
    options = StackOptions.on_free_ports(
        project=PROJECT,
        user_env={**emulators.env, **E2E_ENV, **child_env()},
        log_dir=ARTIFACTS / "logs" / "e2e",
        # As many deliveries as production's subscriptions make: a job waiting out a dead
        # instance's lease needs them (tests/infra/test_job_horizon.py).
        max_delivery_attempts=10,
        resume_sweep_s=1.0,  # with HUMAN_REPLY_PAUSE_MINUTES shortened in E2E_ENV
    )
    with LocalStack(options) as running:
        yield running


@pytest.fixture
def system(stack: LocalStack, firestore_db) -> Iterator[System]:
    stack.servers["simulator"].state.reset()
    requests.post(stack.servers["offline_model"].url + "/_fake/reset", timeout=5)
    yield System(stack, firestore_db)

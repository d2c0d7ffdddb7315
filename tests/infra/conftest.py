"""Fixtures of the infrastructure checks: the parsed Terraform configuration."""

from __future__ import annotations

import pytest

from tests.infra import terraform_config
from tests.infra.terraform_config import TerraformConfig


@pytest.fixture(scope="session")
def tf() -> TerraformConfig:
    return terraform_config.load()

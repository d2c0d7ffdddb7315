"""A reply job always ends inside the ai_reply function's timeout: the settings' defaults, held
against Terraform's timeout, and the backoff the pinned google-genai really sleeps."""

from __future__ import annotations

import random
import runpy

import pytest
import tenacity
from google.genai import _api_client

from shared.ai_reply import budget
from shared.clients import make_genai_client
from shared.config import ConfigError, Settings
from tests.infra.terraform_config import ROOT

AI_REPLY_ENV = 'var.function_sizing["ai_reply"].timeout_seconds'


def ai_reply_timeout(tf) -> int:
    return int(tf.default("function_sizing")["ai_reply"]["timeout_seconds"])


def test_the_default_settings_fit_one_reply_job_inside_terraforms_ai_reply_timeout(tf) -> None:
    defaults = Settings()
    worst = budget.job_seconds(defaults)
    assert worst <= ai_reply_timeout(tf), f"a reply job could take {worst:.0f} s"
    assert defaults.reply_job_timeout_seconds == ai_reply_timeout(tf)
    budget.check_reply_budget(defaults)  # what ai_reply checks at start


def test_terraform_hands_the_function_its_own_timeout_and_a_lease_that_outlives_it(tf) -> None:
    env = tf.locals["function_env"]["ai_reply"]
    assert env["REPLY_JOB_TIMEOUT_SECONDS"] == f"${{tostring({AI_REPLY_ENV})}}"
    assert env["REPLY_LEASE_SECONDS"] == "${tostring(local.reply_lease_seconds)}"
    assert tf.locals["reply_lease_seconds"] == f"${{{AI_REPLY_ENV} + 30}}"


def test_the_model_call_of_the_defaults_alone_would_not_fit_with_the_old_retries() -> None:
    """The reason for the numbers: 4 attempts of 60 s and more were over the 300 s timeout."""
    old = Settings(gemini_max_attempts=4, gemini_timeout_seconds=60.0)
    with pytest.raises(ConfigError, match="over REPLY_JOB_TIMEOUT_SECONDS=300"):
        budget.check_reply_budget(old)


def test_the_sdk_never_sleeps_longer_between_attempts_than_the_budget_counts() -> None:
    settings = Settings()
    client = make_genai_client(Settings(gemini_api_key="k"))
    options = client._api_client._http_options.retry_options
    assert options.attempts == settings.gemini_max_attempts
    retry = _api_client.retry_args(options)
    assert retry["stop"].max_attempt_number == settings.gemini_max_attempts
    random.seed(7)
    worst = []
    for attempt in range(1, settings.gemini_max_attempts):
        state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        state.attempt_number = attempt
        worst.append(max(retry["wait"](state) for _ in range(2000)))
    assert sum(worst) <= budget.backoff_worst_seconds(settings.gemini_max_attempts)
    assert sum(worst) > budget.backoff_worst_seconds(settings.gemini_max_attempts) - 0.1  # the bound is tight
    assert client._api_client._http_options.timeout == settings.gemini_timeout_seconds * 1000


def test_ai_reply_refuses_to_start_when_its_settings_outlive_the_function(monkeypatch) -> None:
    for name, value in {
        "GOOGLE_CLOUD_PROJECT": "demo-budget",
        "WHATSAPP_API_TOKEN": "t",
        "GEMINI_API_KEY": "k",
        "GEMINI_TIMEOUT_SECONDS": "120",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=r"GEMINI_MAX_ATTEMPTS=3 x GEMINI_TIMEOUT_SECONDS=120"):
        runpy.run_path(str(ROOT / "functions" / "ai_reply" / "main.py"))


def test_a_lease_shorter_than_the_job_may_run_is_refused() -> None:
    with pytest.raises(ConfigError, match="REPLY_LEASE_SECONDS=200 is shorter"):
        budget.check_reply_budget(Settings(reply_lease_seconds=200))

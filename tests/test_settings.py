"""Settings: their defaults follow the services' current guidance, and bad values stop at start."""

from __future__ import annotations

import re

import pytest

from local import whatsapp_simulator
from shared.config import DEFAULT_WHATSAPP_API_URL, ConfigError, Settings


def test_the_default_graph_api_version_is_the_current_one_v27() -> None:
    assert Settings().whatsapp_api_url == "https://graph.facebook.com/v27.0"


def test_whatsapp_api_url_still_overrides_the_default_version() -> None:
    settings = Settings.from_env({"WHATSAPP_API_URL": "https://graph.facebook.com/v26.0"})
    assert settings.whatsapp_api_url == "https://graph.facebook.com/v26.0"


def test_the_simulator_speaks_the_default_version_unless_told_otherwise() -> None:
    version = re.fullmatch(r"https://graph\.facebook\.com/(v\d+\.\d+)", DEFAULT_WHATSAPP_API_URL)
    assert version is not None
    assert version[1] == whatsapp_simulator.DEFAULT_API_VERSION


def test_a_setting_of_the_wrong_type_is_refused_with_its_name() -> None:
    with pytest.raises(ConfigError, match="GEMINI_MAX_ATTEMPTS='many' is not a valid int"):
        Settings.from_env({"GEMINI_MAX_ATTEMPTS": "many"})


def test_replies_think_at_low_by_default() -> None:
    assert Settings().gemini_thinking_level == "low"
    assert Settings.from_env({"GEMINI_THINKING_LEVEL": "HIGH"}).gemini_thinking_level == "HIGH"


def test_minimal_thinking_is_refused_at_start_with_the_reason() -> None:
    with pytest.raises(ConfigError, match=r"GEMINI_THINKING_LEVEL='minimal' .* refuses MINIMAL"):
        Settings.from_env({"GEMINI_THINKING_LEVEL": "minimal"})
    with pytest.raises(ConfigError, match="is not one of low, medium, high"):
        Settings.from_env({"GEMINI_THINKING_LEVEL": "lots"})


def test_the_output_cap_must_leave_room_for_an_answer() -> None:
    assert Settings().gemini_max_output_tokens == 8192
    with pytest.raises(ConfigError, match="GEMINI_MAX_OUTPUT_TOKENS=0 must be above 0"):
        Settings.from_env({"GEMINI_MAX_OUTPUT_TOKENS": "0"})

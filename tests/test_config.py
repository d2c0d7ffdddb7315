"""Settings: read once from the environment, typed, and a clear error for what cannot be used."""

from __future__ import annotations

import re

import pytest

from local import simulator
from shared.config import DEFAULT_WHATSAPP_API_URL, SETTING_NAMES, ConfigError, Settings


def test_every_setting_has_its_default_when_the_environment_is_empty() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.media_topic == "whatsapp-media" and settings.retention_days == 365


def test_values_are_read_from_the_upper_cased_names_and_converted_to_their_type() -> None:
    settings = Settings.from_env(
        {"REPLY_DEBOUNCE_MS": "250", "GEMINI_TIMEOUT_SECONDS": "12.5", "GOOGLE_GENAI_USE_VERTEXAI": "yes"}
    )
    assert settings.reply_debounce_ms == 250
    assert settings.gemini_timeout_seconds == 12.5
    assert settings.google_genai_use_vertexai is True


@pytest.mark.parametrize(
    ("name", "raw"), [("REPLY_DEBOUNCE_MS", "soon"), ("GOOGLE_GENAI_USE_VERTEXAI", "maybe")]
)
def test_a_value_of_the_wrong_type_names_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=f"{name}='{raw}' is not a valid"):
        Settings.from_env({name: raw})


def test_an_empty_value_counts_as_unset() -> None:
    assert Settings.from_env({"MEDIA_TOPIC": ""}).media_topic == "whatsapp-media"


def test_the_original_products_project_variable_is_still_accepted() -> None:
    assert Settings.from_env({"GOOGLE_CLOUD_PROJECT_ID": "old"}).google_cloud_project == "old"
    both = {"GOOGLE_CLOUD_PROJECT_ID": "old", "GOOGLE_CLOUD_PROJECT": "new"}
    assert Settings.from_env(both).google_cloud_project == "new"


def test_require_names_every_missing_setting_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"WHATSAPP_APP_SECRET": "s"}).require(
            "whatsapp_app_secret", "webhook_verify_token", "google_cloud_project"
        )
    assert str(raised.value) == "missing required setting(s): WEBHOOK_VERIFY_TOKEN, GOOGLE_CLOUD_PROJECT"


def test_the_model_needs_a_key_an_endpoint_or_vertex() -> None:
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        Settings().require_model()
    for env in (
        {"GEMINI_API_KEY": "k"},
        {"GEMINI_BASE_URL": "http://x"},
        {"GOOGLE_GENAI_USE_VERTEXAI": "true"},
    ):
        Settings.from_env(env).require_model()


def test_secrets_never_appear_in_the_settings_repr() -> None:
    text = repr(
        Settings(whatsapp_api_token="tok-123", whatsapp_app_secret="sec-456", gemini_api_key="key-789")
    )
    assert not any(secret in text for secret in ("tok-123", "sec-456", "key-789"))


def test_operator_allowlist_is_lower_cased_and_ignores_blanks() -> None:
    settings = Settings(operator_emails=" Ana@Example.com, ,bo@example.com ")
    assert settings.operator_allowlist == frozenset({"ana@example.com", "bo@example.com"})


def test_setting_names_are_the_environment_names_of_every_field() -> None:
    assert "WHATSAPP_API_URL" in SETTING_NAMES and "RETENTION_DAYS" in SETTING_NAMES
    assert all(name.isupper() for name in SETTING_NAMES)


def test_the_default_graph_api_version_is_the_current_one_v27() -> None:
    assert Settings().whatsapp_api_url == "https://graph.facebook.com/v27.0"


def test_whatsapp_api_url_still_overrides_the_default_version() -> None:
    settings = Settings.from_env({"WHATSAPP_API_URL": "https://graph.facebook.com/v26.0"})
    assert settings.whatsapp_api_url == "https://graph.facebook.com/v26.0"


def test_the_simulator_speaks_the_default_version_unless_told_otherwise() -> None:
    version = re.fullmatch(r"https://graph\.facebook\.com/(v\d+\.\d+)", DEFAULT_WHATSAPP_API_URL)
    assert version is not None
    assert version[1] == simulator.DEFAULT_API_VERSION


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


# -- WAHA sessions ----------------------------------------------------------------------------------


def test_waha_sessions_map_to_business_number_ids_of_their_own() -> None:
    settings = Settings.from_env(
        {
            "WAHA_URL": "http://waha:3000",
            "WAHA_SESSION": "default, shop_2=bakery-shop",
            "WAHA_ALLOW_UNSIGNED": "1",
        }
    )
    assert settings.waha_sessions == {"default": "waha-default", "shop_2": "bakery-shop"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("a=12345", "not digits only"),
        ("a=x_y", "letters, digits and '-'"),
        ("a,a", "twice"),
        ("a=x,b=x", "twice"),
        ("bad name", "not a WAHA session name"),
    ],
)
def test_a_malformed_waha_session_list_stops_the_instance_with_the_reason(raw, reason) -> None:
    with pytest.raises(ConfigError, match=reason):
        Settings.from_env({"WAHA_URL": "http://waha:3000", "WAHA_SESSION": raw})


def test_waha_sessions_need_the_server_address() -> None:
    with pytest.raises(ConfigError, match="WAHA_URL"):
        Settings.from_env({"WAHA_SESSION": "default"})


def test_waha_sessions_need_a_webhook_key_or_an_explicit_unsigned_mode() -> None:
    env = {"WAHA_URL": "http://waha:3000", "WAHA_SESSION": "default"}
    with pytest.raises(ConfigError, match=r"WAHA_WEBHOOK_HMAC_KEY.*WAHA_ALLOW_UNSIGNED=true"):
        Settings.from_env(env).require_waha_signing()
    Settings.from_env({**env, "WAHA_WEBHOOK_HMAC_KEY": "k"}).require_waha_signing()
    Settings.from_env({**env, "WAHA_ALLOW_UNSIGNED": "true"}).require_waha_signing()
    Settings.from_env({}).require_waha_signing()  # no WAHA, nothing to sign


def test_functions_that_call_waha_need_its_api_key() -> None:
    env = {"WAHA_URL": "http://waha:3000", "WAHA_SESSION": "default"}
    with pytest.raises(ConfigError, match="WAHA_API_KEY"):
        Settings.from_env(env).require_waha_api_key()
    Settings.from_env({**env, "WAHA_API_KEY": "k"}).require_waha_api_key()


@pytest.mark.parametrize("url", ["waha:3000", "ftp://waha", "http://user:pw@waha:3000", "http://waha:3000?x"])
def test_a_waha_url_that_is_not_an_http_address_stops_the_instance(url) -> None:
    with pytest.raises(ConfigError, match="WAHA_URL"):
        Settings.from_env({"WAHA_URL": url, "WAHA_SESSION": "default"})
    Settings.from_env({"WAHA_URL": "https://waha.example.com/", "WAHA_SESSION": "default"})

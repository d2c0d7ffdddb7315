"""The simulator's settings: one frozen dataclass, read from the environment or changed at run time."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local.simulator.wire import Json

DEFAULT_API_VERSION = "v27.0"
DEFAULT_PHONE_NUMBER_ID = "100000000000001"
DEFAULT_DISPLAY_PHONE_NUMBER = "15550001234"
DEFAULT_WABA_ID = "200000000000001"
# Well-known local-only values, so a bare `python -m local.simulator` works with the stack.
DEFAULT_APP_SECRET = "local-app-secret"  # noqa: S105
DEFAULT_ACCESS_TOKEN = "local-access-token"  # noqa: S105
DEFAULT_VERIFY_TOKEN = "local-verify-token"  # noqa: S105
DEFAULT_USER_WA_ID = "15551234567"
DEFAULT_USER_NAME = "Test User"
DEFAULT_PORT = 8090
# WAHA mode (local/simulator/waha.py): the session, its phone and its keys.
DEFAULT_WAHA_SESSION = "default"
DEFAULT_WAHA_PHONE_NUMBER = "15550009999"
DEFAULT_WAHA_API_KEY = "local-waha-api-key"
DEFAULT_WAHA_HMAC_KEY = "local-waha-hmac-key"


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that shapes the simulator; ``from_env`` reads the same names the stack sets."""

    webhook_url: str | None = None
    app_secret: str = DEFAULT_APP_SECRET
    access_token: str = DEFAULT_ACCESS_TOKEN
    verify_token: str = DEFAULT_VERIFY_TOKEN
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER
    # More business numbers of the same account the business may send from (a sales and a
    # support line); customers write to `phone_number_id` unless told otherwise.
    extra_phone_number_ids: tuple[str, ...] = ()
    waba_id: str = DEFAULT_WABA_ID
    business_name: str = "Assistant"
    status_delay_seconds: float = 0.2
    auto_read: bool = True
    media_url_ttl_seconds: float = 300.0
    # Waits before each retry of a webhook the receiver did not accept with 2xx: immediately, then backoff.
    webhook_retry_delays: tuple[float, ...] = (0.0, 1.0, 3.0, 5.0)
    webhook_timeout_seconds: float = 10.0
    enforce_service_window: bool = False
    # Message types a send to a BSUID (`recipient`) is refused for with 131062, as Meta refuses
    # some authentication templates; empty: every kind is accepted.
    refuse_user_id_types: tuple[str, ...] = ()
    escape_non_ascii: bool = True
    include_pricing: bool = True
    # Service messages (free-form, inside the window) are billed since 1 October 2026; False
    # reports them as before, free_customer_service.
    bill_service_messages: bool = True
    # WAHA mode: a second business number, served as a WAHA session, when its webhook url is set.
    waha_webhook_url: str | None = None
    waha_session: str = DEFAULT_WAHA_SESSION
    waha_phone_number: str = DEFAULT_WAHA_PHONE_NUMBER
    waha_api_key: str = DEFAULT_WAHA_API_KEY
    waha_hmac_key: str = DEFAULT_WAHA_HMAC_KEY  # empty: webhooks go out unsigned

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SimulatorConfig:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, variable in _ENV_NAMES.items():
            raw = env.get(variable)
            if raw:
                values[name] = _parse_setting(name, raw)
        return cls(**values)

    @property
    def phone_number_ids(self) -> tuple[str, ...]:
        return (self.phone_number_id, *self.extra_phone_number_ids)

    def updated(self, changes: Mapping[str, Any]) -> SimulatorConfig:
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        parsed = {k: _parse_setting(k, v) if isinstance(v, str) else v for k, v in changes.items()}
        if "webhook_retry_delays" in parsed:
            parsed["webhook_retry_delays"] = tuple(float(d) for d in parsed["webhook_retry_delays"])
        for name in ("extra_phone_number_ids", "refuse_user_id_types"):
            if name in parsed:
                parsed[name] = tuple(str(n) for n in parsed[name])
        return dataclasses.replace(self, **parsed)

    def public(self) -> Json:
        data = dataclasses.asdict(self)
        data["webhook_retry_delays"] = list(self.webhook_retry_delays)
        data["extra_phone_number_ids"] = list(self.extra_phone_number_ids)
        data["refuse_user_id_types"] = list(self.refuse_user_id_types)
        return data


_ENV_NAMES = {
    "webhook_url": "SIMULATOR_WEBHOOK_URL",
    "app_secret": "WHATSAPP_APP_SECRET",
    "access_token": "WHATSAPP_API_TOKEN",
    "verify_token": "WEBHOOK_VERIFY_TOKEN",
    "phone_number_id": "SIMULATOR_PHONE_NUMBER_ID",
    "display_phone_number": "SIMULATOR_DISPLAY_PHONE_NUMBER",
    "extra_phone_number_ids": "SIMULATOR_EXTRA_PHONE_NUMBER_IDS",
    "waba_id": "SIMULATOR_WABA_ID",
    "status_delay_seconds": "SIMULATOR_STATUS_DELAY_SECONDS",
    "auto_read": "SIMULATOR_AUTO_READ",
    "media_url_ttl_seconds": "SIMULATOR_MEDIA_URL_TTL_SECONDS",
    "enforce_service_window": "SIMULATOR_ENFORCE_SERVICE_WINDOW",
    "waha_webhook_url": "SIMULATOR_WAHA_WEBHOOK_URL",
    "waha_session": "SIMULATOR_WAHA_SESSION",
    "waha_api_key": "WAHA_API_KEY",
    "waha_hmac_key": "WAHA_WEBHOOK_HMAC_KEY",
}


def _parse_setting(name: str, raw: str) -> Any:
    # With postponed annotations the field types are strings; these are the only kinds a setting has.
    kind = {f.name: f.type for f in dataclasses.fields(SimulatorConfig)}[name]
    if kind == "bool":
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind == "float":
        return float(raw)
    if kind == "tuple[float, ...]":
        return tuple(float(part) for part in raw.split(",") if part.strip())
    if kind == "tuple[str, ...]":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw

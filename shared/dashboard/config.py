"""How the dashboard authenticates operators, decided once at start from the settings.

Production sits behind Identity-Aware Proxy (IAP_AUDIENCE set): every request carries IAP's
signed header and the operator's email must be on OPERATOR_EMAILS. Locally there is no IAP, so a
password form (DASHBOARD_PASSWORD) sets a cookie signed with DASHBOARD_SESSION_SECRET. A
dashboard with neither would be open to anyone who finds its URL, so it refuses to start.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.config import ConfigError, Settings
from shared.store.business_numbers import Defaults
from shared.store.jobs import JobKind

IAP_ISSUER = "https://cloud.google.com/iap"
MIN_SESSION_SECRET_CHARS = 16


class AuthMode(StrEnum):
    IAP = "iap"
    PASSWORD = "password"  # noqa: S105 (the name of a mode, not a password)


@dataclass(frozen=True)
class DashboardConfig:
    auth_mode: AuthMode
    project: str
    iap_audience: str
    iap_jwks_url: str
    operator_emails: frozenset[str]
    password: str
    session_secret: str
    media_bucket: str
    reply_topic: str
    media_topic: str
    number_defaults: Defaults  # what a business number without settings of its own uses
    human_reply_pause_minutes: float = 60.0  # an operator's reply pauses the assistant this long
    waba_id: str = ""  # WHATSAPP_BUSINESS_ACCOUNT_ID: whose templates "Sync" fetches

    @property
    def job_topics(self) -> dict[JobKind, str]:
        return {JobKind.MEDIA: self.media_topic, JobKind.REPLY: self.reply_topic}

    def __repr__(self) -> str:  # never let the password or the secret reach a log line
        return f"DashboardConfig(auth_mode={self.auth_mode.value!r}, iap_audience={self.iap_audience!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> DashboardConfig:
        """Raise ConfigError (naming the variables) when no way to authenticate is configured."""
        if settings.iap_audience:
            mode = AuthMode.IAP
            if not settings.operator_allowlist:
                raise ConfigError("IAP_AUDIENCE is set but OPERATOR_EMAILS is empty: nobody could operate")
        elif settings.dashboard_password and settings.dashboard_session_secret:
            mode = AuthMode.PASSWORD
            if len(settings.dashboard_session_secret) < MIN_SESSION_SECRET_CHARS:
                raise ConfigError(
                    f"DASHBOARD_SESSION_SECRET must be at least {MIN_SESSION_SECRET_CHARS} characters"
                )
        else:
            raise ConfigError(
                "the dashboard needs IAP_AUDIENCE (production) or DASHBOARD_PASSWORD and "
                "DASHBOARD_SESSION_SECRET (local login); refusing to start without authentication"
            )
        return cls(
            auth_mode=mode,
            project=settings.google_cloud_project,
            iap_audience=settings.iap_audience,
            iap_jwks_url=settings.iap_jwks_url,  # tests point it at keys of their own
            operator_emails=settings.operator_allowlist,
            password=settings.dashboard_password,
            session_secret=settings.dashboard_session_secret,
            media_bucket=settings.media_bucket,
            reply_topic=settings.reply_topic,
            media_topic=settings.media_topic,
            waba_id=settings.whatsapp_business_account_id,
            number_defaults=Defaults.from_settings(settings),
            human_reply_pause_minutes=settings.human_reply_pause_minutes,
        )

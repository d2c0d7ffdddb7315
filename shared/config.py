"""Settings read from the environment once per instance.

Every name a function reads is declared in ``SETTINGS`` below, with its default (or none when it
is required) and what it is for; the infrastructure tests check Terraform against this table, so
it is the one place a new setting is added. Each function's main.py reads them once
(``Settings.from_env().require(...)``) at import time, so a missing secret stops the instance at
start with a message that names it, instead of failing the first customer's message, and hands
them down; nothing else reads the environment.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from shared.whatsapp.templates import TemplateError, parse_template_spec

DEFAULT_WHATSAPP_API_URL = "https://graph.facebook.com/v27.0"  # the current version since November 2026
DEFAULT_GEMINI_MODEL = "gemini-3.8-flash"
# Scoped to the business, as Meta's terms require since 15 January 2026 (general-purpose AI
# assistants are barred from the WhatsApp Business Platform; see README "Scoped to the business").
# {business} is the number's business name. The rules of the answer's form (JSON envelope,
# knowledge, choices, handoff) are added to every instruction by shared/ai_reply/instruction.py.
DEFAULT_SYSTEM_INSTRUCTION = (
    "You are the WhatsApp assistant of {business}. You help its customers with questions about "
    "{business}: its products and services, prices, opening hours, orders, bookings, delivery and "
    "policies, from what the business told you and the knowledge passages given with a message.\n"
    "- Only help with {business}. Decline anything else (general questions, homework, code, "
    "other companies, news, opinions) in one short, friendly sentence and offer help with "
    "{business} instead.\n"
    "- Never make up facts about the business (prices, times, stock, policies): when the "
    "passages do not hold the answer, say you don't know and offer to pass the question to a "
    "person from the team.\n"
    "- You are an automated assistant: never claim to be a person, and say so when asked.\n"
    "- Do not give medical, legal or financial advice, and do not make promises (refunds, "
    "exceptions, delivery dates) the passages do not state.\n"
    "- Always answer in the language the customer writes in. Keep answers short and friendly, "
    "the way WhatsApp messages read: a few sentences, plain text, no Markdown headings or tables.\n"
    "- If you cannot open a file the customer sent, say so and ask them to send it again."
)
# How a business is named when neither BUSINESS_NAME nor the number's settings name it.
UNNAMED_BUSINESS = "this business"
DEFAULT_FALLBACK_REPLY = (
    "Sorry, I can't answer that one. Could you rephrase it, or ask something else? "
    "A person from our team can also help."
)
DEFAULT_HANDOFF_MESSAGE = (
    "Thank you for your patience. I have asked a person from our team to take over this "
    "conversation; they will answer you here as soon as they can."
)


# Thinking levels gemini-3.8-flash accepts (it refuses MINIMAL and thinks at MEDIUM when told
# nothing, which costs seconds a customer waits for); LOW keeps replies quick.
THINKING_LEVELS = ("low", "medium", "high")


class ConfigError(RuntimeError):
    """A required setting is missing or a value cannot be used; the message names the variable."""


def _env_name(setting: str) -> str:
    return setting.upper()


@dataclass(frozen=True)
class Settings:
    """All settings of the system; each field is read from the upper-cased environment variable."""

    # Google Cloud resources
    google_cloud_project: str = ""
    media_topic: str = "whatsapp-media"
    reply_topic: str = "whatsapp-reply"
    media_bucket: str = ""
    # WhatsApp Cloud API
    whatsapp_api_url: str = DEFAULT_WHATSAPP_API_URL
    whatsapp_api_token: str = field(default="", repr=False)
    whatsapp_app_secret: str = field(default="", repr=False)
    webhook_verify_token: str = field(default="", repr=False)
    webhook_max_body_bytes: int = 3 * 1024 * 1024 + 64 * 1024  # Meta's 3 MB cap plus headroom
    # The WhatsApp Business Account whose message templates the dashboard syncs
    whatsapp_business_account_id: str = ""
    # The approved template ("name:language") sent once when the assistant has an answer due and
    # the 24-hour window is closed; empty leaves the conversation flagged for an operator.
    reengage_template: str = ""
    # WAHA, the self-hosted WhatsApp HTTP API (docs/providers.md): business numbers it serves are
    # named by WAHA_SESSION, `session[=business_number_id]` separated by commas (see waha_sessions).
    waha_url: str = ""
    waha_api_key: str = field(default="", repr=False)
    waha_session: str = ""
    waha_webhook_hmac_key: str = field(default="", repr=False)
    waha_allow_unsigned: bool = False  # only on a private network: WAHA's webhooks then prove nothing
    # Gemini
    gemini_api_key: str = field(default="", repr=False)
    gemini_model: str = DEFAULT_GEMINI_MODEL
    gemini_base_url: str = ""
    google_genai_use_vertexai: bool = False
    google_cloud_location: str = "global"
    gemini_thinking_level: str = "low"  # one of THINKING_LEVELS
    # One answer fits one WhatsApp message (4,096 UTF-16 units: about 1,000 tokens of English,
    # up to 4,000 in scripts of about one character per token) plus its thinking and transcripts.
    gemini_max_output_tokens: int = 8192
    # Per attempt; attempts x timeout plus the backoff between them is the model's share of a
    # reply job (shared/ai_reply/budget.py holds the whole job inside REPLY_JOB_TIMEOUT_SECONDS).
    gemini_timeout_seconds: float = 60.0
    gemini_max_attempts: int = 3
    gemini_files_timeout_seconds: float = 30.0  # Files API uploads of one reply, until usable (ACTIVE)
    # The voice of every business number an operator has not given one of its own on the
    # dashboard's Settings page (shared/store/business_numbers.py).
    business_name: str = ""
    system_instruction: str = DEFAULT_SYSTEM_INSTRUCTION
    fallback_reply: str = DEFAULT_FALLBACK_REPLY
    # Sent once when the assistant hands a conversation over to a person (editable per number).
    handoff_message: str = DEFAULT_HANDOFF_MESSAGE
    # Knowledge base: the business's documents as passages, embedded and searched per burst
    embedding_model: str = "gemini-embedding-001"
    embedding_dimensions: int = 768  # gemini-embedding-001 truncates its 3,072 (Matryoshka)
    knowledge_max_passages: int = 4  # the closest passages a reply may be given
    # Cosine similarity a passage needs to be given to the model (gemini-embedding-001 puts
    # unrelated texts around 0.5 and a passage that answers the question well above 0.65).
    knowledge_min_similarity: float = 0.6
    knowledge_max_upload_bytes: int = 10 * 1024 * 1024
    # Reply loop
    reply_debounce_ms: int = 0
    reply_history_turns: int = 20
    reply_history_max_chars: int = 12_000
    reply_job_timeout_seconds: int = (
        300  # the ai_reply function's timeout (Terraform sets it from its sizing)
    )
    reply_lease_seconds: int = 300  # at least as long as one job may run
    # A human reply (the owner from the WhatsApp Business app, or an operator from the dashboard)
    # pauses the assistant in that conversation this long; it then resumes by itself and answers
    # what is still waiting (0: a human reply pauses nothing).
    human_reply_pause_minutes: float = 60.0
    reply_max_job_attempts: int = 3  # deliveries of one burst's job before its messages are marked failed
    # A job older than this is settled as failed instead of done. It must outlast every delivery
    # Pub/Sub may still make (Terraform sets it from the subscriptions' attempts, timeouts and
    # backoff; shared/bus.py redelivery_horizon_seconds), so it only ever stops a job that was lost.
    job_max_age_seconds: int = 3 * 3600
    # Media
    media_job_timeout_seconds: int = 300  # the media function's timeout (Terraform sets it from its sizing)
    image_max_side: int = 1600
    # Dashboard
    dashboard_password: str = field(default="", repr=False)
    dashboard_session_secret: str = field(default="", repr=False)
    iap_audience: str = ""
    iap_jwks_url: str = "https://www.gstatic.com/iap/verify/public_key-jwk"  # IAP's signing keys
    operator_emails: str = ""
    # Retention: documents carry `expire_at` for Firestore's TTL policy (0 keeps them forever)
    retention_days: int = 365
    # Opt-out (shared/ai_reply/keywords.py): comma-separated words replacing the built-in lists,
    # and texts replacing the built-in confirmations in every language (empty = built-in)
    opt_out_keywords: str = ""
    opt_in_keywords: str = ""
    opt_out_confirmation: str = ""
    opt_in_confirmation: str = ""
    # Limits checked before the model is called (defaults of each business number's settings page;
    # 0 turns a limit off). Per customer: messages per minute and per hour, model tokens per UTC
    # day; per business number: model spend per UTC day, priced from the tokens recorded.
    limit_messages_per_minute: int = 12
    limit_messages_per_hour: int = 60
    limit_tokens_per_day: int = 200_000
    spend_cap_usd_per_day: float = 25.0
    model_input_usd_per_million_tokens: float = 0.50  # the model's list price (Google's rate card)
    model_output_usd_per_million_tokens: float = 3.00  # thinking tokens are billed as output
    limit_notice: str = ""  # replaces the built-in notice of a customer over a limit
    # The operators' audit trail: a bucket the dashboard may only add objects to (terraform/audit.tf)
    audit_bucket: str = ""
    # Logging
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(_env_name(f.name))
            if f.name == "google_cloud_project" and not raw:
                # The original product used GOOGLE_CLOUD_PROJECT_ID; accept it so old .env files work.
                raw = env.get("GOOGLE_CLOUD_PROJECT_ID")
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, raw, type(f.default))
        return cls(**values)._checked()  # type: ignore[arg-type]

    def _checked(self) -> Settings:
        level = self.gemini_thinking_level.strip().lower()
        if level not in THINKING_LEVELS:
            hint = " (gemini-3.8-flash refuses MINIMAL)" if level == "minimal" else ""
            raise ConfigError(
                f"GEMINI_THINKING_LEVEL={self.gemini_thinking_level!r} is not one of "
                f"{', '.join(THINKING_LEVELS)}{hint}"
            )
        try:
            parse_template_spec(self.reengage_template)
        except TemplateError as exc:
            raise ConfigError(f"REENGAGE_TEMPLATE: {exc}") from None
        if parse_waha_sessions(self.waha_session) and not self.waha_url:
            raise ConfigError("WAHA_SESSION is set but WAHA_URL is not: where is the WAHA server?")
        if self.waha_url and not re.fullmatch(r"https?://[^/\s?#@]+(/[^\s?#]*)?", self.waha_url):
            raise ConfigError(f"WAHA_URL={self.waha_url!r} is not an http(s) address of a WAHA server")
        positive = (
            "gemini_max_output_tokens",
            "gemini_timeout_seconds",
            "gemini_max_attempts",
            "embedding_dimensions",
            "knowledge_max_passages",
            "knowledge_max_upload_bytes",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{_env_name(name)}={getattr(self, name)!r} must be above 0")
        if not 0.0 <= self.knowledge_min_similarity <= 1.0:
            raise ConfigError(
                f"KNOWLEDGE_MIN_SIMILARITY={self.knowledge_min_similarity!r} must be between 0 and 1"
            )
        limits = (
            "limit_messages_per_minute",
            "limit_messages_per_hour",
            "limit_tokens_per_day",
            "spend_cap_usd_per_day",
            "model_input_usd_per_million_tokens",
            "model_output_usd_per_million_tokens",
        )
        for name in limits:
            if getattr(self, name) < 0:
                raise ConfigError(f"{_env_name(name)}={getattr(self, name)!r} must be 0 (off) or more")
        return self

    def require(self, *names: str) -> Settings:
        """Raise ConfigError naming every one of ``names`` (field names) that is empty."""
        missing = [_env_name(n) for n in names if not getattr(self, n)]
        if missing:
            raise ConfigError("missing required setting(s): " + ", ".join(missing))
        return self

    def require_waha_signing(self) -> Settings:
        """The webhook does not start for WAHA sessions whose deliveries it could not authenticate."""
        if self.waha_sessions and not self.waha_webhook_hmac_key and not self.waha_allow_unsigned:
            raise ConfigError(
                "missing required setting: WAHA_WEBHOOK_HMAC_KEY (the key WAHA signs its webhooks "
                "with) for WAHA_SESSION; only on a private network set WAHA_ALLOW_UNSIGNED=true instead"
            )
        return self

    def require_waha_api_key(self) -> Settings:
        """A function that calls WAHA (sends, seen, typing, files) does not start without its key."""
        if self.waha_sessions and not self.waha_api_key:
            raise ConfigError("missing required setting: WAHA_API_KEY (WAHA's API key) for WAHA_SESSION")
        return self

    def require_model(self) -> Settings:
        """Gemini needs an API key, a custom endpoint, or Vertex AI with the service account."""
        if not (self.gemini_api_key or self.gemini_base_url or self.google_genai_use_vertexai):
            raise ConfigError(
                "missing required setting: GEMINI_API_KEY (or GEMINI_BASE_URL, or GOOGLE_GENAI_USE_VERTEXAI=true)"
            )
        return self

    def has_service_window(self, phone_number_id: str) -> bool:
        """Whether the 24-hour customer service window (and templates) apply to a business number:
        on Meta's Cloud API they do; a WAHA session (WhatsApp Web) has neither."""
        return phone_number_id not in self.waha_sessions.values()

    @property
    def reengage(self) -> tuple[str, str] | None:
        """REENGAGE_TEMPLATE as (name, language), or None when there is none."""
        return parse_template_spec(self.reengage_template)

    @functools.cached_property
    def waha_sessions(self) -> dict[str, str]:
        """WAHA session name -> the business number id it is known by here (`waha-<session>`
        unless given as `session=id`). The id takes the place of Meta's phone_number_id in
        conversation ids, so it holds no `_`, and no digits-only id can be mistaken for Meta's."""
        return parse_waha_sessions(self.waha_session)

    @property
    def operator_allowlist(self) -> frozenset[str]:
        return frozenset(e.strip().lower() for e in self.operator_emails.split(",") if e.strip())


_SESSION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BUSINESS_NUMBER_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def parse_waha_sessions(raw: str) -> dict[str, str]:
    """`default` or `default=waha-shop,sales=waha-sales` -> {session: business number id}."""
    sessions: dict[str, str] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        session, _, number_id = (p.strip() for p in item.partition("="))
        number_id = number_id or "waha-" + session.replace("_", "-")
        if not _SESSION_NAME.fullmatch(session):
            raise ConfigError(f"WAHA_SESSION: {session!r} is not a WAHA session name")
        if not _BUSINESS_NUMBER_ID.fullmatch(number_id) or number_id.isdigit():
            raise ConfigError(
                f"WAHA_SESSION: business number id {number_id!r} must be letters, digits and '-', "
                "not digits only (those are Meta's phone number ids)"
            )
        if session in sessions or number_id in sessions.values():
            raise ConfigError(f"WAHA_SESSION names {session!r} or {number_id!r} twice")
        sessions[session] = number_id
    return sessions


def _convert(name: str, raw: str, kind: type) -> object:
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError:
        raise ConfigError(f"{_env_name(name)}={raw!r} is not a valid {kind.__name__}") from None
    return raw


# Names every function may read, for the infrastructure checks (Terraform sets them or relies on
# the documented default above).
SETTING_NAMES: tuple[str, ...] = tuple(_env_name(f.name) for f in fields(Settings))

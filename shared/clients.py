"""The clients of the outside world, created once per instance and only when first used.

Each function's main.py builds one `Clients` from its settings and hands it down with them; no
other module creates a client or reads the environment. A function instance serves many
requests on several threads, and creating a client costs a channel, credentials and, on a cold
start, a noticeable slice of the first request, so each client is made on first use (under a
lock) and kept. Its import stays inside its factory, so a function pays only for the clients it
uses: the webhook never imports Gemini or Storage. Tests pass their own stand-ins by keyword.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.config import Settings

if TYPE_CHECKING:
    from google import genai
    from google.cloud import firestore, pubsub_v1, storage

    from shared.bucket import MediaBucket
    from shared.bus import DeadLetters, JobBus
    from shared.knowledge.scopes import KnowledgeScopes
    from shared.whatsapp.client import WhatsAppClient
    from shared.whatsapp.provider import Provider
    from shared.whatsapp.waha.client import WahaClient

GEMINI_RETRYABLE_STATUS = (408, 429, 500, 502, 503, 504)
# The SDK's backoff between attempts (google-genai HttpRetryOptions, tenacity's
# wait_exponential_jitter): initial * base**n plus up to `jitter`, never above `max`. The reply
# job adds these up against its timeout (shared/ai_reply/budget.py).
BACKOFF_INITIAL_SECONDS = 1.0
BACKOFF_EXP_BASE = 2.0
BACKOFF_MAX_SECONDS = 8.0
BACKOFF_JITTER_SECONDS = 1.0


def is_genai_transport_error(exc: BaseException) -> bool:
    """A network failure of a genai call: the SDK sends with httpx (or its fork httpx2)."""
    import sys

    package = sys.modules.get(type(exc).__module__.split(".", 1)[0])
    if package is None or package.__name__ not in ("httpx", "httpx2"):
        return False
    return isinstance(exc, package.TransportError)


class Clients:
    """One lazily created client of each kind, configured from `settings`."""

    def __init__(self, settings: Settings, **given: Any) -> None:
        unknown = set(given) - _FACTORIES.keys()
        if unknown:
            raise TypeError(f"unknown client(s): {', '.join(sorted(unknown))}")
        self.settings = settings
        self._made: dict[str, Any] = dict(given)
        self._lock = threading.RLock()  # a factory may ask for another client (the bucket for storage)

    def _get(self, name: str) -> Any:
        made = self._made.get(name)
        if made is None:
            with self._lock:
                made = self._made.get(name)
                if made is None:
                    made = self._made[name] = _FACTORIES[name](self)
        return made

    @property
    def firestore(self) -> firestore.Client:
        return self._get("firestore")

    @property
    def publisher(self) -> pubsub_v1.PublisherClient:
        return self._get("publisher")

    @property
    def bus(self) -> JobBus:
        return self._get("bus")

    @property
    def subscriber(self) -> pubsub_v1.SubscriberClient:
        return self._get("subscriber")

    @property
    def dead_letters(self) -> DeadLetters:
        return self._get("dead_letters")

    @property
    def storage(self) -> storage.Client:
        return self._get("storage")

    @property
    def bucket(self) -> MediaBucket:
        return self._get("bucket")

    @property
    def whatsapp(self) -> WhatsAppClient:
        return self._get("whatsapp")

    @property
    def waha(self) -> WahaClient:
        return self._get("waha")

    def provider(self, phone_number_id: str) -> Provider:
        """Who carries this business number's messages: its WAHA session, or the Cloud API."""
        if phone_number_id in self.settings.waha_sessions.values():
            return self.waha
        return self.whatsapp

    @property
    def genai(self) -> genai.Client:
        return self._get("genai")

    @property
    def knowledge_scopes(self) -> KnowledgeScopes:
        """Not a client: what this instance remembers of which numbers have documents."""
        return self._get("knowledge_scopes")


def _firestore(c: Clients) -> firestore.Client:
    from google.cloud import firestore

    return firestore.Client(project=c.settings.google_cloud_project or None)


def _publisher(c: Clients) -> pubsub_v1.PublisherClient:
    from google.cloud import pubsub_v1

    # One message per batch: each job is published while a webhook or a job waits for it,
    # so the default 10 ms batching delay would be pure added latency.
    return pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_messages=1, max_latency=0.0)
    )


def _bus(c: Clients) -> JobBus:
    from shared.bus import JobBus

    return JobBus(lambda: c.publisher, c.settings.google_cloud_project)


def _subscriber(c: Clients) -> pubsub_v1.SubscriberClient:
    from google.cloud import pubsub_v1

    return pubsub_v1.SubscriberClient()


def _dead_letters(c: Clients) -> DeadLetters:
    from shared.bus import DeadLetters

    return DeadLetters(lambda: c.subscriber, c.settings.google_cloud_project)


def _storage(c: Clients) -> storage.Client:
    from google.cloud import storage

    return storage.Client(project=c.settings.google_cloud_project or None)


def _bucket(c: Clients) -> MediaBucket:
    from shared.bucket import MediaBucket

    return MediaBucket(c.storage, c.settings.media_bucket)


def _whatsapp(c: Clients) -> WhatsAppClient:
    from shared.whatsapp.client import WhatsAppClient

    return WhatsAppClient(c.settings.whatsapp_api_url, c.settings.whatsapp_api_token)


def _waha(c: Clients) -> WahaClient:
    from shared.whatsapp.waha.client import WahaClient

    return WahaClient(c.settings.waha_url, c.settings.waha_api_key, c.settings.waha_sessions)


def _genai(c: Clients) -> genai.Client:
    return make_genai_client(c.settings)


def _knowledge_scopes(c: Clients) -> KnowledgeScopes:
    from shared.knowledge.scopes import KnowledgeScopes

    return KnowledgeScopes()


def make_genai_client(s: Settings, *, credentials: Any = None) -> genai.Client:
    """Gemini through the Developer API key, Vertex AI, or a custom endpoint (the offline model).

    Attempts, timeout and backoff are the ones shared/ai_reply/budget.py adds up against the
    reply job's timeout. On Vertex AI the function's service account signs in through
    Application Default Credentials unless `credentials` are given.
    """
    from google import genai
    from google.genai import types

    options = types.HttpOptions(
        timeout=int(s.gemini_timeout_seconds * 1000),  # milliseconds; without one a call can hang forever
        retry_options=types.HttpRetryOptions(
            attempts=s.gemini_max_attempts,
            initial_delay=BACKOFF_INITIAL_SECONDS,
            max_delay=BACKOFF_MAX_SECONDS,
            exp_base=BACKOFF_EXP_BASE,
            jitter=BACKOFF_JITTER_SECONDS,
            http_status_codes=list(GEMINI_RETRYABLE_STATUS),
        ),
    )
    if s.gemini_base_url:
        options.base_url = s.gemini_base_url
    if s.google_genai_use_vertexai:
        return genai.Client(
            vertexai=True,
            project=s.google_cloud_project,
            location=s.google_cloud_location,
            credentials=credentials,
            http_options=options,
        )
    if not s.gemini_api_key and not s.gemini_base_url:
        from shared.config import ConfigError

        raise ConfigError("GEMINI_API_KEY is not set (nor GEMINI_BASE_URL or GOOGLE_GENAI_USE_VERTEXAI)")
    # A custom endpoint (the offline model, a gateway) may need no key, but the SDK insists on one.
    return genai.Client(api_key=s.gemini_api_key or "unused", http_options=options)


_FACTORIES: dict[str, Callable[[Clients], Any]] = {
    "firestore": _firestore,
    "publisher": _publisher,
    "bus": _bus,
    "subscriber": _subscriber,
    "dead_letters": _dead_letters,
    "storage": _storage,
    "bucket": _bucket,
    "whatsapp": _whatsapp,
    "waha": _waha,
    "genai": _genai,
    "knowledge_scopes": _knowledge_scopes,
}

"""``WhatsAppSimulator``: Meta's side of the conversation, composed of one part per concern.

All parts work over one :class:`SimulatorState` (settings, lock, records). This class wires them
together and is the one surface the HTTP routes, the tests and the stack call; each method says in
one line which part does the work, so a new behaviour goes into its part and gets one line here.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from local.simulator.coexistence import BusinessApp
from local.simulator.config import SimulatorConfig
from local.simulator.faults import Fault
from local.simulator.graph import GraphBehaviour
from local.simulator.identities import Identities
from local.simulator.media import MediaHost, MediaItem
from local.simulator.state import SimulatorState
from local.simulator.statuses import StatusUpdates
from local.simulator.templates import TemplateCatalog
from local.simulator.users import Users
from local.simulator.waha import WahaServer
from local.simulator.webhooks import WebhookSender
from local.simulator.wire import Json


class WhatsAppSimulator:
    """Meta's side of the conversation: state, Graph API behaviour, webhook delivery, media host."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.shared = SimulatorState(config or SimulatorConfig())
        self.media_host = MediaHost(self.shared)
        self.webhooks = WebhookSender(self.shared)
        self.statuses = StatusUpdates(self.shared, self.webhooks, self.media_host)
        self.template_catalog = TemplateCatalog(self.shared, self.webhooks)
        self.graph = GraphBehaviour(self.shared, self.media_host, self.statuses, self.template_catalog)
        self.users = Users(self.shared, self.media_host, self.webhooks)
        self.identities = Identities(self.shared)
        self.business_app = BusinessApp(self.shared, self.webhooks)
        self.waha = WahaServer(self.shared, self.media_host)

    # ---- lifecycle and settings -----------------------------------------------------------

    @property
    def config(self) -> SimulatorConfig:
        return self.shared.config

    def configure(self, changes: Mapping[str, Any]) -> SimulatorConfig:
        with self.shared.lock:
            self.shared.config = self.shared.config.updated(changes)
            return self.shared.config

    def reset(self) -> None:
        """Forget everything (messages, media, faults) and cancel pending webhook deliveries."""
        with self.shared.lock:
            self.shared.restart()
            self.media_host.clear()
            self.template_catalog.clear()
            self.webhooks.clear()
            self.waha.clear()

    def close(self) -> None:
        self.shared.stop.set()

    # ---- what happened (copies, safe to keep) ---------------------------------------------

    def outbox(self, wa_id: str | None = None) -> list[Json]:
        with self.shared.lock:
            return [dict(m) for m in self.shared.outbox if wa_id is None or m["wa_id"] == wa_id]

    def wait_outbox(self, count: int, timeout: float, wa_id: str | None = None) -> list[Json]:
        """Block until at least ``count`` messages were sent (to ``wa_id``), or ``timeout`` passed."""
        with self.shared.changed:
            self.shared.changed.wait_for(lambda: len(self.outbox(wa_id)) >= count, timeout)
            return self.outbox(wa_id)

    def events(self, kind: str | None = None) -> list[Json]:
        with self.shared.lock:
            return [dict(e) for e in self.shared.events if kind is None or e["kind"] == kind]

    def inbound(self) -> list[Json]:
        with self.shared.lock:
            return [dict(m) for m in self.shared.inbound]

    def deliveries(self) -> list[Json]:
        return self.webhooks.deliveries()

    def conversation(self, wa_id: str, provider: str = "cloud") -> Json:
        return self.shared.conversation(wa_id, provider)

    def record_event(self, kind: str, status: int, payload: Any = None, **extra: Any) -> None:
        self.shared.record_event(kind, status, payload, **extra)

    # ---- error switches -------------------------------------------------------------------

    def add_faults(self, specs: list[Json]) -> list[Json]:
        return self.shared.faults.add(Fault.from_json(spec) for spec in specs)

    def faults(self) -> list[Json]:
        return self.shared.faults.snapshot()

    def clear_faults(self) -> None:
        self.shared.faults.clear()

    # ---- Graph API ------------------------------------------------------------------------

    def token_ok(self, authorization: str | None) -> bool:
        return self.graph.token_ok(authorization)

    def post_messages(self, phone_number_id: str, body: Any) -> tuple[int, Json]:
        return self.graph.post_messages(phone_number_id, body)

    def push_status(
        self,
        wamid: str,
        state: str,
        errors: list[Json] | None = None,
        stop: threading.Event | None = None,
    ) -> Json:
        return self.statuses.push(wamid, state, errors, stop)

    # ---- the clock and the templates ------------------------------------------------------

    def now(self) -> float:
        return self.shared.now()

    def advance_clock(self, seconds: float) -> float:
        """Move Meta's clock forward: windows close, as if ``seconds`` had passed."""
        return self.shared.advance(seconds)

    def create_template(self, waba_id: str, body: Any) -> tuple[int, Json]:
        return self.template_catalog.create(waba_id, body)

    def list_templates(self, waba_id: str, args: Mapping[str, str]) -> tuple[int, Json]:
        return self.template_catalog.list(waba_id, dict(args))

    def add_template(self, spec: Json) -> Json:
        return self.template_catalog.add(spec)

    def review_template(self, template_id: str, status: str, reason: str | None = None) -> Json:
        return self.template_catalog.review(template_id, status, reason)

    def rate_template(self, template_id: str, score: str) -> Json:
        return self.template_catalog.rate(template_id, score)

    def templates(self) -> list[Json]:
        return self.template_catalog.templates()

    # ---- the users' side and the webhook --------------------------------------------------

    def send_inbound(self, spec: Json, base_url: str = "") -> Json:
        """A user writes to the Cloud API number, or with ``"provider": "waha"`` to the WAHA one."""
        if spec.get("provider") == "waha":
            return self.waha.send_inbound(spec, base_url)
        return self.users.send(spec, base_url)

    def set_user(self, wa_id: str, changes: Json) -> Json:
        return self.identities.set_profile(wa_id, changes)

    def user(self, wa_id: str) -> Json:
        return self.identities.describe(wa_id)

    def send_from_business_app(self, spec: Json) -> Json:
        return self.business_app.send(spec)

    def replay_history(self, spec: Json | None = None) -> Json:
        return self.business_app.replay_history(spec)

    def business_echo(self, spec: Json) -> Json:
        return self.waha.business_echo(spec)

    def waha_deliveries(self) -> list[Json]:
        return self.waha.deliveries()

    def redeliver(self, wamid: str) -> Json:
        return self.webhooks.redeliver(wamid)

    def deliver_raw(self, spec: Json) -> Json:
        return self.webhooks.deliver_raw(spec)

    def verify_webhook(self, verify_token: str | None = None) -> Json:
        return self.webhooks.verify(verify_token)

    # ---- media ----------------------------------------------------------------------------

    def media(self, media_id: str) -> MediaItem | None:
        return self.media_host.get(media_id)

    def store_media(self, data: bytes, mime_type: str, filename: str | None = None) -> MediaItem:
        return self.media_host.store(data, mime_type, filename)

    def delete_media(self, media_id: str) -> bool:
        return self.media_host.delete(media_id)

    def media_url(self, media_id: str, base_url: str) -> str:
        return self.media_host.url(media_id, base_url)

    def expire_media_urls(self) -> int:
        return self.media_host.expire_urls()

    def media_metadata(self, media_id: str, base_url: str) -> tuple[int, Json]:
        return self.media_host.metadata(media_id, base_url)

    def download(self, media_id: str, token: str) -> tuple[int, Json | MediaItem]:
        return self.media_host.download(media_id, token)

    def upload_from_business(
        self, phone_number_id: str, form: Mapping[str, str], data: bytes, mime_type: str, filename: str | None
    ) -> tuple[int, Json]:
        return self.media_host.upload_from_business(phone_number_id, form, data, mime_type, filename)

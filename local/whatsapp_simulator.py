"""A local WhatsApp Cloud API simulator: it plays Meta's side for tests and for `make dev`.

Our code reaches it through ``WHATSAPP_API_URL`` (e.g. ``http://127.0.0.1:8090/v27.0``) and cannot
tell it from Meta: same paths, bearer-token checks, response and error bodies, signed webhooks with
status updates, the two-step media download with expiring URLs.

Graph API subset (``Authorization: Bearer <token>`` on every call, any ``vNN.N`` version):
  POST /{v}/{phone_number_id}/messages   send (text ≤ 4096, image/audio/video/document/sticker by id or
                                         link, reaction, location, contacts, interactive, template),
                                         mark read, typing indicator
  POST /{v}/{phone_number_id}/media      business media upload (multipart ``file``) -> {"id"}
  GET  /{v}/{media_id}                   media metadata with a download URL; DELETE /{v}/{media_id}
  GET  /whatsapp_business/attachments/?mid=..&ext=..&hash=..   the bytes (bearer required, URL expires)

Control API (JSON, no auth) under ``/_sim/``; a running server's ``.state`` offers the same as methods:
  POST /_sim/inbound          act as the user: {"from","name","type","text"|"media_id"|"data_base64"|<type obj>,
                              "caption","filename","voice","context":{"id"}} or {"batch":[...]}
                              -> {"wamid","wamids","webhook_status","error","body"}
  POST /_sim/redeliver        {"wamid"}: post the same envelope bytes again (dedupe tests)
  POST /_sim/deliver-raw      {"body"|"body_base64"|"json", "signature"?: str|null, "headers"?}
  POST /_sim/verify-webhook   run the GET hub.challenge handshake against the webhook
  POST /_sim/statuses         {"wamid","status","code"?}: push one status webhook by hand
  POST /_sim/media            multipart "file" (+ "mime_type", "filename") or raw bytes -> {"id","sha256",...}
  GET  /_sim/media/<id>       the stored bytes (chat page); POST /_sim/expire-media-urls
  GET  /_sim/outbox           what the business sent (?wa_id=, ?wait_count=N&timeout=S long-polls)
  GET  /_sim/events           every Graph call (?kind=send|mark_read|typing|media_*|auth_failed)
  GET  /_sim/inbox            what the user sent; GET /_sim/deliveries: every webhook attempt
  GET|POST|DELETE /_sim/faults  error switches, e.g. {"target":"send","code":131047,"count":1},
                              {"target":"send","hang_seconds":5}, {"target":"media_download","http_status":500,
                              "count":2}, {"target":"delivery","code":131026} (accepted, then a failed status)
  GET|POST /_sim/config       read or change settings at run time (e.g. {"auto_read": false})
  POST /_sim/reset            forget everything and cancel pending deliveries
  GET  /_sim/conversation?wa_id=   the thread for the chat page at ``/``
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from flask import Flask, Response, jsonify, request, send_from_directory
from werkzeug.routing import BaseConverter

from local import whatsapp_wire as wire
from local.faults import FaultQueue, fault_specs
from local.servers import RunningServer, run_until_signalled, start_server

DEFAULT_API_VERSION = "v27.0"
DEFAULT_PHONE_NUMBER_ID = "100000000000001"
DEFAULT_DISPLAY_PHONE_NUMBER = "15550001234"
DEFAULT_WABA_ID = "200000000000001"
# Well-known local-only values, so a bare `python -m local.whatsapp_simulator` works with the stack.
DEFAULT_APP_SECRET = "local-app-secret"  # noqa: S105
DEFAULT_ACCESS_TOKEN = "local-access-token"  # noqa: S105
DEFAULT_VERIFY_TOKEN = "local-verify-token"  # noqa: S105
DEFAULT_USER_WA_ID = "15551234567"
DEFAULT_USER_NAME = "Test User"
DEFAULT_PORT = 8090
MAX_TEXT_CHARS = 4096
TYPING_SECONDS = 25.0  # Meta hides the typing indicator after 25 s or when the reply arrives
SERVICE_WINDOW_SECONDS = 24 * 3600
STATIC_DIR = Path(__file__).resolve().parent / "simulator_static"

MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
SENDABLE_TYPES = frozenset(
    {"text", "reaction", "location", "contacts", "interactive", "template", *MEDIA_TYPES}
)
STATUS_STATES = frozenset({"sent", "delivered", "read", "played", "failed"})
FAULT_TARGETS = frozenset(
    {"send", "mark_read", "typing", "media_metadata", "media_download", "media_upload", "delivery"}
)

Json = dict[str, Any]


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that shapes the simulator; ``from_env`` reads the same names the stack sets."""

    webhook_url: str | None = None
    app_secret: str = DEFAULT_APP_SECRET
    access_token: str = DEFAULT_ACCESS_TOKEN
    verify_token: str = DEFAULT_VERIFY_TOKEN
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER
    waba_id: str = DEFAULT_WABA_ID
    business_name: str = "Assistant"
    status_delay_seconds: float = 0.2
    auto_read: bool = True
    media_url_ttl_seconds: float = 300.0
    # Waits before each retry of a webhook the receiver did not accept with 2xx: immediately, then backoff.
    webhook_retry_delays: tuple[float, ...] = (0.0, 1.0, 3.0, 5.0)
    webhook_timeout_seconds: float = 10.0
    enforce_service_window: bool = False
    escape_non_ascii: bool = True
    include_pricing: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SimulatorConfig:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, variable in _ENV_NAMES.items():
            raw = env.get(variable)
            if raw:
                values[name] = _parse_setting(name, raw)
        return cls(**values)

    def updated(self, changes: Mapping[str, Any]) -> SimulatorConfig:
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        parsed = {k: _parse_setting(k, v) if isinstance(v, str) else v for k, v in changes.items()}
        if "webhook_retry_delays" in parsed:
            parsed["webhook_retry_delays"] = tuple(float(d) for d in parsed["webhook_retry_delays"])
        return dataclasses.replace(self, **parsed)

    def public(self) -> Json:
        data = dataclasses.asdict(self)
        data["webhook_retry_delays"] = list(self.webhook_retry_delays)
        return data


_ENV_NAMES = {
    "webhook_url": "SIMULATOR_WEBHOOK_URL",
    "app_secret": "WHATSAPP_APP_SECRET",
    "access_token": "WHATSAPP_API_TOKEN",
    "verify_token": "WEBHOOK_VERIFY_TOKEN",
    "phone_number_id": "SIMULATOR_PHONE_NUMBER_ID",
    "display_phone_number": "SIMULATOR_DISPLAY_PHONE_NUMBER",
    "waba_id": "SIMULATOR_WABA_ID",
    "status_delay_seconds": "SIMULATOR_STATUS_DELAY_SECONDS",
    "auto_read": "SIMULATOR_AUTO_READ",
    "media_url_ttl_seconds": "SIMULATOR_MEDIA_URL_TTL_SECONDS",
}


def _parse_setting(name: str, raw: str) -> Any:
    kind = {f.name: f.type for f in dataclasses.fields(SimulatorConfig)}[name]
    if kind == "bool":
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind == "float":
        return float(raw)
    if kind == "tuple[float, ...]":
        return tuple(float(part) for part in raw.split(",") if part.strip())
    return raw


# --------------------------------------------------------------------------------------------
# Stored media and error switches


@dataclass
class MediaItem:
    id: str
    data: bytes
    mime_type: str
    filename: str | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def sha256(self) -> str:
        return wire.sha256_base64(self.data)

    def summary(self) -> Json:
        return {
            "id": self.id,
            "sha256": self.sha256,
            "mime_type": self.mime_type,
            "file_size": len(self.data),
            "filename": self.filename,
        }


@dataclass
class Fault:
    """One error switch: the next ``count`` calls of ``target`` fail (or hang first)."""

    target: str
    count: int = 1
    code: int | None = None
    http_status: int | None = None
    message: str | None = None
    details: str | None = None
    hang_seconds: float = 0.0

    @classmethod
    def from_json(cls, data: Json) -> Fault:
        if not isinstance(data, dict):
            raise ValueError('a fault is a JSON object such as {"target": "send", "code": 131047}')
        target = data.get("target", "send")
        if target not in FAULT_TARGETS:
            raise ValueError(f"target must be one of {sorted(FAULT_TARGETS)}")
        fault = cls(
            target=target,
            count=int(data.get("count", 1)),
            code=int(data["code"]) if data.get("code") is not None else None,
            http_status=int(data["http_status"]) if data.get("http_status") is not None else None,
            message=data.get("message"),
            details=data.get("details"),
            hang_seconds=float(data.get("hang_seconds", 0.0)),
        )
        if target == "delivery" and fault.code is None:
            fault.code = 131026  # the usual asynchronous failure: undeliverable
        if fault.code is None and fault.http_status is None and not fault.hang_seconds:
            raise ValueError("a fault needs code, http_status or hang_seconds")
        return fault

    @property
    def fails(self) -> bool:
        return self.code is not None or self.http_status is not None

    def resolved_code(self) -> int:
        if self.code is not None:
            return self.code
        status = self.http_status or 500
        return {401: 190, 403: 10, 503: 2}.get(status, 131000 if status >= 500 else 100)

    def response(self) -> tuple[int, Json]:
        code = self.resolved_code()
        status = self.http_status or wire.graph_error(code).http_status
        return status, wire.graph_error_body(code, self.message, self.details)


class SimulatorError(ValueError):
    """A bad control-API request; answered with HTTP 400 and the message."""


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


# --------------------------------------------------------------------------------------------
# The simulator


class WhatsAppSimulator:
    """Meta's side of the conversation: state, Graph API behaviour, webhook delivery."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._clear()

    def _clear(self) -> None:
        self._outbox: list[Json] = []
        self._inbound: list[Json] = []
        self._events: list[Json] = []
        self._deliveries: list[Json] = []
        self._media: dict[str, MediaItem] = {}
        self._media_urls: dict[str, tuple[str, float]] = {}  # url hash -> (media id, expiry)
        self._faults: FaultQueue[Fault] = FaultQueue()
        self._typing_until: dict[str, float] = {}
        self._envelopes: dict[str, bytes] = {}  # inbound wamid -> exact bytes delivered

    # ---- lifecycle ------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (messages, media, faults) and cancel pending webhook deliveries."""
        with self._lock:
            self._stop.set()
            self._stop = threading.Event()
            self._clear()
            self._changed.notify_all()

    def close(self) -> None:
        self._stop.set()

    def configure(self, changes: Mapping[str, Any]) -> SimulatorConfig:
        with self._lock:
            self.config = self.config.updated(changes)
            return self.config

    # ---- bookkeeping ----------------------------------------------------------------------

    def record_event(self, kind: str, status: int, payload: Any = None, **extra: Any) -> None:
        with self._lock:
            self._events.append({"kind": kind, "at": time.time(), "status": status, "body": payload, **extra})
            self._changed.notify_all()

    def outbox(self, wa_id: str | None = None) -> list[Json]:
        with self._lock:
            return [dict(m) for m in self._outbox if wa_id is None or m["wa_id"] == wa_id]

    def wait_outbox(self, count: int, timeout: float, wa_id: str | None = None) -> list[Json]:
        """Block until at least ``count`` messages were sent (to ``wa_id``), or ``timeout`` passed."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.outbox(wa_id)) >= count, timeout)
            return self.outbox(wa_id)

    def events(self, kind: str | None = None) -> list[Json]:
        with self._lock:
            return [dict(e) for e in self._events if kind is None or e["kind"] == kind]

    def inbound(self) -> list[Json]:
        with self._lock:
            return [dict(m) for m in self._inbound]

    def deliveries(self) -> list[Json]:
        with self._lock:
            return [dict(d) for d in self._deliveries]

    def media(self, media_id: str) -> MediaItem | None:
        with self._lock:
            return self._media.get(media_id)

    # ---- error switches -------------------------------------------------------------------

    def add_faults(self, specs: list[Json]) -> list[Json]:
        return self._faults.add(Fault.from_json(spec) for spec in specs)

    def faults(self) -> list[Json]:
        return self._faults.snapshot()

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, target: str) -> Fault | None:
        return self._faults.take(lambda fault: fault.target == target)

    def _apply_fault(self, target: str) -> tuple[int, Json] | None:
        """Hang and/or fail as a switch says; None means "go on normally"."""
        fault = self._take_fault(target)
        if fault is None:
            return None
        if fault.hang_seconds:
            self._stop.wait(fault.hang_seconds)
        return fault.response() if fault.fails else None

    # ---- Graph API: auth ------------------------------------------------------------------

    def token_ok(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(token.strip(), self.config.access_token)

    # ---- Graph API: POST /{phone_number_id}/messages --------------------------------------

    def post_messages(self, phone_number_id: str, body: Any) -> tuple[int, Json]:
        if phone_number_id != self.config.phone_number_id:
            return 400, wire.unknown_object_body(phone_number_id, "post")
        if not isinstance(body, dict):
            return 400, wire.graph_error_body(100, details="The request body must be a JSON object.")
        if body.get("messaging_product") != "whatsapp":
            return 400, wire.graph_error_body(100, "(#100) The parameter messaging_product is required.")
        if "status" in body:
            return self._mark_read(body)
        return self._send(body)

    def _mark_read(self, body: Json) -> tuple[int, Json]:
        typing = body.get("typing_indicator")
        kind = "typing" if typing is not None else "mark_read"
        failure = self._apply_fault(kind)
        if failure is not None:
            self.record_event(kind, failure[0], body, error=failure[1])
            return failure
        problem = self._read_problem(body, typing)
        if problem:
            self.record_event(kind, 400, body, error=problem)
            return 400, wire.graph_error_body(100, details=problem)
        with self._lock:
            sender = self._mark_inbound_read(body["message_id"])
            if typing is not None and sender:
                self._typing_until[sender] = time.time() + TYPING_SECONDS
        self.record_event(kind, 200, body, message_id=body["message_id"])
        return 200, {"success": True}

    @staticmethod
    def _read_problem(body: Json, typing: Any) -> str | None:
        if body.get("status") != "read":
            return "Param status must be 'read'."
        if not isinstance(body.get("message_id"), str) or not body["message_id"]:
            return "The parameter message_id is required."
        if typing is not None and (not isinstance(typing, dict) or typing.get("type") != "text"):
            return "Param typing_indicator['type'] must be 'text'."
        return None

    def _mark_inbound_read(self, wamid: str) -> str | None:
        # Like WhatsApp, reading one message also reads everything the user sent before it.
        target = next((m for m in self._inbound if m["wamid"] == wamid), None)
        if target is None:
            return None
        for message in self._inbound:
            if message["from"] == target["from"] and message["at"] <= target["at"]:
                message["status"] = "read"
        self._changed.notify_all()
        return str(target["from"])

    def _send(self, body: Json) -> tuple[int, Json]:
        failure = self._apply_fault("send")
        if failure is not None:
            self.record_event("send", failure[0], body, error=failure[1])
            return failure
        problem = self._send_problem(body)
        if problem is not None:
            code, details = problem
            self.record_event("send", 400, body, error=details)
            return 400, wire.graph_error_body(code, details=details)
        to = str(body["to"])
        wa_id = _digits(to)
        if self.config.enforce_service_window and not self._window_open(wa_id):
            error = wire.graph_error_body(131047)
            self.record_event("send", 400, body, error=error)
            return 400, error
        record = self._record_outbound(body, to, wa_id)
        self.record_event("send", 200, body, wamid=record["wamid"])
        self._schedule_statuses(record)
        return 200, wire.send_success(to, wa_id, record["wamid"])

    def _send_problem(self, body: Json) -> tuple[int, str] | None:
        to = body.get("to")
        if not isinstance(to, str) or not _digits(to):
            return 100, "The parameter to is required."
        kind = body.get("type", "text")
        if kind not in SENDABLE_TYPES:
            return 100, f"Param type must be one of {sorted(SENDABLE_TYPES)} - got {kind!r}."
        content = body.get(kind)
        if not isinstance(content, dict):
            return 100, f"The parameter {kind} is required."
        if kind == "text":
            text = content.get("body")
            if not isinstance(text, str) or not text:
                return 100, "The parameter text['body'] is required."
            if len(text.encode("utf-16-le")) // 2 > MAX_TEXT_CHARS:  # Meta counts UTF-16 units
                return 100, f"Param text['body'] must be at most {MAX_TEXT_CHARS} characters long."
        if kind in MEDIA_TYPES and not (content.get("id") or content.get("link")):
            return 131008, f"Param {kind} must contain one of id or link."
        if kind == "reaction" and not content.get("message_id"):
            return 100, "The parameter reaction['message_id'] is required."
        context = body.get("context")
        if context is not None and (not isinstance(context, dict) or not context.get("message_id")):
            return 100, "The parameter context['message_id'] is required."
        return None

    def _window_open(self, wa_id: str) -> bool:
        with self._lock:
            last = max((m["at"] for m in self._inbound if m["from"] == wa_id), default=None)
        return last is not None and time.time() - last < SERVICE_WINDOW_SECONDS

    def _record_outbound(self, body: Json, to: str, wa_id: str) -> Json:
        kind = body.get("type", "text")
        content: Json = body[kind]
        media = None
        if kind in MEDIA_TYPES:
            stored = self.media(str(content.get("id", "")))
            media = {
                "id": content.get("id"),
                "link": content.get("link"),
                "mime_type": stored.mime_type if stored else None,
                "filename": content.get("filename") or (stored.filename if stored else None),
            }
        record: Json = {
            "direction": "out",
            "wamid": wire.new_wamid(wa_id, inbound=False),
            "to": to,
            "wa_id": wa_id,
            "type": kind,
            "text": _outbound_text(kind, content),
            "media": media,
            "interactive": content if kind == "interactive" else None,  # the chat page renders its buttons
            "reply_to": (body.get("context") or {}).get("message_id"),
            "at": time.time(),
            "status": "accepted",
            "statuses": [],
            "errors": [],
            "request": body,
        }
        with self._lock:
            self._outbox.append(record)
            self._typing_until.pop(wa_id, None)
            self._changed.notify_all()
        return record

    # ---- status webhooks ------------------------------------------------------------------

    def _schedule_statuses(self, record: Json) -> None:
        fault = self._take_fault("delivery")
        unknown_media = record["media"] and record["media"]["id"] and not self.media(record["media"]["id"])
        if fault is not None:
            plan = [("failed", [wire.webhook_error(fault.resolved_code(), fault.details)])]
        elif unknown_media:
            plan = [("failed", [wire.webhook_error(131053, "Media id not found.")])]
        else:
            plan = [("sent", None), ("delivered", None)]
            if self.config.auto_read:
                plan.append(("read", None))
        stop = self._stop
        thread = threading.Thread(
            target=self._run_status_plan, args=(record, plan, stop), name="sim-status", daemon=True
        )
        thread.start()

    def _run_status_plan(
        self, record: Json, plan: list[tuple[str, list[Json] | None]], stop: threading.Event
    ) -> None:
        for state, errors in plan:
            if stop.wait(self.config.status_delay_seconds):
                return
            try:
                self.push_status(record["wamid"], state, errors, stop)
            except SimulatorError:
                return  # a reset forgot the message while we slept

    def push_status(
        self,
        wamid: str,
        state: str,
        errors: list[Json] | None = None,
        stop: threading.Event | None = None,
    ) -> Json:
        """Move an outbound message to ``state`` and deliver the status webhook (with retries)."""
        with self._lock:
            record = next((m for m in self._outbox if m["wamid"] == wamid), None)
            if record is None:
                raise SimulatorError(f"no outbound message {wamid}")
            now = int(time.time())
            # Meta attaches pricing to "sent" and to one of delivered/read.
            with_pricing = self.config.include_pricing and state in {"sent", "delivered"}
            callback = (record.get("request") or {}).get("biz_opaque_callback_data")
            item = wire.status(wamid, state, record["wa_id"], now, with_pricing, errors, callback)
            record["status"] = state
            record["statuses"].append({"status": state, "timestamp": str(now), "at": time.time()})
            if errors:
                record["errors"].extend(errors)
            self._changed.notify_all()
        payload = self._envelope(statuses=[item])
        return self._deliver_with_retries("status", wamid, self._encode(payload), stop or self._stop)

    # ---- inbound messages (the simulated user) --------------------------------------------

    def send_inbound(self, spec: Json, base_url: str = "") -> Json:
        """Act as the WhatsApp user: build Meta's envelope for one message (or a ``batch``), sign, deliver."""
        specs = spec.get("batch") or [spec]
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise SimulatorError("batch must be a list of message objects")
        built = [self._inbound_message(s, base_url) for s in specs]
        contacts: list[Json] = []
        for message, record in built:
            if message["type"] != "system" and record["from"] not in {c["wa_id"] for c in contacts}:
                contacts.append(wire.contact(record["from"], record["name"]))
        payload = self._envelope(contacts=contacts or None, messages=[m for m, _ in built])
        body = self._encode(payload)
        with self._lock:
            for _, record in built:
                self._inbound.append(record)
                self._envelopes[record["wamid"]] = body
            self._changed.notify_all()
        wamids = [record["wamid"] for _, record in built]
        first = self._deliver_first_then_retry("inbound", wamids, body)
        return {
            "wamid": wamids[0],
            "wamids": wamids,
            "webhook_status": first["status"],
            "error": first["error"],
            "body": payload,
        }

    def redeliver(self, wamid: str) -> Json:
        """Post the exact bytes of an earlier inbound envelope again, as Meta does on a retry."""
        with self._lock:
            body = self._envelopes.get(wamid)
        if body is None:
            raise SimulatorError(f"no inbound message {wamid}")
        attempt = self._attempt("inbound", [wamid], body, self._signature(body), 1)
        return {"wamid": wamid, "webhook_status": attempt["status"], "error": attempt["error"]}

    def _inbound_message(self, spec: Json, base_url: str) -> tuple[Json, Json]:
        sender = _digits(str(spec.get("from") or DEFAULT_USER_WA_ID))
        if not sender:
            raise SimulatorError("from must be a phone number")
        kind = str(spec.get("type", "text"))
        voice = kind == "voice" or bool(spec.get("voice"))
        kind = "audio" if kind == "voice" else kind
        wamid = str(spec.get("wamid") or wire.new_wamid(sender, inbound=True))
        message: Json = {
            "from": sender,
            "id": wamid,
            "timestamp": str(int(spec.get("timestamp") or time.time())),
            "type": kind,
        }
        record: Json = {
            "direction": "in",
            "wamid": wamid,
            "from": sender,
            "name": str(spec.get("name") or DEFAULT_USER_NAME),
            "type": kind,
            "text": "",
            "media": None,
            "reply_to": None,
            "at": time.time(),
            "status": "pending",
            "message": message,
        }
        self._add_context(spec, message, record)
        self._add_content(spec, kind, voice, message, record, base_url)
        return message, record

    def _add_context(self, spec: Json, message: Json, record: Json) -> None:
        context = spec.get("context")
        if not context:
            return
        if not isinstance(context, dict):
            raise SimulatorError("context must be an object")
        built = dict(context)
        if "id" in built:
            # A quoted reply names the business number as the author of the quoted message.
            built.setdefault("from", self.config.display_phone_number)
            record["reply_to"] = built["id"]
        message["context"] = built

    def _add_content(
        self, spec: Json, kind: str, voice: bool, message: Json, record: Json, base_url: str
    ) -> None:
        if kind == "text":
            text = spec.get("text")
            body = text.get("body") if isinstance(text, dict) else text
            if not isinstance(body, str) or not body:
                raise SimulatorError("a text message needs a non-empty text")
            message["text"] = {"body": body}
            record["text"] = body
        elif kind in MEDIA_TYPES:
            message[kind] = self._inbound_media(spec, kind, voice, base_url)
            record["text"] = message[kind].get("caption", "")
            record["media"] = {
                "id": message[kind]["id"],
                "mime_type": message[kind]["mime_type"],
                "filename": message[kind].get("filename"),
                "voice": voice if kind == "audio" else None,
            }
        elif kind == "unsupported":
            message["errors"] = [wire.webhook_error(131051)]
            message["unsupported"] = {"type": spec.get("unsupported_type", "poll_creation")}
        else:
            content = spec.get(kind)
            if content is None:
                raise SimulatorError(f"a {kind} message needs a {kind!r} object as Meta sends it")
            message[kind] = content
            record["text"] = _inbound_text(kind, content)

    def _inbound_media(self, spec: Json, kind: str, voice: bool, base_url: str) -> Json:
        item = self._media_for_inbound(spec, kind)
        mime = item.mime_type
        if kind == "audio" and voice and mime == "audio/ogg":
            mime = "audio/ogg; codecs=opus"  # what WhatsApp reports for a recorded voice note
        media: Json = {}
        if spec.get("caption") and kind in {"image", "video", "document"}:
            media["caption"] = spec["caption"]
        if kind == "document":
            media["filename"] = spec.get("filename") or item.filename or "document"
        media.update({"mime_type": mime, "sha256": item.sha256, "id": item.id})
        if kind == "audio":
            media["voice"] = voice
        if kind == "sticker":
            media["animated"] = bool(spec.get("animated", False))
        if spec.get("include_url") and base_url:
            media["url"] = self.media_url(item.id, base_url)
        return media

    def _media_for_inbound(self, spec: Json, kind: str) -> MediaItem:
        if spec.get("media_id"):
            item = self.media(str(spec["media_id"]))
            if item is None:
                raise SimulatorError(f"unknown media_id {spec['media_id']}; upload it with POST /_sim/media")
            return item
        if spec.get("data_base64"):
            try:
                data = base64.b64decode(spec["data_base64"], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise SimulatorError("data_base64 is not valid base64") from exc
            default_mime = {"sticker": "image/webp", "audio": "audio/ogg"}.get(
                kind, "application/octet-stream"
            )
            return self.store_media(data, str(spec.get("mime_type") or default_mime), spec.get("filename"))
        raise SimulatorError(f"a {kind} message needs media_id (from POST /_sim/media) or data_base64")

    # ---- webhook delivery -----------------------------------------------------------------

    def _envelope(self, **value: Any) -> Json:
        cfg = self.config
        return wire.envelope(cfg.waba_id, cfg.display_phone_number, cfg.phone_number_id, **value)

    def _encode(self, payload: Json) -> bytes:
        return wire.encode_body(payload, self.config.escape_non_ascii)

    def _signature(self, body: bytes) -> str:
        return wire.sign(self.config.app_secret, body)

    def _post_webhook(self, body: bytes, headers: Mapping[str, str]) -> tuple[int | None, str, str | None]:
        url = self.config.webhook_url
        if not url:
            return None, "", "no webhook_url configured"
        try:
            response = requests.post(
                url, data=body, headers=dict(headers), timeout=self.config.webhook_timeout_seconds
            )
        except requests.RequestException as exc:
            return None, "", f"{type(exc).__name__}: {exc}"
        return response.status_code, response.text[:1000], None

    def _attempt(
        self,
        kind: str,
        wamids: list[str],
        body: bytes,
        signature: str | None,
        number: int,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Json:
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        headers.update(extra_headers or {})
        status, text, error = self._post_webhook(body, headers)
        attempt = {
            "kind": kind,
            "wamids": wamids,
            "attempt": number,
            "status": status,
            "error": error,
            "response": text,
            "at": time.time(),
        }
        with self._lock:
            self._deliveries.append(attempt)
            if kind == "inbound":
                self._note_inbound_delivery(wamids, status)
            self._changed.notify_all()
        return attempt

    def _note_inbound_delivery(self, wamids: list[str], status: int | None) -> None:
        accepted = status is not None and 200 <= status < 300
        for message in self._inbound:
            if message["wamid"] in wamids and message["status"] in {"pending", "failed"}:
                message["status"] = "delivered" if accepted else "pending"

    def _deliver_with_retries(self, kind: str, wamid: str, body: bytes, stop: threading.Event) -> Json:
        signature = self._signature(body)
        attempt = self._attempt(kind, [wamid], body, signature, 1)
        return self._retry(kind, [wamid], body, signature, attempt, stop)

    def _deliver_first_then_retry(self, kind: str, wamids: list[str], body: bytes) -> Json:
        # The first try answers the caller; retries go on in the background like Meta's.
        signature = self._signature(body)
        first = self._attempt(kind, wamids, body, signature, 1)
        if not _accepted(first) and self.config.webhook_url:
            stop = self._stop
            threading.Thread(
                target=self._retry,
                args=(kind, wamids, body, signature, first, stop),
                name="sim-webhook-retry",
                daemon=True,
            ).start()
        return first

    def _retry(
        self, kind: str, wamids: list[str], body: bytes, signature: str, last: Json, stop: threading.Event
    ) -> Json:
        for number, delay in enumerate(self.config.webhook_retry_delays, start=2):
            if _accepted(last) or not self.config.webhook_url or stop.wait(delay):
                break
            last = self._attempt(kind, wamids, body, signature, number)
        if not _accepted(last) and kind == "inbound":
            with self._lock:
                for message in self._inbound:
                    if message["wamid"] in wamids and message["status"] == "pending":
                        message["status"] = "failed"
                self._changed.notify_all()
        return last

    def deliver_raw(self, spec: Json) -> Json:
        """Post arbitrary bytes to the webhook, signed correctly unless told otherwise (no retries)."""
        body = _raw_body(spec)
        if "signature" in spec:
            signature = spec["signature"]  # None omits the header; a string is sent as is
        else:
            secret = spec.get("app_secret") or self.config.app_secret
            signature = wire.sign(str(secret), body)
        extra = spec.get("headers") or {}
        attempt = self._attempt("raw", [], body, signature, 1, extra_headers=extra)
        return {
            "webhook_status": attempt["status"],
            "error": attempt["error"],
            "response": attempt["response"],
        }

    def verify_webhook(self, verify_token: str | None = None) -> Json:
        """Run Meta's GET handshake against the webhook, as saving the URL in the App Dashboard does."""
        challenge = str(secrets.randbelow(10**9))
        params = {
            "hub.mode": "subscribe",
            "hub.challenge": challenge,
            "hub.verify_token": verify_token or self.config.verify_token,
        }
        url = self.config.webhook_url
        if not url:
            raise SimulatorError("no webhook_url configured")
        try:
            response = requests.get(url, params=params, timeout=self.config.webhook_timeout_seconds)
        except requests.RequestException as exc:
            return {"ok": False, "status": None, "error": str(exc)}
        ok = response.status_code == 200 and response.text == challenge
        return {"ok": ok, "status": response.status_code, "body": response.text[:200], "challenge": challenge}

    # ---- media ----------------------------------------------------------------------------

    def store_media(self, data: bytes, mime_type: str, filename: str | None = None) -> MediaItem:
        item = MediaItem(wire.new_media_id(), data, mime_type.strip() or "application/octet-stream", filename)
        with self._lock:
            self._media[item.id] = item
        return item

    def delete_media(self, media_id: str) -> bool:
        with self._lock:
            return self._media.pop(media_id, None) is not None

    def media_url(self, media_id: str, base_url: str) -> str:
        """A fresh download URL for ``media_id`` that stops working after the configured lifetime."""
        token = secrets.token_urlsafe(16)
        expires = time.time() + self.config.media_url_ttl_seconds
        with self._lock:
            self._media_urls[token] = (media_id, expires)
        return f"{base_url.rstrip('/')}/whatsapp_business/attachments/?mid={media_id}&ext={int(expires)}&hash={token}"

    def expire_media_urls(self) -> int:
        """Make every URL handed out so far stale (tests of the "404 -> fetch a new URL" path)."""
        with self._lock:
            count = len(self._media_urls)
            self._media_urls = {token: (mid, 0.0) for token, (mid, _) in self._media_urls.items()}
            return count

    def media_metadata(self, media_id: str, base_url: str) -> tuple[int, Json]:
        failure = self._apply_fault("media_metadata")
        if failure is not None:
            self.record_event("media_metadata", failure[0], None, media_id=media_id, error=failure[1])
            return failure
        item = self.media(media_id)
        if item is None:
            self.record_event("media_metadata", 400, None, media_id=media_id)
            return 400, wire.unknown_object_body(media_id, "get")
        self.record_event("media_metadata", 200, None, media_id=media_id)
        return 200, {
            "messaging_product": "whatsapp",
            "url": self.media_url(media_id, base_url),
            "mime_type": item.mime_type,
            "sha256": item.sha256,
            "file_size": len(item.data),
            "id": item.id,
        }

    def download(self, media_id: str, token: str) -> tuple[int, Json | MediaItem]:
        failure = self._apply_fault("media_download")
        if failure is not None:
            self.record_event("media_download", failure[0], None, media_id=media_id, error=failure[1])
            return failure
        with self._lock:
            issued = self._media_urls.get(token)
        item = self.media(media_id)
        if issued is None or issued[0] != media_id or item is None or issued[1] < time.time():
            self.record_event("media_download", 404, None, media_id=media_id)
            return 404, wire.graph_error_body(100, "URL signature expired", "Fetch a new media URL.")
        self.record_event("media_download", 200, None, media_id=media_id)
        return 200, item

    def upload_from_business(
        self, phone_number_id: str, form: Mapping[str, str], data: bytes, mime_type: str, filename: str | None
    ) -> tuple[int, Json]:
        if phone_number_id != self.config.phone_number_id:
            return 400, wire.unknown_object_body(phone_number_id, "post")
        if form.get("messaging_product") != "whatsapp":
            self.record_event("media_upload", 400, None)
            return 400, wire.graph_error_body(100, "(#100) The parameter messaging_product is required.")
        failure = self._apply_fault("media_upload")
        if failure is not None:
            self.record_event("media_upload", failure[0], None, error=failure[1])
            return failure
        if not data:
            self.record_event("media_upload", 400, None)
            return 400, wire.graph_error_body(100, details="The parameter file is required.")
        item = self.store_media(data, mime_type, filename)
        self.record_event("media_upload", 200, None, media_id=item.id, mime_type=item.mime_type)
        return 200, {"id": item.id}

    # ---- chat page ------------------------------------------------------------------------

    def conversation(self, wa_id: str) -> Json:
        wa_id = _digits(wa_id)
        with self._lock:
            items = [_public(m) for m in self._inbound if m["from"] == wa_id]
            items += [_public(m) for m in self._outbox if m["wa_id"] == wa_id]
            typing = self._typing_until.get(wa_id, 0.0) > time.time()
        items.sort(key=lambda m: m["at"])
        cfg = self.config
        return {
            "wa_id": wa_id,
            "business": {"name": cfg.business_name, "display_phone_number": cfg.display_phone_number},
            "webhook_url": cfg.webhook_url,
            "typing": typing,
            "messages": items,
        }


# --------------------------------------------------------------------------------------------
# Small helpers


def _accepted(attempt: Json) -> bool:
    status = attempt.get("status")
    return status is not None and 200 <= status < 300


def _public(record: Json) -> Json:
    return {k: v for k, v in record.items() if k not in {"request", "message"}}


def _outbound_text(kind: str, content: Json) -> str:
    if kind == "text":
        return str(content.get("body", ""))
    if kind == "reaction":
        return str(content.get("emoji", ""))
    if kind == "interactive":
        return str((content.get("body") or {}).get("text", ""))
    if kind == "template":
        return f"[template {content.get('name', '')}]"
    if kind == "location":
        return " ".join(str(content.get(k, "")) for k in ("name", "address")).strip()
    return str(content.get("caption", ""))


def _inbound_text(kind: str, content: Any) -> str:
    if kind == "interactive" and isinstance(content, dict):
        reply = content.get(content.get("type", "")) or {}
        return str(reply.get("title", ""))
    if kind == "button" and isinstance(content, dict):
        return str(content.get("text", ""))
    if kind == "reaction" and isinstance(content, dict):
        return str(content.get("emoji", ""))
    if kind == "location" and isinstance(content, dict):
        return " ".join(str(content.get(k, "")) for k in ("name", "address")).strip()
    return ""


def _raw_body(spec: Json) -> bytes:
    if "body_base64" in spec:
        return base64.b64decode(spec["body_base64"])
    if "json" in spec:
        return wire.encode_body(spec["json"])
    body = spec.get("body")
    if not isinstance(body, str):
        raise SimulatorError("give body (string), body_base64 or json")
    return body.encode()


# --------------------------------------------------------------------------------------------
# HTTP layer


class GraphVersionConverter(BaseConverter):
    """Matches Graph API version path segments such as ``v27.0``."""

    regex = r"v\d+\.\d+"


def _json(status: int, body: Any) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _auth_failure(sim: WhatsAppSimulator, kind: str) -> Response | None:
    if sim.token_ok(request.headers.get("Authorization")):
        return None
    sim.record_event("auth_failed", 401, None, path=request.path, call=kind)
    return _json(401, wire.graph_error_body(190))


def create_app(sim: WhatsAppSimulator) -> Flask:
    """The Flask app: Graph API subset, media download host, control API and chat page."""
    app = Flask(__name__, static_folder=str(STATIC_DIR), static_url_path="/_sim/static")
    app.url_map.converters["graph_version"] = GraphVersionConverter
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    _add_graph_routes(app, sim)
    _add_control_routes(app, sim)
    return app


def _add_graph_routes(app: Flask, sim: WhatsAppSimulator) -> None:
    @app.post("/<graph_version:version>/<phone_number_id>/messages")
    def post_messages(version: str, phone_number_id: str) -> Response:
        denied = _auth_failure(sim, "messages")
        if denied:
            return denied
        status, body = sim.post_messages(phone_number_id, request.get_json(force=True, silent=True))
        return _json(status, body)

    @app.post("/<graph_version:version>/<phone_number_id>/media")
    def upload_media(version: str, phone_number_id: str) -> Response:
        denied = _auth_failure(sim, "media_upload")
        if denied:
            return denied
        upload = request.files.get("file")
        data = upload.read() if upload else b""
        mime = request.form.get("type") or (upload.mimetype if upload else "") or "application/octet-stream"
        status, body = sim.upload_from_business(
            phone_number_id, request.form, data, mime, upload.filename if upload else None
        )
        return _json(status, body)

    @app.get("/<graph_version:version>/<media_id>")
    def media_metadata(version: str, media_id: str) -> Response:
        denied = _auth_failure(sim, "media_metadata")
        if denied:
            return denied
        status, body = sim.media_metadata(media_id, request.host_url)
        return _json(status, body)

    @app.delete("/<graph_version:version>/<media_id>")
    def delete_media(version: str, media_id: str) -> Response:
        denied = _auth_failure(sim, "media_delete")
        if denied:
            return denied
        if not sim.delete_media(media_id):
            return _json(400, wire.unknown_object_body(media_id, "delete"))
        return _json(200, {"success": True})

    @app.get("/whatsapp_business/attachments/")
    def download_media() -> Response:
        denied = _auth_failure(sim, "media_download")
        if denied:
            return denied
        status, result = sim.download(request.args.get("mid", ""), request.args.get("hash", ""))
        if not isinstance(result, MediaItem):
            return _json(status, result)
        return Response(result.data, status=200, content_type=result.mime_type)


def _control_body() -> Json:
    body = request.get_json(force=True, silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise SimulatorError("the body must be a JSON object")
    return body


def _add_control_routes(app: Flask, sim: WhatsAppSimulator) -> None:
    @app.errorhandler(SimulatorError)
    def bad_control_request(exc: SimulatorError) -> Response:
        return _json(400, {"error": str(exc)})

    @app.get("/")
    def chat_page() -> Response:
        return send_from_directory(STATIC_DIR, "index.html")

    @app.get("/_sim/health")
    def health() -> Response:
        return _json(200, {"ok": True})

    @app.post("/_sim/inbound")
    def inbound() -> Response:
        return _json(200, sim.send_inbound(_control_body(), request.host_url))

    @app.post("/_sim/redeliver")
    def redeliver() -> Response:
        return _json(200, sim.redeliver(str(_control_body().get("wamid", ""))))

    @app.post("/_sim/deliver-raw")
    def deliver_raw() -> Response:
        return _json(200, sim.deliver_raw(_control_body()))

    @app.post("/_sim/verify-webhook")
    def verify_webhook() -> Response:
        return _json(200, sim.verify_webhook(_control_body().get("verify_token")))

    @app.post("/_sim/statuses")
    def push_status() -> Response:
        body = _control_body()
        if body.get("status", "read") not in STATUS_STATES:
            raise SimulatorError(f"status must be one of {sorted(STATUS_STATES)}")
        errors = [wire.webhook_error(int(body["code"]))] if body.get("code") else None
        result = sim.push_status(str(body.get("wamid", "")), str(body.get("status", "read")), errors)
        return _json(200, result)

    @app.post("/_sim/media")
    def store_media() -> Response:
        upload = request.files.get("file")
        if upload is not None:
            data = upload.read()
            mime = request.form.get("mime_type") or upload.mimetype
            filename = request.form.get("filename") or upload.filename
        else:
            data = request.get_data()
            mime = request.args.get("mime_type") or request.mimetype
            filename = request.args.get("filename")
        if not data:
            raise SimulatorError("send a multipart 'file' field or the raw bytes as the body")
        item = sim.store_media(data, mime or "application/octet-stream", filename)
        return _json(200, item.summary())

    @app.get("/_sim/media/<media_id>")
    def media_content(media_id: str) -> Response:
        item = sim.media(media_id)
        if item is None:
            return _json(404, {"error": "no such media"})
        return Response(item.data, content_type=item.mime_type)

    @app.post("/_sim/expire-media-urls")
    def expire_media_urls() -> Response:
        return _json(200, {"expired": sim.expire_media_urls()})

    @app.get("/_sim/outbox")
    def outbox() -> Response:
        wa_id = request.args.get("wa_id")
        wait_count = request.args.get("wait_count", type=int)
        if wait_count:
            messages = sim.wait_outbox(wait_count, request.args.get("timeout", 10.0, type=float), wa_id)
        else:
            messages = sim.outbox(wa_id)
        return _json(200, {"messages": messages})

    @app.get("/_sim/events")
    def events() -> Response:
        return _json(200, {"events": sim.events(request.args.get("kind"))})

    @app.get("/_sim/inbox")
    def inbox() -> Response:
        return _json(200, {"messages": sim.inbound()})

    @app.get("/_sim/deliveries")
    def deliveries() -> Response:
        return _json(200, {"deliveries": sim.deliveries()})

    @app.route("/_sim/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> Response:
        if request.method == "DELETE":
            sim.clear_faults()
        elif request.method == "POST":
            try:
                sim.add_faults(fault_specs(request.get_json(force=True, silent=True)))
            except (ValueError, TypeError) as exc:
                raise SimulatorError(str(exc)) from exc
        return _json(200, {"faults": sim.faults()})

    @app.route("/_sim/config", methods=["GET", "POST"])
    def config() -> Response:
        if request.method == "POST":
            try:
                sim.configure(_control_body())
            except (ValueError, TypeError) as exc:
                raise SimulatorError(str(exc)) from exc
        return _json(200, sim.config.public())

    @app.post("/_sim/reset")
    def reset() -> Response:
        sim.reset()
        return _json(200, {"ok": True})

    @app.get("/_sim/conversation")
    def conversation() -> Response:
        return _json(200, sim.conversation(request.args.get("wa_id", DEFAULT_USER_WA_ID)))


# --------------------------------------------------------------------------------------------
# Entry points


def start_simulator(
    port: int = 0,
    host: str = "127.0.0.1",
    config: SimulatorConfig | None = None,
    log_requests: bool = False,
    **overrides: Any,
) -> RunningServer[WhatsAppSimulator]:
    """Start the simulator in a daemon thread; ``.state`` is the :class:`WhatsAppSimulator`.

    ``overrides`` are :class:`SimulatorConfig` fields, e.g. ``webhook_url=..., app_secret=...``.
    """
    base = config or SimulatorConfig()
    sim = WhatsAppSimulator(base.updated(overrides) if overrides else base)
    return start_server(
        create_app(sim),
        sim,
        host=host,
        port=port,
        name="whatsapp-simulator",
        on_stop=sim.close,
        log_requests=log_requests,
        quiet_paths=("/_sim/conversation", "/_sim/static", "/_sim/media/"),
    )


def graph_api_url(server: RunningServer[Any], version: str = DEFAULT_API_VERSION) -> str:
    """The value for ``WHATSAPP_API_URL`` that points our code at a running simulator."""
    return f"{server.url}/{version}"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    defaults = SimulatorConfig.from_env()
    parser = argparse.ArgumentParser(description="Local WhatsApp Cloud API simulator (Meta's side).")
    parser.add_argument("--host", default=os.environ.get("SIMULATOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIMULATOR_PORT", DEFAULT_PORT)))
    parser.add_argument("--webhook-url", default=defaults.webhook_url, help="where to POST webhooks")
    parser.add_argument("--app-secret", default=defaults.app_secret, help="signs X-Hub-Signature-256")
    parser.add_argument("--token", default=defaults.access_token, help="bearer token Graph calls must carry")
    parser.add_argument("--verify-token", default=defaults.verify_token)
    parser.add_argument("--phone-number-id", default=defaults.phone_number_id)
    parser.add_argument("--display-phone-number", default=defaults.display_phone_number)
    parser.add_argument("--waba-id", default=defaults.waba_id)
    parser.add_argument("--status-delay", type=float, default=defaults.status_delay_seconds)
    parser.add_argument("--no-auto-read", action="store_true", help="stop status webhooks at 'delivered'")
    parser.add_argument("--media-url-ttl", type=float, default=defaults.media_url_ttl_seconds)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    config = SimulatorConfig.from_env().updated(
        {
            "webhook_url": args.webhook_url,
            "app_secret": args.app_secret,
            "access_token": args.token,
            "verify_token": args.verify_token,
            "phone_number_id": args.phone_number_id,
            "display_phone_number": args.display_phone_number,
            "waba_id": args.waba_id,
            "status_delay_seconds": args.status_delay,
            "auto_read": not args.no_auto_read,
            "media_url_ttl_seconds": args.media_url_ttl,
        }
    )
    running = start_simulator(args.port, args.host, config, log_requests=True)
    banner = (
        f"WhatsApp simulator: chat page {running.url}/  Graph API {graph_api_url(running)}\n"
        f"  phone_number_id={config.phone_number_id}  webhook={config.webhook_url or '(none)'}"
    )
    run_until_signalled(running, banner)


if __name__ == "__main__":
    main()


__all__ = [
    "DEFAULT_API_VERSION",
    "Fault",
    "MediaItem",
    "SimulatorConfig",
    "SimulatorError",
    "WhatsAppSimulator",
    "create_app",
    "graph_api_url",
    "start_simulator",
]

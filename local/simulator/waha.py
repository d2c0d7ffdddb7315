"""WAHA mode: the simulator plays a WAHA server (the self-hosted WhatsApp HTTP API) for one session.

It is the business number beside the Cloud API one: the same users, the same chat page (pick the
number at its top), the same outbox and call log, with WAHA's side of the wire:

- the send endpoints our code calls (``X-Api-Key`` required): ``POST /api/sendText``,
  ``/api/sendSeen``, ``/api/startTyping``, ``/api/stopTyping``, and the files of users' media at
  ``GET /api/files/<session>/<file>``;
- webhooks to ``waha_webhook_url`` as WAHA posts them, signed with ``waha_hmac_key``
  (X-Webhook-Hmac, HMAC-SHA512; unsigned when the key is empty): a user's message as ``message``
  and again as ``message.any``; each of our sends as ``message.any`` with ``fromMe`` and
  ``source: "api"``, then ``message.ack`` SERVER, DEVICE and (``auto_read``) READ; retried until
  the receiver answers 2xx, as WAHA's webhook retries do;
- ``business_echo``: the business typing on its own phone (``message.any``, ``source: "app"``).

Records carry ``"provider": "waha"``; ``conversation(wa_id, "waha")`` is that number's thread.
Faults: target ``waha_send`` fails or hangs ``/api/sendText`` (``{"target": "waha_send",
"http_status": 500}``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from typing import Any

import requests

from local.simulator import wire
from local.simulator.config import DEFAULT_USER_NAME, DEFAULT_USER_WA_ID
from local.simulator.media import MediaHost, MediaItem
from local.simulator.state import SimulatorError, SimulatorState, digits
from local.simulator.wire import Json

PROVIDER = "waha"
# WAHA's signing headers; the signature is computed here, not with our code's, like any outsider's.
HEADER, ALGORITHM_HEADER, ALGORITHM = "X-Webhook-Hmac", "X-Webhook-Hmac-Algorithm", "sha512"
_EXTENSIONS = {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp", "audio/ogg": "oga"}
_KINDS = {"image": "image", "video": "video", "audio": "audio", "voice": "ptt", "document": "document"}


def _hex_id() -> str:
    return "3EB0" + secrets.token_hex(8).upper()


def chat_of(wa_id: str) -> str:
    return f"{digits(wa_id)}@c.us"


class WahaServer:
    """One WAHA session: its API, its files and its webhooks."""

    def __init__(self, state: SimulatorState, media: MediaHost) -> None:
        self._state = state
        self._media = media
        self.clear()

    def clear(self) -> None:
        with self._state.lock:
            self._files: dict[str, str] = {}  # file name under /api/files/<session>/ -> media id
            self._deliveries: list[Json] = []

    def deliveries(self) -> list[Json]:
        with self._state.lock:
            return [dict(d) for d in self._deliveries]

    # ---- the API our code calls -----------------------------------------------------------

    def key_ok(self, header: str | None) -> bool:
        return bool(header) and header == self._state.config.waha_api_key

    def _session_ok(self, body: Any) -> Json:
        if not isinstance(body, dict):
            raise SimulatorError("the body must be a JSON object")
        if body.get("session") != self._state.config.waha_session:
            raise _NotFound(f"Session '{body.get('session')}' does not exist")
        return body

    def send_text(self, body: Any) -> tuple[int, Json]:
        try:
            body = self._session_ok(body)
        except _NotFound as exc:
            return 404, _error(404, str(exc))
        failed = self._state.apply_fault("waha_send")
        if failed is not None:
            status = failed[0]
            self._state.record_event("waha_send", status, body)
            return status, _error(status, "simulated WAHA failure")
        chat, text = str(body.get("chatId") or ""), body.get("text")
        if not chat.endswith("@c.us") or not isinstance(text, str) or not text:
            self._state.record_event("waha_send", 400, body)
            return 400, _error(400, "chatId must be <number>@c.us and text a non-empty string")
        wamid = f"true_{chat}_{_hex_id()}"
        record: Json = {
            "direction": "out",
            "provider": PROVIDER,
            "wamid": wamid,
            "to": chat,
            "wa_id": chat.split("@")[0],
            "type": "text",
            "text": text,
            "media": None,
            "interactive": None,
            "reply_to": body.get("reply_to"),
            "at": time.time(),
            "status": "accepted",
            "statuses": [],
            "errors": [],
            "request": body,
        }
        with self._state.lock:
            self._state.outbox.append(record)
            self._state.typing_until.pop(record["wa_id"], None)
            self._state.changed.notify_all()
        self._state.record_event("waha_send", 201, body, wamid=wamid)
        self._background(self._after_send, record)
        serialized = {"fromMe": True, "remote": chat, "id": wamid.rsplit("_", 1)[1], "_serialized": wamid}
        return 201, {
            "id": serialized,
            "body": text,
            "fromMe": True,
            "to": chat,
            "timestamp": int(time.time()),
        }

    def send_seen(self, body: Any) -> tuple[int, Json]:
        try:
            body = self._session_ok(body)
        except _NotFound as exc:
            return 404, _error(404, str(exc))
        ids = body.get("messageIds") or [body.get("messageId")]
        for wamid in ids:
            if isinstance(wamid, str):
                self._state.mark_read_up_to(wamid)
        self._state.record_event("waha_seen", 201, body)
        return 201, {}

    def typing(self, body: Any, on: bool) -> tuple[int, Json]:
        try:
            body = self._session_ok(body)
        except _NotFound as exc:
            return 404, _error(404, str(exc))
        wa_id = str(body.get("chatId") or "").split("@")[0]
        with self._state.lock:
            if on:
                self._state.typing_until[wa_id] = time.time() + 25
            else:
                self._state.typing_until.pop(wa_id, None)
            self._state.changed.notify_all()
        self._state.record_event("waha_start_typing" if on else "waha_stop_typing", 201, body)
        return 201, {}

    def file(self, session: str, name: str) -> MediaItem | None:
        if session != self._state.config.waha_session:
            return None
        with self._state.lock:
            media_id = self._files.get(name)
        return self._media.get(media_id) if media_id else None

    # ---- the users' side ------------------------------------------------------------------

    def send_inbound(self, spec: Json, base_url: str) -> Json:
        """Act as a user writing to the WAHA number: ``message``, then ``message.any``, webhooks."""
        sender = digits(str(spec.get("from") or DEFAULT_USER_WA_ID))
        if not sender:
            raise SimulatorError("from must be a phone number")
        kind = str(spec.get("type", "text"))
        if kind == "audio" and spec.get("voice"):
            kind = "voice"  # recorded on the chat page: a WhatsApp voice note (ptt)
        chat = chat_of(sender)
        wamid = str(spec.get("wamid") or f"false_{chat}_{_hex_id()}")
        name = str(spec.get("name") or DEFAULT_USER_NAME)
        payload: Json = {
            "id": wamid,
            "timestamp": int(spec.get("timestamp") or time.time()),
            "from": chat,
            "fromMe": False,
            "source": "app",
            "to": f"{self._state.config.waha_phone_number}@c.us",
            "body": "",
            "hasMedia": False,
            "media": None,
            "ack": 1,
            "ackName": "SERVER",
            "replyTo": None,
            "vCards": [],
            "_data": {"notifyName": name, "type": "chat"},
        }
        record: Json = {
            "direction": "in",
            "provider": PROVIDER,
            "wamid": wamid,
            "from": sender,
            "name": name,
            "type": "audio" if kind == "voice" else kind,  # as the chat page shows it
            "text": "",
            "media": None,
            "reply_to": None,
            "at": time.time(),
            "status": "pending",
        }
        self._content(spec, kind, wamid, payload, record, base_url)
        quoted = (spec.get("context") or {}).get("id") if isinstance(spec.get("context"), dict) else None
        if quoted:
            payload["replyTo"] = {"id": quoted, "participant": payload["to"], "body": None}
            record["reply_to"] = quoted
        with self._state.lock:
            self._state.inbound.append(record)
            self._state.changed.notify_all()
        first = self._deliver("message", payload, wamids=[wamid], retry_in_background=True)
        self._background(self._deliver_any, payload, wamid)
        return {"wamid": wamid, "wamids": [wamid], "webhook_status": first["status"], "error": first["error"]}

    def business_echo(self, spec: Json) -> Json:
        """The business typing on its own phone to a user (``message.any``, ``source: "app"``)."""
        to = digits(str(spec.get("to") or DEFAULT_USER_WA_ID))
        text = spec.get("text")
        if not to or not isinstance(text, str) or not text:
            raise SimulatorError("a business echo needs `to` (a number) and `text`")
        chat = chat_of(to)
        wamid = f"true_{chat}_{_hex_id()}"
        with self._state.lock:
            self._state.outbox.append(
                {
                    "direction": "out",
                    "provider": PROVIDER,
                    "wamid": wamid,
                    "to": chat,
                    "wa_id": to,
                    "type": "text",
                    "text": text,
                    "media": None,
                    "interactive": None,
                    "reply_to": None,
                    "at": time.time(),
                    "status": "sent",
                    "statuses": [],
                    "errors": [],
                    "from_phone": True,
                }
            )
            self._state.changed.notify_all()
        payload = self._own_message(wamid, chat, text, source="app")
        attempt = self._deliver("message.any", payload, wamids=[wamid])
        return {"wamid": wamid, "webhook_status": attempt["status"], "error": attempt["error"]}

    def _content(self, spec: Json, kind: str, wamid: str, payload: Json, record: Json, base_url: str) -> None:
        if kind == "text":
            text = spec.get("text")
            if not isinstance(text, str) or not text:
                raise SimulatorError("a text message needs a non-empty text")
            payload["body"] = record["text"] = text
            return
        if kind not in _KINDS:
            raise SimulatorError(f"WAHA mode sends text, {', '.join(_KINDS)}; not {kind!r}")
        item = self._stored_media(spec)
        extension = _EXTENSIONS.get(item.mime_type.split(";")[0], "bin")
        name = f"{wamid}.{extension}"
        with self._state.lock:
            self._files[name] = item.id
        mime = "audio/ogg; codecs=opus" if kind == "voice" else item.mime_type
        caption = str(spec.get("caption") or "")
        payload.update(
            {
                "body": caption,
                "hasMedia": True,
                "media": {
                    "url": f"{base_url.rstrip('/')}/api/files/{self._state.config.waha_session}/{name}",
                    "mimetype": mime,
                    "filename": spec.get("filename") or item.filename,
                    "error": None,
                },
                "_data": {**payload["_data"], "type": _KINDS[kind]},
            }
        )
        record["text"] = caption
        record["media"] = {
            "id": item.id,
            "mime_type": mime,
            "filename": item.filename,
            "voice": kind == "voice",
        }

    def _stored_media(self, spec: Json) -> MediaItem:
        if spec.get("media_id"):
            item = self._media.get(str(spec["media_id"]))
            if item is None:
                raise SimulatorError(f"unknown media_id {spec['media_id']}; upload it with POST /_sim/media")
            return item
        try:
            data = base64.b64decode(str(spec.get("data_base64") or ""), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SimulatorError("data_base64 is not valid base64") from exc
        if not data:
            raise SimulatorError("a media message needs media_id (from POST /_sim/media) or data_base64")
        return self._media.store(
            data, str(spec.get("mime_type") or "application/octet-stream"), spec.get("filename")
        )

    # ---- what WAHA reports after a send ---------------------------------------------------

    def _own_message(self, wamid: str, chat: str, text: str, *, source: str) -> Json:
        return {
            "id": wamid,
            "timestamp": int(time.time()),
            "from": f"{self._state.config.waha_phone_number}@c.us",
            "fromMe": True,
            "source": source,
            "to": chat,
            "body": text,
            "hasMedia": False,
            "media": None,
            "ack": 1,
            "ackName": "SERVER",
            "replyTo": None,
            "vCards": [],
            "_data": {"type": "chat"},
        }

    def _after_send(self, record: Json, stop: threading.Event) -> None:
        delay = self._state.config.status_delay_seconds
        self._deliver(
            "message.any", self._own_message(record["wamid"], record["to"], record["text"], source="api")
        )
        acks = [(1, "SERVER", "sent"), (2, "DEVICE", "delivered")]
        if self._state.config.auto_read:
            acks.append((3, "READ", "read"))
        for ack, name, status in acks:
            if stop.wait(delay):
                return
            with self._state.lock:
                record["status"] = status
                record["statuses"].append(
                    {"status": status, "timestamp": str(int(time.time())), "at": time.time()}
                )
                self._state.changed.notify_all()
            payload = {
                "id": record["wamid"],
                "from": f"{self._state.config.waha_phone_number}@c.us",
                "to": record["to"],
                "participant": None,
                "fromMe": True,
                "ack": ack,
                "ackName": name,
            }
            self._deliver("message.ack", payload, stop=stop)

    def _deliver_any(self, payload: Json, wamid: str, stop: threading.Event) -> None:
        if not stop.wait(self._state.config.status_delay_seconds / 2):
            self._deliver("message.any", payload, wamids=[wamid], stop=stop)

    def _background(self, work: Any, *args: Any) -> None:
        stop = self._state.stop
        threading.Thread(target=work, args=(*args, stop), name="sim-waha", daemon=True).start()

    # ---- webhooks -------------------------------------------------------------------------

    def envelope(self, event: str, payload: Json) -> Json:
        cfg = self._state.config
        return {
            "id": "evt_" + secrets.token_hex(13).upper(),
            "timestamp": int(time.time() * 1000),
            "event": event,
            "session": cfg.waha_session,
            "me": {"id": f"{cfg.waha_phone_number}@c.us", "pushName": cfg.business_name},
            "payload": payload,
            "engine": "WEBJS",
            "environment": {"version": "2026.11.1", "engine": "WEBJS", "tier": "CORE", "browser": None},
        }

    def _deliver(
        self,
        event: str,
        payload: Json,
        *,
        wamids: list[str] | None = None,
        stop: threading.Event | None = None,
        retry_in_background: bool = False,
    ) -> Json:
        """Post one event (as WAHA does: compact JSON, signed) and retry it until it is taken."""
        body = wire.encode_body(self.envelope(event, payload), escape_non_ascii=False)
        stop = stop or self._state.stop
        attempt = self._attempt(event, body, wamids or [], 1)
        if retry_in_background and not _accepted(attempt):
            threading.Thread(
                target=self._retry, args=(event, body, wamids or [], attempt, stop), daemon=True
            ).start()
            return attempt
        return self._retry(event, body, wamids or [], attempt, stop)

    def _retry(self, event: str, body: bytes, wamids: list[str], last: Json, stop: threading.Event) -> Json:
        for number, delay in enumerate(self._state.config.webhook_retry_delays, start=2):
            if _accepted(last) or not self._state.config.waha_webhook_url or stop.wait(delay):
                break
            last = self._attempt(event, body, wamids, number)
        if not _accepted(last) and wamids and event == "message":
            self._state.give_up_inbound(wamids)
        return last

    def _attempt(self, event: str, body: bytes, wamids: list[str], number: int) -> Json:
        cfg = self._state.config
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Request-Id": secrets.token_hex(12),
            "X-Webhook-Timestamp": str(int(time.time() * 1000)),
        }
        if cfg.waha_hmac_key:
            headers[HEADER] = hmac.new(cfg.waha_hmac_key.encode(), body, hashlib.sha512).hexdigest()
            headers[ALGORITHM_HEADER] = ALGORITHM
        status: int | None = None
        error: str | None = None
        text = ""
        if not cfg.waha_webhook_url:
            error = "no waha_webhook_url configured"
        else:
            try:
                response = requests.post(
                    cfg.waha_webhook_url, data=body, headers=headers, timeout=cfg.webhook_timeout_seconds
                )
                status, text = response.status_code, response.text[:1000]
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"
        attempt = {
            "kind": event,
            "wamids": wamids,
            "attempt": number,
            "status": status,
            "error": error,
            "response": text,
            "at": time.time(),
        }
        with self._state.lock:
            self._deliveries.append(attempt)
            if event == "message":
                self._state.note_inbound_delivery(wamids, status)
            self._state.changed.notify_all()
        return attempt


class _NotFound(Exception):
    pass


def _error(status: int, message: str) -> Json:
    return {"statusCode": status, "message": message, "error": "simulated"}


def _accepted(attempt: Json) -> bool:
    status = attempt.get("status")
    return status is not None and 200 <= status < 300

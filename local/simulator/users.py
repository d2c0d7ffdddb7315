"""The WhatsApp users' side: what a user writes becomes the ``messages`` webhook Meta posts.

A control request names the sender, the type and the content in a short form (``"text": "hi"``,
``"media_id"`` or ``"data_base64"``); this module builds the message exactly as Meta shapes it (one
envelope for a ``batch``, one contact per sender, media announced by id and sha256, voice notes as
``audio/ogg; codecs=opus``) and hands it to the webhook sender.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from local.simulator import wire
from local.simulator.config import DEFAULT_USER_NAME, DEFAULT_USER_WA_ID
from local.simulator.identities import Identities
from local.simulator.media import MediaHost, MediaItem
from local.simulator.state import SimulatorError, SimulatorState, digits
from local.simulator.webhooks import WebhookSender
from local.simulator.wire import MEDIA_TYPES, Json


class Users:
    """Acts as any number of WhatsApp users writing to the business number."""

    def __init__(self, state: SimulatorState, media: MediaHost, webhooks: WebhookSender) -> None:
        self._state = state
        self._media = media
        self._webhooks = webhooks

    def send(self, spec: Json, base_url: str = "") -> Json:
        """Act as the WhatsApp user: build Meta's envelope for one message (or a ``batch``), sign, deliver."""
        specs = spec.get("batch") or [spec]
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise SimulatorError("batch must be a list of message objects")
        built = [self._message(s, base_url) for s in specs]
        contacts: list[Json] = []
        seen: set[str] = set()
        identities = Identities(self._state)
        for message, record in built:
            if message["type"] != "system" and record["from"] not in seen:
                seen.add(record["from"])
                contacts.append(identities.contact(record["from"], record["name"]))
        payload = self._webhooks.envelope(
            phone_number_id=spec.get("phone_number_id"),  # which business number they write to
            contacts=contacts or None,
            messages=[m for m, _ in built],
        )
        body = self._webhooks.encode(payload)
        state = self._state
        with state.lock:
            for _, record in built:
                state.inbound.append(record)
                self._webhooks.remember(record["wamid"], body)
            state.changed.notify_all()
        wamids = [record["wamid"] for _, record in built]
        first = self._webhooks.deliver_first_then_retry("inbound", wamids, body)
        return {
            "wamid": wamids[0],
            "wamids": wamids,
            "webhook_status": first["status"],
            "error": first["error"],
            "body": payload,
        }

    def _message(self, spec: Json, base_url: str) -> tuple[Json, Json]:
        """The ``messages[]`` item Meta sends, and the record the simulator keeps of it."""
        sender = digits(str(spec.get("from") or DEFAULT_USER_WA_ID))
        if not sender:
            raise SimulatorError("from must be a phone number")
        kind = str(spec.get("type", "text"))
        voice = kind == "voice" or bool(spec.get("voice"))
        kind = "audio" if kind == "voice" else kind
        wamid = str(spec.get("wamid") or wire.new_wamid(sender, inbound=True))
        message: Json = {
            **Identities(self._state).sender_fields(sender),
            "id": wamid,
            "timestamp": str(int(spec.get("timestamp") or self._state.now())),
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
            "at": self._state.now(),
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
            built.setdefault("from", self._state.config.display_phone_number)
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
            message[kind] = self._media_object(spec, kind, voice, base_url)
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

    def _media_object(self, spec: Json, kind: str, voice: bool, base_url: str) -> Json:
        item = self._stored_media(spec, kind)
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
            media["url"] = self._media.url(item.id, base_url)
        return media

    def _stored_media(self, spec: Json, kind: str) -> MediaItem:
        if spec.get("media_id"):
            item = self._media.get(str(spec["media_id"]))
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
            return self._media.store(data, str(spec.get("mime_type") or default_mime), spec.get("filename"))
        raise SimulatorError(f"a {kind} message needs media_id (from POST /_sim/media) or data_base64")


def _inbound_text(kind: str, content: Any) -> str:
    """The line the chat page shows for a message of a kind that carries no text of its own."""
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

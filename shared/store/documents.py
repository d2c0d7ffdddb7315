"""Typed WhatsApp messages -> the Firestore documents of the data model (ARCHITECTURE.md).

Type-specific maps keep Meta's key names so that a reader who knows the webhook reference
knows the documents too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.store.schema import Direction, InboundStatus, MediaStatus
from shared.whatsapp.models import (
    MEDIA_TYPES,
    REPLYABLE_TYPES,
    ButtonMessage,
    ContactsMessage,
    InboundMessage,
    InteractiveMessage,
    LocationMessage,
    MediaMessage,
    ReactionMessage,
    SystemMessage,
    UnsupportedMessage,
)

PREVIEW_CHARS = 120


def inbound_status(message: InboundMessage) -> InboundStatus:
    """Media waits for the media function; other replyable messages are ready at once."""
    if message.type in MEDIA_TYPES:
        return InboundStatus.RECEIVED
    return InboundStatus.READY if message.type in REPLYABLE_TYPES else InboundStatus.IGNORED


def preview(message_type: str, text: str) -> str:
    """The line the conversation list shows for a message of `message_type` saying `text`."""
    text = " ".join(text.split())
    if message_type in MEDIA_TYPES or not text:
        text = f"[{message_type}] {text}".strip()
    return text[:PREVIEW_CHARS]


def inbound_message_document(
    message: InboundMessage,
    *,
    profile_name: str | None,
    received_at: datetime,
    expire_at: datetime | None,
) -> dict[str, Any]:
    """The message as stored, holding everything its conversation's summary is made of, so the
    consumer of its job can bring the conversation up to date from this document (and its
    conversation id) alone."""
    doc: dict[str, Any] = {
        "wamid": message.wamid,
        "direction": Direction.INBOUND.value,
        "type": message.type.value,
        "text": message.text,
        "sender": message.sender,  # the key the webhook filed it by: the phone, else the BSUID
        "timestamp": message.timestamp,
        "received_at": received_at,
        "created_at": received_at,  # every message, either direction, is ordered by created_at
        "status": inbound_status(message).value,
        "reply_to": message.reply_to,
        "forwarded": message.forwarded,
        "error": None,
    }
    if profile_name:
        doc["profile_name"] = profile_name  # contacts[].profile.name as it came with this message
    user = message.user
    for name, value in (
        ("wa_id", user.wa_id),
        ("user_id", user.user_id),
        ("parent_user_id", user.parent_user_id),
        ("username", user.username),
    ):
        if value:
            doc[name] = value  # who the user was with this message (shared/store/identity.py)
    if expire_at is not None:
        doc["expire_at"] = expire_at
    if message.errors:
        doc["error"] = message.errors[0].as_dict()
    doc.update(_type_fields(message))
    return doc


def _type_fields(message: InboundMessage) -> dict[str, Any]:
    match message:
        case MediaMessage(media=m):
            return {
                "media": {
                    "id": m.id,
                    "mime_type": m.mime_type,
                    "sha256": m.sha256,
                    "url": m.url,
                    "filename": m.filename,
                    "voice": m.voice,
                    "animated": m.animated,
                    "size_bytes": None,
                    "gcs_uri": None,
                    "status": MediaStatus.PENDING.value,
                }
            }
        case LocationMessage(location=loc):
            return {
                "location": {
                    "latitude": loc.latitude,
                    "longitude": loc.longitude,
                    "name": loc.name,
                    "address": loc.address,
                    "url": loc.url,
                }
            }
        case ContactsMessage(contacts=cards):
            return {"contacts": list(cards)}
        case InteractiveMessage(reply=r):
            return {
                "interactive": {"type": r.type, "id": r.id, "title": r.title, "description": r.description}
            }
        case ButtonMessage(button=b):
            return {"button": {"text": b.text, "payload": b.payload}}
        case ReactionMessage(reaction=r):
            reaction: dict[str, Any] = {"message_id": r.message_id}
            if r.emoji:
                reaction["emoji"] = r.emoji
            return {"reaction": reaction}
        case UnsupportedMessage(unsupported_type=kind):
            return {"unsupported": {"type": kind}}
        case SystemMessage(system=s):
            system = {"type": s.type, "body": s.body, "wa_id": s.wa_id}
            for name in ("user_id", "parent_user_id", "previous_user_id", "previous_parent_user_id"):
                if value := getattr(s, name):
                    system[name] = value
            return {"system": system}
    return {}

"""What one chat bubble shows, decided once from the message document.

The page renders these with Jinja and the live updates send them as JSON for the browser to
lay out with textContent; deciding the content here keeps both renderings saying the same thing.
Everything a WhatsApp user wrote stays plain text in these objects: escaping is the renderer's job.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from shared.store.jobs import can_restart

MediaUrl = Callable[[str, str], str]  # (message id, variant) -> URL of the dashboard's media proxy

# "unknown": an operator's send WhatsApp never answered; nothing will ever say what became of it.
FINAL_OUTBOUND = frozenset({"read", "played", "failed", "unknown"})
FINAL_INBOUND = frozenset({"answered", "ignored", "failed", "history"})
MEDIA_KINDS = frozenset({"image", "audio", "video", "document", "sticker"})

TYPE_ICONS = {
    "text": "message-square",
    "image": "image",
    "audio": "mic",
    "video": "video",
    "document": "file-text",
    "sticker": "smile",
    "location": "map-pin",
    "contacts": "user",
    "interactive": "list",
    "button": "check-square",
    "reaction": "heart",
    "unsupported": "help-circle",
    "system": "info",
    "template": "file-text",
}
INBOUND_STATUS_LABELS = {
    "received": "processing media",
    "ready": "waiting for a reply",
    "answered": "answered",
    "failed": "failed",
    "ignored": "not answered",
    "history": "from the Business app's history",
}


@dataclass(frozen=True)
class ErrorView:
    code: str
    title: str
    detail: str

    @classmethod
    def from_value(cls, value: Any) -> ErrorView | None:
        if not isinstance(value, Mapping):
            return None
        code = value.get("code")
        return cls(
            code="" if code is None else str(code),
            title=str(value.get("title") or "failed"),
            detail=str(value.get("detail") or ""),
        )


@dataclass(frozen=True)
class MediaView:
    kind: str
    status: str  # pending | ready | failed
    url: str  # what the browser shows or plays ("" while nothing is stored)
    download_url: str  # the original, as sent
    poster_url: str
    mime_type: str
    filename: str
    size_bytes: int | None
    voice: bool
    transcript: str
    text_excerpt: str
    failure_reason: str


@dataclass(frozen=True)
class SourceView:
    """A knowledge passage the reply was given, as the record keeps it."""

    source: str  # "document › heading"
    text: str
    similarity: float | None
    cited: bool  # the answer says it relied on it

    @classmethod
    def from_value(cls, value: Any) -> SourceView | None:
        if not isinstance(value, Mapping):
            return None
        title, heading = _text(value.get("title")), _text(value.get("heading"))
        return cls(
            source=f"{title} › {heading}" if heading else title or "document",
            text=_text(value.get("text")),
            similarity=_number(value.get("similarity")),
            cited=bool(value.get("cited")),
        )


@dataclass(frozen=True)
class AiDetails:
    model: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int | None
    finish_reason: str
    error: str
    thinking_tokens: int | None = None  # billed as output, apart from the answer's
    sources: tuple[SourceView, ...] = ()  # the knowledge it was given, cited ones first
    handoff: str = ""  # why the assistant handed the conversation to a person
    envelope_error: str = ""  # why its answer was read as plain text

    @classmethod
    def from_document(cls, data: Mapping[str, Any]) -> AiDetails:
        def number(name: str) -> int | None:
            value = data.get(name)
            return int(value) if isinstance(value, int | float) and math.isfinite(value) else None

        error = data.get("error")
        knowledge = data.get("knowledge")
        sources = (
            [v for v in (SourceView.from_value(k) for k in knowledge or ()) if v]
            if isinstance(knowledge, list)
            else []
        )
        handoff = data.get("handoff")
        return cls(
            sources=tuple(sorted(sources, key=lambda v: not v.cited)),
            handoff=_text(handoff.get("reason"))
            if isinstance(handoff, Mapping) and handoff.get("honoured")
            else "",
            envelope_error=_text(data.get("envelope_error")),
            model=str(data.get("model") or ""),
            input_tokens=number("input_tokens"),
            output_tokens=number("output_tokens"),
            thinking_tokens=number("thinking_tokens"),
            latency_ms=number("latency_ms"),
            finish_reason=str(data.get("finish_reason") or ""),
            error=str(error.get("title") or error.get("message") or error)
            if isinstance(error, Mapping)
            else str(error or ""),
        )


@dataclass(frozen=True)
class MessageView:
    id: str
    direction: str  # inbound | outbound
    author: str  # customer | ai | operator | business_app
    author_label: str
    type: str
    icon: str
    text: str
    details: tuple[str, ...]  # further plain-text lines: an address, contact cards, a reaction
    link_label: str
    link_url: str  # only URLs we build ourselves (a map), never one a user sent
    at: datetime | None
    status: str
    status_label: str
    final: bool  # nothing about this message will change any more: live updates stop asking
    error: ErrorView | None
    media: MediaView | None
    ai: AiDetails | None
    reply_to_text: str
    forwarded: bool
    can_retry: bool
    retried: bool
    version: str = field(default="")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.astimezone(UTC).isoformat(timespec="microseconds") if self.at else None
        return data


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _created_at(data: Mapping[str, Any]) -> datetime | None:
    for name in ("created_at", "received_at", "timestamp"):
        value = data.get(name)
        if isinstance(value, datetime):
            return value
    return None


def _media_view(message_id: str, kind: str, media: Mapping[str, Any], media_url: MediaUrl) -> MediaView:
    original = bool(media.get("gcs_uri"))
    derived = bool(media.get("derived_uri"))
    # Images show the re-encoded copy (metadata stripped, bounded size); sound and video play
    # what the customer sent, which browsers handle, falling back to the transcoded copy.
    if kind in ("image", "sticker"):
        shown = "derived" if derived else ("original" if original else "")
    else:
        shown = "original" if original else ("derived" if derived else "")
    size = media.get("size_bytes")
    return MediaView(
        kind=kind,
        status=_text(media.get("status")) or "pending",
        url=media_url(message_id, shown) if shown else "",
        download_url=media_url(message_id, "original") if original else "",
        poster_url=media_url(message_id, "poster") if media.get("poster_uri") else "",
        mime_type=_text(media.get("mime_type")),
        filename=_text(media.get("filename")),
        size_bytes=int(size) if isinstance(size, int | float) else None,
        voice=bool(media.get("voice")),
        transcript=_text(media.get("transcript")),
        text_excerpt=_text(media.get("text_excerpt")),
        failure_reason=_text(media.get("failure_reason")),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _details(kind: str, data: Mapping[str, Any]) -> tuple[list[str], str, str]:
    """Extra lines for non-text types, and a link (label, url) where one helps."""
    if kind == "location" and isinstance(loc := data.get("location"), Mapping):
        lat, lon = _number(loc.get("latitude")), _number(loc.get("longitude"))
        lines = [s for s in (_text(loc.get("name")), _text(loc.get("address"))) if s]
        if lat is None or lon is None:
            return lines, "", ""
        lines.append(f"{lat:.5f}, {lon:.5f}")
        return (
            lines,
            "Open map",
            f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=16/{lat:.6f}/{lon:.6f}",
        )
    if kind == "contacts" and isinstance(cards := data.get("contacts"), list):
        lines = []
        for card in cards[:10]:
            if not isinstance(card, Mapping):
                continue
            name = card.get("name")
            label = _text(name.get("formatted_name")) if isinstance(name, Mapping) else ""
            phones = [_text(p.get("phone")) for p in card.get("phones") or [] if isinstance(p, Mapping)]
            lines.append(" · ".join(s for s in (label, *phones) if s) or "contact card")
        return lines, "", ""
    if kind == "reaction" and isinstance(reaction := data.get("reaction"), Mapping):
        emoji = _text(reaction.get("emoji"))
        return [f"reacted {emoji}" if emoji else "removed a reaction"], "", ""
    if kind == "unsupported":
        inner = data.get("unsupported")
        name = _text(inner.get("type")) if isinstance(inner, Mapping) else ""
        return [f"a message WhatsApp does not support{f' ({name})' if name else ''}"], "", ""
    if kind == "system" and isinstance(system := data.get("system"), Mapping):
        return [s for s in (_text(system.get("body")),) if s], "", ""
    if kind == "button" and isinstance(button := data.get("button"), Mapping):
        return ["tapped a button"] if button.get("text") else [], "", ""
    if kind == "interactive" and isinstance(reply := data.get("interactive"), Mapping):
        if isinstance(options := reply.get("options"), list):  # choices the assistant offered
            return [f"▸ {_text(o.get('title'))}" for o in options if isinstance(o, Mapping)], "", ""
        return [s for s in (_text(reply.get("description")),) if s], "", ""
    if kind == "template" and isinstance(template := data.get("template"), Mapping):
        parts = (
            _text(template.get("name")),
            _text(template.get("language")),
            _text(template.get("category")).lower(),
        )
        line = "template " + " · ".join(p for p in parts if p)
        if template.get("reengagement"):
            line += " (sent by the assistant to reopen the conversation)"
        return [line], "", ""
    return [], "", ""


def _version(view: MessageView) -> str:
    encoded = json.dumps(view.to_json(), sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def message_view(
    message_id: str,
    data: Mapping[str, Any],
    *,
    customer_name: str,
    media_url: MediaUrl,
    ai_response: Mapping[str, Any] | None = None,
    reply_to_text: str = "",
    now: datetime | None = None,
) -> MessageView:
    direction = "outbound" if data.get("direction") == "outbound" else "inbound"
    kind = _text(data.get("type")) or "text"
    status = _text(data.get("status"))
    media_data = data.get("media")
    media = (
        _media_view(message_id, kind, media_data, media_url)
        if kind in MEDIA_KINDS and isinstance(media_data, Mapping)
        else None
    )
    if direction == "outbound":
        author = {"operator": "operator", "business_app": "business_app"}.get(
            _text(data.get("sent_by")), "ai"
        )
        # Behind IAP the operator is an email worth showing; the local login has one shared name.
        operator_name = _text(data.get("operator"))
        named = f"Operator ({operator_name})" if "@" in operator_name else "Operator"
        # The owner, from the WhatsApp Business app on the same number (Coexistence echoes).
        author_label = {"ai": "AI", "business_app": "Business app"}.get(author, named)
        final = status in FINAL_OUTBOUND
        status_label = "may not have been delivered" if status == "unknown" else status or "accepted"
        retried = bool(data.get("retried_as"))
        can_retry = status == "failed" and kind == "text" and not retried and bool(_text(data.get("text")))
    else:
        author, author_label = "customer", customer_name or "Customer"
        final = status in FINAL_INBOUND and (media is None or media.status in ("ready", "failed"))
        status_label = INBOUND_STATUS_LABELS.get(status, status)
        retried = False
        # Failed, or stuck unanswered (its job lost, dead-lettered or out of attempts).
        can_retry = can_restart(dict(data), now or datetime.now(UTC))
    # A burst withheld on purpose (opt-out, a limit) says why, the way a failure does.
    error = ErrorView.from_value(data.get("error") or data.get("withheld"))
    if error is None and media is not None and media.status == "failed" and media.failure_reason:
        error = ErrorView(code="", title="media could not be processed", detail=media.failure_reason)
    details, link_label, link_url = _details(kind, data)
    if data.get("revoked"):
        details = ["deleted for everyone by its sender", *details]  # kept here for the record
    text = _text(data.get("text"))
    if kind == "button" and not text and isinstance(data.get("button"), Mapping):
        text = _text(data["button"].get("text"))
    view = MessageView(
        id=message_id,
        direction=direction,
        author=author,
        author_label=author_label,
        type=kind,
        icon=TYPE_ICONS.get(kind, "message-square"),
        text=text,
        details=tuple(details),
        link_label=link_label,
        link_url=link_url,
        at=_created_at(data),
        status=status,
        status_label=status_label,
        final=final,
        error=error,
        media=media,
        ai=AiDetails.from_document(ai_response) if ai_response is not None else None,
        reply_to_text=reply_to_text,
        forwarded=bool(data.get("forwarded")),
        can_retry=can_retry,
        retried=retried,
    )
    return replace(view, version=_version(view))

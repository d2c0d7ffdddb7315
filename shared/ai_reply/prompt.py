"""The conversation as the model reads it: stored messages -> Gemini `Content` turns.

Pure functions over message documents, so what the model is told can be tested without a
database. Customers' messages are the `user` turns; everything the business sent (the
assistant's and operators' replies) is the `model` side. Each message becomes readable text
(a location as coordinates and name, a tapped button as its title, a quoted reply as a quote)
plus, for media, the parts `media_parts` supplies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.genai import types

MessageDoc = Mapping[str, Any]
# Given a media message, the parts that show the model its content (empty: describe it instead).
MediaParts = Callable[[MessageDoc], list[types.Part]]

QUOTE_CHARS = 300


def _no_media(_: MessageDoc) -> list[types.Part]:
    return []


def describe(message: MessageDoc) -> str:
    """What a message says, in words (media content itself comes as separate parts)."""
    kind = message.get("type", "text")
    text = (message.get("text") or "").strip()
    if kind == "location":
        loc = message.get("location") or {}
        place = ", ".join(p for p in (loc.get("name"), loc.get("address")) if p)
        coords = f"{loc.get('latitude')}, {loc.get('longitude')}"
        return f"[Shared a location: {place} ({coords})]" if place else f"[Shared a location: {coords}]"
    if kind == "contacts":
        cards = [_contact_card(c) for c in message.get("contacts") or []]
        return "[Shared contact" + ("s" if len(cards) > 1 else "") + ": " + "; ".join(cards) + "]"
    if kind == "interactive" and message.get("direction") == "outbound":
        return _offered(text, message.get("interactive"))
    if kind in ("interactive", "button"):
        return f"[Tapped: {text}]"
    if kind in ("image", "audio", "video", "document", "sticker"):
        return _describe_media(kind, message, text)
    return text


def _offered(text: str, interactive: Any) -> str:
    """The assistant's own message with choices: the choices as it wrote them, whole."""
    options = (interactive or {}).get("options") if isinstance(interactive, Mapping) else None
    titles = [
        str(o.get("full_title") or o.get("title") or "") for o in options or () if isinstance(o, Mapping)
    ]
    return f"{text}\n[Offered choices: {' | '.join(t for t in titles if t)}]" if titles else text


def _contact_card(card: Mapping[str, Any]) -> str:
    name = (card.get("name") or {}).get("formatted_name") or "unnamed"
    phones = ", ".join(p.get("phone") or p.get("wa_id") or "" for p in card.get("phones") or [])
    return f"{name} ({phones})" if phones else name


def _describe_media(kind: str, message: MessageDoc, caption: str) -> str:
    media = message.get("media") or {}
    label = {"audio": "voice note" if media.get("voice") else "audio file"}.get(kind, kind)
    if kind == "document" and media.get("filename"):
        label += f" named {media['filename']!r}"
    if media.get("mime_type") and kind == "document":
        label += f" ({media['mime_type'].split(';')[0]})"
    if media.get("status") == "failed":
        reason = media.get("failure_reason") or "it could not be opened"
        label += f" that could not be opened: {reason}"
    elif media.get("text_excerpt") and media.get("model_source") == "text":
        label += ". Its text:\n" + media["text_excerpt"]
    return f"[Sent a {label}]" + (f" {caption}" if caption else "")


def render(
    message: MessageDoc, quotes: Mapping[str, str], media_parts: MediaParts = _no_media
) -> list[types.Part]:
    """One message as parts: its text (with the quote it replies to) and any media."""
    text = describe(message)
    quoted = quotes.get(message.get("reply_to") or "")
    if quoted:
        short = quoted if len(quoted) <= QUOTE_CHARS else quoted[: QUOTE_CHARS - 1] + "…"
        text = f'(replying to: "{short}")\n{text}'
    parts = media_parts(message) if message.get("direction") == "inbound" else []
    if text:
        parts.append(types.Part.from_text(text=text))
    return parts


def bound_history(history: Sequence[MessageDoc], max_turns: int, max_chars: int) -> list[MessageDoc]:
    """The most recent messages that fit both limits, oldest first."""
    kept: list[MessageDoc] = []
    used = 0
    for message in reversed(history[-max_turns:] if max_turns > 0 else []):
        size = len(describe(message))
        if kept and used + size > max_chars:
            break
        kept.append(message)
        used += size
    return list(reversed(kept))


def build_contents(
    history: Sequence[MessageDoc],
    burst: Sequence[MessageDoc],
    quotes: Mapping[str, str],
    media_parts: MediaParts = _no_media,
) -> list[types.Content]:
    """Turns for the model: history, then the burst of new messages as the last user turn."""
    turns: list[types.Content] = []
    new = {id(m) for m in burst}
    for message in [*history, *burst]:
        role = "user" if message.get("direction") == "inbound" else "model"
        # Media of older messages is not sent again: the model already answered it, and
        # re-sending photos on every turn would multiply the cost of long conversations.
        parts = render(message, quotes, media_parts if id(message) in new else _no_media)
        if not parts:
            continue
        if turns and turns[-1].role == role:
            turns[-1].parts = [*(turns[-1].parts or []), *parts]
        else:
            turns.append(types.Content(role=role, parts=parts))
    while turns and turns[0].role != "user":
        turns.pop(0)  # a conversation the model sees starts with the customer
    return turns


def lead_with(turns: list[types.Content], part: types.Part) -> None:
    """Put `part` first in the burst's turn (the last, the customer's): what the model is told
    about the burst before reading it, such as the knowledge passages found for it."""
    if turns and turns[-1].role == "user":
        turns[-1].parts = [part, *(turns[-1].parts or [])]

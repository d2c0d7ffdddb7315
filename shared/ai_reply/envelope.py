"""The model's answer as a JSON envelope: the text, optional choices, an optional handoff, sources.

The request carries `SCHEMA` as its response schema (`response_json_schema`), so Gemini answers
with a JSON object of this shape. An answer that is not such an object (cut off at the output
cap, or a model that ignored the schema) is not lost: its text goes out as plain text and the
reply records why (`Envelope.error`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from shared.whatsapp.interactive import ChoiceKind, Choices, Option

MAX_OPTIONS = 10  # told to the model; more are cut by shared/whatsapp/interactive.py

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {
            "type": "string",
            "description": "The message to the customer: plain WhatsApp text in their language.",
        },
        "choices": {
            "type": "object",
            "description": "Only when the customer should pick one of a few options: they tap instead of typing.",
            "properties": {
                "kind": {
                    "type": "string",
                    "enum": ["buttons", "list"],
                    "description": "buttons for up to 3 short options, list for up to 10.",
                },
                "button": {
                    "type": "string",
                    "description": "list only: the label that opens it (20 characters).",
                },
                "options": {
                    "type": "array",
                    "maxItems": MAX_OPTIONS,
                    "items": {
                        "type": "object",
                        "properties": {
                            "title": {"type": "string", "description": "Up to 20 characters."},
                            "description": {"type": "string", "description": "list only, optional."},
                        },
                        "required": ["title"],
                    },
                },
            },
            "required": ["kind", "options"],
        },
        "handoff": {
            "type": "object",
            "description": "Only when a person from the business must take over.",
            "properties": {"reason": {"type": "string", "description": "Why, for the team, in English."}},
            "required": ["reason"],
        },
        "sources": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "The numbers of the knowledge passages the text relies on.",
        },
    },
    "required": ["text"],
}

_TEXT_FIELD = re.compile(r'"text"\s*:\s*"((?:[^"\\]|\\.)*)"', re.DOTALL)


@dataclass(frozen=True)
class Envelope:
    text: str
    choices: Choices | None = None
    handoff_reason: str | None = None
    sources: tuple[int, ...] = field(default_factory=tuple)
    error: str | None = None  # why the answer was read as plain text

    @property
    def parsed(self) -> bool:
        return self.error is None


def read_envelope(raw: str) -> Envelope:
    """The envelope in the model's answer; when there is none, its text as plain text, and why."""
    stripped = _without_fence(raw.strip())
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        return Envelope(_salvaged_text(stripped), error=f"not JSON: {exc.msg} at character {exc.pos}")
    if isinstance(data, str):
        return Envelope(data.strip(), error="a JSON string, not an object")
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return Envelope("", error="JSON without a text field")
    return Envelope(
        text=data["text"].strip(),
        choices=_choices(data.get("choices")),
        handoff_reason=_handoff(data.get("handoff")),
        sources=tuple(n for n in data.get("sources") or () if isinstance(n, int) and not isinstance(n, bool)),
    )


def _without_fence(text: str) -> str:
    """Some models wrap JSON in a Markdown code fence even when asked for JSON."""
    if text.startswith("```") and text.endswith("```"):
        text = text.strip("`")
        return text.removeprefix("json").strip()
    return text


def _salvaged_text(text: str) -> str:
    """What a customer may read of an answer that is not JSON: the text field of a cut-off
    envelope, or the answer itself when it was never JSON."""
    if not text.startswith("{"):
        return text
    match = _TEXT_FIELD.search(text)
    if match is None:
        return ""
    try:
        return str(json.loads(f'"{match[1]}"')).strip()
    except json.JSONDecodeError:
        return ""


def _choices(value: Any) -> Choices | None:
    if not isinstance(value, dict) or not isinstance(value.get("options"), list):
        return None
    options = tuple(
        Option(str(o.get("title") or ""), str(o.get("description") or ""))
        for o in value["options"]
        if isinstance(o, dict)
    )
    kind = ChoiceKind.LIST if value.get("kind") == ChoiceKind.LIST.value else ChoiceKind.BUTTONS
    return Choices(kind, options, str(value.get("button") or "")) if options else None


def _handoff(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    reason = " ".join(str(value.get("reason") or "").split())
    return reason[:500] or "The assistant asked for a person to take over."

"""An interactive message (Meta's `interactive` object: reply buttons, a list, a link button) as
plain text, for a provider or a chat that cannot show it: the options numbered, so the customer
can answer with a number or the option's words, and the assistant reads either."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.whatsapp.text import TEXT_LIMIT, meta_length

CHOOSE = "Reply with the number or the name of your choice."


def _text(obj: Any, key: str = "text") -> str:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value.strip() if isinstance(value, str) else ""


def _options(action: Mapping[str, Any]) -> list[str]:
    options: list[str] = []
    for button in action.get("buttons") or []:
        if isinstance(button, Mapping) and (title := _text(button.get("reply"), "title")):
            options.append(title)
    for section in action.get("sections") or []:
        if not isinstance(section, Mapping):
            continue
        for row in section.get("rows") or []:
            if isinstance(row, Mapping) and (title := _text(row, "title")):
                description = _text(row, "description")
                options.append(f"{title} - {description}" if description else title)
    return options


def plain_text_of(interactive: Mapping[str, Any]) -> str:
    """The message's header, body, numbered options and footer as one text message."""
    action = interactive.get("action") if isinstance(interactive.get("action"), Mapping) else {}
    lines = [line for line in (_text(interactive.get("header")), _text(interactive.get("body"))) if line]
    options = _options(action)
    if options:
        lines.append("\n".join(f"{n}. {option}" for n, option in enumerate(options, 1)))
    parameters = action.get("parameters")
    if isinstance(parameters, Mapping) and (url := _text(parameters, "url")):
        label = _text(parameters, "display_text")
        lines.append(f"{label}: {url}" if label else url)
    if footer := _text(interactive.get("footer")):
        lines.append(footer)
    if options:
        lines.append(CHOOSE)
    text = "\n\n".join(lines)
    if not text:
        raise ValueError("the interactive message has no text to send")
    if meta_length(text) > TEXT_LIMIT:
        raise ValueError(
            f"the interactive message is {meta_length(text)} UTF-16 units as text, over {TEXT_LIMIT}"
        )
    return text

"""Choices as one interactive message that Meta accepts: reply buttons or a list, within its limits.

Meta refuses (131009) an interactive message with a button title over 20 characters, more than
3 buttons, a row title over 24, more than 10 rows, a body over 1,024 characters (buttons) or
4,096 (list), or two buttons of the same title. The assistant's choices are written for people,
not for those limits, so they are fitted here: titles are cut at a word boundary (an ellipsis
marks the cut) and, in a list, a cut title goes on whole in the row's description; options past
the tenth are left out; duplicates are dropped and cut titles made unique. Lengths are counted
as Meta counts them (UTF-16 units, shared/whatsapp/text.py). The tap comes back as an
`interactive` message with the option's id and (cut) title.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.whatsapp.text import meta_length

MAX_BUTTONS = 3
BUTTON_TITLE_LIMIT = 20
BUTTONS_BODY_LIMIT = 1024
MAX_ROWS = 10
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
LIST_BUTTON_LIMIT = 20
LIST_BODY_LIMIT = 4096
DEFAULT_LIST_BUTTON = "Choose"
ELLIPSIS = "…"


class ChoiceKind(StrEnum):
    BUTTONS = "buttons"
    LIST = "list"


@dataclass(frozen=True)
class Option:
    title: str
    description: str = ""


@dataclass(frozen=True)
class Choices:
    """What the assistant offers, as it wrote it (any length, any number)."""

    kind: ChoiceKind
    options: tuple[Option, ...]
    button: str = ""  # a list's button label


@dataclass(frozen=True)
class FittedOption:
    id: str
    title: str
    description: str = ""
    full_title: str = ""  # as the assistant wrote it, for the record and the conversation's history


@dataclass(frozen=True)
class FittedChoices:
    """Choices within Meta's limits, ready to send."""

    kind: ChoiceKind
    options: tuple[FittedOption, ...]
    button: str
    left_out: int = 0  # options past the list's tenth row

    @property
    def body_limit(self) -> int:
        return BUTTONS_BODY_LIMIT if self.kind is ChoiceKind.BUTTONS else LIST_BODY_LIMIT

    def as_record(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "button": self.button,
            "options": [
                {"id": o.id, "title": o.title, "description": o.description, "full_title": o.full_title}
                for o in self.options
            ],
            "left_out": self.left_out,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> FittedChoices:
        return cls(
            kind=ChoiceKind(data["kind"]),
            button=str(data.get("button") or ""),
            options=tuple(
                FittedOption(
                    id=str(o["id"]),
                    title=str(o["title"]),
                    description=str(o.get("description") or ""),
                    full_title=str(o.get("full_title") or o["title"]),
                )
                for o in data.get("options") or ()
            ),
            left_out=int(data.get("left_out") or 0),
        )

    def payload(self, body: str) -> dict[str, Any]:
        """The `interactive` object of a send, around `body` (at most `body_limit`)."""
        if not body.strip() or meta_length(body) > self.body_limit:
            raise ValueError(f"an interactive body must have 1 to {self.body_limit} characters")
        if self.kind is ChoiceKind.BUTTONS:
            return {
                "type": "button",
                "body": {"text": body},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": o.id, "title": o.title}} for o in self.options
                    ]
                },
            }
        rows = []
        for o in self.options:
            row: dict[str, str] = {"id": o.id, "title": o.title}
            if o.description:
                row["description"] = o.description
            rows.append(row)
        return {
            "type": "list",
            "body": {"text": body},
            # One section: its title is required only when there are several.
            "action": {"button": self.button, "sections": [{"rows": rows}]},
        }


def cut_at_word(text: str, limit: int) -> str:
    """`text` in at most `limit` UTF-16 units, cut after a whole word with an ellipsis when too long."""
    text = " ".join(text.split())
    if meta_length(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    kept = ""
    for word in text.split(" "):
        candidate = f"{kept} {word}" if kept else word
        if meta_length(candidate) > room:
            break
        kept = candidate
    if not kept:  # one word longer than the limit: cut inside it, on a whole character
        for char in text:
            if meta_length(kept + char) > room:
                break
            kept += char
    return kept.rstrip(" ,;:.-") + ELLIPSIS


def fit(choices: Choices) -> FittedChoices | None:
    """The choices as Meta takes them; None when no option has a title."""
    seen: set[str] = set()
    options: list[Option] = []
    for option in choices.options:
        title = " ".join(option.title.split())
        if title and title.casefold() not in seen:
            seen.add(title.casefold())
            options.append(Option(title, " ".join(option.description.split())))
    if not options:
        return None
    kind = ChoiceKind.LIST if choices.kind is ChoiceKind.LIST or len(options) > MAX_BUTTONS else choices.kind
    shown = options[: MAX_BUTTONS if kind is ChoiceKind.BUTTONS else MAX_ROWS]
    title_limit = BUTTON_TITLE_LIMIT if kind is ChoiceKind.BUTTONS else ROW_TITLE_LIMIT
    fitted: list[FittedOption] = []
    titles: set[str] = set()
    for number, option in enumerate(shown, start=1):
        title = _unique(cut_at_word(option.title, title_limit), titles, title_limit)
        titles.add(title)
        description = ""
        if kind is ChoiceKind.LIST:
            # A cut title is read whole in the row's description, under its short form.
            text = option.description or (option.title if title != option.title else "")
            description = cut_at_word(text, ROW_DESCRIPTION_LIMIT) if text else ""
        fitted.append(FittedOption(f"choice-{number}", title, description, option.title))
    button = (
        cut_at_word(choices.button or DEFAULT_LIST_BUTTON, LIST_BUTTON_LIMIT)
        if kind is ChoiceKind.LIST
        else ""
    )
    return FittedChoices(kind, tuple(fitted), button, left_out=len(options) - len(shown))


def _unique(title: str, taken: set[str], limit: int) -> str:
    """`title`, or a numbered form of it that no earlier option has (Meta refuses twins)."""
    number = 2
    candidate = title
    while candidate in taken:
        suffix = f" {number}"
        candidate = cut_at_word(title, limit - len(suffix)) + suffix
        number += 1
    return candidate

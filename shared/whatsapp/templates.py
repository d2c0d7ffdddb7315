"""Message templates as WhatsApp defines them: what a template asks for, and a send that fills it.

A template's components (Graph API `message_templates`) hold the text with numbered placeholders
(`{{1}}`, `{{2}}`) in the header and body, and buttons, of which a URL button may end in one
variable. `Template.slots` lists what a send must fill, in the order the operator fills them;
`TemplateMessage` is one send's values, as the `template` object of the message payload, and
`Template.preview` the text the customer will read. Named parameters (`{{first_name}}`) are
read the same way, by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
PARAMETER_LIMIT = 1024  # characters of one text parameter (Meta refuses longer ones)


class TemplateError(ValueError):
    """Values that do not fill the template (missing, empty, or too long); the message says which."""


@dataclass(frozen=True)
class Slot:
    """One value a send must give: `{{key}}` of the header or body, or a URL button's variable."""

    component: str  # "header", "body" or "button"
    key: str  # the placeholder's number or name
    button_index: int | None = None

    @property
    def field_name(self) -> str:
        """The form field that carries this value (`body_1`, `header_1`, `button_0`)."""
        return f"button_{self.button_index}" if self.component == "button" else f"{self.component}_{self.key}"

    @property
    def label(self) -> str:
        if self.component == "button":
            return f"Button {int(self.button_index or 0) + 1} link"
        return f"{self.component.capitalize()} {{{{{self.key}}}}}"


def _placeholders(text: str) -> list[str]:
    seen: list[str] = []
    for key in PLACEHOLDER.findall(text or ""):
        if key not in seen:
            seen.append(key)
    return seen


@dataclass(frozen=True)
class Template:
    """A template of the business account, as the Graph API describes it."""

    id: str
    name: str
    language: str
    category: str  # MARKETING, UTILITY, AUTHENTICATION
    status: str  # APPROVED, PENDING, REJECTED, PAUSED, DISABLED
    quality: str = "UNKNOWN"
    components: tuple[Mapping[str, Any], ...] = ()
    rejected_reason: str | None = None

    @property
    def approved(self) -> bool:
        return self.status == "APPROVED"

    @classmethod
    def from_graph(cls, data: Mapping[str, Any]) -> Template:
        quality = data.get("quality_score")
        score = quality.get("score") if isinstance(quality, Mapping) else quality
        return cls(
            id=str(data.get("id") or ""),
            name=str(data.get("name") or ""),
            language=str(data.get("language") or ""),
            category=str(data.get("category") or "").upper(),
            status=str(data.get("status") or "").upper(),
            quality=str(score or "UNKNOWN").upper(),
            components=tuple(c for c in data.get("components") or () if isinstance(c, Mapping)),
            rejected_reason=(
                str(data["rejected_reason"]) if data.get("rejected_reason") not in (None, "NONE") else None
            ),
        )

    def _component(self, kind: str) -> Mapping[str, Any] | None:
        return next((c for c in self.components if str(c.get("type", "")).upper() == kind), None)

    def text_of(self, kind: str) -> str:
        component = self._component(kind.upper())
        if component is None or str(component.get("format", "TEXT")).upper() != "TEXT":
            return ""
        return str(component.get("text") or "")

    @property
    def buttons(self) -> list[Mapping[str, Any]]:
        component = self._component("BUTTONS")
        return [b for b in (component or {}).get("buttons") or () if isinstance(b, Mapping)]

    @property
    def slots(self) -> list[Slot]:
        slots = [Slot("header", key) for key in _placeholders(self.text_of("header"))]
        slots += [Slot("body", key) for key in _placeholders(self.text_of("body"))]
        for index, button in enumerate(self.buttons):
            if str(button.get("type", "")).upper() == "URL" and _placeholders(str(button.get("url") or "")):
                slots.append(Slot("button", "1", index))
        return slots

    def fill(self, values: Mapping[str, str]) -> TemplateMessage:
        """The send of this template with `values` (by `Slot.field_name`); TemplateError names the
        first value that is missing or too long."""
        filled: dict[str, str] = {}
        for slot in self.slots:
            value = " ".join(str(values.get(slot.field_name) or "").split())
            if not value:
                raise TemplateError(f"{slot.label} is empty")
            if len(value) > PARAMETER_LIMIT:
                raise TemplateError(f"{slot.label} is longer than {PARAMETER_LIMIT} characters")
            filled[slot.field_name] = value
        return TemplateMessage(self, filled)

    def preview(self, values: Mapping[str, str]) -> str:
        """The text the customer reads: header, body and footer with the values in their places."""

        def filled(kind: str) -> str:
            text = self.text_of(kind)
            return PLACEHOLDER.sub(lambda m: values.get(f"{kind}_{m.group(1)}") or m.group(0), text)

        return "\n".join(part for part in (filled("header"), filled("body"), self.text_of("footer")) if part)


@dataclass(frozen=True)
class TemplateMessage:
    """One send of a template: the template and the value of each of its slots."""

    template: Template
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.template.preview(self.values)

    def payload(self) -> dict[str, Any]:
        """The message's `template` object: name, language and the parameters of each component."""
        components: list[dict[str, Any]] = []
        for kind in ("header", "body"):
            slots = [s for s in self.template.slots if s.component == kind]
            if slots:
                components.append({"type": kind, "parameters": [self._parameter(s) for s in slots]})
        for slot in self.template.slots:
            if slot.component == "button":
                components.append(
                    {
                        "type": "button",
                        "sub_type": "url",
                        "index": str(slot.button_index),
                        "parameters": [{"type": "text", "text": self.values[slot.field_name]}],
                    }
                )
        body: dict[str, Any] = {"name": self.template.name, "language": {"code": self.template.language}}
        if components:
            body["components"] = components
        return body

    def _parameter(self, slot: Slot) -> dict[str, Any]:
        parameter: dict[str, Any] = {"type": "text", "text": self.values[slot.field_name]}
        if not slot.key.isdigit():
            parameter["parameter_name"] = slot.key  # named parameters say which they fill
        return parameter


def template_record(message: TemplateMessage, **extra: Any) -> dict[str, Any]:
    """What the outbound message document keeps of a template send."""
    template = message.template
    return {
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "values": dict(message.values),
        **extra,
    }


def parse_template_spec(spec: str) -> tuple[str, str] | None:
    """`"name:language"` (REENGAGE_TEMPLATE) -> (name, language); None when empty."""
    spec = spec.strip()
    if not spec:
        return None
    name, sep, language = spec.partition(":")
    if not sep or not name.strip() or not language.strip():
        raise TemplateError(f"{spec!r} is not name:language, e.g. follow_up:en_US")
    return name.strip(), language.strip()


def slots_of(templates: Sequence[Template]) -> dict[str, list[Slot]]:
    return {f"{t.name}:{t.language}": t.slots for t in templates}

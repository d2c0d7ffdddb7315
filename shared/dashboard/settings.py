"""The Settings page: every business number with its settings, in sections other parts add to.

A number section is a partial template rendered once per business number, given `number` (its
`BusinessNumber`), `defaults` (the environment's `Defaults`) and `refused` (the form an operator
just sent and why it could not be stored, or None); a page section is rendered once, for
settings of the whole deployment. Each section's form posts to a route of its own
(`shared/dashboard/routes/settings.py` holds the voice's) and answers with `refuse` or a
redirect to `saved`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import flask


@dataclass(frozen=True)
class Section:
    id: str  # the form's anchor, and which form a refusal belongs to
    title: str
    template: str  # functions/dashboard/templates/_settings_<topic>.html


NUMBER_SECTIONS: tuple[Section, ...] = (
    Section("voice", "Voice", "_settings_voice.html"),
    Section("limits", "Limits", "_settings_limits.html"),  # shared/dashboard/routes/guardrails.py
    Section("handoff", "Handoff to a person", "_settings_handoff.html"),  # routes/handoff.py
)
PAGE_SECTIONS: tuple[Section, ...] = ()
PAGE_SECTIONS: tuple[Section, ...] = (Section("rates", "Rate card", "_settings_rates.html"),)


@dataclass(frozen=True)
class Refused:
    """A section's form that could not be stored: shown again as sent, with the reasons."""

    phone_number_id: str  # "" for a page section
    section: str
    form: Mapping[str, str]
    errors: Mapping[str, str] = field(default_factory=dict)

    def value(self, name: str, fallback: str = "") -> str:
        return self.form.get(name, fallback)


def anchor(phone_number_id: str, section: str) -> str:
    return f"number-{phone_number_id}-{section}" if phone_number_id else f"settings-{section}"


def saved(phone_number_id: str, section: str) -> flask.Response:
    url = flask.url_for(
        "settings.settings", notice="settings_saved", _anchor=anchor(phone_number_id, section)
    )
    return flask.redirect(url, code=303)

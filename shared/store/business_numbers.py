"""The settings of each business number: `business_numbers/{phone_number_id}`.

One deployment may serve several WhatsApp business numbers (a sales line and a support line,
say). Each number has a document of its own holding what an operator set for it on the
dashboard's Settings page; whatever it leaves unset is the deployment's default from the
environment (`Defaults`, read from `shared/config.py`), so a number nobody configured behaves
exactly as before this document existed, and clearing a field hands it back to the default.

The document:
    phone_number_id    the id Meta sends in `metadata.phone_number_id` (also the document id)
    first_seen_at      when the system first answered a customer on it (`record_seen`)
    updated_at, updated_by   the last operator change
    <setting>          one top-level field per setting of `Defaults` (absent: the default)

How another part of the system adds a per-number setting (the extension point):
  1. a field with its default on `Defaults` (taken from `Settings` in `Defaults.from_settings`)
     and the same name on `BusinessNumber`; `BusinessNumber.from_document` then reads it, falling
     back to the default, and `save` accepts it;
  2. for a text setting, a `TextSetting` in its own tuple (like `VOICE`) that its form and
     `clean_text` use for labels and limits;
  3. on the dashboard: a partial template `_settings_<topic>.html` listed in
     `shared/dashboard/settings.py` and a POST route of its own that calls `save`.
Readers take a `BusinessNumber` (`get`, `for_reply`, `list_numbers`) and never read the
document themselves, so a default always applies the same way.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.config import (
    DEFAULT_FALLBACK_REPLY,
    DEFAULT_HANDOFF_MESSAGE,
    DEFAULT_SYSTEM_INSTRUCTION,
    Settings,
)
from shared.store.schema import CALL, business_number_ref, business_numbers

log = logging.getLogger(__name__)

MAX_LISTED = 500  # numbers one WhatsApp Business account can hold, with room to spare


@dataclass(frozen=True)
class Defaults:
    """Every per-number setting with the value a number gets when it has none of its own."""

    business_name: str = ""
    system_instruction: str = DEFAULT_SYSTEM_INSTRUCTION
    fallback_reply: str = DEFAULT_FALLBACK_REPLY
    handoff_message: str = DEFAULT_HANDOFF_MESSAGE

    @classmethod
    def from_settings(cls, settings: Settings) -> Defaults:
        return cls(
            business_name=settings.business_name,
            system_instruction=settings.system_instruction,
            fallback_reply=settings.fallback_reply,
            handoff_message=settings.handoff_message,
        )


SETTING_NAMES: frozenset[str] = frozenset(f.name for f in fields(Defaults))


@dataclass(frozen=True)
class TextSetting:
    """A text setting as an operator edits it: its label, what it is for, and its limit."""

    name: str  # the document's field, and the attribute of Defaults and BusinessNumber
    label: str
    help: str
    max_chars: int
    multiline: bool = False


# The number's voice: who the assistant speaks for, how it behaves, what it says when the model
# gives nothing.
VOICE: tuple[TextSetting, ...] = (
    TextSetting(
        "business_name",
        "Business name",
        "Who the assistant answers for on this number; it introduces itself with this name.",
        max_chars=100,
    ),
    TextSetting(
        "system_instruction",
        "System instruction",
        "How the assistant behaves on this number: its role, tone, what it may and may not say.",
        max_chars=10_000,
        multiline=True,
    ),
    TextSetting(
        "fallback_reply",
        "Fallback reply",
        "Sent when the model gives no answer (refused, blocked or empty); one WhatsApp message.",
        max_chars=4096,
        multiline=True,
    ),
)


# What the customer reads, once, when the assistant hands the conversation to a person.
HANDOFF: tuple[TextSetting, ...] = (
    TextSetting(
        "handoff_message",
        "Handoff message",
        "Sent once when the assistant hands a conversation to a person (the customer asked for one, "
        "is upset, or asks what it may not answer); the AI then stays paused until you resume it.",
        max_chars=1024,
        multiline=True,
    ),
)


class InvalidSetting(ValueError):
    """An operator's value cannot be stored; the message says why in words for the operator."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True)
class BusinessNumber:
    """One business number's settings, every unset one filled in from the defaults."""

    phone_number_id: str
    business_name: str = ""
    system_instruction: str = DEFAULT_SYSTEM_INSTRUCTION
    fallback_reply: str = DEFAULT_FALLBACK_REPLY
    handoff_message: str = DEFAULT_HANDOFF_MESSAGE
    own: frozenset[str] = frozenset()  # the settings this number has of its own (the rest: defaults)
    first_seen_at: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str = ""

    @classmethod
    def from_document(
        cls, phone_number_id: str, document: Mapping[str, Any] | None, defaults: Defaults
    ) -> BusinessNumber:
        document = document or {}
        values: dict[str, Any] = {}
        own: set[str] = set()
        for name in SETTING_NAMES:
            default = getattr(defaults, name)
            stored = _usable(document.get(name), default)
            if stored is None:
                values[name] = default
            else:
                values[name] = stored
                own.add(name)
        return cls(
            phone_number_id=phone_number_id,
            own=frozenset(own),
            first_seen_at=document.get("first_seen_at"),
            updated_at=document.get("updated_at"),
            updated_by=str(document.get("updated_by") or ""),
            **values,
        )

    def is_default(self, name: str) -> bool:
        return name not in self.own


def _usable(stored: object, default: object) -> object | None:
    """A stored value of the setting's type (a blank text counts as unset); None otherwise."""
    if stored is None:
        return None
    if isinstance(default, bool) or isinstance(stored, bool):
        return stored if isinstance(stored, bool) and isinstance(default, bool) else None
    if isinstance(default, float) and isinstance(stored, int):
        return float(stored)
    if not isinstance(stored, type(default)):
        log.warning("business number setting of the wrong type ignored", extra={"value": repr(stored)})
        return None
    if isinstance(stored, str) and not stored.strip():
        return None
    return stored


def clean_text(setting: TextSetting, raw: str) -> str | None:
    """An operator's text as stored: trimmed, with one kind of line break; None (back to the
    default) when blank. Raises InvalidSetting when it is too long or holds control characters."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not setting.multiline:
        text = " ".join(text.split())
    if not text:
        return None
    if len(text) > setting.max_chars:
        raise InvalidSetting(
            setting.name, f"{setting.label} is {len(text):,} characters; at most {setting.max_chars:,} fit."
        )
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise InvalidSetting(setting.name, f"{setting.label} holds control characters; remove them.")
    return text


# -- reading ---------------------------------------------------------------------------------------


def get(db: firestore.Client, phone_number_id: str, defaults: Defaults) -> BusinessNumber | None:
    """The number's settings; None when it has no document (never seen nor configured)."""
    snap = business_number_ref(db, phone_number_id).get(**CALL)
    return BusinessNumber.from_document(phone_number_id, snap.to_dict(), defaults) if snap.exists else None


def for_reply(
    db: firestore.Client,
    phone_number_id: str,
    defaults: Defaults,
    *,
    later: Callable[..., object] | None = None,
) -> BusinessNumber:
    """The settings a reply on this number uses; the first reply on a number makes it known to
    the Settings page (`record_seen`, handed to `later` to run off the reply's path if given)."""
    number = get(db, phone_number_id, defaults)
    if number is not None:
        return number
    (later or (lambda f, *a: f(*a)))(record_seen, db, phone_number_id)
    return BusinessNumber.from_document(phone_number_id, None, defaults)


def list_numbers(db: firestore.Client, defaults: Defaults) -> list[BusinessNumber]:
    """Every number seen or configured, by phone_number_id."""
    snaps = business_numbers(db).limit(MAX_LISTED).stream(**CALL)
    return [BusinessNumber.from_document(s.id, s.to_dict(), defaults) for s in snaps]


# -- writing ---------------------------------------------------------------------------------------


def record_seen(db: firestore.Client, phone_number_id: str, at: datetime | None = None) -> None:
    """The number exists: its document is created once, with no settings of its own."""
    with contextlib.suppress(gexc.AlreadyExists):
        business_number_ref(db, phone_number_id).create(
            {"phone_number_id": phone_number_id, "first_seen_at": at or datetime.now(UTC)}, **CALL
        )


def save(
    db: firestore.Client, phone_number_id: str, changes: Mapping[str, object | None], *, operator: str
) -> None:
    """Store an operator's `changes` (setting name -> value; None or "" hands it back to the
    default) in one write. Only names of `Defaults` are settings; anything else is refused."""
    unknown = set(changes) - SETTING_NAMES
    if unknown:
        raise ValueError(f"not business number settings: {sorted(unknown)}")
    if not phone_number_id.isdigit():
        raise ValueError(f"not a phone_number_id: {phone_number_id!r}")
    now = datetime.now(UTC)
    document: dict[str, Any] = {
        "phone_number_id": phone_number_id,
        "updated_at": now,
        "updated_by": operator,
    }
    for name, value in changes.items():
        document[name] = firestore.DELETE_FIELD if value is None or value == "" else value
    ref = business_number_ref(db, phone_number_id)
    ref.set(document, merge=True, **CALL)
    log.info(
        "business number settings changed",
        extra={"phone_number_id": phone_number_id, "settings": sorted(changes), "operator": operator},
    )


@dataclass(frozen=True)
class Change:
    """What a form asked to change, cleaned, or the reasons it cannot be stored."""

    values: dict[str, str | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def text_changes(settings: tuple[TextSetting, ...], form: Mapping[str, str]) -> Change:
    """The cleaned values of `settings` found in `form` (a field left out is not changed)."""
    change = Change()
    for setting in settings:
        if setting.name not in form:
            continue
        try:
            change.values[setting.name] = clean_text(setting, form[setting.name])
        except InvalidSetting as exc:
            change.errors[setting.name] = exc.message
    return change

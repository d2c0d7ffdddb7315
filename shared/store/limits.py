"""The limits of one business number: what its settings page sets, the environment's defaults else.

Kept as the `limits` map of `business_numbers/{phone_number_id}` (the per-number settings
document), field by field: a field the page never set follows the environment's default, so
changing a default reaches every number that did not choose otherwise. 0 turns a limit off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

from shared.config import Settings
from shared.store.schema import CALL, business_number_ref

FIELD = "limits"


@dataclass(frozen=True)
class Limits:
    messages_per_minute: int
    messages_per_hour: int
    tokens_per_day: int  # per customer, every model token billed (input, output, thinking)
    spend_cap_usd_per_day: float  # per business number
    notice: str  # sent once to a customer over a limit; empty: the built-in text in their language

    @classmethod
    def defaults(cls, settings: Settings) -> Limits:
        return cls(
            messages_per_minute=settings.limit_messages_per_minute,
            messages_per_hour=settings.limit_messages_per_hour,
            tokens_per_day=settings.limit_tokens_per_day,
            spend_cap_usd_per_day=settings.spend_cap_usd_per_day,
            notice=settings.limit_notice,
        )

    def over(self, chosen: Mapping[str, Any]) -> Limits:
        """These limits with the fields `chosen` sets (the values the settings page stored)."""
        values = asdict(self)
        for f in fields(self):
            value = chosen.get(f.name)
            kind = type(values[f.name])
            if isinstance(value, bool) or value is None:
                continue
            if kind is str and isinstance(value, str):
                values[f.name] = value
            elif kind in (int, float) and isinstance(value, int | float) and value >= 0:
                values[f.name] = kind(value)
        return Limits(**values)


def limits_for(db: firestore.Client, phone_number_id: str, settings: Settings) -> Limits:
    """The limits in force for a business number (one read of its settings document)."""
    snap = business_number_ref(db, phone_number_id).get(**CALL)
    return limits_in(snap.to_dict() if snap.exists else None, settings)


def limits_in(document: Mapping[str, Any] | None, settings: Settings) -> Limits:
    """The limits a business number's settings document (as read) puts in force."""
    chosen = (document or {}).get(FIELD)
    base = Limits.defaults(settings)
    return base.over(chosen) if isinstance(chosen, Mapping) else base


def save_limits(db: firestore.Client, phone_number_id: str, limits: Limits, *, operator: str) -> None:
    """Store every field of `limits` as the number's choice (the settings page's form)."""
    business_number_ref(db, phone_number_id).set(
        {
            FIELD: {
                **asdict(limits),
                "changed_by": operator,
                "changed_at": datetime.now(UTC),
            }
        },
        merge=True,
        **CALL,
    )

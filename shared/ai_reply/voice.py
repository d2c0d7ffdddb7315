"""The voice a reply speaks with: the settings of the business number the customer wrote to.

Read once per reply, so an operator's change on the Settings page applies to the next reply.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.cloud import firestore

from shared.config import Settings
from shared.store import business_numbers
from shared.store.business_numbers import BusinessNumber, Defaults


@dataclass(frozen=True)
class Voice:
    system_instruction: str  # as the model is given it
    fallback_reply: str
    business_name: str


def system_instruction(number: BusinessNumber) -> str:
    """The number's instruction, introduced by the name of the business it answers for."""
    if not number.business_name:
        return number.system_instruction
    return f"You answer on behalf of {number.business_name}.\n\n{number.system_instruction}"


def voice_for(db: firestore.Client, phone_number_id: str, settings: Settings) -> Voice:
    number = business_numbers.for_reply(db, phone_number_id, Defaults.from_settings(settings))
    return Voice(system_instruction(number), number.fallback_reply, number.business_name)

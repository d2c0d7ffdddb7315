"""The voice a reply speaks with: the settings of the business number the customer wrote to.

Read once per reply, so an operator's change on the Settings page applies to the next reply.
The model is given the number's instruction (its business name filled in) and, after it, the
fixed rules of the answer (shared/ai_reply/instruction.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from google.cloud import firestore

from shared.ai_reply import instruction
from shared.config import Settings
from shared.store import business_numbers
from shared.store.business_numbers import BusinessNumber, Defaults


@dataclass(frozen=True)
class Voice:
    system_instruction: str  # as the model is given it
    fallback_reply: str
    business_name: str
    handoff_message: str  # sent once when the assistant hands the conversation to a person


def system_instruction(number: BusinessNumber) -> str:
    """The number's instruction, naming the business it answers for, then the answer's rules.

    The scoped default names it where it says `{business}`; an instruction of the operator's own
    without that placeholder is introduced by the name instead."""
    persona = number.system_instruction
    if number.business_name and instruction.BUSINESS_PLACEHOLDER not in persona:
        persona = f"You answer on behalf of {number.business_name}.\n\n{persona}"
    return instruction.system_instruction(persona, number.business_name)


_SEEN = ThreadPoolExecutor(max_workers=1, thread_name_prefix="number-seen")


def voice_for(db: firestore.Client, phone_number_id: str, settings: Settings) -> Voice:
    number = business_numbers.for_reply(
        db, phone_number_id, Defaults.from_settings(settings), later=_SEEN.submit
    )
    return Voice(
        system_instruction(number), number.fallback_reply, number.business_name, number.handoff_message
    )

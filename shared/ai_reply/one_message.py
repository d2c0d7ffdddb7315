"""One message where one will do: the rule every system instruction ends with.

Since October 2026 every message of an answer is billed on its own, so the model is asked to
keep its answer to one WhatsApp message (4,096 UTF-16 units) with room to spare. The split into
several messages (shared/whatsapp/text.py) stays for the rare answer that still does not fit,
and is counted (`replies_split`, `reply_parts_extra` on the overview).
"""

from __future__ import annotations

# What the model is asked to keep an answer to: one WhatsApp message (4,096 UTF-16 units) with
# room to spare, since every extra message is billed on its own since October 2026. Longer
# answers are still split (shared/whatsapp/text.py), and counted (`replies_split`).
ONE_MESSAGE_CHARS = 3_500
ONE_MESSAGE_RULE = (
    "Your whole answer is sent as one WhatsApp message: keep it under {chars:,} characters, "
    "and much shorter when the question allows. Never continue an answer in a second message."
)


def with_one_message_rule(instruction: str) -> str:
    """The system instruction with the one-message rule, added once whatever the instruction says."""
    rule = ONE_MESSAGE_RULE.format(chars=ONE_MESSAGE_CHARS)
    return instruction if rule in instruction else f"{instruction.rstrip()}\n\n{rule}"

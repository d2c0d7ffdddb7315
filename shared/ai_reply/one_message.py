"""One message where one will do: the rule of the answer (shared/ai_reply/instruction.py) that asks
for it.

Since October 2026 every message of an answer is billed on its own, so the model is asked to
keep its answer to one WhatsApp message (4,096 UTF-16 units) with room to spare. The split into
several messages (shared/whatsapp/text.py) stays for the rare answer that still does not fit,
and is counted (`replies_split`, `reply_parts_extra` on the overview).
"""

from __future__ import annotations

ONE_MESSAGE_CHARS = 3_500
ONE_MESSAGE_RULE = (
    f'- "text" is sent as one WhatsApp message: keep it under {ONE_MESSAGE_CHARS:,} characters, and '
    "much shorter when the question allows. Never continue an answer in a second message."
)

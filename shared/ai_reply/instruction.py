"""The system instruction of a reply: the business's own (scoped to it), then the rules of the answer.

The first part is the business's: its number's instruction from the settings page, or the
scoped default (shared/config.py DEFAULT_SYSTEM_INSTRUCTION), with `{business}` standing for the
business's name. Operators may rewrite it at will. The second part is not theirs to change: it
is the contract the reply job reads the answer by (the JSON envelope, the knowledge passages,
choices, handoff), so an edited persona cannot break sending.
"""

from __future__ import annotations

from shared.ai_reply.one_message import ONE_MESSAGE_RULE
from shared.config import UNNAMED_BUSINESS

BUSINESS_PLACEHOLDER = "{business}"

ANSWER_RULES = (
    """How to answer:
- Answer with a JSON object. "text" is the message the customer reads (a transcript you are asked for goes at its start, as asked).
"""
    + ONE_MESSAGE_RULE
    + """
- Knowledge passages from the business's documents may come before the customer's message, as <passage n="..." source="...">. Answer facts about the business from them only, and list the numbers of the passages you used in "sources". When none holds the answer, say you don't know; never guess.
- When the customer should pick one of a few options (a time slot, a size, a product), add "choices": "buttons" for up to 3 short options (titles up to 20 characters), "list" for up to 10 (titles up to 24 characters). Put the question in "text".
- Add "handoff" with a short reason when a person from the business must take over: the customer asks for a person (in any language), is upset or complaining, or needs something you may not do or answer. Then "text" tells them a colleague will take over, and you stop."""
)


def system_instruction(business_instruction: str, business_name: str) -> str:
    """The instruction the model gets: the business's part (its name filled in), then ANSWER_RULES."""
    name = " ".join(business_name.split()) or UNNAMED_BUSINESS
    persona = business_instruction.replace(BUSINESS_PLACEHOLDER, name).strip()
    return f"{persona}\n\n{ANSWER_RULES}" if persona else ANSWER_RULES

"""The answer as it goes out: the text in WhatsApp-sized parts, the choices fitted to Meta's limits.

Choices ride on the last part, as one interactive message (its body is that part, so it is cut
to the interactive body's limit). A handoff sends the number's handoff message instead of the
model's words, with no choices: it is the one message that tells the customer a person takes
over. An answer with neither words nor choices sends the fallback reply.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.whatsapp.interactive import Choices, FittedChoices, fit
from shared.whatsapp.text import meta_length, split_message

# The body of choices the model gave without a question: a sign, in no language in particular.
CHOICES_ONLY_BODY = "👇"


@dataclass(frozen=True)
class Shaped:
    text: str  # what the customer reads, all parts together
    parts: list[str]
    choices: FittedChoices | None
    fallback: bool  # the model gave nothing to send


def shape_reply(
    model_text: str, choices: Choices | None, *, fallback: str, handoff_message: str | None = None
) -> Shaped:
    if handoff_message is not None:
        return Shaped(handoff_message, split_message(handoff_message), None, fallback=False)
    fitted = fit(choices) if choices is not None else None
    if not model_text and fitted is None:
        return Shaped(fallback, split_message(fallback), None, fallback=True)
    text = model_text or CHOICES_ONLY_BODY
    parts = split_message(text)
    if fitted is not None and meta_length(parts[-1]) > fitted.body_limit:
        parts = [*parts[:-1], *split_message(parts[-1], fitted.body_limit)]
    return Shaped(text, parts, fitted, fallback=False)

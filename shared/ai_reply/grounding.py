"""The business's knowledge for one burst: the passages retrieval finds, as the model reads them.

The question is what the customer wrote in the burst (words, the text of documents they sent
is not a question). The passages go first in the burst's turn, each with its number and source,
so the model can cite them (`sources` in its answer) and operators see which it was given. When
the number has documents but none matches, the model is told so: it should say it does not
know instead of guessing. A retrieval that fails (or takes more than KNOWLEDGE_SECONDS) is
retried with the job; the last attempt answers without knowledge rather than not at all, and the
reply records why. The search runs while the reply reads the conversation's history, so a reply
waits only for what it takes beyond that read.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from google.genai import types

from shared.clients import Clients
from shared.config import Settings
from shared.knowledge.retrieval import RetrievalFailed, Retrieved, retrieve

log = logging.getLogger(__name__)

KNOWLEDGE_SECONDS = 10.0  # the search's share of a reply (shared/ai_reply/budget.py: the rest of the reply)

NO_MATCH = (
    "[No passage of the business's documents matches this message. If it asks for facts about "
    "the business, say you don't know rather than guess.]"
)
INTRO = "[Knowledge passages from the business's documents for this message:]"


@dataclass(frozen=True)
class Grounding:
    retrieved: Retrieved
    error: str | None = None  # retrieval failed on the last attempt: answered without knowledge

    def part(self) -> types.Part | None:
        """The text part that leads the burst's turn; None when there was nothing to search."""
        if not self.retrieved.searched:
            return None
        if not self.retrieved.passages:
            return types.Part.from_text(text=NO_MATCH)
        blocks = [
            f'<passage n="{number}" source="{html.escape(p.source, quote=True)}">\n{_inside(p.text)}\n</passage>'
            for number, p in enumerate(self.retrieved.passages, start=1)
        ]
        return types.Part.from_text(text="\n".join([INTRO, *blocks]))

    def record(self, cited: Sequence[int]) -> dict[str, Any]:
        """What the AI response keeps: each passage given (and whether the answer cited it)."""
        return {
            "knowledge": [
                {**p.as_record(), "cited": number in cited}
                for number, p in enumerate(self.retrieved.passages, start=1)
            ],
            "knowledge_searched": self.retrieved.searched,
            "knowledge_latency_ms": self.retrieved.latency_ms,
            "knowledge_error": self.error,
        }


def _inside(text: str) -> str:
    """A passage's words cannot close its tag early (a document quoting our own markup)."""
    return text.replace("</passage", "</ passage")


def question_of(burst: Sequence[Mapping[str, Any]]) -> str:
    """The customer's own words in the burst: texts, captions and tapped titles."""
    return "\n".join(str(m.get("text") or "").strip() for m in burst if str(m.get("text") or "").strip())


def ground(
    clients: Clients,
    settings: Settings,
    phone_number_id: str,
    burst: Sequence[Mapping[str, Any]],
    *,
    last_attempt: bool,
) -> Grounding:
    """The passages for `burst`; RetrievalFailed unless this is the reply's last attempt."""
    try:
        return Grounding(retrieve(clients, settings, phone_number_id, question_of(burst)))
    except RetrievalFailed as exc:
        if not last_attempt:
            raise
        log.error(
            "knowledge retrieval failed on the last attempt; answering without it", extra={"error": str(exc)}
        )
        return Grounding(Retrieved(), error=str(exc))


def awaited(search: Future[Grounding], seconds: float, *, last_attempt: bool) -> Grounding:
    """The search's result within `seconds`; past them, like a failed search."""
    try:
        return search.result(timeout=seconds)
    except FutureTimeout:
        search.cancel()
        if not last_attempt:
            raise RetrievalFailed(f"the knowledge search took more than {seconds:g} s") from None
        log.error("knowledge search out of time on the last attempt; answering without it")
        return Grounding(Retrieved(), error=f"the knowledge search took more than {seconds:g} s")

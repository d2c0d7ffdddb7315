"""The passages a reply is given: the customer's words embedded as a query, the nearest passages
of the number's documents (and of those for every number) above `KNOWLEDGE_MIN_SIMILARITY`.

A number without documents costs no embedding call, and no query while the instance remembers
it has none (shared/knowledge/scopes.py). A failure of the
embedding model or of the vector search is `RetrievalFailed`: the reply job decides whether to
retry or to answer without knowledge, and records which.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from shared.clients import Clients
from shared.config import Settings
from shared.knowledge.embeddings import EmbeddingFailed, embed_query
from shared.store import knowledge as store
from shared.store.knowledge import FoundPassage

MAX_QUERY_CHARS = 2000  # the end of a long burst says best what is asked now


class RetrievalFailed(Exception):
    """No passages could be looked up (the embedding model or Firestore failed)."""


@dataclass(frozen=True)
class Retrieved:
    passages: tuple[FoundPassage, ...] = field(default_factory=tuple)
    searched: bool = False  # False: nothing to search with, or no documents for this number
    latency_ms: int = 0


def retrieve(clients: Clients, settings: Settings, phone_number_id: str, question: str) -> Retrieved:
    question = " ".join(question.split())[-MAX_QUERY_CHARS:]
    if not question:
        return Retrieved()
    started = time.perf_counter()
    db = clients.firestore
    try:
        if not clients.knowledge_scopes.has_documents(db, phone_number_id):
            return Retrieved()
        vector = embed_query(clients.genai, settings, question)
        passages = store.nearest_passages(
            db,
            phone_number_id,
            vector,
            limit=settings.knowledge_max_passages,
            min_similarity=settings.knowledge_min_similarity,
        )
    except EmbeddingFailed as exc:
        raise RetrievalFailed(str(exc)) from exc
    except Exception as exc:
        from google.api_core import exceptions as gexc

        if isinstance(exc, gexc.GoogleAPICallError | gexc.RetryError):
            raise RetrievalFailed(f"the vector search failed: {exc}") from exc
        raise
    latency_ms = int((time.perf_counter() - started) * 1000)
    return Retrieved(tuple(passages), searched=True, latency_ms=latency_ms)

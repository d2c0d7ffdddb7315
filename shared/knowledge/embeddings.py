"""Texts -> vectors with the Gemini embedding model (`EMBEDDING_MODEL`, `EMBEDDING_DIMENSIONS`).

Passages are embedded as documents (with their document's title, which gemini-embedding-001
weighs) and a customer's question as a query: the model places the two kinds so that a question
lands near the passages that answer it. One request carries at most BATCH texts, the Developer
API's cap for batchEmbedContents. The client is the instance's one genai client (its retries
and timeout are the ones shared/clients.py gives every Gemini call).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from shared.clients import GEMINI_RETRYABLE_STATUS, is_genai_transport_error
from shared.config import Settings

if TYPE_CHECKING:
    from google import genai

BATCH = 100
DOCUMENT = "RETRIEVAL_DOCUMENT"
QUERY = "RETRIEVAL_QUERY"


class EmbeddingFailed(Exception):
    """The embedding model gave no vectors; `retryable` tells an outage from a refusal."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def embed_documents(
    client: genai.Client, settings: Settings, texts: Sequence[str], *, title: str = ""
) -> list[list[float]]:
    """One vector per passage text, in order."""
    vectors: list[list[float]] = []
    for start in range(0, len(texts), BATCH):
        vectors.extend(_embed(client, settings, texts[start : start + BATCH], DOCUMENT, title))
    return vectors


def embed_query(client: genai.Client, settings: Settings, text: str) -> list[float]:
    (vector,) = _embed(client, settings, [text], QUERY, "")
    return vector


def _embed(
    client: genai.Client, settings: Settings, texts: Sequence[str], task: str, title: str
) -> list[list[float]]:
    from google.genai import errors, types

    config = types.EmbedContentConfig(
        task_type=task,
        output_dimensionality=settings.embedding_dimensions,
        title=title or None if task == DOCUMENT else None,
    )
    try:
        response = client.models.embed_content(
            model=settings.embedding_model, contents=list(texts), config=config
        )
    except errors.APIError as exc:
        raise EmbeddingFailed(
            f"the embedding model answered {exc.code} {exc.status}: {exc.message}",
            retryable=exc.code in GEMINI_RETRYABLE_STATUS,
        ) from exc
    except Exception as exc:
        if is_genai_transport_error(exc):
            raise EmbeddingFailed(f"the embedding model did not answer: {exc!r}", retryable=True) from exc
        raise
    embeddings = response.embeddings or []
    if len(embeddings) != len(texts):
        raise EmbeddingFailed(
            f"the embedding model returned {len(embeddings)} vectors for {len(texts)} texts", retryable=True
        )
    vectors = [list(e.values or []) for e in embeddings]
    for vector in vectors:
        if len(vector) != settings.embedding_dimensions or not all(math.isfinite(v) for v in vector):
            raise EmbeddingFailed(
                f"the embedding model returned a vector of {len(vector)} dimensions, "
                f"not EMBEDDING_DIMENSIONS={settings.embedding_dimensions}",
                retryable=False,
            )
    return vectors

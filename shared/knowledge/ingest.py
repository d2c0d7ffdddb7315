"""Adding, replacing and removing a knowledge document: file -> text -> passages -> vectors -> Firestore.

Everything that can refuse the file (its type, its text, its size) is decided before anything is
written, so a refused upload leaves the knowledge base as it was and says why. Once the passages
are embedded they are written as a new generation and published in one transaction
(shared/store/knowledge.py); an embedding outage or a failed write takes back what it wrote.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass

from shared.clients import Clients
from shared.config import Settings
from shared.files.formats import format_size
from shared.knowledge.embeddings import EmbeddingFailed, embed_documents
from shared.knowledge.passages import split_passages
from shared.knowledge.reading import UnreadableDocument, read_document
from shared.store import knowledge as store
from shared.store.schema import ALL_NUMBERS

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 200


class KnowledgeUnavailable(Exception):
    """The document could be read but not stored now (the embedding model or Firestore failed)."""


@dataclass(frozen=True)
class Ingested:
    document_id: str
    title: str
    passage_count: int
    notes: tuple[str, ...]
    replaced: bool


def new_document_id() -> str:
    return uuid.uuid4().hex[:20]


def ingest_document(
    settings: Settings,
    clients: Clients,
    *,
    data: bytes,
    filename: str,
    scope: str = ALL_NUMBERS,
    operator: str = "",
    replace_id: str | None = None,
) -> Ingested:
    """Add `data` as a new document (or as the new content of `replace_id`).

    UnreadableDocument: the file itself is the problem (the operator reads why). LookupError:
    the document to replace is gone. KnowledgeUnavailable: try again later.
    """
    title = _title(filename)
    if len(data) > settings.knowledge_max_upload_bytes:
        raise UnreadableDocument(
            f"The file is {format_size(len(data))}; the knowledge base takes files up to "
            f"{format_size(settings.knowledge_max_upload_bytes)} (split it into several)."
        )
    document = read_document(data, title)
    passages = split_passages(document.text)
    if not passages:
        raise UnreadableDocument("The file has no text to read.")
    try:
        vectors = embed_documents(clients.genai, settings, [p.embedded_text for p in passages], title=title)
    except EmbeddingFailed as exc:
        log.error("knowledge document not embedded", extra={"document": title, "error": str(exc)})
        raise KnowledgeUnavailable(f"The embedding model could not read it now ({exc}); try again.") from exc

    db = clients.firestore
    document_id = replace_id or new_document_id()
    sha256 = hashlib.sha256(data).hexdigest()
    generation = store.begin_document(
        db,
        document_id,
        title=title,
        scope=scope,
        mime_type=document.mime_type,
        size_bytes=len(data),
        sha256=sha256,
        operator=operator,
        replace=replace_id is not None,
    )
    stored = [
        store.StoredPassage(p.position, p.heading, p.text, vector)
        for p, vector in zip(passages, vectors, strict=True)
    ]
    try:
        store.write_passages(db, document_id, generation, title=title, scope=scope, passages=stored)
        previous = store.publish_generation(
            db,
            document_id,
            generation,
            title=title,
            scope=scope,
            mime_type=document.mime_type,
            size_bytes=len(data),
            sha256=sha256,
            passage_count=len(stored),
            notes=document.notes,
            embedding_model=settings.embedding_model,
            operator=operator,
        )
    except LookupError:
        store.abandon_generation(db, document_id, generation)
        raise
    except Exception as exc:
        log.error("knowledge document not stored", extra={"document": title, "error": repr(exc)})
        try:
            store.abandon_generation(db, document_id, generation)
        except Exception:  # its passages stay unpublished, never read; the next replacement sweeps them
            log.exception("could not take back a failed knowledge ingestion", extra={"document": title})
        raise KnowledgeUnavailable("The document could not be stored now; try again.") from exc
    if previous is not None:
        store.sweep_generations(db, document_id, generation, since=previous)
    log.info(
        "knowledge document stored",
        extra={"document_id": document_id, "passages": len(stored), "replaced": previous is not None},
    )
    return Ingested(document_id, title, len(stored), document.notes, replaced=replace_id is not None)


def remove_document(clients: Clients, document_id: str) -> bool:
    """Remove a document and its passages; False when there was none."""
    db = clients.firestore
    if not store.begin_removal(db, document_id):
        return False
    store.finish_removal(db, document_id)
    log.info("knowledge document removed", extra={"document_id": document_id})
    return True


def _title(filename: str) -> str:
    # Browsers send the bare name; some old ones a whole Windows path.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:MAX_TITLE_CHARS] or "document"

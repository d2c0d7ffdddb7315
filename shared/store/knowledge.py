"""The knowledge base in Firestore: documents, their passages with a vector field, nearest passages.

`knowledge_documents/{id}`: what an operator added (`title`, `scope`: a phone_number_id or "all",
`mime_type`, `size_bytes`, `sha256`, `passage_count`, `notes`, `state`, `generation`, times).
`knowledge_passages/{document_id}-{generation}-{position}`: `document_id`, `generation`, `scope`,
`title`, `heading`, `text`, `position` and `embedding` (a Firestore vector).

A document names the generation of passages that is current. Replacing it writes the new
generation first and then points the document at it, so a reader sees the old passages or the
new ones, never half of each; removing it marks it REMOVING, which hides it at once, before its
passages are deleted. Readers keep only passages of a READY document's current generation
(`current_passages`), so what a crash leaves behind (passages of a replacement that never
finished) is never given to the model, and the next replacement or removal sweeps it away.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.base_vector_query import DistanceMeasure
from google.cloud.firestore_v1.vector import Vector

from shared.store.schema import (
    ALL_NUMBERS,
    CALL,
    CALL_TIMEOUT,
    KnowledgeState,
    knowledge_document_ref,
    knowledge_documents,
    knowledge_passages,
)

WRITE_BATCH = 100  # passages per batch: 100 x (768 floats + text) stays far below the 10 MB request cap
DOCUMENTS_SHOWN = 300
DELETE_BATCH = 500  # a batch's limit of writes
DISTANCE_FIELD = "distance"


@dataclass(frozen=True)
class StoredPassage:
    """A passage as written: its place, its words and its vector."""

    position: int
    heading: str
    text: str
    embedding: Sequence[float]


@dataclass(frozen=True)
class FoundPassage:
    """A passage retrieval found, with its cosine similarity to the question (1 = same direction)."""

    id: str
    document_id: str
    title: str
    heading: str
    text: str
    similarity: float

    @property
    def source(self) -> str:
        return f"{self.title} › {self.heading}" if self.heading else self.title

    def as_record(self) -> dict[str, Any]:
        """What an AI response keeps of it (the words, so it still reads after a replacement)."""
        return {
            "passage_id": self.id,
            "document_id": self.document_id,
            "title": self.title,
            "heading": self.heading,
            "text": self.text,
            "similarity": round(self.similarity, 4),
        }


@dataclass(frozen=True)
class KnowledgeDocument:
    id: str
    title: str
    scope: str
    mime_type: str
    size_bytes: int
    passage_count: int
    state: str
    notes: tuple[str, ...]
    updated_at: datetime | None
    updated_by: str

    @classmethod
    def from_snapshot(cls, snap: firestore.DocumentSnapshot) -> KnowledgeDocument:
        data = snap.to_dict() or {}
        return cls(
            id=snap.id,
            title=str(data.get("title") or snap.id),
            scope=str(data.get("scope") or ALL_NUMBERS),
            mime_type=str(data.get("mime_type") or ""),
            size_bytes=int(data.get("size_bytes") or 0),
            passage_count=int(data.get("passage_count") or 0),
            state=str(data.get("state") or ""),
            notes=tuple(str(n) for n in data.get("notes") or ()),
            updated_at=data.get("updated_at") if isinstance(data.get("updated_at"), datetime) else None,
            updated_by=str(data.get("updated_by") or ""),
        )


def passage_id(document_id: str, generation: int, position: int) -> str:
    return f"{document_id}-{generation}-{position}"


# -- writing ---------------------------------------------------------------------------------------


def begin_document(
    db: firestore.Client,
    document_id: str,
    *,
    title: str,
    scope: str,
    mime_type: str,
    size_bytes: int,
    sha256: str,
    operator: str,
    replace: bool,
) -> int:
    """Claim the next generation of passages for a new or replaced document; returns it.

    A new document is created INGESTING (hidden until its passages are in); a replaced one stays
    READY with its current passages while the next generation is written. False `replace` on an
    existing id, or `replace` on a missing one, is refused (ValueError / LookupError).
    """
    ref = knowledge_document_ref(db, document_id)

    @firestore.transactional
    def claim(tx: firestore.Transaction) -> int:
        snap = ref.get(transaction=tx)
        now = datetime.now(UTC)
        if not snap.exists:
            if replace:
                raise LookupError(document_id)
            tx.create(
                ref,
                {
                    "title": title,
                    "scope": scope,
                    "mime_type": mime_type,
                    "size_bytes": size_bytes,
                    "sha256": sha256,
                    "state": KnowledgeState.INGESTING.value,
                    "generation": 0,
                    "pending_generation": 1,
                    "passage_count": 0,
                    "notes": [],
                    "created_at": now,
                    "updated_at": now,
                    "updated_by": operator,
                },
            )
            return 1
        data = snap.to_dict() or {}
        if not replace:
            raise ValueError(f"knowledge document {document_id} exists")
        if data.get("state") == KnowledgeState.REMOVING.value:
            raise LookupError(document_id)
        generation = max(int(data.get("generation") or 0), int(data.get("pending_generation") or 0)) + 1
        tx.update(ref, {"pending_generation": generation})
        return generation

    return claim(db.transaction())


def write_passages(
    db: firestore.Client,
    document_id: str,
    generation: int,
    *,
    title: str,
    scope: str,
    passages: Sequence[StoredPassage],
) -> None:
    """Write one generation of a document's passages (idempotent: ids are derived)."""
    now = datetime.now(UTC)
    collection = knowledge_passages(db)
    for start in range(0, len(passages), WRITE_BATCH):
        batch = db.batch()
        for passage in passages[start : start + WRITE_BATCH]:
            batch.set(
                collection.document(passage_id(document_id, generation, passage.position)),
                {
                    "document_id": document_id,
                    "generation": generation,
                    "scope": scope,
                    "title": title,
                    "heading": passage.heading,
                    "text": passage.text,
                    "position": passage.position,
                    "embedding": Vector(list(passage.embedding)),
                    "created_at": now,
                },
            )
        batch.commit(**CALL)


def publish_generation(
    db: firestore.Client,
    document_id: str,
    generation: int,
    *,
    title: str,
    scope: str,
    mime_type: str,
    size_bytes: int,
    sha256: str,
    passage_count: int,
    notes: Sequence[str],
    embedding_model: str,
    operator: str,
) -> int | None:
    """Make `generation` the document's passages; returns the generation it replaced (None if new).

    Refused (LookupError) when the document was removed meanwhile, or a later replacement
    claimed a newer generation: that one publishes, and these passages are swept."""
    ref = knowledge_document_ref(db, document_id)

    @firestore.transactional
    def flip(tx: firestore.Transaction) -> int | None:
        snap = ref.get(transaction=tx)
        data = snap.to_dict() if snap.exists else None
        if (
            data is None
            or data.get("state") == KnowledgeState.REMOVING.value
            or int(data.get("pending_generation") or 0) != generation
        ):
            raise LookupError(document_id)
        previous = int(data.get("generation") or 0)
        tx.update(
            ref,
            {
                "title": title,
                "scope": scope,
                "mime_type": mime_type,
                "size_bytes": size_bytes,
                "sha256": sha256,
                "state": KnowledgeState.READY.value,
                "generation": generation,
                "pending_generation": None,
                "passage_count": passage_count,
                "notes": list(notes),
                "embedding_model": embedding_model,
                "updated_at": datetime.now(UTC),
                "updated_by": operator,
            },
        )
        return previous or None

    return flip(db.transaction())


def abandon_generation(db: firestore.Client, document_id: str, generation: int) -> None:
    """An ingestion that failed: its passages go, and a document that never became ready with it."""
    delete_passages(db, document_id, generation=generation)
    ref = knowledge_document_ref(db, document_id)

    @firestore.transactional
    def undo(tx: firestore.Transaction) -> None:
        snap = ref.get(transaction=tx)
        data = snap.to_dict() if snap.exists else None
        if data is None or int(data.get("pending_generation") or 0) != generation:
            return
        if data.get("state") == KnowledgeState.INGESTING.value:
            tx.delete(ref)
        else:
            tx.update(ref, {"pending_generation": None})

    undo(db.transaction())


def begin_removal(db: firestore.Client, document_id: str) -> bool:
    """Hide the document at once (REMOVING); False when there is no such document."""
    ref = knowledge_document_ref(db, document_id)

    @firestore.transactional
    def mark(tx: firestore.Transaction) -> bool:
        snap = ref.get(transaction=tx)
        if not snap.exists:
            return False
        tx.update(ref, {"state": KnowledgeState.REMOVING.value, "updated_at": datetime.now(UTC)})
        return True

    return mark(db.transaction())


def finish_removal(db: firestore.Client, document_id: str) -> None:
    """Delete every passage of the document, then the document (re-run safely after a crash)."""
    delete_passages(db, document_id)
    knowledge_document_ref(db, document_id).delete(**CALL)


def delete_passages(db: firestore.Client, document_id: str, *, generation: int | None = None) -> int:
    """Delete a document's passages (of one generation when given); returns how many."""
    query = knowledge_passages(db).where(filter=FieldFilter("document_id", "==", document_id))
    if generation is not None:
        query = query.where(filter=FieldFilter("generation", "==", generation))
    deleted = 0
    while True:
        snaps = list(query.select(["position"]).limit(DELETE_BATCH).stream(**CALL))
        if not snaps:
            return deleted
        batch = db.batch()
        for snap in snaps:
            batch.delete(snap.reference)
        batch.commit(**CALL)
        deleted += len(snaps)


def sweep_generations(db: firestore.Client, document_id: str, below: int, *, since: int = 0) -> None:
    """After generation `below` was published: delete the passages of the generations before it
    from `since` (the one it replaced, and any claimed by an ingestion that never finished)."""
    for generation in range(max(since, 1), below):
        delete_passages(db, document_id, generation=generation)


# -- reading ---------------------------------------------------------------------------------------


def list_documents(db: firestore.Client, *, scope: str | None = None) -> list[KnowledgeDocument]:
    """The documents, most recently changed first; only those of `scope` when given."""
    query: Any = knowledge_documents(db)
    if scope is not None:
        query = query.where(filter=FieldFilter("scope", "==", scope))
    query = query.order_by("updated_at", direction=firestore.Query.DESCENDING).limit(DOCUMENTS_SHOWN)
    return [KnowledgeDocument.from_snapshot(s) for s in query.stream(**CALL)]


def get_document(db: firestore.Client, document_id: str) -> KnowledgeDocument | None:
    snap = knowledge_document_ref(db, document_id).get(**CALL)
    return KnowledgeDocument.from_snapshot(snap) if snap.exists else None


def has_documents(db: firestore.Client, phone_number_id: str) -> bool:
    """Whether any ready document serves this number: without one, a reply skips retrieval."""
    query = (
        knowledge_documents(db)
        .where(filter=FieldFilter("scope", "in", [phone_number_id, ALL_NUMBERS]))
        .where(filter=FieldFilter("state", "==", KnowledgeState.READY.value))
        .limit(1)
    )
    return any(True for _ in query.stream(**CALL))


def nearest_passages(
    db: firestore.Client,
    phone_number_id: str,
    query_vector: Sequence[float],
    *,
    limit: int,
    min_similarity: float,
) -> list[FoundPassage]:
    """The passages closest to `query_vector` among this number's and every number's documents,
    at least `min_similarity` alike (cosine), closest first; only a ready document's current ones."""
    query = (
        knowledge_passages(db)
        .where(filter=FieldFilter("scope", "in", [phone_number_id, ALL_NUMBERS]))
        .find_nearest(
            vector_field="embedding",
            query_vector=Vector(list(query_vector)),
            distance_measure=DistanceMeasure.COSINE,
            limit=limit,
            distance_result_field=DISTANCE_FIELD,
            distance_threshold=1.0 - min_similarity,
        )
    )
    snaps = list(query.stream(**CALL))
    return current_passages(db, snaps)


def current_passages(db: firestore.Client, snaps: Iterable[firestore.DocumentSnapshot]) -> list[FoundPassage]:
    """`snaps` (passages with their distance) less those of a document not ready, or of a
    generation that is not its current one, in the order given."""
    snaps = list(snaps)
    document_ids = sorted({str(s.get("document_id")) for s in snaps})
    if not document_ids:
        return []
    refs = [knowledge_document_ref(db, d) for d in document_ids]
    documents = {s.id: s.to_dict() or {} for s in db.get_all(refs, timeout=CALL_TIMEOUT) if s.exists}
    found: list[FoundPassage] = []
    for snap in snaps:
        data = snap.to_dict() or {}
        document = documents.get(str(data.get("document_id")))
        if (
            document is None
            or document.get("state") != KnowledgeState.READY.value
            or document.get("generation") != data.get("generation")
        ):
            continue
        distance = float(data.get(DISTANCE_FIELD) or 0.0)
        found.append(
            FoundPassage(
                id=snap.id,
                document_id=str(data.get("document_id")),
                title=str(document.get("title") or data.get("title") or ""),
                heading=str(data.get("heading") or ""),
                text=str(data.get("text") or ""),
                similarity=1.0 - distance,
            )
        )
    return found

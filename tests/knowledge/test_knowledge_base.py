"""Documents in, passages out: ingestion, retrieval by meaning, replacement and removal, on the
Firestore emulator's vector search with the offline model's embeddings."""

from __future__ import annotations

import pytest
import requests

from shared.knowledge.ingest import KnowledgeUnavailable, ingest_document, remove_document
from shared.knowledge.reading import UnreadableDocument
from shared.knowledge.retrieval import RetrievalFailed, retrieve
from shared.store import knowledge as store
from shared.store.schema import knowledge_passages

NUMBER = "1234567890"
OTHER_NUMBER = "5550001111"

HOURS = b"""# Opening hours

Our Lisbon bakery opens at 07:30 on weekdays and at 09:00 on Saturdays.

## Holidays

We close on 25 December and on 1 January.

# Delivery

We deliver bread to offices in Alfama before ten in the morning.
"""


def passage_count(db) -> int:
    return len(list(knowledge_passages(db).stream()))


def test_an_uploaded_document_is_stored_as_embedded_passages_with_their_headings(clients, settings, model):
    ingested = ingest_document(settings, clients, data=HOURS, filename="hours.md", operator="ana")

    assert ingested.passage_count == 3
    (document,) = store.list_documents(clients.firestore)
    assert (document.title, document.scope, document.state, document.passage_count) == (
        "hours.md",
        "all",
        "ready",
        3,
    )
    embedded = requests.get(f"{model.url}/_fake/embeddings", timeout=5).json()["embeddings"]
    assert {e["task_type"] for e in embedded} == {"RETRIEVAL_DOCUMENT"}
    assert {e["dimensions"] for e in embedded} == {768}
    assert embedded[1]["text"].startswith("Opening hours › Holidays\n")


def test_a_question_finds_the_passage_that_answers_it_and_nothing_for_an_unrelated_one(clients, settings):
    ingest_document(settings, clients, data=HOURS, filename="hours.md")

    found = retrieve(clients, settings, NUMBER, "When does the Lisbon bakery open on Saturdays?")
    unrelated = retrieve(clients, settings, NUMBER, "Do you repair bicycles?")

    assert found.searched and found.passages
    best = found.passages[0]
    assert best.source == "hours.md › Opening hours"
    assert "09:00 on Saturdays" in best.text
    assert best.similarity >= settings.knowledge_min_similarity
    assert unrelated.searched and unrelated.passages == ()


def test_a_document_of_one_number_serves_that_number_only(clients, settings):
    ingest_document(settings, clients, data=HOURS, filename="hours.md", scope=OTHER_NUMBER)

    assert retrieve(clients, settings, OTHER_NUMBER, "Lisbon bakery opening on Saturdays").passages
    assert retrieve(clients, settings, NUMBER, "Lisbon bakery opening on Saturdays") == retrieve(
        clients, settings, NUMBER, ""
    )  # no document serves NUMBER: no search at all


def test_replacing_a_document_swaps_its_passages(clients, settings):
    first = ingest_document(settings, clients, data=HOURS, filename="hours.md")
    new_text = b"# Opening hours\n\nFrom March our Lisbon bakery opens at 06:45 every day.\n"

    replaced = ingest_document(
        settings, clients, data=new_text, filename="hours-2027.md", replace_id=first.document_id
    )

    assert replaced.replaced and replaced.document_id == first.document_id
    assert passage_count(clients.firestore) == 1
    (best,) = retrieve(clients, settings, NUMBER, "When does the Lisbon bakery open?").passages
    assert "06:45" in best.text and best.title == "hours-2027.md"


def test_removing_a_document_removes_its_passages(clients, settings):
    kept = ingest_document(
        settings, clients, data=b"Prices\n======\nA croissant is 1.20 EUR.", filename="prices.md"
    )
    gone = ingest_document(settings, clients, data=HOURS, filename="hours.md")

    assert remove_document(clients, gone.document_id)

    assert [d.id for d in store.list_documents(clients.firestore)] == [kept.document_id]
    assert passage_count(clients.firestore) == 1
    assert retrieve(clients, settings, NUMBER, "Lisbon bakery opening on Saturdays").passages == ()
    assert not remove_document(clients, gone.document_id)


def test_an_unreadable_upload_stores_nothing(clients, settings):
    with pytest.raises(UnreadableDocument, match="not a document"):
        ingest_document(settings, clients, data=b"\x89PNG\r\n\x1a\n" + bytes(64), filename="logo.png")

    assert store.list_documents(clients.firestore) == [] and passage_count(clients.firestore) == 0


def test_an_upload_over_the_size_limit_says_how_large_it_may_be(clients, settings):
    from dataclasses import replace

    small = replace(settings, knowledge_max_upload_bytes=100)

    with pytest.raises(UnreadableDocument, match="up to 100 bytes"):
        ingest_document(small, clients, data=HOURS, filename="hours.md")


def test_an_embedding_outage_stores_nothing_and_says_to_try_again(clients, settings, model):
    requests.post(f"{model.url}/_fake/faults", json={"target": "embed", "status": 503}, timeout=5)

    with pytest.raises(KnowledgeUnavailable, match="try again"):
        ingest_document(settings, clients, data=HOURS, filename="hours.md")

    assert store.list_documents(clients.firestore) == [] and passage_count(clients.firestore) == 0


def test_a_retrieval_outage_is_reported_not_swallowed(clients, settings, model):
    ingest_document(settings, clients, data=HOURS, filename="hours.md")
    requests.post(f"{model.url}/_fake/faults", json={"target": "embed", "status": 503}, timeout=5)

    with pytest.raises(RetrievalFailed, match="503"):
        retrieve(clients, settings, NUMBER, "When do you open?")


def test_passages_of_a_replacement_that_never_published_are_never_retrieved(clients, settings):
    first = ingest_document(settings, clients, data=HOURS, filename="hours.md")
    db = clients.firestore
    # A replacement that crashed after writing its passages, before publishing them.
    generation = store.begin_document(
        db,
        first.document_id,
        title="x",
        scope="all",
        mime_type="text/plain",
        size_bytes=1,
        sha256="",
        operator="",
        replace=True,
    )
    store.write_passages(
        db,
        first.document_id,
        generation,
        title="x",
        scope="all",
        passages=[
            store.StoredPassage(0, "", "Lisbon bakery opens at midnight on Saturdays", [1.0] + [0.0] * 767)
        ],
    )

    found = retrieve(clients, settings, NUMBER, "When does the Lisbon bakery open on Saturdays?")

    assert found.passages and all(p.id.startswith(f"{first.document_id}-1-") for p in found.passages)


def test_an_instance_remembers_for_a_while_which_numbers_have_documents(clients, settings, firestore_db):
    from shared.knowledge.scopes import KnowledgeScopes

    now = [100.0]
    scopes = KnowledgeScopes(ttl_seconds=30, clock=lambda: now[0])

    assert scopes.has_documents(firestore_db, NUMBER) is False
    ingest_document(settings, clients, data=HOURS, filename="hours.md")
    assert scopes.has_documents(firestore_db, NUMBER) is False  # remembered: no query
    now[0] += 31
    assert scopes.has_documents(firestore_db, NUMBER) is True

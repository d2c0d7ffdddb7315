"""A customer's data: erased everywhere it is kept (checked by listing every collection and the
bucket), resumably, leaving a record without personal data; exported as a streamed ZIP that
holds every message and medium."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.dashboard import erasure, export
from shared.store import erasure as records
from shared.store import stats
from shared.store.consent import record_consent
from shared.store.quarantine import quarantine
from shared.store.schema import customer_usage_ref, message_ref, orphan_status_ref
from tests.support.cloud import MEDIA_BUCKET
from tests.support.media_samples import png
from tests.support.seed import PHONE_NUMBER_ID, store_ai_reply, store_inbound

ERASED = "15550004444"
KEPT = "15550005555"
OTHER_NUMBER = "100000000000002"


def add_photo(db, bucket, conv: str, wa_id: str, phone_number_id: str = PHONE_NUMBER_ID) -> str:
    """A photo message with its original and a derived file in the bucket, as the media job leaves it."""
    _, wamid = store_inbound(
        db,
        wa_id=wa_id,
        kind="image",
        content={"id": "media-1", "mime_type": "image/png"},
        phone_number_id=phone_number_id,
    )
    original = bucket.put(conv, png(8, 8), "image/png", ".png")
    derived = bucket.put(conv, png(4, 4), "image/jpeg", ".jpg", folder="derived")
    message_ref(db, conv, wamid).update(
        {"media.gcs_uri": original.gcs_uri, "media.derived_uri": derived.gcs_uri, "media.status": "ready"}
    )
    return wamid


def customer(db, bucket, wa_id: str, phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    """Everything the system keeps of a customer: messages, an AI answer with its sources, an
    operator's send claim, media, a parked status, usage counters, a quarantined body."""
    conv, question = store_inbound(
        db, wa_id=wa_id, name="Sam", text="where is my order?", phone_number_id=phone_number_id
    )
    answer = store_ai_reply(db, conv, wa_id, "It ships today.", answered=[question])
    db.collection("conversations").document(conv).collection("ai_responses").document(
        message_ref(db, conv, answer).get().get("ai_response_id")
    ).update(
        {
            "knowledge": [
                {"title": "Shipping policy", "text": "Orders ship in 24 h.", "cited": True},
                {"title": "Returns", "text": "30 days.", "cited": False},
            ]
        }
    )
    photo = add_photo(db, bucket, conv, wa_id, phone_number_id)
    db.collection("conversations").document(conv).collection("operator_sends").document("k1").set(
        {"state": "sent"}
    )
    orphan_status_ref(db, f"wamid.orphan-{wa_id}").set({"conversation_id": conv, "statuses": {}})
    customer_usage_ref(db, conv).set({"hour": {"window": "x", "messages": 3}})
    body = json.dumps(
        {"entry": [{"changes": [{"value": {"messages": [{"from": wa_id, "type": 7}]}}]}]}
    ).encode()
    quarantine(db, body, reason="bad type", path="entry[0]")
    return {"conv": conv, "messages": [question, answer, photo]}


def every_document(db) -> list[tuple[str, dict[str, Any]]]:
    """(path, fields) of every document in the database, subcollections included."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(collection) -> None:
        for snap in collection.stream():
            found.append((snap.reference.path, snap.to_dict() or {}))
            for sub in snap.reference.collections():
                walk(sub)
        for ref in collection.list_documents():  # documents that exist only as parents
            for sub in ref.collections():
                if not ref.get().exists:
                    walk(sub)

    for collection in db.collections():
        walk(collection)
    return found


def mentions(db, gcs_client, wa_id: str) -> list[str]:
    where = [
        path for path, data in every_document(db) if wa_id in path or wa_id in json.dumps(data, default=str)
    ]
    where += [blob.name for blob in gcs_client.list_blobs(MEDIA_BUCKET) if wa_id in blob.name]
    return where


@pytest.fixture
def bucket(media_bucket, gcs_client, monkeypatch):
    for blob in gcs_client.list_blobs(MEDIA_BUCKET):
        blob.delete()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_client._connection.API_BASE_URL)
    return media_bucket


def test_erasure_leaves_no_document_or_object_of_the_customer_and_keeps_the_others(
    operator, firestore_db, gcs_client, bucket
) -> None:
    erased = customer(firestore_db, bucket, ERASED)
    customer(firestore_db, bucket, ERASED, OTHER_NUMBER)
    record_consent(
        firestore_db, erased["conv"], opted_out=True, message_id="m", keyword="stop", at=datetime.now(UTC)
    )
    customer(firestore_db, bucket, KEPT)
    before = stats.read_lifetime(firestore_db)
    assert mentions(firestore_db, gcs_client, ERASED)

    wrong = operator.post(f"/conversations/{erased['conv']}/erase", {"confirm": "123", "scope": "all"})
    assert "notice=erase_unconfirmed" in wrong.headers["Location"]
    assert mentions(firestore_db, gcs_client, ERASED)

    done = operator.post(f"/conversations/{erased['conv']}/erase", {"confirm": f"+{ERASED}", "scope": "all"})
    assert done.status_code == 200 and 'id="erasure-done"' in done.get_data(as_text=True)

    assert mentions(firestore_db, gcs_client, ERASED) == []
    assert len(mentions(firestore_db, gcs_client, KEPT)) > 5  # the other customer is untouched
    assert operator.get(f"/conversations?q={ERASED}").get_data(as_text=True).count("conversation-row") == 0
    after = stats.read_lifetime(firestore_db)
    assert after["conversations"] == before["conversations"] - 2
    assert after["opted_out"] == before["opted_out"] - 1

    (record,) = [data for path, data in every_document(firestore_db) if path.startswith("erasures/")]
    assert record["state"] == "done" and record["requested_by"] == "operator"
    assert record["counts"]["conversations"] == 2 and record["counts"]["media_objects"] == 4
    assert record["counts"]["messages"] == 6 and record["counts"]["quarantine_entries"] == 1
    assert ERASED not in json.dumps(record, default=str)


def test_an_interrupted_erasure_is_finished_by_resuming_it(firestore_db, gcs_client, bucket) -> None:
    erased = customer(firestore_db, bucket, ERASED)
    started = records.start(
        firestore_db, [ERASED], phone_number_id=PHONE_NUMBER_ID, operator="ops", via="command"
    )
    # Interrupted after the media and the first page of messages:
    for name in bucket.conversation_objects(erased["conv"]):
        bucket.delete(name)
    message_ref(firestore_db, erased["conv"], erased["messages"][0]).delete()

    pending = records.load(firestore_db, started.id)
    assert pending.state == "running" and pending.pending_conversations == [erased["conv"]]
    erasure.resume(firestore_db, bucket, pending)
    assert mentions(firestore_db, gcs_client, ERASED) == []
    assert records.load(firestore_db, started.id).state == "done"


def test_the_erasure_command_erases_on_every_number(
    firestore_db, gcs_client, bucket, monkeypatch, capsys
) -> None:
    customer(firestore_db, bucket, ERASED)
    customer(firestore_db, bucket, ERASED, OTHER_NUMBER)
    monkeypatch.setenv("MEDIA_BUCKET", MEDIA_BUCKET)
    assert erasure.main(["erase", ERASED, "--all-numbers", "--operator", "dpo@example.com"]) == 0
    assert "done" in capsys.readouterr().out
    assert mentions(firestore_db, gcs_client, ERASED) == []


def test_the_typed_confirmation_is_the_customers_id_however_it_is_written() -> None:
    assert erasure.confirms("+1 555 000 4444", "15550004444")
    assert erasure.confirms("15550004444", "15550004444")
    assert not erasure.confirms("1555000444", "15550004444")
    assert not erasure.confirms("", "")
    assert erasure.confirms("lid.123456", "lid.123456") and not erasure.confirms("123456", "lid.123456")


def open_zip(chunks) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(chunks)))


def test_the_export_zip_opens_and_holds_every_message_answer_source_and_medium(
    operator, firestore_db, bucket
) -> None:
    kept = customer(firestore_db, bucket, KEPT)
    response = operator.get(f"/conversations/{kept['conv']}/export")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"].startswith('attachment; filename="whatsapp-15550005555-')
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.testzip() is None
    data = json.loads(archive.read("conversation.json"))
    assert data["conversation"]["id"] == kept["conv"]
    assert [m["id"] for m in data["messages"]] == kept["messages"]
    answer = next(m for m in data["messages"] if m["direction"] == "outbound")
    assert answer["ai_response"]["sources"] == [
        {"title": "Shipping policy", "text": "Orders ship in 24 h.", "cited": True}
    ]
    assert len(answer["ai_response"]["knowledge"]) == 2
    assert all("received_at" in m or "created_at" in m for m in data["messages"])
    media = sorted(name for name in archive.namelist() if name.startswith("media/"))
    assert len(media) == 2 and all(name.startswith(f"media/{kept['messages'][2]}/") for name in media)
    assert archive.read(media[1]) == png(8, 8) or archive.read(media[0]) == png(8, 8)


def test_a_running_export_of_another_customer_is_unaffected_by_an_erasure(
    firestore_db, gcs_client, bucket
) -> None:
    kept = customer(firestore_db, bucket, KEPT)
    customer(firestore_db, bucket, ERASED)
    chunks = export.export_zip(firestore_db, bucket, kept["conv"])
    started = [next(chunks)]  # the export is under way

    erasure.erase_customer(
        firestore_db, bucket, [ERASED], phone_number_id=None, operator="ops", via="command"
    )

    archive = open_zip(started + list(chunks))
    assert archive.testzip() is None
    assert [m["id"] for m in json.loads(archive.read("conversation.json"))["messages"]] == kept["messages"]
    assert len([n for n in archive.namelist() if n.startswith("media/")]) == 2
    assert mentions(firestore_db, gcs_client, ERASED) == []


def test_the_export_is_built_a_page_and_a_chunk_at_a_time(firestore_db, bucket, monkeypatch) -> None:
    kept = customer(firestore_db, bucket, KEPT)
    for n in range(7):
        store_inbound(firestore_db, wa_id=KEPT, text=f"more {n}")
    monkeypatch.setattr(export, "PAGE_SIZE", 3)
    monkeypatch.setattr(export, "COPY_CHUNK_BYTES", 16)
    chunks = list(export.export_zip(firestore_db, bucket, kept["conv"]))
    assert len(chunks) > 6  # one at least per page of messages and per chunk of each file
    assert len(json.loads(open_zip(chunks).read("conversation.json"))["messages"]) == 10


def test_a_customer_known_by_user_id_is_erased_with_the_links_to_their_conversation(
    operator, firestore_db, gcs_client, bucket
) -> None:
    bsuid, phone = "US.13491208655302741918", "15550006666"
    conv = f"{PHONE_NUMBER_ID}_{bsuid}"
    link = f"{PHONE_NUMBER_ID}_{phone}"
    db = firestore_db
    db.collection("conversations").document(conv).set(
        {
            "user_id": bsuid,
            "username": "sam.k",
            "wa_id": "",
            "phone_number_id": PHONE_NUMBER_ID,
            "message_count": 1,
        }
    )
    message_ref(db, conv, "wamid.b1").set(
        {"direction": "inbound", "text": "hi", "created_at": datetime.now(UTC)}
    )
    db.collection("conversations").document(link).set({"moved_to": conv})  # the phone they once wrote from
    message_ref(db, link, "wamid.b0").set({"moved_to": conv})  # a message moved into the conversation
    body = json.dumps({"contacts": [{"user_id": bsuid}], "messages": [{"from_user_id": bsuid, "type": 7}]})
    quarantine(db, body.encode(), reason="bad type")

    page = operator.get(f"/conversations/{conv}").get_data(as_text=True)
    assert f"their user id <strong>{bsuid}</strong>" in page
    operator.post(f"/conversations/{conv}/erase", {"confirm": bsuid, "scope": "this"})

    assert mentions(db, gcs_client, bsuid) == [] and mentions(db, gcs_client, phone) == []

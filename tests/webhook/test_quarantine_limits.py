"""A quarantine entry always fits in a Firestore document, so one huge bad part cannot turn a
whole delivery (its valid messages too) into a 503 that Meta redelivers for days."""

from __future__ import annotations

import hashlib
import json

from tests.support.payloads import load

FIRESTORE_DOCUMENT_LIMIT = 1024 * 1024


def test_a_bad_part_near_the_body_limit_is_quarantined_within_a_document_and_the_good_ones_kept(
    webhook, firestore_db
) -> None:
    delivery = json.loads(load("malformed_batch_one_bad"))
    bad = delivery["entry"][0]["changes"][0]["value"]["messages"][1]
    bad["text"]["body"] = "é" * 450_000  # Meta escapes it as \u00e9: 2.7 MB on the wire
    body = json.dumps(delivery).encode()
    assert 2_500_000 < len(body) < 3_000_000

    assert webhook.post(body).status_code == 200

    messages = firestore_db.collection("conversations").document("106540352242922_16505551234")
    assert {d.id for d in messages.collection("messages").stream()} == {"wamid.GOOD1", "wamid.GOOD2"}
    ((entry_id, entry),) = [(d.id, d.to_dict()) for d in firestore_db.collection("quarantine").stream()]
    stored = sum(len(str(v).encode()) for v in (entry["body"], entry["part"], entry["reason"], entry["path"]))
    assert stored < FIRESTORE_DOCUMENT_LIMIT - 64 * 1024
    assert entry["truncated"] and entry["part_truncated"]
    assert entry["size_bytes"] == len(body)
    assert entry["sha256"] == hashlib.sha256(body).hexdigest()
    assert entry["part_size_bytes"] == len(json.dumps(bad, ensure_ascii=False).encode())
    assert body.decode().startswith(entry["body"])
    assert json.dumps(bad, ensure_ascii=False).startswith(entry["part"])
    # What the entry cannot show is kept whole beside it, in the same batch.
    chunks = firestore_db.collection("quarantine").document(entry_id).collection("body_chunks")
    assert b"".join(bytes(d.get("data")) for d in sorted(chunks.stream(), key=lambda d: d.id)) == body
    assert entry["body_chunks"] == len(list(chunks.stream()))

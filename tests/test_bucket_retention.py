"""Media lives as long as the newest message that references it: every object's customTime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.bucket import object_name, sha256_of

CONV = "100000000000001_15550001111"
PHOTO = b"\x89PNG fake photo bytes"


def test_a_new_object_carries_the_time_a_message_first_referenced_it(
    media_bucket, gcs_client, gcs_bucket
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    stored = media_bucket.put(CONV, PHOTO, "image/png", ".png")
    blob = gcs_client.bucket(gcs_bucket).get_blob(stored.object_name)
    assert blob.custom_time is not None and blob.custom_time >= before


def test_an_object_a_newer_message_sends_again_starts_its_retention_again(
    media_bucket, gcs_client, gcs_bucket
) -> None:
    digest, _ = sha256_of(PHOTO + b"again")
    name = object_name(CONV, digest, ".png")
    old = gcs_client.bucket(gcs_bucket).blob(name)
    old.custom_time = datetime.now(UTC) - timedelta(days=40)  # stored for a message 40 days ago
    old.upload_from_string(PHOTO + b"again", content_type="image/png")

    stored = media_bucket.put(CONV, PHOTO + b"again", "image/png", ".png")  # the same photo, sent today

    assert stored.uploaded is False
    refreshed = gcs_client.bucket(gcs_bucket).get_blob(name).custom_time
    assert datetime.now(UTC) - refreshed < timedelta(minutes=1)

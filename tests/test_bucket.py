"""The media bucket, against the real gcp-storage-emulator through google-cloud-storage."""

from __future__ import annotations

import base64
import hashlib
import os
import re

import pytest

from shared.bucket import MediaBucket, object_name, whatsapp_sha256_to_hex

CONVERSATION = "1234567890_4915112345678"


def test_an_object_is_named_by_its_content_hash_under_its_conversation(media_bucket, gcs_client, gcs_bucket):
    data = b"\xff\xd8\xff" + os.urandom(2048)
    stored = media_bucket.put(CONVERSATION, data, "image/jpeg", ".jpg")
    digest = hashlib.sha256(data).hexdigest()
    assert stored.object_name == f"conversations/{CONVERSATION}/original/{digest}.jpg"
    assert stored.gcs_uri == f"gs://{gcs_bucket}/{stored.object_name}"
    assert (stored.sha256_hex, stored.size_bytes, stored.uploaded) == (digest, len(data), True)
    blob = gcs_client.bucket(gcs_bucket).get_blob(stored.object_name)
    assert blob.content_type == "image/jpeg"
    assert blob.download_as_bytes() == data


def test_a_second_put_of_the_same_content_uploads_nothing(media_bucket, gcs_client, gcs_bucket):
    data = os.urandom(4096)
    first = media_bucket.put(CONVERSATION, data, "audio/mp3", ".mp3", folder="derived")
    generation = gcs_client.bucket(gcs_bucket).get_blob(first.object_name).generation
    second = media_bucket.put(CONVERSATION, data, "audio/mp3", ".mp3", folder="derived")
    assert first.uploaded and not second.uploaded
    assert second.object_name == first.object_name and "/derived/" in second.object_name
    assert second.size_bytes == len(data) and second.content_type == "audio/mp3"
    assert gcs_client.bucket(gcs_bucket).get_blob(first.object_name).generation == generation


def test_an_object_is_never_made_public(media_bucket, gcs_client, gcs_bucket):
    stored = media_bucket.put(CONVERSATION, os.urandom(512), "application/pdf", ".pdf")
    blob = gcs_client.bucket(gcs_bucket).blob(stored.object_name)
    blob.acl.reload()
    entities = {entry["entity"] for entry in blob.acl}
    assert not entities & {"allUsers", "allAuthenticatedUsers"}


def test_a_large_file_is_uploaded_from_disk_and_streamed_back_in_chunks(media_bucket, tmp_path):
    path = tmp_path / "video.mp4"
    data = os.urandom(9 * 1024 * 1024)  # above the client's multipart limit: a resumable upload
    path.write_bytes(data)
    stored = media_bucket.put(CONVERSATION, path, "video/mp4", ".mp4")
    assert stored.size_bytes == len(data) and stored.uploaded
    with media_bucket.open_read(stored.gcs_uri, chunk_size=1024 * 1024) as reader:
        first = reader.read(1000)
        rest = reader.read()
    assert first + rest == data
    stat = media_bucket.stat(stored.gcs_uri)
    assert (stat.size_bytes, stat.content_type, stat.sha256_hex) == (
        len(data),
        "video/mp4",
        stored.sha256_hex,
    )


def test_a_stored_original_is_found_by_whatsapps_sha256_before_downloading_again(media_bucket):
    data = os.urandom(1000)
    stored = media_bucket.put(CONVERSATION, data, "audio/ogg", ".ogg")
    webhook_sha256 = base64.b64encode(hashlib.sha256(data).digest()).decode()
    found = media_bucket.find(CONVERSATION, whatsapp_sha256_to_hex(webhook_sha256))
    assert found is not None and found.gcs_uri == stored.gcs_uri and found.content_type == "audio/ogg"
    assert media_bucket.find(CONVERSATION, hashlib.sha256(b"other").hexdigest()) is None
    assert media_bucket.read_bytes(stored.gcs_uri) == data


def test_uris_outside_the_media_bucket_are_refused(media_bucket, gcs_bucket):
    for uri in (
        "gs://another-bucket/conversations/x/original/a.jpg",
        f"gs://{gcs_bucket}/secrets/key.json",
        f"gs://{gcs_bucket}/conversations/../secrets/key.json",
        "https://storage.googleapis.com/x/y",
    ):
        with pytest.raises(ValueError, match=r"media object|gs://"):
            media_bucket.open_read(uri)


def test_storage_errors_propagate_for_a_retry(gcs_client):
    from google.api_core.exceptions import NotFound

    storage = MediaBucket(gcs_client, "no-such-bucket")
    with pytest.raises(NotFound):
        storage.put(CONVERSATION, b"data", "text/plain", ".txt")


def test_object_names_accept_only_safe_parts():
    digest = "a" * 64
    assert object_name("123_456", digest, "JPG") == f"conversations/123_456/original/{digest}.jpg"
    assert object_name("123_456", digest, ".tar.gz").endswith(f"{digest}.bin")
    for bad in ("../x", "a/b", "", ".."):
        with pytest.raises(ValueError, match="conversation id"):
            object_name(bad, digest, ".jpg")
    with pytest.raises(ValueError, match="SHA-256"):
        object_name("123_456", "not-a-hash", ".jpg")


def test_whatsapp_sha256_is_accepted_in_base64_or_hex():
    digest = hashlib.sha256(b"x").digest()
    assert whatsapp_sha256_to_hex(base64.b64encode(digest).decode()) == digest.hex()
    assert whatsapp_sha256_to_hex(digest.hex().upper()) == digest.hex()
    assert whatsapp_sha256_to_hex("garbage") is None
    assert whatsapp_sha256_to_hex(None) is None
    assert re.fullmatch(r"[0-9a-f]{64}", whatsapp_sha256_to_hex(base64.urlsafe_b64encode(digest).decode()))

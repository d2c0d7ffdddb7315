"""Media reach the browser only through the dashboard: after authentication, looked up on the
message, streamed from the bucket (the GCS emulator here), never by a path the browser names."""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import storage

from shared.bucket import DERIVED, MediaBucket
from tests.support.cloud import MEDIA_BUCKET as BUCKET
from tests.support.cloud import PROJECT
from tests.support.seed import store_inbound

WA_ID = "15550007777"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9"


@pytest.fixture
def media_app(make_app, storage_emulator, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator.env["STORAGE_EMULATOR_HOST"])
    return make_app()


@pytest.fixture
def bucket(media_app) -> MediaBucket:
    return MediaBucket(storage.Client(project=PROJECT), BUCKET)


@pytest.fixture
def signed_in(media_app):
    from tests.support.dashboard import Operator

    operator = Operator(media_app.test_client())
    operator.login()
    return operator


def media_message(db, kind: str, content: dict[str, Any], media: dict[str, Any]) -> tuple[str, str]:
    conv, wamid = store_inbound(db, wa_id=WA_ID, name="Eve", kind=kind, content=content)
    ref = db.collection("conversations").document(conv).collection("messages").document(wamid)
    ref.update({f"media.{k}": v for k, v in media.items()})
    return conv, wamid


def image(db, bucket: MediaBucket) -> tuple[str, str]:
    conv = f"100000000000001_{WA_ID}"
    original = bucket.put(conv, JPEG, "image/jpeg", ".jpg")
    derived = bucket.put(conv, JPEG[:-1] + b"\x00\xff\xd9", "image/jpeg", ".jpg", folder=DERIVED)
    return media_message(
        db,
        "image",
        {"id": "media-1", "mime_type": "image/jpeg", "sha256": "x", "caption": "my receipt"},
        {
            "status": "ready",
            "gcs_uri": original.gcs_uri,
            "derived_uri": derived.gcs_uri,
            "size_bytes": len(JPEG),
        },
    )


def test_an_image_is_streamed_from_the_bucket_with_safe_headers(signed_in, firestore_db, bucket) -> None:
    conv, wamid = image(firestore_db, bucket)
    response = signed_in.get(f"/conversations/{conv}/messages/{wamid}/media/original")
    assert response.status_code == 200
    assert response.get_data() == JPEG
    assert response.mimetype == "image/jpeg"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"].startswith("private")
    page = signed_in.get(f"/conversations/{conv}").get_data(as_text=True)
    assert f'src="/conversations/{conv}/messages/{wamid}/media/derived"' in page
    assert "my receipt" in page


def test_a_range_request_gets_just_those_bytes(signed_in, firestore_db, bucket) -> None:
    conv, wamid = image(firestore_db, bucket)
    url = f"/conversations/{conv}/messages/{wamid}/media/original"
    partial = signed_in.get(url, headers={"Range": "bytes=100-199"})
    assert partial.status_code == 206
    assert partial.get_data() == JPEG[100:200]
    assert partial.headers["Content-Range"] == f"bytes 100-199/{len(JPEG)}"
    tail = signed_in.get(url, headers={"Range": "bytes=-10"})
    assert tail.get_data() == JPEG[-10:]
    assert signed_in.get(url, headers={"Range": f"bytes={len(JPEG) + 5}-"}).status_code == 416


def test_a_document_a_browser_could_run_is_only_offered_as_a_download(
    signed_in, firestore_db, bucket
) -> None:
    conv = f"100000000000001_{WA_ID}"
    page = bucket.put(conv, b"<html><script>alert(1)</script></html>", "text/html", ".html")
    conv, wamid = media_message(
        firestore_db,
        "document",
        {"id": "media-2", "mime_type": "text/html", "filename": "invoice.html"},
        {"status": "ready", "gcs_uri": page.gcs_uri, "text_excerpt": "Invoice 42: total 10 EUR"},
    )
    response = signed_in.get(f"/conversations/{conv}/messages/{wamid}/media/original")
    assert response.status_code == 200
    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="invoice.html"')
    thread = signed_in.get(f"/conversations/{conv}").get_data(as_text=True)
    assert "Invoice 42: total 10 EUR" in thread and "invoice.html" in thread


def test_audio_plays_in_place_with_its_transcript_and_video_with_its_poster(
    signed_in, firestore_db, bucket
) -> None:
    conv = f"100000000000001_{WA_ID}"
    voice = bucket.put(conv, b"OggS" + b"\x00" * 200, "audio/ogg", ".ogg")
    clip = bucket.put(conv, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200, "video/mp4", ".mp4")
    poster = bucket.put(conv, JPEG, "image/jpeg", ".jpg", folder=DERIVED)
    _, voice_id = media_message(
        firestore_db,
        "audio",
        {"id": "media-3", "mime_type": "audio/ogg; codecs=opus", "voice": True},
        {"status": "ready", "gcs_uri": voice.gcs_uri, "transcript": "I would like to order two pizzas"},
    )
    _, clip_id = media_message(
        firestore_db,
        "video",
        {"id": "media-4", "mime_type": "video/mp4"},
        {"status": "ready", "gcs_uri": clip.gcs_uri, "poster_uri": poster.gcs_uri},
    )
    thread = signed_in.get(f"/conversations/{conv}").get_data(as_text=True)
    assert (
        f'<audio controls preload="none" src="/conversations/{conv}/messages/{voice_id}/media/original"'
        in thread
    )
    assert "I would like to order two pizzas" in thread
    assert f'poster="/conversations/{conv}/messages/{clip_id}/media/poster"' in thread
    poster_response = signed_in.get(f"/conversations/{conv}/messages/{clip_id}/media/poster")
    assert poster_response.get_data() == JPEG


def test_media_outside_the_conversations_folder_or_bucket_is_never_served(
    signed_in, firestore_db, bucket
) -> None:
    other = bucket.put("100000000000001_15559990000", b"someone else's photo", "image/jpeg", ".jpg")
    own_folder = f"conversations/100000000000001_{WA_ID}"
    conv, wamid = media_message(
        firestore_db,
        "image",
        {"id": "media-5", "mime_type": "image/jpeg"},
        {
            "status": "ready",
            "gcs_uri": other.gcs_uri,
            "derived_uri": f"gs://another-bucket/{own_folder}/x.jpg",
        },
    )
    base = f"/conversations/{conv}/messages/{wamid}/media"
    assert signed_in.get(f"{base}/original").status_code == 404
    assert signed_in.get(f"{base}/derived").status_code == 404
    assert signed_in.get(f"{base}/poster").status_code == 404
    assert signed_in.get(f"{base}/gs:%2F%2F{BUCKET}%2Fx").status_code == 404
    assert signed_in.get(f"/conversations/{conv}/messages/no-such-message/media/original").status_code == 404


def test_media_need_an_operator(media_app, firestore_db, bucket) -> None:
    conv, wamid = image(firestore_db, bucket)
    response = media_app.test_client().get(f"/conversations/{conv}/messages/{wamid}/media/original")
    assert response.status_code in (302, 401)
    assert JPEG not in response.get_data()


def test_media_still_being_processed_show_as_pending(signed_in, firestore_db) -> None:
    conv, _ = store_inbound(
        firestore_db, wa_id=WA_ID, name="Eve", kind="image", content={"id": "m", "mime_type": "image/jpeg"}
    )
    assert "processing image" in signed_in.get(f"/conversations/{conv}").get_data(as_text=True)

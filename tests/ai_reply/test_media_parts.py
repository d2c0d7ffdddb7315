"""Media as model parts: inline up to the request limit, beyond it the Files API (used once ACTIVE)
or gs:// URIs, voice notes transcribed."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
import requests
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from shared.ai_reply.gemini import ModelUnavailable
from shared.ai_reply.media_parts import (
    INLINE_REQUEST_BYTES,
    PROMPT_HEADROOM_BYTES,
    FilesApi,
    MediaParts,
    encoded_size,
    take_transcripts,
)


def ready(kind: str, **media) -> dict:
    return {"id": f"wamid.{kind}", "type": kind, "media": {"status": "ready", **media}}


PHOTO = ready(
    "image",
    model_source="derived",
    derived_uri="gs://b/c/derived/x.jpg",
    derived_size_bytes=20,
    model_mime_type="image/jpeg",
)


MB = 1024 * 1024


def media(kind: str, size: int, mime: str, uri: str | None = None) -> dict:
    message = ready(
        kind, model_source="original", gcs_uri=uri or f"gs://b/c/original/{kind}", size_bytes=size
    )
    message["media"]["model_mime_type"] = mime
    return message


class Uploads:
    """Stands in for the Files API where only the choice inline/upload is under test."""

    def __init__(self) -> None:
        self.mimes: list[str] = []

    def part(self, data: bytes, mime: str) -> types.Part:
        self.mimes.append(mime)
        return types.Part.from_uri(file_uri=f"https://files/{len(self.mimes)}", mime_type=mime)


def test_a_small_photo_goes_inline() -> None:
    (part,) = MediaParts(lambda uri: b"jpeg-bytes")(PHOTO)
    assert (part.inline_data.mime_type, part.inline_data.data) == ("image/jpeg", b"jpeg-bytes")


def test_a_60_mb_video_goes_inline_under_the_100_mb_request_limit() -> None:
    uploads = Uploads()
    (part,) = MediaParts(lambda uri: bytes(60 * MB), files=uploads)(media("video", 60 * MB, "video/mp4"))
    assert len(part.inline_data.data) == 60 * MB
    assert uploads.mimes == []


def test_media_beyond_what_one_request_may_carry_inline_goes_through_the_files_api() -> None:
    """Inline data is counted as sent, base64: two 40 MB videos are 107 MB of request."""
    uploads = Uploads()
    parts = MediaParts(lambda uri: bytes(40 * MB), files=uploads)
    (first,) = parts(media("video", 40 * MB, "video/mp4", "gs://b/1"))
    (second,) = parts(media("video", 40 * MB, "video/mp4", "gs://b/2"))
    assert first.inline_data is not None
    assert second.file_data.file_uri == "https://files/1"
    assert encoded_size(40 * MB) * 2 > INLINE_REQUEST_BYTES - PROMPT_HEADROOM_BYTES > encoded_size(40 * MB)


def test_a_pdf_goes_inline_only_up_to_the_50_mb_pdf_limit() -> None:
    uploads = Uploads()
    parts = MediaParts(lambda uri: bytes(36 * MB), files=uploads)
    (small,) = parts(media("document", 30 * MB, "application/pdf"))
    (large,) = parts(media("document", 40 * MB, "application/pdf"))  # 53 MB encoded
    assert small.inline_data is not None and large.file_data is not None
    assert uploads.mimes == ["application/pdf"]


@pytest.mark.parametrize("size", [8 * MB, 90 * MB])
def test_on_vertex_media_over_7_mb_is_passed_by_its_gs_uri_without_reading_it(size) -> None:
    video = media("video", size, "video/mp4", "gs://b/c/original/v.mp4")
    (part,) = MediaParts(lambda uri: pytest.fail("must not download"), vertex=True)(video)
    assert (part.file_data.file_uri, part.file_data.mime_type) == ("gs://b/c/original/v.mp4", "video/mp4")


def test_on_vertex_a_photo_under_7_mb_goes_inline() -> None:
    (part,) = MediaParts(lambda uri: b"jpeg", vertex=True)(media("image", 2 * MB, "image/jpeg"))
    assert part.inline_data.data == b"jpeg"


def test_each_voice_note_comes_with_a_numbered_request_for_its_transcript() -> None:
    parts = MediaParts(lambda uri: b"mp3")
    note = ready("audio", model_source="derived", derived_uri="gs://b/a.mp3", model_mime_type="audio/mp3")
    first = parts({**note, "id": "wamid.one"})
    second = parts({**note, "id": "wamid.two"})
    assert '<transcript n="1">' in first[1].text and '<transcript n="2">' in second[1].text
    assert parts.voice_notes == {1: "wamid.one", 2: "wamid.two"}


def test_media_that_failed_or_is_text_only_gets_no_part() -> None:
    parts = MediaParts(lambda uri: b"x")
    assert parts({"id": "a", "type": "image", "media": {"status": "failed"}}) == []
    assert parts(ready("document", model_source="text", text_excerpt="hello")) == []


def test_transcripts_are_taken_out_of_the_answer() -> None:
    transcripts, reply = take_transcripts(
        '<transcript n="1">Hola, ¿está abierto?</transcript>\nSí, hasta las 20:00.'
    )
    assert transcripts == {1: "Hola, ¿está abierto?"}
    assert reply == "Sí, hasta las 20:00."


@pytest.fixture
def offline_model() -> Iterator[tuple[genai.Client, str]]:
    from local.offline_gemini import start_offline_gemini

    with start_offline_gemini() as model:
        client = genai.Client(
            api_key="k",
            http_options=types.HttpOptions(base_url=model.url, api_version="v1beta", timeout=5000),
        )
        yield client, model.url


def plan_uploads(url: str, **plan) -> None:
    requests.post(f"{url}/_fake/file_states", json=plan, timeout=5).raise_for_status()


def test_an_upload_is_used_only_once_the_files_api_says_active(offline_model) -> None:
    client, url = offline_model
    plan_uploads(url, processing_polls=3)  # the upload answers PROCESSING, and so do three reads
    naps: list[float] = []
    part = FilesApi(client, 10, sleep=naps.append).part(b"%PDF-1.4 fake", "application/pdf")
    assert len(naps) == 4  # read until ACTIVE, pausing before each read
    answer = client.models.generate_content(model="gemini-3.8-flash", contents=[part, "what is this?"])
    assert "1 media part (application/pdf)" in answer.text


def test_without_the_wait_the_model_refuses_a_file_still_processing(offline_model) -> None:
    """What the wait prevents: Gemini answers 400 FAILED_PRECONDITION for a file not ACTIVE."""
    client, url = offline_model
    plan_uploads(url, processing_polls=3)
    uploaded = client.files.upload(
        file=io.BytesIO(b"%PDF-1.4"), config=types.UploadFileConfig(mime_type="application/pdf")
    )
    part = types.Part.from_uri(file_uri=uploaded.uri, mime_type="application/pdf")
    with pytest.raises(genai_errors.ClientError, match="not in an ACTIVE state"):
        client.models.generate_content(model="gemini-3.8-flash", contents=[part, "what is this?"])


def test_an_upload_that_never_becomes_active_makes_the_model_unavailable_at_the_deadline(
    offline_model,
) -> None:
    client, url = offline_model
    plan_uploads(url, processing_polls=10_000)
    files = FilesApi(client, 0.6)
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match=r"not ACTIVE within 0\.6 s"):
        files.part(b"%PDF-1.4", "application/pdf")
    assert time.monotonic() - started < 1.5
    # One deadline for all of a reply's uploads: the next one does not get time of its own.
    with pytest.raises(ModelUnavailable, match=r"took their 0\.6 s"):
        files.part(b"%PDF-1.4 again", "application/pdf")


def test_a_file_the_files_api_fails_is_described_to_the_model_instead(offline_model) -> None:
    client, url = offline_model
    plan_uploads(url, final_state="FAILED")
    parts = MediaParts(lambda uri: b"%PDF-1.4", files=FilesApi(client, 10), inline_bytes=0)
    (part,) = parts(media("document", 8, "application/pdf"))
    assert part.text.startswith("[This application/pdf file cannot be shown to you")


def test_one_request_never_carries_more_inline_bytes_than_its_limit_however_many_media_it_has() -> None:
    """A burst of many photos: each fits alone, together they would not; the request's inline
    total stays under the limit and the rest goes through the Files API."""
    uploads = Uploads()
    limit = 10 * MB
    parts = MediaParts(lambda uri: bytes(MB), files=uploads, inline_bytes=limit)
    photos = [
        ready(
            "image",
            model_source="derived",
            derived_uri=f"gs://b/c/derived/{n}.jpg",
            derived_size_bytes=MB,
            model_mime_type="image/jpeg",
        )
        for n in range(20)
    ]
    built = [part for photo in photos for part in parts(photo)]
    inline = [p for p in built if p.inline_data is not None]
    assert sum(encoded_size(len(p.inline_data.data)) for p in inline) <= limit
    assert len(inline) == limit // encoded_size(MB) == 7
    assert len(uploads.mimes) == 20 - 7  # none dropped: the others are uploaded
    # The default limit is the API's 100 MB of request, less room for the rest of the request.
    assert MediaParts(lambda uri: b"")._inline_left == INLINE_REQUEST_BYTES - PROMPT_HEADROOM_BYTES

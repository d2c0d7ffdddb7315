"""Media as model parts: inline when small, Files API or gs:// when large, voice notes transcribed."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import types

from shared.ai_reply import media_parts
from shared.ai_reply.media_parts import MediaParts, files_api_uploader, take_transcripts


def ready(kind: str, **media) -> dict:
    return {"id": f"wamid.{kind}", "type": kind, "media": {"status": "ready", **media}}


PHOTO = ready(
    "image",
    model_source="derived",
    derived_uri="gs://b/c/derived/x.jpg",
    derived_size_bytes=20,
    model_mime_type="image/jpeg",
)


def test_a_small_photo_goes_inline() -> None:
    (part,) = MediaParts(lambda uri: b"jpeg-bytes")(PHOTO)
    assert (part.inline_data.mime_type, part.inline_data.data) == ("image/jpeg", b"jpeg-bytes")


def test_media_beyond_the_inline_limit_goes_through_the_files_api(monkeypatch) -> None:
    monkeypatch.setattr(media_parts, "INLINE_LIMIT_BYTES", 5)
    uploaded = []
    parts = MediaParts(
        lambda uri: b"0123456789", upload=lambda data, mime: uploaded.append(mime) or "https://f/1"
    )
    (part,) = parts(PHOTO)
    assert part.file_data.file_uri == "https://f/1"
    assert uploaded == ["image/jpeg"]


def test_on_vertex_large_media_is_passed_by_its_gs_uri_without_reading_it(monkeypatch) -> None:
    monkeypatch.setattr(media_parts, "INLINE_LIMIT_BYTES", 5)
    video = ready("video", model_source="original", gcs_uri="gs://b/c/original/v.mp4", size_bytes=9_000_000)
    video["media"]["model_mime_type"] = "video/mp4"
    (part,) = MediaParts(lambda uri: pytest.fail("must not download"), vertex=True)(video)
    assert (part.file_data.file_uri, part.file_data.mime_type) == ("gs://b/c/original/v.mp4", "video/mp4")


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


def test_the_files_api_upload_works_with_the_real_sdk_against_the_offline_model() -> None:
    from local.offline_gemini import start_offline_gemini

    with start_offline_gemini() as model:
        client = genai.Client(
            api_key="k", http_options=types.HttpOptions(base_url=model.url, api_version="v1beta")
        )
        uri = files_api_uploader(client)(b"%PDF-1.4 fake", "application/pdf")
        answer = client.models.generate_content(
            model="gemini-3.8-flash",
            contents=[types.Part.from_uri(file_uri=uri, mime_type="application/pdf"), "what is this?"],
        )
    assert "1 media part (application/pdf)" in answer.text

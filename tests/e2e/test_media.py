"""Media end to end: sent from the simulator, through the media function, to the model."""

from __future__ import annotations

import io
import time

import pytest
from google.cloud import storage
from PIL import Image

from tests.support import media_samples
from tests.support.media_flow import inbound_once_answered, last_model_turn_media, send_media
from tests.support.system import System


def blob_bytes(gcs_uri: str) -> bytes:
    bucket, name = gcs_uri.removeprefix("gs://").split("/", 1)
    return storage.Client(project="demo-test").bucket(bucket).blob(name).download_as_bytes()


def downloads(system: System) -> list[dict]:
    return [e for e in system.simulator.state.events() if e.get("kind") == "media_download"]


@pytest.fixture
def storage_env(stack, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", stack.env["STORAGE_EMULATOR_HOST"])


def test_a_photo_loses_its_gps_and_is_upright_and_bounded_before_the_model_sees_it(
    system: System, storage_env
) -> None:
    photo = media_samples.jpeg_with_gps_and_rotation(width=2400, height=1800)
    send_media(system, "image", photo, "image/jpeg", caption="my receipt")
    message = inbound_once_answered(system)
    media = message["media"]
    assert (message["status"], media["status"]) == ("answered", "ready")
    assert media["gcs_uri"].startswith("gs://") and "/original/" in media["gcs_uri"]
    derived = Image.open(io.BytesIO(blob_bytes(media["derived_uri"])))
    assert derived.getexif() == {} and "exif" not in derived.info  # no GPS, no metadata at all
    assert derived.size == (1200, 1600)  # rotated upright (orientation 6), long side bounded to 1600
    assert last_model_turn_media(system) == ["image/jpeg"]
    (reply,) = system.replies(1)
    assert "1 media part (image/jpeg)" in reply["text"]


def test_a_voice_note_is_transcoded_heard_by_the_model_and_its_transcript_kept(
    system: System, storage_env, tmp_path
) -> None:
    import imageio_ffmpeg
    from pydub import AudioSegment

    AudioSegment.converter = imageio_ffmpeg.get_ffmpeg_exe()  # no system ffmpeg on this machine
    note = media_samples.voice_note(tmp_path / "note.ogg", seconds=3).read_bytes()
    system.model_fault(text='<transcript n="1">مرحبا، هل الطلب جاهز؟</transcript>\nنعم، طلبك جاهز.', count=1)
    send_media(system, "voice", note, "audio/ogg")
    message = inbound_once_answered(system)
    media = message["media"]
    assert media["status"] == "ready"
    audio = AudioSegment.from_file(io.BytesIO(blob_bytes(media["derived_uri"])), format="mp3", codec="mp3")
    assert 2.5 < audio.duration_seconds < 3.5
    assert last_model_turn_media(system) == ["audio/mp3"]
    assert system.wait_for(lambda: system.messages()[0]["media"].get("transcript")) == "مرحبا، هل الطلب جاهز؟"
    (reply,) = system.replies(1)
    assert reply["text"] == "نعم، طلبك جاهز."  # the transcript is stored, not sent back to the customer
    prompt_texts = [p.get("text", "") for p in system.model_requests()[-1]["body"]["contents"][-1]["parts"]]
    assert any('<transcript n="1">' in t for t in prompt_texts)


def test_a_video_gets_a_poster_and_goes_to_the_model_as_video(system: System, storage_env, tmp_path) -> None:
    clip = media_samples.video(tmp_path / "clip.mp4", seconds=2.0, size="320x240").read_bytes()
    send_media(system, "video", clip, "video/mp4", caption="the machine makes this noise")
    media = inbound_once_answered(system)["media"]
    assert media["status"] == "ready"
    poster = Image.open(io.BytesIO(blob_bytes(media["poster_uri"])))
    assert poster.format == "JPEG" and poster.size == (320, 240)
    assert last_model_turn_media(system) == ["video/mp4"]


def test_a_pdf_goes_to_the_model_as_a_document_and_its_text_is_extracted(system: System, storage_env) -> None:
    pdf = media_samples.pdf(["Invoice 2026-117", "Total due: 348.20 EUR"])
    send_media(system, "document", pdf, "application/pdf", filename="invoice.pdf")
    media = inbound_once_answered(system)["media"]
    assert media["status"] == "ready"
    assert "Total due: 348.20 EUR" in media["text_excerpt"]
    assert last_model_turn_media(system) == ["application/pdf"]


def test_a_word_document_reaches_the_model_as_its_text(system: System, storage_env, tmp_path) -> None:
    docx = media_samples.docx(
        tmp_path / "order.docx", ["Order: 12 chairs", "Deliver to Rue de Lyon 4"]
    ).read_bytes()
    mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    send_media(system, "document", docx, mime, filename="order.docx")
    media = inbound_once_answered(system)["media"]
    assert (media["status"], media["model_source"]) == ("ready", "text")
    assert "12 chairs" in media["text_excerpt"]
    last_turn = system.model_requests()[-1]["summary"]
    assert last_turn["media_types"] == []
    assert "12 chairs" in last_turn["last_text"]


@pytest.mark.parametrize(
    ("make", "mime", "reason"),
    [
        (lambda: b"<!DOCTYPE html><html><body>phish</body></html>", "image/jpeg", "HTML"),
        (lambda: media_samples.png_bomb(), "image/png", "too large to open safely"),
        (lambda: b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024 + 10), "image/jpeg", "larger than 5 MB"),
    ],
    ids=["html-declared-as-jpeg", "decompression-bomb", "over-the-cap"],
)
def test_a_file_that_can_never_be_opened_is_failed_with_a_reason_and_still_answered(
    system: System, storage_env, make, mime, reason
) -> None:
    send_media(system, "image", make(), mime)
    message = inbound_once_answered(system)
    assert message["media"]["status"] == "failed"
    assert reason.lower() in message["media"]["failure_reason"].lower()
    assert message["status"] == "answered"  # the assistant can say it could not open the file
    (reply,) = system.replies(1)
    assert last_model_turn_media(system) == []
    assert "could not be opened" in system.model_requests()[-1]["summary"]["last_text"]
    assert reply["text"].startswith("[offline model]")


def test_a_download_that_fails_twice_then_works_is_retried_to_success(system: System, storage_env) -> None:
    system.fault(target="media_download", http_status=500, count=2)
    send_media(system, "image", media_samples.png(64, 64), "image/png")
    media = inbound_once_answered(system)["media"]
    assert media["status"] == "ready"
    assert [d["status"] for d in downloads(system)] == [500, 500, 200]


def test_a_redelivered_media_job_does_not_download_again(system: System, storage_env) -> None:
    from google.cloud import pubsub_v1

    from shared.bus import Job
    from tests.support.cloud import PROJECT
    from tests.support.system import E2E_ENV

    wamid = send_media(system, "image", media_samples.png(32, 32), "image/png")
    inbound_once_answered(system)
    assert len(downloads(system)) == 1
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(PROJECT, E2E_ENV["MEDIA_TOPIC"])
    publisher.publish(topic, Job(system.conversation_id, wamid).encode()).result(timeout=10)
    time.sleep(3)
    assert len(downloads(system)) == 1
    assert len(system.outbox()) == 1

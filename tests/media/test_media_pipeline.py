"""``prepare``: from a downloaded file to what is stored and what the model is given."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from shared.files.errors import MediaRejected, RejectCode
from shared.media.pipeline import MediaLimits, ModelSource, clean_filename, prepare
from tests.support import media_samples


def test_a_photo_becomes_a_clean_bounded_jpeg_for_the_model(write, camera_jpeg):
    path = write(media_samples.jpeg_with_gps_and_rotation(), "photo.jpg")
    prepared = prepare("image", path, "image/jpeg")
    assert prepared.model_source is ModelSource.DERIVED
    assert prepared.model_mime_type == "image/jpeg"
    assert prepared.derived is not None and b"GPS" not in prepared.derived.data
    assert (prepared.width, prepared.height) == (300, 400)
    assert prepared.mime_type == "image/jpeg" and prepared.original_suffix == ".jpg"
    assert prepared.description == "Photo (JPEG image, 400x300)"


def test_the_image_side_limit_comes_from_the_settings(write):
    path = write(media_samples.png(2000, 1000), "wide.png")
    prepared = prepare("image", path, "image/png", limits=MediaLimits(image_max_side=800))
    assert (prepared.width, prepared.height) == (800, 400)


def test_a_photo_over_5_mb_is_refused_before_anything_is_decoded(write):
    path = write(b"\xff\xd8\xff\xe0" + b"\x00" * (5 * 1024 * 1024), "huge.jpg")
    with pytest.raises(MediaRejected) as caught:
        prepare("image", path, "image/jpeg")
    assert caught.value.code == RejectCode.TOO_LARGE
    assert caught.value.reason == "The photo is larger than 5 MB"


def test_an_html_page_sent_as_a_photo_is_refused(write):
    with pytest.raises(MediaRejected, match="This file says it is a JPEG image but it is an HTML page"):
        prepare("image", write(media_samples.HTML_PAGE, "photo.jpg"), "image/jpeg")


def test_a_sticker_becomes_a_png_of_its_first_frame(write):
    prepared = prepare("sticker", write(media_samples.animated_webp(), "s.webp"), "image/webp")
    assert prepared.derived is not None and prepared.derived.mime_type == "image/png"
    assert prepared.animated
    assert prepared.description == "Sticker (WebP image, animated, first frame shown, 512x512)"


def test_a_voice_note_is_transcoded_and_described_with_its_length(voice_note_60s):
    prepared = prepare("audio", voice_note_60s, "audio/ogg; codecs=opus", voice=True)
    assert prepared.model_source is ModelSource.DERIVED
    assert prepared.model_mime_type == "audio/mp3"
    assert prepared.derived is not None and prepared.derived.suffix == ".mp3"
    assert prepared.mime_type == "audio/ogg"
    assert prepared.description == "Voice note (1:00)"


def test_a_voice_note_over_the_configured_length_is_refused(voice_note_60s):
    with pytest.raises(MediaRejected, match="The voice note is longer than 45 seconds"):
        prepare("audio", voice_note_60s, "audio/ogg", voice=True, limits=MediaLimits(audio_max_seconds=45))


def test_a_video_goes_to_the_model_as_is_with_a_poster_for_the_dashboard(small_video):
    prepared = prepare("video", small_video, "video/mp4")
    assert prepared.model_source is ModelSource.ORIGINAL
    assert prepared.model_mime_type == "video/mp4"
    assert prepared.derived is None
    assert prepared.poster is not None and prepared.poster.mime_type == "image/jpeg"
    assert prepared.description == "Video (0:02, 320x240)"


def test_a_pdf_goes_to_the_model_as_is_and_its_text_to_the_dashboard(write):
    path = write(media_samples.pdf(["Menu\nSoup of the day: 6.50"]), "menu.pdf")
    prepared = prepare("document", path, "application/pdf", "menu.pdf")
    assert prepared.model_source is ModelSource.ORIGINAL
    assert prepared.model_mime_type == "application/pdf"
    assert "Soup of the day" in prepared.text
    assert prepared.description.startswith("Document “menu.pdf” (PDF document, 1 page, ")


def test_a_long_pdf_goes_to_the_model_as_text(write):
    path = write(media_samples.pdf(media_samples.report_pages(4, lines_per_page=2)), "r.pdf")
    prepared = prepare("document", path, "application/pdf", limits=MediaLimits(pdf_max_pages=2))
    assert prepared.model_source is ModelSource.TEXT
    assert "first 2 pages" in prepared.notes[0]


def test_a_word_document_goes_to_the_model_as_text(tmp_path):
    path = media_samples.docx(tmp_path / "cv.docx", ["Curriculum vitae", "Ten years of plumbing."])
    prepared = prepare(
        "document", path, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert prepared.model_source is ModelSource.TEXT
    assert "Ten years of plumbing." in prepared.text


def test_a_photo_sent_as_a_document_is_treated_like_a_photo(write, camera_jpeg):
    prepared = prepare("document", write(camera_jpeg, "IMG_0001.JPG"), "image/jpeg", "IMG_0001.JPG")
    assert prepared.model_source is ModelSource.DERIVED
    assert Image.open(io.BytesIO(prepared.derived.data)).size == (1600, 1200)


def test_a_file_we_cannot_read_is_kept_and_described(write):
    prepared = prepare(
        "document", write(bytes(range(256)) * 8, "data.bin"), "application/x-thing", "data.bin"
    )
    assert prepared.model_source is ModelSource.DESCRIPTION
    assert prepared.model_mime_type is None
    assert prepared.mime_type == "application/x-thing"
    assert prepared.original_suffix == ".bin"
    assert prepared.description == "Document “data.bin” (file of type application/x-thing, 2 KB)"


def test_file_names_from_senders_are_cleaned_for_display():
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\Users\\me\\report\u202egpj.exe") == "reportgpj.exe"
    assert clean_filename("  a \n b.txt ") == "a b.txt"
    assert clean_filename("") is None
    long_name = clean_filename("x" * 300 + ".pdf")
    assert len(long_name) <= 120 and long_name.endswith("….pdf")


def test_importing_the_package_loads_no_heavy_library():
    code = (
        "import sys, shared.media; "
        "heavy = {'PIL', 'pydub', 'pypdf', 'docx', 'imageio_ffmpeg', 'filetype', 'google.cloud.storage'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo
    )
    assert result.stdout.strip() == "[]"


def test_a_video_sent_as_a_document_too_big_to_inline_gives_the_model_its_poster(small_video, monkeypatch):
    from dataclasses import replace

    from shared.media import pipeline
    from shared.media.kinds import Kind

    monkeypatch.setitem(pipeline.RULES, Kind.VIDEO, replace(pipeline.RULES[Kind.VIDEO], max_bytes=1000))
    prepared = prepare("document", small_video, "video/mp4", "holiday.mp4")
    assert prepared.model_source is ModelSource.DERIVED
    assert prepared.derived is prepared.poster
    assert "one frame" in prepared.notes[0]

"""Real types from bytes, declared types held against them, and the size caps per kind."""

from __future__ import annotations

import io
import zipfile

import pytest

from shared.files import formats as f
from shared.files.errors import MediaRejected, RejectCode
from shared.media.kinds import Kind, check_size, max_bytes
from shared.media.sniff import check_declared_type, sniff
from tests.support import media_samples

MiB = 1024 * 1024


def _zip(*names: str, first: tuple[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if first:
            archive.writestr(first[0], first[1])
        for name in names:
            archive.writestr(name, b"<xml/>")
    return buffer.getvalue()


def _ftyp(brand: bytes, *compatible: bytes) -> bytes:
    body = brand + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00\x00\x00\x08free"


@pytest.mark.parametrize(
    ("declared", "normalized"),
    [
        ("audio/ogg; codecs=opus", "audio/ogg"),
        ("Image/JPG", "image/jpeg"),
        ("audio/x-m4a", "audio/mp4"),
        ("  text/plain ; charset=UTF-8", "text/plain"),
        ("", "application/octet-stream"),
        (None, "application/octet-stream"),
        ("not a type", "application/octet-stream"),
    ],
)
def test_declared_types_are_normalised_before_comparison(declared, normalized):
    assert f.normalize_mime(declared) == normalized


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", f.JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", f.PNG),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", f.WEBP),
        (b"GIF89a\x01\x00\x01\x00", f.GIF),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead", f.OGG_AUDIO),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00", f.MP3),
        (b"\xff\xfb\x90\x64" + b"\x00" * 20, f.MP3),
        (b"\xff\xf1\x50\x80\x02\x1f\xfc", f.AAC),
        (b"#!AMR\n\x3c", f.AMR),
        (b"#!AMR-WB\n", f.AMR_WB),
        (_ftyp(b"isom", b"isom", b"avc1"), f.MP4),
        (_ftyp(b"M4A ", b"M4A ", b"mp42"), f.M4A),
        (_ftyp(b"3gp4", b"3gp4"), f.VIDEO_3GPP),
        (_ftyp(b"qt  "), f.MOV),
        (_ftyp(b"heic", b"mif1", b"heic"), f.HEIC),
        (b"%PDF-1.7\n", f.PDF),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "WordDocument".encode("utf-16-le"), f.DOC),
        (media_samples.HTML_PAGE, f.HTML),
        (b"  <html><body>hi</body></html>", f.HTML),
        ("Grüße aus Köln\nzweite Zeile\n".encode(), f.TEXT),
        (b"name,amount\nalice,3\n", f.TEXT),
        (b"\x7fELF\x02\x01\x01", f.EXECUTABLE),
        (b"I'm free tomorrow after 5, call me", f.TEXT),  # bytes 4-8 spell a QuickTime atom
        (b"\x00\x00\x00\x08wide\x00\x10\x00\x00mdat", f.MOV),
    ],
)
def test_the_real_type_is_read_from_the_bytes(head, expected):
    assert sniff(head) == expected


def test_office_files_are_told_apart_by_what_is_inside_the_zip(tmp_path):
    cases = {
        "word.docx": (_zip("[Content_Types].xml", "word/document.xml"), f.DOCX),
        "sheet.xlsx": (_zip("[Content_Types].xml", "xl/workbook.xml"), f.XLSX),
        "slides.pptx": (_zip("[Content_Types].xml", "ppt/presentation.xml"), f.PPTX),
        "text.odt": (_zip("content.xml", first=("mimetype", f.ODT.encode())), f.ODT),
        "plain.zip": (_zip("readme.txt"), f.ZIP),
    }
    for name, (data, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert sniff(data[:4096], path=path) == expected, name
        assert sniff(data) == expected, f"{name} from the local headers alone"


def test_an_html_page_declared_as_a_jpeg_is_refused_with_a_reason_a_person_understands():
    with pytest.raises(MediaRejected) as caught:
        check_declared_type("image", "image/jpeg", media_samples.HTML_PAGE)
    assert caught.value.code == RejectCode.TYPE_MISMATCH
    assert str(caught.value) == "This file says it is a JPEG image but it is an HTML page"


@pytest.mark.parametrize("kind", ["audio", "video", "sticker"])
def test_an_html_page_is_never_accepted_as_audio_video_or_sticker(kind):
    with pytest.raises(MediaRejected, match="HTML page"):
        check_declared_type(
            kind,
            {"audio": "audio/ogg", "video": "video/mp4", "sticker": "image/webp"}[kind],
            media_samples.HTML_PAGE,
        )


def test_a_playlist_pretending_to_be_a_video_never_reaches_ffmpeg():
    playlist = b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
    with pytest.raises(MediaRejected) as caught:
        check_declared_type("video", "video/mp4", playlist)
    assert caught.value.code == RejectCode.TYPE_MISMATCH
    assert "text file" in caught.value.reason


def test_a_png_sent_as_a_jpeg_is_quietly_processed_as_a_png():
    assert check_declared_type("image", "image/jpeg", media_samples.png(4, 4)) == f.PNG


def test_audio_in_an_mp4_container_is_treated_as_m4a_audio():
    assert check_declared_type("audio", "audio/mp4", _ftyp(b"isom", b"isom")) == f.M4A


def test_a_heic_photo_is_refused_as_unsupported_not_as_a_lie():
    with pytest.raises(MediaRejected) as caught:
        check_declared_type("image", "image/heic", _ftyp(b"heic", b"mif1", b"heic"))
    assert caught.value.code == RejectCode.UNSUPPORTED_TYPE
    assert "HEIC image" in caught.value.reason


def test_a_document_claiming_to_be_a_pdf_must_be_one():
    with pytest.raises(MediaRejected, match="says it is a PDF document but it is an HTML page"):
        check_declared_type("document", "application/pdf", media_samples.HTML_PAGE)


def test_documents_of_types_we_do_not_open_are_accepted_as_declared():
    epub = _zip("META-INF/container.xml", first=("mimetype", b"application/epub+zip"))
    assert check_declared_type("document", "application/epub+zip", epub) == "application/epub+zip"
    random_bytes = bytes(range(256)) * 4
    assert check_declared_type("document", "application/x-custom", random_bytes) == "application/x-custom"
    assert check_declared_type("document", "text/csv", b"a,b\n1,2\n") == f.CSV


def test_a_file_over_its_kind_cap_is_refused_with_the_cap_in_the_reason():
    with pytest.raises(MediaRejected) as caught:
        check_size("image", 5 * MiB + 1)
    assert caught.value.code == RejectCode.TOO_LARGE
    assert caught.value.reason.startswith("The photo is larger than 5 MB")
    with pytest.raises(MediaRejected, match="The voice note is larger than 16 MB"):
        check_size("audio", 17 * MiB, voice=True)
    with pytest.raises(MediaRejected, match="empty"):
        check_size("document", 0)
    check_size("document", 100 * MiB)


def test_caps_follow_whatsapp_with_a_lenient_sticker_cap():
    assert max_bytes(Kind.IMAGE) == 5 * MiB
    assert max_bytes("audio") == max_bytes("video") == 16 * MiB
    assert max_bytes("document") == 100 * MiB
    assert 500 * 1024 <= max_bytes("sticker") <= 1 * MiB
    with pytest.raises(ValueError, match="not a media kind"):
        max_bytes("location")


def test_a_rejection_survives_pickling_with_its_reason_and_code():
    import pickle

    error = pickle.loads(pickle.dumps(MediaRejected("The photo is larger than 5 MB", RejectCode.TOO_LARGE)))
    assert (error.reason, error.code) == ("The photo is larger than 5 MB", "too_large")

"""Hostile files end to end: refused by the media function in a bounded child, and still answered."""

from __future__ import annotations

import pytest

from tests.support import hostile_media
from tests.support.media_flow import inbound_once_answered, last_model_turn_media, send_media
from tests.support.system import System


@pytest.mark.parametrize(
    ("kind", "make", "mime", "code"),
    [
        ("image", lambda _tmp: hostile_media.scan_bomb_jpeg(scans=4000), "image/jpeg", "too_complex"),
        (
            "document",
            lambda _tmp: hostile_media.form_bomb_pdf(invocations=5000),
            "application/pdf",
            "too_complex",
        ),
        (
            "document",
            lambda tmp: hostile_media.paragraph_bomb_docx(tmp / "bomb.docx").read_bytes(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "too_large",
        ),
        (
            "video",
            lambda tmp: hostile_media.header_spoofed_mp4(tmp / "spoofed.mp4").read_bytes(),
            "video/mp4",
            "too_long",
        ),
    ],
    ids=["scan-bomb-photo", "form-xobject-pdf", "paragraph-bomb-docx", "header-spoofed-video"],
)
def test_a_hostile_file_is_refused_with_a_reason_and_the_message_still_answered(
    system: System, tmp_path, kind, make, mime, code
) -> None:
    send_media(
        system,
        kind,
        make(tmp_path),
        mime,
        **(
            {"filename": "report." + ("pdf" if mime.endswith("pdf") else "docx")}
            if kind == "document"
            else {}
        ),
    )
    message = inbound_once_answered(system)
    assert (message["media"]["status"], message["media"]["failure_code"]) == ("failed", code)
    assert message["status"] == "answered"
    assert last_model_turn_media(system) == []  # the model is told about it, never given it
    (reply,) = system.replies(1)
    assert reply["text"].startswith("[offline model]")

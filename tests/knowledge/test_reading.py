"""Uploaded files -> text with the media function's extraction, or a reason an operator can act on."""

from __future__ import annotations

import pytest

from shared.files import formats as f
from shared.knowledge.passages import split_passages
from shared.knowledge.reading import MARKDOWN, UnreadableDocument, read_document
from tests.support import media_samples


def test_a_pdf_is_read_page_by_page():
    data = media_samples.pdf(["Opening hours:\nWe open at 07:30.", "Prices:\nA coffee is 2 EUR."])

    document = read_document(data, "shop.pdf")

    assert document.mime_type == f.PDF
    assert "We open at 07:30." in document.text and "A coffee is 2 EUR." in document.text
    assert [p.heading for p in split_passages(document.text)] == ["Opening hours", "Prices"]


def test_a_word_file_keeps_its_heading_styles_as_headings(tmp_path):
    path = media_samples.docx(tmp_path / "faq.docx", ["Delivery", "We deliver within Lisbon in two days."])

    document = read_document(path.read_bytes(), "faq.docx")

    assert document.mime_type == f.DOCX
    assert [(p.heading, p.text) for p in split_passages(document.text)] == [
        ("Delivery", "We deliver within Lisbon in two days.")
    ]


def test_markdown_and_plain_text_are_told_apart_by_name_only():
    assert read_document(b"# Menu\n\nSoup of the day.", "menu.md").mime_type == MARKDOWN
    assert (
        read_document("Caf\u00e9 au lait: 3 EUR".encode("cp1252"), "prices.txt").text == "Café au lait: 3 EUR"
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a document this knowledge base reads"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "save it as .docx or PDF"),
        (b"PK\x03\x04" + b"\x00" * 64, "not a Word document"),
        (b"%PDF-1.4\nnot really a pdf", "damaged"),
        (b"   \n\n  ", "no text to read"),
    ],
)
def test_a_file_that_cannot_be_read_says_why(data, reason):
    with pytest.raises(UnreadableDocument, match=reason):
        read_document(data, "upload.bin")


def test_a_password_protected_pdf_says_so():
    with pytest.raises(UnreadableDocument, match="protected by a password"):
        read_document(media_samples.encrypted_pdf("Secret prices"), "prices.pdf")

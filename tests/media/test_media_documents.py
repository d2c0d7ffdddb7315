"""Documents: PDFs for the model within the caps, text pulled out of PDFs, Word and text files."""

from __future__ import annotations

import zipfile

import pytest

from shared.files import documents
from shared.files.documents import prepare_document
from shared.files.errors import MediaRejected, RejectCode
from tests.support import media_samples

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_text_is_extracted_from_a_pdf_that_the_model_reads_as_is(write):
    path = write(
        media_samples.pdf(["Invoice 2024-117\nTotal due: 1,250.00 EUR", "Thank you (really)!"]), "a.pdf"
    )
    prepared = prepare_document(path, mime=PDF)
    assert prepared.model_reads_original
    assert prepared.page_count == 2
    assert "Invoice 2024-117" in prepared.text
    assert "Total due: 1,250.00 EUR" in prepared.text
    assert "Thank you (really)!" in prepared.text
    assert prepared.notes == ()


def test_a_pdf_over_the_page_cap_gives_the_model_the_text_of_the_first_pages_and_says_so(write):
    path = write(media_samples.pdf(media_samples.report_pages(12, lines_per_page=3)), "long.pdf")
    prepared = prepare_document(path, mime=PDF, max_pdf_pages=5)
    assert not prepared.model_reads_original
    assert prepared.page_count == 12
    assert "Page 5 line 1" in prepared.text
    assert "Page 6" not in prepared.text
    assert prepared.notes == (
        "The PDF has 12 pages, so the assistant was given the text of its first 5 pages instead of the file.",
    )


def test_extracted_text_is_capped(write):
    path = write(media_samples.pdf(media_samples.report_pages(3)), "a.pdf")
    prepared = prepare_document(path, mime=PDF, max_text_chars=200)
    assert prepared.text_truncated
    assert len(prepared.text) <= 201


def test_a_damaged_pdf_is_refused(write):
    data = media_samples.pdf(["hello"])
    path = write(b"%PDF-1.4\n" + b"\x00garbage" * 50, "bad.pdf")
    with pytest.raises(MediaRejected) as caught:
        prepare_document(path, mime=PDF)
    assert caught.value.code == RejectCode.DAMAGED
    assert caught.value.reason == "The document is damaged and could not be read"
    assert data  # a sanity anchor: the generator itself works


def test_a_password_protected_pdf_is_kept_but_described_not_read(write):
    path = write(media_samples.encrypted_pdf("top secret"), "locked.pdf")
    prepared = prepare_document(path, mime=PDF)
    assert prepared.encrypted
    assert not prepared.model_reads_original
    assert prepared.text is None
    assert "password" in prepared.notes[0]


def test_text_is_extracted_from_a_word_document_in_reading_order(tmp_path):
    path = media_samples.docx(
        tmp_path / "offer.docx",
        ["Offer for ACME", "We propose three options.", "Prices exclude VAT."],
        table=[["Option", "Price"], ["Basic", "100"], ["Pro", "250"]],
    )
    prepared = prepare_document(path, mime=DOCX)
    assert not prepared.model_reads_original
    assert prepared.text.splitlines()[:3] == [
        "Offer for ACME",
        "We propose three options.",
        "Prices exclude VAT.",
    ]
    assert "Basic | 100" in prepared.text
    assert "Pro | 250" in prepared.text


def test_a_word_document_that_unpacks_to_far_more_than_it_weighs_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(documents, "MAX_UNPACKED_BYTES", 1024 * 1024)
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\x00" * (2 * 1024 * 1024))
    assert path.stat().st_size < 10_000
    with pytest.raises(MediaRejected) as caught:
        prepare_document(path, mime=DOCX)
    assert caught.value.code == RejectCode.TOO_LARGE


def test_a_damaged_word_document_is_refused(write):
    with pytest.raises(MediaRejected) as caught:
        prepare_document(write(b"PK\x03\x04" + b"\x00" * 100, "bad.docx"), mime=DOCX)
    assert caught.value.code == RejectCode.DAMAGED


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Grüße, €5\n".encode(), "Grüße, €5"),
        ("Grüße aus Köln, schöne Straße\n".encode("cp1252"), "Grüße aus Köln, schöne Straße"),
        ("name;amount\r\nZoë;3\r\n".encode("utf-16"), "name;amount\nZoë;3"),
    ],
)
def test_plain_text_is_decoded_with_a_charset_fallback(write, raw, expected):
    prepared = prepare_document(write(raw, "notes.txt"), mime="text/plain")
    assert prepared.text == expected
    assert not prepared.model_reads_original


def test_long_text_files_are_read_only_up_to_the_cap(write):
    prepared = prepare_document(write(b"x" * 1_000_000, "big.csv"), mime="text/csv", max_text_chars=1000)
    assert prepared.text_truncated
    assert len(prepared.text) == 1001  # the cap plus the ellipsis


def test_other_types_are_kept_without_text(write):
    prepared = prepare_document(write(b"PK\x05\x06" + b"\x00" * 18, "x.xlsx"), mime="application/zip")
    assert prepared.text is None
    assert not prepared.model_reads_original


def test_pdf_text_extraction_stops_when_its_time_budget_runs_out(write):
    path = write(media_samples.pdf(media_samples.report_pages(3)), "slow.pdf")
    prepared = documents.prepare_pdf(
        path, max_pages=10, max_model_bytes=10**9, max_chars=10**6, max_extract_seconds=0
    )
    assert prepared.model_reads_original
    assert prepared.text is None
    assert prepared.notes == ("Text extraction stopped at page 1: the PDF is slow to read.",)

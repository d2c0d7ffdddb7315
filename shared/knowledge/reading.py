"""An uploaded file -> its text, or the reason it cannot be read, in words an operator can act on.

The text comes from the same extraction the media function applies to customers' documents
(shared/files/documents.py, with its caps on pages, unpacked size and time), so a document reads
the same whether a customer sends it or an operator adds it. The type is decided from the
bytes (a browser's content type and a file's name are guesses); the name only tells text from
Markdown, which read the same.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from shared.files import documents
from shared.files import formats as f
from shared.files.errors import MediaRejected

MARKDOWN = "text/markdown"
MAX_DOCUMENT_CHARS = 300_000  # about 250 passages; a longer file is read up to here, and says so
MAX_PDF_PAGES = 500
READABLE = "PDF, Word (.docx), plain text or Markdown"
_MARKDOWN_SUFFIXES = (".md", ".markdown")


class UnreadableDocument(Exception):
    """The file can never be read as it is; the message says why, for the operator."""


@dataclass(frozen=True)
class DocumentText:
    mime_type: str
    text: str
    truncated: bool
    notes: tuple[str, ...] = ()


def read_document(data: bytes, filename: str) -> DocumentText:
    """The text of an uploaded file; UnreadableDocument with the reason when there is none."""
    if not data:
        raise UnreadableDocument("The file is empty.")
    mime = detect_type(data, filename)
    with tempfile.TemporaryDirectory(prefix="knowledge-") as folder:
        path = Path(folder) / "upload"
        path.write_bytes(data)
        try:
            text, truncated, notes = _extract(path, mime)
        except MediaRejected as exc:
            raise UnreadableDocument(f"{exc.reason}.") from exc
    if not text.strip():
        raise UnreadableDocument(
            "The file has no text to read (a scanned PDF holds pictures of pages: "
            "export it with its text, or paste the text into a .txt file)."
        )
    if truncated:
        notes = (*notes, f"Only the first {MAX_DOCUMENT_CHARS:,} characters were read.")
    return DocumentText(mime, text, truncated, notes)


def detect_type(data: bytes, filename: str) -> str:
    """PDF, DOCX, Markdown or plain text, from the bytes; UnreadableDocument for anything else."""
    head = data[:8]
    if head.startswith(b"%PDF-"):
        return f.PDF
    if head.startswith(b"PK\x03\x04"):
        if _is_word(data):
            return f.DOCX
        raise UnreadableDocument(
            f"The file is a ZIP-based file but not a Word document; add it as {READABLE}."
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableDocument(
            "The file is an old Word or Office file (.doc); save it as .docx or PDF and add it again."
        )
    if _looks_textual(data):
        return MARKDOWN if filename.lower().endswith(_MARKDOWN_SUFFIXES) else f.TEXT
    raise UnreadableDocument(f"The file is not a document this knowledge base reads; add it as {READABLE}.")


def _is_word(data: bytes) -> bool:
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _looks_textual(data: bytes) -> bool:
    sample = data[:4096]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return True  # a byte-order mark: UTF-16 text has NULs and is still text
    if b"\x00" in sample:
        return False
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls <= len(sample) // 100


def _extract(path: Path, mime: str) -> tuple[str, bool, tuple[str, ...]]:
    if mime == f.PDF:
        prepared = documents.prepare_pdf(
            path, max_pages=MAX_PDF_PAGES, max_model_bytes=0, max_chars=MAX_DOCUMENT_CHARS
        )
        if prepared.encrypted:
            raise UnreadableDocument(
                "The PDF is protected by a password; save a copy without one and add it again."
            )
        # The page and time caps speak of the PDF; the note about the model reading the file does not apply.
        notes = tuple(n for n in prepared.notes if "instead of the file" not in n)
        return prepared.text or "", prepared.text_truncated, notes
    if mime == f.DOCX:
        text, truncated = documents.docx_text(path, max_chars=MAX_DOCUMENT_CHARS, headings=True)
        return text, truncated, ()
    text, truncated = documents.read_text(path, max_chars=MAX_DOCUMENT_CHARS)
    return text, truncated, ()

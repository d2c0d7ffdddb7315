"""Documents: PDFs for the model as they are, text pulled out of everything we can read.

The extracted text serves twice: the dashboard shows it to operators, and the model gets it
whenever it cannot take the file itself (a Word document, or a PDF over the page cap).
"""

from __future__ import annotations

import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from shared.files import formats as f
from shared.files.docx_parts import check_xml_parts
from shared.files.errors import MediaRejected, RejectCode
from shared.files.pdf_forms import MAX_FORM_BYTES_PER_PAGE, FormWork

if TYPE_CHECKING:
    from pypdf import PdfReader

DEFAULT_MAX_PDF_PAGES = 100
# Well below the Gemini inline limits (20-100 MB depending on endpoint); bigger ones go as text.
DEFAULT_MAX_MODEL_PDF_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_TEXT_CHARS = 100_000
DEFAULT_MAX_EXTRACT_SECONDS = 20.0
# pypdf's own cap (5,000) lets one page cost minutes; the byte budget of FormWork comes first.
MAX_FORM_INVOCATIONS_PER_PAGE = 500
# A Word file is a ZIP: refuse one that would unpack to more than this (a zip bomb).
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_ZIP_ENTRIES = 10_000


@dataclass(frozen=True)
class PreparedDocument:
    text: str | None  # extracted text, at most ``max_text_chars``; None when there is none
    text_truncated: bool
    page_count: int | None
    model_reads_original: bool  # the model gets the file itself (a PDF within the caps)
    encrypted: bool = False
    notes: tuple[str, ...] = ()  # sentences for the model and the operator about what was done


def prepare_document(
    path: Path,
    *,
    mime: str,
    max_pdf_pages: int = DEFAULT_MAX_PDF_PAGES,
    max_model_pdf_bytes: int = DEFAULT_MAX_MODEL_PDF_BYTES,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
) -> PreparedDocument:
    """Extract what we can from a document whose real type is ``mime``.

    Types we cannot read are not an error: they are kept and described by the caller.
    """
    mime = f.normalize_mime(mime)
    if mime == f.PDF:
        return prepare_pdf(
            path, max_pages=max_pdf_pages, max_model_bytes=max_model_pdf_bytes, max_chars=max_text_chars
        )
    if mime == f.DOCX:
        text, truncated = docx_text(path, max_chars=max_text_chars)
        return PreparedDocument(text or None, truncated, None, model_reads_original=False)
    if f.is_textual(mime):
        text, truncated = read_text(path, max_chars=max_text_chars)
        return PreparedDocument(text or None, truncated, None, model_reads_original=False)
    return PreparedDocument(None, False, None, model_reads_original=False)


# --- PDF ----------------------------------------------------------------------------------------


def prepare_pdf(
    path: Path,
    *,
    max_pages: int,
    max_model_bytes: int,
    max_chars: int,
    max_extract_seconds: float = DEFAULT_MAX_EXTRACT_SECONDS,
) -> PreparedDocument:
    from pypdf import apply_configuration

    size = path.stat().st_size
    # A file object, not the path: given a path, pypdf reads the whole file into memory.
    # No external decoder (jbig2dec) is ever started for a customer's file; text needs none.
    with (
        path.open("rb") as stream,
        apply_configuration(
            xform_maximum_invocations_per_extraction=MAX_FORM_INVOCATIONS_PER_PAGE, jbig2dec_binary=None
        ),
    ):
        reader, page_count = _open_pdf(stream)
        if reader is None:
            return _password_protected()
        pages_to_read = min(page_count, max_pages)
        extracted = _pdf_text(reader, pages_to_read, max_chars, time.monotonic() + max_extract_seconds)
    notes: list[str] = []
    too_many_pages = page_count > max_pages
    model_reads_original = not too_many_pages and size <= max_model_bytes
    if not model_reads_original:
        why = f"has {page_count} pages" if too_many_pages else f"is {f.format_size(size)}"
        given = (
            f"the text of its first {pages_to_read} pages"
            if extracted.text
            else "only its description, because it has no text to extract"
        )
        notes.append(f"The PDF {why}, so the assistant was given {given} instead of the file.")
    if extracted.failed_pages:
        notes.append(f"The text of {extracted.failed_pages} page(s) could not be read.")
    if extracted.out_of_time_at is not None:
        notes.append(f"Text extraction stopped at page {extracted.out_of_time_at}: the PDF is slow to read.")
    return PreparedDocument(
        extracted.text or None, extracted.truncated, page_count, model_reads_original, notes=tuple(notes)
    )


def _open_pdf(stream: BinaryIO) -> tuple[PdfReader | None, int]:
    """The reader and page count; (None, 0) when a password is needed; damaged -> rejected."""
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(stream)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            return None, 0
        page_count = len(reader.pages)
    except MemoryError:
        raise
    except Exception as exc:
        if _is_encryption_error(exc):
            return None, 0
        # pypdf raises a zoo of types on bad input (PdfReadError, KeyError, ValueError, ...).
        raise _damaged() from exc
    if page_count == 0:
        raise _damaged()
    return reader, page_count


@dataclass(frozen=True)
class _Extracted:
    text: str
    truncated: bool
    failed_pages: int
    out_of_time_at: int | None  # the page where the time budget ran out


def _pdf_text(reader: PdfReader, pages: int, max_chars: int, deadline: float) -> _Extracted:
    """Text of the first ``pages`` pages, stopping at ``max_chars`` or at the deadline.

    pypdf is pure Python; a pathological page can take seconds, so the budget keeps one odd
    PDF from eating the function's whole timeout.
    """
    parts: list[str] = []
    collected = 0
    failed = 0
    out_of_time_at = None
    forms = FormWork(reader)
    for index in range(pages):
        if time.monotonic() > deadline:
            out_of_time_at = index + 1
            break
        try:
            page = reader.pages[index]
        except MemoryError:
            raise
        except Exception:
            failed += 1
            continue
        # Checked before the page is read: the deadline above is only looked at between pages.
        if forms.of_page(page) > MAX_FORM_BYTES_PER_PAGE:
            raise MediaRejected(
                f"The PDF is too complex to read safely: page {index + 1} draws the same content "
                "over and over",
                RejectCode.TOO_COMPLEX,
            )
        try:
            page_text = page.extract_text() or ""
        except MemoryError:
            raise
        except Exception:  # one broken page should not lose the others
            failed += 1
            continue
        page_text = page_text.strip()
        if page_text:
            parts.append(page_text)
            collected += len(page_text) + 2
        if collected >= max_chars:
            break
    text, truncated = _cap("\n\n".join(parts), max_chars)
    return _Extracted(text, truncated, failed, out_of_time_at)


def _is_encryption_error(exc: Exception) -> bool:
    from pypdf.errors import DependencyError, FileNotDecryptedError

    return isinstance(exc, FileNotDecryptedError | DependencyError | NotImplementedError)


def _password_protected() -> PreparedDocument:
    note = "The PDF is protected by a password, so its contents could not be read."
    return PreparedDocument(None, False, None, model_reads_original=False, encrypted=True, notes=(note,))


# --- Word ---------------------------------------------------------------------------------------


def docx_text(path: Path, *, max_chars: int, headings: bool = False) -> tuple[str, bool]:
    """Paragraphs and table rows of a .docx in document order; with `headings`, a paragraph in
    a heading style is written as a Markdown heading of its level (what passages split on)."""
    check_zip_is_safe(path)
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
        lines: list[str] = []
        collected = 0
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in block.rows]
                text = "\n".join(rows)
            else:
                text = block.text
                if headings and (level := _heading_level(block)) and text.strip():
                    text = "#" * level + " " + text.strip()
            lines.append(text)
            collected += len(text) + 1
            if collected >= max_chars:
                break
    except MemoryError:
        raise
    except Exception as exc:  # python-docx and lxml raise many types on a broken package
        raise _damaged() from exc
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return _cap(text, max_chars)


def _heading_level(paragraph: Any) -> int:
    """1-6 for a paragraph styled Title or Heading N, 0 otherwise."""
    try:
        name = (paragraph.style.name or "") if paragraph.style is not None else ""
    except (KeyError, ValueError, AttributeError):  # a style the file names but does not define
        return 0
    if name == "Title":
        return 1
    match = re.fullmatch(r"Heading ([1-9])", name)
    return min(int(match[1]), 6) if match else 0


def check_zip_is_safe(path: Path) -> None:
    """Refuse ZIP-based files that would unpack to far more than they weigh, or parse to more."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            unpacked = sum(entry.file_size for entry in entries)
            if len(entries) > MAX_ZIP_ENTRIES or unpacked > MAX_UNPACKED_BYTES:
                raise MediaRejected(
                    "The document is too large to open safely once unpacked", RejectCode.TOO_LARGE
                )
            check_xml_parts(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _damaged() from exc


# --- plain text ---------------------------------------------------------------------------------

_BOM_ENCODINGS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def read_text(path: Path, *, max_chars: int) -> tuple[str, bool]:
    """The start of a text file, decoded: BOM, then UTF-8, then a detected charset."""
    limit = max_chars * 4 + 4  # enough bytes for max_chars characters in any encoding
    with path.open("rb") as fh:
        raw = fh.read(limit)
        more = bool(fh.read(1))
    text = decode_text(raw, truncated=more).lstrip("\ufeff").replace("\r\n", "\n").strip()
    text, truncated = _cap(text, max_chars)
    return text, truncated or more


def decode_text(raw: bytes, *, truncated: bool = False) -> str:
    for bom, encoding in _BOM_ENCODINGS:
        if raw.startswith(bom):
            return raw.decode(encoding, "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(raw) - 3:
            return raw[: exc.start].decode("utf-8")  # we cut a character in half, not the sender
    try:
        from charset_normalizer import from_bytes  # lazily: only legacy encodings need it

        best = from_bytes(raw).best()
        if best is not None:
            return str(best)
    except ImportError:
        pass
    return raw.decode("cp1252", "replace")


# --- shared -------------------------------------------------------------------------------------


def _cap(text: str, max_chars: int) -> tuple[str, bool]:
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars].rstrip() + "…", True


def _damaged() -> MediaRejected:
    return MediaRejected("The document is damaged and could not be read", RejectCode.DAMAGED)

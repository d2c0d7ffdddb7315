"""Recognise a file's real type from its bytes, and hold it against the type it claims.

The declared MIME type comes from the sender's phone (or an attacker); the bytes decide. An HTML
error page or a script saved as "photo.jpg" must never reach an image decoder, ffmpeg or the
model under a false name. Detection is by magic numbers on the first bytes, with a look inside ZIP
containers to tell Office files apart, and a text check for everything that has no magic at all.
"""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

from shared.files import formats as f
from shared.files.errors import MediaRejected, RejectCode
from shared.media.kinds import Kind, rules_for

# Enough for every magic number, the Ogg/Matroska codec headers and most ZIP local headers.
HEAD_BYTES = 64 * 1024


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    with path.open("rb") as fh:
        return fh.read(size)


def sniff(head: bytes, *, path: Path | None = None) -> str | None:
    """The real MIME type of a file from its first bytes, or None when we cannot tell.

    ``path`` (the whole file) is only used to read a ZIP's central directory, which is more
    reliable than the local headers that happen to be in ``head``.
    """
    for detect in (_image, _audio_video, _document, _archive_or_program):
        found = detect(head, path)
        if found is not None:
            return found
    return _text(head) or _fallback(head)


# --- magic numbers -----------------------------------------------------------------------------


def _image(head: bytes, _path: Path | None) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return f.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return f.PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return f.GIF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return f.WEBP
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return f.TIFF
    # "BM" alone starts plenty of text; the reserved header fields must be zero too.
    if head.startswith(b"BM") and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00":
        return f.BMP
    return None


_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def _audio_video(head: bytes, _path: Path | None) -> str | None:
    if head[4:8] == b"ftyp":
        return _iso_media(head)
    if head[4:8] in _QUICKTIME_ATOMS and _plausible_atom_size(head):
        return f.MOV
    if head.startswith(b"OggS"):
        return f.OGG_VIDEO if b"\x80theora" in head else f.OGG_AUDIO
    if head.startswith(b"fLaC"):
        return f.FLAC
    if head.startswith(b"#!AMR-WB\n"):
        return f.AMR_WB
    if head.startswith(b"#!AMR\n"):
        return f.AMR
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return f.WAV
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return f.AVI
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML: the DocType element (0x4282) says "webm" or "matroska".
        return f.WEBM if b"\x42\x82\x84webm" in head[:4096] else f.MKV
    if head.startswith(b"ID3"):
        return _after_id3(head)
    return _mpeg_audio_frame(head)


def _plausible_atom_size(head: bytes) -> bool:
    # Old QuickTime files start with a bare atom. Its size must look like one (64-bit marker,
    # or under 16 MB), or the text "I'm free" would be a movie.
    size = struct.unpack(">I", head[:4])[0]
    return size == 1 or 8 <= size < 1 << 24


def _iso_media(head: bytes) -> str:
    """ISO base media (MP4, M4A, 3GP, MOV, HEIC) told apart by the ftyp brands."""
    major = head[8:12]
    box_size = struct.unpack(">I", head[:4])[0]
    compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head), 256), 4)}
    brands = {major, *compatible}
    if major in _HEIF_BRANDS or major in (b"avif", b"avis"):
        return f.AVIF if major in (b"avif", b"avis") else f.HEIC
    if major in (b"M4A ", b"M4B ", b"M4P ", b"F4A "):
        return f.M4A
    if major.startswith(b"3g2"):
        return f.VIDEO_3GPP2
    if major.startswith((b"3gp", b"3gr", b"3gs", b"3ge", b"3gg")):
        return f.VIDEO_3GPP
    if major == b"qt  ":
        return f.MOV
    if brands & _HEIF_BRANDS and not brands & {b"isom", b"mp41", b"mp42", b"avc1"}:
        return f.HEIC
    return f.MP4


def _after_id3(head: bytes) -> str:
    # An ID3v2 tag is prepended to MP3 and sometimes to ADTS AAC; look at the first frame after it.
    if len(head) < 10:
        return f.MP3
    size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
    offset = 10 + size + (10 if head[5] & 0x10 else 0)
    return _mpeg_audio_frame(head[offset : offset + 4]) or f.MP3


def _mpeg_audio_frame(head: bytes) -> str | None:
    """An MPEG audio (MP3) or ADTS (AAC) frame header at the very start."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    layer = (head[1] >> 1) & 0x03
    if layer == 0:
        # ADTS: MPEG version bit free, layer 00, a valid sampling-frequency index.
        return f.AAC if head[1] & 0xF6 == 0xF0 and (head[2] >> 2) & 0x0F <= 12 else None
    version = (head[1] >> 3) & 0x03
    bitrate_index = head[2] >> 4
    rate_index = (head[2] >> 2) & 0x03
    if version == 1 or bitrate_index == 0x0F or rate_index == 0x03:
        return None
    return f.MP3


def _document(head: bytes, path: Path | None) -> str | None:
    if b"%PDF-" in head[:1024]:
        return f.PDF
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return _zip_kind(head, path)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _ole_kind(head)
    if head.startswith(b"{\\rtf"):
        return f.RTF
    return None


def _zip_kind(head: bytes, path: Path | None) -> str:
    names, odf_mimetype = _zip_entries(head, path)
    if odf_mimetype in (f.ODT, f.ODS, f.ODP):
        return odf_mimetype
    for prefix, mime in (("word/", f.DOCX), ("xl/", f.XLSX), ("ppt/", f.PPTX)):
        if any(name.startswith(prefix) for name in names):
            return mime
    return f.ZIP


def _zip_entries(head: bytes, path: Path | None) -> tuple[list[str], str | None]:
    """Entry names, and the OpenDocument ``mimetype`` entry when there is one."""
    if path is not None:
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                odf = None
                info = zf.getinfo("mimetype") if "mimetype" in names else None
                if info is not None and info.file_size <= 100:
                    odf = zf.read(info).decode("ascii", "replace").strip()
                return names, odf
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
            pass  # a damaged directory: the local headers below may still say enough
    names = []
    for match in re.finditer(rb"PK\x03\x04", head):
        start = match.start()
        if start + 30 > len(head):
            break
        name_len, extra_len = struct.unpack("<HH", head[start + 26 : start + 30])
        names.append(head[start + 30 : start + 30 + name_len].decode("utf-8", "replace"))
        if names[-1] == "mimetype" and len(names) == 1:
            data_start = start + 30 + name_len + extra_len
            odf_name = head[data_start : data_start + 100].split(b"PK", 1)[0]
            return names, odf_name.decode("ascii", "replace").strip()
    return names, None


def _ole_kind(head: bytes) -> str:
    # Directory entry names are UTF-16LE; the directory is often, not always, within the head.
    for needle, mime in (
        ("WordDocument", f.DOC),
        ("Workbook", f.XLS),
        ("PowerPoint Document", f.PPT),
    ):
        if needle.encode("utf-16-le") in head:
            return mime
    return f.OLE


def _archive_or_program(head: bytes, _path: Path | None) -> str | None:
    if head.startswith(b"\x1f\x8b"):
        return f.GZIP
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return f.SEVEN_ZIP
    if head.startswith(b"Rar!\x1a\x07"):
        return f.RAR
    if head.startswith(b"\x7fELF"):
        return f.EXECUTABLE
    if head.startswith(b"MZ") and b"\x00" in head[:64]:
        return f.WINDOWS_EXECUTABLE
    return None


# --- text ---------------------------------------------------------------------------------------

# The WHATWG sniffing rule for HTML: one of these tags first, after optional whitespace.
_HTML_START = re.compile(
    r"<(?:!doctype\s+html|html|head|body|script|iframe|h1|div|font|table|a|style|title|b|br|p|!--)[\s>/]",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode_head(head: bytes) -> str | None:
    """The head as text if it is text: a BOM, or UTF-8, or a legacy 8-bit text without NULs."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            body = head[len(bom) :]
            unit = 4 if "32" in encoding else 2 if "16" in encoding else 1
            return body[: len(body) - len(body) % unit].decode(encoding, "replace")
    if not head or b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the head is still UTF-8.
        text = (
            head[: exc.start].decode("utf-8")
            if exc.start >= len(head) - 3
            else head.decode("cp1252", "replace")
        )
    if len(_CONTROL.findall(text)) > max(1, len(text) // 100):
        return None
    return text


def _text(head: bytes) -> str | None:
    text = decode_head(head)
    if text is None:
        return None
    start = text.lstrip("\ufeff \t\r\n\f")[:4096]
    lowered = start.lower()
    if _HTML_START.match(start) or "<html" in lowered[:1024]:
        return f.HTML
    if lowered.startswith("<svg") or (lowered.startswith("<?xml") and "<svg" in lowered):
        return f.SVG
    if lowered.startswith("<?xml"):
        return f.HTML if "<html" in lowered else f.XML
    return f.TEXT


def _fallback(head: bytes) -> str | None:
    """The long tail (fonts, other archives, rare images) from the ``filetype`` package."""
    import filetype  # lazily: only the rare file none of the rules above knows needs it

    mime = filetype.guess_mime(head)
    return f.normalize_mime(mime) if mime else None


# --- declared versus real ---------------------------------------------------------------------

_OFFICE = frozenset({f.DOCX, f.XLSX, f.PPTX, f.ODT, f.ODS, f.ODP, f.DOC, f.XLS, f.PPT, f.OLE, f.RTF})
_ARCHIVES = frozenset({f.ZIP, f.GZIP, f.SEVEN_ZIP, f.RAR})
# Document types we open ourselves: claiming one of these obliges the bytes to match.
_CHECKED_CLASSES = frozenset({"pdf", "office", "text", "image", "av"})


def _klass(mime: str) -> str:
    top = f.top_level(mime)
    if mime == f.PDF:
        return "pdf"
    if mime in _OFFICE or mime.startswith("application/vnd.ms-"):
        return "office"
    if f.is_textual(mime):
        return "text"
    if top == "image":
        return "image"
    if top in ("audio", "video"):
        return "av"  # one container (MP4, Ogg, WebM) carries either
    if mime in _ARCHIVES:
        return "archive"
    return "other"


def _consistent(declared: str, real: str) -> bool:
    if declared == real or f.is_unspecific(declared):
        return True
    if _klass(declared) == "office" and real == f.ZIP:
        return True
    return _klass(declared) == _klass(real) and _klass(real) != "other"


def _refine(kind: Kind, declared: str, real: str) -> str:
    """Prefer the more precise of two consistent types (e.g. audio in an MP4 container)."""
    if kind is Kind.AUDIO:
        real = {
            f.MP4: f.M4A,
            f.MOV: f.M4A,
            f.VIDEO_3GPP: f.AUDIO_3GPP,
            f.VIDEO_3GPP2: f.AUDIO_3GPP,
            f.WEBM: f.AUDIO_WEBM,
            f.OGG_VIDEO: f.OGG_AUDIO,
        }.get(real, real)
    if real == f.TEXT and _klass(declared) == "text":
        return declared  # CSV, Markdown, JSON all sniff as plain text
    if real == f.OLE and (declared in (f.DOC, f.XLS, f.PPT) or declared.startswith("application/vnd.ms-")):
        return declared
    if real == f.ZIP and _klass(declared) == "other" and not f.is_unspecific(declared):
        return declared  # EPUB, APK, JAR, KMZ are all ZIP files
    return real


def _mismatch(declared: str, real: str | None) -> MediaRejected:
    if real is None:
        reason = f"This file says it is {f.describe_mime(declared)} but its contents are not in that format"
    else:
        reason = f"This file says it is {f.describe_mime(declared)} but it is {f.describe_mime(real)}"
    return MediaRejected(reason, RejectCode.TYPE_MISMATCH)


def check_declared_type(
    kind: str | Kind, declared_mime: str | None, head: bytes, *, path: Path | None = None
) -> str:
    """The real MIME type to process the file as, or ``MediaRejected`` when the bytes disagree.

    Within one family the bytes win quietly (a PNG sent as "image/jpeg" is a PNG). Across
    families the file is refused with a sentence naming both types.
    """
    rules = rules_for(kind)
    declared = f.normalize_mime(declared_mime)
    real = sniff(head, path=path)
    if real is not None:
        real = _refine(rules.kind, declared, real)
    if rules.accepted is None:
        return _check_document(declared, real)
    if real is None:
        if f.is_unspecific(declared):
            raise MediaRejected(
                f"The {rules.noun} is not in a format we can read", RejectCode.UNSUPPORTED_TYPE
            )
        raise _mismatch(declared, None)
    if not _consistent(declared, real):
        raise _mismatch(declared, real)
    if real not in rules.accepted:
        raise MediaRejected(
            f"The {rules.noun} is {f.describe_mime(real)}, which we cannot read", RejectCode.UNSUPPORTED_TYPE
        )
    return real


def _check_document(declared: str, real: str | None) -> str:
    """Documents may be any file; only a claim to be something we open must be true."""
    if real is None:
        if _klass(declared) in _CHECKED_CLASSES and not f.is_unspecific(declared):
            raise _mismatch(declared, None)
        return declared
    if _klass(declared) in _CHECKED_CLASSES and not _consistent(declared, real):
        raise _mismatch(declared, real)
    return real

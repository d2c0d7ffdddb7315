"""What we know about each file format: its canonical MIME type, a name a person reads, a suffix.

One table, so that the sniffer, the error messages and the storage names never disagree about
what "audio/x-m4a" is or what to call it in a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OCTET_STREAM = "application/octet-stream"

# Canonical types this package produces or reasons about.
JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
GIF = "image/gif"
HEIC = "image/heic"
AVIF = "image/avif"
BMP = "image/bmp"
TIFF = "image/tiff"
SVG = "image/svg+xml"
OGG_AUDIO = "audio/ogg"
MP3 = "audio/mpeg"
AAC = "audio/aac"
AMR = "audio/amr"
AMR_WB = "audio/amr-wb"
M4A = "audio/mp4"
AUDIO_3GPP = "audio/3gpp"
AUDIO_WEBM = "audio/webm"
WAV = "audio/wav"
FLAC = "audio/flac"
MP4 = "video/mp4"
VIDEO_3GPP = "video/3gpp"
VIDEO_3GPP2 = "video/3gpp2"
MOV = "video/quicktime"
WEBM = "video/webm"
MKV = "video/x-matroska"
OGG_VIDEO = "video/ogg"
AVI = "video/x-msvideo"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
DOC = "application/msword"
XLS = "application/vnd.ms-excel"
PPT = "application/vnd.ms-powerpoint"
OLE = "application/x-ole-storage"
RTF = "application/rtf"
ZIP = "application/zip"
GZIP = "application/gzip"
SEVEN_ZIP = "application/x-7z-compressed"
RAR = "application/vnd.rar"
EXECUTABLE = "application/x-executable"
WINDOWS_EXECUTABLE = "application/x-msdownload"
TEXT = "text/plain"
CSV = "text/csv"
HTML = "text/html"
XML = "application/xml"
JSON = "application/json"

# The "audio/mp3" spelling is the one both Gemini APIs list (Vertex also takes audio/mpeg).
GEMINI_MP3 = "audio/mp3"
# Gemini's own names for a few types whose registered name it does not list.
_MODEL_MIME = {MP3: GEMINI_MP3, MOV: "video/mov", VIDEO_3GPP2: VIDEO_3GPP}


@dataclass(frozen=True)
class Format:
    mime: str
    name: str  # reads after "it is": "a JPEG image"
    suffix: str  # for object names; never taken from a user's file name


_FORMATS: tuple[Format, ...] = (
    Format(JPEG, "a JPEG image", ".jpg"),
    Format(PNG, "a PNG image", ".png"),
    Format(WEBP, "a WebP image", ".webp"),
    Format(GIF, "a GIF image", ".gif"),
    Format(HEIC, "a HEIC image", ".heic"),
    Format(AVIF, "an AVIF image", ".avif"),
    Format(BMP, "a BMP image", ".bmp"),
    Format(TIFF, "a TIFF image", ".tif"),
    Format(SVG, "an SVG drawing", ".svg"),
    Format(OGG_AUDIO, "an Ogg audio file", ".ogg"),
    Format(MP3, "an MP3 audio file", ".mp3"),
    Format(AAC, "an AAC audio file", ".aac"),
    Format(AMR, "an AMR audio file", ".amr"),
    Format(AMR_WB, "an AMR-WB audio file", ".awb"),
    Format(M4A, "an M4A audio file", ".m4a"),
    Format(AUDIO_3GPP, "a 3GP audio file", ".3gp"),
    Format(AUDIO_WEBM, "a WebM audio file", ".weba"),
    Format(WAV, "a WAV audio file", ".wav"),
    Format(FLAC, "a FLAC audio file", ".flac"),
    Format(MP4, "an MP4 video", ".mp4"),
    Format(VIDEO_3GPP, "a 3GP video", ".3gp"),
    Format(VIDEO_3GPP2, "a 3G2 video", ".3g2"),
    Format(MOV, "a QuickTime video", ".mov"),
    Format(WEBM, "a WebM video", ".webm"),
    Format(MKV, "a Matroska video", ".mkv"),
    Format(OGG_VIDEO, "an Ogg video", ".ogv"),
    Format(AVI, "an AVI video", ".avi"),
    Format(PDF, "a PDF document", ".pdf"),
    Format(DOCX, "a Word document", ".docx"),
    Format(XLSX, "an Excel spreadsheet", ".xlsx"),
    Format(PPTX, "a PowerPoint presentation", ".pptx"),
    Format(ODT, "an OpenDocument text", ".odt"),
    Format(ODS, "an OpenDocument spreadsheet", ".ods"),
    Format(ODP, "an OpenDocument presentation", ".odp"),
    Format(DOC, "a Word 97-2003 document", ".doc"),
    Format(XLS, "an Excel 97-2003 spreadsheet", ".xls"),
    Format(PPT, "a PowerPoint 97-2003 presentation", ".ppt"),
    Format(OLE, "an Office 97-2003 file", ".ole"),
    Format(RTF, "an RTF document", ".rtf"),
    Format(ZIP, "a ZIP archive", ".zip"),
    Format(GZIP, "a gzip archive", ".gz"),
    Format(SEVEN_ZIP, "a 7-Zip archive", ".7z"),
    Format(RAR, "a RAR archive", ".rar"),
    Format(EXECUTABLE, "a program", ".bin"),
    Format(WINDOWS_EXECUTABLE, "a Windows program", ".exe"),
    Format(TEXT, "a text file", ".txt"),
    Format(CSV, "a CSV file", ".csv"),
    Format("text/markdown", "a Markdown file", ".md"),
    Format("text/tab-separated-values", "a TSV file", ".tsv"),
    Format("text/calendar", "a calendar file", ".ics"),
    Format("text/vcard", "a contact card", ".vcf"),
    Format(HTML, "an HTML page", ".html"),
    Format(XML, "an XML file", ".xml"),
    Format(JSON, "a JSON file", ".json"),
    Format(OCTET_STREAM, "a file of unknown type", ".bin"),
)
_BY_MIME = {f.mime: f for f in _FORMATS}

# Spellings seen in the wild (browsers, phones, WhatsApp, Meta's own examples) for one type.
_ALIASES = {
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "image/x-png": PNG,
    "image/heif": HEIC,
    "audio/mp3": MP3,
    "audio/x-mp3": MP3,
    "audio/mpeg3": MP3,
    "audio/x-mpeg": MP3,
    "audio/mpga": MP3,
    "audio/x-m4a": M4A,
    "audio/m4a": M4A,
    "audio/x-aac": AAC,
    "audio/aacp": AAC,
    "audio/x-wav": WAV,
    "audio/wave": WAV,
    "audio/vnd.wave": WAV,
    "audio/x-flac": FLAC,
    "audio/opus": OGG_AUDIO,
    "audio/x-ogg": OGG_AUDIO,
    "application/ogg": OGG_AUDIO,
    "audio/amr-nb": AMR,
    "video/x-m4v": MP4,
    "video/mov": MOV,
    "video/x-matroska": MKV,
    "application/x-pdf": PDF,
    "application/x-zip-compressed": ZIP,
    "application/x-zip": ZIP,
    "text/xml": XML,
    "text/x-csv": CSV,
    "application/csv": CSV,
    "text/x-markdown": "text/markdown",
    "text/x-vcard": "text/vcard",
    "application/x-msdos-program": WINDOWS_EXECUTABLE,
    "binary/octet-stream": OCTET_STREAM,
    "application/unknown": OCTET_STREAM,
    "application/binary": OCTET_STREAM,
}
_MIME_SHAPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


def normalize_mime(value: str | None) -> str:
    """``"Audio/OGG; codecs=opus"`` -> ``"audio/ogg"``; nonsense or nothing -> octet-stream."""
    if not value:
        return OCTET_STREAM
    base = value.split(";", 1)[0].strip().lower()
    if not _MIME_SHAPE.match(base):
        return OCTET_STREAM
    return _ALIASES.get(base, base)


def model_mime(mime: str) -> str:
    """The spelling of a type that Gemini's documentation lists."""
    mime = normalize_mime(mime)
    return _MODEL_MIME.get(mime, mime)


def is_unspecific(mime: str) -> bool:
    """A declared type that claims nothing, so any real type is consistent with it."""
    return normalize_mime(mime) == OCTET_STREAM


def describe_mime(mime: str) -> str:
    """A phrase for sentences: "a JPEG image", or a generic one built from the type itself."""
    known = _BY_MIME.get(normalize_mime(mime))
    if known is not None:
        return known.name
    top = normalize_mime(mime).split("/", 1)[0]
    generic = {
        "image": "an image",
        "audio": "an audio file",
        "video": "a video",
        "text": "a text file",
        "font": "a font",
    }.get(top, "a file")
    return f"{generic} of type {normalize_mime(mime)}"


def suffix_for(mime: str) -> str:
    """The object-name suffix for a type; ``.bin`` when we do not know one."""
    known = _BY_MIME.get(normalize_mime(mime))
    return known.suffix if known is not None else ".bin"


def top_level(mime: str) -> str:
    return normalize_mime(mime).split("/", 1)[0]


# Application types that are text underneath, and read as such.
TEXTUAL_APPLICATION_TYPES = frozenset(
    {JSON, XML, "application/javascript", "application/x-yaml", "application/yaml", "application/x-sh"}
)


def is_textual(mime: str) -> bool:
    mime = normalize_mime(mime)
    return top_level(mime) == "text" or mime in TEXTUAL_APPLICATION_TYPES


def format_size(size_bytes: int) -> str:
    """Sizes the way phones show them (binary units, one decimal below ten)."""
    units = (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024))
    for unit, scale in units:
        if size_bytes >= scale:
            value = size_bytes / scale
            text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
            return f"{text.removesuffix('.0')} {unit}"
    return f"{size_bytes} bytes"


def format_duration(seconds: float) -> str:
    """ "15 minutes", "1 minute 30 seconds", "45 seconds" for messages people read."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    for value, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second")):
        if value:
            parts.append(f"{value} {unit}{'s' if value != 1 else ''}")
    return " ".join(parts) or "0 seconds"

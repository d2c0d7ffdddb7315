"""The XML parts of a Word file, measured by reading them before python-docx parses them.

python-docx builds an lxml tree of every XML part it knows (the document, styles, headers,
notes, ...), and a tree weighs many times its text: an empty paragraph, ``<w:p/>``, is six bytes
of XML and about two hundred in lxml, so 60 MB of them compress to 86 KB and need 2 GB to open.
The sizes in a ZIP's directory are the sender's word, so each part with an XML content type is
decompressed in chunks and counted, stopping at the cap.
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib

from shared.files.errors import MediaRejected, RejectCode

MiB = 1024 * 1024
# 8 MiB of XML is a Word document of a thousand pages or more; as a tree, up to ~300 MB.
MAX_XML_PART_BYTES = 8 * MiB
MAX_XML_TOTAL_BYTES = 16 * MiB
MAX_CONTENT_TYPES_BYTES = 1 * MiB
CHUNK_BYTES = 1 * MiB
CONTENT_TYPES = "[Content_Types].xml"


def check_xml_parts(archive: zipfile.ZipFile) -> None:
    """Refuse a package whose XML parts unpack to more than the caps, whatever its directory says."""
    defaults, overrides = _content_types(archive)
    total = 0
    for entry in archive.infolist():
        if entry.is_dir() or not _is_xml(entry.filename, defaults, overrides):
            continue
        total += _measure(archive, entry, min(MAX_XML_PART_BYTES, MAX_XML_TOTAL_BYTES - total))


def _content_types(archive: zipfile.ZipFile) -> tuple[dict[str, str], dict[str, str]]:
    """(content type by extension, content type by part name) from ``[Content_Types].xml``."""
    try:
        entry = archive.getinfo(CONTENT_TYPES)
    except KeyError:
        return {}, {}  # not a Word package python-docx can open: it says so itself
    _measure(archive, entry, MAX_CONTENT_TYPES_BYTES)
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(archive.read(entry), parser)
    except etree.XMLSyntaxError as exc:
        raise _damaged() from exc
    defaults: dict[str, str] = {}
    overrides: dict[str, str] = {}
    for element in root:
        kind = etree.QName(element).localname if isinstance(element.tag, str) else ""
        content_type = (element.get("ContentType") or "").lower()
        if kind == "Default":
            defaults[(element.get("Extension") or "").lower()] = content_type
        elif kind == "Override":
            overrides[(element.get("PartName") or "").lower()] = content_type
    return defaults, overrides


def _is_xml(name: str, defaults: dict[str, str], overrides: dict[str, str]) -> bool:
    if name == CONTENT_TYPES:
        return False  # measured on its own, with its own cap
    extension = posixpath.splitext(name)[1].lstrip(".").lower()
    content_type = overrides.get("/" + name.lower(), defaults.get(extension))
    if content_type is None or extension in ("xml", "rels"):
        return True  # python-docx's parser decides by content type, which the sender also wrote
    return content_type.endswith("xml")


def _measure(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, limit: int) -> int:
    """The bytes ``entry`` really unpacks to, reading no more than ``limit`` + one chunk."""
    size = 0
    try:
        with archive.open(entry) as part:
            while chunk := part.read(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise MediaRejected(
                        "The document is too large to open safely once unpacked", RejectCode.TOO_LARGE
                    )
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError, EOFError) as exc:
        raise _damaged() from exc
    return size


def _damaged() -> MediaRejected:
    return MediaRejected("The document is damaged and could not be read", RejectCode.DAMAGED)

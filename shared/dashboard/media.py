"""Media reach the browser only through here: authenticated, looked up, streamed from the bucket.

The browser names a message and a variant, never a bucket path: the gs:// URI is read from the
message document, and must lie in the media bucket under this conversation's folder. The bytes
are streamed in chunks (a video is never held in memory), with Range support so players can
seek. Types a browser could execute (HTML, SVG, PDF with scripts...) are only ever downloaded,
and every media response carries a sandboxing Content-Security-Policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

import flask
from google.cloud import firestore

from shared.bucket import MediaBucket, parse_gcs_uri
from shared.dashboard.conversations import CONVERSATION_ID
from shared.dashboard.cursors import DOCUMENT_ID
from shared.dashboard.headers import MEDIA_CSP
from shared.store.schema import CALL, message_ref

VARIANTS = {"original": "gcs_uri", "derived": "derived_uri", "poster": "poster_uri"}
CHUNK_BYTES = 256 * 1024
# Shown in the page; anything else is offered as a download with a neutral type.
INLINE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "audio/ogg",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/amr",
        "audio/wav",
        "audio/webm",
        "video/mp4",
        "video/3gpp",
        "video/webm",
    }
)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class MediaNotFound(Exception):
    pass


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """A single `bytes=a-b` range within `size`; None for a whole-object answer (or a range we ignore)."""
    match = _RANGE.match(header or "")
    if not match or size == 0 or not any(match.groups()):
        return None
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    else:
        start, end = max(0, size - int(last)), size - 1
    if start > end or start >= size:
        raise ValueError("unsatisfiable range")
    return ByteRange(start, end)


def media_uri(
    db: firestore.Client, conversation_id: str, message_id: str, variant: str, bucket: str
) -> tuple[str, str]:
    """The gs:// URI of `variant` of this message's media and the file name to offer, or MediaNotFound."""
    field = VARIANTS.get(variant)
    if field is None or not CONVERSATION_ID.match(conversation_id) or not DOCUMENT_ID.match(message_id):
        raise MediaNotFound(variant)
    snap = message_ref(db, conversation_id, message_id).get(field_paths=["media"], **CALL)
    media = (snap.to_dict() or {}).get("media") if snap.exists else None
    uri = media.get(field) if isinstance(media, dict) else None
    if not isinstance(uri, str):
        raise MediaNotFound(variant)
    try:
        uri_bucket, name = parse_gcs_uri(uri)
    except ValueError:
        raise MediaNotFound(variant) from None
    # A record pointing outside this conversation's folder is never followed.
    if uri_bucket != bucket or not name.startswith(f"conversations/{conversation_id}/"):
        raise MediaNotFound(variant)
    filename = str(media.get("filename") or "") if variant == "original" else ""
    return uri, filename


def _disposition(inline: bool, filename: str, fallback: str) -> str:
    name = filename or fallback
    ascii_name = _SAFE_NAME.sub("_", name)[:100] or "media"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name[:200], safe='')}"


def _stream(reader: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        if start:
            reader.seek(start)
        remaining = length
        while remaining > 0:
            chunk = reader.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        reader.close()


def media_response(storage: MediaBucket, uri: str, filename: str, range_header: str | None) -> flask.Response:
    stored = storage.stat(uri)
    if stored is None:
        raise MediaNotFound(uri)
    content_type = stored.content_type.split(";")[0].strip().lower()
    inline = content_type in INLINE_TYPES
    headers: dict[str, Any] = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=3600",
        "Content-Security-Policy": MEDIA_CSP,
        "Content-Disposition": _disposition(inline, filename, stored.object_name.rsplit("/", 1)[-1]),
    }
    try:
        requested = parse_range(range_header, stored.size_bytes)
    except ValueError:
        headers["Content-Range"] = f"bytes */{stored.size_bytes}"
        return flask.Response(status=416, headers=headers)
    span = requested or ByteRange(0, stored.size_bytes - 1)
    status = 206 if requested else 200
    if requested:
        headers["Content-Range"] = f"bytes {span.start}-{span.end}/{stored.size_bytes}"
    headers["Content-Length"] = str(max(span.length, 0))
    body = (
        _stream(storage.open_read(uri, chunk_size=CHUNK_BYTES), span.start, span.length)
        if span.length > 0
        else iter(())
    )
    return flask.Response(
        body,
        status=status,
        headers=headers,
        mimetype=content_type if inline else "application/octet-stream",
        direct_passthrough=True,
    )

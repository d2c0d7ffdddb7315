"""Downloading a WhatsApp media file to disk: two steps, a hard byte cap, an integrity check.

The Cloud API gives a media id (and, on newer deliveries, a url). The id's metadata holds a url
that is valid for five minutes; the url needs the same bearer token. A provider without media
ids (WAHA: `refreshes_media_urls` is False) gives the url with the message, and only that url,
on its own host, is fetched. The body is streamed to a file
and hashed on the way, and the download stops the moment it passes the kind's cap, so a huge
file costs neither memory nor more than `cap` bytes of disk. Every request and every chunk read
draws from the job's deadline, so a file that trickles in cannot outlast the job.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from shared.bucket import whatsapp_sha256_to_hex
from shared.deadline import Deadline
from shared.files.errors import MediaRejected, RejectCode
from shared.whatsapp.errors import InvalidRequest, MediaUnavailable, UntrustedAddress
from shared.whatsapp.provider import Provider

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024


class IntegrityError(Exception):
    """The bytes do not hash to WhatsApp's sha256: most likely a cut-off download, so worth a
    retry; when every retry gives the same mismatch the job fails the medium with this reason."""

    def __init__(self, size: int, actual: str, expected: str) -> None:
        super().__init__(f"downloaded {size} bytes hash to {actual[:12]}…, WhatsApp said {expected[:12]}…")
        self.size = size
        self.actual = actual
        self.expected = expected

    def __reduce__(self) -> tuple[type[IntegrityError], tuple[int, str, str]]:
        return (type(self), (self.size, self.actual, self.expected))


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size_bytes: int
    sha256_hex: str
    declared_mime: str  # as WhatsApp declared it (webhook, metadata or Content-Type)


def download_media(
    wa: Provider,
    media: dict[str, Any],
    dest: Path,
    *,
    cap: int,
    noun: str = "file",
    deadline: Deadline | None = None,
) -> Downloaded:
    """Fetch `media` (the message's media map) into `dest`; MediaRejected when it can never work."""
    declared = str(media.get("mime_type") or "")
    expected = whatsapp_sha256_to_hex(media.get("sha256"))
    url = media.get("url")
    if not wa.refreshes_media_urls:
        return _download_given_url(wa, str(url or ""), dest, cap, declared, expected, noun, deadline)
    if url and not wa.trusts_media_url(str(url)):
        # Only the media id is worth anything then: the Graph API says where the file really is.
        log.warning(
            "the webhook's media url is not on Meta's media hosts; not used",
            extra={"media_id": media.get("id")},
        )
        url = None
    if not url:
        url, declared, expected = _fresh_url(wa, media, cap, declared, expected, noun, deadline)
    try:
        return _stream(wa, url, dest, cap, declared, expected, noun, deadline)
    except (InvalidRequest, MediaUnavailable) as exc:
        if exc.http_status not in (401, 403, 404, 410):
            raise
        # Media urls live five minutes: a url from the webhook or an earlier try may have expired.
        log.info("media url expired or refused; fetching a new one", extra={"media_id": media.get("id")})
        url, declared, expected = _fresh_url(wa, media, cap, declared, expected, noun, deadline)
        return _stream(wa, url, dest, cap, declared, expected, noun, deadline)


def _download_given_url(
    wa: Provider,
    url: str,
    dest: Path,
    cap: int,
    declared: str,
    expected: str | None,
    noun: str,
    deadline: Deadline | None,
) -> Downloaded:
    """A provider whose messages carry the only address of their file (WAHA): that one or none."""
    if not url:
        raise MediaRejected(
            f"No download address came with this {noun}: the WhatsApp server did not keep the file",
            RejectCode.DAMAGED,
        )
    if not wa.trusts_media_url(url):
        raise MediaRejected(
            f"The download address that came with this {noun} is not the WhatsApp server's",
            RejectCode.UNTRUSTED_URL,
        )
    try:
        return _stream(wa, url, dest, cap, declared, expected, noun, deadline)
    except MediaUnavailable as exc:
        raise MediaRejected(
            f"The WhatsApp server no longer has this {noun}: {exc}", RejectCode.DAMAGED
        ) from exc


def _fresh_url(
    wa: Provider,
    media: dict[str, Any],
    cap: int,
    declared: str,
    expected: str | None,
    noun: str,
    deadline: Deadline | None,
) -> tuple[str, str, str | None]:
    try:
        meta = wa.media_metadata(str(media["id"]), deadline=deadline)
    except (MediaUnavailable, InvalidRequest) as exc:
        raise MediaRejected(
            f"WhatsApp no longer has this {noun} (it may be older than 7 days): {exc}", RejectCode.DAMAGED
        ) from exc
    size = _int(meta.get("file_size"))
    if size is not None and size > cap:
        raise MediaRejected(_too_large(noun, cap), RejectCode.TOO_LARGE)
    url = meta.get("url")
    if not isinstance(url, str) or not url:
        raise MediaRejected(f"WhatsApp gave no download address for this {noun}", RejectCode.DAMAGED)
    if not wa.trusts_media_url(url):
        raise _untrusted(noun)
    return url, str(meta.get("mime_type") or declared), expected or whatsapp_sha256_to_hex(meta.get("sha256"))


def _stream(
    wa: Provider,
    url: str,
    dest: Path,
    cap: int,
    declared: str,
    expected: str | None,
    noun: str,
    deadline: Deadline | None,
) -> Downloaded:
    digest = hashlib.sha256()
    size = 0
    with _open_download(wa, url, noun, deadline) as response:
        length = _int(response.headers.get("Content-Length"))
        if length is not None and length > cap:
            raise MediaRejected(_too_large(noun, cap), RejectCode.TOO_LARGE)
        with dest.open("wb") as out:
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > cap:
                    raise MediaRejected(_too_large(noun, cap), RejectCode.TOO_LARGE)
                digest.update(chunk)
                out.write(chunk)
                if deadline is not None:
                    deadline.check(f"downloading the {noun}")
        declared = declared or str(response.headers.get("Content-Type") or "")
    actual = digest.hexdigest()
    if expected and actual != expected:
        raise IntegrityError(size, actual, expected)
    return Downloaded(dest, size, actual, declared)


def _open_download(wa: Provider, url: str, noun: str, deadline: Deadline | None) -> requests.Response:
    try:
        return wa.open_download(url, deadline=deadline)
    except UntrustedAddress as exc:  # a redirect off Meta's hosts: never followed, never retried
        raise _untrusted(noun) from exc


def _untrusted(noun: str) -> MediaRejected:
    return MediaRejected(
        f"The download address WhatsApp gave for this {noun} is not one of Meta's", RejectCode.UNTRUSTED_URL
    )


def _too_large(noun: str, cap: int) -> str:
    return f"The {noun} is larger than {cap // (1024 * 1024)} MB, the most WhatsApp allows for it"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None

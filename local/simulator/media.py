"""The media host: stored media, its metadata, the two-step download with expiring URLs, uploads.

Meta hands out media in two steps: ``GET /{media_id}`` answers metadata with a short-lived URL, and
that URL (bearer token still required) answers the bytes. Our media function must survive a URL
that went stale in between, so URLs here expire too (``media_url_ttl_seconds``, or all at once by
``expire_urls``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from local.simulator import wire
from local.simulator.state import SimulatorState
from local.simulator.wire import Json


@dataclass
class MediaItem:
    id: str
    data: bytes
    mime_type: str
    filename: str | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def sha256(self) -> str:
        return wire.sha256_base64(self.data)

    def summary(self) -> Json:
        return {
            "id": self.id,
            "sha256": self.sha256,
            "mime_type": self.mime_type,
            "file_size": len(self.data),
            "filename": self.filename,
        }


class MediaHost:
    """Media both sides can refer to by id: what users send and what the business uploads."""

    def __init__(self, state: SimulatorState) -> None:
        self._state = state
        self.clear()

    def clear(self) -> None:
        with self._state.lock:
            self._items: dict[str, MediaItem] = {}
            self._urls: dict[str, tuple[str, float]] = {}  # url hash -> (media id, expiry)

    def get(self, media_id: str) -> MediaItem | None:
        with self._state.lock:
            return self._items.get(media_id)

    def store(self, data: bytes, mime_type: str, filename: str | None = None) -> MediaItem:
        item = MediaItem(wire.new_media_id(), data, mime_type.strip() or "application/octet-stream", filename)
        with self._state.lock:
            self._items[item.id] = item
        return item

    def delete(self, media_id: str) -> bool:
        with self._state.lock:
            return self._items.pop(media_id, None) is not None

    def url(self, media_id: str, base_url: str) -> str:
        """A fresh download URL for ``media_id`` that stops working after the configured lifetime."""
        token = secrets.token_urlsafe(16)
        expires = time.time() + self._state.config.media_url_ttl_seconds
        with self._state.lock:
            self._urls[token] = (media_id, expires)
        return f"{base_url.rstrip('/')}/whatsapp_business/attachments/?mid={media_id}&ext={int(expires)}&hash={token}"

    def expire_urls(self) -> int:
        """Make every URL handed out so far stale (tests of the "404 -> fetch a new URL" path)."""
        with self._state.lock:
            count = len(self._urls)
            self._urls = {token: (mid, 0.0) for token, (mid, _) in self._urls.items()}
            return count

    # ---- Graph API: GET /{media_id}, the download URL, POST /{phone_number_id}/media ------

    def metadata(self, media_id: str, base_url: str) -> tuple[int, Json]:
        state = self._state
        failure = state.apply_fault("media_metadata")
        if failure is not None:
            state.record_event("media_metadata", failure[0], None, media_id=media_id, error=failure[1])
            return failure
        item = self.get(media_id)
        if item is None:
            state.record_event("media_metadata", 400, None, media_id=media_id)
            return 400, wire.unknown_object_body(media_id, "get")
        state.record_event("media_metadata", 200, None, media_id=media_id)
        return 200, {
            "messaging_product": "whatsapp",
            "url": self.url(media_id, base_url),
            "mime_type": item.mime_type,
            "sha256": item.sha256,
            "file_size": len(item.data),
            "id": item.id,
        }

    def download(self, media_id: str, token: str) -> tuple[int, Json | MediaItem]:
        state = self._state
        failure = state.apply_fault("media_download")
        if failure is not None:
            state.record_event("media_download", failure[0], None, media_id=media_id, error=failure[1])
            return failure
        with state.lock:
            issued = self._urls.get(token)
        item = self.get(media_id)
        if issued is None or issued[0] != media_id or item is None or issued[1] < time.time():
            state.record_event("media_download", 404, None, media_id=media_id)
            return 404, wire.graph_error_body(100, "URL signature expired", "Fetch a new media URL.")
        state.record_event("media_download", 200, None, media_id=media_id)
        return 200, item

    def upload_from_business(
        self, phone_number_id: str, form: Mapping[str, str], data: bytes, mime_type: str, filename: str | None
    ) -> tuple[int, Json]:
        state = self._state
        if phone_number_id not in state.config.phone_number_ids:
            return 400, wire.unknown_object_body(phone_number_id, "post")
        if form.get("messaging_product") != "whatsapp":
            state.record_event("media_upload", 400, None)
            return 400, wire.graph_error_body(100, "(#100) The parameter messaging_product is required.")
        failure = state.apply_fault("media_upload")
        if failure is not None:
            state.record_event("media_upload", failure[0], None, error=failure[1])
            return failure
        if not data:
            state.record_event("media_upload", 400, None)
            return 400, wire.graph_error_body(100, details="The parameter file is required.")
        item = self.store(data, mime_type, filename)
        state.record_event("media_upload", 200, None, media_id=item.id, mime_type=item.mime_type)
        return 200, {"id": item.id}

"""Media a customer sent, as parts the model can see or hear.

The media function stored, for each file, what the model should get (`media.model_source`):
the prepared derivative (a re-encoded photo, transcoded audio, a video's poster frame), the
original (a video, a PDF), or only text (handled by the prompt's description). Small files go
inline; larger ones go through the Files API (Developer API) or as `gs://` URIs (Vertex AI,
which reads the bucket with the function's service account).

Voice notes come with a request for their transcript, so the dashboard can show what was said:
the model writes `<transcript n="1">…</transcript>` before its answer, and `take_transcripts`
separates the two.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from google.genai import types

from shared.clients import Clients

INLINE_LIMIT_BYTES = 14 * 1024 * 1024  # per part; well inside every documented inline request limit

_TRANSCRIPT = re.compile(r"<transcript\s+n=\"?(\d+)\"?\s*>(.*?)</transcript>\s*", re.DOTALL | re.IGNORECASE)


class MediaParts:
    """Builds the parts of one burst's media; numbers its voice notes for their transcripts."""

    def __init__(
        self,
        read_bytes: Callable[[str], bytes],
        *,
        upload: Callable[[bytes, str], str] | None = None,
        vertex: bool = False,
    ) -> None:
        self._read = read_bytes
        self._upload = upload  # Files API: (bytes, mime) -> file uri
        self._vertex = vertex
        self.voice_notes: dict[int, str] = {}  # transcript number -> message id

    def __call__(self, message: dict[str, Any]) -> list[types.Part]:
        media = message.get("media") or {}
        if media.get("status") != "ready":
            return []
        source = media.get("model_source")
        if source == "derived" and media.get("derived_uri"):
            uri, size = media["derived_uri"], media.get("derived_size_bytes") or 0
        elif source == "original" and media.get("gcs_uri"):
            uri, size = media["gcs_uri"], media.get("size_bytes") or 0
        else:
            return []  # text or description only: the prompt says it in words
        mime = media.get("model_mime_type") or media.get("derived_mime_type") or media.get("real_mime_type")
        parts = [self._part(uri, mime, size)]
        if mime.startswith("audio/"):
            number = len(self.voice_notes) + 1
            self.voice_notes[number] = message["id"]
            parts.append(
                types.Part.from_text(
                    text=f'[Audio {number}: before your answer, write what it says as <transcript n="{number}">'
                    "…</transcript>, in its original language.]"
                )
            )
        for note in media.get("notes") or []:
            parts.append(types.Part.from_text(text=f"[{note}]"))
        return parts

    def _part(self, uri: str, mime: str, size: int) -> types.Part:
        if self._vertex and size > INLINE_LIMIT_BYTES:
            return types.Part.from_uri(file_uri=uri, mime_type=mime)
        data = self._read(uri)
        if len(data) > INLINE_LIMIT_BYTES and self._upload is not None:
            return types.Part.from_uri(file_uri=self._upload(data, mime), mime_type=mime)
        return types.Part.from_bytes(data=data, mime_type=mime)


def media_parts_for(clients: Clients) -> MediaParts:
    """Media read from the bucket; large files through the Files API, or as gs:// URIs on Vertex AI."""
    vertex = clients.settings.google_genai_use_vertexai
    upload = None if vertex else files_api_uploader(clients.genai)
    # The bucket client is made only if the burst has media to read.
    return MediaParts(lambda uri: clients.bucket.read_bytes(uri), upload=upload, vertex=vertex)


def files_api_uploader(client: Any) -> Callable[[bytes, str], str]:
    """Upload through the Gemini Files API (Developer API only); returns the file's URI."""

    def upload(data: bytes, mime: str) -> str:
        uploaded = client.files.upload(file=io.BytesIO(data), config=types.UploadFileConfig(mime_type=mime))
        return str(uploaded.uri)

    return upload


def take_transcripts(text: str) -> tuple[dict[int, str], str]:
    """Split the model's answer into the transcripts it wrote and the reply for the customer."""
    transcripts = {int(n): body.strip() for n, body in _TRANSCRIPT.findall(text)}
    return transcripts, _TRANSCRIPT.sub("", text).strip()

"""Media a customer sent, as parts the model can see or hear.

The media function stored, for each file, what the model should get (`media.model_source`):
the prepared derivative (a re-encoded photo, transcoded audio, a video's poster frame), the
original (a video, a PDF), or only text (handled by the prompt's description). On the Gemini
Developer API media goes inline while the request stays inside the inline limit (100 MB of
request data, 50 MB for a PDF: nearly every WhatsApp medium), and what does not fit goes through
the Files API, usable only once the upload is ACTIVE. On Vertex AI media over a few megabytes
goes as its `gs://` URI, which Vertex reads from the bucket with the function's service account.

Voice notes come with a request for their transcript, so the dashboard can show what was said:
the model writes `<transcript n="1">…</transcript>` before its answer, and `take_transcripts`
separates the two.
"""

from __future__ import annotations

import io
import logging
import math
import re
import time
from collections.abc import Callable
from typing import Any

from google.genai import types

from shared.ai_reply.gemini import ModelUnavailable, model_failure
from shared.clients import Clients
from shared.deadline import Deadline, DeadlineExceeded, run_within

log = logging.getLogger(__name__)

# The Gemini API takes up to 100 MB of inline data in one request, counted as sent (base64),
# and up to 50 MB for a PDF. Room is kept for the rest of the request: instruction, history, JSON.
INLINE_REQUEST_BYTES = 100 * 1024 * 1024
INLINE_PDF_BYTES = 50 * 1024 * 1024
PROMPT_HEADROOM_BYTES = 4 * 1024 * 1024
# Vertex AI reads `gs://` URIs from the bucket itself, which costs the instance no memory; its
# pages disagree on the inline limits (one says 7 MB for an image), so only media under that go inline.
VERTEX_INLINE_PART_BYTES = 7 * 1024 * 1024
FILE_POLL_SECONDS = (0.25, 0.5, 1.0, 2.0)  # then every 2 s until the deadline

_TRANSCRIPT = re.compile(r"<transcript\s+n=\"?(\d+)\"?\s*>(.*?)</transcript>\s*", re.DOTALL | re.IGNORECASE)


def encoded_size(size: int) -> int:
    """Bytes of `size` raw bytes once base64-encoded, as the request carries them."""
    return 4 * math.ceil(size / 3)


class FileNotUsable(Exception):
    """The Files API could not process an upload (its state is FAILED): showing it again cannot help."""


class FilesApi:
    """Uploads through the Gemini Files API (Developer API only), each usable once its state is
    ACTIVE. Every upload of one reply, and the wait for it, shares one deadline of `seconds`, and
    none runs past the job's own `job_deadline`."""

    def __init__(
        self,
        client: Any,
        seconds: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        job_deadline: Deadline | None = None,
    ) -> None:
        self._client = client
        self._seconds = seconds
        self._sleep = sleep
        self._job_deadline = job_deadline
        self._deadline: float | None = None

    def part(self, data: bytes, mime: str) -> types.Part:
        if self._deadline is None:
            seconds = self._seconds
            if self._job_deadline is not None:
                seconds = min(seconds, self._job_deadline.remaining())
            self._deadline = time.monotonic() + seconds
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise ModelUnavailable(f"the Files API uploads took their {self._seconds:g} s")
        try:
            uploaded = run_within(
                remaining, lambda: self._upload_until_active(data, mime), "a Files API upload"
            )
        except DeadlineExceeded as exc:
            raise ModelUnavailable(f"a Files API upload was not ACTIVE within {self._seconds:g} s") from exc
        except FileNotUsable:
            raise
        except Exception as exc:
            if (failure := model_failure(exc)) is not None:
                raise failure from exc
            raise
        return types.Part.from_uri(file_uri=str(uploaded.uri), mime_type=mime)

    def _upload_until_active(self, data: bytes, mime: str) -> types.File:
        uploaded = self._client.files.upload(
            file=io.BytesIO(data), config=types.UploadFileConfig(mime_type=mime)
        )
        polls = iter(FILE_POLL_SECONDS)
        while uploaded.state != types.FileState.ACTIVE:
            if uploaded.state == types.FileState.FAILED:
                detail = uploaded.error.message if uploaded.error else "no reason given"
                raise FileNotUsable(f"the Files API could not process the {mime} file: {detail}")
            if self._deadline is not None and time.monotonic() >= self._deadline:
                raise DeadlineExceeded(
                    f"{uploaded.name} still {uploaded.state}"
                )  # the caller gave up already
            self._sleep(next(polls, FILE_POLL_SECONDS[-1]))
            uploaded = self._client.files.get(name=uploaded.name)
        return uploaded


class MediaParts:
    """Builds the parts of one burst's media; numbers its voice notes for their transcripts."""

    def __init__(
        self,
        read_bytes: Callable[[str], bytes],
        *,
        files: FilesApi | None = None,
        vertex: bool = False,
        inline_bytes: int = INLINE_REQUEST_BYTES - PROMPT_HEADROOM_BYTES,
    ) -> None:
        self._read = read_bytes
        self._files = files
        self._vertex = vertex
        self._inline_left = inline_bytes  # what this request may still carry inline, encoded
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
        if self._vertex and (not size or size > VERTEX_INLINE_PART_BYTES):
            return types.Part.from_uri(file_uri=uri, mime_type=mime)
        data = None if size else self._read(uri)  # an unrecorded size is measured
        need = encoded_size(size or len(data or b""))
        cap = INLINE_PDF_BYTES if mime == "application/pdf" else INLINE_REQUEST_BYTES
        if need <= min(self._inline_left, cap):
            data = data if data is not None else self._read(uri)
            self._inline_left -= encoded_size(len(data))
            return types.Part.from_bytes(data=data, mime_type=mime)
        if self._vertex:
            return types.Part.from_uri(file_uri=uri, mime_type=mime)
        if self._files is None:
            return _not_shown(mime, "it is too large to send along with this conversation")
        try:
            return self._files.part(data if data is not None else self._read(uri), mime)
        except FileNotUsable as exc:
            log.warning("the Files API could not process a medium", extra={"uri": uri, "error": str(exc)})
            return _not_shown(mime, "the model could not process it")


def _not_shown(mime: str, why: str) -> types.Part:
    return types.Part.from_text(
        text=f"[This {mime} file cannot be shown to you: {why}. Say you could not open it.]"
    )


def media_parts_for(clients: Clients, deadline: Deadline | None = None) -> MediaParts:
    """Media read from the bucket; what does not fit inline through the Files API, or as gs:// URIs on Vertex AI."""
    settings = clients.settings
    vertex = settings.google_genai_use_vertexai
    files = (
        None
        if vertex
        else FilesApi(clients.genai, settings.gemini_files_timeout_seconds, job_deadline=deadline)
    )
    # The bucket client is made only if the burst has media to read.
    return MediaParts(lambda uri: clients.bucket.read_bytes(uri), files=files, vertex=vertex)


def take_transcripts(text: str) -> tuple[dict[int, str], str]:
    """Split the model's answer into the transcripts it wrote and the reply for the customer."""
    transcripts = {int(n): body.strip() for n, body in _TRANSCRIPT.findall(text)}
    return transcripts, _TRANSCRIPT.sub("", text).strip()

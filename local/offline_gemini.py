"""An offline stand-in for the Gemini API, used when no GEMINI_API_KEY / GEMINI_BASE_URL is set.

google-genai reaches it through ``HttpOptions(base_url="http://127.0.0.1:PORT", api_version=...)``
and gets real wire-format answers (camelCase JSON), at once and deterministically: the reply says
it comes from the offline model and what it received in the last user turn, so a developer and a
test can both see which parts and media types reached the model.

Control API (JSON) under ``/_fake/``:
  POST /_fake/faults    queue switches, consumed in order by generateContent calls, each ``count`` times:
                        {"status": 429|500|503|..., "message"?}  -> Google's error JSON with that HTTP status
                        {"block": "SAFETY"}          -> a candidate with that finishReason and no content
                        {"prompt_block": "SAFETY"}   -> no candidates, promptFeedback.blockReason
                        {"empty": true}              -> a candidate whose content has no parts
                        {"text": "..."}              -> answer exactly this text
                        {"finish_reason": "MAX_TOKENS"} -> normal text with that finishReason
                        {"delay_seconds": x}         -> wait before answering (combines with the others)
                        {"envelope": {...}}          -> answer exactly this JSON object (structured answers)
                        {"target": "embed", "status": 503} -> applies to embedding calls instead
                        A list, or {"faults": [...]}, queues several. DELETE clears; GET lists.
  POST /_fake/file_states  how the Files API treats the next uploads, until changed or reset:
                        {"processing_polls": n, "final_state": "ACTIVE"|"FAILED"} -> an upload answers
                        PROCESSING (and is refused by generateContent) for n reads, then the final state
  GET  /_fake/requests  the request bodies received (with a summary of the last user turn, the
                        thinking level asked for, and the knowledge passages and choices it held)
  GET  /_fake/embeddings  the texts embedded, with their task types
  POST /_fake/reset     forget requests, faults, files and the cache

Like gemini-3.8-flash it thinks before answering: `thinkingConfig.thinkingLevel` LOW, MEDIUM (the
default when none is given) or HIGH costs a fixed number of thinking tokens (THINKING_TOKENS),
reported as `usageMetadata.thoughtsTokenCount` and spent from `maxOutputTokens` before the
answer; MINIMAL is refused, as are a level and a budget together. A system instruction seen
before is "cached": its tokens come back as `cachedContentTokenCount`, as Gemini's implicit
caching reports a repeated prefix.

It embeds (`batchEmbedContents`, `embedContent`) with deterministic vectors in which texts
sharing words are close, and answers in the JSON envelope a response schema asks for, giving
choices and handoffs on cue (local/offline_answers.py says how).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import hashlib
import json
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, jsonify, request

from local import offline_answers
from local.faults import FaultQueue, fault_specs
from local.servers import RunningServer, run_until_signalled, start_server

DEFAULT_PORT = 8092
API_VERSIONS = frozenset({"v1", "v1beta", "v1beta1", "v1alpha"})
MEDIA_PART_TOKENS = 258  # what Gemini bills for one image; a fixed stand-in for every media part
QUOTE_CHARS = 200
FILE_TTL = timedelta(hours=48)
UPLOAD_CHUNK_GRANULARITY = 8 * 1024 * 1024
THINKING_TOKENS = {"LOW": 48, "MEDIUM": 192, "HIGH": 768}
DEFAULT_THINKING_LEVEL = "MEDIUM"  # what gemini-3.8-flash thinks at when told nothing
FILE_STATES = frozenset({"ACTIVE", "FAILED"})
GENERATE_METHODS = frozenset({"generateContent", "streamGenerateContent"})
EMBED_METHODS = frozenset({"batchEmbedContents", "embedContent"})
MAX_EMBED_BATCH = 100  # batchEmbedContents refuses more requests than this
DEFAULT_EMBEDDING_DIMENSIONS = 3072  # gemini-embedding-001 without outputDimensionality
# resource paths google-genai builds: Developer API, Vertex with an API key, Vertex with a project
MODEL_PATH = re.compile(
    r"^(?:projects/[^/]+/locations/[^/]+/)?(?:publishers/google/)?models/(?P<model>[^/:]+):(?P<method>\w+)$"
)
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
STATUS_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
}

Json = dict[str, Any]


# --------------------------------------------------------------------------------------------
# The answer


@dataclass(frozen=True)
class TurnSummary:
    """What the last user turn of a request held."""

    text_parts: int
    media_types: tuple[str, ...]
    last_text: str | None


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# The business a system instruction says the assistant answers for (shared/ai_reply/voice.py).
_ON_BEHALF = re.compile(r"^You answer on behalf of (.{1,100}?)\.(?:\n|$)")


def speaking_for(body: Json) -> str | None:
    """The business the request's system instruction names, if it names one."""
    system = _field(body, "systemInstruction", "system_instruction")
    if not isinstance(system, dict):
        return None
    text = "".join(p.get("text", "") for p in system.get("parts") or [] if isinstance(p, dict))
    match = _ON_BEHALF.match(text)
    return match.group(1) if match else None


def offline_answer(turn: TurnSummary, business: str | None = None) -> str:
    """The offline model's whole "intelligence", e.g.
    ``[offline model] I received 2 text parts and 1 media part (image/jpeg). You said: "hi"``,
    introduced by the business it answers for when its instruction names one
    (``[offline model] Acme Sales here. I received...``), so each number's voice shows.
    """
    media = _plural(len(turn.media_types), "media part")
    if turn.media_types:
        media += f" ({', '.join(turn.media_types)})"
    here = f" {business} here." if business else ""
    answer = f"[offline model]{here} I received {_plural(turn.text_parts, 'text part')} and {media}."
    if turn.last_text is not None:
        quoted = turn.last_text
        if len(quoted) > QUOTE_CHARS:
            quoted = quoted[: QUOTE_CHARS - 1] + "…"
        answer += f' You said: "{quoted}"'
    return answer


def estimate_tokens(text: str) -> int:
    """A deterministic token estimate: one token per four characters, rounded up."""
    return math.ceil(len(text) / 4)


def _field(data: Json, camel: str, snake: str) -> Any:
    # google-genai sends camelCase containers with snake_case leaves (``inlineData.mime_type``).
    return data.get(camel, data.get(snake))


def _media_type(part: Json, file_mime: Callable[[str], str | None]) -> str | None:
    inline = _field(part, "inlineData", "inline_data")
    if isinstance(inline, dict):
        return str(_field(inline, "mimeType", "mime_type") or "unknown")
    file_data = _field(part, "fileData", "file_data")
    if isinstance(file_data, dict):
        mime = _field(file_data, "mimeType", "mime_type")
        return str(mime or file_mime(str(_field(file_data, "fileUri", "file_uri") or "")) or "unknown")
    return None


def summarize_last_user_turn(
    contents: list[Json], file_mime: Callable[[str], str | None] = lambda uri: None
) -> TurnSummary:
    """Count the text and media parts of the last content with role "user" (a missing role is user)."""
    user_turns = [c for c in contents if isinstance(c, dict) and c.get("role", "user") == "user"]
    parts = (user_turns[-1].get("parts") or []) if user_turns else []
    texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
    media = [m for p in parts if isinstance(p, dict) and (m := _media_type(p, file_mime))]
    return TurnSummary(len(texts), tuple(media), texts[-1] if texts else None)


def _prompt_tokens(body: Json) -> int:
    texts: list[str] = []
    media = 0
    system = _field(body, "systemInstruction", "system_instruction")
    contents = [*(body.get("contents") or []), *([system] if isinstance(system, dict) else [])]
    for content in contents:
        for part in content.get("parts") or []:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif _media_type(part, lambda uri: None):
                media += 1
    return estimate_tokens("".join(texts)) + media * MEDIA_PART_TOKENS


# --------------------------------------------------------------------------------------------
# Request validation


class ApiError(Exception):
    """An error answered in Google's JSON shape."""

    def __init__(self, status: int, message: str, status_name: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.status_name = status_name

    def body(self) -> Json:
        return error_body(self.status, self.message, self.status_name)


def error_body(status: int, message: str | None = None, status_name: str | None = None) -> Json:
    """``{"error": {"code", "message", "status"}}`` as Google APIs answer."""
    return {
        "error": {
            "code": status,
            "message": message or STATUS_MESSAGES.get(status, "Simulated error."),
            "status": status_name or STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }


def thinking_level(body: Json) -> str | None:
    """The thinking level a request asks for (upper case), or None; ApiError when Gemini 3 refuses it."""
    config = _field(body, "generationConfig", "generation_config") or {}
    thinking = _field(config, "thinkingConfig", "thinking_config") or {}
    level = _field(thinking, "thinkingLevel", "thinking_level")
    budget = _field(thinking, "thinkingBudget", "thinking_budget")
    if level is not None and budget is not None:
        raise ApiError(400, "You can only set one of thinking budget and thinking level.")
    if level is None:
        return None
    level = str(level).upper()
    if level == "MINIMAL":
        raise ApiError(400, "Thinking level MINIMAL is not supported for this model.")
    if level not in THINKING_TOKENS:
        raise ApiError(400, f"Invalid value at 'generation_config.thinking_config.thinking_level' ({level})")
    return level


def _validate_contents(body: Any) -> list[Json]:
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid JSON payload received.")
    contents = body.get("contents")
    if not contents or not isinstance(contents, list):
        raise ApiError(400, "* GenerateContentRequest.contents: contents is not specified\n")
    for i, content in enumerate(contents):
        if not isinstance(content, dict) or not content.get("parts"):
            raise ApiError(
                400, f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
            )
        for j, part in enumerate(content["parts"]):
            _validate_part(part, f"contents[{i}].parts[{j}]")
    return contents


def _validate_part(part: Any, where: str) -> None:
    if not isinstance(part, dict):
        raise ApiError(400, f"Invalid value at '{where}': expected an object.")
    inline = _field(part, "inlineData", "inline_data")
    if inline is None:
        return
    mime = str(_field(inline, "mimeType", "mime_type") or "")
    if not mime or mime == "application/octet-stream":
        raise ApiError(400, f"Unsupported MIME type: {mime or '(none)'}")
    try:
        # Google accepts both alphabets; google-genai itself sends the URL-safe one.
        data = str(inline.get("data", "")).replace("-", "+").replace("_", "/")
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            400, f"Invalid value at '{where}.inline_data.data' (TYPE_BYTES), Base64 decoding failed"
        ) from None


# --------------------------------------------------------------------------------------------
# Fault switches


@dataclass
class GeminiFault:
    count: int = 1
    status: int | None = None
    message: str | None = None
    block: str | None = None
    prompt_block: str | None = None
    empty: bool = False
    text: str | None = None
    finish_reason: str | None = None
    delay_seconds: float = 0.0
    envelope: Json | None = None
    target: str = "generate"  # or "embed"

    @classmethod
    def from_json(cls, data: Json) -> GeminiFault:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        fault = cls(**data)
        if fault.status is not None and not 400 <= int(fault.status) <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if fault.target not in ("generate", "embed"):
            raise ValueError('target must be "generate" or "embed"')
        return fault


# --------------------------------------------------------------------------------------------
# Files API


@dataclass
class StoredFile:
    id: str
    mime_type: str
    data: bytes
    display_name: str | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    processing_polls: int = 0  # reads that still answer PROCESSING
    final_state: str = "ACTIVE"

    @property
    def state(self) -> str:
        return "PROCESSING" if self.processing_polls > 0 else self.final_state

    def resource(self, base_url: str, version: str) -> Json:
        stamp = self.created.isoformat().replace("+00:00", "Z")
        resource: Json = {
            "name": f"files/{self.id}",
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.data)),
            "createTime": stamp,
            "updateTime": stamp,
            "expirationTime": (self.created + FILE_TTL).isoformat().replace("+00:00", "Z"),
            "sha256Hash": base64.b64encode(hashlib.sha256(self.data).hexdigest().encode()).decode(),
            "uri": f"{base_url.rstrip('/')}/{version}/files/{self.id}",
            "state": self.state,
            "source": "UPLOADED",
        }
        if self.state == "FAILED":
            resource["error"] = {"code": 400, "message": "The file could not be processed."}
        if self.display_name:
            resource["displayName"] = self.display_name
        return resource


@dataclass
class UploadSession:
    mime_type: str
    size: int
    display_name: str | None
    name: str | None
    received: bytearray = field(default_factory=bytearray)


# --------------------------------------------------------------------------------------------
# The model server state


class OfflineGemini:
    """Requests received, fault switches and uploaded files of one offline model server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: list[Json] = []
            self._embedded: list[Json] = []
            self._faults: FaultQueue[GeminiFault] = FaultQueue()
            self._files: dict[str, StoredFile] = {}
            self._uploads: dict[str, UploadSession] = {}
            self._file_plan: tuple[int, str] = (0, "ACTIVE")
            self._cached_prefixes: set[str] = set()

    def close(self) -> None:
        self._stop.set()

    # ---- faults and request log -----------------------------------------------------------

    def add_faults(self, specs: list[Json]) -> list[Json]:
        return self._faults.add(GeminiFault.from_json(spec) for spec in specs)

    def faults(self) -> list[Json]:
        return self._faults.snapshot()

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, target: str = "generate") -> GeminiFault | None:
        return self._faults.take(lambda fault: fault.target == target)

    def requests(self) -> list[Json]:
        with self._lock:
            return list(self._requests)

    def _log(self, entry: Json) -> None:
        with self._lock:
            self._requests.append(entry)

    # ---- generation -----------------------------------------------------------------------

    def file_mime(self, uri: str) -> str | None:
        file_id = uri.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            stored = self._files.get(file_id)
        return stored.mime_type if stored else None

    def generate(self, version: str, model: str, method: str, body: Any) -> list[Json]:
        """The response(s) for one call; several chunks when streaming. Raises ApiError."""
        contents = _validate_contents(body)
        level = thinking_level(body)
        turn = summarize_last_user_turn(contents, self.file_mime)
        passages = offline_answers.passages_in(_last_user_texts(contents))
        self._log(
            {
                "at": time.time(),
                "version": version,
                "model": model,
                "method": method,
                "body": body,
                "summary": dataclasses.asdict(turn),
                "thinking_level": level,
                "passages": [dataclasses.asdict(p) for p in passages],
                "choices": offline_answers.asked_choices(turn.last_text),
                "response_schema": offline_answers.schema_properties(body) is not None,
            }
        )
        self._check_files_active(contents)
        fault = self._take_fault()
        if fault is not None and fault.delay_seconds:
            self._stop.wait(fault.delay_seconds)
        if fault is not None and fault.status is not None:
            raise ApiError(int(fault.status), fault.message or STATUS_MESSAGES.get(int(fault.status), ""))
        response = self._response(model, body, turn, fault, passages)
        return _stream_chunks(response) if method == "streamGenerateContent" else [response]

    def _response(
        self,
        model: str,
        body: Json,
        turn: TurnSummary,
        fault: GeminiFault | None,
        passages: list[offline_answers.GivenPassage],
    ) -> Json:
        prompt_tokens = _prompt_tokens(body)
        cached = self._cached_tokens(body)
        response: Json = {"modelVersion": model, "responseId": _response_id(body)}
        if fault is not None and fault.prompt_block:
            response["promptFeedback"] = {"blockReason": fault.prompt_block}
            response["usageMetadata"] = _usage(prompt_tokens, 0, cached=cached)
            return response
        thoughts = THINKING_TOKENS[thinking_level(body) or DEFAULT_THINKING_LEVEL]
        if fault is not None and fault.block:
            candidate: Json = {"finishReason": fault.block, "index": 0, "safetyRatings": _blocked_ratings()}
            response["candidates"] = [candidate]
            response["usageMetadata"] = _usage(prompt_tokens, 0, thoughts, cached)
            return response
        if fault is not None and fault.empty:
            response["candidates"] = [
                {"content": {"role": "model", "parts": []}, "finishReason": "STOP", "index": 0}
            ]
            response["usageMetadata"] = _usage(prompt_tokens, 0, thoughts, cached)
            return response
        text = self._answer_text(body, turn, fault, passages)
        text, finish, thoughts = _apply_output_limit(text, body, thoughts)
        if fault is not None and fault.finish_reason:
            finish = fault.finish_reason
        parts = [{"text": text}] if text else []
        response["candidates"] = [
            {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}
        ]
        response["usageMetadata"] = _usage(prompt_tokens, estimate_tokens(text), thoughts, cached)
        return response

    @staticmethod
    def _answer_text(
        body: Json, turn: TurnSummary, fault: GeminiFault | None, passages: list[offline_answers.GivenPassage]
    ) -> str:
        if fault is not None and fault.text is not None:
            return fault.text
        if fault is not None and fault.envelope is not None:
            return json.dumps(fault.envelope, ensure_ascii=False)
        echo = offline_answer(turn, speaking_for(body))
        properties = offline_answers.schema_properties(body)
        if properties is None:
            return echo
        return json.dumps(
            offline_answers.envelope(echo, properties, passages, turn.last_text), ensure_ascii=False
        )

    # ---- embeddings -----------------------------------------------------------------------

    def embed(self, model: str, method: str, body: Any) -> Json:
        """The vectors of an embedContent or batchEmbedContents call. Raises ApiError."""
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid JSON payload received.")
        requests = body.get("requests") if method == "batchEmbedContents" else [body]
        if not isinstance(requests, list) or not requests:
            raise ApiError(400, "* BatchEmbedContentsRequest.requests: requests is not specified\n")
        if len(requests) > MAX_EMBED_BATCH:
            raise ApiError(
                400, f"* BatchEmbedContentsRequest.requests: at most {MAX_EMBED_BATCH} requests are allowed"
            )
        fault = self._take_fault("embed")
        if fault is not None and fault.delay_seconds:
            self._stop.wait(fault.delay_seconds)
        if fault is not None and fault.status is not None:
            raise ApiError(int(fault.status), fault.message or STATUS_MESSAGES.get(int(fault.status), ""))
        vectors = []
        for i, item in enumerate(requests):
            text, dimensions, task = _embed_request(item, i)
            with self._lock:
                self._embedded.append(
                    {"model": model, "text": text, "task_type": task, "dimensions": dimensions}
                )
            vectors.append({"values": offline_answers.embed_text(text, dimensions)})
        return {"embeddings": vectors} if method == "batchEmbedContents" else {"embedding": vectors[0]}

    def embedded(self) -> list[Json]:
        with self._lock:
            return list(self._embedded)

    def _cached_tokens(self, body: Json) -> int:
        """Tokens of a system instruction already seen: what implicit caching would serve."""
        system = _field(body, "systemInstruction", "system_instruction")
        if not isinstance(system, dict):
            return 0
        texts = "".join(p.get("text", "") for p in system.get("parts") or [] if isinstance(p, dict))
        key = hashlib.sha256(texts.encode()).hexdigest()
        with self._lock:
            seen = key in self._cached_prefixes
            self._cached_prefixes.add(key)
        return estimate_tokens(texts) if seen else 0

    def _check_files_active(self, contents: list[Json]) -> None:
        """Gemini refuses a request naming an uploaded file that is not ACTIVE (yet)."""
        for content in contents:
            for part in content.get("parts") or []:
                file_data = _field(part, "fileData", "file_data") if isinstance(part, dict) else None
                if not isinstance(file_data, dict):
                    continue
                file_id = str(_field(file_data, "fileUri", "file_uri") or "").rstrip("/").rsplit("/", 1)[-1]
                with self._lock:
                    stored = self._files.get(file_id)
                if stored is not None and stored.state != "ACTIVE":
                    raise ApiError(
                        400,
                        f"The File {file_id} is not in an ACTIVE state and usage is not allowed.",
                        "FAILED_PRECONDITION",
                    )

    def count_tokens(self, body: Any) -> Json:
        _validate_contents(body)
        return {"totalTokens": _prompt_tokens(body)}

    # ---- files ----------------------------------------------------------------------------

    def start_upload(self, mime_type: str, size: int, display_name: str | None, name: str | None) -> str:
        upload_id = secrets.token_urlsafe(18)
        with self._lock:
            self._uploads[upload_id] = UploadSession(mime_type, size, display_name, name)
        return upload_id

    def upload_chunk(self, upload_id: str, offset: int, data: bytes, finalize: bool) -> StoredFile | None:
        """Append a chunk; return the stored file once finalized. Raises ApiError on a bad session/offset."""
        with self._lock:
            session = self._uploads.get(upload_id)
            if session is None:
                raise ApiError(404, "Upload session not found.")
            if offset != len(session.received):
                raise ApiError(400, f"Invalid upload offset {offset}; expected {len(session.received)}.")
            session.received.extend(data)
            if len(session.received) > session.size:
                raise ApiError(400, "More bytes were uploaded than announced.")
            if not finalize:
                return None
            del self._uploads[upload_id]
            file_id = (session.name or "").removeprefix("files/") or secrets.token_hex(6)
            polls, final = self._file_plan
            stored = StoredFile(
                file_id,
                session.mime_type,
                bytes(session.received),
                session.display_name,
                processing_polls=polls,
                final_state=final,
            )
            self._files[file_id] = stored
            return stored

    def plan_file_states(self, processing_polls: int, final_state: str) -> Json:
        """How the next uploads behave: PROCESSING for `processing_polls` reads, then `final_state`."""
        if processing_polls < 0 or final_state not in FILE_STATES:
            raise ValueError(f"processing_polls must be >= 0 and final_state one of {sorted(FILE_STATES)}")
        with self._lock:
            self._file_plan = (processing_polls, final_state)
        return {"processing_polls": processing_polls, "final_state": final_state}

    def read_file(self, file_id: str) -> StoredFile:
        """A file as a client reads it; each read while PROCESSING brings it closer to its final state."""
        stored = self.file(file_id)
        with self._lock:
            snapshot = dataclasses.replace(stored)
            stored.processing_polls = max(stored.processing_polls - 1, 0)
        return snapshot

    def uploaded_size(self, upload_id: str) -> int:
        with self._lock:
            session = self._uploads.get(upload_id)
            if session is None:
                raise ApiError(404, "Upload session not found.")
            return len(session.received)

    def file(self, file_id: str) -> StoredFile:
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None:
            raise ApiError(
                403, f"You do not have permission to access the File {file_id} or it may not exist."
            )
        return stored

    def files(self) -> list[StoredFile]:
        with self._lock:
            return list(self._files.values())

    def delete_file(self, file_id: str) -> None:
        self.file(file_id)
        with self._lock:
            self._files.pop(file_id, None)


def _last_user_texts(contents: list[Json]) -> list[str]:
    user_turns = [c for c in contents if isinstance(c, dict) and c.get("role", "user") == "user"]
    parts = (user_turns[-1].get("parts") or []) if user_turns else []
    return [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]


def _embed_request(item: Any, index: int) -> tuple[str, int, str | None]:
    """(text, dimensions, task type) of one embedding request; ApiError when malformed."""
    if not isinstance(item, dict):
        raise ApiError(400, f"Invalid value at 'requests[{index}]': expected an object.")
    content = item.get("content") or {}
    parts = content.get("parts") if isinstance(content, dict) else None
    if not parts or not all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in parts):
        raise ApiError(
            400, f"* requests[{index}].content: only text parts can be embedded and one is needed\n"
        )
    dimensions = _field(item, "outputDimensionality", "output_dimensionality") or DEFAULT_EMBEDDING_DIMENSIONS
    if not isinstance(dimensions, int) or not 1 <= dimensions <= DEFAULT_EMBEDDING_DIMENSIONS:
        raise ApiError(400, f"* requests[{index}].output_dimensionality must be between 1 and 3072\n")
    task = _field(item, "taskType", "task_type")
    return " ".join(p["text"] for p in parts), max(dimensions, 2), task


def _usage(prompt: int, candidates: int, thoughts: int = 0, cached: int = 0) -> Json:
    usage: Json = {"promptTokenCount": prompt, "candidatesTokenCount": candidates}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if cached:
        usage["cachedContentTokenCount"] = cached
    usage["totalTokenCount"] = prompt + candidates + thoughts
    return usage


def _response_id(body: Json) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode()


def _blocked_ratings() -> list[Json]:
    return [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]


def _apply_output_limit(text: str, body: Json, thoughts: int) -> tuple[str, str, int]:
    """Honour maxOutputTokens, which covers the thinking first and then the answer, so callers can
    exercise their MAX_TOKENS handling; returns the text, the finish reason and the thoughts spent."""
    config = _field(body, "generationConfig", "generation_config") or {}
    limit = _field(config, "maxOutputTokens", "max_output_tokens")
    if not isinstance(limit, int) or limit <= 0:
        return text, "STOP", thoughts
    if thoughts >= limit:
        return "", "MAX_TOKENS", limit  # it thought until the cap: no answer at all
    room = limit - thoughts
    if estimate_tokens(text) > room:
        return text[: room * 4], "MAX_TOKENS", thoughts
    return text, "STOP", thoughts


def _stream_chunks(response: Json) -> list[Json]:
    """Split one response into streaming chunks: text pieces first, finishReason and usage on the last."""
    candidates = response.get("candidates") or []
    parts = candidates[0].get("content", {}).get("parts", []) if candidates else []
    text = parts[0].get("text", "") if parts else ""
    pieces = [text[i : i + 40] for i in range(0, len(text), 40)] if text else []
    if len(pieces) < 2:
        return [response]
    chunks: list[Json] = []
    for piece in pieces[:-1]:
        chunk = {k: v for k, v in response.items() if k not in {"candidates", "usageMetadata"}}
        chunk["candidates"] = [{"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}]
        chunks.append(chunk)
    last = json.loads(json.dumps(response))
    last["candidates"][0]["content"]["parts"] = [{"text": pieces[-1]}]
    chunks.append(last)
    return chunks


# --------------------------------------------------------------------------------------------
# HTTP layer


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _check_version(version: str) -> None:
    if version not in API_VERSIONS:
        raise ApiError(404, f"API version {version} is not supported.")


def _check_key() -> None:
    key = request.headers.get("x-goog-api-key") or request.args.get("key")
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if not key and not (scheme.lower() == "bearer" and token.strip()):
        raise ApiError(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API.",
        )


def _sse(chunks: list[Json]) -> Iterator[str]:
    for chunk in chunks:
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\r\n\r\n"


def create_app(model: OfflineGemini) -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return _json(exc.status, exc.body())

    _add_model_routes(app, model)
    _add_file_routes(app, model)
    _add_control_routes(app, model)
    return app


def _add_model_routes(app: Flask, model: OfflineGemini) -> None:
    @app.post("/<version>/<path:resource>")
    def call_model(version: str, resource: str) -> Response:
        _check_version(version)
        match = MODEL_PATH.match(resource)
        if match is None:
            raise ApiError(404, f"Method not found: {resource}")
        _check_key()
        name, method = match["model"], match["method"]
        body = request.get_json(force=True, silent=True)
        if method == "countTokens":
            return _json(200, model.count_tokens(body))
        if method in EMBED_METHODS:
            return _json(200, model.embed(name, method, body))
        if method not in GENERATE_METHODS:
            raise ApiError(404, f"Method {method} is not supported by the offline model.")
        chunks = model.generate(version, name, method, body)
        if method == "generateContent":
            return _json(200, chunks[0])
        if request.args.get("alt") == "sse":
            return Response(_sse(chunks), content_type="text/event-stream")
        return _json(200, chunks)


def _add_file_routes(app: Flask, model: OfflineGemini) -> None:
    @app.post("/upload/<version>/files")
    def upload(version: str) -> Response:
        _check_version(version)
        upload_id = request.args.get("upload_id")
        if upload_id:
            return _upload_step(model, version, upload_id)  # authorised by the upload id, like Google's
        _check_key()
        return _start_upload(model, version)

    @app.get("/<version>/files/<file_id>")
    def get_file(version: str, file_id: str) -> Response:
        _check_version(version)
        _check_key()
        return _json(200, model.read_file(file_id).resource(request.host_url, version))

    @app.delete("/<version>/files/<file_id>")
    def delete_file(version: str, file_id: str) -> Response:
        _check_version(version)
        _check_key()
        model.delete_file(file_id)
        return _json(200, {})

    @app.get("/<version>/files")
    def list_files(version: str) -> Response:
        _check_version(version)
        _check_key()
        return _json(200, {"files": [f.resource(request.host_url, version) for f in model.files()]})


def _start_upload(model: OfflineGemini, version: str) -> Response:
    if request.headers.get("X-Goog-Upload-Protocol", "").lower() != "resumable":
        raise ApiError(400, "Only the resumable upload protocol is supported by the offline model.")
    if request.headers.get("X-Goog-Upload-Command", "").lower() != "start":
        raise ApiError(
            400, "The first request of a resumable upload must carry X-Goog-Upload-Command: start."
        )
    body = request.get_json(force=True, silent=True) or {}
    described = body.get("file") or {}
    mime = request.headers.get("X-Goog-Upload-Header-Content-Type") or _field(
        described, "mimeType", "mime_type"
    )
    size = request.headers.get("X-Goog-Upload-Header-Content-Length") or _field(
        described, "sizeBytes", "size_bytes"
    )
    if not mime or size is None:
        raise ApiError(400, "The upload needs a content type and length.")
    display_name = _field(described, "displayName", "display_name")
    upload_id = model.start_upload(str(mime), int(size), display_name, described.get("name"))
    url = f"{request.host_url.rstrip('/')}/upload/{version}/files?upload_id={upload_id}&upload_protocol=resumable"
    headers = {
        "X-Goog-Upload-URL": url,
        "X-Goog-Upload-Control-URL": url,
        "X-Goog-Upload-Status": "active",
        "X-Goog-Upload-Chunk-Granularity": str(UPLOAD_CHUNK_GRANULARITY),
    }
    return Response(b"", status=200, headers=headers)


def _upload_step(model: OfflineGemini, version: str, upload_id: str) -> Response:
    commands = {c.strip().lower() for c in request.headers.get("X-Goog-Upload-Command", "").split(",")}
    if "query" in commands:
        received = model.uploaded_size(upload_id)
        return Response(
            b"", headers={"X-Goog-Upload-Status": "active", "X-Goog-Upload-Size-Received": str(received)}
        )
    if not commands & {"upload", "finalize"}:
        raise ApiError(400, "X-Goog-Upload-Command must be upload, finalize or query.")
    offset = int(request.headers.get("X-Goog-Upload-Offset", "0"))
    stored = model.upload_chunk(upload_id, offset, request.get_data(), "finalize" in commands)
    if stored is None:
        return Response(b"", headers={"X-Goog-Upload-Status": "active"})
    body = {"file": stored.resource(request.host_url, version)}
    return _json(200, body, {"X-Goog-Upload-Status": "final"})


def _add_control_routes(app: Flask, model: OfflineGemini) -> None:
    @app.get("/_fake/health")
    def health() -> Response:
        return _json(200, {"ok": True})

    @app.route("/_fake/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> Response:
        if request.method == "DELETE":
            model.clear_faults()
        elif request.method == "POST":
            try:
                model.add_faults(fault_specs(request.get_json(force=True, silent=True)))
            except (TypeError, ValueError) as exc:
                return _json(400, {"error": str(exc)})
        return _json(200, {"faults": model.faults()})

    @app.post("/_fake/file_states")
    def file_states() -> Response:
        spec = request.get_json(force=True, silent=True) or {}
        try:
            planned = model.plan_file_states(
                int(spec.get("processing_polls", 0)), str(spec.get("final_state", "ACTIVE")).upper()
            )
        except (TypeError, ValueError) as exc:
            return _json(400, {"error": str(exc)})
        return _json(200, planned)

    @app.get("/_fake/requests")
    def requests_received() -> Response:
        return _json(200, {"requests": model.requests()})

    @app.get("/_fake/embeddings")
    def embeddings_made() -> Response:
        return _json(200, {"embeddings": model.embedded()})

    @app.post("/_fake/reset")
    def reset() -> Response:
        model.reset()
        return _json(200, {"ok": True})


# --------------------------------------------------------------------------------------------
# Entry points


def start_offline_gemini(
    port: int = 0, host: str = "127.0.0.1", log_requests: bool = False
) -> RunningServer[OfflineGemini]:
    """Start the offline model in a daemon thread; use ``.url`` as google-genai's ``base_url``."""
    model = OfflineGemini()
    return start_server(
        create_app(model),
        model,
        host=host,
        port=port,
        name="offline-gemini",
        on_stop=model.close,
        log_requests=log_requests,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Offline Gemini stand-in (answers deterministically).")
    parser.add_argument("--host", default=os.environ.get("OFFLINE_GEMINI_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("OFFLINE_GEMINI_PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    running = start_offline_gemini(args.port, args.host, log_requests=True)
    run_until_signalled(
        running, f"Offline Gemini: set GEMINI_BASE_URL={running.url} (any GEMINI_API_KEY works)"
    )


if __name__ == "__main__":
    main()

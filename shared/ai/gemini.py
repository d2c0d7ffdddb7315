"""Asking Gemini for an answer, through google-genai.

The client is created once per instance. Transient failures (408, 429, 5xx) are retried by the
SDK with bounded exponential backoff (it retries nothing unless told to); when the attempts run
out, `ModelUnavailable` tells the caller to fail the job so Pub/Sub redelivers it later. A
blocked or empty answer is not an error: the caller sends a polite fallback and records why.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.config import Settings, settings

if TYPE_CHECKING:
    from google import genai
    from google.genai import types

RETRYABLE_STATUS = [408, 429, 500, 502, 503, 504]


class ModelError(Exception):
    """The model could not answer."""


class ModelUnavailable(ModelError):
    """Transient: rate limited or the service failed after every retry; try the job again later."""


class ModelRejected(ModelError):
    """Permanent: the request itself is refused (bad key, bad argument, unknown model)."""


@dataclass(frozen=True)
class ModelAnswer:
    text: str | None  # None when blocked or empty
    finish_reason: str
    model: str
    input_tokens: int
    output_tokens: int
    latency_ms: int
    block_reason: str | None = None


@functools.cache
def genai_client() -> genai.Client:
    return make_client(settings())


def make_client(s: Settings) -> genai.Client:
    from google import genai
    from google.genai import types

    options = types.HttpOptions(
        timeout=int(s.gemini_timeout_seconds * 1000),  # milliseconds; without one a call can hang forever
        retry_options=types.HttpRetryOptions(
            attempts=s.gemini_max_attempts,
            initial_delay=0.5,
            max_delay=8.0,
            http_status_codes=RETRYABLE_STATUS,
        ),
    )
    if s.gemini_base_url:
        options.base_url = s.gemini_base_url
    if s.google_genai_use_vertexai:
        return genai.Client(
            vertexai=True,
            project=s.google_cloud_project,
            location=s.google_cloud_location,
            http_options=options,
        )
    if not s.gemini_api_key and not s.gemini_base_url:
        raise ModelRejected("GEMINI_API_KEY is not set (nor GEMINI_BASE_URL or GOOGLE_GENAI_USE_VERTEXAI)")
    # A custom endpoint (the offline model, a gateway) may need no key, but the SDK insists on one.
    return genai.Client(api_key=s.gemini_api_key or "unused", http_options=options)


def generate(
    contents: list[types.Content], *, system_instruction: str, model: str, client: genai.Client | None = None
) -> ModelAnswer:
    from google.genai import errors, types

    client = client or genai_client()
    started = time.perf_counter()
    try:
        response = client.models.generate_content(
            model=model,
            contents=contents,
            config=types.GenerateContentConfig(system_instruction=system_instruction, temperature=0.6),
        )
    except errors.APIError as exc:
        if exc.code in RETRYABLE_STATUS:
            raise ModelUnavailable(
                f"Gemini answered {exc.code} {exc.status} after retries: {exc.message}"
            ) from exc
        raise ModelRejected(f"Gemini refused the request: {exc.code} {exc.status} {exc.message}") from exc
    except Exception as exc:
        # The SDK's transport (httpx) raises its own timeout and connection errors.
        if type(exc).__module__.startswith("httpx"):
            raise ModelUnavailable(f"Gemini did not answer: {exc!r}") from exc
        raise
    latency_ms = int((time.perf_counter() - started) * 1000)
    return _answer(response, model, latency_ms)


def _answer(response: types.GenerateContentResponse, model: str, latency_ms: int) -> ModelAnswer:
    candidate = response.candidates[0] if response.candidates else None
    block = response.prompt_feedback.block_reason if response.prompt_feedback else None
    finish = candidate.finish_reason if candidate and candidate.finish_reason else None
    text = _text_of(candidate)
    usage = response.usage_metadata
    return ModelAnswer(
        text=text.strip() or None if text else None,
        finish_reason=_name(finish) or (f"BLOCKED_{_name(block)}" if block else "NO_CANDIDATE"),
        model=response.model_version or model,
        input_tokens=(usage.prompt_token_count or 0) if usage else 0,
        output_tokens=(usage.candidates_token_count or 0) if usage else 0,
        latency_ms=latency_ms,
        block_reason=_name(block),
    )


def _text_of(candidate: types.Candidate | None) -> str | None:
    # Thought summaries are not part of the answer a customer should read.
    if not candidate or not candidate.content or not candidate.content.parts:
        return None
    texts = [p.text for p in candidate.content.parts if p.text and not p.thought]
    return "".join(texts) if texts else None


def _name(value: object) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "name", value))

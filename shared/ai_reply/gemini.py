"""Asking Gemini for an answer, through google-genai.

The client comes from the instance's `Clients` (shared/clients.py), which has the SDK retry
transient failures (408, 429, 5xx) with bounded exponential backoff; when the attempts run out, `ModelUnavailable` tells the caller to fail the job so Pub/Sub redelivers it later. A
blocked or empty answer is not an error: the caller sends a polite fallback and records why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.clients import GEMINI_RETRYABLE_STATUS

if TYPE_CHECKING:
    from google import genai
    from google.genai import types


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


def generate(
    client: genai.Client, contents: list[types.Content], *, system_instruction: str, model: str
) -> ModelAnswer:
    from google.genai import errors, types

    started = time.perf_counter()
    try:
        response = client.models.generate_content(
            model=model,
            contents=contents,
            config=types.GenerateContentConfig(system_instruction=system_instruction, temperature=0.6),
        )
    except errors.APIError as exc:
        if exc.code in GEMINI_RETRYABLE_STATUS:
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

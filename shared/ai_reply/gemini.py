"""Asking Gemini for an answer, through google-genai, the way Gemini 3 models are meant to be asked.

The request follows Google's guidance for Gemini 3: `temperature` is left at its default (lower
values can make the model loop), the thinking level is set (`GEMINI_THINKING_LEVEL`, LOW by
default: gemini-3.8-flash otherwise thinks at MEDIUM, seconds a customer waits for), and the
output is capped (`GEMINI_MAX_OUTPUT_TOKENS`, thinking included).

The client comes from the instance's `Clients` (shared/clients.py), which has the SDK retry
transient failures (408, 429, 5xx, transport errors) with bounded backoff, and the whole call
runs within its share of the job (`budget.model_call_seconds`, and never past the job's
deadline). When that runs out, or the attempts do, `ModelUnavailable` tells the caller to fail the job so Pub/Sub redelivers it later.
A blocked or empty answer is not an error: the caller sends a polite fallback and records why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.ai_reply.budget import model_call_seconds
from shared.clients import GEMINI_RETRYABLE_STATUS, is_genai_transport_error
from shared.config import Settings
from shared.deadline import Deadline, DeadlineExceeded, run_within

if TYPE_CHECKING:
    from google import genai
    from google.genai import types


class ModelError(Exception):
    """The model could not answer."""


class ModelUnavailable(ModelError):
    """Transient: rate limited, unreachable, or out of time after every retry; try the job again later."""


class ModelRejected(ModelError):
    """Permanent: the request itself is refused (bad key or credentials, bad argument, unknown model)."""


@dataclass(frozen=True)
class ModelAnswer:
    text: str | None  # None when blocked or empty
    finish_reason: str
    model: str
    input_tokens: int
    output_tokens: int  # the answer's tokens; thinking is counted apart (both billed as output)
    latency_ms: int
    block_reason: str | None = None
    thinking_tokens: int = 0
    cached_tokens: int = 0  # of input_tokens, read from Gemini's cache (billed at its lower rate)


def generation_config(
    settings: Settings,
    system_instruction: str | None = None,
    response_schema: dict[str, Any] | None = None,
) -> types.GenerateContentConfig:
    """The request's configuration; no temperature, on purpose (see the module's docstring).

    With `response_schema` (a JSON Schema) the model answers with a JSON object of that shape."""
    from google.genai import types

    config = types.GenerateContentConfig(
        system_instruction=system_instruction or settings.system_instruction,
        max_output_tokens=settings.gemini_max_output_tokens,
        thinking_config=types.ThinkingConfig(thinking_level=settings.gemini_thinking_level.strip().upper()),
    )
    if response_schema is not None:
        config.response_mime_type = "application/json"
        config.response_json_schema = response_schema
    return config


def generate(
    client: genai.Client,
    contents: list[types.Content],
    *,
    settings: Settings,
    system_instruction: str | None = None,
    response_schema: dict[str, Any] | None = None,
    deadline: Deadline | None = None,
) -> ModelAnswer:
    from google.genai import errors

    model = settings.gemini_model
    config = generation_config(settings, system_instruction, response_schema)
    limit = model_call_seconds(settings)
    started = time.perf_counter()
    try:
        if deadline is not None:
            limit = deadline.share(limit, "the model call")
        response = run_within(
            limit,
            lambda: client.models.generate_content(model=model, contents=contents, config=config),
            "the model call",
        )
    except DeadlineExceeded as exc:
        raise ModelUnavailable(f"Gemini did not answer within {limit:g} s ({exc})") from exc
    except errors.APIError as exc:
        if exc.code in GEMINI_RETRYABLE_STATUS:
            raise ModelUnavailable(
                f"Gemini answered {exc.code} {exc.status} after retries: {exc.message}"
            ) from exc
        raise ModelRejected(f"Gemini refused the request: {exc.code} {exc.status} {exc.message}") from exc
    except Exception as exc:
        if (failure := model_failure(exc)) is not None:
            raise failure from exc
        raise
    latency_ms = int((time.perf_counter() - started) * 1000)
    return _answer(response, model, latency_ms)


def model_failure(exc: BaseException) -> ModelError | None:
    """What a transport or credentials exception of the SDK means for the job, or None if unknown.

    The SDK sends its requests with httpx (or its fork httpx2); on Vertex AI it first gets an
    access token through google-auth, whose network failures surface as google.auth's
    TransportError, or as a RefreshError caused by one (the metadata server unreachable); with a
    client certificate (mTLS) the request itself goes through google-auth's requests session.
    """
    if is_genai_transport_error(exc):
        return ModelUnavailable(f"Gemini did not answer: {exc!r}")
    from google.auth import exceptions as auth_exceptions

    if isinstance(exc, auth_exceptions.TransportError):
        return ModelUnavailable(f"Vertex AI credentials could not be fetched: {exc!r}")
    if isinstance(exc, auth_exceptions.RefreshError):
        if exc.retryable or _caused_by(exc, auth_exceptions.TransportError):
            return ModelUnavailable(f"Vertex AI credentials could not be refreshed: {exc!r}")
        return ModelRejected(f"Vertex AI refused the function's credentials: {exc!r}")
    if isinstance(exc, auth_exceptions.DefaultCredentialsError):
        return ModelRejected(f"no credentials for Vertex AI: {exc!r}")
    import requests

    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return ModelUnavailable(f"Vertex AI did not answer: {exc!r}")
    return None


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, kind):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return any(isinstance(arg, kind) for arg in exc.args)


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
        thinking_tokens=(usage.thoughts_token_count or 0) if usage else 0,
        cached_tokens=(usage.cached_content_token_count or 0) if usage else 0,
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

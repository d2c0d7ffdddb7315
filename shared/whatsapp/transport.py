"""The HTTP plumbing both providers' clients share (the Cloud API's and WAHA's): one request with
its retries, each attempt's timeouts cut to the job's deadline, and the never-resend rule.

A failure before the request left (connect refused or timed out) is safe to retry; a connection
lost or an answer that never came after a non-idempotent request may have been carried out, so it
is `OutcomeUnknown` and never retried (docs/reply-guarantees.md).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from shared.deadline import Deadline
from shared.whatsapp.errors import ConnectionFailed, OutcomeUnknown, WhatsAppError

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 1024 * 1024  # an answer to a send or a metadata request is a small JSON
MAX_ERROR_BYTES = 64 * 1024
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    initial_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        # Full jitter keeps many instances that hit the same limit from retrying in lockstep.
        return random.uniform(0, min(self.max_delay, self.initial_delay * 2**attempt))  # noqa: S311


class RetryingHttp:
    """Base of a provider's client: `_request` sends one request, retrying what is safe to retry.

    A subclass names its `SERVICE` (for messages and logs) and its credentials (`_auth_headers`).
    """

    SERVICE = "the provider"

    def __init__(
        self,
        *,
        session: requests.Session | None,
        timeout: tuple[float, float],
        retry: RetryPolicy | None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session = session or requests.Session()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep

    def _auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _request(
        self, method: str, url: str, *, idempotent: bool, deadline: Deadline | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {**kwargs.pop("headers", {}), **self._auth_headers()}
        for attempt in range(self.retry.attempts):
            timeout = self._timeout_within(deadline)
            try:
                # Redirects are the caller's to follow, each hop checked like the first.
                return self.session.request(
                    method, url, headers=headers, timeout=timeout, allow_redirects=False, **kwargs
                )
            except (requests.ConnectTimeout, requests.ConnectionError) as exc:
                never_sent = isinstance(exc, requests.ConnectTimeout) or _is_refused(exc)
                error: WhatsAppError = (
                    ConnectionFailed(f"could not reach {self.SERVICE}: {exc}")
                    if never_sent or idempotent
                    else OutcomeUnknown(f"connection lost during {method} {url}: {exc}")
                )
            except requests.Timeout as exc:
                error = (
                    ConnectionFailed(f"no answer from {self.SERVICE}: {exc}")
                    if idempotent
                    else OutcomeUnknown(f"no answer to {method} {url} within {timeout[1]:g}s")
                )
            if not error.retryable or attempt == self.retry.attempts - 1:
                raise error
            self._backoff(attempt, error, deadline)
        raise AssertionError("unreachable")

    def _timeout_within(self, deadline: Deadline | None) -> tuple[float, float]:
        """(connect, read) timeouts, neither beyond what is left of `deadline`; DeadlineExceeded,
        before anything is sent, when nothing is left."""
        if deadline is None:
            return self.timeout
        left = deadline.share(self.timeout[1], f"a {self.SERVICE} call")
        return (min(self.timeout[0], left), left)

    def _backoff(self, attempt: int, error: WhatsAppError, deadline: Deadline | None = None) -> None:
        delay = self.retry.delay(attempt)
        if deadline is not None and delay >= deadline.remaining():
            # The provider did not take the request: the caller may treat it as not sent.
            error.add_note(f"not retried: {deadline.remaining():.1f} s left of the job's time")
            raise error
        log.warning(
            f"{self.SERVICE} call failed; retrying",
            extra={
                "error": type(error).__name__,
                "code": error.code,
                "attempt": attempt + 1,
                "delay_s": delay,
            },
        )
        self._sleep(delay)


def read_json(response: requests.Response, cap: int) -> Any:
    """The answer's JSON, reading at most `cap` bytes of it (None when longer, or not JSON)."""
    body = bytearray()
    try:
        for chunk in response.iter_content(16 * 1024):
            body += chunk
            if len(body) > cap:
                return None
    except requests.RequestException:
        return None
    finally:
        response.close()
    try:
        return json.loads(body)
    except ValueError:
        return None


def _is_refused(exc: requests.ConnectionError) -> bool:
    reason = exc.args[0] if exc.args else None
    return isinstance(getattr(reason, "reason", None), NewConnectionError)

"""X-Hub-Signature-256: Meta signs each webhook body with the app secret (HMAC-SHA256).

The check runs over the exact bytes received, before anything is parsed: re-serialised JSON
differs from Meta's bytes (Meta escapes non-ASCII as \\uXXXX), and parsing untrusted input
before knowing who sent it is how injection bugs start.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


class SignatureError(Exception):
    """The delivery is not proven to come from Meta; `status` is the HTTP answer to give."""

    status = 403


class MissingSignature(SignatureError):
    status = 401


class InvalidSignature(SignatureError):
    status = 403


def sign(app_secret: str, body: bytes) -> str:
    """The header value Meta sends for `body` (used by the simulator and the tests)."""
    return _PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(app_secret: str, body: bytes, header: str | None) -> None:
    """Raise MissingSignature or InvalidSignature unless `header` signs `body` with `app_secret`."""
    if not app_secret:
        # Never reachable through the webhook (it refuses to start without a secret); a guard
        # so that a future caller cannot turn the check off by passing an empty string.
        raise InvalidSignature("no app secret configured")
    if not header:
        raise MissingSignature(f"{HEADER} header is missing")
    expected = sign(app_secret, body)
    # compare_digest takes the same time wherever the first differing byte is.
    if not hmac.compare_digest(expected.encode(), header.strip().lower().encode()):
        raise InvalidSignature(f"{HEADER} does not match the body")

"""X-Webhook-Hmac: WAHA signs a webhook's raw body with the key configured for it (HMAC-SHA512, hex).

Signing is opt-in on WAHA's side (`config.webhooks[].hmac.key`), so the webhook function refuses
to start for a WAHA session without a key unless WAHA_ALLOW_UNSIGNED says the network is private
(Settings.require_waha_signing). As for Meta's signature, the check runs over the exact bytes
received, before anything is parsed, and takes the same time wherever the bytes differ.
"""

from __future__ import annotations

import hashlib
import hmac

from shared.whatsapp.signature import InvalidSignature, MissingSignature

HEADER = "X-Webhook-Hmac"
ALGORITHM_HEADER = "X-Webhook-Hmac-Algorithm"
ALGORITHM = "sha512"


def sign(key: str, body: bytes) -> str:
    """The header value WAHA sends for `body` (used by the simulator and the tests)."""
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def verify_signature(key: str, body: bytes, header: str | None, algorithm: str | None = None) -> None:
    """Raise MissingSignature or InvalidSignature unless `header` signs `body` with `key`."""
    if not key:
        raise InvalidSignature("no WAHA webhook key configured")
    if not header:
        raise MissingSignature(f"{HEADER} header is missing")
    if algorithm and algorithm.strip().lower() != ALGORITHM:
        raise InvalidSignature(f"{ALGORITHM_HEADER} is {algorithm!r}, not {ALGORITHM}")
    if not hmac.compare_digest(sign(key, body).encode(), header.strip().lower().encode()):
        raise InvalidSignature(f"{HEADER} does not match the body")

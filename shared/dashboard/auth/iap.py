"""Verifying Identity-Aware Proxy's signed header, `x-goog-iap-jwt-assertion`.

IAP signs an ES256 JWT for every request it lets through. Checking it here (signature,
audience, issuer, expiry) means a request that reached the function some other way (a
misconfigured ingress, another service in the project) is refused. The public keys come from
`IAP_JWKS_URL` (Google's by default), cached for an hour; an unknown key id triggers one
refetch at most once a minute, so forged key ids cannot make us hammer the key server.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import requests

from shared.dashboard.config import IAP_ISSUER

log = logging.getLogger(__name__)

HEADER = "x-goog-iap-jwt-assertion"
KEYS_TTL_SECONDS = 3600.0
REFETCH_MIN_INTERVAL_SECONDS = 60.0
FETCH_TIMEOUT_SECONDS = 5.0
CLOCK_SKEW_SECONDS = 30


class IapError(Exception):
    """The assertion is missing, malformed, forged, expired or for someone else."""


def fetch_jwks(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=FETCH_TIMEOUT_SECONDS)
    response.raise_for_status()
    body = response.json()
    if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
        raise IapError("the IAP key set has no keys")
    return body


class IapKeys:
    """IAP's public keys by key id, fetched lazily and shared by every request of the instance."""

    def __init__(self, fetch: Callable[[], dict[str, Any]]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")

    def key(self, kid: str) -> Any:
        now = time.monotonic()
        with self._lock:
            expired = now - self._fetched_at > KEYS_TTL_SECONDS
            unknown = kid not in self._keys and now - self._fetched_at > REFETCH_MIN_INTERVAL_SECONDS
            if expired or unknown:
                self._refresh(now)
            found = self._keys.get(kid)
        if found is None:
            raise IapError("the assertion is signed with an unknown key")
        return found

    def _refresh(self, now: float) -> None:
        try:
            key_set = jwt.PyJWKSet.from_dict(self._fetch())
        except (requests.RequestException, ValueError, jwt.PyJWTError, IapError) as exc:
            # Keep the keys we had: a key server hiccup must not lock every operator out.
            log.warning("could not fetch the IAP keys", extra={"error": repr(exc)})
            self._fetched_at = now - KEYS_TTL_SECONDS + REFETCH_MIN_INTERVAL_SECONDS
            return
        self._keys = {k.key_id: k.key for k in key_set.keys if k.key_id}
        self._fetched_at = now


@dataclass(frozen=True)
class IapIdentity:
    email: str
    subject: str


class IapVerifier:
    def __init__(self, audience: str, keys: IapKeys) -> None:
        self._audience = audience
        self._keys = keys

    def verify(self, assertion: str | None) -> IapIdentity:
        if not assertion:
            raise IapError("no IAP assertion")
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.InvalidTokenError as exc:
            raise IapError(f"malformed assertion ({exc})") from None
        if header.get("alg") != "ES256" or not isinstance(header.get("kid"), str):
            raise IapError("the assertion is not an ES256 token with a key id")
        try:
            claims = jwt.decode(
                assertion,
                self._keys.key(header["kid"]),
                algorithms=["ES256"],
                audience=self._audience,
                issuer=IAP_ISSUER,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "aud", "iss", "email"]},
            )
        except jwt.InvalidTokenError as exc:
            raise IapError(f"invalid assertion ({type(exc).__name__}: {exc})") from None
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise IapError("the assertion carries no email")
        return IapIdentity(email=email.strip().lower(), subject=str(claims.get("sub", "")))

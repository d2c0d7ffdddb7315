"""The local login: a password form and the signed session cookie it sets.

The cookie holds no secret, only a signed statement "logged in at T with password P's
fingerprint". Signing uses DASHBOARD_SESSION_SECRET; the fingerprint is derived from the
password, so changing the password ends every session at once. Cookies are HttpOnly (scripts
cannot read them), SameSite=Lax and Secure whenever the request came over https.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import flask
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "dashboard_session"
SECURE_COOKIE = "__Host-dashboard_session"  # the prefix forbids Domain= and requires Secure and Path=/
MAX_AGE_SECONDS = 12 * 3600
LOCAL_OPERATOR = "operator"


def _digest(value: str) -> bytes:
    # Comparing fixed-length digests keeps the comparison's time independent of the password's length.
    return hashlib.sha256(value.encode()).digest()


def password_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(_digest(given), _digest(expected))


def cookie_name(request: flask.Request) -> str:
    return SECURE_COOKIE if request.is_secure else COOKIE


class PasswordSessions:
    def __init__(self, password: str, secret: str) -> None:
        self._password = password
        self._serializer = URLSafeTimedSerializer(secret, salt="dashboard-session")
        self._fingerprint = hmac.new(secret.encode(), password.encode(), hashlib.sha256).hexdigest()[:32]

    def check_password(self, given: str) -> bool:
        return password_matches(given, self._password)

    def operator(self, request: flask.Request) -> str | None:
        """The operator this request's cookie vouches for, or None."""
        token = request.cookies.get(cookie_name(request))
        if not token:
            return None
        try:
            data = self._serializer.loads(token, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not hmac.compare_digest(str(data.get("k", "")), self._fingerprint):
            return None
        return str(data.get("op") or LOCAL_OPERATOR)

    def start(self, request: flask.Request, response: flask.Response) -> None:
        token = self._serializer.dumps({"op": LOCAL_OPERATOR, "k": self._fingerprint, "t": int(time.time())})
        response.set_cookie(
            cookie_name(request),
            token,
            max_age=MAX_AGE_SECONDS,
            path="/",
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )

    def end(self, request: flask.Request, response: flask.Response) -> None:
        response.delete_cookie(
            cookie_name(request), path="/", secure=request.is_secure, httponly=True, samesite="Lax"
        )

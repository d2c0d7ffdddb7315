"""Meta's Graph API error codes -> exception classes that say whether a retry can help.

Meta asks integrators to branch on `error.code` (plus details), not on the HTTP status or the
title, which is being deprecated. `retryable` is what the sender acts on: retry with backoff,
or stop and record the failure.
"""

from __future__ import annotations

from typing import Any, ClassVar


class WhatsAppError(Exception):
    """An error answer from the WhatsApp Cloud API (or no answer at all)."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        details: str = "",
        trace_id: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.details = details
        self.trace_id = trace_id

    @property
    def title(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title, "detail": self.details}


class RateLimited(WhatsAppError):
    """Throughput or pair rate limit (130429, 131056) or API-call limits (4, 80007)."""

    retryable = True


class ServiceUnavailable(WhatsAppError):
    """Meta's side failed (codes 1, 2, 131000, 131016, 131057, or HTTP 5xx)."""

    retryable = True


class ConnectionFailed(WhatsAppError):
    """The request never reached Meta (connection refused or reset before sending)."""

    retryable = True


class OutcomeUnknown(WhatsAppError):
    """The request may have reached Meta but no answer came back (a read timeout).

    Retrying a send here could deliver it twice, so callers that must send at most once stop.
    """


class OutsideCustomerWindow(WhatsAppError):
    """131047: more than 24 hours since the user's last message; only templates may be sent."""


class RecipientUnavailable(WhatsAppError):
    """131026, 131030 and friends: the number cannot receive this message."""


class UserIdNotAccepted(WhatsAppError):
    """131062: this kind of message cannot be addressed to a business-scoped user id (BSUID);
    it needs the user's phone number, which a user known only by username has not shared."""

    REASON: ClassVar[str] = (
        "WhatsApp does not accept this kind of message for a user known only by their username "
        "(no phone number): it needs their phone number"
    )

    @property
    def title(self) -> str:
        return self.REASON


class InvalidRequest(WhatsAppError):
    """100, 131008, 131009, 131051: our request is wrong; retrying the same request cannot help."""


class AuthenticationFailed(WhatsAppError):
    """0, 190, 10, 200-299: the access token is invalid or expired, or lacks a permission."""


class AccountRestricted(WhatsAppError):
    """368, 131031, 130497, spam and policy limits: an operator must act."""


class MediaUnavailable(WhatsAppError):
    """131052/131053 or a 404 on a media id: the media cannot be fetched."""


class UntrustedAddress(WhatsAppError):
    """A media address (or a redirect) off Meta's media hosts: never requested, never retried."""


_BY_CODE: dict[int, type[WhatsAppError]] = {
    130429: RateLimited,
    131056: RateLimited,
    4: RateLimited,
    80007: RateLimited,
    1: ServiceUnavailable,
    2: ServiceUnavailable,
    131000: ServiceUnavailable,
    131016: ServiceUnavailable,
    131057: ServiceUnavailable,
    131047: OutsideCustomerWindow,
    131026: RecipientUnavailable,
    131030: RecipientUnavailable,
    131021: RecipientUnavailable,
    131062: UserIdNotAccepted,
    100: InvalidRequest,
    131008: InvalidRequest,
    131009: InvalidRequest,
    131051: InvalidRequest,
    0: AuthenticationFailed,
    190: AuthenticationFailed,
    10: AuthenticationFailed,
    368: AccountRestricted,
    131031: AccountRestricted,
    130497: AccountRestricted,
    131048: AccountRestricted,
    131049: AccountRestricted,
    131050: AccountRestricted,
    130472: AccountRestricted,
    131052: MediaUnavailable,
    131053: MediaUnavailable,
}


def error_from_response(http_status: int, body: Any) -> WhatsAppError:
    """The exception for an error answer; `body` is the parsed JSON (or None)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        cls = ServiceUnavailable if http_status >= 500 or http_status == 429 else InvalidRequest
        return cls(f"HTTP {http_status} without an error body", http_status=http_status)
    code = error.get("code") if isinstance(error.get("code"), int) else None
    data = error.get("error_data")
    details = str(data.get("details", "")) if isinstance(data, dict) else ""
    cls = _BY_CODE.get(code) if code is not None else None
    if cls is None:
        if code is not None and 200 <= code <= 299:
            cls = AuthenticationFailed
        elif http_status >= 500 or http_status == 429:
            cls = ServiceUnavailable
        elif http_status in (401, 403):
            cls = AuthenticationFailed
        else:
            cls = InvalidRequest
    message = str(error.get("message") or error.get("error_user_title") or f"HTTP {http_status}")
    return cls(
        message,
        code=code,
        http_status=http_status,
        details=details,
        trace_id=str(error.get("fbtrace_id", "")),
    )

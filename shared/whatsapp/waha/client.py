"""The part of WAHA's HTTP API this system calls: send text, seen, typing, and its files.

It offers what `shared/whatsapp/provider.py` asks of a provider, with the Cloud API client's
guarantees: transient failures (WAHA's 5xx, a refused connection) are retried with bounded
backoff, a send whose outcome is unknown (the request went out, no answer came) is never retried,
and every request draws from the caller's `Deadline`. The API key goes only to the configured
WAHA origin: a file url or a redirect anywhere else is refused before any request.

WAHA names a chat `<digits>@c.us` (or `<id>@lid`) and a message by its serialised id
(`true_<chat>_<hex>`); the store's users and message ids are those (shared/whatsapp/waha/parse.py).
Interactive messages are sent as plain text (numbered options): WAHA's button and list messages
are unreliable on the engines most servers run, and an option typed back as its number or title
reads the same to the assistant.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin

import requests

from shared.deadline import Deadline
from shared.whatsapp.errors import (
    AuthenticationFailed,
    InvalidRequest,
    MediaUnavailable,
    RateLimited,
    ServiceUnavailable,
    UntrustedAddress,
    WhatsAppError,
)
from shared.whatsapp.hosts import origin_of
from shared.whatsapp.plain_fallback import plain_text_of
from shared.whatsapp.text import TEXT_LIMIT, meta_length
from shared.whatsapp.transport import (
    MAX_ANSWER_BYTES,
    MAX_ERROR_BYTES,
    MAX_REDIRECTS,
    RetryingHttp,
    RetryPolicy,
    read_json,
)
from shared.whatsapp.waha.parse import chat_id_of

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-Api-Key"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def error_from_waha(http_status: int, body: Any, url: str = "") -> WhatsAppError:
    """The exception for one of WAHA's error answers (NestJS: `{"statusCode", "message", ...}`)."""
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, list):
        message = "; ".join(str(m) for m in message)
    text = f"WAHA answered HTTP {http_status}" + (f": {message}" if message else "")
    if http_status in (401, 403):
        cls: type[WhatsAppError] = AuthenticationFailed  # WAHA_API_KEY is wrong
    elif http_status == 429:
        cls = RateLimited
    elif http_status >= 500 or http_status == 422:
        # 422: the session is not WORKING (starting, or waiting for its QR code to be scanned).
        cls = ServiceUnavailable
    elif http_status in (404, 410):
        cls = MediaUnavailable if "/api/files/" in url else InvalidRequest
    else:
        cls = InvalidRequest
    return cls(text, http_status=http_status)


def chat_of_message(message_id: str) -> str:
    """The chat of a serialised message id (`false_<chat>_<hex>[_<participant>]`)."""
    parts = message_id.split("_")
    if len(parts) < 3 or parts[0] not in ("true", "false") or "@" not in parts[1]:
        raise InvalidRequest(f"not a WAHA message id: {message_id[:80]!r}")
    return parts[1]


def sent_message_id(answer: Any, chat_id: str) -> str:
    """The serialised id of what WAHA just sent, whichever engine answered."""
    if isinstance(answer, Mapping):
        ident = answer.get("id")
        if isinstance(ident, str) and ident:
            return ident  # GOWS, and WEBJS's newer answers
        if isinstance(ident, Mapping) and isinstance(ident.get("_serialized"), str):
            return str(ident["_serialized"])  # WEBJS
        key = answer.get("key")
        if isinstance(key, Mapping) and isinstance(key.get("id"), str):
            return f"true_{chat_id}_{key['id']}"  # NOWEB answers with WhatsApp's message key
    raise ServiceUnavailable("WAHA answered the send without a message id")


class WahaClient(RetryingHttp):
    """One WAHA server serving several sessions, each a business number of ours."""

    SERVICE = "WAHA"
    refreshes_media_urls = False  # a file's url comes with its webhook; there is no other way to it

    def __init__(
        self,
        base_url: str,
        api_key: str,
        sessions: Mapping[str, str],
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 20.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        origin = origin_of(base_url)
        if origin is None:
            raise ValueError(f"WAHA_URL is not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._origin = origin
        self._api_key = api_key
        super().__init__(session=session, timeout=timeout, retry=retry, sleep=sleep)
        self._session_of = {number: name for name, number in sessions.items()}
        self._typing: set[tuple[str, str]] = set()  # (session, chat) we showed as typing
        self._lock = threading.Lock()

    def _auth_headers(self) -> dict[str, str]:
        return {API_KEY_HEADER: self._api_key, "Accept": "application/json"}

    def serves(self, phone_number_id: str) -> bool:
        return phone_number_id in self._session_of

    # -- messages ------------------------------------------------------------------------------

    def send_text(
        self,
        phone_number_id: str,
        to: str,
        body: str,
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,  # the Cloud API's; WAHA echoes nothing back
        deadline: Deadline | None = None,
    ) -> str:
        """Send a text message; returns the id WAHA gave it (what its acks will name)."""
        if meta_length(body) > TEXT_LIMIT:
            raise ValueError(f"text body of {meta_length(body)} UTF-16 units is over WhatsApp's {TEXT_LIMIT}")
        session, chat = self._session(phone_number_id), chat_id_of(to)
        self._stop_typing(session, chat, deadline)
        payload: dict[str, Any] = {"session": session, "chatId": chat, "text": body, "linkPreview": False}
        if reply_to:
            payload["reply_to"] = reply_to
        answer = self._call("POST", "/api/sendText", json=payload, idempotent=False, deadline=deadline)
        return sent_message_id(answer, chat)

    def send_interactive(
        self,
        phone_number_id: str,
        to: str,
        interactive: Mapping[str, Any],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
        deadline: Deadline | None = None,
    ) -> str:
        """Meta's `interactive` object (buttons or a list), sent as its plain-text fallback."""
        return self.send_text(
            phone_number_id,
            to,
            plain_text_of(interactive),
            reply_to=reply_to,
            callback_data=callback_data,
            deadline=deadline,
        )

    def mark_read(
        self, phone_number_id: str, wamid: str, *, typing: bool = False, deadline: Deadline | None = None
    ) -> None:
        """Blue ticks for `wamid` (and what came before it); with `typing`, also '...typing'."""
        session, chat = self._session(phone_number_id), chat_of_message(wamid)
        self._call(
            "POST",
            "/api/sendSeen",
            json={"session": session, "chatId": chat, "messageIds": [wamid]},
            idempotent=True,
            deadline=deadline,
        )
        if typing:
            self._call(
                "POST",
                "/api/startTyping",
                json={"session": session, "chatId": chat},
                idempotent=True,
                deadline=deadline,
            )
            with self._lock:
                self._typing.add((session, chat))

    def _stop_typing(self, session: str, chat: str, deadline: Deadline | None) -> None:
        """WhatsApp Web keeps '...typing' up until told; a failure here must not cost the message."""
        with self._lock:
            if (session, chat) not in self._typing:
                return
            self._typing.discard((session, chat))
        try:
            self._call(
                "POST",
                "/api/stopTyping",
                json={"session": session, "chatId": chat},
                idempotent=True,
                deadline=deadline,
            )
        except WhatsAppError as exc:
            log.warning("could not stop the typing indicator", extra={"error": repr(exc)})

    # -- media ---------------------------------------------------------------------------------

    def trusts_media_url(self, url: str) -> bool:
        """Whether `url` is on the configured WAHA server (the only place its key may go)."""
        return origin_of(url) == self._origin

    def media_metadata(self, media_id: str, *, deadline: Deadline | None = None) -> dict[str, Any]:
        raise MediaUnavailable("WAHA has no media metadata: a file's url comes with its message only")

    def open_download(self, url: str, *, deadline: Deadline | None = None) -> requests.Response:
        """Start streaming one of WAHA's files (API key required); the caller reads and closes it."""
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send("GET", url, idempotent=True, stream=True, deadline=deadline)
            if response.status_code not in _REDIRECTS:
                return response
            location = response.headers.get("Location") or ""
            response.close()
            url = urljoin(url, location)
        raise UntrustedAddress(f"more than {MAX_REDIRECTS} redirects for one media download")

    # -- plumbing ------------------------------------------------------------------------------

    def _session(self, phone_number_id: str) -> str:
        try:
            return self._session_of[phone_number_id]
        except KeyError:
            raise InvalidRequest(f"business number {phone_number_id!r} is not a WAHA session's") from None

    def _call(
        self, method: str, path: str, *, idempotent: bool, deadline: Deadline | None = None, **kwargs: Any
    ) -> Any:
        response = self._send(
            method, self.base_url + path, idempotent=idempotent, stream=True, deadline=deadline, **kwargs
        )
        if response.status_code in _REDIRECTS:
            response.close()
            raise error_from_waha(response.status_code, None)
        return read_json(response, MAX_ANSWER_BYTES)

    def _send(
        self, method: str, url: str, *, idempotent: bool, deadline: Deadline | None = None, **kwargs: Any
    ) -> requests.Response:
        if not self.trusts_media_url(url):
            raise UntrustedAddress("not the WAHA server's address (WAHA_URL)")
        for attempt in range(self.retry.attempts):
            response = self._request(method, url, idempotent=idempotent, deadline=deadline, **kwargs)
            if response.status_code < 400:
                return response
            error = error_from_waha(response.status_code, read_json(response, MAX_ERROR_BYTES), url)
            if not error.retryable or attempt == self.retry.attempts - 1:
                raise error
            self._backoff(attempt, error, deadline)
        raise AssertionError("unreachable")

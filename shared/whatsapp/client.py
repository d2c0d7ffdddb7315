"""The part of the WhatsApp Cloud API (Graph API) this system calls.

One `requests.Session` per instance keeps connections to Meta warm. Transient failures (rate
limits, Meta's 5xx, a refused connection) are retried here with bounded exponential backoff; a
send whose outcome is unknown (the request went out, no answer came back) is never retried,
because a retry could deliver the same reply twice.

The access token is attached to each request, never to the session, and only when the address
is the Graph API or one of Meta's media hosts (`hosts.TrustedHosts`); redirects are followed
here, hop by hop, so that none leads the token (or our function) anywhere else. Answers are
read up to a cap: an error body is a few hundred bytes, whoever sends more is not Meta.

A caller working to a job's `Deadline` passes it: no request then waits, and no retry sleeps,
past what is left of it (`DeadlineExceeded` before a request means it was never sent; a retry
given up for lack of time raises the error WhatsApp answered).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from shared.deadline import Deadline
from shared.whatsapp.errors import (
    ServiceUnavailable,
    UntrustedAddress,
    error_from_response,
)
from shared.whatsapp.hosts import TrustedHosts
from shared.whatsapp.templates import TemplateMessage
from shared.whatsapp.text import TEXT_LIMIT, meta_length
from shared.whatsapp.transport import (
    MAX_ANSWER_BYTES,
    MAX_ERROR_BYTES,
    MAX_REDIRECTS,
    RetryingHttp,
    RetryPolicy,
    read_json,
)

log = logging.getLogger(__name__)

MAX_TEMPLATE_PAGES = 100  # 10,000 templates; a WABA holds at most a few hundred
TEMPLATE_FIELDS = "id,name,language,category,status,quality_score,components,rejected_reason"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


_USER_ID = re.compile(r"[A-Z]{2}\.")


def is_user_id(address: str) -> bool:
    """A business-scoped user id (`US.1349...`) rather than a phone number (digits, maybe "+")."""
    return bool(_USER_ID.match(address))


def addressed(to: str) -> dict[str, str]:
    """The send body's recipient: `to` for a phone number ("+" and digits, so it is never read as
    a local one), `recipient` for a user known by their BSUID. Only one is ever sent: Meta reads
    `to` first when both are there."""
    if is_user_id(to):
        return {"recipient": to}
    return {"to": "+" + to.lstrip("+")}


class WhatsAppClient(RetryingHttp):
    SERVICE = "WhatsApp"
    refreshes_media_urls = True  # GET /{media-id} gives a fresh download url (shared/whatsapp/provider.py)

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 20.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(session=session, timeout=timeout, retry=retry, sleep=sleep)
        self.base_url = base_url.rstrip("/")
        self.hosts = TrustedHosts(self.base_url)
        self._token = token

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    # -- messages ------------------------------------------------------------------------------

    def send_text(
        self,
        phone_number_id: str,
        to: str,
        body: str,
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
        deadline: Deadline | None = None,
    ) -> str:
        """Send a text message to `to` (a phone number, or a BSUID: see `addressed`); returns the
        wamid WhatsApp assigned to it."""
        if meta_length(body) > TEXT_LIMIT:
            raise ValueError(f"text body of {meta_length(body)} UTF-16 units is over WhatsApp's {TEXT_LIMIT}")
        content = {"body": body, "preview_url": False}
        return self._send_message(phone_number_id, to, "text", content, reply_to, callback_data, deadline)

    def send_interactive(
        self,
        phone_number_id: str,
        to: str,
        interactive: dict[str, Any],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
        deadline: Deadline | None = None,
    ) -> str:
        """Send reply buttons or a list (`interactive.FittedChoices.payload`); returns the wamid."""
        return self._send_message(
            phone_number_id, to, "interactive", interactive, reply_to, callback_data, deadline
        )

    def _send_message(
        self,
        phone_number_id: str,
        to: str,
        kind: str,
        content: dict[str, Any],
        reply_to: str | None,
        callback_data: str | None,
        deadline: Deadline | None,
    ) -> str:
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            **addressed(to),
            "type": kind,
            kind: content,
        }
        if reply_to:
            payload["context"] = {"message_id": reply_to}
        if callback_data:
            # Echoed back in the status webhooks: ties a status to our record even if the
            # wamid never reached our database (a crash right after sending).
            payload["biz_opaque_callback_data"] = callback_data
        answer = self._call(
            "POST", f"/{phone_number_id}/messages", json=payload, idempotent=False, deadline=deadline
        )
        try:
            return str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise ServiceUnavailable("send answered without a message id") from None

    def send_template(
        self,
        phone_number_id: str,
        to: str,
        template: TemplateMessage,
        *,
        callback_data: str | None = None,
        deadline: Deadline | None = None,
    ) -> str:
        """Send an approved template (the only kind of message allowed outside the 24-hour
        window); returns its wamid."""
        return self._send_message(
            phone_number_id, to, "template", template.payload(), None, callback_data, deadline
        )

    def list_templates(self, waba_id: str, *, page_size: int = 100) -> list[dict[str, Any]]:
        """Every template of the WhatsApp Business Account, following the pages to the last."""
        templates: list[dict[str, Any]] = []
        after: str | None = None
        for _page in range(MAX_TEMPLATE_PAGES):
            params: dict[str, Any] = {"fields": TEMPLATE_FIELDS, "limit": page_size}
            if after:
                params["after"] = after
            answer = self._call("GET", f"/{waba_id}/message_templates", params=params, idempotent=True)
            if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
                raise ServiceUnavailable("the template list answered without data")
            templates.extend(t for t in answer["data"] if isinstance(t, dict))
            paging = answer.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
            if not after:
                return templates
        raise ServiceUnavailable(f"the template list had more than {MAX_TEMPLATE_PAGES} pages")

    def mark_read(
        self, phone_number_id: str, wamid: str, *, typing: bool = False, deadline: Deadline | None = None
    ) -> None:
        """Blue ticks for `wamid` (and everything before it); with `typing`, also '...typing'."""
        payload: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
        if typing:
            payload["typing_indicator"] = {"type": "text"}
        self._call("POST", f"/{phone_number_id}/messages", json=payload, idempotent=True, deadline=deadline)

    # -- media ---------------------------------------------------------------------------------

    def media_metadata(self, media_id: str, *, deadline: Deadline | None = None) -> dict[str, Any]:
        """`GET /{media-id}`: url (valid for 5 minutes), mime_type, sha256, file_size."""
        return self._call("GET", f"/{media_id}", idempotent=True, deadline=deadline)

    def trusts_media_url(self, url: str) -> bool:
        """Whether `url` is somewhere Meta serves media (or the configured Graph API itself)."""
        return self.hosts.trusts(url)

    def open_download(self, url: str, *, deadline: Deadline | None = None) -> requests.Response:
        """Start streaming a media url (bearer token required); the caller reads and closes it.

        Raises `UntrustedAddress`, before any request, for a url or a redirect off Meta's hosts.
        """
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send("GET", url, idempotent=True, stream=True, deadline=deadline)
            if response.status_code not in _REDIRECTS:
                return response
            location = response.headers.get("Location") or ""
            response.close()
            url = urljoin(url, location)
        raise UntrustedAddress(f"more than {MAX_REDIRECTS} redirects for one media download")

    # -- plumbing ------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, idempotent: bool, deadline: Deadline | None = None, **kwargs: Any
    ) -> Any:
        response = self._send(
            method, self.base_url + path, idempotent=idempotent, stream=True, deadline=deadline, **kwargs
        )
        if response.status_code in _REDIRECTS:  # the Graph API answers, it does not send us elsewhere
            response.close()
            raise error_from_response(response.status_code, None)
        return read_json(response, MAX_ANSWER_BYTES)

    def _send(
        self, method: str, url: str, *, idempotent: bool, deadline: Deadline | None = None, **kwargs: Any
    ) -> requests.Response:
        """The first successful response; error answers that a retry can fix are retried with backoff."""
        if not self.hosts.trusts(url):
            raise UntrustedAddress(f"not a WhatsApp address: {_shown(url)}")
        for attempt in range(self.retry.attempts):
            response = self._request(method, url, idempotent=idempotent, deadline=deadline, **kwargs)
            if response.status_code < 400:
                return response
            error = error_from_response(response.status_code, read_json(response, MAX_ERROR_BYTES))
            if not error.retryable or attempt == self.retry.attempts - 1:
                raise error
            self._backoff(attempt, error, deadline)
        raise AssertionError("unreachable")


def _shown(url: str) -> str:
    """The address for a log line, without its query (media urls carry signatures there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:200]

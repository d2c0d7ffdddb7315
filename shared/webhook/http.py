"""The webhook's HTTP surface: Meta's verification handshake and signed deliveries (WAHA's on
`/webhook/waha`, in shared/webhook/waha.py).

Order matters on POST: the signature header, size, then the signature over the raw bytes, and
only then parsing and storage. An unsigned or wrongly signed request is refused before any of
its bytes are trusted, and nothing of it is stored; no refused request is read past the limit.
"""

from __future__ import annotations

import hmac
import logging
import time

import flask

from shared.clients import Clients
from shared.config import Settings
from shared.log import trace_context, trace_from_header
from shared.webhook import waha
from shared.webhook.ingest import TRANSIENT_ERRORS, ingest
from shared.webhook.respond import read_body, text
from shared.whatsapp.signature import HEADER, MissingSignature, SignatureError, verify_signature

log = logging.getLogger(__name__)

PATHS = ("/", "/webhook/whatsapp")


def handle(request: flask.Request, settings: Settings, clients: Clients) -> flask.Response:
    trace = trace_from_header(request.headers.get("X-Cloud-Trace-Context"), settings.google_cloud_project)
    with trace_context(trace):
        path = request.path.rstrip("/")
        if path == waha.PATH:
            if request.method != "POST":
                return text("method not allowed", 405)
            return waha.receive_waha_delivery(request, settings, clients)
        if path not in {p.rstrip("/") for p in PATHS}:
            return text("not found", 404)
        if request.method == "GET":
            return verify_subscription(request, settings)
        if request.method == "POST":
            return receive_delivery(request, settings, clients)
        return text("method not allowed", 405)


def verify_subscription(request: flask.Request, settings: Settings) -> flask.Response:
    """Meta's GET handshake: echo `hub.challenge` when the verify token matches."""
    args = request.args
    token = args.get("hub.verify_token", "")
    if args.get("hub.mode") == "subscribe" and hmac.compare_digest(
        token.encode(), settings.webhook_verify_token.encode()
    ):
        return text(args.get("hub.challenge", ""), 200)
    log.warning("webhook verification refused", extra={"mode": args.get("hub.mode")})
    return text("verification failed", 403)


def receive_delivery(request: flask.Request, settings: Settings, clients: Clients) -> flask.Response:
    started = time.perf_counter()
    if not request.headers.get(HEADER):
        # Unsigned: refused before a byte of the body is read.
        log.warning("webhook signature refused", extra={"reason": f"{HEADER} header is missing"})
        return text("invalid signature", MissingSignature.status)
    body = read_body(request, settings.webhook_max_body_bytes)
    if body is None:
        log.warning("webhook body over the size limit", extra={"limit": settings.webhook_max_body_bytes})
        return text(f"body larger than {settings.webhook_max_body_bytes} bytes", 413)
    try:
        verify_signature(settings.whatsapp_app_secret, body, request.headers.get(HEADER))
    except SignatureError as exc:
        log.warning("webhook signature refused", extra={"reason": str(exc)})
        return text("invalid signature", exc.status)
    try:
        report = ingest(body, settings, clients)
    except TRANSIENT_ERRORS as exc:
        # Meta redelivers on any non-200; every step is idempotent, so the retry finishes the work.
        log.error("webhook delivery not completed; asking Meta to retry", extra={"error": repr(exc)})
        return text("temporarily unavailable", 503)
    log.info(
        "webhook delivery stored",
        extra={**report.__dict__, "latency_ms": round((time.perf_counter() - started) * 1000, 1)},
    )
    return text("ok", 200)

"""`POST /webhook/waha`: WAHA's signed webhooks, stored exactly as the Cloud API's are.

The same order as for Meta: size, signature (X-Webhook-Hmac, HMAC-SHA512 of the raw body, when a
key is configured; the function does not start without one unless WAHA_ALLOW_UNSIGNED), then
parsing, then storage. A signed body that cannot be read is quarantined and answered 200, a
failure to store it 503, so WAHA's retries (when configured) finish the work.
"""

from __future__ import annotations

import logging
import time

import flask

from shared.clients import Clients
from shared.config import Settings
from shared.store.coexistence import record_echo
from shared.store.quarantine import quarantine
from shared.store.revocations import mark_revoked
from shared.webhook.ingest import TRANSIENT_ERRORS, IngestReport, store_values
from shared.webhook.respond import read_body, text
from shared.whatsapp.parse import MalformedDelivery
from shared.whatsapp.signature import MissingSignature, SignatureError
from shared.whatsapp.waha.parse import WahaDelivery, parse_waha_delivery
from shared.whatsapp.waha.signature import ALGORITHM_HEADER, HEADER, verify_signature

log = logging.getLogger(__name__)

PATH = "/webhook/waha"
# Session states an operator must act on (scan a QR code again, restart the session).
_SESSION_TROUBLE = frozenset({"FAILED", "STOPPED", "SCAN_QR_CODE"})


def warn_if_unsigned(settings: Settings) -> None:
    """Said once at start: anyone who can reach the webhook can write as any customer."""
    if settings.waha_sessions and not settings.waha_webhook_hmac_key and settings.waha_allow_unsigned:
        log.warning(
            "WAHA webhooks are accepted unsigned (WAHA_ALLOW_UNSIGNED=true): only safe on a private network",
            extra={"sessions": sorted(settings.waha_sessions)},
        )


def receive_waha_delivery(request: flask.Request, settings: Settings, clients: Clients) -> flask.Response:
    started = time.perf_counter()
    if not settings.waha_sessions:
        return text("no WAHA session is configured", 404)
    key = settings.waha_webhook_hmac_key
    if key and not request.headers.get(HEADER):
        log.warning("WAHA webhook signature refused", extra={"reason": f"{HEADER} header is missing"})
        return text("invalid signature", MissingSignature.status)
    body = read_body(request, settings.webhook_max_body_bytes)
    if body is None:
        log.warning("WAHA webhook body over the size limit", extra={"limit": settings.webhook_max_body_bytes})
        return text(f"body larger than {settings.webhook_max_body_bytes} bytes", 413)
    if key:
        try:
            verify_signature(key, body, request.headers.get(HEADER), request.headers.get(ALGORITHM_HEADER))
        except SignatureError as exc:
            log.warning("WAHA webhook signature refused", extra={"reason": str(exc)})
            return text("invalid signature", exc.status)
    try:
        report = ingest_waha(body, settings, clients)
    except TRANSIENT_ERRORS as exc:
        log.error("WAHA webhook not completed; asking WAHA to retry", extra={"error": repr(exc)})
        return text("temporarily unavailable", 503)
    log.info(
        "WAHA webhook stored",
        extra={
            **report.__dict__,
            "request_id": request.headers.get("X-Webhook-Request-Id"),
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return text("ok", 200)


def ingest_waha(body: bytes, settings: Settings, clients: Clients) -> IngestReport:
    """Store what one authenticated WAHA webhook says. Raises like `ingest` on a failure to store."""
    db = clients.firestore
    report = IngestReport()
    try:
        delivery = parse_waha_delivery(body, settings.waha_sessions)
    except MalformedDelivery as exc:
        log.warning("WAHA webhook quarantined", extra={"reason": exc.reason, "path": exc.path})
        report.quarantined.append(quarantine(db, body, reason=exc.reason, path=exc.path))
        return report
    for part in delivery.rejected:
        log.warning("WAHA event quarantined", extra={"reason": part.reason, "path": part.path})
        report.quarantined.append(quarantine(db, body, reason=part.reason, path=part.path, part=part.raw))
    if delivery.ignored:
        _log_ignored(delivery)
        report.ignored += 1
    number = delivery.value.phone_number_id
    for echo in delivery.echoes:  # the business wrote from its phone: as a Coexistence echo
        stored = record_echo(
            db,
            number,
            echo,
            pause_minutes=settings.human_reply_pause_minutes,
            retention_days=settings.retention_days,
        )
        report.echoes += int(stored)
    for revoked in delivery.revoked:
        if not mark_revoked(
            db, number, wamid=revoked.wamid, customer=revoked.customer, revoked_at=revoked.timestamp
        ):
            log.info("a revoked message is not known here", extra={"wamid": revoked.wamid})
    return store_values(body, [("payload", delivery.value)], settings, clients, report)


def _log_ignored(delivery: WahaDelivery) -> None:
    """What was left out, without its content: groups' members never wrote to the business."""
    extra = {"event": delivery.event, "session": delivery.session, "event_id": delivery.event_id}
    if delivery.ignored_chat:
        log.info(
            "WAHA message of a %s chat ignored",
            delivery.ignored_chat,
            extra={**extra, "chat": delivery.ignored_chat},
        )
    elif delivery.session_status in _SESSION_TROUBLE:
        log.error(
            "WAHA session needs an operator: %s",
            delivery.session_status,
            extra={**extra, "status": delivery.session_status},
        )
    else:
        log.info("WAHA event ignored: %s", delivery.ignored, extra=extra)

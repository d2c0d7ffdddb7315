"""A media job: download a message's media, prepare it, store it, and pass the message on.

Every outcome ends with the message settled: a file that can never be opened (too large, wrong
type, damaged, a bomb) is recorded as failed with a reason a person understands, the message
goes on `ready` and the assistant answers that it could not open it. Transient failures
(download 5xx, timeouts, storage errors) raise so Pub/Sub redelivers the job. Each delivery
counts its attempt on the message before any work starts, so a delivery that never finishes
(the instance killed at its timeout or out of memory) counts too; after `MAX_ATTEMPTS` the
medium is failed with what went wrong and the conversation flagged, still before the job would
be dead-lettered. A job older than `JOB_MAX_AGE_SECONDS` fails its message, flagged, without
being run. Every step draws its time from the job's one deadline (`MEDIA_JOB_TIMEOUT_SECONDS`
less a margin), and running out of it is a failed attempt like any other. Originals are
content-addressed in the bucket, so a redelivered job does not download again what is stored.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from shared.bucket import MediaBucket, whatsapp_sha256_to_hex
from shared.bus import Job, JobBus, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.deadline import Deadline
from shared.files.errors import MediaRejected, RejectCode
from shared.media.download import IntegrityError, download_media
from shared.media.kinds import max_bytes, noun_for
from shared.media.pipeline import MediaLimits, PreparedMedia, prepare
from shared.store import jobs
from shared.store.inbound import record_job_arrival
from shared.store.schema import CALL, InboundStatus, MediaStatus, business_number, message_ref
from shared.whatsapp.errors import AuthenticationFailed
from shared.whatsapp.provider import Provider

log = logging.getLogger(__name__)

TEXT_EXCERPT_CHARS = (
    20_000  # what the dashboard shows and the prompt may quote; the full text is in the bucket
)
# Attempts at one medium. A delivery past the last one only settles it, so MAX_ATTEMPTS + 1
# deliveries must fit in the subscription's (5 at least; tests/infra holds Terraform to it).
MAX_ATTEMPTS = 4
# Kept back from the decoder's wall-clock limit for storing what it made.
STORE_SECONDS = 30.0


def handle_media_job(received: ReceivedJob, settings: Settings, clients: Clients) -> None:
    deadline = Deadline.for_job(settings.media_job_timeout_seconds)
    job = received.job
    db = clients.firestore
    # First, whatever the job's age: the message joins its conversation and the counters (its
    # user's conversation, which the job may not have named: the rest of the job works there).
    arrived = record_job_arrival(db, job.conversation_id, job.message_id, published_at=received.published_at)
    message = arrived.message if arrived else None
    if arrived and arrived.conversation_id != job.conversation_id:
        job = Job(arrived.conversation_id, job.message_id, job.reason, job.published_at)
    extra = {"conversation_id": job.conversation_id, "message_id": job.message_id}
    ref = message_ref(db, job.conversation_id, job.message_id)
    if not message or not isinstance(message.get("media"), dict):
        log.warning("media job for an unknown message; dropped", extra=extra)
        return
    if message["media"].get("status") in (MediaStatus.READY, MediaStatus.FAILED):
        # Done by an earlier delivery that may have stopped before publishing the reply job.
        _pass_on(clients.bus, job, settings, message)
        return
    if (age := received.age_seconds()) > settings.job_max_age_seconds:
        log.error(
            "media job too old; its message is failed, not processed", extra={**extra, "age_s": round(age)}
        )
        jobs.fail_unsettled(
            db,
            job.conversation_id,
            job.message_id,
            jobs.too_old_error(age),
            media_fields={
                "media.status": MediaStatus.FAILED.value,
                "media.failure_code": "too_old",
                "media.failure_reason": f"The {_noun(message)} was not processed: its job was lost for too long",
            },
        )
        return

    attempts = jobs.count_media_attempt(db, job.conversation_id, job.message_id)
    if attempts > MAX_ATTEMPTS:
        # The earlier deliveries all started and none finished: killed at the function's
        # timeout or out of memory, with no exception to tell.
        fields = _given_up(message, None, attempts - 1, extra)
        _settle_given_up(clients, settings, job, message, fields)
        return
    try:
        provider = clients.provider(business_number(job.conversation_id))
        fields = _process(message, job.conversation_id, clients.bucket, provider, settings, deadline)
    except MediaRejected as exc:
        log.warning("media refused", extra={**extra, "reason": exc.reason, "code": exc.code})
        fields = {
            "media.status": MediaStatus.FAILED.value,
            "media.failure_reason": exc.reason,
            "media.failure_code": exc.code,
        }
    except Exception as exc:
        if isinstance(exc, AuthenticationFailed):
            log.critical("WhatsApp refused our access token; media cannot be downloaded", extra=extra)
        _record_error(ref, exc)
        if isinstance(exc, IntegrityError):
            log.warning(
                "downloaded media does not match WhatsApp's sha256",
                extra={**extra, **_mismatch(exc), "attempts": attempts},
            )
        if attempts < MAX_ATTEMPTS:
            raise
        _settle_given_up(clients, settings, job, message, _given_up(message, exc, attempts, extra))
        return
    ref.update({**fields, "status": InboundStatus.READY.value}, **CALL)
    _pass_on(clients.bus, job, settings, {**message, "status": InboundStatus.READY.value})


def _settle_given_up(
    clients: Clients, settings: Settings, job: Job, message: dict[str, Any], fields: dict[str, Any]
) -> None:
    """The medium failed on every attempt: failed, the conversation flagged for an operator (who
    may retry it), and the message answered still, so the customer hears it could not be opened."""
    db = clients.firestore
    batch = db.batch()
    batch.update(
        message_ref(db, job.conversation_id, job.message_id), {**fields, "status": InboundStatus.READY.value}
    )
    jobs.flag_conversation(batch, db, job.conversation_id)
    batch.commit(**CALL)
    _pass_on(clients.bus, job, settings, {**message, "status": InboundStatus.READY.value})


def _noun(message: dict[str, Any]) -> str:
    return noun_for(message["type"], voice=bool(message["media"].get("voice")))


def _given_up(
    message: dict[str, Any], exc: Exception | None, attempts: int, extra: dict[str, Any]
) -> dict[str, Any]:
    """The medium failed on every delivery: failed with what went wrong, so nobody retries it blindly."""
    noun = _noun(message)
    if exc is None:
        log.error("media attempts never finished; giving up", extra={**extra, "attempts": attempts})
        reason = (
            f"The {noun} could not be processed in {attempts} tries; the last one was stopped before "
            "it finished (out of time or memory)"
        )
        code = "unfinished"
    elif isinstance(exc, IntegrityError):
        log.error(
            "media sha256 mismatch on every download; giving up",
            extra={**extra, **_mismatch(exc), "attempts": attempts},
        )
        reason = (
            f"The {noun} arrived damaged: {attempts} downloads did not match the checksum (sha256) "
            "WhatsApp gave for it"
        )
        code = RejectCode.SHA256_MISMATCH.value
    else:
        log.error("media kept failing; giving up", extra={**extra, "attempts": attempts, "error": repr(exc)})
        reason = f"The {noun} could not be downloaded or processed after {attempts} tries"
        code = "unavailable"
    return {
        "media.status": MediaStatus.FAILED.value,
        "media.failure_reason": reason,
        "media.failure_code": code,
    }


def _mismatch(exc: IntegrityError) -> dict[str, Any]:
    return {"sha256_expected": exc.expected, "sha256_actual": exc.actual, "size_bytes": exc.size}


def _pass_on(bus: JobBus, job: Job, settings: Settings, message: dict[str, Any]) -> None:
    if message.get("status") == InboundStatus.READY:
        bus.publish(settings.reply_topic, Job(job.conversation_id, job.message_id, reason="media_ready"))


def _record_error(ref: Any, exc: Exception) -> None:
    """What this attempt failed with, for the operator and for the reason of a final failure."""
    ref.update({"media.last_error": repr(exc)[:500]}, **CALL)


def _process(
    message: dict[str, Any],
    conversation_id: str,
    bucket: MediaBucket,
    wa: Provider,
    settings: Settings,
    deadline: Deadline,
) -> dict[str, Any]:
    media = message["media"]
    kind = message["type"]
    voice = bool(media.get("voice"))
    with tempfile.TemporaryDirectory(prefix="media-") as tmp:
        path = Path(tmp) / "original"
        declared = str(media.get("mime_type") or "")
        # WhatsApp's sha256 names the original before it is downloaded (objects are content-addressed).
        known_hash = whatsapp_sha256_to_hex(media.get("sha256"))
        already = bucket.find(conversation_id, known_hash, deadline=deadline) if known_hash else None
        if already is not None:
            log.info("media already stored; not downloading again", extra={"gcs_uri": already.gcs_uri})
            path.write_bytes(bucket.read_bytes(already.gcs_uri, deadline=deadline))
        else:
            download_media(
                wa, media, path, cap=max_bytes(kind), noun=noun_for(kind, voice=voice), deadline=deadline
            )
        limits = MediaLimits(image_max_side=settings.image_max_side).within(deadline, keep=STORE_SECONDS)
        prepared = prepare(kind, path, declared, media.get("filename") or None, voice=voice, limits=limits)
        return _store(prepared, path, conversation_id, bucket, deadline)


def _store(
    prepared: PreparedMedia, path: Path, conversation_id: str, bucket: MediaBucket, deadline: Deadline
) -> dict[str, Any]:
    original = bucket.put(
        conversation_id, path, prepared.mime_type, prepared.original_suffix, deadline=deadline
    )
    fields: dict[str, Any] = {
        "media.status": MediaStatus.READY.value,
        "media.gcs_uri": original.gcs_uri,
        "media.size_bytes": original.size_bytes,
        "media.sha256_hex": original.sha256_hex,
        "media.real_mime_type": prepared.mime_type,
        "media.description": prepared.description,
        "media.model_source": prepared.model_source.value,
        "media.model_mime_type": prepared.model_mime_type,
        "media.duration_seconds": prepared.duration_seconds,
        "media.width": prepared.width,
        "media.height": prepared.height,
        "media.page_count": prepared.page_count,
        "media.notes": list(prepared.notes),
    }
    if prepared.derived is not None:
        derived = bucket.put(
            conversation_id,
            prepared.derived.data,
            prepared.derived.mime_type,
            prepared.derived.suffix,
            folder="derived",
            deadline=deadline,
        )
        fields |= {
            "media.derived_uri": derived.gcs_uri,
            "media.derived_mime_type": prepared.derived.mime_type,
            "media.derived_size_bytes": derived.size_bytes,
        }
    if prepared.poster is not None:
        poster = bucket.put(
            conversation_id,
            prepared.poster.data,
            prepared.poster.mime_type,
            prepared.poster.suffix,
            folder="derived",
            deadline=deadline,
        )
        fields["media.poster_uri"] = poster.gcs_uri
    if prepared.text:
        text = bucket.put(
            conversation_id,
            prepared.text.encode(),
            "text/plain; charset=utf-8",
            ".txt",
            folder="derived",
            deadline=deadline,
        )
        fields |= {
            "media.text_uri": text.gcs_uri,
            "media.text_excerpt": prepared.text[:TEXT_EXCERPT_CHARS],
            "media.text_truncated": prepared.text_truncated or len(prepared.text) > TEXT_EXCERPT_CHARS,
        }
    return fields

"""The media job's own decisions: what is retried, and what a medium that keeps failing is failed with.

The job runs in this process against the emulators and the WhatsApp simulator, one delivery at
a time, so a test can see each delivery's outcome the way Pub/Sub would.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from local.simulator import graph_api_url, start_simulator
from shared.bus import Job, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.media.download import IntegrityError
from shared.media.job import MAX_ATTEMPTS, handle_media_job
from shared.store.schema import conversation_id
from tests.support import media_samples
from tests.support.cloud import MEDIA_BUCKET, PROJECT, REPLY_TOPIC

pytestmark = pytest.mark.emulators

CONV = conversation_id("100000000000001", "15550007777")
WAMID = "wamid.PHOTO1"


@pytest.fixture
def media_services(emulators, storage_emulator, firestore_db, topics, monkeypatch) -> Iterator[dict]:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator.env["STORAGE_EMULATOR_HOST"])
    with start_simulator(access_token="token", webhook_url="http://127.0.0.1:9/unused") as simulator:
        settings = Settings.from_env(
            {
                "GOOGLE_CLOUD_PROJECT": PROJECT,
                "WHATSAPP_API_URL": graph_api_url(simulator),
                "WHATSAPP_API_TOKEN": "token",
                "MEDIA_BUCKET": MEDIA_BUCKET,
                "REPLY_TOPIC": REPLY_TOPIC,
            }
        )
        yield {
            "simulator": simulator.state,
            "db": firestore_db,
            "settings": settings,
            "clients": Clients(settings, firestore=firestore_db),
            "topics": topics,
        }


def seed_photo(db, media: dict) -> None:
    conv = db.collection("conversations").document(CONV)
    conv.set({"wa_id": "15550007777", "phone_number_id": "100000000000001"})
    conv.collection("messages").document(WAMID).set(
        {
            "wamid": WAMID,
            "direction": "inbound",
            "type": "image",
            "status": "media_pending",
            "created_at": datetime.now(UTC),
            "media": {"status": "pending", **media},
        }
    )


def deliver(services: dict) -> None:
    received = ReceivedJob(Job(CONV, WAMID), "1", datetime.now(UTC))
    handle_media_job(received, services["settings"], services["clients"])


def stored_media(services: dict) -> dict:
    return services["db"].document(f"conversations/{CONV}/messages/{WAMID}").get().to_dict()["media"]


def test_a_sha256_mismatch_is_retried_logged_as_such_and_failed_with_that_reason(
    media_services, caplog
) -> None:
    photo = media_samples.png(16, 16)
    item = media_services["simulator"].store_media(photo, "image/png")
    wrong = base64.b64encode(hashlib.sha256(b"not the photo").digest()).decode()
    seed_photo(media_services["db"], {"id": item.id, "mime_type": "image/png", "sha256": wrong})

    caplog.set_level(logging.WARNING, logger="shared.media.job")
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(IntegrityError):  # raised so Pub/Sub redelivers: a cut-off download heals
            deliver(media_services)
    deliver(media_services)  # the last delivery settles the message instead of raising

    media = stored_media(media_services)
    assert media["status"] == "failed"
    assert media["failure_code"] == "sha256_mismatch"
    assert "sha256" in media["failure_reason"] and f"{MAX_ATTEMPTS} downloads" in media["failure_reason"]
    assert "could not be downloaded" not in media["failure_reason"]
    mismatches = [r for r in caplog.records if "sha256" in r.getMessage()]
    assert len(mismatches) == MAX_ATTEMPTS + 1  # each download, then the giving up
    assert all(r.sha256_actual == hashlib.sha256(photo).hexdigest() for r in mismatches)
    assert mismatches[-1].levelno == logging.ERROR
    assert media_services["topics"].pull(REPLY_TOPIC, expect=1)  # still answered: "could not open it"


def test_a_download_that_matches_its_sha256_is_stored(media_services) -> None:
    photo = media_samples.png(16, 16)
    item = media_services["simulator"].store_media(photo, "image/png")
    seed_photo(media_services["db"], {"id": item.id, "mime_type": "image/png", "sha256": item.sha256})
    deliver(media_services)
    media = stored_media(media_services)
    assert media["status"] == "ready"
    assert media["sha256_hex"] == hashlib.sha256(photo).hexdigest()

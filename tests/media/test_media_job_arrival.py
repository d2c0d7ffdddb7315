"""The media function's first step: the job's arrival brings the message's conversation up to date.

Recorded before the job's age is even looked at, so a media job settled as too old still leaves
its message listed on the dashboard, with its job known to have arrived.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.bus import Job, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.media.job import handle_media_job
from shared.store.schema import conversation_ref, message_ref
from tests.support.cloud import MEDIA_TOPIC, PROJECT
from tests.support.seed import store_inbound


def test_a_media_job_records_its_arrival_before_anything_else_even_when_too_old(firestore_db) -> None:
    image = {"id": "media-1", "mime_type": "image/jpeg", "sha256": "abc=", "caption": "my receipt"}
    conv, wamid = store_inbound(
        firestore_db, wa_id="15550003333", kind="image", content=image, job_topic=MEDIA_TOPIC
    )
    settings = Settings.from_env({"GOOGLE_CLOUD_PROJECT": PROJECT, "JOB_MAX_AGE_SECONDS": "60"})
    published = datetime.now(UTC) - timedelta(hours=2)
    handle_media_job(
        ReceivedJob(Job(conv, wamid), "1", published), settings, Clients(settings, firestore=firestore_db)
    )

    message = message_ref(firestore_db, conv, wamid).get().to_dict()
    assert message["job"]["state"] == "published" and message["job"]["published_at"] == published
    # Too old to be processed: failed with the reason, nothing downloaded, an operator told.
    assert (message["status"], message["error"]["code"]) == ("failed", "too_old")
    assert (message["media"]["status"], message["media"]["failure_code"]) == ("failed", "too_old")
    assert "gcs_uri" not in message["media"] or message["media"]["gcs_uri"] is None
    summary = conversation_ref(firestore_db, conv).get().to_dict()
    assert (summary["message_count"], summary["last_message_preview"]) == (1, "[image] my receipt")
    assert summary["needs_attention"] is True and summary["has_failure"] is True

"""The reply function's first step: the job's arrival brings the message's conversation up to date.

The webhook writes only the message and publishes its job; the consumer records that the job
arrived and applies the message to its conversation and counters, even when it then settles the
job as too old, so the dashboard never misses a stored message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.ai_reply.job import handle_reply_job
from shared.bus import Job, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.store.schema import conversation_ref, message_ref
from tests.support.cloud import PROJECT, REPLY_TOPIC
from tests.support.seed import store_inbound


def test_a_reply_job_records_its_arrival_before_anything_else_even_when_too_old(firestore_db) -> None:
    conv, _ = store_inbound(
        firestore_db, wa_id="15550002222", text="are you open?", wamid="wamid.OLD", job_topic=REPLY_TOPIC
    )
    settings = Settings.from_env({"GOOGLE_CLOUD_PROJECT": PROJECT, "JOB_MAX_AGE_SECONDS": "60"})
    published = datetime.now(UTC) - timedelta(hours=2)
    received = ReceivedJob(Job(conv, "wamid.OLD"), "1", published)
    handle_reply_job(received, settings, Clients(settings, firestore=firestore_db))

    job = message_ref(firestore_db, conv, "wamid.OLD").get().get("job")
    assert job["state"] == "published" and job["published_at"] == published
    conv = conversation_ref(firestore_db, conv).get().to_dict()
    assert (conv["message_count"], conv["last_message_preview"]) == (1, "are you open?")
    assert "reply_lease" not in conv  # too old: no reply was attempted
    assert conv["needs_attention"] is True  # its message failed, for an operator to look at

"""Jobs on the topics: what a consumer reads back out of the CloudEvent, and what it refuses."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.bus import Job, UnusableJob, read_job


def event(payload, **message) -> dict:
    data = payload if isinstance(payload, bytes | str) else json.dumps(payload).encode()
    encoded = base64.b64encode(data.encode() if isinstance(data, str) else data).decode()
    return {"message": {"data": encoded, "messageId": "m-1", **message}}


def test_a_job_round_trips_through_its_encoding() -> None:
    job = Job("conv-1", "wamid.A", "media_ready", "2026-12-01T10:00:00+00:00")
    received = read_job(event(json.loads(job.encode())))
    assert received.job == job
    assert received.pubsub_message_id == "m-1"
    assert received.published_at == datetime(2026, 12, 1, 10, tzinfo=UTC)


def test_the_age_comes_from_the_publish_stamp_then_pub_subs_publish_time_then_the_event_time() -> None:
    now = datetime.now(UTC)
    stamped = read_job(
        event({"conversation_id": "c", "published_at": (now - timedelta(seconds=90)).isoformat()})
    )
    assert 89 <= stamped.age_seconds(now) <= 91
    from_pubsub = read_job(event({"conversation_id": "c"}, publishTime="2026-12-01T10:00:00Z"))
    assert from_pubsub.published_at == datetime(2026, 12, 1, 10, tzinfo=UTC)
    from_event = read_job(event({"conversation_id": "c"}), event_time="2026-12-01T11:00:00Z")
    assert from_event.published_at == datetime(2026, 12, 1, 11, tzinfo=UTC)


def test_unknown_fields_are_ignored_and_values_read_as_text() -> None:
    received = read_job(event({"conversation_id": "c", "message_id": 7, "future_field": True}))
    assert received.job == Job("c", "7")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (None, "no Pub/Sub message"),
        ({"message": {"data": "%%% not base64"}}, "not base64 JSON"),
        ({"message": {"data": base64.b64encode(b"[1, 2]").decode()}}, "no conversation_id"),
        ({"message": {"data": base64.b64encode(b'{"conversation_id": 3}').decode()}}, "no conversation_id"),
        ({"message": {}}, "not base64 JSON"),
    ],
)
def test_an_event_that_can_never_be_a_job_is_refused_with_the_reason(data, reason: str) -> None:
    with pytest.raises(UnusableJob, match=reason):
        read_job(data)

"""What no job will finish, an operator can: a message stuck in any unsettled state can be
retried (its job started again, attempts back at zero), and a send whose outcome is unknown is
kept as unknown and never sent a second time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from local.simulator import DEFAULT_ACCESS_TOKEN, graph_api_url
from shared.dashboard.actions import failed_message
from shared.dashboard.conversations import get_conversation
from shared.dashboard.sending import SendOutcome, resend_failed, send_operator_reply
from shared.store.inbound import record_job_arrival
from shared.store.jobs import STUCK_AFTER
from shared.store.replies import open_reply
from shared.store.schema import message_ref
from shared.whatsapp.client import RetryPolicy, WhatsAppClient
from tests.support.cloud import MEDIA_TOPIC, REPLY_TOPIC
from tests.support.seed import conversation, message, record_refused, store_inbound

WA_ID = "15550006767"


def stuck(db, conv: str, wamid: str, **fields) -> None:
    """As a message looks once its job died: unsettled, and left alone for longer than any job takes."""
    record_job_arrival(db, conv, wamid)  # the job came, and went no further
    long_ago = datetime.now(UTC) - STUCK_AFTER - timedelta(minutes=1)
    message_ref(db, conv, wamid).update({"received_at": long_ago, **fields})


def retry(operator, conv: str, wamid: str) -> str:
    response = operator.post(f"/conversations/{conv}/messages/{wamid}/retry")
    assert response.status_code == 303, response.get_data(as_text=True)[-800:]
    return response.headers["Location"]


def test_a_message_stuck_waiting_for_a_reply_that_never_came_is_retried_by_its_reply_job(
    operator, firestore_db, topics
) -> None:
    conv, wamid = store_inbound(firestore_db, wa_id=WA_ID, text="hello?", job_topic=REPLY_TOPIC)
    record = open_reply(firestore_db, conv, [{"id": wamid}], retention_days=30)
    record.ref.update({"attempts": 3})  # its job's deliveries all began, none finished
    stuck(firestore_db, conv, wamid)
    page = operator.get(f"/conversations/{conv}").get_data(as_text=True)
    assert "waiting for a reply" in page and "Retry" in page

    assert "notice=retry_queued" in retry(operator, conv, wamid)
    (job,) = topics.pull(REPLY_TOPIC, expect=1)
    assert (job["message_id"], job["reason"]) == (wamid, "retry")
    stored = message(firestore_db, conv, wamid)
    assert (stored["status"], stored.get("retry_count")) == ("ready", None)  # the same reply goes on
    assert record.ref.get().get("attempts") == 0  # with all its attempts again
    assert "notice=in_progress" in retry(operator, conv, wamid)  # a second click queues nothing
    assert topics.pull(REPLY_TOPIC, wait=0.5) == []


def test_a_photo_whose_media_job_never_finished_is_retried_by_the_media_function(
    operator, firestore_db, topics
) -> None:
    conv, wamid = store_inbound(
        firestore_db,
        wa_id=WA_ID,
        kind="image",
        content={"id": "m-1", "mime_type": "image/jpeg"},
        job_topic=MEDIA_TOPIC,
    )
    stuck(firestore_db, conv, wamid, **{"media.attempts": 4})
    assert "notice=retry_queued" in retry(operator, conv, wamid)
    (job,) = topics.pull(MEDIA_TOPIC, expect=1)
    assert (job["message_id"], job["reason"]) == (wamid, "retry")
    stored = message(firestore_db, conv, wamid)
    assert (stored["status"], stored["media"]["status"], stored["media"]["attempts"]) == (
        "received",
        "pending",
        0,
    )
    assert topics.pull(REPLY_TOPIC, wait=0.3) == []


def test_a_photo_failed_as_too_old_is_processed_again_on_retry(operator, firestore_db, topics) -> None:
    conv, wamid = store_inbound(
        firestore_db,
        wa_id=WA_ID,
        kind="image",
        content={"id": "m-2", "mime_type": "image/jpeg"},
        job_topic=MEDIA_TOPIC,
    )
    record_job_arrival(firestore_db, conv, wamid)
    message_ref(firestore_db, conv, wamid).update(
        {
            "status": "failed",
            "error": {"code": "too_old"},
            "media.status": "failed",
            "media.failure_code": "too_old",
        }
    )
    assert "notice=retry_queued" in retry(operator, conv, wamid)
    assert len(topics.pull(MEDIA_TOPIC, expect=1)) == 1
    assert message(firestore_db, conv, wamid)["media"]["status"] == "pending"


def test_a_message_waiting_only_minutes_is_not_offered_a_retry(operator, firestore_db, topics) -> None:
    conv, wamid = store_inbound(firestore_db, wa_id=WA_ID, text="just now", job_topic=REPLY_TOPIC)
    record_job_arrival(firestore_db, conv, wamid)
    page = operator.get(f"/conversations/{conv}").get_data(as_text=True)
    assert not re.search(rf"messages/{re.escape(wamid)}/retry", page)
    assert "notice=in_progress" in retry(operator, conv, wamid)
    assert topics.pull(REPLY_TOPIC, wait=0.3) == []


def an_answerless_whatsapp(simulator_server) -> WhatsAppClient:
    """The dashboard's client, with a read timeout a test can wait for."""
    return WhatsAppClient(
        graph_api_url(simulator_server),
        DEFAULT_ACCESS_TOKEN,
        timeout=(1.0, 0.3),
        retry=RetryPolicy(attempts=2),
    )


@pytest.fixture
def conv(firestore_db) -> str:
    conv_id, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Dana", text="Is anyone there?")
    return conv_id


def test_an_operator_send_whatsapp_never_answers_is_kept_unknown_and_not_sent_by_a_second_click(
    operator, firestore_db, simulator, simulator_server, conv
) -> None:
    simulator.add_faults([{"target": "send", "hang_seconds": 1.0}])
    page = operator.get(f"/conversations/{conv}").get_data(as_text=True)
    key = re.search(r'name="send_key" value="([0-9a-f]+)"', page).group(1)
    result = send_operator_reply(
        firestore_db,
        get_conversation(firestore_db, conv),
        "We open at nine",
        key=key,
        operator="operator",
        sender=an_answerless_whatsapp(simulator_server),
    )
    assert result.outcome is SendOutcome.UNKNOWN
    simulator.wait_outbox(1, 5, wa_id=WA_ID)  # WhatsApp did take it: a resend would be a duplicate

    # The same form again (the operator clicks once more): nothing is sent.
    again = operator.post(f"/conversations/{conv}/reply", {"send_key": key, "text": "We open at nine"})
    assert "notice=duplicate" in again.headers["Location"]
    assert len(simulator.outbox(WA_ID)) == 1
    kept = message(firestore_db, conv, f"unknown-{key}")
    assert (kept["status"], kept["error"]["code"], kept["wamid"]) == ("unknown", "outcome_unknown", None)
    page = operator.get(f"/conversations/{conv}").get_data(as_text=True)
    assert "may not have been delivered" in page
    assert not re.search(rf"messages/unknown-{key}/retry", page)  # no button to send it again
    assert conversation(firestore_db, conv)["needs_attention"] is True


def test_a_failed_reply_resent_without_an_answer_is_not_resent_again(
    operator, firestore_db, simulator, simulator_server, conv
) -> None:
    record_refused(
        firestore_db, conv, WA_ID, "reply-failed-9", "Your order is ready", {"code": 131000, "title": "x"}
    )
    simulator.add_faults([{"target": "send", "hang_seconds": 1.0}])
    result = resend_failed(
        firestore_db,
        get_conversation(firestore_db, conv),
        failed_message(firestore_db, conv, "reply-failed-9"),
        operator="operator",
        sender=an_answerless_whatsapp(simulator_server),
    )
    assert result.outcome is SendOutcome.UNKNOWN
    simulator.wait_outbox(1, 5, wa_id=WA_ID)
    assert "notice=not_failed" in retry(operator, conv, "reply-failed-9")
    assert len(simulator.outbox(WA_ID)) == 1
    assert message(firestore_db, conv, "unknown-reply-failed-9")["status"] == "unknown"

"""The dead-letter view: each job Pub/Sub gave up on, with the message it is about and why it
failed, and its replay (the button, and the command) with a fresh stamp and the message's
attempts back at zero."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shared.bus import Job
from shared.store.inbound import record_job_arrival
from shared.store.replies import open_reply, record_error
from shared.store.schema import message_ref
from tests.support.cloud import MEDIA_TOPIC, PROJECT, REPLY_TOPIC, ROOT
from tests.support.dead_letters import DeadLetterBox
from tests.support.query_log import child_env
from tests.support.seed import store_inbound

WA_ID = "15550004545"


@pytest.fixture
def dead(emulators, topics) -> Iterator[DeadLetterBox]:
    box = DeadLetterBox(PROJECT, [MEDIA_TOPIC, REPLY_TOPIC])
    yield box
    box.delete()


def a_question_whose_reply_job_died(db) -> tuple[str, str]:
    conv, wamid = store_inbound(
        db, wa_id=WA_ID, name="Noor", text="Do you ship to Oslo?", job_topic=REPLY_TOPIC
    )
    record_job_arrival(db, conv, wamid)
    record = open_reply(db, conv, [{"id": wamid}], retention_days=30)
    record_error(record, "Gemini answered 503 UNAVAILABLE after retries")
    return conv, wamid


def age_seconds(job: dict) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(job["published_at"])).total_seconds()


def test_the_view_lists_each_dead_letter_with_its_message_and_why_it_failed(
    operator, firestore_db, dead
) -> None:
    conv, wamid = a_question_whose_reply_job_died(firestore_db)
    letter = dead.add(REPLY_TOPIC, Job(conv, wamid))
    page = operator.get("/dead-letters").get_data(as_text=True)
    assert f'data-dead-letter="{letter}"' in page
    assert conv in page and "Do you ship to Oslo?" in page and "ready" in page
    assert "Gemini answered 503 UNAVAILABLE after retries" in page
    assert "10 deliveries" in page
    assert dead.waiting(REPLY_TOPIC), "looking must leave it where it waits"


def test_the_replay_button_publishes_the_job_again_with_a_fresh_stamp_and_removes_the_dead_letter(
    operator, firestore_db, dead, topics
) -> None:
    conv, wamid = a_question_whose_reply_job_died(firestore_db)
    record = open_reply(firestore_db, conv, [{"id": wamid}], retention_days=30)
    record.ref.update({"attempts": 3})
    letter = dead.add(REPLY_TOPIC, Job(conv, wamid))
    other = dead.add(REPLY_TOPIC, Job(conv, "wamid.not-this-one"))

    response = operator.post("/dead-letters/replay", {"message_id": letter})
    assert response.status_code == 303 and "notice=replayed" in response.headers["Location"]
    (job,) = topics.pull(REPLY_TOPIC, expect=1)
    assert (job["conversation_id"], job["message_id"], job["reason"]) == (conv, wamid, "replay")
    assert age_seconds(job) < 60  # not 4 hours: it is not taken for lost at once
    assert record.ref.get().get("attempts") == 0  # the reply gets all its attempts again
    assert [j["message_id"] for j in dead.waiting(REPLY_TOPIC)] == ["wamid.not-this-one"]
    assert other
    page = operator.get(response.headers["Location"]).get_data(as_text=True)
    assert "Published again" in page and f'data-dead-letter="{letter}"' not in page

    again = operator.post("/dead-letters/replay", {"message_id": letter})
    assert "notice=replay_gone" in again.headers["Location"]
    assert topics.pull(REPLY_TOPIC, wait=0.5) == []


def test_a_dead_letter_whose_message_was_answered_meanwhile_is_removed_without_a_job(
    operator, firestore_db, dead, topics
) -> None:
    conv, wamid = a_question_whose_reply_job_died(firestore_db)
    message_ref(firestore_db, conv, wamid).update({"status": "answered"})
    dead.add(REPLY_TOPIC, Job(conv, wamid))
    response = operator.post("/dead-letters/replay", {"all": "1"})
    assert "notice=replayed_settled" in response.headers["Location"]
    assert topics.pull(REPLY_TOPIC, wait=0.5) == [] and dead.waiting(REPLY_TOPIC) == []


def run_command(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "MEDIA_TOPIC": MEDIA_TOPIC,
        "REPLY_TOPIC": REPLY_TOPIC,
        **child_env(),
    }
    return subprocess.run(
        [sys.executable, "-m", "shared.dashboard.dead_letters", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_lists_and_replays_a_media_job_with_a_fresh_stamp(firestore_db, dead, topics) -> None:
    conv, wamid = store_inbound(
        firestore_db,
        wa_id=WA_ID,
        kind="image",
        content={"id": "m-7", "mime_type": "image/jpeg"},
        job_topic=MEDIA_TOPIC,
    )
    record_job_arrival(firestore_db, conv, wamid)
    message_ref(firestore_db, conv, wamid).update(
        {"media.attempts": 2, "media.last_error": "ServiceUnavailable()"}
    )
    letter = dead.add(MEDIA_TOPIC, Job(conv, wamid))

    listed = run_command("list")
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()
    assert line.startswith(f"{letter}\tmedia\t") and wamid in line and "ServiceUnavailable()" in line

    replayed = run_command("replay", letter)
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1" in replayed.stderr
    (job,) = topics.pull(MEDIA_TOPIC, expect=1)
    assert (job["message_id"], job["reason"]) == (wamid, "replay") and age_seconds(job) < 60
    assert message_ref(firestore_db, conv, wamid).get().get("media")["attempts"] == 0
    assert dead.waiting(MEDIA_TOPIC) == []

    gone = run_command("replay", letter)
    assert gone.returncode == 1 and "not waiting" in gone.stderr


def test_a_missing_dead_letter_subscription_is_shown_not_a_server_error(operator, emulators) -> None:
    page = operator.get("/dead-letters")
    assert page.status_code == 200
    assert "does not exist" in page.get_data(as_text=True)

"""The reply lease's transaction records the arrival of the job that asked for it.

A reply job takes the lease first thing; recording the job's arrival in that same transaction
costs the reply no round trip. It must still apply each message once, alongside the arrival
recorded by `record_job_arrival` (jobs that skip the lease, media jobs), and in every outcome.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from shared.store import stats
from shared.store.inbound import record_job_arrival
from shared.store.replies import LeaseOutcome, acquire_lease, release_lease
from shared.store.schema import conversation_ref, message_ref
from tests.support.cloud import REPLY_TOPIC
from tests.support.seed import store_inbound

CUSTOMER = "15550004444"
LEASE = timedelta(seconds=30)


def store(db, wamid: str, text: str = "hello") -> str:
    conv, _ = store_inbound(db, wa_id=CUSTOMER, name="Ana", text=text, wamid=wamid, job_topic=REPLY_TOPIC)
    return conv


def test_the_lease_starts_a_new_conversation_with_the_message_that_asked_for_it(firestore_db) -> None:
    conv = store(firestore_db, "wamid.A", "do you deliver?")
    published = datetime.now(UTC) - timedelta(milliseconds=50)
    outcome, seen = acquire_lease(firestore_db, conv, "me", LEASE, arriving="wamid.A", published_at=published)
    assert outcome is LeaseOutcome.ACQUIRED
    assert seen["wa_id"] == CUSTOMER
    summary = conversation_ref(firestore_db, conv).get().to_dict()
    assert summary["reply_lease"]["holder"] == "me"
    assert (summary["message_count"], summary["display_name"]) == (1, "Ana")
    assert summary["last_message_preview"] == "do you deliver?" and summary["created_at"] is not None
    job = message_ref(firestore_db, conv, "wamid.A").get().get("job")
    assert (job["state"], job["published_at"]) == ("published", published)
    assert stats.read_lifetime(firestore_db)["conversations"] == 1
    assert stats.read_daily_stats(firestore_db, 1)[0].messages_in == 1


def test_a_message_applied_by_the_lease_and_on_its_own_at_once_counts_once(firestore_db) -> None:
    # A reply job's lease and a second delivery of the same job, taking the batch path (it waited
    # out a debounce, say), race for each message in turn.
    conv = store(firestore_db, "wamid.FIRST")
    record_job_arrival(firestore_db, conv, "wamid.FIRST")
    for i in range(4):
        wamid = f"wamid.C{i}"
        store(firestore_db, wamid)
        with ThreadPoolExecutor(2) as pool:
            leased = pool.submit(acquire_lease, firestore_db, conv, "me", LEASE, arriving=wamid)
            alone = pool.submit(record_job_arrival, firestore_db, conv, wamid)
            assert leased.result()[0] is LeaseOutcome.ACQUIRED and alone.result() is not None
        release_lease(firestore_db, conv, "me", LEASE)
    assert conversation_ref(firestore_db, conv).get().get("message_count") == 5
    assert stats.read_daily_stats(firestore_db, 1)[0].messages_in == 5
    assert stats.read_lifetime(firestore_db)["conversations"] == 1


def test_a_busy_or_paused_lease_still_applies_the_message(firestore_db) -> None:
    conv = store(firestore_db, "wamid.A")
    assert acquire_lease(firestore_db, conv, "other", LEASE, arriving="wamid.A")[0] is LeaseOutcome.ACQUIRED
    store(firestore_db, "wamid.B", "and one more thing")
    assert acquire_lease(firestore_db, conv, "me", LEASE, arriving="wamid.B")[0] is LeaseOutcome.BUSY
    summary = conversation_ref(firestore_db, conv).get().to_dict()
    assert (summary["message_count"], summary["reply_wanted"]) == (2, True)
    assert summary["last_message_preview"] == "and one more thing"

    release_lease(firestore_db, conv, "other", LEASE)  # it goes round once more for B, then lets go
    release_lease(firestore_db, conv, "other", LEASE)
    conversation_ref(firestore_db, conv).update({"ai_paused": True})
    store(firestore_db, "wamid.C")
    assert acquire_lease(firestore_db, conv, "me", LEASE, arriving="wamid.C")[0] is LeaseOutcome.PAUSED
    summary = conversation_ref(firestore_db, conv).get().to_dict()
    assert (summary["message_count"], summary["needs_attention"]) == (3, True)


def test_a_job_for_an_unknown_message_of_an_unknown_conversation_finds_it_missing(firestore_db) -> None:
    outcome, _ = acquire_lease(firestore_db, "100000000000001_1555", "me", LEASE, arriving="wamid.NOPE")
    assert outcome is LeaseOutcome.MISSING
    assert not conversation_ref(firestore_db, "100000000000001_1555").get().exists


def test_one_job_watches_a_taken_lease_and_the_others_leave_it_to_that_one(firestore_db) -> None:
    conv = store(firestore_db, "wamid.A")
    assert acquire_lease(firestore_db, conv, "holder", LEASE, arriving="wamid.A")[0] is LeaseOutcome.ACQUIRED
    for wamid in ("wamid.B", "wamid.C"):
        store(firestore_db, wamid)
    # The first job to find it taken watches it (redelivered); the next one is acknowledged.
    assert (
        acquire_lease(firestore_db, conv, "j1", LEASE, arriving="wamid.B", waiter="pubsub-B")[0]
        is LeaseOutcome.WAIT
    )
    assert (
        acquire_lease(firestore_db, conv, "j2", LEASE, arriving="wamid.C", waiter="pubsub-C")[0]
        is LeaseOutcome.BUSY
    )
    # The watcher, delivered again while the holder still works, keeps watching.
    assert acquire_lease(firestore_db, conv, "j1b", LEASE, waiter="pubsub-B")[0] is LeaseOutcome.WAIT
    summary = conversation_ref(firestore_db, conv).get().to_dict()
    assert (summary["reply_wanted"], summary["reply_waiter"]) == (True, "pubsub-B")

    # The holder sees what was asked for and goes round again; a job asking after that watches anew.
    assert release_lease(firestore_db, conv, "holder", LEASE) is False
    assert conversation_ref(firestore_db, conv).get().get("reply_waiter") is None
    assert acquire_lease(firestore_db, conv, "j3", LEASE, waiter="pubsub-D")[0] is LeaseOutcome.WAIT
    assert release_lease(firestore_db, conv, "holder", LEASE) is False
    assert release_lease(firestore_db, conv, "holder", LEASE) is True
    # Let go: the watcher's next delivery takes the lease and answers what waits.
    assert acquire_lease(firestore_db, conv, "j1c", LEASE, waiter="pubsub-B")[0] is LeaseOutcome.ACQUIRED
    summary = conversation_ref(firestore_db, conv).get().to_dict()
    assert (summary["reply_wanted"], summary["reply_waiter"]) == (False, None)


def test_a_dead_holders_lease_passes_to_its_watcher_once_it_runs_out(firestore_db) -> None:
    import time

    conv = store(firestore_db, "wamid.A")
    short = timedelta(seconds=1)
    assert acquire_lease(firestore_db, conv, "died", short, arriving="wamid.A")[0] is LeaseOutcome.ACQUIRED
    assert acquire_lease(firestore_db, conv, "job", LEASE, waiter="pubsub-1")[0] is LeaseOutcome.WAIT
    time.sleep(1.2)  # the holder never comes back to let go
    assert acquire_lease(firestore_db, conv, "job", LEASE, waiter="pubsub-1")[0] is LeaseOutcome.ACQUIRED
    assert conversation_ref(firestore_db, conv).get().get("reply_lease")["holder"] == "job"

"""One message where one will do: the model is told to fit one WhatsApp message, and the rare
answer that does not is still split, and counted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shared.ai_reply.instruction import system_instruction
from shared.ai_reply.one_message import ONE_MESSAGE_CHARS, ONE_MESSAGE_RULE
from shared.store.stats import read_daily_stats
from tests.support.reply_jobs import reply_services, run_job, seed_ready_message


@pytest.fixture
def services(emulators, firestore_db) -> Iterator[dict]:
    yield from reply_services(firestore_db)


def test_every_system_instruction_asks_for_one_whatsapp_message() -> None:
    text = system_instruction("Answer as {business}'s bakery.", "Ana")
    assert text.startswith("Answer as Ana's bakery.")
    assert ONE_MESSAGE_RULE in text and f"{ONE_MESSAGE_CHARS:,} characters" in text
    assert "one WhatsApp message" in system_instruction("", "")  # an empty persona keeps the rules


def test_an_answer_longer_than_one_message_is_split_and_counted(services) -> None:
    db = services["db"]
    before = read_daily_stats(db, 1)[0]
    long_answer = ("This sentence is part of a very long answer. " * 200).strip()  # ~9,000 characters
    services["model"].add_faults([{"text": long_answer}])
    seed_ready_message(db)

    run_job(services)

    sent = services["simulator"].outbox()
    assert len(sent) == 3
    after = read_daily_stats(db, 1, today=datetime.now(UTC).date())[0]
    assert (
        after.replies_split - before.replies_split,
        after.reply_parts_extra - before.reply_parts_extra,
    ) == (1, 2)

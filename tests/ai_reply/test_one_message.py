"""One message where one will do: the model is told to fit one WhatsApp message, and the rare
answer that does not is still split, and counted."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.ai_reply.gemini import generation_config
from shared.ai_reply.one_message import ONE_MESSAGE_CHARS, with_one_message_rule
from shared.config import Settings
from shared.store.stats import read_daily_stats
from tests.ai_reply.test_sent_once import CONV, run_job, seed_ready_message, services  # noqa: F401


def test_every_system_instruction_ends_with_the_one_message_rule_once() -> None:
    config = generation_config(Settings(), "Answer as Ana's bakery.")
    text = str(config.system_instruction)
    assert text.startswith("Answer as Ana's bakery.")
    assert "one WhatsApp message" in text and f"{ONE_MESSAGE_CHARS:,} characters" in text
    assert with_one_message_rule(text) == text


def test_an_answer_longer_than_one_message_is_split_and_counted(services) -> None:  # noqa: F811
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

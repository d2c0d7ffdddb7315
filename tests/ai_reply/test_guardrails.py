"""Before the model is called: opt-out and opt-in, a customer's rate and token budget, a number's
spend cap. The reply job runs in this process against the emulators, the WhatsApp simulator and
the offline model; what the customer receives is read from the simulator, model calls from the
offline model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shared.bus import Job, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.store import stats, usage
from shared.store.schema import conversation_id, customer_usage_ref
from tests.support.cloud import PROJECT

NUMBER = "100000000000001"
OTHER_NUMBER = "100000000000002"
CUSTOMER = "15557654321"
CONV = conversation_id(NUMBER, CUSTOMER)


@pytest.fixture
def services(emulators, firestore_db) -> Iterator[dict]:
    from local.offline_gemini import start_offline_gemini
    from local.simulator import graph_api_url, start_simulator

    simulator = start_simulator(
        access_token="token", webhook_url="http://127.0.0.1:9/unused", status_delay_seconds=0
    )
    model = start_offline_gemini()

    def configure(**limits: str) -> None:
        settings = Settings.from_env(
            {
                "GOOGLE_CLOUD_PROJECT": PROJECT,
                "WHATSAPP_API_URL": graph_api_url(simulator),
                "WHATSAPP_API_TOKEN": "token",
                "GEMINI_BASE_URL": model.url,
                "MEDIA_BUCKET": "unused",
                **limits,
            }
        )
        state["settings"] = settings
        state["clients"] = Clients(settings, firestore=firestore_db)

    state: dict = {"simulator": simulator.state, "model": model.state, "db": firestore_db}
    state["configure"] = configure
    configure()
    yield state
    simulator.stop()
    model.stop()


def write(
    services: dict, text: str, *, conv: str = CONV, customer: str = CUSTOMER, kind: str = "text"
) -> str:
    """The customer writes `text`; its reply job runs. Returns the message id."""
    from shared.ai_reply.job import handle_reply_job

    db = services["db"]
    now = datetime.now(UTC)
    ref = db.collection("conversations").document(conv)
    if not ref.get().exists:
        ref.set({"wa_id": customer, "phone_number_id": conv.split("_")[0], "last_message_at": now})
    wamid = f"wamid.IN{len(list(ref.collection('messages').list_documents())) + 1}"
    ref.collection("messages").document(wamid).set(
        {
            "wamid": wamid,
            "direction": "inbound",
            "type": kind,
            "text": text,
            "status": "ready",
            "created_at": now,
            "received_at": now,
        }
    )
    received = ReceivedJob(Job(conv, wamid), "1", now)
    handle_reply_job(received, services["settings"], services["clients"])
    return wamid


def received(services: dict, customer: str = CUSTOMER) -> list[str]:
    return [m["text"] for m in services["simulator"].outbox(customer)]


def model_calls(services: dict) -> int:
    return len(services["model"].requests())


def message(services: dict, wamid: str, conv: str = CONV) -> dict:
    return (
        services["db"]
        .collection("conversations")
        .document(conv)
        .collection("messages")
        .document(wamid)
        .get()
        .to_dict()
    )


def conversation(services: dict, conv: str = CONV) -> dict:
    return services["db"].collection("conversations").document(conv).get().to_dict()


# -- opt-out ---------------------------------------------------------------------------------------


def test_stop_sends_one_confirmation_and_then_no_ai_reply_until_start(services) -> None:
    write(services, "Stop!")
    assert received(services) == [
        "You will not receive any more messages from us. Reply START to receive messages again."
    ]
    state = conversation(services)
    assert state["opted_out"] is True and state["opted_out_at"] and state["consent_keyword"] == "stop"

    question = write(services, "where is my order?")
    write(services, "STOP")  # a second STOP while opted out: no second confirmation
    assert len(received(services)) == 1 and model_calls(services) == 0
    assert message(services, question)["status"] == "ignored"
    assert message(services, question)["withheld"]["code"] == "opted_out"

    write(services, "start")
    assert received(services)[-1].startswith("Welcome back")
    state = conversation(services)
    assert state["opted_out"] is False and state["opted_in_at"]
    write(services, "where is my order?")
    assert model_calls(services) == 1 and len(received(services)) == 3


def test_the_confirmation_is_in_the_language_of_the_keyword(services) -> None:
    write(services, "Arrêt")
    assert received(services) == [
        "Vous ne recevrez plus de messages de notre part. Répondez DEMARRER pour les recevoir à nouveau."
    ]


def test_a_tapped_stop_promotions_button_opts_out(services) -> None:
    write(services, "Stop promotions", kind="button")
    assert conversation(services)["opted_out"] is True


def test_a_message_that_contains_stop_is_answered_by_the_model(services) -> None:
    write(services, "please don't stop my subscription")
    assert model_calls(services) == 1 and not conversation(services).get("opted_out")


def test_opted_out_customers_are_counted_while_they_stay_opted_out(services) -> None:
    write(services, "STOP")
    write(services, "stop", conv=conversation_id(NUMBER, "15550000002"), customer="15550000002")
    assert stats.read_lifetime(services["db"])["opted_out"] == 2
    write(services, "START")
    assert stats.read_lifetime(services["db"])["opted_out"] == 1


def test_a_stop_while_an_operator_paused_the_ai_is_recorded_all_the_same(services) -> None:
    db = services["db"]
    db.collection("conversations").document(CONV).set(
        {"wa_id": CUSTOMER, "phone_number_id": NUMBER, "ai_paused": True}
    )
    write(services, "STOP")
    assert conversation(services)["opted_out"] is True
    assert received(services) == []  # the operator handles the conversation


def test_a_redelivered_stop_job_sends_its_confirmation_once(services) -> None:
    from shared.ai_reply.job import handle_reply_job

    wamid = write(services, "STOP")
    # The same message's job once more, as Pub/Sub may deliver it: it is answered already.
    services["db"].collection("conversations").document(CONV).collection("messages").document(wamid).update(
        {"status": "ready"}
    )
    handle_reply_job(
        ReceivedJob(Job(CONV, wamid), "1", datetime.now(UTC)), services["settings"], services["clients"]
    )
    assert len(received(services)) == 1


# -- limits ----------------------------------------------------------------------------------------


def test_a_customer_over_the_rate_gets_one_notice_and_no_model_call(services, monkeypatch) -> None:
    # The windows are minutes on the clock: the test's six messages must fall in one, however
    # slowly a loaded machine runs them.
    frozen = datetime.now(UTC).replace(second=1, microsecond=0)

    class OneMinute(datetime):
        @classmethod
        def now(cls, tz=None):
            return frozen if tz is not None else frozen.replace(tzinfo=None)

    monkeypatch.setattr("shared.store.usage.datetime", OneMinute)
    services["configure"](LIMIT_MESSAGES_PER_MINUTE="3")
    for n in range(3):
        write(services, f"question {n}")
    assert model_calls(services) == 3

    over = write(services, "question 3")
    write(services, "question 4")
    write(services, "question 5")
    assert model_calls(services) == 3
    notices = received(services)[3:]
    assert notices == [
        "You have sent a lot of messages in a short time. Please wait a while; we will answer again later."
    ]
    assert message(services, over)["withheld"]["code"] == "messages_per_minute"
    assert conversation(services)["limited"]["code"] == "messages_per_minute"


def test_the_notice_is_in_the_customers_language(services) -> None:
    services["configure"](LIMIT_MESSAGES_PER_HOUR="1")
    write(services, "¿Dónde está mi pedido?")
    write(services, "¿Cuando llega mi pedido? Quiero saber")
    assert received(services)[-1].startswith("Has enviado muchos mensajes")


def test_a_customer_over_the_daily_token_budget_is_not_answered_by_the_model(services) -> None:
    services["configure"](LIMIT_TOKENS_PER_DAY="10")
    write(services, "first question, answered")
    assert model_calls(services) == 1
    tokens = customer_usage_ref(services["db"], CONV).get().to_dict()["tokens"]
    assert sum(tokens.values()) >= 10  # the offline model's answer counted its tokens

    write(services, "second question")
    assert model_calls(services) == 1
    assert received(services)[-1].startswith("You have sent a lot")
    assert conversation(services)["limited"]["code"] == "tokens_per_day"


def test_the_limits_hold_across_instances_because_they_live_in_firestore(services) -> None:
    services["configure"](LIMIT_MESSAGES_PER_HOUR="2")
    write(services, "one")
    services["configure"](LIMIT_MESSAGES_PER_HOUR="2")  # another instance: new clients, same database
    write(services, "two")
    write(services, "three")
    assert model_calls(services) == 2


def test_a_redelivered_job_counts_its_burst_once(services) -> None:
    db = services["db"]
    limits = usage.Limits(
        messages_per_minute=0, messages_per_hour=5, tokens_per_day=0, spend_cap_usd_per_day=0, notice=""
    )
    for _ in range(3):
        usage.count_burst(db, CONV, reply_id="reply-1", messages=2, limits=limits)
    assert customer_usage_ref(db, CONV).get().to_dict()["hour"]["messages"] == 2


def test_the_spend_cap_stops_model_calls_for_that_number_only(services) -> None:
    db = services["db"]
    services["configure"](SPEND_CAP_USD_PER_DAY="1")
    batch = db.batch()
    usage.add_model_spend(
        batch,
        db,
        conversation_id=conversation_id(OTHER_NUMBER, "15550000009"),
        phone_number_id=OTHER_NUMBER,
        spend=usage.ModelSpend(tokens=1_000_000, usd=1.25),
        shard_key="earlier",
    )
    batch.commit()

    capped_conv = conversation_id(OTHER_NUMBER, CUSTOMER)
    capped = write(services, "where is my order?", conv=capped_conv)
    write(services, "where is my order?")

    assert model_calls(services) == 1  # the uncapped number's customer only
    assert len(received(services)) == 1
    assert message(services, capped, capped_conv)["withheld"]["code"] == "spend_cap"
    state = conversation(services, capped_conv)
    assert state["needs_attention"] is True and state["limited"]["code"] == "spend_cap"
    assert not conversation(services).get("limited")


def test_the_spend_of_each_answer_is_priced_from_its_tokens(services) -> None:
    services["configure"](MODEL_INPUT_USD_PER_MILLION_TOKENS="1", MODEL_OUTPUT_USD_PER_MILLION_TOKENS="10")
    write(services, "hello")
    assert len(services["model"].requests()) == 1
    record = next(
        iter(services["db"].collection("conversations").document(CONV).collection("ai_responses").stream())
    ).to_dict()
    expected = (
        record["input_tokens"] * 1 + (record["output_tokens"] + (record["thinking_tokens"] or 0)) * 10
    ) / 1e6
    assert usage.spend_today(services["db"], NUMBER) == pytest.approx(expected)

"""The WAHA client against the simulator's WAHA mode: what it sends, retries, refuses and never
sends twice, on the real HTTP exchange (backoff sleeps recorded instead of slept)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.servers import RunningServer
from local.simulator import WhatsAppSimulator, start_simulator, waha_api_url
from local.simulator.config import DEFAULT_WAHA_API_KEY
from shared.files.errors import MediaRejected, RejectCode
from shared.media.download import download_media
from shared.whatsapp.client import RetryPolicy
from shared.whatsapp.errors import AuthenticationFailed, InvalidRequest, OutcomeUnknown, ServiceUnavailable
from shared.whatsapp.waha.client import WahaClient, sent_message_id

CUSTOMER = "15550001111"
NUMBER = "waha-default"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer[WhatsAppSimulator]]:
    running = start_simulator(status_delay_seconds=0, webhook_url=None, waha_webhook_url=None)
    yield running
    running.stop()


@pytest.fixture
def simulator(server: RunningServer[WhatsAppSimulator]) -> WhatsAppSimulator:
    server.state.reset()
    return server.state


def client(server, *, key: str = DEFAULT_WAHA_API_KEY, sleeps: list[float] | None = None, **kw) -> WahaClient:
    recorded = sleeps if sleeps is not None else []
    return WahaClient(
        waha_api_url(server),
        key,
        {"default": NUMBER},
        retry=RetryPolicy(attempts=3, initial_delay=0.01),
        sleep=recorded.append,
        **kw,
    )


def test_a_text_goes_to_the_customer_s_chat_quoting_what_it_answers(server, simulator) -> None:
    quoted = f"false_{CUSTOMER}@c.us_3EB0AAAA"
    wamid = client(server).send_text(NUMBER, CUSTOMER, "We open at 7.", reply_to=quoted)
    (sent,) = simulator.outbox(CUSTOMER)
    assert (sent["wamid"], sent["text"], sent["to"]) == (wamid, "We open at 7.", f"{CUSTOMER}@c.us")
    assert sent["request"]["session"] == "default" and sent["request"]["reply_to"] == quoted
    assert wamid.startswith(f"true_{CUSTOMER}@c.us_")


def test_a_hidden_number_is_sent_to_its_lid_chat(server, simulator) -> None:
    with pytest.raises(InvalidRequest, match="HTTP 400"):  # the simulator's users all have numbers
        client(server).send_text(NUMBER, "lid.2012345", "hi")
    (event,) = simulator.events("waha_send")
    assert event["body"]["chatId"] == "2012345@lid"


def test_seen_and_typing_then_the_send_stops_the_typing(server, simulator) -> None:
    inbound = f"false_{CUSTOMER}@c.us_3EB0BBBB"
    waha = client(server)
    waha.mark_read(NUMBER, inbound, typing=True)
    (seen,) = simulator.events("waha_seen")
    assert seen["body"] == {"session": "default", "chatId": f"{CUSTOMER}@c.us", "messageIds": [inbound]}
    assert len(simulator.events("waha_start_typing")) == 1
    waha.send_text(NUMBER, CUSTOMER, "Here you are")
    waha.send_text(NUMBER, CUSTOMER, "and a second part")
    assert len(simulator.events("waha_stop_typing")) == 1  # once, before the first part
    assert [e["kind"] for e in simulator.events() if e["kind"].startswith("waha_")][-3:] == [
        "waha_stop_typing",
        "waha_send",
        "waha_send",
    ]


def test_a_wrong_api_key_is_an_authentication_failure_never_retried(server, simulator) -> None:
    sleeps: list[float] = []
    with pytest.raises(AuthenticationFailed):
        client(server, key="wrong", sleeps=sleeps).send_text(NUMBER, CUSTOMER, "hi")
    assert sleeps == [] and simulator.outbox() == []


def test_waha_s_5xx_is_retried_with_backoff(server, simulator) -> None:
    simulator.add_faults([{"target": "waha_send", "http_status": 500, "count": 1}])
    sleeps: list[float] = []
    client(server, sleeps=sleeps).send_text(NUMBER, CUSTOMER, "hi")
    assert len(sleeps) == 1 and len(simulator.outbox()) == 1


def test_a_session_that_keeps_failing_ends_unavailable(server, simulator) -> None:
    simulator.add_faults([{"target": "waha_send", "http_status": 503, "count": 5}])
    with pytest.raises(ServiceUnavailable):
        client(server).send_text(NUMBER, CUSTOMER, "hi")


def test_a_send_that_gets_no_answer_is_outcome_unknown_and_not_repeated(server, simulator) -> None:
    simulator.add_faults([{"target": "waha_send", "hang_seconds": 1.0, "http_status": 500}])
    sleeps: list[float] = []
    with pytest.raises(OutcomeUnknown):
        client(server, sleeps=sleeps, timeout=(1.0, 0.3)).send_text(NUMBER, CUSTOMER, "hi")
    assert sleeps == []
    assert len(simulator.events("waha_send")) <= 1


def test_a_number_no_session_serves_is_refused_before_any_request(server, simulator) -> None:
    with pytest.raises(InvalidRequest, match="not a WAHA session"):
        client(server).send_text("100000000000001", CUSTOMER, "never sent")
    assert not [e for e in simulator.events() if (e.get("body") or {}).get("text") == "never sent"]


def test_sent_ids_of_each_engine() -> None:
    chat = f"{CUSTOMER}@c.us"
    assert sent_message_id({"id": f"true_{chat}_A1"}, chat) == f"true_{chat}_A1"  # GOWS
    assert sent_message_id({"id": {"_serialized": f"true_{chat}_A2"}}, chat) == f"true_{chat}_A2"  # WEBJS
    assert sent_message_id({"key": {"id": "A3", "fromMe": True}}, chat) == f"true_{chat}_A3"  # NOWEB
    with pytest.raises(ServiceUnavailable):
        sent_message_id({}, chat)


def test_interactive_messages_go_as_numbered_text(server, simulator) -> None:
    interactive = {
        "type": "button",
        "body": {"text": "Which size?"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "s", "title": "Small"}},
                {"type": "reply", "reply": {"id": "l", "title": "Large"}},
            ]
        },
    }
    client(server).send_interactive(NUMBER, CUSTOMER, interactive)
    (sent,) = simulator.outbox(CUSTOMER)
    assert sent["text"].startswith("Which size?\n\n1. Small\n2. Large")


# -- media ----------------------------------------------------------------------------------------


def user_photo(server, simulator) -> dict:
    simulator.configure({"waha_webhook_url": "http://127.0.0.1:9/unused", "webhook_retry_delays": ()})
    result = simulator.send_inbound(
        {
            "provider": "waha",
            "type": "image",
            "data_base64": base64.b64encode(PNG).decode(),
            "mime_type": "image/png",
        },
        server.url,
    )
    name = f"{result['wamid']}.png"
    return {"id": result["wamid"], "mime_type": "image/png", "url": f"{server.url}/api/files/default/{name}"}


def test_a_file_is_downloaded_from_the_waha_server_with_the_api_key(
    server, simulator, tmp_path: Path
) -> None:
    media = user_photo(server, simulator)
    got = download_media(client(server), media, tmp_path / "photo", cap=1024 * 1024, noun="photo")
    assert (tmp_path / "photo").read_bytes() == PNG and got.size_bytes == len(PNG)
    assert len(simulator.events("waha_file")) == 1


def test_a_file_anywhere_else_is_refused_before_any_request(server, simulator, tmp_path: Path) -> None:
    media = {**user_photo(server, simulator), "url": "http://169.254.169.254/api/files/default/x.png"}
    with pytest.raises(MediaRejected) as caught:
        download_media(client(server), media, tmp_path / "photo", cap=1024 * 1024, noun="photo")
    assert caught.value.code == RejectCode.UNTRUSTED_URL
    assert simulator.events("waha_file") == []


def test_a_file_waha_did_not_keep_is_refused_for_good(server, simulator, tmp_path: Path) -> None:
    for media in ({"id": "x", "url": None}, {"id": "x", "url": f"{server.url}/api/files/default/gone.png"}):
        with pytest.raises(MediaRejected) as caught:
            download_media(client(server), media, tmp_path / "photo", cap=1024, noun="photo")
        assert caught.value.code == RejectCode.DAMAGED


def test_each_business_number_is_sent_through_its_own_session(server, simulator) -> None:
    waha = WahaClient(waha_api_url(server), DEFAULT_WAHA_API_KEY, {"default": NUMBER, "sales": "waha-sales"})
    assert waha.serves("waha-sales") and not waha.serves("100000000000001")
    waha.send_text(NUMBER, CUSTOMER, "from the default session")
    with pytest.raises(InvalidRequest, match="does not exist"):  # the simulator runs `default` only
        waha.send_text("waha-sales", CUSTOMER, "from sales")
    assert [m["request"]["session"] for m in simulator.outbox(CUSTOMER)] == ["default"]

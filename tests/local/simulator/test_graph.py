"""The Graph API's messages endpoint answers like Meta: token checks, send checks, error switches, mark-read and typing."""

from __future__ import annotations

import pytest
import requests

from local.simulator import graph_api_url
from tests.support.simulator import AUTH, PHONE_ID, TOKEN, USER, send_text


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_graph_call_without_the_right_token_is_rejected_with_code_190(sim, headers):
    response = requests.post(
        f"{graph_api_url(sim)}/{PHONE_ID}/messages",
        json={"messaging_product": "whatsapp", "to": USER, "type": "text", "text": {"body": "hi"}},
        headers=headers,
        timeout=5,
    )

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == 190
    assert error["type"] == "OAuthException"
    assert requests.get(f"{sim.url}/_sim/outbox", timeout=5).json()["messages"] == []


def test_send_returns_a_wamid_and_lands_in_the_outbox(sim):
    response = send_text(sim, "Quoting you", context={"message_id": "wamid.earlier"})

    assert response.status_code == 200
    body = response.json()
    wamid = body["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": f"+{USER}", "wa_id": USER}]
    outbox = requests.get(f"{sim.url}/_sim/outbox", timeout=5).json()["messages"]
    assert [(m["wamid"], m["to"], m["text"], m["reply_to"]) for m in outbox] == [
        (wamid, f"+{USER}", "Quoting you", "wamid.earlier")
    ]
    assert send_text(sim).json()["messages"][0]["id"] != wamid


def test_any_graph_version_is_accepted(sim):
    response = requests.post(
        f"{sim.url}/v19.0/{PHONE_ID}/messages",
        json={"messaging_product": "whatsapp", "to": USER, "text": {"body": "hi"}},
        headers=AUTH,
        timeout=5,
    )

    assert response.status_code == 200


def test_text_over_4096_characters_is_refused_like_meta(sim):
    response = send_text(sim, "x" * 4097)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100
    assert "4096" in error["error_data"]["details"]
    assert send_text(sim, "y" * 4096).status_code == 200


def test_fault_switch_answers_131047_with_metas_error_body_then_recovers(sim):
    requests.post(f"{sim.url}/_sim/faults", json={"target": "send", "code": 131047, "count": 1}, timeout=5)

    failed = send_text(sim)
    recovered = send_text(sim)

    assert failed.status_code == 400
    error = failed.json()["error"]
    assert error["code"] == 131047
    assert error["type"] == "OAuthException"
    assert error["message"].startswith("(#131047)")
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert "24 hours" in error["error_data"]["details"]
    assert "fbtrace_id" in error
    assert recovered.status_code == 200
    assert len(requests.get(f"{sim.url}/_sim/outbox", timeout=5).json()["messages"]) == 1


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"code": 130429}, 400, 130429),
        ({"code": 131056, "http_status": 429}, 429, 131056),
        ({"http_status": 500}, 500, 131000),
        ({"code": 190}, 401, 190),
    ],
)
def test_send_fault_switches_pick_metas_status_and_code(sim, fault, status, code):
    requests.post(f"{sim.url}/_sim/faults", json={"target": "send", **fault}, timeout=5)

    response = send_text(sim)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_hanging_send_times_out_the_client(sim):
    requests.post(f"{sim.url}/_sim/faults", json={"target": "send", "hang_seconds": 1.0}, timeout=5)

    with pytest.raises(requests.Timeout):
        requests.post(
            f"{graph_api_url(sim)}/{PHONE_ID}/messages",
            json={"messaging_product": "whatsapp", "to": USER, "text": {"body": "slow"}},
            headers=AUTH,
            timeout=0.3,
        )


def test_mark_read_and_typing_are_recorded_and_shown_in_the_conversation(sim):
    wamid = requests.post(f"{sim.url}/_sim/inbound", json={"from": USER, "text": "hi"}, timeout=5).json()[
        "wamid"
    ]
    url = f"{graph_api_url(sim)}/{PHONE_ID}/messages"
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}

    assert requests.post(url, json=read, headers=AUTH, timeout=5).json() == {"success": True}
    typing = {**read, "typing_indicator": {"type": "text"}}
    assert requests.post(url, json=typing, headers=AUTH, timeout=5).json() == {"success": True}

    kinds = [e["kind"] for e in requests.get(f"{sim.url}/_sim/events", timeout=5).json()["events"]]
    assert kinds == ["mark_read", "typing"]
    conversation = requests.get(f"{sim.url}/_sim/conversation", params={"wa_id": USER}, timeout=5).json()
    assert conversation["typing"] is True
    assert conversation["messages"][0]["status"] == "read"

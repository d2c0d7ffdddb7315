"""The simulator holds templates, reviews them with status webhooks, enforces the window by a
clock tests move, takes template sends with their parameters, and bills every message."""

from __future__ import annotations

import requests

from local.simulator import DEFAULT_WABA_ID, graph_api_url
from tests.support.simulator import AUTH, USER, send_text, wait_until

ORDER_UPDATE = {
    "name": "order_update",
    "language": "en_US",
    "category": "UTILITY",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
        {"type": "BODY", "text": "Hello {{1}}, your order is {{2}}."},
        {
            "type": "BUTTONS",
            "buttons": [{"type": "URL", "text": "Track", "url": "https://example.com/{{1}}"}],
        },
    ],
}


def _templates_url(sim) -> str:
    return f"{graph_api_url(sim)}/{DEFAULT_WABA_ID}/message_templates"


def _send_template(sim, name: str, components: list, language: str = "en_US") -> requests.Response:
    body = {
        "messaging_product": "whatsapp",
        "to": f"+{USER}",
        "type": "template",
        "template": {"name": name, "language": {"code": language}, "components": components},
    }
    return requests.post(f"{graph_api_url(sim)}/100000000000001/messages", json=body, headers=AUTH, timeout=5)


FILLED = [
    {"type": "header", "parameters": [{"type": "text", "text": "A-17"}]},
    {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "on its way"}]},
    {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "A-17"}]},
]


def test_templates_are_created_pending_and_listed_page_by_page(sim):
    for n in range(5):
        answer = requests.post(
            _templates_url(sim), json={**ORDER_UPDATE, "name": f"t{n}"}, headers=AUTH, timeout=5
        )
        assert answer.status_code == 200 and answer.json()["status"] == "PENDING"

    names, after, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = requests.get(_templates_url(sim), params=params, headers=AUTH, timeout=5).json()
        pages += 1
        names += [t["name"] for t in page["data"]]
        if "next" not in page.get("paging", {}):
            break
        after = page["paging"]["cursors"]["after"]

    assert names == ["t0", "t1", "t2", "t3", "t4"] and pages == 3
    first = requests.get(_templates_url(sim), headers=AUTH, timeout=5).json()["data"][0]
    assert {"id", "name", "language", "category", "status", "quality_score", "components"} <= first.keys()


def test_a_review_changes_the_status_and_sends_the_status_webhook(sim, receiver):
    template = sim.state.add_template({**ORDER_UPDATE, "status": "PENDING"})

    sim.state.review_template(template["id"], "REJECTED", "INVALID_FORMAT")
    sim.state.rate_template(template["id"], "YELLOW")

    changes = [c for body in receiver.bodies() for e in body["entry"] for c in e["changes"]]
    assert [c["field"] for c in changes] == [
        "message_template_status_update",
        "message_template_quality_update",
    ]
    assert changes[0]["value"]["event"] == "REJECTED"
    assert changes[0]["value"]["message_template_name"] == "order_update"
    assert changes[0]["value"]["reason"] == "INVALID_FORMAT"
    assert changes[1]["value"]["new_quality_score"] == "YELLOW"
    assert sim.state.templates()[0]["status"] == "REJECTED"


def test_a_template_send_needs_an_approved_template_and_every_parameter(sim):
    sim.state.add_template({**ORDER_UPDATE, "status": "PENDING"})
    assert _send_template(sim, "order_update", FILLED).json()["error"]["code"] == 132001

    sim.state.review_template(sim.state.templates()[0]["id"], "APPROVED")
    assert _send_template(sim, "order_update", FILLED, language="pt_BR").json()["error"]["code"] == 132001
    assert _send_template(sim, "order_update", FILLED[:1]).json()["error"]["code"] == 132000
    sent = _send_template(sim, "order_update", FILLED)

    assert sent.status_code == 200
    (record,) = sim.state.outbox()
    assert record["type"] == "template"
    assert record["text"] == "Order A-17\nHello Ana, your order is on its way."


def test_the_window_closes_when_the_clock_moves_past_24_hours_and_templates_still_go(sim):
    sim.state.configure({"enforce_service_window": True})
    sim.state.add_template(ORDER_UPDATE)
    sim.state.send_inbound({"from": USER, "text": "hi"})
    assert send_text(sim).status_code == 200

    requests.post(f"{sim.url}/_sim/clock", json={"advance_seconds": 24 * 3600 + 1}, timeout=5)

    refused = send_text(sim)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 131047
    assert _send_template(sim, "order_update", FILLED).status_code == 200
    sim.state.send_inbound({"from": USER, "text": "back again"})
    assert send_text(sim).status_code == 200


def test_statuses_carry_what_meta_billed(sim, receiver):
    sim.state.add_template(ORDER_UPDATE)
    text_wamid = send_text(sim).json()["messages"][0]["id"]
    template_wamid = _send_template(sim, "order_update", FILLED).json()["messages"][0]["id"]

    statuses = wait_until(lambda: len(receiver.statuses()) >= 6 and receiver.statuses())
    priced = {(s["id"], s["status"]): s.get("pricing") for s in statuses}

    assert priced[(text_wamid, "sent")] == {
        "billable": True,
        "pricing_model": "PMP",
        "category": "service",
        "type": "regular",
    }
    assert priced[(template_wamid, "delivered")]["category"] == "utility"
    assert priced[(template_wamid, "read")] is None

"""The 24-hour window shown and enforced: a closed window puts the template picker in place of the
reply box, the template goes out once however often the form is sent, and shows in the thread."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from google.cloud.firestore_v1.base_query import FieldFilter

from local.simulator import DEFAULT_WABA_ID
from shared.store.schema import conversation_ref
from shared.store.templates import sync_templates
from shared.whatsapp.templates import Template
from tests.support.seed import conversation, store_inbound

WA_ID = "15550007777"
FOLLOW_UP = {
    "name": "follow_up",
    "language": "en_US",
    "category": "UTILITY",
    "components": [{"type": "BODY", "text": "Hello {{1}}, we have news about {{2}}."}],
}


@pytest.fixture
def template_id(simulator, firestore_db) -> str:
    created = simulator.add_template(FOLLOW_UP)
    sync_templates(firestore_db, DEFAULT_WABA_ID, [Template.from_graph(created)])
    return created["id"]


def _conversation(firestore_db, hours_ago: float) -> str:
    conv_id, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Eve", text="Any news?")
    conversation_ref(firestore_db, conv_id).update(
        {"last_inbound_at": datetime.now(UTC) - timedelta(hours=hours_ago)}
    )
    return conv_id


def _form_key(page: str, form_id: str) -> str:
    form = page[page.index(f'id="{form_id}"') :]
    return re.search(r'name="send_key" value="([0-9a-f]+)"', form).group(1)


def test_an_open_window_shows_when_it_closes_and_keeps_the_reply_box(
    operator, firestore_db, template_id
) -> None:
    conv_id = _conversation(firestore_db, hours_ago=2)

    page = operator.get(f"/conversations/{conv_id}").get_data(as_text=True)

    assert "Window open: closes in 21 h" in page
    assert 'id="reply-form"' in page and 'id="window-closed-note"' not in page


def test_a_closed_window_gives_the_reply_box_way_to_the_template_picker(
    operator, firestore_db, template_id
) -> None:
    conv_id = _conversation(firestore_db, hours_ago=30)

    page = operator.get(f"/conversations/{conv_id}").get_data(as_text=True)

    assert "Window closed" in page and 'id="window-closed-note"' in page
    assert 'id="reply-form"' not in page
    assert "follow_up · en_US · utility" in page and "Body {{2}}" in page


def test_a_free_form_reply_in_a_closed_window_is_refused_before_whatsapp_is_called(
    operator, firestore_db, simulator, template_id
) -> None:
    conv_id = _conversation(firestore_db, hours_ago=30)
    page = operator.get(f"/conversations/{conv_id}").get_data(as_text=True)

    response = operator.post(
        f"/conversations/{conv_id}/reply", data={"text": "hi", "send_key": _form_key(page, "template-form")}
    )

    assert "notice=window_closed" in response.headers["Location"]
    assert simulator.outbox() == []


def test_a_template_goes_out_once_and_is_recorded_with_its_category(
    operator, firestore_db, simulator, template_id
) -> None:
    conv_id = _conversation(firestore_db, hours_ago=30)
    page = operator.get(f"/conversations/{conv_id}").get_data(as_text=True)
    form = {
        "send_key": _form_key(page, "template-form"),
        "template_id": template_id,
        f"{template_id}.body_1": "Eve",
        f"{template_id}.body_2": "your order",
    }

    first = operator.post(f"/conversations/{conv_id}/template", data=form)
    second = operator.post(f"/conversations/{conv_id}/template", data=form)

    assert "notice=template_sent" in first.headers["Location"]
    assert "notice=duplicate" in second.headers["Location"]
    (sent,) = simulator.outbox()
    assert sent["type"] == "template" and sent["text"] == "Hello Eve, we have news about your order."
    messages = firestore_db.collection("conversations").document(conv_id).collection("messages")
    (recorded,) = [
        m.to_dict() for m in messages.where(filter=FieldFilter("direction", "==", "outbound")).stream()
    ]
    assert recorded["type"] == "template" and recorded["sent_by"] == "operator"
    assert recorded["template"]["category"] == "UTILITY" and recorded["template"]["name"] == "follow_up"
    assert recorded["text"] == "Hello Eve, we have news about your order."
    thread = operator.get(f"/conversations/{conv_id}").get_data(as_text=True)
    assert "template follow_up · en_US · utility" in thread


def test_a_template_with_a_value_missing_is_not_sent(operator, firestore_db, simulator, template_id) -> None:
    conv_id = _conversation(firestore_db, hours_ago=30)
    page = operator.get(f"/conversations/{conv_id}").get_data(as_text=True)

    response = operator.post(
        f"/conversations/{conv_id}/template",
        data={
            "send_key": _form_key(page, "template-form"),
            "template_id": template_id,
            f"{template_id}.body_1": "Eve",
        },
    )

    assert "notice=template_values" in response.headers["Location"]
    assert simulator.outbox() == []


def test_an_opted_out_customer_is_refused(operator, firestore_db, simulator, template_id) -> None:
    conv_id = _conversation(firestore_db, hours_ago=30)
    conversation_ref(firestore_db, conv_id).update({"opted_out": True})
    page = operator.get(f"/conversations/{conv_id}").get_data(as_text=True)

    response = operator.post(
        f"/conversations/{conv_id}/template",
        data={
            "send_key": re.search(r'name="send_key" value="([0-9a-f]+)"', page).group(1),
            "template_id": template_id,
            f"{template_id}.body_1": "Eve",
            f"{template_id}.body_2": "x",
        },
    )

    assert "notice=opted_out" in response.headers["Location"]
    assert simulator.outbox() == []


def test_the_list_filters_windows_closing_within_the_hour_and_closed_ones_waiting(
    operator, firestore_db
) -> None:
    closing = _conversation(firestore_db, hours_ago=23.5)
    store_inbound(firestore_db, wa_id="15550008888", name="Fay", text="hello?")
    waiting = f"{closing.split('_')[0]}_15550008888"
    conversation_ref(firestore_db, waiting).update(
        {"last_inbound_at": datetime.now(UTC) - timedelta(hours=40)}
    )

    closing_page = operator.get("/conversations?filter=closing").get_data(as_text=True)
    closed_page = operator.get("/conversations?filter=closed").get_data(as_text=True)

    assert closing in closing_page and waiting not in closing_page and "window closing" in closing_page
    assert waiting in closed_page and closing not in closed_page
    assert conversation(firestore_db, waiting)["awaiting_reply"] is True

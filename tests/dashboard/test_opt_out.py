"""Operators see a customer's opt-out and cannot write to them until the customer writes START."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from shared.store.consent import record_consent
from tests.support.seed import store_inbound

WA_ID = "15550007777"


@pytest.fixture
def conv(firestore_db) -> str:
    conv_id, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Olga", text="STOP")
    return conv_id


def opt(firestore_db, conv: str, *, out: bool, message_id: str) -> None:
    record_consent(
        firestore_db,
        conv,
        opted_out=out,
        message_id=message_id,
        keyword="stop" if out else "start",
        at=datetime.now(UTC),
    )


def reply_form(operator, conv_id: str) -> dict[str, str]:
    page = operator.get(f"/conversations/{conv_id}").get_data(as_text=True)
    return {"send_key": re.search(r'name="send_key" value="([0-9a-f]+)"', page).group(1)}


def test_an_operator_cannot_send_to_an_opted_out_customer_until_they_write_start(
    operator, firestore_db, simulator, conv
) -> None:
    opt(firestore_db, conv, out=True, message_id="wamid.stop")
    page = operator.get(f"/conversations/{conv}").get_data(as_text=True)
    assert 'id="opted-out"' in page and "opted out" in page
    response = operator.post(f"/conversations/{conv}/reply", {**reply_form(operator, conv), "text": "Hello?"})
    assert "notice=opted_out" in response.headers["Location"]
    assert simulator.outbox(WA_ID) == []

    opt(firestore_db, conv, out=False, message_id="wamid.start")
    response = operator.post(f"/conversations/{conv}/reply", {**reply_form(operator, conv), "text": "Hello!"})
    assert "notice=sent" in response.headers["Location"]
    assert [m["text"] for m in simulator.outbox(WA_ID)] == ["Hello!"]


def test_opted_out_customers_are_counted_on_the_overview_and_listed_by_a_filter(
    operator, firestore_db, conv
) -> None:
    store_inbound(firestore_db, wa_id="15550008888", name="Pavel", text="hi")
    opt(firestore_db, conv, out=True, message_id="wamid.stop")
    overview = operator.get("/").get_data(as_text=True)
    assert re.search(r"Opted out.*?>\s*1\s*<", overview, re.S)
    listed = operator.get("/conversations?filter=opted_out").get_data(as_text=True)
    assert "Olga" in listed and "Pavel" not in listed


def test_a_template_to_an_opted_out_customer_is_refused_until_they_write_start(
    operator, firestore_db, simulator, conv
) -> None:
    import secrets

    from local.simulator import DEFAULT_WABA_ID
    from shared.store.templates import sync_templates
    from shared.whatsapp.templates import Template

    created = simulator.add_template(
        {
            "name": "follow_up",
            "language": "en_US",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Hello {{1}}, we have news."}],
        }
    )
    sync_templates(firestore_db, DEFAULT_WABA_ID, [Template.from_graph(created)])

    def send_template() -> str:
        form = {
            "send_key": secrets.token_hex(16),
            "template_id": created["id"],
            f"{created['id']}.body_1": "Olga",
        }
        return operator.post(f"/conversations/{conv}/template", data=form).headers["Location"]

    opt(firestore_db, conv, out=True, message_id="wamid.stop")
    assert "notice=opted_out" in send_template()
    assert simulator.outbox(WA_ID) == []

    opt(firestore_db, conv, out=False, message_id="wamid.start")
    assert "notice=template_sent" in send_template()
    assert len(simulator.outbox(WA_ID)) == 1

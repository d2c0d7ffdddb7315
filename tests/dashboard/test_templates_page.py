"""The templates page lists what is stored; Sync fetches every page of the account's templates."""

from __future__ import annotations

from local.simulator import DEFAULT_WABA_ID
from shared.store.templates import list_templates
from tests.support.dashboard import Operator

BODY = [{"type": "BODY", "text": "Hi {{1}}, we are here when you need us."}]


def test_sync_fetches_every_page_from_whatsapp_and_the_page_lists_them(
    make_app, simulator, firestore_db
) -> None:
    for n in range(120):  # more than one page of the Graph API's 100
        simulator.add_template(
            {"name": f"t{n:03d}", "language": "en_US", "category": "UTILITY", "components": BODY}
        )
    operator = Operator(make_app(WHATSAPP_BUSINESS_ACCOUNT_ID=DEFAULT_WABA_ID).test_client())
    operator.login()

    response = operator.post("/templates/sync")

    assert response.status_code == 303 and "notice=synced" in response.headers["Location"]
    assert len(list_templates(firestore_db)) == 120
    assert len(simulator.events("list_templates")) == 2
    page = operator.get("/templates").get_data(as_text=True)
    assert "t000" in page and "t119" in page and "Hi {{1}}, we are here" in page


def test_without_a_business_account_sync_says_what_to_set(operator) -> None:
    response = operator.post("/templates/sync")
    assert "notice=no_waba" in response.headers["Location"]
    page = operator.get("/templates?notice=no_waba").get_data(as_text=True)
    assert "WHATSAPP_BUSINESS_ACCOUNT_ID" in page

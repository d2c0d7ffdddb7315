"""The Knowledge page: operators add, replace and remove documents; an unreadable one says why."""

from __future__ import annotations

import io

import pytest

from local.offline_gemini import start_offline_gemini
from shared.store import knowledge as store
from shared.store.schema import knowledge_passages
from tests.support import media_samples

HOURS = (
    b"# Opening hours\n\nOur Lisbon bakery opens at 07:30 on weekdays.\n\n# Delivery\n\nWe deliver in Alfama."
)


@pytest.fixture(scope="module")
def offline_model():
    with start_offline_gemini() as running:
        yield running


@pytest.fixture
def app(make_app, offline_model):
    return make_app(GEMINI_BASE_URL=offline_model.url, GEMINI_MAX_ATTEMPTS="1")


def upload(operator, data: bytes, name: str, url: str = "/knowledge", **fields: str):
    return operator.post(
        url, data={"document": (io.BytesIO(data), name), **fields}, content_type="multipart/form-data"
    )


def test_an_added_document_is_listed_with_its_passages(operator, firestore_db):
    response = upload(operator, HOURS, "hours.md")

    assert response.status_code == 303
    page = operator.get(response.headers["Location"]).get_data(as_text=True)
    assert "The document was added" in page
    assert "hours.md" in page and "2 passages" in page and "all numbers" in page
    (document,) = store.list_documents(firestore_db)
    assert document.updated_by  # the operator who added it


def test_a_document_for_one_number_is_listed_under_that_number(operator, firestore_db):
    from shared.store import business_numbers

    business_numbers.save(firestore_db, "1234567890", {"business_name": "Pastelaria Lisboa"}, operator="ops")
    assert 'value="1234567890">Pastelaria Lisboa (1234567890)' in operator.get("/knowledge").get_data(
        as_text=True
    )
    upload(operator, HOURS, "hours.md", scope="1234567890")
    upload(operator, b"Prices\n======\nA croissant is 1.20 EUR.", "prices.md")

    only = operator.get("/knowledge?scope=1234567890").get_data(as_text=True)

    assert "hours.md" in only and "prices.md" not in only and "Pastelaria Lisboa" in only
    assert [d.scope for d in store.list_documents(firestore_db, scope="1234567890")] == ["1234567890"]


def test_a_word_and_a_pdf_document_are_read_like_customers_documents(operator, firestore_db, tmp_path):
    word = media_samples.docx(tmp_path / "faq.docx", ["Returns", "Thirty days, with the receipt."])
    pdf = media_samples.pdf(["Parking:\nFree parking behind the shop."])

    assert upload(operator, word.read_bytes(), "faq.docx").status_code == 303
    assert upload(operator, pdf, "parking.pdf").status_code == 303

    assert sorted(d.title for d in store.list_documents(firestore_db)) == ["faq.docx", "parking.pdf"]


def test_an_unreadable_upload_says_why_and_stores_nothing(operator, firestore_db):
    response = upload(operator, media_samples.encrypted_pdf("secret"), "prices.pdf")

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "prices.pdf was not added: The PDF is protected by a password" in page
    assert store.list_documents(firestore_db) == []


def test_a_business_number_must_be_digits(operator, firestore_db):
    response = upload(operator, HOURS, "hours.md", scope="<script>")

    assert response.status_code == 422
    assert "digits only" in response.get_data(as_text=True) and "<script>" not in response.get_data(
        as_text=True
    )


def test_a_file_over_the_limit_is_refused_before_it_is_read(make_app, offline_model, firestore_db):
    from tests.support.dashboard import Operator

    app = make_app(GEMINI_BASE_URL=offline_model.url, KNOWLEDGE_MAX_UPLOAD_BYTES="1000")
    operator = Operator(app.test_client())
    operator.login()

    response = upload(operator, b"x" * 200_000, "big.txt")

    assert response.status_code == 303 and "knowledge_too_large" in response.headers["Location"]
    assert store.list_documents(firestore_db) == []


def test_replacing_and_removing_a_document_replace_and_remove_its_passages(operator, firestore_db):
    upload(operator, HOURS, "hours.md")
    (document,) = store.list_documents(firestore_db)

    replaced = upload(
        operator, b"# Opening hours\n\nWe open at 06:45.", "hours.md", url=f"/knowledge/{document.id}/replace"
    )

    assert replaced.status_code == 303 and "knowledge_replaced" in replaced.headers["Location"]
    texts = [s.get("text") for s in knowledge_passages(firestore_db).stream()]
    assert texts == ["We open at 06:45."]

    removed = operator.post(f"/knowledge/{document.id}/remove")

    assert removed.status_code == 303 and "knowledge_removed" in removed.headers["Location"]
    assert store.list_documents(firestore_db) == [] and list(knowledge_passages(firestore_db).stream()) == []


def test_without_gemini_access_the_page_says_so(make_app, firestore_db):
    from tests.support.dashboard import Operator

    app = make_app(GEMINI_BASE_URL=None, GEMINI_API_KEY=None)
    operator = Operator(app.test_client())
    operator.login()

    response = upload(operator, HOURS, "hours.md")

    assert response.status_code == 503
    assert "no Gemini access" in response.get_data(as_text=True)

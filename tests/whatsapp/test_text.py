import pytest
import requests

from local.simulator import DEFAULT_PHONE_NUMBER_ID, graph_api_url, start_simulator
from shared.whatsapp.client import WhatsAppClient
from shared.whatsapp.text import TEXT_LIMIT, meta_length, split_message


def test_a_short_answer_is_one_message() -> None:
    assert split_message("  Hello there!  ") == ["Hello there!"]


def test_a_long_answer_splits_between_paragraphs() -> None:
    first, second = "A" * 3000, "B" * 3000
    assert split_message(f"{first}\n\n{second}") == [first, second]


def test_a_long_paragraph_splits_between_sentences() -> None:
    sentence = "This is a sentence that ends here. "
    parts = split_message(sentence * 200)
    assert all(len(p) <= 4096 for p in parts)
    assert all(p.endswith("ends here.") for p in parts)
    assert "".join(parts).replace(" ", "") == (sentence * 200).replace(" ", "")


def test_arabic_sentences_split_on_their_own_question_mark() -> None:
    parts = split_message("هل هذا صحيح؟ " * 400, limit=100)
    assert all(p.endswith("؟") for p in parts)


def test_a_single_huge_word_is_cut_rather_than_lost() -> None:
    parts = split_message("x" * 9000)
    assert [len(p) for p in parts] == [4096, 4096, 808]


# Meta counts the limit in UTF-16 code units: an emoji (outside the BMP) counts 2.


def test_meta_length_counts_astral_characters_twice() -> None:
    assert meta_length("abc") == 3
    assert meta_length("ß€中") == 3  # inside the Basic Multilingual Plane: one unit each
    assert meta_length("😀") == 2
    assert meta_length("👍🏽") == 4  # an emoji and its skin-tone modifier, both astral
    assert meta_length("𝔸𠀀") == 4  # a mathematical letter and a CJK extension B ideograph


def test_an_answer_of_emoji_splits_by_metas_count_not_by_code_points() -> None:
    parts = split_message("😀" * 3000)  # 3,000 code points, 6,000 UTF-16 units
    assert [meta_length(p) for p in parts] == [4096, 1904]
    assert "".join(parts) == "😀" * 3000


def test_sentences_with_emoji_split_between_sentences_within_metas_limit() -> None:
    sentence = "Thanks for your order 🎉🎉🎉. "  # 27 code points, 30 UTF-16 units
    first, second = split_message(sentence * 200)
    # Counted in code points, 151 sentences would fit (4,530 units: refused by Meta); 136 do.
    assert first.count("🎉🎉🎉.") == 136 and meta_length(first) <= TEXT_LIMIT
    assert second.count("🎉🎉🎉.") == 64
    assert first.endswith("🎉🎉🎉.") and second.endswith("🎉🎉🎉.")


def test_a_cut_never_falls_inside_a_character() -> None:
    assert split_message("a😀😀b", limit=2) == ["a", "😀", "😀", "b"]
    assert split_message("a😀😀b", limit=3) == ["a😀", "😀b"]


def test_the_client_refuses_a_body_over_metas_count_before_sending() -> None:
    class NoNetwork(requests.Session):
        def request(self, *args, **kwargs):  # type: ignore[override]
            raise AssertionError("nothing may be sent")

    client = WhatsAppClient("http://127.0.0.1:9/v27.0", "token", session=NoNetwork())
    with pytest.raises(ValueError, match="4098 UTF-16 units"):
        client.send_text("1", "15550001111", "😀" * 2049)


def test_a_body_of_exactly_4096_units_of_emoji_is_accepted_by_the_simulator() -> None:
    with start_simulator(access_token="token", webhook_url="http://127.0.0.1:9/unused") as sim:
        client = WhatsAppClient(graph_api_url(sim), "token")
        assert client.send_text(DEFAULT_PHONE_NUMBER_ID, "15550001111", "😀" * 2048).startswith("wamid.")
        # and the simulator refuses one more, as Meta does
        too_long = requests.post(
            f"{graph_api_url(sim)}/{DEFAULT_PHONE_NUMBER_ID}/messages",
            json={
                "messaging_product": "whatsapp",
                "to": "15550001111",
                "type": "text",
                "text": {"body": "😀" * 2049},
            },
            headers={"Authorization": "Bearer token"},
            timeout=10,
        )
        assert too_long.status_code == 400 and too_long.json()["error"]["code"] == 100

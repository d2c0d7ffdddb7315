from shared.whatsapp.text import split_message


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

"""STOP, START and their equivalents: the whole message, any case, any accents, several languages."""

from __future__ import annotations

import pytest

from shared.ai_reply.keywords import Consent, Keywords
from shared.ai_reply.wording import Wording, guess_language, text_of
from shared.config import Settings

DEFAULTS = Keywords.from_settings(Settings())


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("STOP", "en"),
        ("  stop! ", "en"),
        ("Stop.", "en"),
        ("opt-out", "en"),
        ("Unsubscribe", "en"),
        ("Stop promotions", "en"),
        ("BAJA", "es"),
        ("no más", "es"),
        ("Arrêt", "fr"),
        ("ARRET", "fr"),
        ("stopp", "de"),
        ("Basta!", "it"),
        ("SAIR", "pt"),
    ],
)
def test_an_opt_out_word_alone_is_recognised_in_its_language(text: str, language: str) -> None:
    keyword = DEFAULTS.match(text)
    assert keyword is not None and keyword.consent is Consent.OPT_OUT and keyword.language == language


@pytest.mark.parametrize("text", ["START", "start ", "Démarrer", "ALTA", "iniciar", "Unstop"])
def test_an_opt_in_word_alone_is_recognised(text: str) -> None:
    keyword = DEFAULTS.match(text)
    assert keyword is not None and keyword.consent is Consent.OPT_IN


@pytest.mark.parametrize(
    "text", ["please stop the order", "don't stop", "stop?! why", "", "cancel", "STOPPING", "start the order"]
)
def test_a_message_that_only_contains_a_keyword_is_an_ordinary_message(text: str) -> None:
    assert DEFAULTS.match(text) is None


def test_a_configured_list_replaces_the_built_in_one_and_keeps_known_languages() -> None:
    keywords = Keywords.from_settings(
        Settings(opt_out_keywords="Halt, arrêt , NO MORE", opt_in_keywords="resume")
    )
    assert keywords.match("STOP") is None
    assert keywords.match("halt").language == "en"
    assert keywords.match("Arret").language == "fr"
    assert keywords.match("no more!").consent is Consent.OPT_OUT
    assert keywords.match("Resume").consent is Consent.OPT_IN


def test_a_word_cannot_both_opt_out_and_opt_in() -> None:
    with pytest.raises(ValueError, match="stop"):
        Keywords.from_settings(Settings(opt_out_keywords="stop", opt_in_keywords="stop,start"))


def test_the_language_of_a_notice_is_guessed_from_the_customers_words_without_the_model() -> None:
    assert guess_language(["¿Dónde está mi pedido? Quiero saber cuando llega"]) == "es"
    assert guess_language(["Wo ist meine Bestellung? Ich habe nicht"]) == "de"
    assert guess_language(["Où est ma commande, je veux savoir"]) == "fr"
    assert guess_language(["where is my order"]) == "en"
    assert guess_language(["👍", ""]) == "en"


def test_a_configured_text_replaces_the_built_in_one_in_every_language() -> None:
    assert text_of(Wording.OPT_OUT_CONFIRMATION, "es", Settings()).startswith("No recibirás")
    custom = Settings(opt_out_confirmation="Done, no more messages.")
    assert text_of(Wording.OPT_OUT_CONFIRMATION, "es", custom) == "Done, no more messages."

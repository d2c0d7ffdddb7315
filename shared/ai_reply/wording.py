"""The few messages the assistant sends without the model, in the customer's language.

Opt-out and opt-in confirmations go out in the language of the keyword the customer wrote. A
limit notice has no keyword to go by, so the customer's recent words are matched against short
lists of each language's commonest words (`guess_language`): enough to tell the six languages
below apart on a sentence or two, with no model call, and English when nothing matches. A
setting (`OPT_OUT_CONFIRMATION`, `OPT_IN_CONFIRMATION`, `LIMIT_NOTICE`) replaces the built-in
text for every language.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from shared.ai_reply.keywords import DEFAULT_LANGUAGE, normalized
from shared.config import Settings


class Wording(StrEnum):
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"
    OPT_IN_CONFIRMATION = "opt_in_confirmation"
    LIMIT_NOTICE = "limit_notice"


TEXTS: dict[Wording, dict[str, str]] = {
    Wording.OPT_OUT_CONFIRMATION: {
        "en": "You will not receive any more messages from us. Reply START to receive messages again.",
        "es": "No recibirás más mensajes nuestros. Responde ALTA para volver a recibirlos.",
        "pt": "Você não receberá mais mensagens nossas. Responda INICIAR para voltar a recebê-las.",
        "fr": "Vous ne recevrez plus de messages de notre part. Répondez DEMARRER pour les recevoir à nouveau.",
        "de": "Sie erhalten keine Nachrichten mehr von uns. Antworten Sie START, um wieder Nachrichten zu erhalten.",
        "it": "Non riceverai più messaggi da parte nostra. Rispondi INIZIA per riceverli di nuovo.",
    },
    Wording.OPT_IN_CONFIRMATION: {
        "en": "Welcome back: you will receive our messages again. Reply STOP at any time to stop them.",
        "es": "Bienvenido de nuevo: volverás a recibir nuestros mensajes. Responde BAJA para dejar de recibirlos.",
        "pt": "Bem-vindo de volta: você voltará a receber nossas mensagens. Responda SAIR para pará-las.",
        "fr": "Bon retour : vous recevrez à nouveau nos messages. Répondez ARRET pour les arrêter.",
        "de": "Willkommen zurück: Sie erhalten wieder unsere Nachrichten. Antworten Sie STOPP, um sie zu beenden.",
        "it": "Bentornato: riceverai di nuovo i nostri messaggi. Rispondi BASTA per interromperli.",
    },
    Wording.LIMIT_NOTICE: {
        "en": "You have sent a lot of messages in a short time. Please wait a while; we will answer again later.",
        "es": "Has enviado muchos mensajes en poco tiempo. Espera un poco; volveremos a responder más tarde.",
        "pt": "Você enviou muitas mensagens em pouco tempo. Aguarde um pouco; responderemos novamente mais tarde.",
        "fr": "Vous avez envoyé beaucoup de messages en peu de temps. Patientez un peu ; nous répondrons plus tard.",
        "de": "Sie haben in kurzer Zeit viele Nachrichten gesendet. Bitte warten Sie etwas; wir antworten später wieder.",
        "it": "Hai inviato molti messaggi in poco tempo. Attendi un po'; risponderemo di nuovo più tardi.",
    },
}

# A language's commonest short words; English words that are also names or brands are left out.
COMMON_WORDS: dict[str, frozenset[str]] = {
    language: frozenset(words.split(" "))
    for language, words in {
        "en": "the and is are you i my to of what how can do does this that it with for have",
        "es": "el la los las es y de que mi por para como donde cuando quiero tengo una un esta",
        "pt": "o os as e de que meu minha para como onde quando quero tenho uma um voce nao esta",
        "fr": "le la les est et de que mon ma pour comment ou quand je veux ai une un vous pas",
        "de": "der die das ist und zu ich mein meine wie wo wann habe ein eine nicht sie mit",
        "it": "il lo gli e di che mio mia per come dove quando voglio ho una un non sono della",
    }.items()
}


def guess_language(texts: Iterable[str]) -> str:
    """The language whose common words the texts use most; DEFAULT_LANGUAGE on no evidence."""
    scores = dict.fromkeys(COMMON_WORDS, 0)
    for text in texts:
        for word in normalized(text or "").split():
            for language, common in COMMON_WORDS.items():
                if word in common:
                    scores[language] += 1
    best = max(scores, key=lambda language: (scores[language], language == DEFAULT_LANGUAGE))
    return best if scores[best] > 0 else DEFAULT_LANGUAGE


def text_of(wording: Wording, language: str, settings: Settings) -> str:
    """The text to send: the setting that replaces it, or the built-in one in `language`."""
    override = {
        Wording.OPT_OUT_CONFIRMATION: settings.opt_out_confirmation,
        Wording.OPT_IN_CONFIRMATION: settings.opt_in_confirmation,
        Wording.LIMIT_NOTICE: settings.limit_notice,
    }[wording].strip()
    if override:
        return override
    texts = TEXTS[wording]
    return texts.get(language) or texts[DEFAULT_LANGUAGE]

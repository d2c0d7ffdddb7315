"""STOP, START and their equivalents: recognised on the whole message, whatever its case or accents.

A message is a keyword only when it is nothing but the keyword ("Stop", "STOP!", "opt-out",
"Arrêt"), never when it merely contains one ("don't stop the order" is a question for the
assistant). Each built-in keyword carries the language it belongs to, so the confirmation goes
out in the customer's language without asking the model. `OPT_OUT_KEYWORDS` / `OPT_IN_KEYWORDS`
replace the built-in lists (comma-separated); a custom word keeps the language of the built-in
word it equals, and is answered in `DEFAULT_LANGUAGE` otherwise.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from shared.config import Settings

DEFAULT_LANGUAGE = "en"


class Consent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


# (language, words); the first language listed wins a word two languages share. Words a customer
# often sends alone meaning something else ("cancel" an order, "end") are left out by default.
OPT_OUT_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("en", ("stop", "stop all", "stop promotions", "unsubscribe", "quit", "opt out", "optout")),
    ("es", ("baja", "parar", "detener", "no mas", "darme de baja")),
    ("pt", ("sair", "descadastrar", "cancelar inscricao", "nao quero mais")),
    ("fr", ("arret", "arreter", "desabonner", "desinscrire")),
    ("de", ("stopp", "abmelden", "abbestellen")),
    ("it", ("basta", "disiscrivi", "annulla iscrizione")),
)
OPT_IN_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("en", ("start", "unstop", "subscribe", "opt in", "optin")),
    ("es", ("alta", "empezar", "reanudar")),
    ("pt", ("iniciar", "voltar", "reativar")),
    ("fr", ("demarrer", "reprendre")),
    ("de", ("anmelden", "fortsetzen")),
    ("it", ("inizia", "riprendi")),
)


def normalized(text: str) -> str:
    """Case and accents folded, punctuation dropped, spaces collapsed: "  Arrêt ! " -> "arret"."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", bare).split())


@dataclass(frozen=True)
class Keyword:
    consent: Consent
    word: str  # normalized
    language: str


class Keywords:
    """The opt-out and opt-in words in force for one configuration."""

    def __init__(self, opt_out: dict[str, str], opt_in: dict[str, str]) -> None:
        both = set(opt_out) & set(opt_in)
        if both:
            raise ValueError(f"a word cannot both opt out and opt in: {', '.join(sorted(both))}")
        self._words = {
            **{w: Keyword(Consent.OPT_OUT, w, lang) for w, lang in opt_out.items()},
            **{w: Keyword(Consent.OPT_IN, w, lang) for w, lang in opt_in.items()},
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> Keywords:
        return cls(
            _words(settings.opt_out_keywords, OPT_OUT_WORDS),
            _words(settings.opt_in_keywords, OPT_IN_WORDS),
        )

    def match(self, text: str | None) -> Keyword | None:
        """The keyword `text` is, on its own; None for any other message."""
        return self._words.get(normalized(text or "")) if text else None


def _words(configured: str, built_in: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, str]:
    languages: dict[str, str] = {}
    for language, words in built_in:
        for word in words:
            languages.setdefault(normalized(word), language)
    if not configured.strip():
        return languages
    chosen = [normalized(w) for w in configured.split(",")]
    return {w: languages.get(w, DEFAULT_LANGUAGE) for w in chosen if w}

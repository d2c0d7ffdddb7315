"""What the offline model knows beyond echoing: embeddings that make retrieval meaningful, and
answers in the JSON envelope a request's response schema asks for.

**Embeddings** are deterministic and need no model: each content word (lower-cased, a few
suffixes and the commonest words of several languages dropped) adds ±1 to one of the vector's
dimensions, chosen by hashing the word; dimension 0 holds a constant of the same weight as all
words together. So two texts' cosine similarity is (1 + w) / 2, where w is the cosine of their
word counts: 0.5 for texts without a word in common, 1.0 for the same words, and a question
whose words a passage holds lands well above KNOWLEDGE_MIN_SIMILARITY's default of 0.6, as it
would with gemini-embedding-001.

**Envelope answers**: when a request asks for `application/json` with a schema, the answer is
a JSON object with the properties the schema declares: `text` (what the echo answer says, plus
the passages it was given: ``From hours.md › Sunday: "…"``), `sources` (the numbers of those
passages), `choices` (the items of a line ``options: a; b; c`` in the customer's last message:
buttons for up to three, a list for more) and `handoff` (when the customer asks for a person, in
any of a dozen languages). The request log's summary says which passages and choices it held.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

_WORD = re.compile(r"\w+", re.UNICODE)
_PASSAGE = re.compile(r'<passage n="(\d+)" source="([^"]*)">\n?(.*?)\n?</passage>', re.DOTALL)
_OPTIONS = re.compile(r"^\s*(?:options|choices)\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_SUFFIXES = ("ings", "ing", "edly", "ed", "es", "s")
_STOPWORD_TEXT = """a an the and or but if of to in on at by for with from as is are was were be been being do does
    did have has had i you he she it we they me my your our their this that these those what which who
    whom when where why how can could would should will shall may might must not no yes there here
    please hi hello thanks thank about any some all also just so than then too very into out up down
    der die das und oder ist sind ein eine ich du sie wir ihr zu mit von für auf nicht
    el la los las un una y o es son de del en con por para que no yo tu
    le les une et ou est sont des du en avec pour que ne pas je tu il elle nous vous
    il lo gli di da con per che non io
    o os as um uma e é de do da em com para que não eu"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Asking for a person, in the languages customers write most (the real model needs no list).
_HANDOFF = re.compile(
    r"\b(talk|speak|chat|write)\b.{0,24}\b(human|person|agent|someone|somebody|operator|representative)\b"
    r"|\b(real|actual) (person|human)\b|\bhuman\b"
    r"|\bmenschen?\b|\bmitarbeiter|\bcon una persona\b|\bhablar con\b|\bun humano\b|\basesor"
    r"|\bhumain\b|\bparler à\b|\bconseiller|\bcon un operatore\b|\bessere umano\b"
    r"|\bcom uma pessoa\b|\batendente\b|\bчеловек|\bоператор|人工|客服|真人|人間|オペレーター",
    re.IGNORECASE,
)


def content_words(text: str) -> list[str]:
    words = []
    for raw in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
        if raw in STOPWORDS or (raw.isdigit() and len(raw) < 2):
            continue
        words.append(_stem(raw))
    return words


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def embed_text(text: str, dimensions: int) -> list[float]:
    """The unit vector of `text` (see the module's docstring)."""
    if dimensions < 2:
        raise ValueError("an embedding needs at least 2 dimensions")
    vector = [0.0] * dimensions
    for word, count in Counter(content_words(text)).items():
        digest = hashlib.sha256(word.encode()).digest()
        index = 1 + int.from_bytes(digest[:4], "big") % (dimensions - 1)
        vector[index] += count if digest[4] & 1 else -count
    words_norm = math.sqrt(sum(v * v for v in vector))
    vector[0] = words_norm or 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector]


# -- envelope answers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GivenPassage:
    number: int
    source: str
    text: str


def passages_in(texts: list[str]) -> list[GivenPassage]:
    """The knowledge passages a request's text parts carry, as the reply job writes them."""
    found = []
    for text in texts:
        for number, source, body in _PASSAGE.findall(text):
            found.append(GivenPassage(int(number), source, body.strip()))
    return found


def asked_choices(last_text: str | None) -> list[str]:
    match = _OPTIONS.search(last_text or "")
    if match is None:
        return []
    return [item.strip() for item in re.split(r"[;|]", match[1]) if item.strip()]


def asks_for_person(last_text: str | None) -> bool:
    return bool(last_text and _HANDOFF.search(last_text))


def schema_properties(body: Json) -> set[str] | None:
    """The top-level properties of the response schema a request asks for, or None without one."""
    config = body.get("generationConfig") or body.get("generation_config") or {}
    mime = config.get("responseMimeType") or config.get("response_mime_type")
    schema = (
        config.get("responseJsonSchema")
        or config.get("response_json_schema")
        or config.get("responseSchema")
        or config.get("response_schema")
    )
    if mime != "application/json" or not isinstance(schema, dict):
        return None
    return set((schema.get("properties") or {}).keys())


def envelope(echo: str, properties: set[str], passages: list[GivenPassage], last_text: str | None) -> Json:
    """The JSON answer: only the properties the schema declares."""
    text = echo
    if passages:
        quoted = "; ".join(f'From {p.source}: "{_first_sentence(p.text)}"' for p in passages)
        text += f" {quoted}"
    answer: Json = {"text": text}
    if passages:
        answer["sources"] = [p.number for p in passages]
    if options := asked_choices(last_text):
        answer["choices"] = {
            "kind": "buttons" if len(options) <= 3 else "list",
            "button": "Choose",
            "options": [{"title": option} for option in options],
        }
    if asks_for_person(last_text):
        answer["handoff"] = {"reason": "The customer asked to talk to a person."}
    return {key: value for key, value in answer.items() if key in properties}


def _first_sentence(text: str, limit: int = 160) -> str:
    sentence = re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"

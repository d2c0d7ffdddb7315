"""Fitting an answer into WhatsApp text messages, measured the way Meta measures them.

Meta's 4,096-character limit on a text body is counted in UTF-16 code units, as its own SDKs
(and a browser's `maxlength`) count: a character outside the Basic Multilingual Plane (most
emoji, many CJK extension ideographs, mathematical letters) counts twice. Python's `len` counts
code points, so a reply full of emoji measured with it can be refused by the Graph API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

TEXT_LIMIT = 4096  # UTF-16 code units in one text message body

_PARAGRAPH_END = re.compile(r"(?<=\n\n)")
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？؟])(?=\s)")
_WORD_START = re.compile(r"(?=\s)")


def meta_length(text: str) -> int:
    """The length Meta checks against its limit: UTF-16 code units (astral characters count 2)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def split_message(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Parts of at most `limit` UTF-16 units, cut between paragraphs where possible, else between
    sentences, else between words; a single word longer than `limit` is cut where it must be,
    never inside a character."""
    text = text.strip()
    parts: list[str] = []
    current, current_length = "", 0
    for unit in _units(text, limit):
        length = meta_length(unit)
        if current_length + length <= limit:
            current += unit
            current_length += length
        else:
            parts.append(current)
            current, current_length = unit, length
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _units(text: str, limit: int) -> Iterator[str]:
    """The text in order, in pieces no longer than `limit`, each as large as the boundaries allow."""
    for paragraph in _PARAGRAPH_END.split(text):
        if meta_length(paragraph) <= limit:
            yield paragraph
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            if meta_length(sentence) <= limit:
                yield sentence
                continue
            for word in _WORD_START.split(sentence):
                yield from _cut(word, limit)


def _cut(word: str, limit: int) -> Iterator[str]:
    """`word` in pieces of at most `limit` UTF-16 units, each ending on a whole character."""
    piece, length = "", 0
    for char in word:
        size = 2 if ord(char) > 0xFFFF else 1
        if length + size > limit:
            yield piece
            piece, length = "", 0
        piece += char
        length += size
    if piece:
        yield piece

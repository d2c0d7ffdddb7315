"""Fitting an answer into WhatsApp text messages (at most 4,096 characters each)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from shared.whatsapp.client import TEXT_LIMIT

_PARAGRAPH_END = re.compile(r"(?<=\n\n)")
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？؟])(?=\s)")
_WORD_START = re.compile(r"(?=\s)")


def split_message(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Parts of at most `limit` characters, cut between paragraphs where possible, else between
    sentences, else between words; a single word longer than `limit` is cut where it must be."""
    text = text.strip()
    parts: list[str] = []
    current = ""
    for unit in _units(text, limit):
        if len(current) + len(unit) <= limit:
            current += unit
        else:
            parts.append(current)
            current = unit
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _units(text: str, limit: int) -> Iterator[str]:
    """The text in order, in pieces no longer than `limit`, each as large as the boundaries allow."""
    for paragraph in _PARAGRAPH_END.split(text):
        if len(paragraph) <= limit:
            yield paragraph
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            if len(sentence) <= limit:
                yield sentence
                continue
            for word in _WORD_START.split(sentence):
                yield from (word[i : i + limit] for i in range(0, len(word), limit))

"""A document's text as passages: pieces small enough to embed and to quote, each under its headings.

A passage is what retrieval finds and what the model is given, so it must make sense on its
own: it keeps the path of headings above it ("Opening hours › Holidays"), it never starts in the
middle of a sentence unless one sentence is longer than a passage, and paragraphs stay together
when they fit. Headings are Markdown's (`#` lines, or a line underlined with `===` / `---`), the
heading styles of a Word file (which the reader turns into Markdown), and short lines ending in a
colon or written in capitals, which is how plain-text and PDF price lists and FAQs mark sections.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

MAX_PASSAGE_CHARS = 1200  # about 300 tokens: well inside the embedding model's 2,048
TARGET_PASSAGE_CHARS = 800  # paragraphs are packed up to here before a new passage starts
MAX_HEADING_CHARS = 120
HEADING_SEPARATOR = " › "

_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_UNDERLINE = re.compile(r"^(=+|-+)\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+")


@dataclass(frozen=True)
class Passage:
    position: int  # 0, 1, ... in document order
    heading: str  # the headings above it, outermost first, joined by HEADING_SEPARATOR ("" if none)
    text: str

    @property
    def embedded_text(self) -> str:
        """What is embedded: the headings say what the passage is about as much as its words do."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


@dataclass(frozen=True)
class _Section:
    headings: tuple[str, ...]
    paragraphs: tuple[str, ...]


def split_passages(text: str) -> list[Passage]:
    """The passages of `text`, in order; none for a text without words."""
    passages: list[Passage] = []
    for section in _sections(text):
        heading = HEADING_SEPARATOR.join(section.headings)
        for piece in _pack(section.paragraphs):
            passages.append(Passage(len(passages), heading, piece))
    return passages


def _sections(text: str) -> Iterator[_Section]:
    headings: list[tuple[int, str]] = []  # (level, title)
    paragraphs: list[str] = []
    current: list[str] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")

    def close_paragraph() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    def close_section() -> Iterator[_Section]:
        close_paragraph()
        if paragraphs:
            yield _Section(tuple(title for _, title in headings), tuple(paragraphs))
            paragraphs.clear()

    for index, raw in enumerate(lines):
        line = " ".join(raw.split())
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        heading = _heading(line, following)
        if heading is not None:
            yield from close_section()
            level, title = heading
            while headings and headings[-1][0] >= level:
                headings.pop()
            headings.append((level, title[:MAX_HEADING_CHARS]))
        elif _UNDERLINE.match(line) and not current and not paragraphs and headings:
            continue  # the underline of the setext heading just read
        elif not any(c.isalnum() for c in line):
            close_paragraph()  # blank, or a rule of dashes or stars between parts
        else:
            current.append(line)
    yield from close_section()


def _heading(line: str, following: str) -> tuple[int, str] | None:
    """(level, title) when `line` is a heading; `following` is the next line (setext underlines)."""
    if not line:
        return None
    if match := _MARKDOWN_HEADING.match(line):
        return len(match[1]), match[2].strip("*_ ")
    if len(line) > MAX_HEADING_CHARS:
        return None
    if _UNDERLINE.match(following) and not _UNDERLINE.match(line):
        return (1 if following.startswith("=") else 2), line
    words = line.split()
    if len(words) <= 8 and line.endswith(":") and len(line) > 1:
        return 3, line[:-1].strip()
    letters = [c for c in line if c.isalpha()]
    if len(words) <= 8 and len(letters) >= 3 and all(c.isupper() for c in letters):
        return 2, line.title() if line.isascii() else line
    return None


def _pack(paragraphs: tuple[str, ...]) -> Iterator[str]:
    """Paragraphs joined up to the target size; longer ones cut between sentences, then words."""
    pending = ""
    for paragraph in paragraphs:
        for piece in _fit(paragraph):
            if pending and len(pending) + 2 + len(piece) > TARGET_PASSAGE_CHARS:
                yield pending
                pending = ""
            pending = f"{pending}\n\n{piece}" if pending else piece
    if pending:
        yield pending


def _fit(paragraph: str) -> Iterator[str]:
    if len(paragraph) <= MAX_PASSAGE_CHARS:
        yield paragraph
        return
    pending = ""
    for sentence in _SENTENCE_END.split(paragraph):
        for piece in _words_within(sentence, MAX_PASSAGE_CHARS):
            if pending and len(pending) + 1 + len(piece) > TARGET_PASSAGE_CHARS:
                yield pending
                pending = ""
            pending = f"{pending} {piece}" if pending else piece
    if pending:
        yield pending


def _words_within(sentence: str, limit: int) -> Iterator[str]:
    """A sentence cut between words into pieces of at most `limit` characters (a word longer
    than that, a URL or a table row without spaces, is cut where it must)."""
    piece = ""
    for word in sentence.split(" "):
        while len(word) > limit:
            if piece:
                yield piece
                piece = ""
            yield word[:limit]
            word = word[limit:]
        if piece and len(piece) + 1 + len(word) > limit:
            yield piece
            piece = ""
        piece = f"{piece} {word}" if piece else word
    if piece:
        yield piece

"""Per WhatsApp media kind: how many bytes we accept and which real formats we can process.

The caps follow Meta's table (reference: whatsapp.md section 8) and are also what the download
step enforces while streaming, so a file never costs more disk than its kind allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.files import formats as f
from shared.files.errors import MediaRejected, RejectCode

MiB = 1024 * 1024


class Kind(StrEnum):
    """The ``type`` of a WhatsApp media message."""

    IMAGE = "image"
    STICKER = "sticker"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"


@dataclass(frozen=True)
class KindRules:
    kind: Kind
    noun: str  # how a person calls it: "The photo is larger than 5 MB"
    max_bytes: int
    # Real (sniffed) types we know how to process; None means any type is kept (documents).
    accepted: frozenset[str] | None


RULES: dict[Kind, KindRules] = {
    Kind.IMAGE: KindRules(Kind.IMAGE, "photo", 5 * MiB, frozenset({f.JPEG, f.PNG, f.WEBP, f.GIF})),
    # Meta says 100 KB static / 500 KB animated; the value delivered by the webhook is what
    # counts, so be lenient rather than refuse a sticker a phone happily sent.
    Kind.STICKER: KindRules(Kind.STICKER, "sticker", 1 * MiB, frozenset({f.WEBP, f.PNG, f.GIF, f.JPEG})),
    Kind.AUDIO: KindRules(
        Kind.AUDIO,
        "audio",
        16 * MiB,
        frozenset(
            {f.OGG_AUDIO, f.MP3, f.AAC, f.AMR, f.AMR_WB, f.M4A, f.AUDIO_3GPP, f.AUDIO_WEBM, f.WAV, f.FLAC}
        ),
    ),
    # Only containers Gemini takes as video, because the model gets the original file.
    Kind.VIDEO: KindRules(
        Kind.VIDEO, "video", 16 * MiB, frozenset({f.MP4, f.VIDEO_3GPP, f.VIDEO_3GPP2, f.MOV, f.WEBM})
    ),
    Kind.DOCUMENT: KindRules(Kind.DOCUMENT, "document", 100 * MiB, None),
}


def parse_kind(kind: str | Kind) -> Kind:
    """The kind of a message type; an unknown one is a programming error, not the user's."""
    try:
        return Kind(kind)
    except ValueError:
        raise ValueError(f"not a media kind: {kind!r} (expected one of {[k.value for k in Kind]})") from None


def rules_for(kind: str | Kind) -> KindRules:
    return RULES[parse_kind(kind)]


def max_bytes(kind: str | Kind) -> int:
    """The byte cap the download must enforce while streaming."""
    return rules_for(kind).max_bytes


def noun_for(kind: str | Kind, *, voice: bool = False) -> str:
    return "voice note" if voice and parse_kind(kind) is Kind.AUDIO else rules_for(kind).noun


def check_size(kind: str | Kind, size_bytes: int, *, voice: bool = False) -> None:
    """Raise ``MediaRejected`` for an empty file or one above the kind's cap."""
    rules = rules_for(kind)
    noun = noun_for(kind, voice=voice)
    if size_bytes <= 0:
        raise MediaRejected(f"The {noun} is empty", RejectCode.EMPTY)
    if size_bytes > rules.max_bytes:
        cap, actual = f.format_size(rules.max_bytes), f.format_size(size_bytes)
        # "larger than 5 MB (it is 5 MB)" reads as nonsense; say the size only when it differs.
        detail = f" (it is {actual})" if actual != cap else ""
        raise MediaRejected(f"The {noun} is larger than {cap}{detail}", RejectCode.TOO_LARGE)

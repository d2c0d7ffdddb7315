"""One call from a downloaded file to everything worth storing and showing the model.

``prepare`` checks the size and the real type, then hands the file to the one module that knows
its kind, run in a child process held to a CPU, memory and time budget (``run_bounded``): no
decoder works on a customer's file in the function's own process. It returns data only; storing
is the caller's next step (``MediaBucket``), so this stays testable without a bucket and a
redelivered job can skip whatever is already stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from shared.deadline import Deadline
from shared.files import formats as f
from shared.files.documents import (
    DEFAULT_MAX_MODEL_PDF_BYTES,
    DEFAULT_MAX_PDF_PAGES,
    DEFAULT_MAX_TEXT_CHARS,
    prepare_document,
)
from shared.media.audio import prepare_audio
from shared.media.images import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, STICKER_MAX_SIDE, prepare_image
from shared.media.kinds import RULES, Kind, check_size, noun_for, parse_kind
from shared.media.sandbox import Budget, run_bounded
from shared.media.sniff import check_declared_type, read_head
from shared.media.video import DEFAULT_POSTER_MAX_SIDE, prepare_video

GiB = 1024 * 1024 * 1024
# The media function has 2 GiB for two jobs at once: each decoder gets at most half of it.
# A 40-megapixel photo needs about 0.3 s and 400 MB; a 100-page PDF's text a few seconds.
IMAGE_BUDGET = Budget(cpu_seconds=20, memory_bytes=1 * GiB, wall_seconds=60)
DOCUMENT_BUDGET = Budget(cpu_seconds=45, memory_bytes=1 * GiB, wall_seconds=90)
# CPU and memory hold for the Python child and for each ffmpeg it starts; the wall clock for
# all of them together, within the function's 300 s.
SOUND_AND_VIDEO_BUDGET = Budget(cpu_seconds=120, memory_bytes=1 * GiB, wall_seconds=200)


@dataclass(frozen=True)
class MediaLimits:
    """Every tunable of media preparation; the defaults suit a 1 GiB Cloud Function."""

    image_max_side: int = DEFAULT_MAX_SIDE
    image_max_pixels: int = DEFAULT_MAX_PIXELS
    sticker_max_side: int = STICKER_MAX_SIDE
    audio_max_seconds: float = 15 * 60
    video_max_seconds: float = 10 * 60
    poster_max_side: int = DEFAULT_POSTER_MAX_SIDE
    pdf_max_pages: int = DEFAULT_MAX_PDF_PAGES
    pdf_model_max_bytes: int = DEFAULT_MAX_MODEL_PDF_BYTES
    text_max_chars: int = DEFAULT_MAX_TEXT_CHARS
    ffmpeg_timeout_seconds: float = 120.0
    # What one decoder run may cost (a child process held to it; see shared.media.sandbox).
    image_budget: Budget = IMAGE_BUDGET
    document_budget: Budget = DOCUMENT_BUDGET
    sound_and_video_budget: Budget = SOUND_AND_VIDEO_BUDGET

    def within(self, deadline: Deadline, *, keep: float = 0.0) -> MediaLimits:
        """These limits, with every wall clock cut to what is left of the job after `keep` seconds
        (for storing the result); DeadlineExceeded when nothing is left for a decoder."""
        wall = deadline.share(float("inf"), "opening the file", keep=keep)

        def cut(budget: Budget) -> Budget:
            return replace(budget, wall_seconds=min(budget.wall_seconds, wall))

        return replace(
            self,
            ffmpeg_timeout_seconds=min(self.ffmpeg_timeout_seconds, wall),
            image_budget=cut(self.image_budget),
            document_budget=cut(self.document_budget),
            sound_and_video_budget=cut(self.sound_and_video_budget),
        )


class ModelSource(StrEnum):
    """What the model is given for this media."""

    DERIVED = "derived"  # ``PreparedMedia.derived`` (a re-encoded image, transcoded audio, a poster)
    ORIGINAL = "original"  # the stored original as is (a video, a PDF within the caps)
    TEXT = "text"  # ``PreparedMedia.text`` (Word, plain text, a PDF over the caps)
    DESCRIPTION = "description"  # only ``PreparedMedia.description``: the model cannot read it


@dataclass(frozen=True)
class Artefact:
    """Bytes to store under ``derived/``."""

    data: bytes
    mime_type: str
    suffix: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class PreparedMedia:
    kind: Kind
    mime_type: str  # the real type of the original, its content type in the bucket
    original_suffix: str
    size_bytes: int
    filename: str | None  # cleaned for display; never used to name anything
    description: str  # one line for operators and the model: "Voice note, 0:42"
    model_source: ModelSource
    derived: Artefact | None = None
    poster: Artefact | None = None
    text: str | None = None
    text_truncated: bool = False
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None
    page_count: int | None = None
    animated: bool = False
    notes: tuple[str, ...] = ()

    @property
    def model_mime_type(self) -> str | None:
        """The MIME type to give Gemini with the model's bytes, when it gets bytes."""
        if self.model_source is ModelSource.DERIVED and self.derived is not None:
            return f.model_mime(self.derived.mime_type)
        if self.model_source is ModelSource.ORIGINAL:
            return f.model_mime(self.mime_type)
        return None


def prepare(
    kind: str | Kind,
    path: Path,
    declared_mime: str | None,
    filename: str | None = None,
    *,
    voice: bool = False,
    limits: MediaLimits | None = None,
) -> PreparedMedia:
    """Check and prepare a downloaded media file; ``MediaRejected`` when it can never be used.

    Anything else raised (a timeout, a missing ffmpeg) is transient and worth a retry.
    """
    kind = parse_kind(kind)
    limits = limits or MediaLimits()
    size = path.stat().st_size
    check_size(kind, size, voice=voice)
    mime = check_declared_type(kind, declared_mime, read_head(path), path=path)
    base = _Base(kind, mime, f.suffix_for(mime), size, clean_filename(filename), voice)
    if kind in (Kind.IMAGE, Kind.STICKER):
        return _image(base, path, limits)
    if kind is Kind.AUDIO:
        return _audio(base, path, limits)
    if kind is Kind.VIDEO:
        return _video(base, path, limits)
    return _document(base, path, limits)


@dataclass(frozen=True)
class _Base:
    kind: Kind
    mime: str
    suffix: str
    size: int
    filename: str | None
    voice: bool

    @property
    def noun(self) -> str:
        return noun_for(self.kind, voice=self.voice)

    def result(self, description: str, source: ModelSource, **facts: object) -> PreparedMedia:
        return PreparedMedia(
            kind=self.kind,
            mime_type=self.mime,
            original_suffix=self.suffix,
            size_bytes=self.size,
            filename=self.filename,
            description=description,
            model_source=source,
            **facts,  # type: ignore[arg-type]
        )

    def describe(self, *details: str | None) -> str:
        head = self.noun[:1].upper() + self.noun[1:]
        if self.filename:
            head += f" “{self.filename}”"
        kept = [d for d in details if d]
        return f"{head} ({', '.join(kept)})" if kept else head


def _image(base: _Base, path: Path, limits: MediaLimits) -> PreparedMedia:
    image = run_bounded(
        prepare_image,
        path,
        max_side=limits.sticker_max_side if base.kind is Kind.STICKER else limits.image_max_side,
        max_pixels=limits.image_max_pixels,
        kind=base.kind.value,
        budget=limits.image_budget,
        noun=base.noun,
    )
    derived = Artefact(image.data, image.mime_type, f.suffix_for(image.mime_type), image.width, image.height)
    description = base.describe(
        f.describe_mime(base.mime).removeprefix("a ").removeprefix("an "),
        "animated, first frame shown" if image.animated else None,
        f"{image.source_width}x{image.source_height}",
    )
    return base.result(
        description,
        ModelSource.DERIVED,
        derived=derived,
        width=image.width,
        height=image.height,
        animated=image.animated,
    )


def _audio(base: _Base, path: Path, limits: MediaLimits) -> PreparedMedia:
    audio = run_bounded(
        prepare_audio,
        path,
        max_seconds=limits.audio_max_seconds,
        mime=base.mime,
        voice=base.voice,
        timeout=limits.ffmpeg_timeout_seconds,
        budget=limits.sound_and_video_budget,
        noun=base.noun,
    )
    derived = Artefact(audio.data, audio.mime_type, f.suffix_for(audio.mime_type))
    return base.result(
        base.describe(_clock(audio.duration_seconds)),
        ModelSource.DERIVED,
        derived=derived,
        duration_seconds=audio.duration_seconds,
    )


def _video(base: _Base, path: Path, limits: MediaLimits) -> PreparedMedia:
    video = run_bounded(
        prepare_video,
        path,
        max_seconds=limits.video_max_seconds,
        mime=base.mime,
        poster_max_side=limits.poster_max_side,
        timeout=limits.ffmpeg_timeout_seconds,
        budget=limits.sound_and_video_budget,
        noun=base.noun,
    )
    poster = Artefact(
        video.poster,
        video.poster_mime_type,
        f.suffix_for(video.poster_mime_type),
        video.poster_width,
        video.poster_height,
    )
    size_text = f"{video.width}x{video.height}" if video.width and video.height else None
    description = base.describe(
        _clock(video.duration_seconds), size_text, None if video.has_audio else "no sound"
    )
    facts: dict[str, object] = {
        "poster": poster,
        "duration_seconds": video.duration_seconds,
        "width": video.width,
        "height": video.height,
    }
    if base.size <= RULES[Kind.VIDEO].max_bytes:
        return base.result(description, ModelSource.ORIGINAL, **facts)
    # A long video sent as a document is too big to inline: the model sees one frame of it.
    note = "The video is too large for the assistant to watch; it was given one frame of it."
    return base.result(description, ModelSource.DERIVED, derived=poster, notes=(note,), **facts)


def _document(base: _Base, path: Path, limits: MediaLimits) -> PreparedMedia:
    # Photos, recordings and clips sent "as a document" (to dodge WhatsApp's compression) get
    # the same treatment as when sent the usual way.
    if base.mime in (RULES[Kind.IMAGE].accepted or ()):
        return _image(base, path, limits)
    if base.mime in (RULES[Kind.AUDIO].accepted or ()):
        return _audio(base, path, limits)
    if base.mime in (RULES[Kind.VIDEO].accepted or ()):
        return _video(base, path, limits)
    document = run_bounded(
        prepare_document,
        path,
        mime=base.mime,
        max_pdf_pages=limits.pdf_max_pages,
        max_model_pdf_bytes=limits.pdf_model_max_bytes,
        max_text_chars=limits.text_max_chars,
        budget=limits.document_budget,
        noun=base.noun,
    )
    pages = None
    if document.page_count is not None:
        pages = f"{document.page_count} page{'s' if document.page_count != 1 else ''}"
    description = base.describe(
        f.describe_mime(base.mime).removeprefix("a ").removeprefix("an "),
        pages,
        "password-protected" if document.encrypted else None,
        f.format_size(base.size),
    )
    if document.model_reads_original:
        source = ModelSource.ORIGINAL
    elif document.text:
        source = ModelSource.TEXT
    else:
        source = ModelSource.DESCRIPTION
    return base.result(
        description,
        source,
        text=document.text,
        text_truncated=document.text_truncated,
        page_count=document.page_count,
        notes=document.notes,
    )


_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_filename(filename: str | None, max_length: int = 120) -> str | None:
    """The sender's file name for display: last path part, no control or bidi characters."""
    if not filename:
        return None
    name = re.split(r"[\\/]", filename)[-1]
    name = " ".join(_UNSAFE_NAME_CHARS.sub("", name).split())
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        name = (
            (stem[: max_length - len(ext) - 2] + "…" + dot + ext)
            if dot and len(ext) <= 8
            else name[:max_length]
        )
    return name or None


def _clock(seconds: float) -> str:
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

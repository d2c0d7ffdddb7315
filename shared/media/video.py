"""Videos: checked for length, and given a poster frame for the dashboard.

The model gets the original file (WhatsApp videos are MP4/3GP, which Gemini takes as is), so
the only derived artefact is a JPEG poster. ffmpeg reads the video from disk and hands back one
small decoded frame; the video itself never enters Python memory.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from shared.files import formats as f
from shared.files.errors import MediaRejected, RejectCode
from shared.media import ffmpeg
from shared.media.images import encode_jpeg
from shared.media.sniff import read_head, sniff

DEFAULT_POSTER_MAX_SIDE = 1280
POSTER_AT_SECONDS = 0.5  # past the black or faded-in first frame of many phone videos
DURATION_TOLERANCE_SECONDS = 0.5


@dataclass(frozen=True)
class PreparedVideo:
    poster: bytes
    poster_mime_type: str
    poster_width: int
    poster_height: int
    duration_seconds: float
    width: int | None  # as displayed, i.e. after the rotation phones record in metadata
    height: int | None
    video_codec: str
    has_audio: bool


def prepare_video(
    path: Path,
    *,
    max_seconds: float,
    mime: str | None = None,
    poster_max_side: int = DEFAULT_POSTER_MAX_SIDE,
    timeout: float = ffmpeg.DEFAULT_TIMEOUT_SECONDS,
) -> PreparedVideo:
    """Check the video's length and extract a poster frame; ``MediaRejected`` when unusable."""
    mime = mime or sniff(read_head(path)) or f.OCTET_STREAM
    info = ffmpeg.probe(path, mime)
    stream = info.video
    if stream is None:
        raise MediaRejected("The video has no picture in it", RejectCode.NO_PICTURE)
    header = info.duration_seconds
    if header is not None and header > max_seconds + DURATION_TOLERANCE_SECONDS:
        raise _too_long(max_seconds, header)
    # The header is the sender's word, and the model is given the file: what counts is how long
    # its packets run. Reading them copies, decodes nothing, and stops just past the cap.
    stop_at = max_seconds + DURATION_TOLERANCE_SECONDS + 1
    measured = _packet_duration(path, mime, stop_at, timeout)
    if measured > max_seconds + DURATION_TOLERANCE_SECONDS:
        raise _too_long(max_seconds, None)
    duration = header if header is not None and measured <= header + DURATION_TOLERANCE_SECONDS else measured
    poster, poster_size = _poster(path, mime, duration, poster_max_side, timeout)
    width, height = stream.width, stream.height
    if stream.rotation in (90, 270) and width and height:
        width, height = height, width
    return PreparedVideo(
        poster=poster,
        poster_mime_type=f.JPEG,
        poster_width=poster_size[0],
        poster_height=poster_size[1],
        duration_seconds=round(duration, 3),
        width=width,
        height=height,
        video_codec=stream.codec,
        has_audio=info.audio is not None,
    )


def _too_long(max_seconds: float, seconds: float | None) -> MediaRejected:
    actual = f" (it is {f.format_duration(seconds)})" if seconds is not None else ""
    return MediaRejected(
        f"The video is longer than {f.format_duration(max_seconds)}{actual}", RejectCode.TOO_LONG
    )


def _packet_duration(path: Path, mime: str, stop_at: float, timeout: float) -> float:
    """How long the picture and sound packets run, read no further than ``stop_at`` seconds.

    Every sample counts, also those an edit list hides: a player (or the model) that ignores
    the edit list would play them.
    """
    result = ffmpeg.run(
        [
            *ffmpeg.input_args(path, mime, every_sample=True),
            *("-map", "0:v:0", "-map", "0:a?", "-c", "copy", "-t", f"{stop_at:.3f}"),
            *("-f", "null", "-progress", "pipe:1", "-nostats", "-"),
        ],
        timeout=timeout,
    )
    ffmpeg.check_exit(result)
    seconds = ffmpeg.parse_progress_seconds(result.stdout.decode("ascii", "replace"))
    if seconds is None:
        raise ffmpeg.damaged(result.stderr.decode("utf-8", "replace"))
    return seconds


def _poster(
    path: Path, mime: str, duration: float, max_side: int, timeout: float
) -> tuple[bytes, tuple[int, int]]:
    from PIL import Image

    # A clip shorter than the usual offset gets its first frame instead.
    offsets = [POSTER_AT_SECONDS, 0.0] if duration > POSTER_AT_SECONDS * 2 else [0.0]
    stderr = ""
    for offset in offsets:
        result = ffmpeg.run(
            [
                # Input-side seek: jump to the key frame before the offset, decode only from there.
                *("-ss", f"{offset:.3f}"),
                *ffmpeg.input_args(path, mime),
                *("-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn"),
                # Bound the long side without enlarging; rotation is applied before the filter.
                *(
                    "-vf",
                    f"scale=w='min(iw,{max_side})':h='min(ih,{max_side})':force_original_aspect_ratio=decrease",
                ),
                # An uncompressed frame through the pipe; Pillow makes the metadata-free JPEG.
                *("-f", "image2pipe", "-c:v", "ppm", "pipe:1"),
            ],
            timeout=timeout,
        )
        ffmpeg.check_exit(result)
        stderr = result.stderr.decode("utf-8", "replace")
        if result.stdout:
            with Image.open(io.BytesIO(result.stdout), formats=("PPM",)) as frame:
                frame.load()
                rgb = frame.convert("RGB")
            return encode_jpeg(rgb), rgb.size
    raise ffmpeg.damaged(stderr)

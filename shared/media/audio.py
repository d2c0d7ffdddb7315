"""Voice notes and audio files, transcoded to one form every Gemini endpoint accepts.

Output: mono 16 kHz MP3 at 32 kbit/s. WhatsApp voice notes are Ogg/Opus, which the Gemini API
documentation does not list (it names "OGG Vorbis"), while MP3 is listed by both the Gemini API
and Vertex AI. Gemini reduces audio to 16 kHz mono anyway, so nothing the model could use is
lost, and a minute costs about 240 KB (a 15-minute cap stays far below inline request limits).

ffmpeg is driven directly rather than through pydub: pydub decodes the whole file into Python
memory as PCM, while ffmpeg streams from disk to disk in one pass, bounded by ``-t``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from shared.files import formats as f
from shared.files.errors import MediaRejected, RejectCode
from shared.media import ffmpeg
from shared.media.sniff import read_head, sniff

OUTPUT_MIME = f.GEMINI_MP3
OUTPUT_SUFFIX = ".mp3"
SAMPLE_RATE = 16_000
BITRATE = "32k"
# Encoders pad a few frames; a 60.02 s note must not fail a 60 s cap.
DURATION_TOLERANCE_SECONDS = 0.5


@dataclass(frozen=True)
class PreparedAudio:
    data: bytes
    mime_type: str
    duration_seconds: float
    source_codec: str


def prepare_audio(
    path: Path,
    *,
    max_seconds: float,
    mime: str | None = None,
    voice: bool = False,
    timeout: float = ffmpeg.DEFAULT_TIMEOUT_SECONDS,
) -> PreparedAudio:
    """Transcode the first audio stream of ``path`` to MP3, refusing it when it is too long.

    ``mime`` is the real (sniffed) type; it is sniffed again when omitted. Raises
    ``MediaRejected`` for a damaged, silent-less or over-long file.
    """
    noun = "voice note" if voice else "audio"
    mime = mime or sniff(read_head(path)) or f.OCTET_STREAM
    info = ffmpeg.probe(path, mime)
    if info.audio is None:
        raise MediaRejected(f"The {noun} has no sound in it", RejectCode.NO_SOUND)
    # The header can be wrong, so it only saves work on obviously long files; the decoded
    # length below is what decides.
    if info.duration_seconds is not None:
        _check_duration(info.duration_seconds, max_seconds, noun)
    with tempfile.TemporaryDirectory(prefix="audio-") as workdir:
        output = Path(workdir) / f"out{OUTPUT_SUFFIX}"
        result = ffmpeg.run(
            [
                *ffmpeg.input_args(path, mime),
                *("-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1"),
                # Decode at most one second past the cap: a lying header cannot make us work long.
                *("-t", f"{max_seconds + 1:.3f}"),
                *("-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "libmp3lame", "-b:a", BITRATE),
                *("-f", "mp3", "-progress", "pipe:1", "-nostats", "-y", str(output)),
            ],
            timeout=timeout,
        )
        ffmpeg.check_exit(result)
        duration = ffmpeg.parse_progress_seconds(result.stdout.decode("ascii", "replace"))
        if duration is None or duration <= 0 or not output.exists() or output.stat().st_size == 0:
            raise ffmpeg.damaged(result.stderr.decode("utf-8", "replace"))
        _check_duration(duration, max_seconds, noun)
        data = output.read_bytes()
    return PreparedAudio(
        data=data, mime_type=OUTPUT_MIME, duration_seconds=round(duration, 3), source_codec=info.audio.codec
    )


def _check_duration(seconds: float, max_seconds: float, noun: str) -> None:
    if seconds > max_seconds + DURATION_TOLERANCE_SECONDS:
        raise MediaRejected(
            f"The {noun} is longer than {f.format_duration(max_seconds)}", RejectCode.TOO_LONG
        )

"""Running ffmpeg safely, and reading what it says about a file.

There is no ffprobe here (imageio-ffmpeg ships ffmpeg alone), so stream facts come from the
header dump ffmpeg prints on stderr for ``ffmpeg -i FILE``. Every run names the demuxer for the
type we sniffed and allows only the ``file`` protocol: a playlist or concat script disguised as a
video could otherwise make ffmpeg read other local files or fetch URLs.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shared.files import formats as f
from shared.files.errors import MediaRejected, MediaTimeout, RejectCode

DEFAULT_TIMEOUT_SECONDS = 120.0

# ffmpeg's demuxer per sniffed type: never let ffmpeg guess the format by itself.
DEMUXERS: dict[str, str] = {
    f.OGG_AUDIO: "ogg",
    f.OGG_VIDEO: "ogg",
    f.MP3: "mp3",
    f.AAC: "aac",
    f.AMR: "amr",
    f.AMR_WB: "amr",
    f.M4A: "mov",
    f.AUDIO_3GPP: "mov",
    f.MP4: "mov",
    f.VIDEO_3GPP: "mov",
    f.VIDEO_3GPP2: "mov",
    f.MOV: "mov",
    f.WAV: "wav",
    f.FLAC: "flac",
    f.WEBM: "matroska",
    f.AUDIO_WEBM: "matroska",
    f.MKV: "matroska",
}


@functools.cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary: ``FFMPEG_BINARY`` if set, else the one imageio-ffmpeg ships, else PATH."""
    configured = os.environ.get("FFMPEG_BINARY")
    if configured:
        return configured
    try:
        import imageio_ffmpeg  # lazily: only the audio and video paths need ffmpeg at all

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if found is None:
            # A deployment problem, not the user's file: let it propagate as a transient error.
            raise FileNotFoundError("ffmpeg not found: install imageio-ffmpeg or set FFMPEG_BINARY") from None
        return found


def input_args(path: Path, mime: str, *, every_sample: bool = False) -> list[str]:
    """``-f DEMUXER -i FILE`` restricted to local files, for a type the sniffer recognised.

    ``every_sample`` makes the MP4 demuxer ignore edit lists, which can hide most of a file.
    """
    demuxer = DEMUXERS.get(mime)
    if demuxer is None:
        raise MediaRejected(
            f"The file is {f.describe_mime(mime)}, which we cannot play", RejectCode.UNSUPPORTED_TYPE
        )
    options = ["-ignore_editlist", "1"] if every_sample and demuxer == "mov" else []
    return ["-protocol_whitelist", "file", "-f", demuxer, *options, "-i", str(path)]


def run(
    args: list[str], *, timeout: float = DEFAULT_TIMEOUT_SECONDS, stdout_limit: int | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg with ``args``; never raises on a non-zero exit (callers read stderr)."""
    command = [ffmpeg_exe(), "-nostdin", "-hide_banner", *args]
    try:
        # An argv list without a shell; the arguments are our own temp paths and constants.
        return subprocess.run(command, capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as exc:
        raise MediaTimeout(f"ffmpeg took longer than {timeout:.0f} s") from exc


# --- the header dump ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamInfo:
    kind: str  # "audio" | "video"
    codec: str
    width: int | None = None
    height: int | None = None
    rotation: int = 0  # degrees from the display matrix; phones record portrait video this way
    attached_picture: bool = False  # cover art in an audio file, not a real video


@dataclass(frozen=True)
class ProbeInfo:
    duration_seconds: float | None
    streams: tuple[StreamInfo, ...]

    @property
    def audio(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == "audio"), None)

    @property
    def video(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == "video" and not s.attached_picture), None)


_DURATION = re.compile(r"^\s*Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", re.MULTILINE)
_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Audio|Video): ([^\s,]+)(.*)$")
_SIZE = re.compile(r"(?<![\w.])([1-9]\d{0,4})x([1-9]\d{0,4})(?![\w])")
_ROTATION = re.compile(r"display ?matrix: rotation of (-?\d+(?:\.\d+)?) degrees", re.IGNORECASE)
_INPUT_SECTION_END = re.compile(r"^(Stream mapping:|Output #|At least one output)", re.MULTILINE)


def parse_probe(stderr: str) -> ProbeInfo:
    """Duration and streams from the ``Input #0`` dump of ``ffmpeg -i``."""
    end = _INPUT_SECTION_END.search(stderr)
    section = stderr[: end.start()] if end else stderr
    duration_match = _DURATION.search(section)
    duration = None
    if duration_match:
        hours, minutes, seconds = duration_match.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    streams: list[StreamInfo] = []
    for line in section.splitlines():
        stream = _STREAM.match(line)
        if stream:
            streams.append(_stream_info(stream.group(1).lower(), stream.group(2), stream.group(3)))
        rotation = _ROTATION.search(line)
        if rotation and streams and streams[-1].kind == "video":
            last = streams[-1]
            streams[-1] = StreamInfo(
                last.kind, last.codec, last.width, last.height, round(float(rotation.group(1))) % 360
            )
    return ProbeInfo(duration, tuple(streams))


def _stream_info(kind: str, codec: str, rest: str) -> StreamInfo:
    if kind != "video":
        return StreamInfo(kind, codec)
    size = _SIZE.search(rest)
    width, height = (int(size.group(1)), int(size.group(2))) if size else (None, None)
    return StreamInfo(kind, codec, width, height, attached_picture="(attached pic)" in rest)


def probe(path: Path, mime: str, *, timeout: float = 30.0) -> ProbeInfo:
    """Read the container header; ``MediaRejected`` when ffmpeg cannot open the file at all."""
    result = run([*input_args(path, mime)], timeout=timeout)
    stderr = result.stderr.decode("utf-8", "replace")
    if "Input #0" not in stderr:
        raise damaged(stderr)
    return parse_probe(stderr)


def damaged(stderr: str = "") -> MediaRejected:
    """The rejection for a file ffmpeg cannot decode (the stderr tail is kept for the log)."""
    error = MediaRejected("The file is damaged and could not be read", RejectCode.DAMAGED)
    error.add_note(stderr[-500:])
    return error


def check_exit(result: subprocess.CompletedProcess[bytes]) -> None:
    """An error exit, or a resource limit reached, is the file's fault; another signal (an OOM
    kill of the instance) is transient."""
    if result.returncode == -signal.SIGXCPU:
        raise MediaRejected("The file takes too much work to open safely", RejectCode.TOO_COMPLEX)
    if result.returncode == -signal.SIGXFSZ:
        raise MediaRejected("The file would take too much space to convert", RejectCode.TOO_COMPLEX)
    if result.returncode < 0:
        raise RuntimeError(f"ffmpeg was killed by signal {-result.returncode}")
    if result.returncode != 0:
        raise damaged(result.stderr.decode("utf-8", "replace"))


def parse_progress_seconds(progress: str) -> float | None:
    """The last ``out_time_us`` of ``-progress``: how much the output really holds."""
    values = re.findall(r"^out_time_us=(\d+)$", progress, re.MULTILINE)
    return int(values[-1]) / 1_000_000 if values else None

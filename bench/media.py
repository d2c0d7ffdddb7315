"""Media preparation benchmark: time and peak memory per media type.

    .venv/bin/python -m bench.media [--runs N]

(from the repository root, like every benchmark). Generates a 12-megapixel JPEG, a 60-second voice note, a ~15 MB video and a 50-page PDF, then
runs ``shared.media.prepare`` on each in a fresh Python process (so one case's memory cannot
hide in another's) and prints a table. Not part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.support import REPO, run

MB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    declared_mime: str
    file_name: str
    goal_seconds: float | None
    goal_peak_mb: float | None  # None: computed from the file size (the video goal)
    voice: bool = False


CASES = (
    Case("12 MP JPEG photo", "image", "image/jpeg", "photo.jpg", 0.4, 200),
    Case("12 MP progressive", "image", "image/jpeg", "progressive.jpg", 0.4, 200),
    Case("60 s voice note", "audio", "audio/ogg; codecs=opus", "voice.ogg", 1.5, None),
    Case("15 MB video", "video", "video/mp4", "video.mp4", None, None),
    Case("50-page PDF", "document", "application/pdf", "report.pdf", None, None),
)


def generate(workdir: Path) -> dict[str, Path]:
    from tests.support import media_samples

    paths = {case.name: workdir / case.file_name for case in CASES}
    paths["12 MP JPEG photo"].write_bytes(media_samples.camera_jpeg(4000, 3000))
    # Progressive JPEGs (some phones, most web images) decode in several passes: slower.
    paths["12 MP progressive"].write_bytes(media_samples.camera_jpeg(4000, 3000, progressive=True))
    media_samples.voice_note(paths["60 s voice note"], seconds=60)
    # 720p at 3 Mbit/s constant bitrate for 40 s: about 15 MB, like a long WhatsApp clip.
    media_samples.video(paths["15 MB video"], seconds=40, size="1280x720", video_bitrate="3M")
    paths["50-page PDF"].write_bytes(media_samples.pdf(media_samples.report_pages(50)))
    return paths


# --- the worker: one case, in its own process ---------------------------------------------------


def _status_kb(field: str, pid: str = "self") -> int:
    """A memory figure from /proc/PID/status, in KiB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def worker(case_name: str, path: Path, runs: int) -> None:
    case = next(c for c in CASES if c.name == case_name)
    from shared.media.pipeline import prepare
    from shared.media.sandbox import recording

    baseline_kb = _status_kb("VmRSS")
    timings = []
    with recording() as decoder_runs:
        for _ in range(runs + 1):
            started = time.perf_counter()
            prepared = prepare(case.kind, path, case.declared_mime, case.file_name, voice=case.voice)
            timings.append(time.perf_counter() - started)
    result = {
        "first_seconds": timings[0],
        "warm_seconds": statistics.median(timings[1:]) if runs else timings[0],
        "baseline_mb": baseline_kb / 1024,
        "python_peak_mb": _status_kb("VmHWM") / 1024,
        # The decoder runs in a bounded child; wait4 gives its peak, the ffmpeg it ran included.
        "ffmpeg_peak_mb": max(r.peak_rss_bytes for r in decoder_runs) / MB,
        "decoder_cpu_seconds": statistics.median(r.cpu_seconds for r in decoder_runs[1:] or decoder_runs),
        "summary": prepared.description,
    }
    print(json.dumps(result))


def run_case(case: Case, path: Path, runs: int) -> dict[str, float | str]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.media", "--worker", case.name, str(path), "--runs", str(runs)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


# --- the table ------------------------------------------------------------------------------------


def verdict(case: Case, size_mb: float, result: dict[str, float | str]) -> tuple[str, str]:
    peak = float(result["python_peak_mb"]) + float(result["ffmpeg_peak_mb"])
    goals, ok = [], True
    if case.goal_seconds is not None:
        goals.append(f"< {case.goal_seconds:g} s")
        ok &= float(result["warm_seconds"]) < case.goal_seconds
    goal_peak = case.goal_peak_mb
    if case.kind == "video":
        goal_peak = 2 * size_mb + 100
    if goal_peak is not None:
        goals.append(f"< {goal_peak:.0f} MB")
        ok &= peak < goal_peak
    if not goals:
        return "-", "-"
    return ", ".join(goals), "ok" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="warm runs per case after the first")
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), args.runs)
        return

    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        started = time.perf_counter()
        paths = generate(Path(tmp))
        print(f"generated inputs in {time.perf_counter() - started:.1f} s\n")
        header = (
            f"{'case':<18} {'input':>8} {'first':>8} {'warm':>8} {'py base':>8} {'py peak':>8} "
            f"{'decoder':>8} {'peak':>8}  {'goal':<18} {'':<6}"
        )
        print(header)
        print("-" * len(header))
        summaries = []
        for case in CASES:
            size_mb = paths[case.name].stat().st_size / MB
            result = run_case(case, paths[case.name], args.runs)
            peak = float(result["python_peak_mb"]) + float(result["ffmpeg_peak_mb"])
            goal, ok = verdict(case, size_mb, result)
            print(
                f"{case.name:<18} {size_mb:>6.1f}MB {float(result['first_seconds']):>7.3f}s "
                f"{float(result['warm_seconds']):>7.3f}s {float(result['baseline_mb']):>6.0f}MB "
                f"{float(result['python_peak_mb']):>6.0f}MB {float(result['ffmpeg_peak_mb']):>6.0f}MB "
                f"{peak:>6.0f}MB  {goal:<18} {ok:<6}"
            )
            summaries.append(f"  {case.name}: {result['summary']}")
    print()
    print("\n".join(summaries))
    print(
        "\nMethod: each case runs `shared.media.prepare` in a fresh Python process. 'first' is the first"
        f"\ncall (it pays the lazy imports of Pillow/pypdf), 'warm' the median of {args.runs} more calls."
        "\n'py base' is the worker's RSS after importing shared.media (interpreter included),"
        "\n'py peak' its peak RSS over all calls (VmHWM in /proc/self/status), 'decoder' the largest"
        "\npeak RSS of the bounded child that decodes (wait4; the ffmpeg it runs included),"
        "\nand 'peak' = py peak + decoder, an upper bound of the memory in use at any one moment."
        "\nGoals: photo < 0.4 s and < 200 MB; voice note < 1.5 s; video peak < 2 x size + 100 MB."
    )


if __name__ == "__main__":
    run(main)

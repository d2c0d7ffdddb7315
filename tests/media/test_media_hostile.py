"""Hostile files: each is refused within a few seconds of CPU and a few hundred MB, and a decoder
that goes wrong anyway is stopped by the limits of the child process it runs in.

CPU and memory are measured for real: the parent's own CPU time, plus the child's CPU time and
peak RSS (its ffmpeg included) that the zygote reads with wait4 when it reaps the child.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from shared.files.errors import MediaRejected, MediaTimeout, RejectCode
from shared.media import ffmpeg, sandbox
from shared.media.jpeg import count_scans
from shared.media.pipeline import PreparedMedia, prepare
from shared.media.sandbox import Budget, run_bounded
from tests.support import bad_decoders, hostile_media, media_samples

MiB = 1024 * 1024
FEW_SECONDS_OF_CPU = 3.0
FEW_HUNDRED_MB = 300 * MiB
SMALL = Budget(cpu_seconds=1, memory_bytes=256 * MiB, wall_seconds=10)


def refused(kind: str, path: Path, mime: str) -> tuple[MediaRejected, float, int]:
    """Prepare a file that must be refused: (the refusal, CPU seconds in all, peak RSS of the child)."""
    with sandbox.recording() as runs:
        started = time.process_time()
        with pytest.raises(MediaRejected) as caught:
            prepare(kind, path, mime, path.name)
        parent_cpu = time.process_time() - started
    assert runs, "the file was opened outside a bounded child"
    return caught.value, parent_cpu + sum(r.cpu_seconds for r in runs), max(r.peak_rss_bytes for r in runs)


# --- the four hostile files ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["image", "document"])
def test_a_scan_bomb_jpeg_is_refused_before_a_scan_is_decoded(tmp_path, kind) -> None:
    bomb = tmp_path / "bomb.jpg"
    bomb.write_bytes(hostile_media.scan_bomb_jpeg(scans=4000))
    rejection, cpu, peak = refused(kind, bomb, "image/jpeg")
    assert rejection.code == RejectCode.TOO_COMPLEX
    assert "too many passes" in rejection.reason
    assert cpu < FEW_SECONDS_OF_CPU and peak < FEW_HUNDRED_MB


def test_a_pdf_drawing_one_form_thousands_of_times_is_refused_before_its_text_is_read(tmp_path) -> None:
    bomb = tmp_path / "forms.pdf"
    bomb.write_bytes(hostile_media.form_bomb_pdf(invocations=5000))
    assert bomb.stat().st_size < 2048
    rejection, cpu, peak = refused("document", bomb, "application/pdf")
    assert rejection.code == RejectCode.TOO_COMPLEX
    assert rejection.reason.startswith("The PDF is too complex to read safely: page 1")
    assert cpu < FEW_SECONDS_OF_CPU and peak < FEW_HUNDRED_MB


def test_a_pdf_that_draws_a_form_a_few_times_is_read_as_usual(tmp_path) -> None:
    pdf = tmp_path / "letterhead.pdf"
    pdf.write_bytes(hostile_media.form_bomb_pdf(invocations=3, form_operators=2000))
    prepared = prepare("document", pdf, "application/pdf", pdf.name)
    assert prepared.text and prepared.text.count("a") >= 3 * 400


def test_a_paragraph_bomb_docx_is_refused_by_the_size_of_its_xml(tmp_path) -> None:
    bomb = hostile_media.paragraph_bomb_docx(tmp_path / "bomb.docx", xml_bytes=60 * MiB)
    assert bomb.stat().st_size < 200 * 1024
    rejection, cpu, peak = refused(
        "document", bomb, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert rejection.code == RejectCode.TOO_LARGE
    assert rejection.reason == "The document is too large to open safely once unpacked"
    assert cpu < FEW_SECONDS_OF_CPU and peak < FEW_HUNDRED_MB


def test_a_video_whose_header_says_one_second_but_whose_packets_run_half_an_hour_is_refused(tmp_path) -> None:
    spoofed = hostile_media.header_spoofed_mp4(tmp_path / "spoofed.mp4", real_seconds=1800, header_seconds=1)
    rejection, cpu, peak = refused("video", spoofed, "video/mp4")
    assert rejection.code == RejectCode.TOO_LONG
    assert rejection.reason == "The video is longer than 10 minutes"
    assert cpu < FEW_SECONDS_OF_CPU and peak < FEW_HUNDRED_MB


def test_the_same_video_with_an_honest_header_is_refused_with_its_length(tmp_path) -> None:
    honest = hostile_media.header_spoofed_mp4(tmp_path / "long.mp4", real_seconds=1800, header_seconds=1800)
    rejection, _cpu, _peak = refused("video", honest, "video/mp4")
    assert rejection.reason == "The video is longer than 10 minutes (it is 30 minutes)"


def test_scans_are_counted_from_the_markers(tmp_path, camera_jpeg) -> None:
    progressive = media_samples.camera_jpeg(800, 600, progressive=True)
    assert 2 <= count_scans(progressive, stop_after=64) <= 20
    assert count_scans(camera_jpeg, stop_after=64) == 1
    bomb = tmp_path / "bomb.jpg"
    bomb.write_bytes(hostile_media.scan_bomb_jpeg(scans=500, side=64))
    assert count_scans(bomb, stop_after=64) == 65  # counting stops just past the cap
    assert count_scans(b"not a jpeg", stop_after=64) == 0


# --- the child's limits, for whatever the early checks miss -------------------------------------


def test_the_scan_bomb_without_our_check_is_still_stopped_at_the_cpu_limit(tmp_path) -> None:
    bomb = tmp_path / "bomb.jpg"
    bomb.write_bytes(hostile_media.scan_bomb_jpeg(scans=4000))
    budget = Budget(cpu_seconds=1, memory_bytes=1024 * MiB, wall_seconds=10)
    with sandbox.recording() as runs, pytest.raises(MediaRejected) as caught:
        run_bounded(bad_decoders.decode_with_pillow, bomb, budget=budget, noun="photo")
    assert (caught.value.code, caught.value.reason) == (
        RejectCode.TOO_COMPLEX,
        "The photo takes too much work to open safely",
    )
    (run,) = runs
    assert run.limit == "cpu" and 0.9 < run.cpu_seconds < 2.0


def test_a_decoder_that_swells_is_stopped_at_its_memory_limit() -> None:
    with sandbox.recording() as runs, pytest.raises(MediaRejected) as caught:
        run_bounded(bad_decoders.swell, budget=SMALL, noun="document")
    assert (caught.value.code, caught.value.reason) == (
        RejectCode.TOO_COMPLEX,
        "The document needs too much memory to open safely",
    )
    (run,) = runs
    assert run.limit == "memory" and run.peak_rss_bytes < SMALL.memory_bytes


def test_a_library_that_reports_its_memory_limit_as_damage_is_still_refused_for_memory() -> None:
    with sandbox.recording() as runs, pytest.raises(MediaRejected) as caught:
        run_bounded(bad_decoders.swell_and_call_it_damage, budget=SMALL, noun="document")
    assert caught.value.code == RejectCode.TOO_COMPLEX
    assert caught.value.reason == "The document needs too much memory to open safely"
    assert runs[0].limit == "memory"


def test_a_helper_the_decoder_starts_inherits_the_cpu_limit() -> None:
    started = time.monotonic()
    assert run_bounded(bad_decoders.spin_in_a_helper, budget=SMALL, noun="video") == -signal.SIGXCPU
    assert time.monotonic() - started < 5


def test_ffmpeg_stopped_at_a_limit_refuses_the_file_and_a_kill_from_outside_is_retried() -> None:
    def ended(code: int) -> subprocess.CompletedProcess[bytes]:
        return subprocess.CompletedProcess(["ffmpeg"], code, b"", b"")

    for code in (-signal.SIGXCPU, -signal.SIGXFSZ):
        with pytest.raises(MediaRejected) as caught:
            ffmpeg.check_exit(ended(code))
        assert caught.value.code == RejectCode.TOO_COMPLEX
    with pytest.raises(RuntimeError, match="signal 9"):
        ffmpeg.check_exit(ended(-signal.SIGKILL))  # the instance's OOM killer: worth a retry


def test_a_decoder_that_hangs_is_killed_at_the_wall_clock_with_what_it_started(tmp_path) -> None:
    pid_file = tmp_path / "helper.pid"
    budget = Budget(cpu_seconds=5, memory_bytes=256 * MiB, wall_seconds=1)
    started = time.monotonic()
    with pytest.raises(MediaTimeout):
        run_bounded(bad_decoders.hang_with_a_helper, pid_file, budget=budget, noun="video")
    assert time.monotonic() - started < 4
    helper = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(helper), "the decoder's helper outlived it"


def test_a_decoder_that_crashes_refuses_the_file_as_damaged() -> None:
    with pytest.raises(MediaRejected) as caught:
        run_bounded(bad_decoders.crash, budget=SMALL, noun="photo")
    assert caught.value.code == RejectCode.DAMAGED
    assert "signal 11" in "".join(caught.value.__notes__)


def test_what_the_decoder_returns_or_raises_reaches_the_caller() -> None:
    assert run_bounded(bad_decoders.add, 2, b=3, budget=SMALL, noun="photo") == 5
    with pytest.raises(MediaRejected, match="no good") as refusal:
        run_bounded(bad_decoders.refuse, "no good", budget=SMALL, noun="photo")
    assert refusal.value.code == RejectCode.DAMAGED
    with pytest.raises(LookupError, match="a bug in the decoder") as bug:
        run_bounded(bad_decoders.fail, budget=SMALL, noun="photo")
    assert "bad_decoders.py" in "".join(bug.value.__notes__)  # the child's traceback is kept


def test_many_bounded_runs_at_once_each_get_their_own_answer() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda n: run_bounded(bad_decoders.add, n, 1, budget=SMALL, noun="x"), range(20))
        )
    assert answers == [n + 1 for n in range(20)]


def test_an_ordinary_photo_costs_the_child_process_only_milliseconds(camera_jpeg, write) -> None:
    path = write(camera_jpeg, "photo.jpg")
    prepare("image", path, "image/jpeg")  # the zygote starts once per instance
    with sandbox.recording() as runs:
        started = time.monotonic()
        prepared: PreparedMedia = prepare("image", path, "image/jpeg")
        elapsed = time.monotonic() - started
    (run,) = runs
    assert prepared.derived is not None
    assert run.limit is None and run.wall_seconds <= elapsed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (killed, not yet reaped by its parent) is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False

"""Hostile files: CPU seconds and peak memory before (the bare library call) and after (the pipeline).

    .venv/bin/python -m bench.hostile [--safety-cpu SECONDS]

Generates the four files of tests/media/test_media_hostile.py at full strength: a scan-bomb
JPEG, a Form-XObject PDF, a paragraph-bomb DOCX and a header-spoofed MP4. BEFORE runs the
library call the pipeline used to make, with nothing in front of it, in a child process held to
a safety limit (CPU and 8 GiB of address space) so the machine survives; AFTER runs
``shared.media.prepare`` in a fresh Python process. Not part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.support import REPO, run

MiB = 1024 * 1024
SAFETY_MEMORY_BYTES = 8 * 1024 * MiB


@dataclass(frozen=True)
class Case:
    name: str
    file_name: str
    kind: str
    mime: str
    before: str  # the bare library call, as Python source run in the safety child; PATH is the file


CASES = (
    Case(
        "scan-bomb JPEG (4,000 scans)",
        "bomb.jpg",
        "image",
        "image/jpeg",
        # What prepare_image did before: header, draft (downscale while decoding), decode.
        "from PIL import Image\n"
        "im = Image.open(PATH); im.draft(None, (1600, 1600)); im.load()\n"
        "print(f'decoded {im.size[0]}x{im.size[1]}')",
    ),
    Case(
        "Form-XObject PDF (5,000 Do)",
        "forms.pdf",
        "document",
        "application/pdf",
        "from pypdf import PdfReader\n"
        "reader = PdfReader(open(PATH, 'rb'))\n"
        "text = ''.join(page.extract_text() or '' for page in reader.pages)\n"
        "print(f'extracted {len(text)} characters')",
    ),
    Case(
        "paragraph-bomb DOCX (60 MB XML)",
        "bomb.docx",
        "document",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "import docx\n"
        "document = docx.Document(PATH)\n"
        "blocks = sum(1 for _ in document.iter_inner_content())\n"
        "print(f'parsed {blocks} blocks')",
    ),
    Case(
        "header-spoofed MP4 (1 s / 30 min)",
        "spoofed.mp4",
        "video",
        "video/mp4",
        # What prepare_video checked before: the duration in the header.
        "from pathlib import Path\n"
        "from shared.media import ffmpeg\n"
        "info = ffmpeg.probe(Path(PATH), 'video/mp4')\n"
        "print(f'accepted: the header says {info.duration_seconds:.0f} s')",
    ),
)


def generate(workdir: Path) -> dict[str, Path]:
    from tests.support import hostile_media

    paths = {case.name: workdir / case.file_name for case in CASES}
    paths[CASES[0].name].write_bytes(hostile_media.scan_bomb_jpeg(scans=4000))
    paths[CASES[1].name].write_bytes(hostile_media.form_bomb_pdf(invocations=5000))
    hostile_media.paragraph_bomb_docx(paths[CASES[2].name], xml_bytes=60 * MiB)
    hostile_media.header_spoofed_mp4(paths[CASES[3].name], real_seconds=1800, header_seconds=1)
    return paths


# --- before: the bare library call in a child held to a safety limit ----------------------------


def before(case: Case, path: Path, safety_cpu: int) -> dict[str, object]:
    def limit() -> None:  # the bench is single-threaded, so a preexec_fn is safe here
        resource.setrlimit(resource.RLIMIT_CPU, (safety_cpu, safety_cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (SAFETY_MEMORY_BYTES, SAFETY_MEMORY_BYTES))

    code = f"PATH = {str(path)!r}\n{case.before}"
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=limit,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None and child.stderr is not None
    _pid, status, usage = os.wait4(child.pid, 0)
    out, err = child.stdout.read().decode().strip(), child.stderr.read().decode().strip()
    child.stdout.close()
    child.stderr.close()
    code_or_signal = os.waitstatus_to_exitcode(status)
    if code_or_signal == -signal.SIGXCPU:
        outcome = f"still running at the {safety_cpu} s safety limit"
    elif code_or_signal != 0:
        last = err.splitlines()[-1] if err else f"exit {code_or_signal}"
        outcome = "MemoryError at the 8 GiB safety limit" if "MemoryError" in err else last[:60]
    else:
        outcome = out.splitlines()[-1] if out else "finished"
    return {
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
        "wall": time.monotonic() - started,
        "outcome": outcome,
    }


# --- after: the pipeline, in a fresh process ----------------------------------------------------


def after_worker(name: str, path: Path) -> None:
    from shared.files.errors import MediaRejected
    from shared.media.pipeline import prepare
    from shared.media.sandbox import recording
    from tests.support import media_samples

    case = next(c for c in CASES if c.name == name)
    warm = path.with_name("warm.jpg")
    warm.write_bytes(media_samples.camera_jpeg(64, 48))
    prepare("image", warm, "image/jpeg")  # starts the zygote, once per instance: not the file's cost
    with recording() as runs:
        started_cpu, started = time.process_time(), time.monotonic()
        try:
            prepared = prepare(case.kind, path, case.mime, path.name)
            outcome = f"accepted: {prepared.description}"
        except MediaRejected as exc:
            outcome = f"refused ({exc.code}): {exc.reason}"
        parent_cpu, wall = time.process_time() - started_cpu, time.monotonic() - started
    print(
        json.dumps(
            {
                "cpu": parent_cpu + sum(r.cpu_seconds for r in runs),
                "peak_mb": max((r.peak_rss_bytes for r in runs), default=0) / MiB,
                "wall": wall,
                "outcome": outcome,
            }
        )
    )


def after(case: Case, path: Path) -> dict[str, object]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.hostile", "--after-worker", case.name, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--safety-cpu", type=int, default=60, help="CPU seconds the BEFORE child may use")
    parser.add_argument("--after-worker", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.after_worker:
        after_worker(args.after_worker[0], Path(args.after_worker[1]))
        return

    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        paths = generate(Path(tmp))
        header = f"{'file':<34} {'size':>8}  {'before CPU':>10} {'peak':>8}  {'after CPU':>9} {'peak':>7}"
        print(header)
        print("-" * len(header))
        outcomes = []
        for case in CASES:
            path = paths[case.name]
            was, now = before(case, path, args.safety_cpu), after(case, path)
            print(
                f"{case.name:<34} {path.stat().st_size / 1024:>6.0f}KB  "
                f"{float(was['cpu']):>9.2f}s {float(was['peak_mb']):>6.0f}MB  "
                f"{float(now['cpu']):>8.2f}s {float(now['peak_mb']):>5.0f}MB"
            )
            outcomes.append(f"  {case.name}\n    before: {was['outcome']}\n    after:  {now['outcome']}")
    print("\n" + "\n".join(outcomes))
    print(
        "\nMethod: 'before' is the library call the pipeline used to make, alone, in a child held to"
        f"\n{args.safety_cpu} s of CPU and 8 GiB of address space; CPU and peak RSS from wait4. 'after' is"
        "\nshared.media.prepare in a fresh process (the zygote started beforehand): its own CPU plus the"
        "\nbounded child's, and the child's peak RSS (ffmpeg included), both from wait4 in the zygote."
    )


if __name__ == "__main__":
    run(main)

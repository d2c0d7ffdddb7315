"""Fixtures for the media tests: generated media files and a real GCS emulator."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # media_samples, also used by bench/media.py

import media_samples

GCS_BUCKET = "media-test-bucket"
GCS_PROJECT = "demo-test"


# --- media made once per session (ffmpeg runs are the slow part) -------------------------------


@pytest.fixture(scope="session")
def samples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media-samples")


@pytest.fixture(scope="session")
def voice_note_60s(samples_dir: Path) -> Path:
    return media_samples.voice_note(samples_dir / "voice-60s.ogg", seconds=60)


@pytest.fixture(scope="session")
def small_video(samples_dir: Path) -> Path:
    return media_samples.video(samples_dir / "clip.mp4", seconds=2.0, size="320x240")


@pytest.fixture(scope="session")
def portrait_video(samples_dir: Path) -> Path:
    return media_samples.video(samples_dir / "portrait.mp4", seconds=1.5, size="320x240", rotation=90)


@pytest.fixture(scope="session")
def camera_jpeg() -> bytes:
    return media_samples.camera_jpeg()


@pytest.fixture
def write(tmp_path: Path):
    """Write bytes to a file in the test's temp dir and return its path."""

    def _write(data: bytes, name: str = "media.bin") -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return _write


# --- the GCS emulator ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def gcs_emulator_url() -> Iterator[str]:
    """gcp-storage-emulator on a free port, in memory, with the test bucket created."""
    port = _free_port()
    exe = Path(sys.executable).parent / "gcp-storage-emulator"
    process = subprocess.Popen(
        [
            str(exe),
            "start",
            "--host=127.0.0.1",
            f"--port={port}",
            "--in-memory",
            f"--default-bucket={GCS_BUCKET}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/storage/v1/b/{GCS_BUCKET}", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the GCS emulator did not start")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def gcs_bucket() -> str:
    return GCS_BUCKET


@pytest.fixture
def gcs_client(gcs_emulator_url: str, monkeypatch: pytest.MonkeyPatch):
    """A real google-cloud-storage client pointed at the emulator the way the stack does it."""
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator_url)
    return storage.Client(project=GCS_PROJECT)


@pytest.fixture
def media_storage(gcs_client):
    from shared.media.storage import MediaStorage

    return MediaStorage(gcs_client, GCS_BUCKET)

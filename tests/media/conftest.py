"""Fixtures for the media tests: media files generated once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import media_samples

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

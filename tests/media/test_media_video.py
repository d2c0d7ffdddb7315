"""Videos: a poster frame for the dashboard, a length cap, damage refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from shared.files.errors import MediaRejected, RejectCode
from shared.media.ffmpeg import parse_probe
from shared.media.video import prepare_video
from tests.support import media_samples


def test_a_video_gets_a_jpeg_poster_and_its_duration_and_size(small_video):
    prepared = prepare_video(small_video, max_seconds=60)
    poster = Image.open(io.BytesIO(prepared.poster))
    poster.load()
    assert poster.format == "JPEG"
    assert poster.size == (320, 240) == (prepared.poster_width, prepared.poster_height)
    assert prepared.poster_mime_type == "image/jpeg"
    assert prepared.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert (prepared.width, prepared.height) == (320, 240)
    assert prepared.video_codec == "h264"
    assert prepared.has_audio
    assert len(poster.getexif()) == 0
    assert b"Lavc" not in prepared.poster  # no encoder comment either


def test_the_poster_is_bounded_to_the_configured_long_side(small_video):
    prepared = prepare_video(small_video, max_seconds=60, poster_max_side=160)
    assert (prepared.poster_width, prepared.poster_height) == (160, 120)


def test_a_portrait_phone_video_reports_its_displayed_size_and_an_upright_poster(portrait_video):
    prepared = prepare_video(portrait_video, max_seconds=60)
    assert (prepared.width, prepared.height) == (240, 320)
    assert Image.open(io.BytesIO(prepared.poster)).size == (240, 320)


def test_a_video_longer_than_the_cap_is_refused(small_video):
    with pytest.raises(MediaRejected) as caught:
        prepare_video(small_video, max_seconds=1)
    assert caught.value.code == RejectCode.TOO_LONG
    assert caught.value.reason.startswith("The video is longer than 1 second")


def test_a_very_short_clip_still_gets_a_poster(tmp_path):
    clip = media_samples.video(tmp_path / "blink.mp4", seconds=0.4)
    prepared = prepare_video(clip, max_seconds=60)
    assert prepared.poster.startswith(b"\xff\xd8\xff")


def test_a_damaged_video_is_refused(tmp_path, small_video):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(small_video.read_bytes()[:2000])  # the header survives, the rest is gone
    with pytest.raises(MediaRejected) as caught:
        prepare_video(broken, max_seconds=60)
    assert caught.value.code == RejectCode.DAMAGED


def test_an_mp4_with_only_sound_is_not_a_video(tmp_path):
    with pytest.raises(MediaRejected) as caught:
        prepare_video(media_samples.audio_only_mp4(tmp_path / "sound.mp4"), max_seconds=60)
    assert caught.value.code == RejectCode.NO_PICTURE


def test_the_ffmpeg_header_dump_is_parsed_for_duration_streams_and_rotation():
    stderr = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x.mp4':
  Metadata:
    major_brand     : isom
  Duration: 00:01:02.50, start: 0.000000, bitrate: 1200 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), 1920x1080 [SAR 1:1 DAR 16:9], 1000 kb/s, 30 fps (default)
    Side data:
      displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s (default)
At least one output file must be specified
"""
    info = parse_probe(stderr)
    assert info.duration_seconds == pytest.approx(62.5)
    assert info.video is not None
    assert (info.video.codec, info.video.width, info.video.height, info.video.rotation) == (
        "h264",
        1920,
        1080,
        270,
    )
    assert info.audio is not None and info.audio.codec == "aac"

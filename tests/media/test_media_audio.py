"""Voice notes and audio files: transcoded for the model, capped in length, damage refused."""

from __future__ import annotations

import io
import warnings

import pytest

from shared.files.errors import MediaRejected, RejectCode
from shared.media.audio import prepare_audio
from tests.support import media_samples

with warnings.catch_warnings():
    # pydub looks for ffmpeg/ffprobe on PATH at import; we hand it imageio-ffmpeg's binary below.
    warnings.simplefilter("ignore")
    from pydub import AudioSegment

AudioSegment.converter = media_samples.ffmpeg_exe()


def _decode(data: bytes) -> AudioSegment:
    # Naming the codec keeps pydub from calling ffprobe, which this machine does not have.
    return AudioSegment.from_file(io.BytesIO(data), format="mp3", codec="mp3")


def test_a_voice_note_is_transcoded_to_mp3_that_decodes_with_the_right_length(voice_note_60s):
    prepared = prepare_audio(voice_note_60s, max_seconds=15 * 60, voice=True)
    assert prepared.mime_type == "audio/mp3"
    assert prepared.source_codec == "opus"
    assert prepared.duration_seconds == pytest.approx(60.0, abs=0.2)
    decoded = _decode(prepared.data)
    assert decoded.channels == 1
    assert decoded.frame_rate == 16_000
    assert decoded.duration_seconds == pytest.approx(60.0, abs=0.2)
    assert len(prepared.data) < 300_000  # about 32 kbit/s


def test_a_voice_note_longer_than_the_cap_is_refused_with_the_cap_in_the_reason(voice_note_60s):
    with pytest.raises(MediaRejected) as caught:
        prepare_audio(voice_note_60s, max_seconds=30, voice=True)
    assert caught.value.code == RejectCode.TOO_LONG
    assert caught.value.reason == "The voice note is longer than 30 seconds"


def test_a_note_exactly_at_the_cap_is_accepted(voice_note_60s):
    assert prepare_audio(voice_note_60s, max_seconds=60).duration_seconds == pytest.approx(60.0, abs=0.2)


@pytest.mark.parametrize(
    ("name", "codec", "extra"),
    [
        ("song.mp3", "libmp3lame", ()),
        ("call.amr", "libopencore_amrnb", ("-ar", "8000", "-b:a", "12.2k")),
        ("memo.m4a", "aac", ()),
        ("clip.aac", "aac", ("-f", "adts")),
    ],
)
def test_common_audio_formats_are_transcoded(tmp_path, name, codec, extra):
    path = media_samples.audio_file(tmp_path / name, 3.0, codec, *extra)
    prepared = prepare_audio(path, max_seconds=60)
    # Raw ADTS has no edit list, so the encoder's priming samples (~0.13 s at 8 kHz) stay in.
    assert prepared.duration_seconds == pytest.approx(3.0, abs=0.25)
    assert _decode(prepared.data).duration_seconds == pytest.approx(prepared.duration_seconds, abs=0.1)


def test_a_damaged_voice_note_is_refused(tmp_path, voice_note_60s):
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(b"OggS" + bytes(range(256)) * 40)
    with pytest.raises(MediaRejected) as caught:
        prepare_audio(broken, max_seconds=60, voice=True)
    assert caught.value.code == RejectCode.DAMAGED
    assert caught.value.reason == "The file is damaged and could not be read"


def test_a_file_without_a_sound_track_is_refused(tmp_path):
    silent_film = media_samples.video(tmp_path / "silent.mp4", seconds=1.0, audio=False)
    with pytest.raises(MediaRejected) as caught:
        prepare_audio(silent_film, max_seconds=60)
    assert caught.value.code == RejectCode.NO_SOUND

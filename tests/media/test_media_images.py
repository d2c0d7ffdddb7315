"""Photos and stickers: no metadata leaks, upright, bounded, and safe against bombs."""

from __future__ import annotations

import io
import tracemalloc

import pytest
from PIL import Image

from shared.files.errors import MediaRejected, RejectCode
from shared.media.images import prepare_image
from tests.support import media_samples


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _near(pixel: tuple[int, ...], color: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], color, strict=True))


def test_photo_loses_its_gps_position_and_every_other_piece_of_metadata():
    prepared = prepare_image(media_samples.jpeg_with_gps_and_rotation())
    out = _open(prepared.data)
    assert prepared.mime_type == "image/jpeg"
    assert len(out.getexif()) == 0
    assert not set(out.info) & {"exif", "xmp", "icc_profile", "comment", "photoshop"}
    for leak in (b"Exif", b"GPS", b"PhoneMaker", b"xmpmeta", b"ICC_PROFILE", b"secret comment"):
        assert leak not in prepared.data, leak


def test_photo_is_turned_upright_by_its_exif_orientation():
    prepared = prepare_image(media_samples.jpeg_with_gps_and_rotation(width=400, height=300))
    out = _open(prepared.data)
    # Stored 400x300 with orientation 6: shown as 300x400, red half on top.
    assert (prepared.width, prepared.height) == (300, 400) == out.size
    assert (prepared.source_width, prepared.source_height) == (400, 300)
    assert _near(out.getpixel((150, 20)), media_samples.RED)
    assert _near(out.getpixel((150, 380)), media_samples.BLUE)


def test_a_12_megapixel_photo_is_bounded_to_the_configured_long_side(camera_jpeg):
    # How fast is bench/media.py's to say (a timed test fails on a busy machine, not on slow code).
    prepared = prepare_image(camera_jpeg, max_side=1600)
    assert (prepared.width, prepared.height) == (1600, 1200)
    assert _open(prepared.data).size == (1600, 1200)
    assert (prepared.source_width, prepared.source_height) == (4000, 3000)


def test_a_small_photo_is_never_enlarged():
    prepared = prepare_image(media_samples.png(300, 200), max_side=1600)
    assert (prepared.width, prepared.height) == (300, 200)


def test_a_png_claiming_50000_by_50000_pixels_is_refused_before_decoding():
    bomb = media_samples.png_bomb(50_000, 50_000)
    assert len(bomb) < 20_000
    tracemalloc.start()
    with pytest.raises(MediaRejected) as caught:
        prepare_image(bomb)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert caught.value.code == RejectCode.TOO_MANY_PIXELS
    assert "too large to open safely" in caught.value.reason
    assert "2500 megapixels" in caught.value.reason
    assert peak < 5 * 1024 * 1024  # refused from its header: nothing was decoded


def test_pillows_own_bomb_guard_is_also_turned_into_a_rejection():
    # With our cap raised out of the way, Pillow's DecompressionBombError must still end well.
    with pytest.raises(MediaRejected) as caught:
        prepare_image(media_samples.png_bomb(50_000, 50_000), max_pixels=10**12)
    assert caught.value.code == RejectCode.TOO_MANY_PIXELS


def test_an_animated_sticker_keeps_its_first_frame_and_its_transparency():
    prepared = prepare_image(media_samples.animated_webp(), max_side=512, kind="sticker")
    out = _open(prepared.data)
    assert prepared.animated
    assert prepared.mime_type == "image/png"
    assert out.mode == "RGBA"
    assert getattr(out, "n_frames", 1) == 1
    assert _near(out.getpixel((256, 256)), media_samples.RED)
    assert out.getpixel((2, 2))[3] == 0


def test_a_transparent_png_stays_a_png_and_an_opaque_one_becomes_a_jpeg():
    transparent = prepare_image(media_samples.png(200, 200, alpha=0))
    assert transparent.mime_type == "image/png"
    assert _open(transparent.data).mode == "RGBA"
    opaque = prepare_image(media_samples.png(200, 200, alpha=255))
    assert opaque.mime_type == "image/jpeg"


def test_a_truncated_photo_is_refused_as_damaged():
    data = media_samples.camera_jpeg(800, 600)
    with pytest.raises(MediaRejected) as caught:
        prepare_image(data[: len(data) // 3])
    assert caught.value.code == RejectCode.DAMAGED


def test_bytes_that_are_no_image_at_all_are_refused():
    with pytest.raises(MediaRejected) as caught:
        prepare_image(media_samples.HTML_PAGE)
    assert caught.value.code == RejectCode.UNSUPPORTED_TYPE


def test_a_palette_gif_is_converted_to_a_normal_photo():
    image = Image.new("P", (64, 48), 3)
    buffer = io.BytesIO()
    image.save(buffer, "GIF")
    prepared = prepare_image(buffer.getvalue())
    assert prepared.mime_type == "image/jpeg"
    assert (prepared.width, prepared.height) == (64, 48)


def test_a_cmyk_jpeg_comes_out_as_rgb():
    buffer = io.BytesIO()
    Image.new("CMYK", (120, 80), (0, 255, 255, 0)).save(buffer, "JPEG")
    prepared = prepare_image(buffer.getvalue())
    out = _open(prepared.data)
    assert out.mode == "RGB"
    assert _near(out.getpixel((60, 40)), (255, 0, 0), tolerance=60)


def test_a_photo_over_our_pixel_cap_but_under_pillows_is_refused_by_our_header_check():
    with pytest.raises(MediaRejected) as caught:
        prepare_image(media_samples.png_bomb(8_000, 8_000), max_pixels=40_000_000)
    assert caught.value.code == RejectCode.TOO_MANY_PIXELS
    assert "(8000x8000, 64 megapixels; the limit is 40)" in caught.value.reason


def test_a_broken_colour_profile_does_not_cost_the_photo():
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), media_samples.RED).save(buffer, "JPEG", icc_profile=b"not a real profile" * 10)
    prepared = prepare_image(buffer.getvalue())
    assert b"not a real profile" not in prepared.data
    assert _near(_open(prepared.data).getpixel((32, 32)), media_samples.RED)


def test_a_photo_sent_as_a_document_is_called_an_image_in_reasons():
    with pytest.raises(MediaRejected, match=r"^The image is damaged"):
        prepare_image(media_samples.camera_jpeg(400, 300)[:500], kind="document")

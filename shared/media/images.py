"""Photos and stickers: checked against decompression bombs, upright, metadata-free, bounded.

The order of the steps is the point of this module:
1. read the header only and refuse an image with too many pixels, or a JPEG with too many
   scans, before anything is decoded;
2. ask the JPEG decoder to downscale while decoding (``draft``), so a 12-megapixel photo never
   exists at full size in memory;
3. resize, then rotate by the EXIF orientation (rotating the small image is cheaper);
4. convert colours to sRGB and re-encode from pixels alone, so no EXIF, GPS position, XMP,
   comment or ICC profile from the sender's phone survives.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shared.files import formats as f
from shared.files.errors import MediaRejected, RejectCode
from shared.media.jpeg import count_scans

if TYPE_CHECKING:
    from PIL import Image as PILImage

DEFAULT_MAX_SIDE = 1600
STICKER_MAX_SIDE = 512
# 40 MP covers 24-36 MP cameras; a decoded RGBA PNG that size is 160 MB, the most we allow.
DEFAULT_MAX_PIXELS = 40_000_000
JPEG_QUALITY = 85
# Progressive JPEGs have about ten scans, rarely twenty; each one is a pass over every pixel.
MAX_JPEG_SCANS = 64
# Only decoders we need: a "photo" must not reach Pillow's rarer, less tested plugins.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
_EXIF_ORIENTATION = 0x0112
_NOUNS = {"image": "photo", "sticker": "sticker"}


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    mime_type: str
    width: int
    height: int
    source_width: int  # as stored in the file, before orientation
    source_height: int
    animated: bool  # only the first frame was kept


def prepare_image(
    source: Path | bytes,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    kind: str = "image",
) -> PreparedImage:
    """Decode, orient, strip, bound and re-encode one image (the first frame of an animation).

    ``kind`` is the message type: "image", "sticker", or "document" (a photo sent as a file).
    Photos become JPEG, or PNG when they really use transparency; stickers become PNG (their
    transparency is the point of them). Raises ``MediaRejected`` for a damaged file or a
    decompression bomb.
    """
    from PIL import Image  # lazily: the webhook never pays for Pillow

    sticker = kind == "sticker"
    noun = _NOUNS.get(kind, "image")

    with _open(source, noun) as im:
        source_width, source_height = im.size
        _check_pixels(source_width, source_height, max_pixels, noun)
        if im.format in ("JPEG", "MPO"):  # MPO: a phone's JPEG with more pictures after it
            _check_scans(source, noun)
        target = fit_within(source_width, source_height, max_side)
        if im.format == "JPEG":
            im.draft(None, target)  # the DCT scales by 1/2, 1/4 or 1/8 while decoding
        orientation = _orientation(im)
        icc_profile = im.info.get("icc_profile")
        animated = bool(getattr(im, "is_animated", False))
        try:
            im.load()
            frame = _normalise_mode(im)
            if frame.size != target:
                frame = frame.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
        except Image.DecompressionBombError as exc:
            raise _too_many_pixels(noun) from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise _damaged(noun) from exc
    frame = to_srgb(frame, icc_profile)
    frame = _apply_orientation(frame, orientation)
    keep_alpha = frame.mode == "RGBA" and (sticker or _uses_alpha(frame))
    frame = frame if keep_alpha else frame.convert("RGB")
    data, mime = encode_png(frame) if keep_alpha else (encode_jpeg(frame), f.JPEG)
    return PreparedImage(data, mime, frame.width, frame.height, source_width, source_height, animated)


def fit_within(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size with the long side at most ``max_side``, aspect kept, never enlarged."""
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_jpeg(frame: PILImage.Image, quality: int = JPEG_QUALITY) -> bytes:
    """Encode pixels only: ``info`` is emptied because Pillow copies a comment from it."""
    frame.info = {}
    buffer = io.BytesIO()
    frame.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def encode_png(frame: PILImage.Image) -> tuple[bytes, str]:
    """Encode pixels only: ``info`` is emptied because Pillow copies the ICC profile from it."""
    frame.info = {}
    buffer = io.BytesIO()
    frame.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue(), f.PNG


def to_srgb(frame: PILImage.Image, icc_profile: bytes | None) -> PILImage.Image:
    """Convert colours to sRGB so dropping the profile does not shift them (Display P3 phones).

    A profile we cannot use is ignored: the pixels are then shown as sRGB, a small colour
    shift, which is better than refusing the photo.
    """
    if not icc_profile or frame.mode not in ("RGB", "RGBA", "CMYK"):
        return frame if frame.mode != "CMYK" else frame.convert("RGB")
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if "srgb" in (ImageCms.getProfileDescription(source) or "").lower():
            return frame if frame.mode != "CMYK" else frame.convert("RGB")
        output_mode = "RGBA" if frame.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            frame, source, ImageCms.createProfile("sRGB"), outputMode=output_mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        converted = None
    if converted is None:
        return frame if frame.mode != "CMYK" else frame.convert("RGB")
    return converted


# --- steps --------------------------------------------------------------------------------------


def _open(source: Path | bytes, noun: str) -> PILImage.Image:
    from PIL import Image, UnidentifiedImageError

    stream: Path | io.BytesIO = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        # Header only: dimensions are known here, pixels are not decoded yet.
        return Image.open(stream, formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as exc:  # Pillow's own, much higher, limit
        raise _too_many_pixels(noun, str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise MediaRejected(
            f"The {noun} is not in a format we can read", RejectCode.UNSUPPORTED_TYPE
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _damaged(noun) from exc


def _check_pixels(width: int, height: int, max_pixels: int, noun: str) -> None:
    if width <= 0 or height <= 0:
        raise _damaged(noun)
    if width * height > max_pixels:
        raise MediaRejected(
            f"The {noun} is too large to open safely ({width}x{height}, "
            f"{width * height / 1e6:.0f} megapixels; the limit is {max_pixels / 1e6:.0f})",
            RejectCode.TOO_MANY_PIXELS,
        )


def _check_scans(source: Path | bytes, noun: str) -> None:
    scans = count_scans(source, stop_after=MAX_JPEG_SCANS)
    if scans > MAX_JPEG_SCANS:
        raise MediaRejected(
            f"The {noun} is built in too many passes to open safely (more than {MAX_JPEG_SCANS})",
            RejectCode.TOO_COMPLEX,
        )


def _orientation(im: PILImage.Image) -> int:
    try:
        value = im.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # broken EXIF must not cost the photo; it is dropped anyway
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _normalise_mode(im: PILImage.Image) -> PILImage.Image:
    """RGB, RGBA, or CMYK (kept for its ICC conversion); palettes, grey and 16-bit converted."""
    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
    if im.mode in ("RGBA", "CMYK") or (im.mode == "RGB" and not has_alpha):
        return im
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        # 16-bit and float greys: scale to 8 bits, as Pillow's convert() would clip them.
        im = im.convert("I").point(lambda v: v / 256).convert("L")
    return im.convert("RGBA" if has_alpha else "RGB")


def _apply_orientation(frame: PILImage.Image, orientation: int) -> PILImage.Image:
    from PIL import Image

    # The same table as ImageOps.exif_transpose, applied after the resize because it is cheaper.
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation)
    return frame.transpose(method) if method is not None else frame


def _uses_alpha(frame: PILImage.Image) -> bool:
    low, _high = frame.getchannel("A").getextrema()
    return low < 255


def _too_many_pixels(noun: str, pillow_message: str = "") -> MediaRejected:
    # Pillow's message holds the pixel count ("Image size (2500000000 pixels) exceeds ...").
    count = re.search(r"\((\d+) pixels\)", pillow_message)
    detail = f" ({int(count.group(1)) / 1e6:.0f} megapixels)" if count else ""
    return MediaRejected(f"The {noun} is too large to open safely{detail}", RejectCode.TOO_MANY_PIXELS)


def _damaged(noun: str) -> MediaRejected:
    return MediaRejected(f"The {noun} is damaged and could not be read", RejectCode.DAMAGED)

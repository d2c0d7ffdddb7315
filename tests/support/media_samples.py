"""Media files made on the fly, so the repository holds no binary samples.

Used by tests/media/conftest.py and by bench/media.py. Every generator is deterministic.
"""

from __future__ import annotations

import io
import struct
import subprocess
import zlib
from pathlib import Path

from PIL import Image, ImageCms, ImageDraw

RED = (220, 30, 30)
BLUE = (30, 30, 220)
GPS_IFD = 0x8825
ORIENTATION = 0x0112
XMP_PACKET = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,22.2N"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], check=True, timeout=300)


# --- images -------------------------------------------------------------------------------------


def jpeg_with_gps_and_rotation(width: int = 400, height: int = 300) -> bytes:
    """Stored landscape, left half red, right half blue; EXIF says "rotate 90° clockwise" (6).

    Displayed upright it is portrait, red on top and blue at the bottom. It carries everything a
    phone leaks: a GPS position, camera make, an XMP packet, a comment and an ICC profile.
    """
    image = Image.new("RGB", (width, height), BLUE)
    ImageDraw.Draw(image).rectangle((0, 0, width // 2, height), fill=RED)
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 15"  # Model
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (52.0, 22.0, 12.34)
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 56.78)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    image.save(
        buffer, "JPEG", quality=90, exif=exif, xmp=XMP_PACKET, comment=b"secret comment", icc_profile=icc
    )
    return buffer.getvalue()


def camera_jpeg(
    width: int = 4000, height: int = 3000, quality: int = 90, *, progressive: bool = False
) -> bytes:
    """A 12-megapixel photo-like JPEG: gradients under sensor-like colour noise.

    The noise makes it weigh what a phone photo weighs (about 4 MB), which is what decoding
    time depends on; a flat test image would make the benchmark flatter than reality.
    """
    small = (width // 8, height // 8)
    red = Image.linear_gradient("L").resize(small)
    green = Image.radial_gradient("L").resize(small)
    blue = Image.effect_noise(small, 40)
    base = Image.merge("RGB", (red, green, blue)).resize((width, height), Image.Resampling.BILINEAR)
    noise = Image.merge("RGB", [Image.effect_noise((width, height), 30) for _ in range(3)])
    photo = Image.blend(base, noise, 0.35)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=quality, progressive=progressive)
    return buffer.getvalue()


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, in a few kilobytes.

    Only the first rows are present: a decoder that trusts the header before decoding would
    still try to allocate the full canvas (2.5 GB at 8 bits per pixel).
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress(b"\x00" * (width + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def png(width: int, height: int, *, alpha: int | None = None, color: tuple[int, int, int] = RED) -> bytes:
    """A PNG, RGBA when ``alpha`` is given (255 = opaque, which should still end as a JPEG)."""
    image = Image.new(
        "RGBA" if alpha is not None else "RGB", (width, height), (*color, 255 if alpha is None else alpha)
    )
    if alpha is not None and alpha < 255:
        ImageDraw.Draw(image).rectangle((0, 0, width // 4, height // 4), fill=(*color, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def animated_webp(
    colors: tuple[tuple[int, int, int], ...] = (RED, BLUE, (30, 200, 30)), side: int = 512
) -> bytes:
    frames = []
    for color in colors:
        frame = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        ImageDraw.Draw(frame).ellipse(
            (side // 8, side // 8, side * 7 // 8, side * 7 // 8), fill=(*color, 255)
        )
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0, quality=80)
    return buffer.getvalue()


# --- audio and video ----------------------------------------------------------------------------


def voice_note(path: Path, seconds: float = 60.0) -> Path:
    """A WhatsApp-style voice note: mono Opus in Ogg."""
    ffmpeg(
        *("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"),
        *("-ac", "1", "-c:a", "libopus", "-b:a", "24k", str(path)),
    )
    return path


def audio_file(path: Path, seconds: float, codec: str, *extra: str) -> Path:
    ffmpeg(
        *("-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=8000:duration={seconds}"),
        *("-ac", "1", "-c:a", codec, *extra, str(path)),
    )
    return path


def video(
    path: Path,
    seconds: float = 2.0,
    size: str = "320x240",
    *,
    video_bitrate: str | None = None,
    rotation: int | None = None,
    audio: bool = True,
) -> Path:
    """An H.264 + AAC MP4 from ffmpeg's test pattern (optionally rotated like a portrait phone clip)."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    args += ["-map", "0:v"] + (["-map", "1:a", "-c:a", "aac", "-b:a", "64k"] if audio else [])
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if video_bitrate:
        # Noise-like content so the encoder really spends the bitrate (a big file to measure).
        args += [
            "-b:v",
            video_bitrate,
            "-maxrate",
            video_bitrate,
            "-bufsize",
            video_bitrate,
            "-x264-params",
            "nal-hrd=cbr",
        ]
    if rotation is None:
        ffmpeg(*args, "-movflags", "+faststart", str(path))
        return path
    plain = path.with_suffix(".plain.mp4")
    ffmpeg(*args, str(plain))
    ffmpeg("-display_rotation:v:0", str(rotation), "-i", str(plain), "-c", "copy", str(path))
    plain.unlink()
    return path


def audio_only_mp4(path: Path, seconds: float = 2.0) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:a", "aac", str(path))
    return path


# --- documents ----------------------------------------------------------------------------------


def pdf(pages: list[str]) -> bytes:
    """A real PDF with one Helvetica text object per line, so text extraction has work to do."""
    objects: dict[int, bytes] = {}
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode()
    objects[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    for pid, text in zip(page_ids, pages, strict=True):
        lines = [
            line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in text.split("\n")
        ]
        body = "BT /F1 11 Tf 72 740 Td 14 TL " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
        stream = body.encode("cp1252")
        objects[pid] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents " + f"{pid + 1} 0 R >>".encode()
        )
        objects[pid + 1] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref = len(out)
    count = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % count
    for number in range(1, count):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref)
    return bytes(out)


def report_pages(count: int, lines_per_page: int = 40) -> list[str]:
    return [
        "\n".join(
            f"Page {page} line {line}: quarterly figures for the sales team, region {line % 7}."
            for line in range(1, lines_per_page + 1)
        )
        for page in range(1, count + 1)
    ]


def encrypted_pdf(text: str, password: str = "s3cret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf([text]))))
    writer.encrypt(user_password=password, owner_password=password, algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def docx(path: Path, paragraphs: list[str], table: list[list[str]] | None = None) -> Path:
    import docx as python_docx

    document = python_docx.Document()
    document.add_heading(paragraphs[0], level=1)
    for text in paragraphs[1:]:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    document.save(str(path))
    return path


HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>Login</title></head>
<body><script>document.location='https://example.invalid/'</script><p>Please sign in</p></body></html>
"""

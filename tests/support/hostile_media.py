"""Files built to exhaust a decoder, made on the fly: small on disk, huge to open.

Used by tests/media/test_media_hostile.py and bench/hostile.py. Each one is the shape of a
known hole: the scan-bomb JPEG (libjpeg decodes every scan it is given), the Form-XObject PDF
(pypdf walks a form again at each invocation), the paragraph-bomb DOCX (python-docx builds an
lxml tree of ~35 times the XML's size) and the header-spoofed MP4 (the header says one second,
the packets run for half an hour).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

from tests.support.media_samples import ffmpeg

# --- JPEG ---------------------------------------------------------------------------------------


def scan_bomb_jpeg(scans: int = 4000, side: int = 6000) -> bytes:
    """A progressive ``side`` x ``side`` grey JPEG whose one small AC scan is repeated ``scans`` times.

    36 megapixels stays under the 40-megapixel cap; each repeat of the scan (with its Huffman
    table) costs about 60 bytes to store and a pass over every block to decode.
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (128, 128, 128)).save(buffer, "JPEG", progressive=True, quality=90)
    data = buffer.getvalue()
    segments = _jpeg_segments(data)
    # The smallest AC scan (spectral selection starting above 0), with the table before it.
    index = min(
        (
            i
            for i, (marker, start, _end) in enumerate(segments)
            if marker == 0xDA and data[start + 5 + 2 * data[start + 4]] > 0
        ),
        key=lambda i: segments[i][2] - segments[i][1],
    )
    table_start = segments[index - 1][1] if segments[index - 1][0] == 0xC4 else segments[index][1]
    scan = data[table_start : segments[index][2]]
    return data[: segments[index][2]] + scan * (scans - 1) + b"\xff\xd9"


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment after SOI; a scan runs to the next real marker."""
    segments = []
    pos = 2
    while pos < len(data):
        marker = data[pos + 1]
        if marker == 0xD9:
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if marker == 0xDA:
            while not (data[end] == 0xFF and data[end + 1] not in (0x00, *range(0xD0, 0xD8))):
                end += 1
        segments.append((marker, pos, end))
        pos = end
    return segments


# --- PDF ----------------------------------------------------------------------------------------


def form_bomb_pdf(invocations: int = 40, form_operators: int = 20_000) -> bytes:
    """One page drawing one text-filled Form XObject ``invocations`` times; about 1 KB compressed."""
    form = b"BT /F1 12 Tf 10 10 Td (a) Tj ET\n" * (form_operators // 5)
    page = b"/X0 Do\n" * invocations
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /XObject << /X0 5 0 R >> /Font << /F1 6 0 R >> >> /Contents 4 0 R >>",
        _flate_stream(b"", page),
        _flate_stream(
            b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 6 0 R >> >> ",
            form,
        ),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _flate_stream(entries: bytes, data: bytes) -> bytes:
    packed = zlib.compress(data, 9)
    return (
        b"<< %s/Length %d /Filter /FlateDecode >>\nstream\n" % (entries, len(packed))
        + packed
        + b"\nendstream"
    )


# --- DOCX ---------------------------------------------------------------------------------------


def paragraph_bomb_docx(path: Path, xml_bytes: int = 60 * 1024 * 1024) -> Path:
    """A real Word file whose document.xml is ``xml_bytes`` of empty paragraphs (~100 KB zipped)."""
    import docx as python_docx

    template = io.BytesIO()
    python_docx.Document().save(template)
    source = zipfile.ZipFile(io.BytesIO(template.getvalue()))
    empty = b"<w:p/>" * 100_000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename != "word/document.xml":
                out.writestr(item, data)
                continue
            head, tail = data.split(b"<w:body>", 1)
            with out.open(item.filename, "w") as part:
                part.write(head + b"<w:body>")
                for _ in range(xml_bytes // len(empty)):
                    part.write(empty)
                part.write(tail)
    return path


# --- MP4 ----------------------------------------------------------------------------------------


def header_spoofed_mp4(path: Path, real_seconds: int = 1800, header_seconds: int = 1) -> Path:
    """A tiny 16x16 H.264 + AAC MP4 of ``real_seconds`` whose every duration field says ``header_seconds``.

    mvhd, tkhd, mdhd and the edit list are rewritten, so ffmpeg's header dump and any player
    that honours the edit list see ``header_seconds``; the samples are all still there.
    """
    plain = path.with_suffix(".plain.mp4")
    ffmpeg(
        *("-f", "lavfi", "-i", f"color=black:s=16x16:r=1:d={real_seconds}"),
        *("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", str(real_seconds)),
        *("-c:v", "libx264", "-preset", "ultrafast", "-g", "600", "-pix_fmt", "yuv420p"),
        *("-c:a", "aac", "-b:a", "8k", "-movflags", "+faststart", str(plain)),
    )
    path.write_bytes(_rewrite_durations(plain.read_bytes(), header_seconds))
    plain.unlink()
    return path


def _rewrite_durations(data: bytes, seconds: int) -> bytes:
    out = bytearray(data)
    movie_timescale = 1000

    def boxes(start: int, end: int):
        pos = start
        while pos + 8 <= end:
            size, kind = struct.unpack(">I4s", out[pos : pos + 8])
            if kind in (b"moov", b"trak", b"mdia", b"edts"):
                yield from boxes(pos + 8, pos + size)
            yield kind, pos + 8
            pos += size

    for kind, body in boxes(0, len(out)):  # version 0 boxes: 32-bit fields
        if kind == b"mvhd":
            (movie_timescale,) = struct.unpack(">I", out[body + 12 : body + 16])
            out[body + 16 : body + 20] = struct.pack(">I", movie_timescale * seconds)
        elif kind == b"tkhd":
            out[body + 20 : body + 24] = struct.pack(">I", movie_timescale * seconds)
        elif kind == b"mdhd":
            (timescale,) = struct.unpack(">I", out[body + 12 : body + 16])
            out[body + 16 : body + 20] = struct.pack(">I", timescale * seconds)
        elif kind == b"elst":
            (count,) = struct.unpack(">I", out[body + 4 : body + 8])
            for entry in range(count):
                offset = body + 8 + entry * 12
                out[offset : offset + 4] = struct.pack(">I", movie_timescale * seconds)
    return bytes(out)

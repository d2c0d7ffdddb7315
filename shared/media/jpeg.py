"""Counting the scans of a JPEG from its markers, without decoding a pixel.

A progressive JPEG is drawn in scans, each one a pass over the whole image. libjpeg decodes
every scan it is given and only warns when they make no sense, so a small file can repeat one
tiny scan of a large image thousands of times and cost minutes of CPU. Encoders write about
ten scans (libjpeg's default progression) and rarely more than twenty; counting them is one
pass over the bytes, most of it spent in ``re``.
"""

from __future__ import annotations

import mmap
import re
import struct
from pathlib import Path

SOI = b"\xff\xd8"
SOS = 0xDA
EOI = 0xD9
# Markers that stand alone, without a length: TEM and the restart markers RST0-RST7.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
# The end of a scan's entropy-coded data: 0xFF followed by anything but a stuffed 0x00, a
# restart marker or another 0xFF (fill).
_END_OF_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def count_scans(source: Path | bytes, *, stop_after: int) -> int:
    """Start-of-scan segments before the end of the image, counting no further than ``stop_after``.

    A file that is not a well-formed JPEG gets the count so far: the decoder judges the rest.
    """
    if isinstance(source, bytes):
        return _count(source, stop_after)
    with source.open("rb") as stream:
        if stream.seek(0, 2) < len(SOI):
            return 0
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _count(data, stop_after)


def _count(data: bytes | mmap.mmap, stop_after: int) -> int:
    if data[:2] != SOI:
        return 0
    scans = 0
    pos = 2
    end = len(data)
    while pos + 4 <= end and scans <= stop_after:
        if data[pos] != 0xFF:
            return scans  # out of step with the markers: damaged, or trailing data
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == EOI:
            break
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        pos += 2 + length
        if marker == SOS:
            scans += 1
            found = _END_OF_SCAN.search(data, pos)
            if found is None:
                break
            pos = found.start()
    return scans

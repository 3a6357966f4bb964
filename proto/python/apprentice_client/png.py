"""PNG files from 8-bit RGBA pixels, with the standard library only (zlib): what a plug-in
sends as a snapshot or a copy-mode reference when its editor offers no encoder to Python."""

import struct
import zlib


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode(rgba, width, height, level=6):
    """A PNG file of `width` x `height` straight-alpha RGBA8 pixels, row-major."""
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise ValueError(f"a {width}x{height} picture: both sides must be at least 1")
    stride = width * 4
    if len(rgba) != stride * height:
        raise ValueError(f"{len(rgba)} bytes of pixels for {width}x{height} RGBA (needs {stride * height})")
    view = memoryview(rgba)
    # Filter type 0 (none) before each row.
    raw = b"".join(b"\x00" + view[y * stride : (y + 1) * stride].tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, level))
        + _chunk(b"IEND", b"")
    )

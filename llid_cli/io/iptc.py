"""IPTC-IIM, the older block of captions, credits and copyright that news and stock photographers'
tools still write (JPEG's Photoshop APP13 segment, a TIFF's tag 33723).

Why only the IPTC records: the Photoshop segment that carries them also holds other resources,
among them a thumbnail of the old pixels, which a viewer would show for the new photo. So only
the IPTC-NAA resource (0x0404) is kept, read through Pillow's own parsing of the segment, and a
fresh segment is written around it. Formats without a place for IPTC (PNG, WebP, HEIC, AVIF) rely
on XMP, which holds the same fields (IPTC Core) and which llid keeps.
"""

from __future__ import annotations

import struct

IPTC_RESOURCE = 0x0404  # Photoshop image resource: IPTC-NAA records
TIFF_TAG = 33723
MAX_BYTES = 65000  # one APP13 segment holds a little over 65500 bytes with its headers


def iptc_of_pillow(pil) -> bytes | None:
    """The IPTC records of a JPEG read by Pillow, or None."""
    resources = pil.info.get("photoshop")
    records = resources.get(IPTC_RESOURCE) if isinstance(resources, dict) else None
    return bounded(records)


def bounded(records) -> bytes | None:
    """`records` as bytes if they fit one JPEG segment and look like IPTC-IIM (tag marker 0x1C)."""
    if not isinstance(records, (bytes, bytearray)) or not records or len(records) > MAX_BYTES or records[0] != 0x1C:
        return None
    return bytes(records)


def jpeg_segment(records: bytes) -> bytes:
    """An APP13 segment holding `records` as Photoshop's IPTC-NAA resource, nothing else."""
    block = b"8BIM" + struct.pack(">H", IPTC_RESOURCE) + b"\x00\x00" + struct.pack(">I", len(records)) + records
    payload = b"Photoshop 3.0\x00" + block + (b"\x00" if len(records) % 2 else b"")
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload

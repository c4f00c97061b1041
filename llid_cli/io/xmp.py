"""XMP, the metadata a photographer adds: rating, keywords, caption, rights, contact, labels.

Why it is carried: a tool that drops it loses a photographer's work (a five-star rating, the
copyright line). What is changed on the way through, because the pixels changed:
- `tiff:Orientation` is set to 1, as EXIF's is: llid turns the pixels upright, and a viewer that
  reads XMP's orientation would turn them again;
- Camera Raw's develop settings (the `crs:` namespace, which Lightroom and Photoshop write into a
  JPEG's or TIFF's XMP) are removed: they describe edits to the old pixels, and Lightroom would
  apply them again on top of llid's.
The packet is edited as text (no XML parser sees an untrusted file), and one over `MAX_BYTES` is
dropped rather than copied.
"""

from __future__ import annotations

import re

MAX_BYTES = 4 << 20  # XMP with an embedded preview runs to a few hundred KB
JPEG_MAX_BYTES = 65504  # one APP1 segment (65535 - length - "http://ns.adobe.com/xap/1.0/\0"); extended XMP is not written

_ORIENTATION_ATTRIBUTE = re.compile(rb'(tiff:Orientation\s*=\s*["\'])\s*\d+\s*(["\'])')
_ORIENTATION_ELEMENT = re.compile(rb"(<tiff:Orientation>)\s*\d+\s*(</tiff:Orientation>)")
_CRS_ATTRIBUTE = re.compile(rb'\s+crs:[\w.-]+\s*=\s*("[^"]*"|\'[^\']*\')')
_CRS_ELEMENT = re.compile(rb"<crs:([\w.-]+)\b[^>]*?(?:/>|>.*?</crs:\1\s*>)", re.DOTALL)


def xmp_for_output(packet: bytes | str | None) -> bytes | None:
    """The XMP packet as an output of llid should carry it (see the module's docstring), or None."""
    if not packet:
        return None
    if isinstance(packet, str):
        packet = packet.encode("utf-8")
    if len(packet) > MAX_BYTES:
        return None
    packet = _ORIENTATION_ATTRIBUTE.sub(rb"\g<1>1\g<2>", packet)
    packet = _ORIENTATION_ELEMENT.sub(rb"\g<1>1\g<2>", packet)
    packet = _CRS_ELEMENT.sub(b"", packet)
    return _CRS_ATTRIBUTE.sub(b"", packet)


def xmp_of_pillow(pil) -> bytes | None:
    """The XMP a Pillow (or pillow-heif) image carries: JPEG, WebP, HEIC and AVIF give it as
    `xmp`; PNG as the iTXt chunk `XML:com.adobe.xmp`."""
    return xmp_for_output(pil.info.get("xmp") or pil.info.get("XML:com.adobe.xmp"))
